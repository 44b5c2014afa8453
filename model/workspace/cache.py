"""The workspace index on disk, so that a restart does not read the project again.

One JSON file per workspace folder under the user's cache directory (`$HEED_CACHE` or
`~/.cache/heed`, then `index/`), named by a hash of the folder's path. Each file's summary is
kept with the size and modification time it was read at; on load, a summary whose file has
changed since is read again. A cache that cannot be read, is not JSON, or is from another
version of the index is dropped (the index is rebuilt, and the log says so); writes go to a
temporary file first, so that a crash never leaves half a cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

from heed.model.text.vocab import TOKENIZER_VERSION
from heed.model.workspace.summary import FileSummary

log = logging.getLogger(__name__)
FORMAT = f"heed-index-1/{TOKENIZER_VERSION}"


def user_cache_dir() -> Path:
    """heed's cache folder: `$HEED_CACHE`, else `~/.cache/heed`."""
    return Path(os.environ.get("HEED_CACHE", Path.home() / ".cache" / "heed"))


class IndexCache:
    def __init__(self, root: Path, folder: Path | None = None):
        self.root = root
        key = hashlib.sha1(str(root.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:16]
        self.path = (folder or user_cache_dir() / "index") / f"{key}.json"

    def load(self) -> tuple[dict[Path, FileSummary], str]:
        """(the summaries saved, by path; "" or why the cache was dropped)."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}, ""
        except (OSError, ValueError) as exc:
            return {}, f"the index cache {self.path} could not be read ({type(exc).__name__}); it is rebuilt"
        if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.get("root") != str(self.root):
            return {}, f"the index cache {self.path} is from another version; it is rebuilt"
        out: dict[Path, FileSummary] = {}
        bad = 0
        for item in raw.get("files", []):
            try:
                summary = FileSummary.from_json(item)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError):
                bad += 1
                continue
            out[summary.path] = summary
        return out, f"{bad} malformed entries in the index cache {self.path} are read again" if bad else ""

    def save(self, summaries: list[FileSummary]) -> str:
        """Write the summaries; "" or why it could not (a read-only or full disk: the index still works)."""
        payload = {"format": FORMAT, "root": str(self.root), "files": [s.to_json() for s in summaries]}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.stem, suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(json.dumps(payload, separators=(",", ":")))  # dumps: the C encoder, 10x json.dump
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            return f"the index cache could not be written to {self.path}: {exc}"
        return ""
