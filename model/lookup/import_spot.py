"""What can be written at a name's start inside an import statement.

`from pkg.core import Markdown, |`: a name `pkg.core` binds (`Module.offered`), but not one the
statement already lists; `import |` and `from |`: a module that can be imported (the standard
library's, the installed packages', the project's); after `import`, one the document's `import`
statements name already is not raised (`import os` twice is rare; `from os.path import` after
`import os` is not). The model ranks what it has learnt follows there (`from typing import` ...); these
names are raised over the rest as a module's are after `module.` (`receivers.py`), so that
`from .core import |` lists what `core` has instead of whatever names usually follow `import`.
A name typed after `as` is new: no spot.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heed.model.lookup.modules import ModuleIndex
from heed.model.lookup.receivers import ReceiverNames, named

LOOK_BACK = 4000  # characters before the cursor an open bracket of `from m import (` is looked for in
_FROM = re.compile(r"[ \t]*from[ \t]+(\.*)[ \t]*([\w.]*)[ \t]+import\b(?P<names>[ \t]*\([^)]*|[^\n(]*)\Z")
_IMPORT = re.compile(r"[ \t]*import[ \t]+(?P<names>[^\n]*)\Z")
_FROM_MODULE = re.compile(r"[ \t]*from[ \t]+\Z")
_IMPORTED = re.compile(r"^[ \t]*import[ \t]+([\w., \t]+)", re.M)


@dataclass(frozen=True)
class ImportSpot:
    """A name's start in an import statement: `module` (and `level`, its leading dots) is the
    module names are imported from; "" where a module's name is written (`import |`, `from |`)."""

    module: str
    level: int = 0
    taken: frozenset[str] = frozenset()  # what the statement already lists: it cannot come again
    imported: frozenset[str] = frozenset()  # `import |`: what the document's `import` statements name already


def import_spot(text: str, end: int) -> ImportSpot | None:
    """The spot at `end` in `text` (where the name being typed starts). Asked at every request
    that does not follow a dot, so it reads one line (the one with an open bracket, if any)."""
    bracket = text.rfind("(", max(end - LOOK_BACK, 0), end)
    at = bracket if bracket >= 0 and text.find(")", bracket, end) < 0 else end
    line = text[text.rfind("\n", 0, at) + 1 : end]
    if (m := _FROM.match(line)) is not None:
        *done, last = re.sub(r"#[^\n]*", " ", m["names"].lstrip(" \t(")).split(",")
        if last.strip() or (not m[1] and not m[2]):  # `from x import a as |`, or nothing to import from
            return None
        return ImportSpot(m[2], len(m[1]), frozenset(p.split()[0] for p in done if p.split()))
    if (m := _IMPORT.match(line)) is not None:
        *done, last = m["names"].split(",")
        if last.strip():
            return None  # `import a.|` (after a dot), `import a as |`
        taken = frozenset(p.split()[0].split(".")[0] for p in done if p.split())
        return ImportSpot("", taken=taken, imported=frozenset(_imported(text, end)))
    return ImportSpot("") if _FROM_MODULE.match(line) is not None else None


def _imported(text: str, end: int) -> set[str]:
    """The top-level modules the `import` statements before `end` name."""
    return {p.split()[0].split(".")[0] for m in _IMPORTED.finditer(text, 0, end) for p in m.group(1).split(",") if p.split()}


def spot_names(spot: ImportSpot, index: ModuleIndex, origin: Path | None, id_of: Callable[[str], int]) -> ReceiverNames | None:
    """What can be written at `spot`, as the names after a dot are given (`receivers.py`): None
    where the module cannot be found."""
    if spot.module or spot.level:
        module = index.find(spot.module, spot.level, origin)
        if module is None:
            return None
        names = {n: k for n, k in module.offered().items() if n not in spot.taken}
        source, dynamic = module, module.dynamic
    else:
        names = {n: "module" for n in index.top_level(origin) if n not in spot.taken | spot.imported}
        source, dynamic = None, True  # another interpreter (the project's) may have modules this one lacks
    return named(names, id_of, "import", source=source, open=dynamic, excluded=_identities(spot.taken, id_of),
                 lowered=_identities(spot.imported, id_of))


def _identities(names: frozenset[str], id_of: Callable[[str], int]) -> np.ndarray:
    return np.array([i for i in map(id_of, names) if i >= 0], np.int64)
