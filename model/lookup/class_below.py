"""What the class around the cursor defines below it.

The model reads the document up to the cursor, and so does the class look-up (`classes.py`);
but in an editor the rest of the file is there too, and `self.` in `__init__` is most often
followed by a method defined further down, or an attribute another method sets. This reads the
text after the cursor, as far as the class goes (by indentation), for its methods, class-level
names and `self.x = ...`. Text, not a parse: the line being typed leaves the file broken.
`heed eval` types each file up to the cursor, so there is nothing below it there.
"""

from __future__ import annotations

import re

MAX_LINES = 5000  # lines walked back to the class header, and forward to the class's end
_DEF = re.compile(r"(?:async[ \t]+)?def[ \t]+(\w+)")
_ASSIGNED = re.compile(r"(\w+)[ \t]*(?::[^=\n]*)?=(?!=)")
_SELF_SET = re.compile(r"\bself\.(\w+)[ \t]*(?::[^=\n]*)?=(?!=)")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def class_below(text: str, offset: int) -> dict[str, str]:
    """The names (-> "method" or "field") the class around `offset` defines after the cursor's line."""
    start = text.rfind("\n", 0, offset) + 1
    typed = text[start:offset]
    limit = _indent(typed) if typed.strip() else None  # lines less indented than this enclose the cursor
    at, header = start, None
    for _ in range(MAX_LINES):
        if at == 0:
            return {}
        prev = text.rfind("\n", 0, at - 1) + 1
        line, at = text[prev : at - 1], prev
        if not _code(line) or limit is not None and _indent(line) >= limit:
            continue
        if line.lstrip().startswith("class "):
            header = _indent(line)
            break
        limit = _indent(line)  # a `def` (or a block) around the cursor: the class's body is at its level
        if limit == 0:
            return {}
    if header is None:
        return {}
    body = limit if limit is not None and limit > header else None
    end = text.find("\n", offset)
    names: dict[str, str] = {}
    for _, line in zip(range(MAX_LINES), text[end + 1 :].split("\n") if end >= 0 else ()):
        if not _code(line):
            continue
        indent = _indent(line)
        if indent <= header:
            break
        body = indent if body is None else body
        code = line.lstrip()
        if indent == body and (m := _DEF.match(code)) is not None:
            names.setdefault(m.group(1), "method")
        elif indent == body and (m := _ASSIGNED.match(code)) is not None:
            names.setdefault(m.group(1), "field")
        for m in _SELF_SET.finditer(code):
            names.setdefault(m.group(1), "field")
    return names
