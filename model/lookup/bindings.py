"""Where a name the receiver starts with was bound, as the cursor sees it, and what narrows it.

Read off the context's tokens and roles (`receivers.Lookup`): the last binding before a position
(import, parameter, assignment, def, class), less those the position cannot see (the parameters
and locals of a function that has ended: another method's `pty` parameter does not hide the module
`pty` imported at the top) and those that say nothing (`pty = None` in an `except ImportError:`);
and an `isinstance(name, T)` that holds where the cursor is (`if isinstance(node, cst.Name):`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from heed.model.lookup.imports import dotted_name
from heed.model.text.roles import ROLE_ID

if TYPE_CHECKING:
    from heed.model.lookup.receivers import Lookup

IMPORT, PARAMETER, TARGET, CLASS_NAME, DEF_NAME, ATTRIBUTE_TARGET = (
    ROLE_ID[r] for r in ("import", "parameter", "target", "class_name", "def_name", "attribute_target"))
BINDING = frozenset({IMPORT, PARAMETER, TARGET, CLASS_NAME, DEF_NAME})
SCAN = 20_000  # tokens looked back for a name's binding


def last_binding(look: Lookup, name: str, before: int | None = None) -> int | None:
    """Index of the context's last token before `before` (default: its final dot) that binds
    `name` (import, parameter, assignment, def, class) where `before` can see it; None if there is none."""
    end = len(look.texts) - 1 if before is None else before
    texts, roles = look.texts, look.roles
    blocks: Blocks | None = None
    for i in range(end - 1, max(end - SCAN, 0) - 1, -1):
        if texts[i] == name and roles[i] in BINDING and not binds_none(texts, i):
            if roles[i] in (PARAMETER, TARGET):
                blocks = blocks or Blocks.of(look, end)
                if blocks.function_ended(i):
                    continue
            return i
    return None


@dataclass
class Blocks:
    """The indentation of a context up to `end` (after each token), its lowest from each token on,
    and where its lines end."""

    look: Lookup
    end: int
    depth: np.ndarray
    lowest: np.ndarray
    newlines: np.ndarray

    @staticmethod
    def of(look: Lookup, end: int) -> Blocks:
        ids, m = look.ids[:end], look.tokens
        depth = np.cumsum((ids == m.indent).astype(np.int32) - (ids == m.dedent))
        lowest = np.minimum.accumulate(depth[::-1])[::-1] if len(depth) else depth
        return Blocks(look, end, depth, lowest, np.flatnonzero(ids == m.newline))

    def function_ended(self, i: int) -> bool:
        """Whether the parameter or local name at `i` belongs to a function that ended before
        `end`: another method's parameter `pty` does not bind the module `pty` imported at the top."""
        ids, m, end, depth = self.look.ids, self.look.tokens, self.end, self.depth
        for k in np.flatnonzero(ids[:i] == m.def_id)[::-1][:64]:  # innermost first
            at = int(np.searchsorted(self.newlines, k))
            body = int(self.newlines[at]) + 1 if at < len(self.newlines) else end  # after its header's line
            indented = body < end and ids[body] == m.indent
            if i < body:  # in its header (a parameter) or its one-line body
                return body < end and not (indented and self.lowest[body] > depth[k])
            if not indented or (i > body and depth[body:i].min() <= depth[k]):
                continue  # a one-line function, or one that ended before `i`: not around it
            return bool(self.lowest[i] <= depth[k])
        return False


NARROWS = frozenset({"if", "elif", "while", "assert", "and"})  # what an `isinstance(` that narrows follows


def isinstance_type(look: Lookup, name: str, after: int) -> tuple[str, int] | None:
    """(the class as written, where) of the last `isinstance(name, T)` after the token `after`
    (the name's binding) that holds at the context's end: in the condition of an `if`, `elif` or
    `while` whose block the end is in, or an `assert` in the end's block or one around it. None
    where there is none (or it is negated, or checks a tuple of classes)."""
    texts, end = look.texts, len(look.texts) - 1
    blocks: Blocks | None = None
    for i in range(end - 6, max(after, end - SCAN, 0), -1):
        if texts[i] != "isinstance" or texts[i + 1] != "(" or texts[i + 2] != name or texts[i + 3] != ",":
            continue
        written, k = dotted_name(texts, i + 4)
        if not written or k >= end or texts[k] != ")" or texts[i - 1] not in NARROWS:
            continue
        blocks = blocks or Blocks.of(look, end)
        line = int(np.searchsorted(blocks.newlines, i))
        first = int(blocks.newlines[line - 1]) + 1 if line > 0 else 0
        while first < i and texts[first] == "":  # INDENT, DEDENT
            first += 1
        body = int(blocks.newlines[line]) + 1 if line < len(blocks.newlines) else end
        depth = blocks.depth[i]
        if texts[first] == "assert":
            holds = bool(blocks.lowest[i] >= depth)  # the end is in the assert's block, or deeper
        elif texts[first] in ("if", "elif", "while"):
            holds = body < end and look.ids[body] == look.tokens.indent and bool(blocks.lowest[body] > depth)
        else:
            holds = False
        if holds:
            return written, i
    return None


def binds_none(texts: Sequence[str], i: int) -> bool:
    """Whether the binding at `i` is `name = None` alone: a placeholder (`except ImportError: pty =
    None`, a default reset), never what code that writes `name.` expects it to hold; the binding
    before it says more."""
    return tuple(texts[i + 1 : i + 3]) == ("=", "None") and (i + 3 >= len(texts) or texts[i + 3] in ("\n", ";"))
