"""What the model reads at a cursor: the document's tokens before it, encoded.

Pieces wholly before the cursor are encoded once and cached on the piece. The piece holding the
cursor is re-lexed up to the cursor in `at_cursor` mode, so that a cursor on a fresh indented
line still sees the INDENT or DEDENT its indentation implies. An identifier typed up to the
cursor is not context but the *prefix* that candidates must start with.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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


def cursor_context(stream: TokenStream, offset: int, encoder: DocEncoder, short: int = 0,
                   whole_if: Callable[[int], bool] | None = None) -> CursorContext:
    """The model's context at `offset` (in code points) of the stream's text. With `short`, only
    its last `short` tokens or so (`short_cut`): the pieces before are not even read (nor their
    roles parsed); unless `whole_if(origin)` says the whole context's start is worth it."""
    offset = max(0, min(offset, len(stream.text)))
    starts = stream.starts()
    i = max(bisect.bisect_left(starts, offset) - 1, 0)  # a cursor at a piece boundary ends the piece before
    piece = stream.pieces[i] if stream.pieces else None
    piece_line = 1 + sum(p.lines for p in stream.pieces[:i])

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

    # Earlier pieces, newest first, until the context is long enough.
    before_counts = [len(p.tokens) for p in stream.pieces[:i]]
    n_total = sum(before_counts) + len(cur)
    origin = select_context(n_total)
    if short and not (whole_if and whole_if(origin)):
        origin += short_cut(n_total - origin, short)
    parts: list[Encoded] = []
    line_parts: list[np.ndarray] = []
    col_parts: list[np.ndarray] = []
    text_parts: list[list[str]] = []
    at = n_total - len(cur)
    # The cursor's own piece can hold more than MAX_CONTEXT tokens before the cursor (a 1 MB
    # line): then the model reads only its tail too. Before, it ran over all of them (250,000
    # tokens: 57 s and 1.6 GB for one popup).
    read_toks = cur_toks
    if origin > at:
        cur, read_toks = cur.tail(origin - at), cur_toks[origin - at :]
    line_at = piece_line
    for j in range(i - 1, -1, -1):
        if at <= origin:
            break
        p = stream.pieces[j]
        at -= len(p.tokens)
        line_at -= p.lines
        enc = _encoded_piece(p, encoder)
        rel, cols, texts = _piece_positions(p)
        rel = rel + (line_at - 1)
        if at < origin:
            cut = origin - at
            enc, rel, cols, texts = enc.tail(cut), rel[cut:], cols[cut:], texts[cut:]
        parts.append(enc)
        line_parts.append(rel)
        col_parts.append(cols)
        text_parts.append(texts)
    for part in (parts, line_parts, col_parts, text_parts):
        part.reverse()
    parts.append(cur)
    line_parts.append(np.asarray([t.line + piece_line - 1 for t in read_toks], np.int64))
    col_parts.append(np.asarray([t.col for t in read_toks], np.int64))
    text_parts.append([t.text for t in read_toks])

    logical: list[str] = []
    line_start = offset - len(prefix)
    for t in reversed(cur_toks):
        if t.kind in (lexer.NEWLINE, lexer.INDENT, lexer.DEDENT):
            break
        logical.append(t.text)
        line_start = starts[i] + t.offset
    logical.reverse()
    return CursorContext(
        inputs=Encoded.concat(parts),
        origin=origin,
        lines=np.concatenate(line_parts),
        cols=np.concatenate(col_parts),
        texts=[t for part in text_parts for t in part],
        prefix=prefix,
        line_before=logical,
        line_start=line_start,
        inside=inside,
    )
