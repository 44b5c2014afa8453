"""What the document defines below the cursor: the class around it's members, a function's parameters.

The model reads the document up to the cursor, and so do the look-ups (`classes.py`, `calls.py`);
but in an editor the rest of the file is there too, and `self.` in `__init__` is most often
followed by a method defined further down, or an attribute another method sets, and a call
often names a function defined below it. This reads the text after the cursor: as far as the
class goes (by indentation) for its methods, class-level names and `self.x = ...`; and a
`def`'s header. Text, not a parse of the file: the line being typed leaves it broken.
`heed eval` types each file up to the cursor, so there is nothing below it there.
"""

from __future__ import annotations

import ast
import re

from heed.model.lookup.classes import SELF_NAMES
from heed.model.lookup.module_source import keyword_parameters

MAX_LINES = 5000  # lines walked back to the class header, and forward to the class's end
MAX_HEADER = 5000  # characters a `def` header is read over to its closing bracket ...
MAX_TRIES = 20  # ... tried at this many `)`
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


def parameters_below(text: str, offset: int, name: str) -> list[str] | None:
    """The parameters (`module_source.keyword_parameters`) of the first `def name(` after the
    cursor's line, if its header parses (a method's `self` or `cls` left out)."""
    end = text.find("\n", offset)
    found = re.compile(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", re.M).search(text, end) if end >= 0 else None
    if found is None:
        return None
    opened = found.end() - 1
    close = opened
    for _ in range(MAX_TRIES):  # each `)` in turn: one may sit in a default's string
        close = text.find(")", close + 1, opened + MAX_HEADER)
        if close < 0:
            return None
        try:
            node = ast.parse(f"def _{text[opened : close + 1]}: pass\n").body[0]
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        if isinstance(node, ast.FunctionDef):
            first = node.args.posonlyargs[:1] or node.args.args[:1]
            return keyword_parameters(node, method=bool(first) and first[0].arg in SELF_NAMES)
    return None
