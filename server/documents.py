"""Open documents: their text, the token stream and the model state kept beside it.

The event loop applies each edit to the text at once (cheap). The token stream is brought up to
date by the model worker when a request needs it, replaying the edits queued since, so a burst
of typing is tokenized once. LSP positions count UTF-16 code units; the stream counts code
points: the conversion lives here.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from lsprotocol import types
from pygls import uris

from heed.model.text.stream import TokenStream

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
MAX_PENDING_EDITS = 200  # beyond this, re-tokenizing the whole text is cheaper
WARM_DOCUMENTS = 4  # documents whose model states are kept; others are recomputed on demand


def line_starts(text: str) -> np.ndarray:
    return np.array([0] + [m.end() for m in _LINE_BREAK.finditer(text)], np.int64)


def edited_line_starts(starts: np.ndarray, text: str, start: int, end: int, inserted: int) -> np.ndarray:
    """The line starts of `text`, the old text with [start, end) replaced by `inserted` code points,
    from the old text's `starts`: only the lines around the edit are scanned again (a keystroke
    in a 50,000-line file scanned all of them: milliseconds on the event loop each)."""
    delta = inserted - (end - start)
    # From the line before the one holding `start` (an inserted "\n" can join a "\r" before it) ...
    a = max(int(np.searchsorted(starts, start, "right")) - 2, 0)
    # ... to the first line start whose line break lies wholly after the edit.
    b = int(np.searchsorted(starts, end + 1, "right"))
    lo, hi = int(starts[a]), int(starts[b]) + delta if b < len(starts) else len(text)
    middle = np.array([m.end() for m in _LINE_BREAK.finditer(text, lo, hi)], np.int64)
    return np.concatenate([starts[: a + 1], middle, starts[b + 1 :] + delta])


def offset_at(text: str, starts: np.ndarray, position: types.Position) -> int:
    """Code-point offset of an LSP position; positions past a line's or the text's end clamp."""
    if position.line < 0:
        return 0
    if position.line >= len(starts):
        return len(text)
    start = int(starts[position.line])
    end = int(starts[position.line + 1]) if position.line + 1 < len(starts) else len(text)
    line = text[start:end].rstrip("\r\n")
    units = 0
    for i, ch in enumerate(line):
        if units >= position.character:
            return start + i
        units += 2 if ord(ch) > 0xFFFF else 1
    return start + len(line)


def position_at(text: str, starts: np.ndarray, offset: int) -> types.Position:
    """LSP position (UTF-16) of a code-point offset."""
    lo = max(int(np.searchsorted(starts, offset, "right")) - 1, 0)
    segment = text[int(starts[lo]) : offset]
    return types.Position(lo, len(segment) + sum(1 for ch in segment if ord(ch) > 0xFFFF))


@dataclass
class Document:
    uri: str
    text: str
    version: int = 0
    pending: list[tuple[int, int, str]] = field(default_factory=list)
    replaced: bool = True  # the stream must be rebuilt from `text`
    stream: TokenStream | None = None
    completer: Any = None  # heed.model.runtime.completer.Completer, once a model is loaded
    active: float = field(default_factory=time.monotonic)  # when the user last opened, edited or asked in it
    lock: threading.Lock = field(default_factory=threading.Lock)
    _starts: np.ndarray | None = None

    @property
    def path(self) -> Path | None:
        """The document's file (for its relative imports); None for an unsaved buffer (`untitled:`)."""
        found = uris.to_fs_path(self.uri) if self.uri.startswith("file:") else None
        return Path(found) if found else None

    def starts(self) -> np.ndarray:
        if self._starts is None:
            self._starts = line_starts(self.text)
        return self._starts

    def offset(self, position: types.Position) -> int:
        return offset_at(self.text, self.starts(), position)

    def position(self, offset: int) -> types.Position:
        return position_at(self.text, self.starts(), offset)

    def apply(self, change: types.TextDocumentContentChangeEvent, version: int) -> None:
        """Apply one LSP change (on the event loop)."""
        with self.lock:
            if isinstance(change, types.TextDocumentContentChangePartial):
                start = self.offset(change.range.start)
                end = max(start, self.offset(change.range.end))
                self.text = self.text[:start] + change.text + self.text[end:]
                self._starts = edited_line_starts(self.starts(), self.text, start, end, len(change.text))
                if not self.replaced:
                    self.pending.append((start, end, change.text))
                    if len(self.pending) > MAX_PENDING_EDITS:
                        self.replaced, self.pending = True, []
            else:
                self.text = change.text
                self._starts = None
                self.replaced, self.pending = True, []
            self.version = version

    def snapshot(self, upto: int | None = None, stop: Callable[[], bool] | None = None
                 ) -> tuple[TokenStream, str, int] | None:
        """The token stream brought up to date, with its text and version (in the model worker).

        A new text is lexed only as far as it is needed: a request reads up to its cursor
        (`upto`), and the background (`stop`) reads the rest and replays the queued edits a
        piece or an edit at a time, returning None when `stop()` turns true before it is done
        (it goes on from there the next time). Without either, all of it."""
        while True:
            with self.lock:
                if self.replaced or self.stream is None:
                    self.stream = TokenStream(self.text, lazily=True)
                    self.pending, self.replaced = [], False
                stream = self.stream
                edit = self.pending.pop(0) if self.pending and (stop is None or stream.complete) else None
                text, version = self.text, self.version
            if stop is not None and not stream.complete:
                if not _read_in_slices(stream, stop):
                    return None
                continue
            if edit is None:
                break
            stream.edit(*edit)  # (a stream not read to its end is read first)
            if stop is not None and stop():
                return None
        stream.read(upto)
        return stream, text, version


def _read_in_slices(stream: TokenStream, stop: Callable[[], bool], slice_s: float = 0.05) -> bool:
    """Read the rest of the stream's text until `stop()`; what it made is kept out of the cyclic
    collector's reach every `slice_s` (`keep_out_of_gc`). Whether it is all read."""
    while True:
        until = time.monotonic() + slice_s
        done = stream.read(stop=lambda until=until: stop() or time.monotonic() > until)
        keep_out_of_gc()
        if done:
            return True
        if stop():
            return False


def keep_out_of_gc() -> None:
    """Move the objects alive now out of the cyclic garbage collector's reach (`gc.freeze`). A
    document's token stream is hundreds of thousands of objects that live while it is open and
    are never cyclic garbage (reference counting frees them when it closes); each full collection
    walked them all again, pausing the server 100-200 ms at a time, five times while a
    50,000-line file was read (bench/big_file_bench.py)."""
    gc.freeze()


def limit_heap_arenas(arenas: int = 2) -> None:
    """Fewer glibc heap arenas (call before threads start): each thread that allocates (the event
    loop, the model worker, torch's) otherwise gets its own, and freed memory stays scattered
    over them. (Over two runs of 20 open files: peak 373-382 MB with it, 377-402 MB without.)"""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL(None).mallopt(-8, arenas)  # M_ARENA_MAX


def release_freed_memory() -> None:
    """Hand freed heap pages back to the system (glibc keeps them otherwise, and the server's
    resident size stays at its high-water mark after a document's model states are dropped)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL(None).malloc_trim(0)


class Documents:
    """Open documents by URI, with the model state of the few used last kept warm."""

    def __init__(self) -> None:
        self.open: dict[str, Document] = {}
        self.recent: OrderedDict[str, None] = OrderedDict()

    def get(self, uri: str) -> Document | None:
        return self.open.get(uri)

    def add(self, uri: str, text: str, version: int) -> Document:
        doc = self.open[uri] = Document(uri, text, version)
        return doc

    def close(self, uri: str) -> None:
        self.open.pop(uri, None)
        self.recent.pop(uri, None)

    def among_active(self, doc: Document) -> bool:
        """Whether `doc` is one of the WARM_DOCUMENTS the user used last: only those are warmed in
        the background, so that warming one never drops the states of one in use."""
        docs = list(self.open.values())  # one step under the GIL: the event loop may be adding one
        return doc in sorted(docs, key=lambda d: d.active)[-WARM_DOCUMENTS:]

    def touch(self, doc: Document) -> None:
        """Mark `doc` as used; forget the model states of documents not used lately."""
        self.recent[doc.uri] = None
        self.recent.move_to_end(doc.uri)
        while len(self.recent) > WARM_DOCUMENTS:
            uri, _ = self.recent.popitem(last=False)
            old = self.open.get(uri)
            if old is not None and old.completer is not None:
                old.completer.forget()
                release_freed_memory()
