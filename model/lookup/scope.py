"""Names in scope at a cursor, read off the libcst roles in the token stream.

The roles already say where names are bound (`def_name`, `class_name`, `import`, `target`,
`parameter`) and which attributes a receiver has been seen with (`self.x`). Scope follows the
chunk structure: names bound at module level are visible everywhere; names bound inside the
top-level statement that holds the cursor (a function, a class) are visible there. Each piece
summarises itself once; a request only merges the summaries.
"""

from __future__ import annotations

import bisect
import builtins
import operator
from collections import Counter
from dataclasses import dataclass

from heed.model.text import lexer
from heed.model.text.roles import ROLE_ID
from heed.model.text.stream import Piece, TokenStream

BINDING_ROLES = frozenset(ROLE_ID[r] for r in ("def_name", "class_name", "import", "target", "parameter"))
ATTRIBUTE_ROLES = frozenset(ROLE_ID[r] for r in ("attribute", "method", "attribute_target"))
# A first request on a document of more new pieces than this (a file of some 8,000 lines) reads
# the scope of the top-level statements only: summarising 14,000 pieces took most of a second.
QUICK_PIECES = 2_000
BUILTINS = tuple(n for n in dir(builtins) if not n.startswith("_"))


@dataclass
class PieceNames:
    bound: dict[str, int]  # name -> role where it is bound
    attributes: dict[str, set[str]]  # receiver name -> attribute names used on it
    counts: Counter[str]  # how often each name appears
    roles: dict[str, int]  # name -> the role it had last


def piece_names(piece: Piece) -> PieceNames:
    cached = piece.derived.get("names")
    if cached is None:
        bound: dict[str, int] = {}
        attributes: dict[str, set[str]] = {}
        counts: Counter[str] = Counter()
        roles: dict[str, int] = {}
        toks = piece.tokens
        for i, (tok, role) in enumerate(zip(toks, piece.parsed_roles)):
            if tok.kind != lexer.NAME:
                continue
            counts[tok.text] += 1
            roles[tok.text] = role
            if role in BINDING_ROLES:
                bound.setdefault(tok.text, role)
            if role in ATTRIBUTE_ROLES and i >= 2 and toks[i - 1].text == "." and toks[i - 2].kind == lexer.NAME:
                attributes.setdefault(toks[i - 2].text, set()).add(tok.text)
        cached = piece.derived["names"] = PieceNames(bound, attributes, counts, roles)
    return cached


class ScopeIndex:
    """Document-wide name counts, attributes and module-level bindings, kept up to date piece by
    piece. A request only pays for the pieces that changed since the last one (typing changes
    one, and re-lexes the one before it), not for the whole document. Pieces are held by
    reference, so their ids stay unique."""

    def __init__(self) -> None:
        self.pieces: list[Piece] = []  # those counted, in the document's order
        self.counts: Counter[str] = Counter()
        self.roles: dict[str, Counter[int]] = {}  # name -> pieces using it in each role
        self.attributes: dict[str, Counter[str]] = {}  # receiver -> pieces using each attribute on it
        self.module: dict[str, int] = {}  # names bound by top-level statements (the first binding's role)
        self.enclosing: tuple[list[Piece], dict[str, int]] = ([], {})  # see `enclosing_bindings`

    def update(self, stream: TokenStream, quick: bool = False) -> None:
        """Bring the index up to `stream`'s pieces. `quick`: where more than QUICK_PIECES pieces are
        new (a big file just opened), only the top-level ones and those summarised already count,
        and the background summarises the rest (`Completer.warm`)."""
        old, pieces = self.pieces, stream.pieces
        # An edit replaces the pieces between a head and a tail that stay the same objects.
        head, limit = 0, min(len(old), len(pieces))
        while head < limit and old[head] is pieces[head]:
            head += 1
        tail = 0
        while tail < limit - head and old[-1 - tail] is pieces[-1 - tail]:
            tail += 1
        gone, new = old[head : len(old) - tail], pieces[head : len(pieces) - tail]
        if quick and len(new) > QUICK_PIECES and sum("names" not in p.derived for p in new) > QUICK_PIECES:
            new = [p for p in new if p.depth == 0 or "names" in p.derived]
        for piece, sign in [(p, -1) for p in gone] + [(p, 1) for p in new]:
            summary = piece_names(piece)
            for name, n in summary.counts.items():
                self.counts[name] += sign * n
            for name, role in summary.roles.items():
                self.roles.setdefault(name, Counter())[role] += sign
            for receiver, attrs in summary.attributes.items():
                seen = self.attributes.setdefault(receiver, Counter())
                for attr in attrs:
                    seen[attr] += sign
        self.pieces = old[:head] + new + old[len(old) - tail :]
        # The module's bindings are gathered again only when the top-level pieces that came and
        # went bind different names: an edit in a function re-lexes its pieces, binding the same.
        if _bindings(gone) != _bindings(new):
            self.module = {}
            for p in stream.pieces:
                if p.depth == 0:
                    for name, role in piece_names(p).bound.items():
                        self.module.setdefault(name, role)

    def enclosing_bindings(self, segment: list[Piece]) -> dict[str, int]:
        """The names the pieces of `segment` bind (the first binding's role), but for its last
        three: typing re-lexes the cursor's piece and the one before, and a class of 600 pieces
        was merged again at every keystroke. Kept for the last segment asked about."""
        stable = segment[:-3]
        kept, merged = self.enclosing
        if len(kept) != len(stable) or not all(map(operator.is_, kept, stable)):
            merged = {}
            for piece in reversed(stable):
                merged.update(piece_names(piece).bound)
            self.enclosing = (stable, merged)
        return merged


def _bindings(pieces: list[Piece]) -> Counter[tuple[str, int]]:
    return Counter(item for p in pieces if p.depth == 0 for item in piece_names(p).bound.items())


@dataclass
class Scope:
    names: dict[str, int]  # visible name -> binding role (-1: builtin)
    counts: Counter[str]  # occurrences in the document
    roles: dict[str, Counter[int]]  # name -> how many pieces use it in each role
    attributes: dict[str, Counter[str]]  # receiver -> how many pieces use each attribute on it

    def role_of(self, name: str) -> int | None:
        """The role a name plays most where the document uses it (for names bound nowhere)."""
        used = self.roles.get(name)
        if not used:
            return None
        role, count = max(used.items(), key=lambda kv: (kv[1], -kv[0]))  # ties: the first role, always
        return role if count > 0 else None


def scope_at(stream: TokenStream, offset: int, quick: bool = False) -> Scope:
    """Names visible at `offset`: module-level bindings, bindings in the enclosing top-level
    statement, and builtins. `quick`: see ScopeIndex.update."""
    index = stream.derived.get("scope")
    if index is None:
        index = stream.derived["scope"] = ScopeIndex()
    index.update(stream, quick)
    names: dict[str, int] = {n: -1 for n in BUILTINS}
    names.update(index.module)
    # The enclosing top-level statement: back from the cursor to the nearest depth-0 piece; the
    # pieces nearer the start bind first.
    pieces = stream.pieces
    i = max(bisect.bisect_right(stream.starts(), offset) - 1, 0)
    if i < len(pieces):
        top = i
        while top > 0 and pieces[top].depth != 0:
            top -= 1
        segment = pieces[top : i + 1]
        for piece in reversed(segment[-3:]):
            names.update(piece_names(piece).bound)
        names.update(index.enclosing_bindings(segment))
    return Scope(names, index.counts, index.roles, index.attributes)
