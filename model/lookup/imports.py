"""The document side of the module look-up: what its imports bind, and the module a dotted
chain before a dot names.

`import_bindings` reads what a document's imports bind off its token keys (`piece_imports`
caches that per piece of an open document); `resolve_chain` follows a dotted chain (`os.path.`)
from such a binding to the module it names, through `ModuleIndex` (`modules.py`).
`receivers.py` decides what a receiver is.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from pathlib import Path

from heed.model.lookup.module_source import Module
from heed.model.lookup.modules import ModuleIndex
from heed.model.lookup.scope import scope_at
from heed.model.text.cursor import chain_before_dot
from heed.model.text.roles import ROLE_ID
from heed.model.text.stream import Piece, TokenStream
from heed.model.text.vocab import token_key

STATEMENT_START = frozenset({"<newline>", "<indent>", "<dedent>", ";", ":"})


def import_bindings(keys: Sequence[str]) -> dict[str, list[tuple[int, int, str]]]:
    """Each name the document's imports bind: name -> [(token index, level, dotted)], in order.
    `import a.b` binds `a` to `a`; `import a.b as c` binds `c` to `a.b`; `from m import n as k`
    binds `k` to `m.n` (a submodule or an attribute of m: resolved later)."""
    out: dict[str, list[tuple[int, int, str]]] = {}
    n = len(keys)
    i = 0
    while i < n:
        key = keys[i]
        if key not in ("import", "from") or (i > 0 and keys[i - 1] not in STATEMENT_START):
            i += 1
            continue
        j = i + 1
        level, base = 0, ""
        if key == "from":
            while j < n and keys[j] in (".", "..."):
                level += len(keys[j])
                j += 1
            base, j = dotted_name(keys, j)
            if j >= n or keys[j] != "import":
                i = j
                continue
            j += 1
            if j < n and keys[j] == "(":
                j += 1
        while j < n:
            name, j = dotted_name(keys, j)
            if not name:
                break
            bound = name.split(".")[0] if key == "import" else name
            target = bound if key == "import" else f"{base}.{name}".lstrip(".")
            if j + 1 < n and keys[j] == "as" and keys[j + 1].isidentifier():
                bound, j = keys[j + 1], j + 2
                target = name if key == "import" else target
            out.setdefault(bound, []).append((i, level, target))
            if j < n and keys[j] == ",":
                j += 1
            else:
                break
        i = j
    return out


def dotted_name(keys: Sequence[str], j: int) -> tuple[str, int]:
    """The dotted name starting at `keys[j]` ("" if none) and the index after it."""
    parts = []
    while j < len(keys) and keys[j].isidentifier() and keys[j] not in ("import", "as"):
        parts.append(keys[j])
        if j + 1 < len(keys) and keys[j + 1] == ".":
            j += 2
        else:
            j += 1
            break
    return ".".join(parts), j


def receiver_chain(keys: Sequence[str]) -> list[str]:
    """The dotted names before a context's final `.`: `os.path.` -> ["os", "path"]; a call is
    kept with its parentheses: `make().x.` -> ["make()", "x"]; [] if the chain starts with
    anything else (`f()[0].`, `"".`)."""
    if not keys or keys[-1] != ".":
        return []
    chain: list[str] = []
    j = len(keys) - 2
    while True:
        called = j >= 0 and keys[j] == ")"
        if called:
            j = _opening(keys, j) - 1
        if j < 0 or not keys[j].isidentifier():
            return []
        chain.append(keys[j] + "()" * called)
        if j < 1 or keys[j - 1] != ".":
            break
        j -= 2
    return chain[::-1]


def _opening(keys: Sequence[str], j: int) -> int:
    """The index of the `(` that the `)` at `j` closes (-1: none)."""
    depth = 0
    for i in range(j, -1, -1):
        if keys[i] in (")", "]", "}"):
            depth += 1
        elif keys[i] in ("(", "[", "{"):
            depth -= 1
            if depth == 0:
                return i if keys[i] == "(" else -1
    return -1


def defining_module(index: ModuleIndex, parts: Sequence[str], level: int, dotted: str, origin: Path | None
                    ) -> tuple[Module, str] | None:
    """Where a name the document writes as `parts` (`["Engine"]` after `from cars import Engine`,
    `["cars", "Engine"]`; its first name bound by an import of `dotted` with `level` dots) is read
    from: (that module, the name in it); None where heed cannot read it (`import m` binds no name of a module)."""
    if len(parts) == 1:
        head, _, last = dotted.rpartition(".")
        module = index.find(head, level, origin) if head or level else None
    else:
        module, last = resolve_chain(index, parts[:-1], level, dotted, origin), parts[-1]
    return (module, last) if module is not None else None


def resolve_chain(index: ModuleIndex, chain: Sequence[str], level: int, dotted: str, origin: Path | None) -> Module | None:
    """The module `chain` names, its first name bound by an import of `dotted` (with `level` dots)
    in the document at `origin`; None if it names no module heed can read."""
    module = index.find(dotted, level, origin)
    if module is None and "." in dotted:  # `from m import name`: name is an attribute of m
        head, _, last = dotted.rpartition(".")
        parent = index.find(head, level, origin)
        module = index.member_module(parent, last) if parent is not None else None
    for name in chain[1:]:
        if module is None:
            return None
        module = index.member_module(module, name)
    return module


def receiver_in_stream(index: ModuleIndex, stream: TokenStream, dot: int, origin: Path | None) -> Module | None:
    """The module named before the `.` that ends at `dot` in an open document, if any: the chain
    is read off the text, its first name must be bound by an import visible there."""
    chain, whole = chain_before_dot(stream.text, dot)
    if not whole:
        return None
    if scope_at(stream, dot).names.get(chain[0]) != ROLE_ID["import"]:
        return None  # bound by an assignment, a parameter, ... or not at all
    binding = stream_binding(stream, chain[0], dot)
    return resolve_chain(index, chain, *binding, origin) if binding is not None else None


def stream_binding(stream: TokenStream, name: str, offset: int) -> tuple[int, str] | None:
    """(level, dotted) of the last import that binds `name` before `offset` in an open document."""
    return stream_bindings(stream, {name}, offset).get(name)


def stream_bindings(stream: TokenStream, names: set[str], offset: int) -> dict[str, tuple[int, str]]:
    """`stream_binding` for each of `names`, in one pass over the document."""
    starts = stream.starts()
    last = max(bisect.bisect_right(starts, offset) - 1, 0)
    bindings: dict[str, tuple[int, str]] = {}
    for i, piece in enumerate(stream.pieces[: last + 1]):
        bound = piece_imports(piece)
        for name in names & bound.keys() if bound else ():
            for where, level, dotted in bound[name]:
                if starts[i] + where < offset:
                    bindings[name] = (level, dotted)
    return bindings


def read_imports(index: ModuleIndex, stream: TokenStream, origin: Path | None, stop: Callable[[], bool] | None = None) -> bool:
    """Read every module the document imports into `index` ahead of requests; False if `stop()`
    turned true first (it is checked between pieces)."""
    for piece in stream.pieces:
        if stop is not None and stop():
            return False
        for name, bound in piece_imports(piece).items():
            for _, level, dotted in bound:
                resolve_chain(index, [name], level, dotted, origin)
    return True


def piece_imports(piece: Piece) -> dict[str, list[tuple[int, int, str]]]:
    """`import_bindings` of one piece of a document, with offsets in the piece: computed once."""
    cached = piece.derived.get("imports")
    if cached is None:
        toks = piece.tokens
        found = import_bindings([token_key(t.kind, t.text) for t in toks]) if any(t.text == "import" for t in toks) else {}
        cached = piece.derived["imports"] = {
            name: [(toks[i].offset, level, dotted) for i, level, dotted in bound] for name, bound in found.items()
        }
    return cached
