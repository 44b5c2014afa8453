"""The project the editor has open, indexed in the model worker's idle time (`model/workspace`).

The index is made at `initialize` from the workspace folders (else `rootUri`, else `rootPath`;
none: no index), with the `heed.index` settings, and built from `initialized` on, whether or not
a model has loaded (it needs none). It is built on the model worker, as the documents are
warmed: an `Engine.when_idle` job runs slices of a few milliseconds until the index is ready, a
request arrives (a request never waits behind more than one slice) or its turn is over (so that
a document's warm-up does not wait for the whole build); then it is scheduled again. The
completers read the index on the same thread, as far as it is built.

Every use of the index happens on the worker. A saved, created, changed or deleted file
(`didSave`, `workspace/didChangeWatchedFiles`) is queued here and handed to `refresh()` by the
next slice. Changing the settings or the workspace folders makes a new index (its cache makes
that cheap); the old one's job sees it is no longer wanted and stops.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls import uris
from pygls.lsp.server import LanguageServer

from heed.model.lookup.modules import SHARED
from heed.model.workspace.index import WorkspaceIndex
from heed.server.engine import Engine
from heed.server.progress import ClientProgress
from heed.server.settings import IndexSettings

log = logging.getLogger(__name__)
JOB = "heed:workspace-index"  # the idle job's key (a document's is its URI)
SLICE_S = 0.005  # the longest a request waits behind the index
TURN_S = 0.25  # then the job makes way for the idle jobs queued behind it (warm-ups), and reports progress
AFTER_CHANGE_S = 0.1  # a saved file is read again this soon (the worker permitting)
CLOSE_TIMEOUT_S = 5.0  # at shutdown, for the slice under way to end
WATCHERS = [types.FileSystemWatcher(glob_pattern="**/*.py")]


def workspace_roots(params: types.InitializeParams) -> list[Path]:
    """The folders to index: the workspace folders, else `rootUri`, else `rootPath`."""
    found = [p for f in params.workspace_folders or [] if (p := folder_path(f.uri))]
    if not found and params.root_uri:
        found = [p for p in [folder_path(params.root_uri)] if p]
    if not found and params.root_path:
        found = [Path(params.root_path)]
    return found


def folder_path(uri: str) -> Path | None:
    path = uris.to_fs_path(uri) if uri.startswith("file:") else None  # not a remote folder (vscode-vfs:)
    return Path(path) if path else None


def indexable(roots: Sequence[Path]) -> list[Path]:
    """The roots worth a walk: folders that exist, not the home folder or the file system's root
    (an editor started outside any project; they hold everything), none inside another."""
    usable: list[Path] = []
    for root in dict.fromkeys(Path(r).absolute() for r in roots):
        if not root.is_dir():
            log.warning("workspace folder %s is not a folder that exists: not indexed", root)
        elif root in (Path.home(), Path(root.anchor)):
            log.warning("workspace folder %s holds more than a project: not indexed", root)
        else:
            usable.append(root)
    return [r for r in usable if not any(r != other and r.is_relative_to(other) for other in usable)]


class Indexer:
    """Owns the server's `WorkspaceIndex`: makes it, builds it in idle time, follows changes, stops it."""

    def __init__(self, server: LanguageServer, engine: Engine):
        self.server, self.engine = server, engine
        self.folders: list[Path] = []  # the client's workspace folders
        self.roots: list[Path] = []  # those indexed
        self.settings = IndexSettings()
        self.index: WorkspaceIndex | None = None
        self.changed: collections.deque[Path] = collections.deque()  # for the worker: read again or forget
        self.progress: ClientProgress | None = None
        self.percent = 0  # the last shown: a walk still finding files must not move the bar back
        self.watching = False  # a file watcher is registered with the client
        self.started = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tasks: set[asyncio.Task] = set()  # keeps the ones in flight from being collected

    # -- making the index (on the event loop) -----------------------------------------------------
    def configure(self, settings: IndexSettings, folders: Sequence[Path] | None = None) -> bool:
        """Make a new index when the settings or the workspace folders changed (`build()` starts
        it); whether it did. `folders`: None keeps the ones given before."""
        if folders is not None:
            self.folders = list(folders)
        roots = indexable(self.folders) if settings.enabled and self.folders else []
        if self.index is not None and roots == self.roots and settings == self.settings:
            return False
        if self.index is None and not roots:
            self.settings = settings
            return False
        self.engine.cancel_idle(JOB)
        if self.progress is not None:
            self.progress.end("stopped")
        self.roots, self.settings = roots, settings
        self.changed.clear()
        self.index = WorkspaceIndex(roots, modules=SHARED, exclude=settings.exclude) if roots else None
        self.progress, self.percent = None, 0
        if self.index is not None:
            log.info("indexing %s", ", ".join(map(str, roots)))
        return True

    def build(self) -> None:
        """Start building the index in the worker's idle time, with a progress bar (after `initialized`)."""
        self.loop = asyncio.get_running_loop()
        if self.index is None:
            return
        self.started = time.monotonic()
        self.progress = ClientProgress(self.server, "heed: indexing")
        self._spawn(self.progress.begin("looking for Python files", 0))
        self._spawn(self.watch_files())
        self._schedule(self.index, 0)

    def file_changed(self, uri: str) -> None:
        """A file was saved, created, changed or deleted: read it again (or forget it) soon."""
        path = folder_path(uri)
        if self.index is None or path is None or self.loop is None:
            return
        self.changed.append(path)
        self._schedule(self.index, AFTER_CHANGE_S)

    async def watch_files(self) -> None:
        """Ask the client to report changes to Python files, where it can; a refusal is only logged."""
        caps = self.server.client_capabilities.workspace
        watched = caps.did_change_watched_files if caps else None
        if self.watching or not (watched and watched.dynamic_registration):
            return
        self.watching = True
        options = types.DidChangeWatchedFilesRegistrationOptions(watchers=WATCHERS)
        registration = types.Registration(id="heed-python-files", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                          register_options=options)
        try:
            await asyncio.wait_for(self.server.client_register_capability_async(
                types.RegistrationParams(registrations=[registration])), 10)
        except Exception as exc:  # didSave still keeps the index current
            log.warning("the client did not watch the Python files for heed (%s: %s)", type(exc).__name__, exc)

    async def close(self) -> None:
        """At shutdown: the build stops after its current slice (each file's cache entry is written
        as the file is read, so nothing is lost), and the process never waits for the rest of it."""
        self.engine.cancel_idle(JOB)
        self.index = None
        try:
            await asyncio.wait_for(self.engine.call(lambda: None), CLOSE_TIMEOUT_S)
        except Exception:  # the worker is stuck in a slice: exit anyway
            log.warning("the workspace index did not stop in %.0f s", CLOSE_TIMEOUT_S)

    async def debug_state(self) -> dict[str, Any]:
        """What the index holds (`heed/debugIndex`, HEED_DEBUG=1 only)."""
        index = self.index
        if index is None:
            return {"enabled": False, "roots": [str(r) for r in self.roots]}

        def read() -> dict[str, Any]:
            stats = index.stats()
            skipped = stats["skipped"]
            assert isinstance(skipped, dict)  # by reason; as pairs, since a reason is not a JSON-RPC client's field name
            stats["skipped"] = [{"reason": reason, "count": n} for reason, n in sorted(skipped.items())]
            return {"enabled": True, "roots": [str(r) for r in index.roots], "ready": index.ready,
                    "stats": stats, "files": sorted(str(p) for p in index.files)}

        return await self.engine.call(read)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _schedule(self, index: WorkspaceIndex, delay: float) -> None:
        if index is self.index:
            self.engine.when_idle(JOB, lambda stop: self._build_slices(index, stop), delay)

    # -- building (on the worker) -----------------------------------------------------------------
    def _build_slices(self, index: WorkspaceIndex, stop: Callable[[], bool]) -> None:
        """Slices of work until the index is ready, a request arrives, the turn is over, or another
        index replaced this one; then, unless it is ready, the job is scheduled again."""
        turn_ends = time.monotonic() + TURN_S
        ready = False
        try:
            while self._current(index) and not stop() and time.monotonic() < turn_ends:
                while self.changed:
                    index.refresh(self.changed.popleft())  # it leaves out what its walk would, forgets what is gone
                ready = index.step(SLICE_S, stop)
                if ready and not self.changed:
                    break
        except Exception:  # a fault in the index must not stop the server; the next change tries again
            log.exception("indexing the workspace failed")
            self._on_loop(self._finished, index, "indexing failed (see the log)", "failed")
            return
        if ready:
            self._on_loop(self._finished, index, f"indexed {len(index.files)} files", self._summary(index))
        elif self._current(index):
            self._on_loop(self._next_turn, index, index.progress())

    def _current(self, index: WorkspaceIndex) -> bool:
        """Whether `index` is still the one wanted (not replaced by new settings, nor shut down)."""
        return index is self.index

    def _summary(self, index: WorkspaceIndex) -> str:
        stats = index.stats()
        skipped = stats.pop("skipped")
        assert isinstance(skipped, dict)
        why = ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items())) or "none"
        rest = "".join(f", {key.replace('_', ' ')} {value}" for key, value in stats.items()
                       if key not in ("files", "tokens", "names"))
        return (f"{stats['files']} files ({stats['tokens']} tokens, {stats['names']} names{rest}) "
                f"in {time.monotonic() - self.started:.1f} s; skipped: {why}")

    def _on_loop(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            assert self.loop is not None
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop has closed (the server is exiting)
            pass

    # -- progress (on the event loop) -------------------------------------------------------------
    def _next_turn(self, index: WorkspaceIndex, read_found: tuple[int, int]) -> None:
        if index is not self.index:
            return
        read, found = read_found
        if self.progress is not None:
            self.percent = max(self.percent, min(99, read * 100 // max(found, 1)))
            self.progress.report(f"{read}/{found} files", self.percent)
        self._schedule(index, 0)

    def _finished(self, index: WorkspaceIndex, message: str, summary: str) -> None:
        """The index is ready (or failed): the bar ends, the log says what it holds and what it skipped."""
        if index is not self.index:
            return
        if self.progress is not None and self.progress.final is None:
            self.progress.end(message)
            log.info("workspace index: %s", summary)
        else:  # a file changed since, and the index is up to date again
            log.debug("workspace index: %s", summary)
