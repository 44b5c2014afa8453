"""The workspace index: the project's files read in slices, and what they say.

`WorkspaceIndex.step(budget)` does at most `budget` seconds of work (walking folders, reading
and summarizing files, rebuilding the n-grams) and returns, so that the server can run it in
its worker's idle time and a request never waits behind more than one slice. What it gives:
- the project's modules to the module look-up (`ModuleIndex.adopt`), so that a receiver's class
  is found anywhere in the project without parsing it during a request;
- the project's names, for the popup at a name's start (`names`), each with its kind and where
  it is defined;
- the project's n-grams (`ngrams`).
`leave_out` (`heed eval`) hides one file from all three: the file under evaluation.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heed.model.lookup.modules import ModuleIndex
from heed.model.workspace.cache import IndexCache
from heed.model.workspace.files import MAX_FILES, in_project, paced_python_files, readable_source
from heed.model.workspace.ngrams import ProjectNgrams
from heed.model.workspace.summary import FileSummary, Reader

log = logging.getLogger(__name__)
NAME_KINDS = {"class": "class", "function": "function", "variable": "variable"}  # what the popup offers


@dataclass(frozen=True)
class ProjectName:
    name: str
    kind: str  # class, function, variable
    module: str  # dotted, as the project imports it
    path: Path
    line: int


class WorkspaceIndex:
    def __init__(self, roots: Sequence[Path], modules: ModuleIndex | None = None, exclude: Sequence[str] = (),
                 cache_folder: Path | None = None, use_cache: bool = True, max_files: int = MAX_FILES):
        self.roots = [Path(r) for r in roots]
        self.modules = modules
        self.exclude = list(exclude)
        self.max_files = max_files
        self.caches = {r: IndexCache(r, cache_folder) for r in self.roots} if use_cache else {}
        self.files: dict[Path, FileSummary] = {}
        self.skipped: Counter[str] = Counter()
        self.leave_out: Path | None = None
        self._walks: Iterator[Path | None] | None = None
        self._todo: list[Path] = []
        self._reading: Reader | None = None  # a file part read
        self._found: set[Path] = set()
        self._walked = False
        self._dirty = True  # names and n-grams to rebuild
        self._names: list[ProjectName] = []
        self._sorted_names: list[str] = []
        self._ngrams: ProjectNgrams | None = None
        self._numbers: dict[Path, np.ndarray] = {}  # each file's tokens as key numbers
        self.key_ids: dict[str, int] = {}
        self.key_texts: list[str] = []

    # -- building ---------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Everything found has been read, and the names and n-grams are up to date."""
        return self._walked and not self._todo and self._reading is None and not self._dirty

    def progress(self) -> tuple[int, int]:
        """(files read, files found so far)."""
        return len(self.files), len(self.files) + len(self._todo) + (self._reading is not None)

    def step(self, budget_s: float = 0.01, stop: Callable[[], bool] | None = None) -> bool:
        """Work for at most about `budget_s` seconds (or until `stop()`); True once the index is ready."""
        deadline = time.monotonic() + budget_s
        if self._walks is None and not self._walked:
            self._start()
        while not (stop and stop()):  # at least one unit of work (a few lines of a file), however small the budget
            if self._reading is not None:
                self._read_some(deadline)
            elif self._todo:
                self._read(self._todo.pop(), deadline)
            elif not self._walked:
                self._walk_some(deadline)
            elif self._dirty:
                self._rebuild()
            else:
                return True
            if time.monotonic() >= deadline:
                break
        return self.ready

    def build(self) -> WorkspaceIndex:
        """The whole index at once (the command line, `heed eval`)."""
        while not self.step(1.0):
            pass
        return self

    def refresh(self, path: Path) -> None:
        """`path` (a file or a folder) was saved, created, changed or deleted: read it again, or
        forget it and what was under it, soon. A file the walk would leave out (`.gitignore`, the
        exclusions, a virtual environment) stays out."""
        path = Path(path)
        if not path.exists():
            for known in [p for p in self.files if p == path or p.is_relative_to(path)]:
                self._drop(known)
            return
        if path.is_file() and any(in_project(r, path, self.exclude) for r in self.roots) and path not in self._todo:
            self._todo.append(path)

    def _start(self) -> None:
        self._walks = (p for r in self.roots for p in paced_python_files(r, self.exclude, self.skipped, self.max_files))

    def _walk_some(self, deadline: float) -> None:
        assert self._walks is not None
        for path in self._walks:
            if path is None:  # a folder looked in: a place to check the clock
                if time.monotonic() >= deadline:
                    return
                continue
            self._found.add(path)
            self._todo.append(path)
            if time.monotonic() >= deadline:
                return
        self._walked = True
        self._todo.reverse()  # read in the walk's order
        for path in self.files.keys() - self._found:  # gone while the walk ran (a refresh removes the rest)
            self._drop(path)
        for root, cache in self.caches.items():
            cache.prune({p for p in self._found if p.is_relative_to(root)})

    def _read(self, path: Path, deadline: float) -> None:
        try:
            stat = path.stat()
        except OSError:
            self._drop(path)
            return
        known = self.files.get(path)
        if known is not None and known.size == stat.st_size and known.mtime_ns == stat.st_mtime_ns:
            return
        cache = self._cache_of(path)
        saved = cache.load(path, stat.st_size, stat.st_mtime_ns) if cache is not None else None
        if saved is not None:
            self._take(saved)
            return
        text, why = readable_source(path)
        if text is None:
            self.skipped[why] += 1
            self._drop(path)
            return
        self._reading = Reader(path, text, dotted_name(path), stat.st_size, stat.st_mtime_ns)
        self._read_some(deadline)

    def _read_some(self, deadline: float) -> None:
        assert self._reading is not None
        summary = self._reading.advance(deadline)
        if summary is not None:
            self._reading = None
            self._take(summary)
            cache = self._cache_of(summary.path)
            if cache is not None and not cache.save(summary) and cache.failed:
                log.warning("%s", cache.failed)
                cache.failed = ""
                self.caches.pop(cache.root, None)  # no use trying each file: the index works without it

    def _cache_of(self, path: Path) -> IndexCache | None:
        return next((c for r, c in self.caches.items() if path.is_relative_to(r)), None)

    def _drop(self, path: Path) -> bool:
        """Forget a file that is gone or no longer readable; whether it was known."""
        self._numbers.pop(path, None)
        if self.modules is not None:
            self.modules.forget(path)
        if self.files.pop(path, None) is None:
            return False
        self._dirty = True
        return True

    def _take(self, summary: FileSummary) -> None:
        if self.files.get(summary.path) is not summary:
            self._numbers[summary.path] = np.fromiter(map(self._key_id, summary.keys), np.int32, len(summary.keys))
        self.files[summary.path] = summary
        if self.modules is not None and summary.module is not None:
            self.modules.adopt(summary.path, summary.mtime_ns, summary.module)
        self._dirty = True

    def _rebuild(self) -> None:
        """The names and the n-grams, from the summaries (a few tens of ms for 50,000 lines)."""
        names = []
        parts: list[np.ndarray] = []
        spans: dict[str, tuple[int, int]] = {}
        at = 0
        for path, s in self.files.items():
            if s.module is not None:
                for name, kind in s.module.names.items():
                    if kind in NAME_KINDS and name not in s.module.refs:
                        names.append(ProjectName(name, NAME_KINDS[kind], s.module.name, path, s.lines.get(name, 0)))
            ids = self._numbers[path]
            parts.append(np.append(ids, np.int32(-1)))
            spans[str(path)] = (at, at + len(ids))
            at += len(ids) + 1
        names.sort(key=lambda n: (n.name, str(n.path)))
        self._names, self._sorted_names = names, [n.name for n in names]
        self._ngrams = ProjectNgrams(np.concatenate(parts) if parts else np.zeros(0, np.int32), self.key_texts, spans)
        self._dirty = False

    def _key_id(self, key: str) -> int:
        found = self.key_ids.get(key)
        if found is None:
            found = self.key_ids[key] = len(self.key_texts)
            self.key_texts.append(key)
        return found

    # -- answering --------------------------------------------------------------------------------
    def holds(self, path: Path) -> bool:
        """Whether `path` lies in one of the index's folders (as given, or both resolved)."""
        if any(path.is_relative_to(r) for r in self.roots):
            return True
        try:
            real = path.resolve()
            return any(real.is_relative_to(r.resolve()) for r in self.roots)
        except (OSError, RuntimeError):
            return False

    def names(self, prefix: str, limit: int = 200) -> list[ProjectName]:
        """The project's top-level names that start with `prefix` (not the left-out file's)."""
        lo = bisect.bisect_left(self._sorted_names, prefix)
        out: list[ProjectName] = []
        for n in self._names[lo:]:
            if not n.name.startswith(prefix) or len(out) >= limit:
                break
            if n.path != self.leave_out:
                out.append(n)
        return out

    @property
    def ngrams(self) -> ProjectNgrams | None:
        return self._ngrams

    def key_numbers(self, keys: Sequence[str]) -> list[int]:
        """The n-grams' numbers of token keys (-1: a key the project never has)."""
        return [self.key_ids.get(k, -1) for k in keys]

    def stats(self) -> dict[str, object]:
        return {"files": len(self.files), "tokens": len(self._ngrams) if self._ngrams is not None else 0,
                "names": len(self._names), "skipped": dict(self.skipped),
                "cache_entries_dropped": sum(c.dropped for c in self.caches.values())}


def dotted_name(path: Path) -> str:
    """The module a file is, as its project imports it: `pkg/sub/mod.py` -> `pkg.sub.mod`."""
    parts = [] if path.stem == "__init__" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.append(folder.name)
        folder = folder.parent
    return ".".join(parts[::-1]) or path.stem
