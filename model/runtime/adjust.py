"""What turns the network's next-token distribution into heed's: the document's n-grams mixed
in (`ngram.py`), then after a dot the re-ranking (`rerank.py`) by the receiver's usual
attributes, the class's members, and the names the code says the receiver has (in an import
statement, what it can import; at a call's argument, the callee's parameters). An adapted
model's project memory (`memory.py`) votes first, as a kNN-LM mixes its neighbours into the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heed.model.lookup.receivers import ReceiverNames
from heed.model.runtime import memory, ngram
from heed.model.runtime.encoding import Encoded
from heed.model.runtime.rerank import Rerank, Reranker, module_rerank
from heed.model.text.roles import UNKNOWN


@dataclass
class Adjusted:
    """One adjusted distribution, with its parts (for explanations and `heed eval`)."""

    probs: np.ndarray  # [n_ext] the final distribution
    mixed: np.ndarray  # [n_ext] after the n-grams, before the re-ranking
    guess: ngram.NgramGuess  # the n-grams' guess
    rerank: Rerank | None  # after a dot: how it was re-ranked


@dataclass
class Adjuster:
    """What the document and the corpus add to the network's next-token distribution after one
    context: the document's n-grams (`ngrams`), and after a dot the re-ranking (`reranker`: the
    receiver's usual attributes or the enclosing class's members; `receiver`: the names other
    code says the receiver has). Beam search passes the tokens it has produced since (`tail`)."""

    context: Encoded
    ngrams: ngram.Ngrams | None  # of the context (or of a longer run it starts: `heed eval`)
    reranker: Reranker | None
    dot: int = -1  # the vocabulary id of `.`: after it the n-grams weigh less (ngram.AFTER_DOT)
    receiver: ReceiverNames | None = None  # what code outside the context says follows its final dot
    project: ngram.ProjectGrams | None = None  # the project's n-grams (the workspace index)
    recalled: np.ndarray | None = None  # [<= n_ext] the project memory's votes after the context (`memory.py`)

    def __post_init__(self) -> None:
        self._identities = np.zeros(0, np.int64)  # the context's, for the project's n-grams
        self._first: ngram.NgramGuess | None = None
        if self.project is not None:  # now: the names it brings take identities before the distribution is made
            self._identities = ngram.identities(self.context.ids, self.context.ext)
            self._first = self.project.guess(self._identities)

    def adjust(self, probs: np.ndarray, allowed: np.ndarray, tail: list[int] | None = None) -> Adjusted:
        """`probs` [n_ext] with the n-grams mixed in and, after a dot, re-ranked: the one way the
        network's distribution becomes heed's (the popup, ghost text and `heed eval` call it).
        `allowed` [V]: the vocabulary entries that may be answered."""
        mixed, guess = self.mix(probs, allowed, tail)
        rerank = self.rerank(probs.shape[-1], tail)
        return Adjusted(rerank.apply(mixed) if rerank is not None else mixed, mixed, guess, rerank)

    def mix(self, probs: np.ndarray, allowed: np.ndarray, tail: list[int] | None = None
            ) -> tuple[np.ndarray, ngram.NgramGuess]:
        """`probs` [n_ext] with the project memory's votes and the document's n-grams mixed in, and
        the n-grams' guess. The memory votes for the token after the context only (beam search's
        first step), where it has the network's vector to search by."""
        if self.recalled is not None and not tail:
            votes = np.zeros_like(probs)
            n = min(len(votes), len(self.recalled))
            votes[:n] = self.recalled[:n]
            probs = (1 - memory.WEIGHT) * probs + memory.WEIGHT * votes
        guess = self.ngrams.guess(len(self.context), tail or []) if self.ngrams is not None else ngram.NgramGuess.none()
        last = tail[-1] if tail else int(self.context.ids[-1]) if len(self.context.ids) else -1
        after_dot = last == self.dot >= 0
        if after_dot:
            guess = guess.scaled(ngram.AFTER_DOT)
        if self.project is not None:
            project = self._first if not tail and self._first is not None else self.project.guess(self._identities, tail or [])
            guess = ngram.combine(guess, project.scaled(ngram.PROJECT_AFTER_DOT) if after_dot else project)
        return ngram.mix(probs, guess, allowed), guess

    def rerank(self, n_ext: int, tail: list[int] | None = None) -> Rerank | None:
        """The re-ranking of the next token's distribution if it follows a dot, or where the code
        says what can come (`lookup/known.py`)."""
        c, known = self.context, self.receiver if not tail else None
        inherited, below = (known.inherited, known.below) if known is not None else (None, None)
        rerank = self.reranker.rerank(c.ids, c.parsed, c.ext, n_ext, tail or [], inherited, below) if self.reranker is not None else None
        if known is None or known.module is None:
            return rerank
        if rerank is not None:
            return rerank.then_module(known.module, known.unseen, known.why, known.open)
        return module_rerank(known.module, n_ext, known.unseen, known.why, known.open, known.excluded, known.lowered)

    def extended(self, ext_id: int, vocab_size: int, unk: int) -> Adjuster:
        """The same after one more token, given by its identity (a name typed in full)."""
        one = Encoded(np.array([ext_id if ext_id < vocab_size else unk]), np.array([UNKNOWN]), np.array([ext_id]), np.array([UNKNOWN]))
        context = Encoded.concat([self.context, one])
        grams = ngram.Ngrams(ngram.identities(context.ids, context.ext)) if self.ngrams is not None else None
        return Adjuster(context, grams, self.reranker, self.dot, project=self.project)
