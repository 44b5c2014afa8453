"""The modules the look-up reads (the standard library's, installed packages'), kept on disk, so
that a new session's first `asyncio.` does not parse asyncio's twenty modules again (67 ms).

One small JSON file per module under the user's cache directory (`modules/`), named by a hash of
its path, holding what `lookup/module_source.py` collected from it before the look-up resolves
its `from m import *` (those depend on other modules, read each time). An entry is used only for
the same path, size and modification time; one that cannot be read, is not JSON, or comes from
another version is read again from the source. Writes go through a temporary file; a read-only
or full disk leaves the look-up working without its cache.
"""

from __future__ import annotations

import json
import logging
import os
import site
import sysconfig
from pathlib import Path

from heed.model.lookup.module_source import Module
from heed.model.workspace.cache import _hash, user_cache_dir, write_whole
from heed.model.workspace.summary import module_from_json, module_to_json

log = logging.getLogger(__name__)
FORMAT = "heed-modules-5"  # 2: attribute types from stored parameters (`self.x = x`); 3, 4: parameters; 5: subscripted bases


def _installed_roots() -> tuple[str, ...]:
    """Where installed modules live: the standard library and the site-packages folders."""
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    roots.add(site.getusersitepackages())
    return tuple(os.path.join(os.path.realpath(r), "") for r in roots if r)


class ModuleCache:
    def __init__(self, folder: Path | None = None, roots: tuple[str, ...] | None = None):
        self.folder = folder or user_cache_dir() / "modules"
        self.failed = False  # a write failed: logged once, then no more tries
        # Only installed modules: a project's files change, come and go (and the workspace
        # index reads them), and entries for them would pile up.
        self.roots = _installed_roots() if roots is None else roots

    def holds(self, path: Path) -> bool:
        return os.path.realpath(path).startswith(self.roots)

    def _entry(self, path: Path) -> Path:
        return self.folder / f"{_hash(path)}.json"

    def load(self, path: Path, size: int, mtime_ns: int) -> Module | None:
        if not self.holds(path):
            return None
        try:
            raw = json.loads(self._entry(path).read_text(encoding="utf-8"))
            if raw["format"] != FORMAT or raw["path"] != str(path) or raw["size"] != size or raw["mtime_ns"] != mtime_ns:
                return None
            return module_from_json(raw["module"])
        except (OSError, ValueError, RecursionError, KeyError, TypeError, AttributeError, IndexError):
            return None

    def save(self, path: Path, size: int, mtime_ns: int, module: Module) -> None:
        if self.failed or not self.holds(path):
            return
        payload = json.dumps({"format": FORMAT, "path": str(path), "size": size, "mtime_ns": mtime_ns,
                              "module": module_to_json(module)}, separators=(",", ":"))
        try:
            write_whole(self._entry(path), payload)
        except OSError as exc:
            self.failed = True
            log.warning("the module cache could not be written to %s (%s): modules are read from source each session",
                        self.folder, exc)
