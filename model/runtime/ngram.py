"""The document's own n-grams, mixed into the model's next-token distribution.

Code repeats itself within a file (Tu et al. 2014, "On the localness of software"): what followed
`self . visit_` or `node : cst .` earlier in the file is likely to follow it again. The network's
pointer copies names from its window and far memory; the n-grams also know what came after the
last one to four tokens each time they occurred earlier in the file, at any distance.

Its distribution weighs longer matching contexts more (ORDER_WEIGHT per token), and is mixed in
with a weight that grows with the longest match and with how often that context occurred
(MIX_WEIGHT, MIX_COUNT), less after a dot (AFTER_DOT); the project's (the workspace index)
more there (PROJECT_AFTER_DOT). The constants were tuned on the validation split of the training
corpus or on the validation projects, never on the evaluation set (docs/MODEL_CARD.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from heed.model.runtime.encoding import DocEncoder
from heed.model.workspace.ngrams import ProjectNgrams, longer_contexts, weigh

ORDER = 4  # longest context matched, in tokens
ORDER_WEIGHT = 3.0  # a context one token longer counts this many times more
MIX_WEIGHT = (0.1, 0.2, 0.3, 0.45)  # the n-grams' weight by the longest matching context (1..ORDER tokens)
MIX_COUNT = 0.5  # ... times n / (n + MIX_COUNT), n: how often that context occurred
# ... times this after a dot, where the re-ranking (runtime/rerank.py) already weighs what the
# document put after the same receiver; tuned with the stage-9 network (0.5 and 0.35 did as well).
AFTER_DOT = 0.25
# The project's n-grams (its other files) are mixed in after the document's, by the longest context
# they matched, times n / (n + PROJECT_COUNT): a single token of context says little across a
# whole project. Tuned on the validation projects (docs/MODEL_CARD.md).
PROJECT_WEIGHT = (0.0, 0.1, 0.2, 0.3)
PROJECT_COUNT = 1.0
# ... times this after a dot: what the project puts after the same receiver (`md .`, `retry_state .`)
# is what its types have, which neither the network nor this document may know yet. On the
# validation projects' 1,150 attribute places: 0.25 (as the document's) gave top-1 / top-5 47.1 /
# 74.1%, 1.0 48.9 / 75.8%, 1.5 50.1 / 75.6%, 2.0 50.7 / 75.4%, 3.0 48.7 / 73.3% (docs/MODEL_CARD.md).
PROJECT_AFTER_DOT = 2.0


@dataclass
class NgramGuess:
    """The n-grams' distribution for one next token."""

    tokens: np.ndarray  # candidate identities
    probs: np.ndarray  # their probabilities (summing to 1)
    weight: float  # how much of the final distribution is the n-grams'
    last: np.ndarray  # where each candidate last followed the longest context it followed (explanations)

    @staticmethod
    def none() -> NgramGuess:
        return NgramGuess(np.zeros(0, np.int64), np.zeros(0, np.float32), 0.0, np.zeros(0, np.int64))

    def scaled(self, factor: float) -> NgramGuess:
        return NgramGuess(self.tokens, self.probs, min(self.weight * factor, 1.0), self.last)

    def prob_of(self, token: int) -> float:
        """The n-grams' share of the final probability of `token`."""
        at = np.flatnonzero(self.tokens == token)
        return float(self.probs[at[0]]) * self.weight if len(at) else 0.0


def identities(ids: np.ndarray, ext: np.ndarray) -> np.ndarray:
    """One identity per token: its pointer identity where it has one, else its vocabulary id."""
    return np.where(ext >= 0, ext, ids)


class Ngrams:
    """The n-grams of one token sequence (a document's identities, oldest first)."""

    def __init__(self, tokens: np.ndarray):
        self.tokens = np.asarray(tokens, np.int64)
        self.by_token = np.argsort(self.tokens, kind="stable")  # positions grouped by token, ascending
        self.sorted = self.tokens[self.by_token]

    def guess(self, end: int, tail: Sequence[int] = ()) -> NgramGuess:
        """The next token after `tokens[:end]` followed by `tail` (beam search's tokens so far),
        from what followed the same last tokens within `tokens[:end]`."""
        context = [*self.tokens[max(end - ORDER, 0) : end].tolist(), *tail][-ORDER:]
        if not context or end < 2:
            return NgramGuess.none()
        lo, hi = np.searchsorted(self.sorted, context[-1], "left"), np.searchsorted(self.sorted, context[-1], "right")
        block = self.by_token[lo:hi]
        matches = block[: np.searchsorted(block, end - 1)]  # occurrences followed by a token before `end`
        parts, weights, longest, seen = [], [], 0, 0
        for n, found in longer_contexts(self.tokens, context, matches):
            parts.append(found + 1)  # where each continuation stands
            weights.append(ORDER_WEIGHT ** (n - 1))
            longest, seen = n, len(found)
        if not parts:
            return NgramGuess.none()
        cands, inverse, probs = weigh([self.tokens[where] for where in parts], weights)
        last = np.full(len(cands), -1, np.int64)
        at = 0
        for where in parts:
            latest = np.full(len(cands), -1, np.int64)
            np.maximum.at(latest, inverse[at : at + len(where)], where)
            last = np.where(latest >= 0, latest, last)  # longer contexts come later and win
            at += len(where)
        weight = MIX_WEIGHT[longest - 1] * seen / (seen + MIX_COUNT)
        return NgramGuess(cands, probs.astype(np.float32), weight, last)


class ProjectGrams:
    """The project's n-grams (`workspace/ngrams.py`, over token keys) in one document's identities:
    a name the document has not seen gets an identity of its own (`DocEncoder.ext_of_text`), so
    that the popup and beam search can offer it."""

    def __init__(self, ngrams: ProjectNgrams, numbers: Callable[[Sequence[str]], list[int]], encoder: DocEncoder,
                 leave_out: str | None = None):
        self.ngrams, self.numbers, self.encoder, self.leave_out = ngrams, numbers, encoder, leave_out

    def guess(self, context: np.ndarray, tail: Sequence[int] = ()) -> NgramGuess:
        """The next token after `context` (the document's identities, `identities()`) and `tail`."""
        texts = [self.encoder.text_of(int(t)) if t >= 0 else "" for t in [*context[-ORDER:].tolist(), *tail][-ORDER:]]
        found = self.ngrams.continuations(self.numbers(texts), self.leave_out, ORDER_WEIGHT)
        if found.longest == 0 or PROJECT_WEIGHT[found.longest - 1] <= 0:
            return NgramGuess.none()
        vocab, answerable = self.encoder.vocab.index, self.encoder.answerable
        tokens, probs = [], []
        for key, p in zip(found.keys, found.probs):
            vid = vocab.get(key)
            if vid is not None:
                if answerable[vid]:
                    tokens.append(vid)
                    probs.append(p)
            elif key.isidentifier():
                tokens.append(self.encoder.ext_of_text(key))
                probs.append(p)
        if not tokens:
            return NgramGuess.none()
        total = float(sum(probs))
        weight = PROJECT_WEIGHT[found.longest - 1] * found.seen / (found.seen + PROJECT_COUNT)
        return NgramGuess(np.array(tokens, np.int64), np.array(probs, np.float32) / total, weight,
                          np.full(len(tokens), -1, np.int64))


def combine(doc: NgramGuess, project: NgramGuess) -> NgramGuess:
    """One guess from the document's and the project's, as if mixed in one after the other."""
    if project.weight <= 0:
        return doc
    if doc.weight <= 0:
        return project
    weight = 1 - (1 - doc.weight) * (1 - project.weight)
    tokens, inverse = np.unique(np.concatenate([doc.tokens, project.tokens]), return_inverse=True)
    probs = np.zeros(len(tokens), np.float64)
    np.add.at(probs, inverse[: len(doc.tokens)], doc.probs * doc.weight * (1 - project.weight) / weight)
    np.add.at(probs, inverse[len(doc.tokens) :], project.probs * project.weight / weight)
    last = np.full(len(tokens), -1, np.int64)
    np.maximum.at(last, inverse[: len(doc.tokens)], doc.last)
    return NgramGuess(tokens, probs.astype(np.float32), weight, last)


def mix(probs: np.ndarray, guess: NgramGuess, allowed: np.ndarray) -> np.ndarray:
    """`probs` [n_ext] (the model's, for one next token) with the n-grams' guess mixed in.
    `allowed` [V]: the vocabulary entries that may be answered (placeholders are not, in a
    popup); identities beyond the vocabulary are names, always allowed; those past `n_ext`
    (names the caller cannot show) are left out."""
    if guess.weight <= 0:
        return probs
    n_ext, V = probs.shape[-1], allowed.shape[0]
    keep = guess.tokens < n_ext
    tokens = guess.tokens[keep]
    ok = np.where(tokens < V, allowed[np.minimum(tokens, V - 1)], True)
    out = probs * np.float32(1 - guess.weight)
    out[tokens] += (guess.probs[keep] * guess.weight * ok).astype(out.dtype)
    return out
