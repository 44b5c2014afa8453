"""Workspace index benchmark: building a project's index, and what it costs to keep.

    python bench/index_bench.py PROJECT [PROJECT ...] [--slice 0.005]

For each project, from nothing (no cache) and again from the cache a restart finds: the wall
time of the build as the server runs it (`WorkspaceIndex.step` slices of `--slice` seconds),
the longest slice (what a request can wait behind), the memory the index holds (traced Python
allocations after the build, and the peak during it), and what it found. Peer: jedi has no
index to build (it reads modules when asked), so there is no ratio; the issue's targets are
absolute: <= 60 s and <= 50 MB for a 50,000-line project on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

from heed.model.lookup.modules import ModuleIndex
from heed.model.workspace.index import WorkspaceIndex


def build(root: Path, cache: Path, slice_s: float, traced: bool) -> dict[str, float]:
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    index = WorkspaceIndex([root], ModuleIndex([]), cache_folder=cache)
    longest = 0.0
    while True:
        t = time.perf_counter()
        done = index.step(slice_s)
        longest = max(longest, time.perf_counter() - t)
        if done:
            break
    seconds = time.perf_counter() - started
    held, peak = tracemalloc.get_traced_memory() if traced else (0, 0)
    tracemalloc.stop()
    stats = index.stats()
    lines = sum(p.read_bytes().count(b"\n") for p in index.files)
    return {"seconds": seconds, "longest_slice_ms": longest * 1e3, "held_mb": held / 1e6, "peak_mb": peak / 1e6,
            "files": float(stats["files"]), "lines": float(lines), "tokens": float(stats["tokens"]),  # type: ignore[arg-type]
            "names": float(stats["names"])}  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("projects", nargs="+", type=Path)
    parser.add_argument("--slice", type=float, default=0.005, help="seconds of work per step, as the server runs it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        for root in args.projects:
            for when in ("from nothing", "from the cache"):
                r = build(root, Path(cache) / "timed", args.slice, traced=False)  # timed without tracing, which slows Python ~5x
                if when == "from nothing":  # the memory held is the same either way
                    memory = build(root, Path(cache) / "traced", args.slice, traced=True)
                r["held_mb"], r["peak_mb"] = memory["held_mb"], memory["peak_mb"]
                print(f"{root.name:12} {when:15} {r['lines']:8.0f} lines {r['files']:5.0f} files {r['tokens']:8.0f} tokens "
                      f"{r['names']:6.0f} names: {r['seconds']:6.2f} s, longest slice {r['longest_slice_ms']:5.1f} ms, "
                      f"held {r['held_mb']:5.1f} MB (peak {r['peak_mb']:5.1f} MB, traced Python allocations)")


if __name__ == "__main__":
    main()
