"""The network, its released files, and the corpus's member table."""
