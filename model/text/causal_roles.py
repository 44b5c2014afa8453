"""The roles the model reads: each from the tokens up to and including it, never from what follows.

Why not the libcst roles (`role_parser.py`): a parse reads the whole statement, so `foo` before
`(` is a `call` and `x` before ` = ` a `target`. An editor's buffer never holds the rest of the
statement being typed, so a model trained on parsed roles learns from a signal it never gets at
the cursor. These roles are decided by a left-to-right walk over one logical line at a time: what
the statement started with, which brackets are open and what each is (a `def`'s parameters, a
subscript), and the tokens just before. The same text before a token always gives it the same
role, so the roles of a cut text equal those of the whole file up to the cut (tested).

The look-ups (scope, receivers, class members) still read the parsed roles: they look at earlier,
finished statements, where a parse knows more (`x = ...` binds `x`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from heed.model.text.lexer import DEDENT, INDENT, KEYWORD, KEYWORDS, NAME, NEWLINE, NUMBER, OP, STRING
from heed.model.text.roles import ROLE_ID, SYNTAX
from heed.model.text.vocab import LAYOUT

_ROLE = ROLE_ID
_LAYOUT_KIND = {placeholder: kind for kind, placeholder in LAYOUT.items()}
_SOFT_COMPOUND = frozenset(["match", "case"])  # names the lexer keeps as names; as first tokens, likely headers
_COMPOUND = frozenset(["if", "elif", "else", "for", "while", "with", "try", "except", "finally", "def", "class", "async", *_SOFT_COMPOUND])
_SUBSCRIPTABLE_BEFORE = frozenset([")", "]", "}"])

# What the names of a bracket (or of the statement's top level) are, until a token changes it.
_PARAM, _PARAM_ANNOTATION, _DEFAULT = "param", "param_annotation", "default"
_ANNOTATION, _FOR_TARGET = "annotation", "for_target"
_INHERITED = {_ANNOTATION: _ANNOTATION, _PARAM_ANNOTATION: _ANNOTATION, _FOR_TARGET: _FOR_TARGET}


@dataclass(slots=True)
class _Frame:
    """The statement's top level, or one open bracket in it."""

    kind: str  # "params" (a def's), "subscript", or "" (any other bracket, or the top level)
    mode: str = ""  # one of the modes above, or "" (plain names)
    lambdas: int = 0  # lambdas whose parameters are being read in this bracket


class _Line:
    """The walk's state inside one simple statement (a compound header's body starts afresh)."""

    def __init__(self) -> None:
        self.started = False
        self.first = ""  # the statement's first token if a keyword, `@` or a soft compound keyword
        self.first_name = False  # it starts with a name (an expression or assignment statement)
        self.imported = False  # `from x import` has reached its `import`
        self.assigned = False  # an `=` at the top level was seen
        self.frames = [_Frame("")]
        self.prev_kind = ""
        self.prev_text = ""
        self.prev_role = SYNTAX

    def role(self, text: str) -> int:
        """The role of a name token that comes next."""
        frame = self.frames[-1]
        if self.first == "import":
            return _ROLE["import"]
        if self.first == "from":
            return _ROLE["import"] if self.imported else _ROLE["import_from"]
        if self.prev_text == "." and self.prev_kind == OP:
            return _ROLE["attribute"]
        if self.prev_kind == KEYWORD and self.prev_text == "def":
            return _ROLE["def_name"]
        if self.prev_kind == KEYWORD and self.prev_text == "class":
            return _ROLE["class_name"]
        if frame.lambdas or frame.mode == _PARAM:
            return _ROLE["parameter"]
        if frame.mode in (_ANNOTATION, _PARAM_ANNOTATION):
            return _ROLE["annotation"]
        if self.first == "@":
            return _ROLE["decorator"]
        if frame.mode == _FOR_TARGET or (self.prev_kind == KEYWORD and self.prev_text == "as"):
            return _ROLE["target"]
        if frame.kind == "subscript" and self.prev_text == "[":
            return _ROLE["subscript"]
        return _ROLE["name"]

    def push(self, kind: str, text: str, role: int) -> bool:
        """Take one significant token; True when it ends the statement (a new one starts after)."""
        frame = self.frames[-1]
        if not self.started:
            self.started = True
            self.first_name = kind == NAME
            if kind == KEYWORD or text == "@" or (kind == NAME and text in _SOFT_COMPOUND):
                self.first = text
        ends = False
        if kind == KEYWORD:
            if text == "import" and self.first == "from":
                self.imported = True
            elif text == "for":
                frame.mode = _FOR_TARGET
            elif text == "in" and frame.mode == _FOR_TARGET:
                frame.mode = ""
            elif text == "lambda":
                frame.lambdas += 1
        elif kind == OP:
            if text in "([{":
                kind_of = ""
                if text == "(" and self.prev_role == _ROLE["def_name"]:
                    kind_of = "params"
                elif text == "[" and (self.prev_kind in (NAME, STRING) or self.prev_text in _SUBSCRIPTABLE_BEFORE):
                    kind_of = "subscript"
                # A bracket inside an annotation or a `for` target is part of it (`Dict[str, int]`).
                mode = _PARAM if kind_of == "params" else _INHERITED.get(frame.mode, "")
                self.frames.append(_Frame(kind_of, mode))
            elif text in ")]}":
                if len(self.frames) > 1:
                    self.frames.pop()
            elif text == ":":
                if frame.lambdas:
                    frame.lambdas -= 1
                elif frame.kind == "params" and frame.mode == _PARAM:
                    frame.mode = _PARAM_ANNOTATION
                elif len(self.frames) == 1:
                    if frame.mode == _ANNOTATION or self.first in _COMPOUND:
                        ends = True  # a block header: a body may follow on the same line
                    elif self.first_name and not self.assigned:
                        frame.mode = _ANNOTATION  # `x: T`
            elif text == "," and frame.kind == "params" and not frame.lambdas:
                frame.mode = _PARAM
            elif text == "=":
                if frame.kind == "params" and not frame.lambdas:
                    frame.mode = _DEFAULT
                elif len(self.frames) == 1:
                    self.assigned = True
                    frame.mode = ""
            elif text == "->" and len(self.frames) == 1:
                frame.mode = _ANNOTATION
            elif text == ";" and len(self.frames) == 1:
                ends = True
        self.prev_kind, self.prev_text, self.prev_role = kind, text, role
        return ends


def causal_roles(kinds: Sequence[str], texts: Sequence[str]) -> list[int]:
    """One role id per token (kind and text), for tokens from the start of a logical line on."""
    roles: list[int] = []
    line = _Line()
    for kind, text in zip(kinds, texts):
        if kind in (INDENT, DEDENT):
            roles.append(SYNTAX)
            continue
        if kind == NEWLINE:
            roles.append(SYNTAX)
            line = _Line()
            continue
        role = line.role(text) if kind == NAME else SYNTAX
        roles.append(role)
        if line.push(kind, text, role):
            line = _Line()
    return roles


def kind_of_text(text: str) -> str:
    """The lexer's kind of one token's text, as beam search makes tokens up without lexing them
    (layout comes as the vocabulary's placeholders)."""
    if text in _LAYOUT_KIND:
        return _LAYOUT_KIND[text]
    if text.isidentifier():
        return KEYWORD if text in KEYWORDS else NAME
    if text[:1].isdigit() or (text[:1] == "." and text[1:2].isdigit()):
        return NUMBER
    return STRING if text[-1:] in "'\"" and text else OP


def last_role(line: Sequence[str]) -> int:
    """The role of the last of `line`'s token texts (a logical line's, from its start)."""
    return causal_roles([kind_of_text(t) for t in line], line)[-1]
