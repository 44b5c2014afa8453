"""Open documents: their text, the token stream and the model state kept beside it.

The event loop applies each edit to the text at once (cheap: the text is kept as its lines,
`lines.py`, where LSP's UTF-16 positions become code points). The token stream is brought up to
date by the model worker when a request needs it, replaying the edits queued since, so a burst
of typing is tokenized once; a new text is read in slices (`snapshot`).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls import uris

from heed.model.runtime.cancel import RequestCancelled
from heed.model.text.stream import TokenStream
from heed.server.lines import Lines

MAX_PENDING_EDITS = 200  # beyond this, re-tokenizing the whole text is cheaper
WARM_DOCUMENTS = 4  # documents whose model states are kept; others are recomputed on demand


class Document:
    def __init__(self, uri: str, text: str, version: int = 0):
        self.uri = uri
        self.lines = Lines(text)
        self.version = version
        self.pending: list[tuple[int, int, str]] = []
        self.replaced = True  # the stream must be rebuilt from the text
        self.stream: TokenStream | None = None
        self.completer: Any = None  # heed.model.runtime.completer.Completer, once a model is loaded
        self.active = time.monotonic()  # when the user last opened, edited or asked in it
        self.lock = threading.Lock()

    @property
    def text(self) -> str:
        return self.lines.text

    @property
    def path(self) -> Path | None:
        """The document's file (for its relative imports); None for an unsaved buffer (`untitled:`)."""
        found = uris.to_fs_path(self.uri) if self.uri.startswith("file:") else None
        return Path(found) if found else None

    def offset(self, position: types.Position) -> int:
        return self.lines.offset(position)

    def position(self, offset: int) -> types.Position:
        return self.lines.position(offset)

    def apply(self, change: types.TextDocumentContentChangeEvent, version: int) -> None:
        """Apply one LSP change (on the event loop)."""
        with self.lock:
            if isinstance(change, types.TextDocumentContentChangePartial):
                start = self.offset(change.range.start)
                end = max(start, self.offset(change.range.end))
                self.lines.replace(start, end, change.text)
                if not self.replaced:
                    self.pending.append((start, end, change.text))
                    if len(self.pending) > MAX_PENDING_EDITS:
                        self.replaced, self.pending = True, []
            else:
                self.lines = Lines(change.text)
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
                if edit is None:
                    text, version = self.text, self.version  # (joined once the edits are all in)
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

    def snapshot_at(self, version: int, upto: int) -> tuple[TokenStream, str]:
        """The token stream (read up to `upto`) and text for a request made at `version`. Where an
        edit came in between (the editor sends them while a request waits for the worker), the
        request is moot and its offset may no longer be in the text: RequestCancelled, as the
        engine's own check would have raised a moment later."""
        found = self.snapshot(upto=upto)
        assert found is not None  # (only a background read stops early)
        stream, text, now = found
        if now != version:
            raise RequestCancelled
        return stream, text


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
    loop, the model worker, OpenBLAS's) otherwise gets its own, and freed memory stays scattered
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
