"""Token texts -> source text, spaced the way PEP 8 would have it.

Ghost text and line-completion scores need text, while the model predicts tokens without the
whitespace between them. Spacing depends on the previous token and the bracket we are in
(`f(a=1)` but `a = 1`).
"""

from __future__ import annotations

import keyword

_NO_SPACE_BEFORE = frozenset([")", "]", "}", ",", ":", ".", ";"])
_NO_SPACE_AFTER = frozenset(["(", "[", "{", ".", "~", "@"])
_OPEN = {"(": ")", "[": "]", "{": "}"}


def _is_word(text: str) -> bool:
    return bool(text) and (text[0].isalnum() or text[0] in "_'\"" or text[-1] in "'\"")


def needs_space(prev: str, text: str, stack: list[str]) -> bool:
    """Whether a space goes between token texts `prev` and `text` (inside brackets `stack`)."""
    if not prev:
        return False
    if text in _NO_SPACE_BEFORE:
        return text == ":" and prev in ("lambda",)
    if prev in _NO_SPACE_AFTER:
        return False
    if text in ("(", "[") and (_is_word(prev) and not keyword.iskeyword(prev) or prev in (")", "]", "}")):
        return False  # a call or a subscript
    if "=" in (prev, text) and stack and stack[-1] == "(":
        return False  # a keyword argument or default
    # f(*args, **kwargs): a star binds to what follows
    return not (prev in ("*", "**") and stack and stack[-1] == "(")


def join(before: list[str], tokens: list[str]) -> str:
    """The text of `tokens` as typed after the tokens `before` (the line up to the cursor)."""
    stack: list[str] = []
    for t in before:
        if t in _OPEN:
            stack.append(t)
        elif t in (")", "]", "}") and stack:
            stack.pop()
    prev = before[-1] if before else ""
    out = []
    for t in tokens:
        if needs_space(prev, t, stack):
            out.append(" ")
        out.append(t)
        if t in _OPEN:
            stack.append(t)
        elif t in (")", "]", "}") and stack:
            stack.pop()
        prev = t
    return "".join(out)
