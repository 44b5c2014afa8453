"""Token texts -> source text, spaced the way PEP 8 would have it.

Ghost text and line-completion scores need text, while the model predicts tokens without the
whitespace between them. Spacing depends on the previous token and the bracket we are in
(`f(a=1)` but `a = 1`, and `def f(a: int = 1)`).
"""

from __future__ import annotations

import keyword

_NO_SPACE_BEFORE = frozenset([")", "]", "}", ",", ":", ".", ";"])
_NO_SPACE_AFTER = frozenset(["(", "[", "{", ".", "~", "@"])
_OPEN = {"(": ")", "[": "]", "{": "}"}


def _is_word(text: str) -> bool:
    return bool(text) and (text[0].isalnum() or text[0] in "_'\"" or text[-1] in "'\"")


def is_operand_end(text: str) -> bool:
    """Whether a token can end an operand, so that a `-` after it subtracts (`a - 1`, `f() - 1`)
    rather than negates (`(-1)`, `= -1`, `return -1`)."""
    return _is_word(text) and not keyword.iskeyword(text) or text in (")", "]", "}") or text in ("None", "True", "False")


def needs_space(prev: str, text: str, stack: list[str], annotated: bool = False, unary: bool = False) -> bool:
    """Whether a space goes between token texts `prev` and `text` (inside brackets `stack`;
    `annotated`: the item of the innermost bracket so far has an annotation, `a: int`; `unary`:
    `prev` is a sign, `-1`)."""
    if not prev or unary:
        return False
    if text in _NO_SPACE_BEFORE:
        return text == ":" and prev in ("lambda",)
    if prev in _NO_SPACE_AFTER or prev == ":" and stack and stack[-1] == "[":
        return False  # ... and `x[1:]`, a slice
    if text in ("(", "[") and (_is_word(prev) and not keyword.iskeyword(prev) or prev in (")", "]", "}")):
        return False  # a call or a subscript
    if "=" in (prev, text) and stack and stack[-1] == "(":
        return annotated  # a keyword argument or default, but `a: int = 1` (PEP 8)
    # f(*args, **kwargs): a star binds to what follows
    return not (prev in ("*", "**") and stack and stack[-1] == "(")


class _Brackets:
    """The brackets open at a point of a line, and whether the item of each so far is annotated."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.annotated: list[bool] = []

    def take(self, text: str) -> None:
        if text in _OPEN:
            self.stack.append(text)
            self.annotated.append(False)
        elif text in (")", "]", "}") and self.stack:
            self.stack.pop()
            self.annotated.pop()
        elif text in (",", ":") and self.stack:
            self.annotated[-1] = text == ":" and self.stack[-1] == "("


def join(before: list[str], tokens: list[str]) -> str:
    """The text of `tokens` as typed after the tokens `before` (the line up to the cursor)."""
    brackets = _Brackets()
    for t in before:
        brackets.take(t)
    prev = before[-1] if before else ""
    earlier = before[-2] if len(before) > 1 else ""  # the token before `prev`
    out = []
    for t in tokens:
        unary = prev in ("-", "+", "~") and not is_operand_end(earlier)
        if needs_space(prev, t, brackets.stack, bool(brackets.annotated) and brackets.annotated[-1], unary):
            out.append(" ")
        out.append(t)
        brackets.take(t)
        earlier, prev = prev, t
    return "".join(out)
