"""The project's n-grams: what followed the last one to four tokens in the project's other files.

A document's own n-grams (`runtime/ngram.py`) know what this file repeats; a project repeats
itself across files too: its import lines, its call patterns, its idioms. All the project's
tokens are kept as one array of key numbers (files end to end, -1 between them), grouped by
token once, so that a look-up is a few binary searches whatever the project's size. Files are
given as spans, so that one of them (the file being evaluated by `heed eval`) can be left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

ORDER = 4  # longest context matched, in tokens
MAX_MATCHES = 5_000  # occurrences of a context weighed (the most recent ones, in file order)
TOP = 64  # continuations kept (the most likely; the rest share a few per cent at most)
CACHED = 4_096  # contexts remembered: beam search asks the same ones for each hypothesis


@dataclass
class Continuations:
    """What followed the longest context that occurred in the project."""

    keys: list[str]  # next token keys
    probs: np.ndarray  # their probabilities (summing to 1), weighing longer contexts more
    longest: int  # tokens in the longest matching context (0: none)
    seen: int  # how often that context occurred


class ProjectNgrams:
    def __init__(self, tokens: np.ndarray, texts: Sequence[str], spans: dict[str, tuple[int, int]]):
        self.tokens = np.asarray(tokens, np.int32)  # key numbers, -1 between files
        self.texts = texts  # key number -> key
        self.spans = spans  # file path -> (start, end) in `tokens`
        self.by_token = np.argsort(self.tokens, kind="stable").astype(np.int32)
        self.sorted = self.tokens[self.by_token]
        self._cache: dict[tuple[tuple[int, ...], str | None, float], Continuations] = {}

    def __len__(self) -> int:
        return int((self.tokens >= 0).sum())

    def nbytes(self) -> int:
        return self.tokens.nbytes + self.by_token.nbytes + self.sorted.nbytes

    def continuations(self, context: Sequence[int], leave_out: str | None = None, order_weight: float = 3.0) -> Continuations:
        """What followed `context` (key numbers, oldest first; -1: a key the project never has):
        the TOP most likely next keys."""
        key = (tuple(context[-ORDER:]), leave_out, order_weight)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= CACHED:
                self._cache.clear()
            found = self._cache[key] = self._continuations(list(key[0]), leave_out, order_weight)
        return found

    def _continuations(self, context: list[int], leave_out: str | None, order_weight: float) -> Continuations:
        if not context or context[-1] < 0:
            return Continuations([], np.zeros(0), 0, 0)
        lo, hi = np.searchsorted(self.sorted, context[-1], "left"), np.searchsorted(self.sorted, context[-1], "right")
        matches = self.by_token[lo:hi].astype(np.int64)
        matches = matches[matches + 1 < len(self.tokens)]
        if leave_out is not None and leave_out in self.spans:
            a, b = self.spans[leave_out]
            matches = matches[(matches < a) | (matches >= b)]
        parts, weights, longest, seen = [], [], 0, 0
        for n, found in longer_contexts(self.tokens, context, matches):
            nexts = self.tokens[found[-MAX_MATCHES:] + 1]
            nexts = nexts[nexts >= 0]
            if not len(nexts):
                break
            parts.append(nexts)
            weights.append(order_weight ** (n - 1))
            longest, seen = n, len(found)
        if not parts:
            return Continuations([], np.zeros(0), 0, 0)
        cands, _, probs = weigh(parts, weights)
        if len(cands) > TOP:
            keep = np.argpartition(-probs, TOP)[:TOP]
            cands, probs = cands[keep], probs[keep] / probs[keep].sum()
        return Continuations([self.texts[int(c)] for c in cands], probs, longest, seen)


def longer_contexts(tokens: np.ndarray, context: Sequence[int], matches: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(n, the positions where the last n tokens of `context` end) for n = 1, 2, ... while they
    occur in `tokens`: `matches` (where its last token does), narrowed one token further back each
    time. A -1 in the context (a token `tokens` never has) ends it. The document's n-grams
    (`runtime/ngram.py`) and the project's both read their contexts this way."""
    for n in range(1, len(context) + 1):
        if n > 1:
            if context[-n] < 0:
                return
            before = matches - (n - 1)
            ok = before >= 0
            matches = matches[ok][tokens[before[ok]] == context[-n]]
        if not len(matches):
            return
        yield n, matches


def weigh(parts: list[np.ndarray], weights: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(candidates, each entry of `parts` as an index into them, their probabilities): what
    followed each context (`parts`, shortest first), each context's share by `weights`."""
    total = sum(weights)
    cands, inverse = np.unique(np.concatenate(parts), return_inverse=True)
    probs = np.zeros(len(cands), np.float64)
    at = 0
    for nexts, w in zip(parts, weights):
        np.add.at(probs, inverse[at : at + len(nexts)], w / total / len(nexts))
        at += len(nexts)
    return cands, inverse, probs
