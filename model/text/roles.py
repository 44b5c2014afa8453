"""The syntactic roles a name can play, as the model reads them beside each token.

The set only (no libcst here, so the network and its loader import it cheaply); reading the
roles off a parse is `role_parser.py`.
"""

from __future__ import annotations

ROLES = (
    "unknown",  # a name no parse reached
    "syntax",  # not a name: keywords, operators, literals, layout
    "name",  # a name read in an expression
    "call",  # NAME(...)
    "attribute",  # x.NAME
    "method",  # x.NAME(...)
    "parameter",  # def f(NAME), lambda NAME: ...
    "keyword_arg",  # f(NAME=...)
    "import",  # import NAME, from x import NAME, ... as NAME
    "import_from",  # from NAME.NAME import x
    "decorator",  # @NAME
    "def_name",  # def NAME
    "class_name",  # class NAME
    "target",  # NAME = ..., for NAME in, with ... as NAME
    "attribute_target",  # x.NAME = ...
    "subscript",  # x[NAME]
    "annotation",  # x: NAME, -> NAME
)
ROLE_ID = {role: i for i, role in enumerate(ROLES)}
UNKNOWN, SYNTAX = ROLE_ID["unknown"], ROLE_ID["syntax"]
