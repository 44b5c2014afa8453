"""Classes read off a document's tokens: the class around a position, a class body, and what
a class body defines (its methods, class-level names and `self.x = ...`).

Works on the model's token ids and roles, so the same code serves the server and `heed eval`
(which has no source text for names outside the vocabulary).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from heed.model.text.roles import ROLE_ID
from heed.model.text.vocab import Vocab

SELF_NAMES = ("self", "cls")


@dataclass(frozen=True)
class ClassTokens:
    """The vocabulary ids that shape a class: `class`, `def`, the layout tokens, `.`, `self`
    and `cls` (-1 for one a small vocabulary lacks: it then never matches)."""

    class_id: int
    def_id: int
    indent: int
    dedent: int
    newline: int
    dot: int
    selves: tuple[int, ...]

    @staticmethod
    def of(vocab: Vocab) -> ClassTokens:
        get = vocab.index.get
        return ClassTokens(get("class", -1), get("def", -1), get("<indent>", -1), get("<dedent>", -1),
                           get("<newline>", -1), get(".", -1), tuple(get(s, -1) for s in SELF_NAMES))


def class_members(m: ClassTokens, ids: np.ndarray, roles: np.ndarray, ext: np.ndarray) -> np.ndarray | None:
    """Identities the class around the end of a context has defined in it: its methods (`def`
    directly in its body), its class-level names (`x = ...`), and `self.x = ...` anywhere in
    it. None outside a class."""
    found = enclosing_class(m, ids)
    return body_members(m, ids, roles, ext, found[1], len(ids)) if found is not None else None


def unstored_parameters(m: ClassTokens, ids: np.ndarray, roles: np.ndarray, ext: np.ndarray,
                        members: np.ndarray) -> np.ndarray:
    """Identities of the parameters of the function around the end of a context (not `self`)
    that the class has not stored yet (not in `members`), where the context ends with `self .`
    starting a statement: `def __init__(self, size):` ... `self.|` is most often `self.size = size`."""
    ids = np.asarray(ids)
    n = len(ids)
    if n < 3 or ids[n - 3] not in (m.newline, m.indent, m.dedent):
        return np.zeros(0, np.int64)
    found = enclosing_block(m, ids, m.def_id)
    if found is None:
        return np.zeros(0, np.int64)
    header = slice(*found)
    r, x, own = np.asarray(roles)[header], np.asarray(ext)[header], ids[header]
    params = x[(r == ROLE_ID["parameter"]) & ~np.isin(own, m.selves)]
    params = params[params >= 0]
    return np.setdiff1d(params, members)


def enclosing_class(m: ClassTokens, ids: np.ndarray) -> tuple[int, int] | None:
    """(index of its `class` keyword, index of the INDENT opening its body) of the innermost
    class around the end of a context; None outside a class."""
    return enclosing_block(m, ids, m.class_id)


def enclosing_block(m: ClassTokens, ids: np.ndarray, keyword: int) -> tuple[int, int] | None:
    """(index of its keyword, index of the INDENT opening its body) of the innermost block around
    the end of a context that `keyword` (`class` or `def`) heads; None outside one."""
    ids = np.asarray(ids)
    depth = np.cumsum((ids == m.indent).astype(np.int32) - (ids == m.dedent))  # after each token
    if not len(depth) or depth[-1] <= 0:
        return None
    # The blocks around the end open at the INDENTs whose level nothing after them went below.
    lowest_after = np.minimum.accumulate(depth[::-1])[::-1]
    openers = np.flatnonzero((ids == m.indent) & (depth == lowest_after))
    headers = np.flatnonzero((ids == m.class_id) | (ids == m.def_id))
    newlines = np.flatnonzero(ids == m.newline)
    for b in openers[::-1]:  # innermost first (`self` in a method means its class)
        h = np.searchsorted(headers, b) - 1
        if h < 0:
            continue
        k = headers[h]
        # The keyword must head the line this block belongs to: no line ends between them but the last.
        if np.searchsorted(newlines, k) < np.searchsorted(newlines, b - 1) or ids[k] != keyword:
            continue
        return int(k), int(b)
    return None


def class_body(m: ClassTokens, ids: np.ndarray, k: int) -> tuple[int, int] | None:
    """(INDENT, end) of the body of the class whose `class` keyword is at `k`: from the first
    INDENT after its header line to where the indentation falls back (or the context ends)."""
    ids = np.asarray(ids)
    newline = np.flatnonzero(ids[k:] == m.newline)
    b = k + int(newline[0]) + 1 if len(newline) else len(ids)
    if b >= len(ids) or ids[b] != m.indent:
        return None  # `class A: pass` on one line
    step = (ids[b:] == m.indent).astype(np.int32) - (ids[b:] == m.dedent)
    closed = np.flatnonzero(np.cumsum(step) <= 0)
    return b, b + int(closed[0]) if len(closed) else len(ids)


def body_members(m: ClassTokens, ids: np.ndarray, roles: np.ndarray, ext: np.ndarray, body: int, end: int) -> np.ndarray:
    """Identities a class body (from its INDENT at `body` to `end`) defines: see class_members."""
    ids = np.asarray(ids)
    depth = np.cumsum((ids[body:end] == m.indent).astype(np.int32) - (ids[body:end] == m.dedent))
    r, x, own = np.asarray(roles[body:end]), np.asarray(ext[body:end]), ids[body:end]
    direct = (depth == 1) & ((r == ROLE_ID["def_name"]) | (r == ROLE_ID["target"]))
    at = np.flatnonzero(r == ROLE_ID["attribute_target"])
    at = at[at >= 2]
    on_self = at[np.isin(own[at - 2], m.selves) & (own[at - 1] == m.dot)]
    found = np.concatenate([x[direct], x[on_self]])
    return np.unique(found[found >= 0])


def header_parameters(texts: Sequence[str], open_at: int) -> list[str] | None:
    """A `def` header's parameters (its `(` at `open_at`), as `module_source.keyword_parameters`
    writes them (a method's `self` or `cls` left out)."""
    if open_at >= len(texts) or texts[open_at] != "(":
        return None
    names: list[str] = []
    depth, starred = 0, False
    for j in range(open_at + 1, len(texts)):
        t = texts[j]
        if t in ("(", "[", "{"):
            depth += 1
        elif t in (")", "]", "}"):
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and t == "/":
            names = [f"/{n}" for n in names]  # what came before it is positional-only
        elif depth == 0 and t in ("*", "**"):
            starred = True
        elif depth == 0 and t.isidentifier() and texts[j - 1] in ("(", ","):
            names.append(f"*{t}" if starred else t)  # after `*` or `*args`: keyword-only
        elif depth == 0 and t.isidentifier() and texts[j - 1] == "*":
            names.append("...")  # `*args`: it takes any more positions
    else:
        return None  # the header is not finished before the cursor
    return names[1:] if names and names[0].lstrip("/") in SELF_NAMES else names
