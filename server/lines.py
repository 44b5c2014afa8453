"""A document's text as its lines, for the event loop: LSP positions <-> offsets, and edits.

An edit costs the lines it touches, not the whole text: a 50,000-line file is 2-7 MB of
characters, and rebuilding that string at every keystroke took 5 ms on the event loop (1.5 s
for a burst of 300 changes, during which no other request was read). The whole text is joined
only when the model worker asks for it.

LSP positions count UTF-16 code units; offsets here count code points. Line breaks are those of
LSP: \\r\\n, \\r and \\n (not the \\v, \\f or U+2028 that str.splitlines also breaks at).
"""

from __future__ import annotations

import re

import numpy as np
from lsprotocol import types

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def split_lines(text: str) -> list[str]:
    """The lines of `text`, each with its line break; the last one (maybe empty) has none."""
    lines, at = [], 0
    for m in _LINE_BREAK.finditer(text):
        lines.append(text[at : m.end()])
        at = m.end()
    lines.append(text[at:])
    return lines


def _starts(lines: list[str], first: int = 0) -> np.ndarray:
    if not lines:
        return np.zeros(0, np.int64)
    lengths = np.fromiter((len(line) for line in lines), np.int64, len(lines))
    return first + np.concatenate([[0], np.cumsum(lengths[:-1])]).astype(np.int64)


def _content(line: str) -> str:
    return line.rstrip("\r\n")


class Lines:
    def __init__(self, text: str):
        self.lines = split_lines(text)
        self.starts = _starts(self.lines)  # offset of each line
        self.length = len(text)
        self._text: str | None = text

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = "".join(self.lines)
        return self._text

    def offset(self, position: types.Position) -> int:
        """Code-point offset of an LSP position; positions past a line's or the text's end clamp."""
        if position.line < 0:
            return 0
        if position.line >= len(self.lines):
            return self.length
        line = _content(self.lines[position.line])
        start = int(self.starts[position.line])
        if line.isascii():
            return start + min(max(position.character, 0), len(line))
        units = 0
        for i, ch in enumerate(line):
            if units >= position.character:
                return start + i
            units += 2 if ord(ch) > 0xFFFF else 1
        return start + len(line)

    def position(self, offset: int) -> types.Position:
        """LSP position (UTF-16) of a code-point offset."""
        row = max(int(np.searchsorted(self.starts, offset, "right")) - 1, 0)
        segment = self.lines[row][: offset - int(self.starts[row])]
        return types.Position(row, len(segment) + (0 if segment.isascii() else sum(1 for ch in segment if ord(ch) > 0xFFFF)))

    def replace(self, start: int, end: int, new: str) -> None:
        """Replace the code points [start, end) by `new`."""
        first = max(int(np.searchsorted(self.starts, start, "right")) - 1, 0)
        last = max(int(np.searchsorted(self.starts, end, "right")) - 1, first)
        # A \r ending the line before and a \n starting the line after can join the edit's own
        # into one \r\n (or a \r\n be split): take those lines in too.
        if first > 0 and self.lines[first - 1].endswith("\r"):
            first -= 1
        if last + 1 < len(self.lines) and self.lines[last + 1].startswith("\n"):
            last += 1
        at = int(self.starts[first])
        old = "".join(self.lines[first : last + 1])
        fresh = split_lines(old[: start - at] + new + old[end - at :])
        if last + 1 < len(self.lines):
            fresh.pop()  # the edited lines still end with a line break: no line starts in the middle of the text
        delta = len(new) - (end - start)
        self.starts = np.concatenate([self.starts[:first], _starts(fresh, at), self.starts[last + 1 :] + delta])
        self.lines[first : last + 1] = fresh
        self.length += delta
        self._text = None
