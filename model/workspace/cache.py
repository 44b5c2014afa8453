"""The workspace index on disk, so that a restart does not read the project again.

One folder per workspace folder under the user's cache directory (`$HEED_CACHE` or
`~/.cache/heed`, then `index/`), named by a hash of the folder's path, and in it one small JSON
file per source file, named by a hash of its path: the index loads and writes them one at a
time, in its slices, never the whole project at once. Each summary is kept with the size and
modification time its file was read at; one whose file has changed since, that cannot be read,
is not JSON or is from another version of the index is read again from the source (and the
count is logged). Writes go to a temporary file first, so that a crash never leaves half an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from heed.model.text.vocab import TOKENIZER_VERSION
from heed.model.workspace.summary import FileSummary

FORMAT = f"heed-index-6/{TOKENIZER_VERSION}"  # 3: attribute types from stored parameters; 4, 5: parameters; 6: subscripted bases


def user_cache_dir() -> Path:
    """heed's cache folder: `$HEED_CACHE`, else `~/.cache/heed`."""
    return Path(os.environ.get("HEED_CACHE") or Path.home() / ".cache" / "heed")  # set but empty: not the working folder


def write_whole(target: Path, payload: str) -> None:
    """Write `payload` to `target` through a temporary file beside it: a crash or a full disk never
    leaves half an entry (OSError when it cannot be written)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(payload)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def adapted_dir(workspace: Path) -> Path:
    """Where `heed adapt` writes the model adapted to a workspace (and the server finds it)."""
    return user_cache_dir() / "adapted" / _hash(workspace.resolve())


def _hash(path: Path) -> str:
    return hashlib.sha1(str(path).encode("utf-8", "surrogatepass")).hexdigest()[:20]


class IndexCache:
    def __init__(self, root: Path, folder: Path | None = None):
        self.root = root
        self.folder = (folder or user_cache_dir() / "index") / _hash(root.resolve())
        self.dropped = 0  # entries that could not be used (corrupt, another version): read again
        self.failed = ""  # why the last write failed ("" if it did not)

    def entry(self, path: Path) -> Path:
        return self.folder / f"{_hash(path)}.json"

    def load(self, path: Path, size: int, mtime_ns: int) -> FileSummary | None:
        """The summary saved for the file at `path` if it was read at this size and time."""
        try:
            raw = json.loads(self.entry(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested past the parser's limit
            self.dropped += 1
            return None
        try:
            if raw["format"] != FORMAT:
                self.dropped += 1
                return None
            summary = FileSummary.from_json(raw["summary"])
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError):
            self.dropped += 1
            return None
        fresh = summary.path == path and summary.size == size and summary.mtime_ns == mtime_ns
        return summary if fresh else None

    def save(self, summary: FileSummary) -> bool:
        """Write one file's summary; False (with `failed` saying why) on a read-only or full disk:
        the index works without its cache."""
        payload = json.dumps({"format": FORMAT, "summary": summary.to_json()}, separators=(",", ":"))
        try:
            write_whole(self.entry(summary.path), payload)
        except OSError as exc:
            self.failed = f"the index cache could not be written to {self.folder}: {exc}"
            return False
        return True

    def prune(self, keep: set[Path]) -> None:
        """Remove the entries of files no longer in the workspace (and leftover temporary files)."""
        wanted = {self.entry(p).name for p in keep}
        try:
            for e in os.scandir(self.folder):
                if e.name not in wanted:
                    Path(e.path).unlink(missing_ok=True)
        except OSError:
            pass
