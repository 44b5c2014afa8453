"""The token stream of a document, with roles, kept up to date edit by edit.

Each token carries two roles: the one the model reads (`causal_roles.py`: from the text up to the
token only) and the one a libcst parse of its whole chunk gives (`role_parser.py`), which the
look-ups read.

A document is held as a list of *pieces*, one per chunk (a statement at depth 0 to 2, see
`lexer.chunks`). Each piece stores its tokens with positions relative to its own start, so
an edit re-lexes and re-parses only the pieces it touches; every piece after it is reused as is,
however far the text shifted. Roles come from libcst one chunk at a time and are cached by the
chunk's text, so a chunk that reappears unchanged is never parsed twice.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from heed.model.text.causal_roles import causal_roles
from heed.model.text.lexer import LexState, Tok, chunks, depth_after_layout
from heed.model.text.role_parser import chunk_roles
from heed.model.text.roles import ROLES

ROLE_CACHE_SIZE = 8192
_TEXT = operator.attrgetter("text")


@dataclass(frozen=True, slots=True)
class Token:
    """A token as the outside world sees it: `ws + text` over all tokens rebuilds the source."""

    text: str
    ws: str
    kind: str
    role: str  # what the model reads (from the text up to here)
    parsed_role: str  # what a parse of the whole statement says (the look-ups read it)
    line: int  # 1-based
    col: int  # 0-based, in code points
    offset: int  # of `text` in the source

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "ws": self.ws, "kind": self.kind, "role": self.role, "parsed_role": self.parsed_role,
                "line": self.line, "col": self.col}


@dataclass(slots=True)
class Piece:
    """One chunk of the document. Token offsets and lines are relative to the piece's start."""

    state: LexState  # indentation stack at its start (offset and line are not kept up to date)
    text: str
    tokens: list[Tok]
    lines: int  # line breaks inside the piece
    role_cache: _RoleCache
    derived: dict[str, Any] = field(default_factory=dict)  # per-piece data others compute once
    depth: int = 0  # indentation depth of the piece's first statement
    _roles: list[int] | None = None
    _parsed_roles: list[int] | None = None

    @property
    def roles(self) -> list[int]:
        """One role per token as the model reads it (no look-ahead), computed on first use."""
        if self._roles is None:
            self._roles = causal_roles([t.kind for t in self.tokens], [t.text for t in self.tokens])
        return self._roles

    @property
    def parsed_roles(self) -> list[int]:
        """One role per token from libcst, parsed on first use: a request on a file just opened
        reads only the pieces near the cursor, and the rest are parsed in the background."""
        if self._parsed_roles is None:
            self._parsed_roles = self.role_cache.roles(self.text, self.state.indents, self.tokens)
        return self._parsed_roles


class _RoleCache:
    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict[tuple[str, tuple[int, ...]], list[int]] = OrderedDict()
        self.parses = 0

    def roles(self, text: str, indents: tuple[int, ...], tokens: list[Tok]) -> list[int]:
        key = (text, indents)
        hit = self.entries.get(key)
        if hit is not None and len(hit) == len(tokens):
            self.entries.move_to_end(key)
            return hit
        self.parses += 1
        roles = chunk_roles(tokens)
        self.entries[key] = roles
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return roles


def _count_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _pieces(role_cache: _RoleCache, state: LexState, text: str) -> Iterator[tuple[Piece, int]]:
    """Pieces of `text` from `state` on, each with its start offset. (A generator of the module,
    not of a stream: one that held the stream while the stream held it would be a cycle, kept
    alive by `gc.freeze` in the server when a document closes half read.)"""
    for chunk in chunks(text, state):
        start, tokens = chunk.start, chunk.tokens
        source = "".join(t.ws + t.text for t in tokens)
        for tok in tokens:
            tok.offset -= start.offset
            tok.line -= start.line - 1
        yield Piece(start, source, tokens, _count_breaks(source), role_cache, depth=depth_after_layout(start, tokens)), start.offset


class TokenStream:
    """Tokens and roles of one document; `edit()` updates them incrementally."""

    def __init__(self, text: str = "", role_cache: _RoleCache | None = None, lazily: bool = False):
        self.role_cache = role_cache or _RoleCache(ROLE_CACHE_SIZE)
        self.text = ""
        self.pieces: list[Piece] = []
        self._starts: list[int] | None = None
        self._unread: Iterator[tuple[Piece, int]] | None = None  # the rest of a text being read `lazily`
        self._read_to = 0  # where the pieces read so far end
        self.derived: dict[str, Any] = {}  # document-wide data others keep up to date (scope index)
        self.replace(text, lazily)

    # -- building -------------------------------------------------------------------------
    def replace(self, text: str, lazily: bool = False) -> None:
        """Take a whole new text. `lazily`: lex it only as `read` asks (a 50,000-line file takes
        most of a second to lex; the server reads it in slices between other documents' requests)."""
        self.text = text
        self.pieces, self._starts, self._read_to = [], None, 0
        self._unread = _pieces(self.role_cache, LexState(), text)
        if not lazily:
            self.read()

    @property
    def complete(self) -> bool:
        """Whether the pieces cover the whole text."""
        return self._unread is None

    def read(self, upto: int | None = None, stop: Callable[[], bool] | None = None) -> bool:
        """Lex more of a text taken `lazily`: until the pieces cover offset `upto` (None: all of
        it), or until `stop()`. Whether the whole text is read. Until it is, the pieces hold its
        start: a request reads up to its cursor and answers from that."""
        if self._unread is None:
            return True
        if upto is not None and self._read_to >= upto:
            return False
        for piece, offset in self._unread:
            self.pieces.append(piece)
            self._starts = None
            self._read_to = offset + len(piece.text)
            if (upto is not None and self._read_to >= upto) or (stop is not None and stop()):
                return False
        self._unread = None
        return True

    def edit(self, start: int, end: int, new_text: str) -> None:
        """Replace `text[start:end]` by `new_text` (offsets in code points) and update the stream."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"edit range {start}:{end} outside a text of length {len(self.text)}")
        self.read()  # an edit re-lexes from the pieces around it: all of them must be there
        text = self.text[:start] + new_text + self.text[end:]
        starts = self.starts()
        # Re-lex from the piece before the one holding `start`: an edit at a piece's very start
        # can join it to the line above.
        first = max(bisect.bisect_right(starts, start) - 2, 0)
        delta = len(new_text) - (end - start)
        old_after = {starts[j] + delta: j for j in range(first + 1, len(self.pieces)) if starts[j] > end}
        state = LexState(starts[first], self._line_of_piece(first), 0, self.pieces[first].state.indents)
        fresh: list[Piece] = []
        tail: list[Piece] = []
        for piece, offset in _pieces(self.role_cache, state, text):
            j = old_after.get(offset)
            # Token columns are kept as lexed, so a piece that starts mid-line (the end of a text
            # without a final line break) is reused only at the same column.
            if j is not None and self.pieces[j].state.indents == piece.state.indents and self.pieces[j].state.col == piece.state.col:
                tail = self.pieces[j:]
                break
            fresh.append(piece)
        self.pieces = self.pieces[:first] + fresh + tail
        self.text = text
        self._starts = None

    # -- reading --------------------------------------------------------------------------
    def starts(self) -> list[int]:
        """Offset of each piece's start in the current text."""
        if self._starts is None:  # (in C: after each edit, for every piece of a 5,000-line file)
            self._starts = list(itertools.accumulate(map(len, map(_TEXT, self.pieces)), initial=0))[:-1]
        return self._starts

    def _line_of_piece(self, index: int) -> int:
        return 1 + sum(p.lines for p in self.pieces[:index])

    def tokens(self) -> list[Token]:
        """Every token with absolute positions and its role names."""
        out: list[Token] = []
        self.read()
        offset, line = 0, 1
        for piece in self.pieces:
            for tok, role, parsed in zip(piece.tokens, piece.roles, piece.parsed_roles):
                out.append(Token(tok.text, tok.ws, tok.kind, ROLES[role], ROLES[parsed], tok.line + line - 1, tok.col,
                                 tok.offset + offset))
            offset += len(piece.text)
            line += piece.lines
        return out

    def source(self) -> str:
        self.read()
        return "".join(piece.text for piece in self.pieces)


def tokenize(text: str) -> list[Token]:
    """The token stream of a whole text, from scratch."""
    return TokenStream(text).tokens()
