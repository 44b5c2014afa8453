"""The import a popup item from another module of the project needs, and where it goes.

Picking `Engine` from the popup where `Engine` is not in scope should also import it, as
editors' completion does: the edit is `from pkg.engine import Engine` on the line after the
document's last top-level import in its header (after its docstring and `from __future__`
imports when it has no other), read line by line so that a half-typed file still gets one.
"""

from __future__ import annotations

import re

HEADER_ENDS = re.compile(r"(def|class|async\s+def|if\s+__name__)\b|@")
IMPORT = re.compile(r"(import|from)\s")


def import_edit(text: str, module: str, name: str) -> tuple[int, str] | None:
    """(the 0-based line to insert at, the line to insert) so that `name` from `module` is bound;
    None where the document already imports it from there."""
    if re.search(rf"^\s*from\s+{re.escape(module)}\s+import\s[^\n]*\b{re.escape(name)}\b", text, re.M):
        return None
    lines = text.split("\n")
    after_docstring = _docstring_end(lines)
    last_import = -1
    i = after_docstring
    while i < len(lines):
        line = lines[i]
        if line[:1] not in ("", " ", "\t", "#") and HEADER_ENDS.match(line):
            break
        if IMPORT.match(line):
            end = i
            if "(" in line and ")" not in line:  # a parenthesized import over several lines
                while end + 1 < len(lines) and ")" not in lines[end]:
                    end += 1
            else:
                while lines[end].rstrip().endswith("\\") and end + 1 < len(lines):
                    end += 1
            last_import, i = end, end
        i += 1
    at = last_import + 1 if last_import >= 0 else after_docstring
    return at, f"from {module} import {name}\n"


def _docstring_end(lines: list[str]) -> int:
    """The line after the module's docstring (and the comments and blank lines before it); 0 if none."""
    i = 0
    while i < len(lines) and (not lines[i].strip() or lines[i].startswith("#")):
        i += 1
    if i >= len(lines):
        return 0
    m = re.match(r"[rRuU]?('''|\"\"\")", lines[i])
    if not m:
        return 0
    quote = m.group(1)
    if lines[i].count(quote) >= 2:
        return i + 1
    for j in range(i + 1, len(lines)):
        if quote in lines[j]:
            return j + 1
    return 0
