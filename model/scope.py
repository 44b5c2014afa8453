"""Names in scope at a cursor, read off the libcst roles in the token stream.

The roles already say where names are bound (`def_name`, `class_name`, `import`, `target`,
`parameter`) and which attributes a receiver has been seen with (`self.x`). Scope follows the
chunk structure: names bound at module level are visible everywhere; names bound inside the
top-level statement that holds the cursor (a function, a class) are visible there. Each piece
summarises itself once; a request only merges the summaries.
"""

from __future__ import annotations

import builtins
from collections import Counter
from dataclasses import dataclass

from heed.model import lexer
from heed.model.roles import ROLE_ID
from heed.model.stream import Piece, TokenStream

BINDING_ROLES = frozenset(ROLE_ID[r] for r in ("def_name", "class_name", "import", "target", "parameter"))
ATTRIBUTE_ROLES = frozenset(ROLE_ID[r] for r in ("attribute", "method", "attribute_target"))
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
        for i, (tok, role) in enumerate(zip(toks, piece.roles)):
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


@dataclass
class Scope:
    names: dict[str, int]  # visible name -> binding role (-1: builtin)
    counts: Counter[str]  # occurrences in the document
    roles: dict[str, int]  # a name's latest role in the document


def scope_at(stream: TokenStream, offset: int) -> Scope:
    """Names visible at `offset`: module-level bindings, bindings in the enclosing top-level
    statement, and builtins."""
    starts = stream.starts()
    names: dict[str, int] = {n: -1 for n in BUILTINS}
    counts: Counter[str] = Counter()
    roles: dict[str, int] = {}
    enclosing = 0
    for i, piece in enumerate(stream.pieces):
        if starts[i] > offset:
            break
        if piece.depth == 0:
            enclosing = i  # the latest top-level statement starting before the cursor
    for i, piece in enumerate(stream.pieces):
        summary = piece_names(piece)
        counts.update(summary.counts)
        roles.update(summary.roles)
        if piece.depth == 0 or (enclosing <= i and starts[i] <= offset):
            names.update(summary.bound)
    return Scope(names, counts, roles)


def attributes_of(stream: TokenStream, receiver: str) -> Counter[str]:
    """Attributes used on `receiver` anywhere in the document, with how often."""
    found: Counter[str] = Counter()
    for piece in stream.pieces:
        for attr in piece_names(piece).attributes.get(receiver, ()):
            found[attr] += 1
    return found
