"""Near-duplicate files across splits: a vendored copy of a training file (setuptools'
`_distutils`, a `_vendor` folder) must not be scored as held-out code.

A file's fingerprint is a MinHash of the set of its 3-line shingles (lines stripped, blank and
comment-only lines dropped), so copies that differ by formatting, a header or a few edits still
match. Candidate pairs come from locality-sensitive hashing over bands of the fingerprint, and
a pair counts when the estimated Jaccard similarity of the two sets is at least THRESHOLD.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

HASHES = 64  # MinHash values per fingerprint
BANDS = 16  # ... in bands of HASHES // BANDS rows for the look-up
THRESHOLD = 0.7  # estimated Jaccard similarity from which two files are near-duplicates
SHINGLE = 3  # lines per shingle
_rng = np.random.default_rng(20261205)
_A = _rng.integers(0, 2**63, HASHES, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd: a bijection mod 2**64
_B = _rng.integers(0, 2**63, HASHES, dtype=np.uint64)


def fingerprint(text: str) -> np.ndarray | None:
    """The file's MinHash [HASHES] (uint64); None for a file too short to say anything."""
    lines = [s for line in text.splitlines() if (s := " ".join(line.split())) and not s.startswith("#")]
    if len(lines) < SHINGLE + 2:
        return None
    shingles = {"\n".join(lines[i : i + SHINGLE]) for i in range(len(lines) - SHINGLE + 1)}
    values = np.array([int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") for s in shingles],
                      np.uint64)
    with np.errstate(over="ignore"):  # (a * x + b) mod 2**64: each (a, b) permutes the 64-bit values
        return (_A[:, None] * values[None] + _B[:, None]).min(axis=1)


def file_fingerprint(path: Path) -> np.ndarray | None:
    try:
        return fingerprint(path.read_bytes().decode("utf-8", errors="replace"))
    except OSError:
        return None


def near_duplicates(candidates: list[np.ndarray | None], reference: Iterable[np.ndarray | None]) -> set[int]:
    """Indices of the `candidates` that nearly duplicate some fingerprint of `reference`."""
    rows = HASHES // BANDS
    buckets: dict[tuple[int, bytes], list[np.ndarray]] = {}
    for ref in reference:
        if ref is not None:
            for band in range(BANDS):
                buckets.setdefault((band, ref[band * rows : (band + 1) * rows].tobytes()), []).append(ref)
    found = set()
    for i, fp in enumerate(candidates):
        if fp is None:
            continue
        for band in range(BANDS):
            others = buckets.get((band, fp[band * rows : (band + 1) * rows].tobytes()), ())
            if any(float((fp == other).mean()) >= THRESHOLD for other in others):
                found.add(i)
                break
    return found
