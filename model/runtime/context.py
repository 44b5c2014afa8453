"""What the model reads at a cursor: the document's tokens before it, encoded.

Pieces wholly before the cursor are encoded once and cached on the piece. The piece holding the
cursor is re-lexed up to the cursor in `at_cursor` mode, so that a cursor on a fresh indented
line still sees the INDENT or DEDENT its indentation implies. An identifier typed up to the
cursor is not context but the *prefix* that candidates must start with.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from heed.model.runtime.cancel import Cancelled, RequestCancelled
from heed.model.runtime.encoding import DocEncoder, Encoded
from heed.model.text import lexer
from heed.model.text.causal_roles import causal_roles
from heed.model.text.lexer import LexState, Tok
from heed.model.text.roles import SYNTAX
from heed.model.text.stream import Piece, TokenStream
from heed.model.text.vocab import token_key

MAX_CONTEXT = 32768  # tokens before the cursor the model reads at most (the whole of nearly any file)
CONTEXT_STRIDE = 8192  # the context's start moves in steps of this, so the cache stays valid


def select_context(n_tokens: int) -> int:
    """Index of the first token the model reads when `n_tokens` precede the cursor."""
    if n_tokens <= MAX_CONTEXT:
        return 0
    return (n_tokens - MAX_CONTEXT) // CONTEXT_STRIDE * CONTEXT_STRIDE + CONTEXT_STRIDE


@dataclass
class CursorContext:
    inputs: Encoded  # model inputs, oldest first
    origin: int  # document token index of inputs[0]
    lines: np.ndarray  # 1-based line of each input token
    cols: np.ndarray  # its column (code points)
    texts: list[str]  # text of each input token (for explanations)
    prefix: str  # identifier characters typed right before the cursor
    line_before: list[str]  # texts of the current logical line's tokens before the cursor
    line_start: int  # offset of the first of them (of the prefix, or the cursor, when there are none)
    inside: str  # "" or "string" / "comment": where completion makes no sense


def _encoded_piece(piece: Piece, encoder: DocEncoder) -> Encoded:
    """A piece's model inputs, cached on the piece (pieces belong to one document)."""
    cached = piece.derived.get("encoded")
    if cached is None or cached[0] is not encoder:
        keys = [token_key(t.kind, t.text) for t in piece.tokens]
        enc = encoder.encode(keys, [t.kind for t in piece.tokens], piece.roles, piece.parsed_roles)
        piece.derived["encoded"] = cached = (encoder, enc)
    return cached[1]


def _piece_positions(piece: Piece) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(line relative to the piece, column, text) of each token, cached on the piece."""
    if "positions" not in piece.derived:
        piece.derived["positions"] = (
            np.asarray([t.line for t in piece.tokens], np.int64),
            np.asarray([t.col for t in piece.tokens], np.int64),
            [t.text for t in piece.tokens],
        )
    return piece.derived["positions"]


def _inside(text_before: str, last: Tok | None) -> str:
    """Whether the cursor sits in a comment or an unterminated string. `text_before` is the text
    before the cursor that `last`, the last token before it, was lexed from."""
    if last is not None and last.kind == lexer.STRING and last.unterminated:
        return "string"
    # After the last token come only spaces, comments and line breaks: a `#` on the cursor's line
    # there starts a comment (`x = 1  # note|`).
    rest = text_before[last.offset + len(last.text) :] if last is not None else text_before
    tail = rest[max(rest.rfind("\n"), rest.rfind("\r")) + 1 :]
    return "comment" if "#" in tail else ""


def _parsed_roles(piece: Piece | None, toks: list[Tok]) -> list[int]:
    """The piece's parsed role for each re-lexed token that stands where and as it stood in the piece;
    syntax for the others. Both lists are in offset order, so one walk pairs them (a dict of the
    piece's tokens cost 200 MB for a 1 MB line)."""
    if piece is None:
        return [SYNTAX] * len(toks)
    roles, j, old = [], 0, piece.tokens
    for t in toks:
        while j < len(old) and old[j].offset < t.offset:
            j += 1
        k = j  # DEDENTs share their offset with the token after them
        while k < len(old) and old[k].offset == t.offset and old[k].text != t.text:
            k += 1
        roles.append(piece.parsed_roles[k] if k < len(old) and old[k].offset == t.offset else SYNTAX)
    return roles


def short_cut(n_tokens: int, short: int) -> int:
    """How many of `n_tokens` to skip to keep the last `short` to 1.25 x `short` of them: the cut
    moves in steps of `short` / 4, so that typing on keeps the same start (and its states)."""
    stride = max(short // 4, 1)
    return max(n_tokens - short, 0) // stride * stride


class _Before:
    """The encoded tokens of the pieces before the cursor's piece, kept on the stream and brought up
    to date piece by piece: an edit replaces only the pieces it touches (and the one before them),
    and gathering a 30,000-token context from all of them cost 7 ms a keystroke."""

    def __init__(self, encoder: DocEncoder):
        self.encoder = encoder
        self.pieces: list[Piece] = []
        self.tokens = [0]  # tokens before each piece, and after the last
        self.lines = [0]  # line breaks likewise
        # start -> (inputs, lines, columns, texts) of the tokens from there, and how many of
        # them are still those of the current pieces
        self.joined: dict[int, tuple[tuple[Encoded, np.ndarray, np.ndarray, list[str]], int]] = {}

    @staticmethod
    def of(stream: TokenStream, i: int, encoder: DocEncoder) -> _Before:
        kept = stream.derived.get("before")
        if kept is None or kept.encoder is not encoder:
            kept = stream.derived["before"] = _Before(encoder)
        kept.update(stream.pieces[:i])
        return kept

    @property
    def n_tokens(self) -> int:
        return self.tokens[-1]

    @property
    def piece_line(self) -> int:
        """The 1-based line where the cursor's piece starts."""
        return 1 + self.lines[-1]

    def update(self, pieces: list[Piece]) -> None:
        same = 0
        for old, new in zip(self.pieces, pieces):
            if old is not new:
                break
            same += 1
        self.pieces = pieces
        del self.tokens[same + 1 :], self.lines[same + 1 :]
        for p in pieces[same:]:
            self.tokens.append(self.tokens[-1] + len(p.tokens))
            self.lines.append(self.lines[-1] + p.lines)
        for start, (joined, valid) in list(self.joined.items()):
            self.joined[start] = (joined, min(valid, self.tokens[same] - start))

    def since(self, origin: int) -> tuple[Encoded, np.ndarray, np.ndarray, list[str]]:
        """(inputs, lines, columns, texts) of the tokens from document index `origin` on."""
        kept = self.joined.get(origin)
        if kept is not None and kept[1] >= 0:
            (enc, lines, cols, texts), valid = kept
            at = origin + valid
            enc, lines, cols, texts = enc.head(valid), lines[:valid], cols[:valid], texts[:valid]
        else:
            at = origin
            enc, lines, cols, texts = Encoded.concat([]), np.zeros(0, np.int64), np.zeros(0, np.int64), []
        parts, line_parts, col_parts, text_parts = [enc], [lines], [cols], [texts]
        first = max(bisect.bisect_right(self.tokens, at) - 1, 0)  # the piece holding token `at`
        for j in range(first, len(self.pieces)):
            p = self.pieces[j]
            enc = _encoded_piece(p, self.encoder)
            rel, cols, texts = _piece_positions(p)
            rel = rel + self.lines[j]
            cut = at - self.tokens[j]
            if cut > 0:
                enc, rel, cols, texts = enc.tail(cut), rel[cut:], cols[cut:], texts[cut:]
            parts.append(enc)
            line_parts.append(rel)
            col_parts.append(cols)
            text_parts.append(texts)
        joined = (Encoded.concat(parts), np.concatenate(line_parts), np.concatenate(col_parts),
                  list(itertools.chain.from_iterable(text_parts)))
        if origin not in self.joined and len(self.joined) >= 4:  # a few starts: the whole context's and a quick one's
            self.joined.clear()
        self.joined[origin] = (joined, self.n_tokens - origin)
        return joined


def encode_ahead(stream: TokenStream, encoder: DocEncoder, cancelled: Cancelled | None = None) -> None:
    """Encode, and so parse, the pieces that a context at the document's end reads, one at a time:
    in the background, which a request stops between two pieces (a 50,000-line file has 14,000)."""
    origin = select_context(sum(len(p.tokens) for p in stream.pieces))
    at = 0
    for piece in stream.pieces:
        at += len(piece.tokens)
        if at > origin:
            if cancelled is not None and cancelled():
                raise RequestCancelled
            _encoded_piece(piece, encoder)


def cursor_context(stream: TokenStream, offset: int, encoder: DocEncoder, short: int = 0,
                   whole_if: Callable[[int], bool] | None = None) -> CursorContext:
    """The model's context at `offset` (in code points) of the stream's text. With `short`, only
    its last `short` tokens or so (`short_cut`): the pieces before are not even read (nor their
    roles parsed); unless `whole_if(origin)` says the whole context's start is worth it."""
    offset = max(0, min(offset, len(stream.text)))
    starts = stream.starts()
    i = max(bisect.bisect_left(starts, offset) - 1, 0)  # a cursor at a piece boundary ends the piece before
    piece = stream.pieces[i] if stream.pieces else None
    before = _Before.of(stream, i, encoder)
    piece_line = before.piece_line

    # The cursor piece, re-lexed up to the cursor.
    cur_toks: list[Tok] = []
    if piece is not None:
        state = LexState(0, 1, 0, piece.state.indents)
        cur_toks = [t for _, line in lexer.lex_lines(piece.text[: offset - starts[i]], state, at_cursor=True) for t in line]
    last = cur_toks[-1] if cur_toks else None
    inside = _inside(piece.text[: offset - starts[i]] if piece is not None else stream.text[:offset], last)
    prefix = ""
    if last is not None and last.kind in (lexer.NAME, lexer.KEYWORD) and last.offset + len(last.text) == offset - starts[i]:
        prefix = last.text
        cur_toks = cur_toks[:-1]
    elif last is not None and last.kind == lexer.NUMBER and last.offset + len(last.text) == offset - starts[i]:
        inside = "number"
    kinds = [t.kind for t in cur_toks]
    cur = encoder.encode([token_key(t.kind, t.text) for t in cur_toks], kinds,
                         causal_roles(kinds, [t.text for t in cur_toks]), _parsed_roles(piece, cur_toks))

    # Earlier pieces, from the context's start.
    n_total = before.n_tokens + len(cur)
    origin = select_context(n_total)
    if short and not (whole_if and whole_if(origin)):
        origin += short_cut(n_total - origin, short)
    at = before.n_tokens
    # The cursor's own piece can hold more than MAX_CONTEXT tokens before the cursor (a 1 MB
    # line): then the model reads only its tail too. Before, it ran over all of them (250,000
    # tokens: 57 s and 1.6 GB for one popup).
    read_toks = cur_toks
    if origin > at:
        cur, read_toks = cur.tail(origin - at), cur_toks[origin - at :]
    enc, lines, cols, texts = before.since(origin)
    read_lines = np.asarray([t.line + piece_line - 1 for t in read_toks], np.int64)

    logical: list[str] = []
    line_start = offset - len(prefix)
    for t in reversed(cur_toks):
        if t.kind in (lexer.NEWLINE, lexer.INDENT, lexer.DEDENT):
            break
        logical.append(t.text)
        line_start = starts[i] + t.offset
    logical.reverse()
    return CursorContext(
        inputs=Encoded.concat([enc, cur]),
        origin=origin,
        lines=np.concatenate([lines, read_lines]),
        cols=np.concatenate([cols, np.asarray([t.col for t in read_toks], np.int64)]),
        texts=texts + [t.text for t in read_toks],
        prefix=prefix,
        line_before=logical,
        line_start=line_start,
        inside=inside,
    )
