"""The document's n-gram cache: what it guesses, how much it weighs, and how it mixes in."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heed.model.runtime import ngram
from heed.model.runtime.ngram import MIX_COUNT, MIX_WEIGHT, ORDER, ORDER_WEIGHT, Ngrams


def reference(tokens: list[int], end: int, tail: list[int]) -> tuple[dict[int, float], float, dict[int, int]]:
    """The cache's guess, counted the slow and obvious way, and where each candidate last
    followed the longest context it followed."""
    seq = tokens[:end] + tail
    parts: list[tuple[float, Counter[int]]] = []
    last: dict[int, int] = {}
    longest = seen = 0
    for n in range(1, ORDER + 1):
        if len(seq) < n:
            break
        context = seq[-n:]
        places = [j + 1 for j in range(n - 1, end - 1) if tokens[j - n + 1 : j + 1] == context]
        nexts = Counter(tokens[p] for p in places)
        if not nexts:
            break
        last |= {tokens[p]: p for p in places}  # in order: the latest wins, and longer contexts after
        parts.append((ORDER_WEIGHT ** (n - 1), nexts))
        longest, seen = n, sum(nexts.values())
    if not parts or end < 2:
        return {}, 0.0, {}
    total = sum(w for w, _ in parts)
    probs: Counter[int] = Counter()
    for w, nexts in parts:
        for tok, count in nexts.items():
            probs[tok] += w / total * count / sum(nexts.values())
    return dict(probs), MIX_WEIGHT[longest - 1] * seen / (seen + MIX_COUNT), last


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=0, max_size=40), st.data())
def test_the_guess_matches_counting_by_hand(tokens: list[int], data: st.DataObject) -> None:
    end = data.draw(st.integers(0, len(tokens)))
    tail = data.draw(st.lists(st.integers(0, 4), max_size=3))
    guess = Ngrams(np.array(tokens, np.int64)).guess(end, tail)
    want, weight, last = reference(tokens, end, tail)
    assert dict(zip(guess.tokens.tolist(), guess.probs.tolist())) == pytest.approx(want, abs=1e-6)
    assert dict(zip(guess.tokens.tolist(), guess.last.tolist())) == last
    assert abs(guess.weight - weight) < 1e-9
    if want:
        assert abs(float(guess.probs.sum()) - 1) < 1e-5 and 0 < guess.weight < 1


def test_a_repeated_context_predicts_what_followed_it() -> None:
    # x . a ...  y . a ...  z . b ...  w . ?   (. = 1, a = 2... names and what follows them differ)
    tokens = np.array([7, 1, 2, 3, 8, 1, 2, 3, 9, 1, 2, 4, 10, 1, 2])
    guess = Ngrams(tokens).guess(len(tokens))
    assert dict(zip(guess.tokens.tolist(), guess.probs.tolist())) == pytest.approx({3: 2 / 3, 4: 1 / 3})
    # the longest context seen (`. 2`, three times) sets the weight
    assert guess.weight == pytest.approx(MIX_WEIGHT[1] * 3 / (3 + MIX_COUNT))
    # nothing from `end` on: cut after the second `. 2`, only 3 ever followed
    short = Ngrams(tokens).guess(7)
    assert short.tokens.tolist() == [3] and short.weight < guess.weight


def test_mixing_keeps_the_total_and_leaves_placeholders_out() -> None:
    V = 6
    allowed = np.array([True, True, True, True, False, True])  # id 4: a placeholder
    probs = np.full(8, 1 / 8, np.float32)
    guess = ngram.NgramGuess(np.array([2, 4, 7, 9]), np.array([0.4, 0.3, 0.2, 0.1], np.float32), 0.5, np.zeros(4, np.int64))
    mixed = ngram.mix(probs, guess, allowed[:V])
    assert mixed[4] == probs[4] * 0.5  # the placeholder gets no cache mass
    assert mixed[2] == pytest.approx(1 / 16 + 0.2) and mixed[7] == pytest.approx(1 / 16 + 0.1)
    assert mixed.sum() == pytest.approx(0.5 + 0.5 * (0.4 + 0.2))  # 9 is past n_ext: left out
    assert np.array_equal(ngram.mix(probs, ngram.NgramGuess.none(), allowed), probs)
