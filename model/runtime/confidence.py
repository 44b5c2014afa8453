"""How likely ghost text is to be right, and how much of it to show.

A suggestion is *right* when the rest of the line starts with it: the user would accept all of it.
Its confidence is a calibrated probability of that, from what beam search knows about it (the
log-probability of each of its tokens, how many, whether it ends the line, whether a name was
being typed, what precedes the cursor, and how much of the beam's probability agrees with it:
where every alternative starts with `self.assertEqual(`, that much is sure even if they part
after), by a logistic model fitted on the validation projects only (`heed calibrate`,
`model/training/calibrate.py`) and shipped beside the weights
(`calibration.json`). The same model scores every token prefix of a suggestion, so where the
whole is unlikely, the longest prefix that is likely enough (`os.path.join` without its
arguments) can be shown instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATION = "calibration.json"

# What precedes the cursor on its line (the ghost text is measured and calibrated by it).
LINE_CONTEXTS = ("import line", "after a dot", "after =", "in brackets", "keyword statement", "other")
KEYWORD_STARTS = frozenset({"if", "elif", "while", "for", "return", "with", "assert", "raise", "yield", "del", "async"})
FEATURES = ("bias", "logp", "mean_logp", "min_logp", "first_logp", "log_tokens", "whole", "ends_line", "typed",
            "agree", *(f"context: {c}" for c in LINE_CONTEXTS))


def line_context(before: str) -> str:
    """Which of LINE_CONTEXTS the text before the cursor on its line is."""
    code = before.strip()
    first = code.split(maxsplit=1)[0] if code else ""
    if first in ("import", "from"):
        return "import line"
    if code.endswith("."):
        return "after a dot"
    if code.endswith("=") and not code.endswith(("==", "!=", "<=", ">=")):
        return "after ="
    if sum(code.count(c) for c in "([{") > sum(code.count(c) for c in ")]}"):
        return "in brackets"
    return "keyword statement" if first in KEYWORD_STARTS else "other"


def features(steps: Sequence[float], whole: bool, ends_line: bool, typed: bool, context: str, agree: float = 1.0
             ) -> np.ndarray:
    """The model's inputs for a suggestion (or a prefix of one) made of tokens with log-probabilities
    `steps`; `whole`: all of the suggestion; `ends_line`: it ends where beam search saw the line end;
    `agree`: the share of the beam's alternatives (by probability) that start with it (`agreement`)."""
    s = np.asarray(steps, np.float64) if len(steps) else np.zeros(1)
    row = [1.0, s.sum(), s.mean(), s.min(), s[0], math.log(len(steps) or 1), float(whole), float(ends_line), float(typed),
           agree]
    return np.asarray(row + [float(context == c) for c in LINE_CONTEXTS])


def agreement(tokens: Sequence[str], alternatives: Sequence[tuple[Sequence[str], float]]) -> float:
    """The share of `alternatives` ((tokens, log-probability) each) whose tokens start with `tokens`,
    weighed by their probabilities."""
    if not alternatives:
        return 1.0
    top = max(logp for _, logp in alternatives)
    weights = [math.exp(logp - top) for _, logp in alternatives]
    n = len(tokens)
    agreeing = sum(w for (alt, _), w in zip(alternatives, weights) if list(alt[:n]) == list(tokens))
    return agreeing / sum(weights)


@dataclass(frozen=True)
class Calibration:
    """A fitted logistic model over FEATURES, and the threshold chosen with it on validation data."""

    weights: tuple[float, ...]
    threshold: float  # the default of the setting: below it, nothing (or a shorter prefix) is shown
    fitted_on: str = ""  # the data, for the record

    def confidence(self, x: np.ndarray) -> float:
        z = float(np.dot(self.weights, x))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def save(self, folder: Path) -> None:
        data = {"features": list(FEATURES), "weights": list(self.weights), "threshold": self.threshold,
                "fitted_on": self.fitted_on}
        (folder / CALIBRATION).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    @staticmethod
    def load(folder: Path) -> Calibration | None:
        """The model folder's calibration; None where it has none. A file that does not fit this
        heed's features (another version, or damage) raises ValueError: the caller says why."""
        path = folder / CALIBRATION
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            weights = tuple(float(w) for w in data["weights"])
            threshold = float(data["threshold"])
            names = tuple(data["features"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a calibration ({exc})") from exc
        if names != FEATURES or len(weights) != len(FEATURES) or not all(map(math.isfinite, (*weights, threshold))):
            raise ValueError(f"{path}: made for other features than this heed's")
        return Calibration(weights, threshold, str(data.get("fitted_on", "")))


@dataclass
class Cut:
    """A shorter prefix of a suggestion that is code too: its length in tokens, its text, its
    features and (with a calibration) its confidence."""

    tokens: int
    text: str
    x: np.ndarray
    confidence: float | None = None


def longest_sure(whole: float | None, cuts: Sequence[Cut], threshold: float) -> int | None:
    """What to show of a suggestion at `threshold`: -1 for all of it, the index in `cuts` (longest
    first) of the longest prefix at least as confident, or None for nothing. Without a confidence
    (no calibration), all of it."""
    if whole is None or whole >= threshold:
        return -1
    return next((i for i, c in enumerate(cuts) if c.confidence is not None and c.confidence >= threshold), None)
