"""The scores `heed eval` and the benchmarks report: ranks tallied as top-1, top-5 and MRR, and
the edit similarity of two lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MRR_CUTOFF = 10
CATEGORIES = ("all", "identifier", "attribute")


@dataclass
class Tally:
    n: int = 0
    top1: int = 0
    top5: int = 0
    rr: float = 0.0

    def add(self, ranks: np.ndarray) -> None:
        """`ranks`: 1-based rank of the truth per position (0: not ranked at all)."""
        self.n += len(ranks)
        self.top1 += int((ranks == 1).sum())
        self.top5 += int(((ranks >= 1) & (ranks <= 5)).sum())
        ok = (ranks >= 1) & (ranks <= MRR_CUTOFF)
        self.rr += float((1.0 / ranks[ok]).sum())

    def report(self) -> dict[str, float]:
        n = max(self.n, 1)
        return {"top1": self.top1 / n, "top5": self.top5 / n, "mrr": self.rr / n, "n": self.n}


@dataclass
class Results:
    model: dict[str, Tally] = field(default_factory=lambda: {c: Tally() for c in CATEGORIES})
    unigram: dict[str, Tally] = field(default_factory=lambda: {c: Tally() for c in CATEGORIES})
    cache: dict[str, Tally] = field(default_factory=lambda: {c: Tally() for c in CATEGORIES})
    pointer_hits: int = 0
    line: dict[str, float] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {c: self.model[c].report() for c in CATEGORIES}
        hits = self.model["all"].top1
        out["pointer_share"] = self.pointer_hits / max(hits, 1)
        out["baselines"] = {
            "unigram": {c: self.unigram[c].report() for c in CATEGORIES},
            "cache": {c: self.cache[c].report() for c in CATEGORIES},
        }
        out["line"] = self.line
        return out


def levenshtein(a: str, b: str) -> int:
    """Edits (insertions, deletions, substitutions) between two strings, in one row of memory."""
    if len(a) < len(b):
        a, b = b, a
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[len(b)]


def similarity(a: str, b: str) -> float:
    """1 - Levenshtein / the longer length (1 for two empty strings)."""
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - levenshtein(a, b) / longest


def accepts(expected: str, shown: str) -> bool:
    """Whether a user about to type `expected` would accept all of `shown`: `expected` starts with
    it, and it does not end inside a name (`x` is not the start of `xs`)."""
    if not shown or not expected.startswith(shown):
        return False
    rest = expected[len(shown) :]
    return not (rest and (rest[0].isalnum() or rest[0] == "_") and (shown[-1].isalnum() or shown[-1] == "_"))


def accepted_chars(expected: str, shown: str) -> int:
    """How many characters of `shown` a user about to type `expected` would accept, word by word:
    the common start of both."""
    n = 0
    for a, b in zip(expected, shown):
        if a != b:
            break
        n += 1
    return n
