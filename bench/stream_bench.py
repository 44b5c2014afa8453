"""Token stream benchmark: throughput over the standard library, and the cost of one keystroke.

    python bench/stream_bench.py [--files N] [--edits N]

1. Throughput (MB/s) of the full token stream (lexer + libcst roles) over the standard library,
   in one process and on all cores, with libcst's own parse alone beside it for scale.
2. Latency of updating the stream after a one-character edit in a 3,000-line file, incremental
   (`TokenStream.edit`) next to re-tokenizing from scratch: p50/p95 over characters typed at
   random places (and deleted again).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import sysconfig
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import libcst

from heed.model.text.stream import TokenStream


def stdlib_files(limit: int) -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    random.Random(0).shuffle(files)
    return files[:limit] if limit else files


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def _stream_one(path: Path) -> int:
    text = _read(path)
    if text is None:
        return 0
    TokenStream(text)
    return len(text.encode())


def _libcst_one(path: Path) -> int:
    text = _read(path)
    if text is None:
        return 0
    with contextlib.suppress(Exception):
        libcst.parse_module(text)
    return len(text.encode())


def throughput(files: list[Path], fn, jobs: int) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    if jobs == 1:
        total = sum(map(fn, files))
    else:
        with ProcessPoolExecutor(jobs) as pool:
            total = sum(pool.map(fn, files, chunksize=4))
    return total / 1e6 / (time.perf_counter() - t0)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def edit_latency(n_edits: int) -> dict[str, float]:
    """One-character edits at random places of a 3,000+ line file."""
    root = Path(sysconfig.get_paths()["stdlib"])
    text = (root / "argparse.py").read_text()  # about 2,600 lines: doubled, cut at 3,000
    text = "\n".join((text + "\n\n" + text.replace("class ", "class Copy")).split("\n")[:3000])
    lines = text.count("\n") + 1
    stream = TokenStream(text)
    rng = random.Random(1)
    incremental = []
    # Each edit types one character somewhere and the next one deletes it again, so the file
    # stays the file it was (random edits would soon leave a bracket open over the whole rest).
    for _ in range(n_edits // 2):
        at = rng.randrange(len(stream.text))
        for start, end, new in ((at, at, rng.choice("abcxyz_., =")), (at, at + 1, "")):
            t0 = time.perf_counter()
            stream.edit(start, end, new)
            incremental.append((time.perf_counter() - t0) * 1e3)
    scratch = []
    for _ in range(5):
        t0 = time.perf_counter()
        TokenStream(stream.text)
        scratch.append((time.perf_counter() - t0) * 1e3)
    return {
        "lines": lines,
        "p50": percentile(incremental, 0.5),
        "p95": percentile(incremental, 0.95),
        "max": max(incremental),
        "scratch": statistics.median(scratch),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=0, help="standard-library files (0: all)")
    parser.add_argument("--edits", type=int, default=300)
    args = parser.parse_args()
    files = stdlib_files(args.files)
    size = sum(p.stat().st_size for p in files) / 1e6
    cores = os.cpu_count() or 1
    print(f"standard library: {len(files)} files, {size:.1f} MB, python {sys.version.split()[0]}, {cores} cores")
    one = throughput(files, _stream_one, 1)
    every = throughput(files, _stream_one, cores)
    cst = throughput(files, _libcst_one, 1)
    print(f"token stream, 1 process:      {one:6.2f} MB/s")
    print(f"token stream, {cores} processes:    {every:6.2f} MB/s")
    print(f"libcst parse alone, 1 process: {cst:6.2f} MB/s   (stream/libcst: {one / cst:.2f}x)")
    lat = edit_latency(args.edits)
    print(f"one-character edit in a {lat['lines']}-line file: p50 {lat['p50']:.2f} ms, p95 {lat['p95']:.2f} ms, "
          f"max {lat['max']:.1f} ms; from scratch {lat['scratch']:.0f} ms ({lat['scratch'] / lat['p50']:.0f}x the p50)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
