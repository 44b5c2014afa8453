"""A tolerant Python lexer: any text in, tokens out, never an exception.

Why not the standard library's `tokenize`: it raises on the half-typed code an editor holds
(an open triple-quoted string, an unclosed bracket at EOF) and its behaviour changed in 3.12.
This lexer follows the language reference's rules for lines, indentation and literals, and turns
whatever it cannot read into `error` tokens, so that joining `ws + text` always rebuilds the input.

It is resumable: `lex()` starts from a `LexState` (offset, position, indentation stack) taken at
the start of a logical line, which is what the incremental stream (`stream.py`) builds on.
It also marks *chunk* boundaries: the statements and clauses at indentation depths 0 to
CHUNK_DEPTH (2), with their decorators, which libcst parses one at a time (`role_parser.py`).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# Token kinds.
NAME, KEYWORD, OP, NUMBER, STRING = "name", "keyword", "op", "number", "string"
NEWLINE, INDENT, DEDENT, ENDMARKER, ERROR = "newline", "indent", "dedent", "endmarker", "error"

KEYWORDS = frozenset(keyword.kwlist)
# libcst models these keywords as `Name` nodes, so they take part in role matching.
NAME_LIKE_KEYWORDS = frozenset({"True", "False", "None"})
# Chunks are the statements at depth <= CHUNK_DEPTH.
CHUNK_DEPTH = 2

_OPERATORS = sorted(
    ["**", "//=", ">>=", "<<=", "...", "->", ":=", "!=", "==", "<=", ">=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", "**=", "//", "<<", ">>", "+", "-", "*", "/", "%", "&", "|", "^", "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ":", ";", ".", "=", "@", "!"],
    key=len,
    reverse=True,
)
_STRING_PREFIX = r"(?:[rRbBuUfF]|[rR][bBfF]|[bBfF][rR])?"
_NUMBER = re.compile(
    r"""
    (?: 0[xX](?:_?[0-9a-fA-F])+ | 0[bB](?:_?[01])+ | 0[oO](?:_?[0-7])+
      | (?: (?:[0-9](?:_?[0-9])*)?\.[0-9](?:_?[0-9])* | [0-9](?:_?[0-9])*\.? )
        (?:[eE][-+]?[0-9](?:_?[0-9])*)?
    ) [jJ]?
    """,
    re.VERBOSE,
)
_NAME = re.compile(r"[^\W\d]\w*")
_STRING_START = re.compile(_STRING_PREFIX + r"('''|\"\"\"|'|\")")
_OP = re.compile("|".join(re.escape(op) for op in _OPERATORS))
# Skipped between tokens: spaces, tabs, form feeds, comments, backslash continuations.
_SKIP = re.compile(r"(?:[ \t\f]+|#[^\r\n]*|\\\r?\n|\\\r)*")
_BLANK_LINE = re.compile(r"[ \t\f]*(?:#[^\r\n]*)?(?:\r\n|\r|\n)")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LEAD = re.compile(r"[ \t\f]*")
_TAIL = re.compile(r"[ \t\f]*(#[^\r\n]*)?\Z")
_OPEN, _CLOSE = "([{", ")]}"
_SKIP_FIRST = frozenset(" \t\f#\\")  # what `_SKIP` can match from
_STRING_FIRST = frozenset("'\"rRbBuUfF")  # what a string can start with (most tokens are not tried as one)


@dataclass(slots=True)
class Tok:
    """One lexed token. `ws` is everything skipped before it (whitespace, comments, blank lines)."""

    kind: str
    text: str
    ws: str
    line: int  # 1-based
    col: int  # 0-based, in code points
    offset: int  # of `text` in the source
    unterminated: bool = False  # a string or bracket left open at EOF


@dataclass(frozen=True, slots=True)
class LexState:
    """Where lexing can start again: the beginning of a logical line outside any bracket."""

    offset: int = 0
    line: int = 1
    col: int = 0
    indents: tuple[int, ...] = (0,)


@dataclass(slots=True)
class Chunk:
    """A statement at depth <= CHUNK_DEPTH, as the tokens it holds and the state it starts from."""

    start: LexState
    tokens: list[Tok] = field(default_factory=list)


def indent_width(ws: str) -> int:
    """Column of indentation, with tabs to multiples of 8 as CPython counts them."""
    col = 0
    for ch in ws:
        if ch == "\t":
            col = (col // 8 + 1) * 8
        elif ch == " ":
            col += 1
        elif ch == "\f":
            col = 0
    return col


class _Lexer:
    def __init__(self, text: str, state: LexState, at_cursor: bool):
        self.text = text
        self.pos = state.offset
        self.line = state.line
        self.col = state.col
        self.indents = list(state.indents)
        self.at_cursor = at_cursor
        self.depth = 0  # open brackets
        self.pending_ws = ""

    def _advance(self, s: str) -> None:
        """Move line/col over the consumed text `s`."""
        if "\n" not in s and "\r" not in s:  # nearly every token: no regex
            self.col += len(s)
            return
        breaks = list(_LINE_BREAK.finditer(s))
        if breaks:
            self.line += len(breaks)
            self.col = len(s) - breaks[-1].end()
        else:
            self.col += len(s)

    def _take(self, n: int) -> str:
        s = self.text[self.pos : self.pos + n]
        self.pos += n
        self._advance(s)
        return s

    def _tok(self, kind: str, n: int, unterminated: bool = False) -> Tok:
        pos = self.pos
        s = self.text[pos : pos + n]
        tok = Tok(kind, s, self.pending_ws, self.line, self.col, pos, unterminated)
        self.pos = pos + n
        if "\n" in s or "\r" in s:
            self._advance(s)
        else:
            self.col += len(s)
        self.pending_ws = ""
        return tok

    def _skip(self, pattern: re.Pattern[str]) -> None:
        m = pattern.match(self.text, self.pos)
        if m and m.end() > self.pos:
            self.pending_ws += self._take(m.end() - self.pos)

    def logical_lines(self) -> Iterator[tuple[LexState, list[Tok]]]:
        """Yield (state at its start, tokens) for each logical line, layout tokens included."""
        text, n = self.text, len(self.text)
        while True:
            start = LexState(self.pos, self.line, self.col, tuple(self.indents))
            # Blank and comment-only lines belong to the next token's whitespace.
            while m := _BLANK_LINE.match(text, self.pos):
                self.pending_ws += self._take(m.end() - self.pos)
            tail = _TAIL.match(text, self.pos)
            if tail and (tail.group(1) or not self.at_cursor):  # only comments/spaces remain
                self.pending_ws += self._take(n - self.pos)
                end = start
                break
            lead = _LEAD.match(text, self.pos).group()  # type: ignore[union-attr]
            self.pending_ws += self._take(len(lead))
            tokens = self._layout(indent_width(lead))
            if tail:  # the cursor sits on an indented blank line: its layout still counts
                if tokens:
                    yield start, tokens
                return
            tokens.extend(self._line_body())
            yield start, tokens
            # At a cursor right after a line break, the next line's layout still counts. (A line
            # that is only a backslash continuation up to the cursor has no tokens at all.)
            if self.pos >= n and not (self.at_cursor and tokens and tokens[-1].kind == NEWLINE):
                end = LexState(self.pos, self.line, self.col, tuple(self.indents))
                break
        if not self.at_cursor:
            yield end, self._eof()

    def _layout(self, width: int) -> list[Tok]:
        tokens = []
        if width > self.indents[-1]:
            self.indents.append(width)
            tokens.append(self._tok(INDENT, 0))
        while width < self.indents[-1] and len(self.indents) > 1:
            self.indents.pop()
            tokens.append(self._tok(DEDENT, 0))
        return tokens

    def _line_body(self) -> Iterator[Tok]:
        """Tokens of one logical line, through its NEWLINE (if it has one)."""
        text, n = self.text, len(self.text)
        self.depth = 0
        while True:
            if self.pos < n and text[self.pos] in _SKIP_FIRST:
                self._skip(_SKIP)
            if self.pos >= n:
                if not self.at_cursor:
                    yield self._tok(NEWLINE, 0, unterminated=self.depth > 0)
                return
            ch = text[self.pos]
            if ch in "\r\n":
                if self.depth > 0:  # implicit line joining inside brackets
                    m = _LINE_BREAK.match(text, self.pos)
                    assert m is not None
                    self.pending_ws += self._take(m.end() - self.pos)
                    continue
                m = _LINE_BREAK.match(text, self.pos)
                assert m is not None
                yield self._tok(NEWLINE, m.end() - self.pos)
                return
            m = _STRING_START.match(text, self.pos) if ch in _STRING_FIRST else None
            if m:
                yield self._string(m)
                continue
            m = _NAME.match(text, self.pos)
            if m:
                word = m.group()
                yield self._tok(KEYWORD if word in KEYWORDS else NAME, len(word))
                continue
            if ch.isdigit() or (ch == "." and self.pos + 1 < n and text[self.pos + 1].isdigit()):
                m = _NUMBER.match(text, self.pos)
                if m and m.end() > self.pos:
                    yield self._tok(NUMBER, m.end() - self.pos)
                    continue
            m = _OP.match(text, self.pos)
            if m:
                op = m.group()
                if op in _OPEN:
                    self.depth += 1
                elif op in _CLOSE and self.depth > 0:
                    self.depth -= 1
                yield self._tok(OP, len(op))
                continue
            yield self._tok(ERROR, 1)

    def _string(self, m: re.Match[str]) -> Tok:
        quote = m.group(1)
        body_start = m.end()
        text = self.text
        if len(quote) == 3:
            end = text.find(quote, body_start)
            while end != -1 and _escaped(text, end, body_start):
                end = text.find(quote, end + 1)
            if end == -1:
                return self._tok(STRING, len(text) - self.pos, unterminated=True)
            return self._tok(STRING, end + 3 - self.pos)
        i = body_start
        while i < len(text):
            c = text[i]
            if c == "\\":
                i += 3 if text.startswith("\r\n", i + 1) else 2
                continue
            if c == quote:
                return self._tok(STRING, i + 1 - self.pos)
            if c in "\r\n":
                break
            i += 1
        return self._tok(STRING, min(i, len(text)) - self.pos, unterminated=True)

    def _eof(self) -> list[Tok]:
        tokens = [self._tok(DEDENT, 0) for _ in self.indents[1:]]
        self.indents = [0]
        tokens.append(self._tok(ENDMARKER, 0))
        return tokens


def _escaped(text: str, i: int, floor: int) -> bool:
    """True when the character at i is preceded by an odd number of backslashes."""
    k = i
    while k > floor and text[k - 1] == "\\":
        k -= 1
    return (i - k) % 2 == 1


def lex_lines(
    text: str, state: LexState = LexState(), at_cursor: bool = False
) -> Iterator[tuple[LexState, list[Tok]]]:
    """Logical lines of `text` from `state`: (state at the line's start, its tokens).

    With `at_cursor`, `text` ends at an editor's cursor: no NEWLINE, DEDENT or ENDMARKER is made up
    at its end, but a whitespace-only last line still yields the INDENT/DEDENT its width implies.
    """
    return _Lexer(text, state, at_cursor).logical_lines()


def lex(text: str, at_cursor: bool = False) -> list[Tok]:
    """All tokens of `text`."""
    return [tok for _, line in lex_lines(text, at_cursor=at_cursor) for tok in line]


def starts_chunk(prev_line: list[Tok] | None, depth: int) -> bool:
    """Whether a logical line at indentation `depth` begins a new chunk.

    Every statement and every clause (`else:`, `except:`, `case`) at depth <= CHUNK_DEPTH starts
    one, except that decorators stay with what they decorate.
    """
    if prev_line is None:
        return True
    if depth > CHUNK_DEPTH:
        return False
    prev_first = next((t for t in prev_line if t.kind not in (INDENT, DEDENT)), None)
    return not (prev_first is not None and prev_first.kind == OP and prev_first.text == "@")


def depth_after_layout(start: LexState, tokens: list[Tok]) -> int:
    """Indentation depth after the INDENT/DEDENT tokens that `tokens` (from `start`) begin with."""
    depth = len(start.indents) - 1
    for tok in tokens:
        if tok.kind == INDENT:
            depth += 1
        elif tok.kind == DEDENT:
            depth -= 1
        else:
            break
    return depth


def chunks(text: str, state: LexState = LexState()) -> Iterator[Chunk]:
    """Split `text` (from `state`) into chunks, lexing it once."""
    current: Chunk | None = None
    prev_line: list[Tok] | None = None
    for start, line in lex_lines(text, state):
        if current is None or starts_chunk(prev_line, depth_after_layout(start, line)):
            if current is not None:
                yield current
            current = Chunk(start)
        current.tokens.extend(line)
        prev_line = line
    if current is not None:
        yield current
