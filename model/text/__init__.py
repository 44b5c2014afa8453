"""Code to tokens: the lexer, the roles libcst gives names, the incremental stream, the vocabulary."""
