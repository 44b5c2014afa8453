"""What the text just before a cursor says: the name being typed, whether a dot precedes it,
and the dotted chain before that dot.

Plain text, so the server, the fallback popup and the popup's merge read a cursor the same way
(the model's own view, token by token, is `runtime/context.py`).
"""

from __future__ import annotations


def typed_prefix(text: str, offset: int) -> str:
    """The identifier characters typed right before `offset`."""
    i = offset
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
        i -= 1
    return text[i:offset]


def is_after_dot(text: str, offset: int) -> bool:
    """Whether `offset` follows an attribute dot (spaces between allowed; not a number's `1.`)."""
    i = offset
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    return i > 0 and text[i - 1] == "." and not (i > 1 and text[i - 2].isdigit())


def chain_before_dot(text: str, offset: int) -> tuple[list[str], bool]:
    """The names of the dotted chain before the `.` that ends at `offset` (spaces and tabs may
    stand around each dot): `os.path.` -> ["os", "path"]; and whether the chain is whole, that
    is, starts with a name that does not itself follow a dot or a word (`f().x.` gives ["x"],
    not whole). ([], False) when no name stands before the dot."""
    names: list[str] = []
    i = start = offset  # start: where the chain's first name begins
    while True:
        while i > 0 and text[i - 1] in " \t":
            i -= 1
        if i == 0 or text[i - 1] != ".":
            break
        i -= 1  # the dot
        while i > 0 and text[i - 1] in " \t":
            i -= 1
        j = i
        while j > 0 and (text[j - 1].isalnum() or text[j - 1] == "_"):
            j -= 1
        name = text[j:i]
        if not name.isidentifier():
            return names[::-1], False
        names.append(name)
        i = start = j
    whole = bool(names) and not (start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_."))
    return names[::-1], whole


def receiver_before(text: str, offset: int) -> str:
    """The name right before the `.` that ends at `offset` ("" if none)."""
    names, _ = chain_before_dot(text, offset)
    return names[-1] if names else ""
