"""How likely ghost text is to be right, and how much of it to show.

Two calibrated probabilities, from what beam search knows about a suggestion (the log-probability
of each of its tokens, how many, whether it ends the line, whether a name was being typed, what
precedes the cursor, and how much of the beam's probability agrees with it: where every
alternative starts with `self.assertEqual(`, that much is sure even if they part after; and,
mid-name, how much of the name is typed and whether the suggestion takes it as finished), each a
logistic model fitted on the validation projects only (`heed calibrate`,
`model/training/calibrate.py`) and shipped beside the weights (`calibration.json`):

- a whole suggestion's chance of being *exactly* the rest of the line: the suggestions that reach
  the threshold are shown whole;
- where none does, a prefix's chance of being *right* (the rest of the line starts with it, so
  the user would accept all of it): the longest prefix that reaches its own, higher bar
  (`os.path.join` without its arguments) is shown instead.

One model for both read a cut's easy "right" as if it were a whole line's "exact", so short cuts
crowded out whole lines that were right: on the validation projects, left out one project at a
time, two models show ghost text as often with 5 to 6 more points of it exact (BENCHMARKS.md).

A suggestion that goes on with a half-typed name has a bar of its own (`Bars`): it must finish
the name and then be the rest of the line; ghost text that flickers wrong at every keystroke of a
name is what makes users turn it off, so the calibration may ask more of it there. One that takes
the name as finished (`foo|` -> `(x)`, also where the cursor is right after a whole name) does not.
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
            "agree", *(f"context: {c}" for c in LINE_CONTEXTS), "log_typed", "ends_name", "unforeseen")


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


def features(steps: Sequence[float], whole: bool, ends_line: bool, typed: str, context: str, agree: float = 1.0,
             ends_name: bool = False, unforeseen: bool = False) -> np.ndarray:
    """The model's inputs for a suggestion (or a prefix of one) made of tokens with log-probabilities
    `steps`; `whole`: all of the suggestion; `ends_line`: it ends where beam search saw the line end;
    `typed`: the start of a name typed before the cursor; `agree`: the share of the beam's
    alternatives (by probability) that start with it (`agreement`); `ends_name`: it takes the typed
    name as finished (what it adds starts after the name); `unforeseen`: the model could not
    produce the typed name, so it was taken as finished with no probability of its own (mid-name,
    while typing, that is mostly wrong)."""
    s = np.asarray(steps, np.float64) if len(steps) else np.zeros(1)
    row = [1.0, s.sum(), s.mean(), s.min(), s[0], math.log(len(steps) or 1), float(whole), float(ends_line), float(bool(typed)),
           agree, *(float(context == c) for c in LINE_CONTEXTS), math.log1p(len(typed)), float(ends_name), float(unforeseen)]
    return np.asarray(row)


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
    """Two logistic models over FEATURES and the thresholds chosen with them on validation data:
    `whole` reads the chance that a suggestion is exactly the rest of the line, `prefix` the chance
    that the rest of the line starts with a shorter prefix of one (a cut)."""

    whole: tuple[float, ...]
    prefix: tuple[float, ...]
    threshold: float  # the setting's default: a whole suggestion this sure is shown
    prefix_threshold: float  # where none is, a cut this sure (and as sure as the setting asks); above 1: never
    fitted_on: str = ""  # the data, for the record
    in_name_threshold: float | None = None  # one that goes on with a half-typed name, at the default (None: `threshold`)

    def confidence(self, x: np.ndarray) -> float:
        return _logistic(self.whole, x)

    def prefix_confidence(self, x: np.ndarray) -> float:
        return _logistic(self.prefix, x)

    def bars(self, setting: float | None = None) -> Bars:
        """The bars at the user's setting (None: the defaults picked on validation data). The
        setting moves the in-name bar with it, in proportion, so that 0 still shows everything,
        1 nothing, and every setting between asks at least as much in a name as the default does
        relative to its own threshold."""
        whole = self.threshold if setting is None else setting
        in_name = self.threshold if self.in_name_threshold is None else self.in_name_threshold
        if setting is not None and 0.0 < self.threshold < 1.0:
            in_name = float(np.interp(setting, (0.0, self.threshold, 1.0), (0.0, in_name, 1.0)))
        return Bars(whole, in_name, self.prefix_threshold)

    def describe(self) -> str:
        prefixes = "never" if self.prefix_threshold > 1 else f"{self.prefix_threshold:.3g}"
        in_name = "" if self.in_name_threshold is None else f" ({self.in_name_threshold:.3g} going on with a half-typed name)"
        return f"threshold {self.threshold:.3g}{in_name}, prefixes {prefixes}"

    def save(self, folder: Path) -> None:
        whole: dict[str, object] = {"weights": list(self.whole), "threshold": self.threshold}
        if self.in_name_threshold is not None:
            whole["in_name_threshold"] = self.in_name_threshold
        data = {"features": list(FEATURES), "whole": whole,
                "prefix": {"weights": list(self.prefix), "threshold": self.prefix_threshold}, "fitted_on": self.fitted_on}
        (folder / CALIBRATION).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    @staticmethod
    def load(folder: Path) -> Calibration | None:
        """The model folder's calibration; None where it has none. A file that does not fit this
        heed's features (another version, or damage) raises ValueError: the caller says why. One
        written before the two models (a single `weights` and `threshold`, read as both) loads too."""
        path = folder / CALIBRATION
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            names = list(data["features"])
            if "whole" in data:
                whole, prefix = data["whole"], data["prefix"]
            else:
                whole = prefix = {"weights": data["weights"], "threshold": data["threshold"]}
            weights = [[float(w) for w in m["weights"]] for m in (whole, prefix)]
            thresholds = [float(m["threshold"]) for m in (whole, prefix)]
            in_name = float(whole["in_name_threshold"]) if "in_name_threshold" in whole else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a calibration ({exc})") from exc
        if not set(names) <= set(FEATURES) or len(set(names)) != len(names) or any(len(w) != len(names) for w in weights) \
                or not all(map(math.isfinite, (*weights[0], *weights[1], *thresholds, in_name or 0.0))):
            raise ValueError(f"{path}: made for other features than this heed's")
        # A feature this heed added since the file was written weighs nothing in it.
        models = [tuple(dict(zip(names, w)).get(name, 0.0) for name in FEATURES) for w in weights]
        return Calibration(models[0], models[1], thresholds[0], thresholds[1], str(data.get("fitted_on", "")), in_name)


TYPED, ENDS_NAME = FEATURES.index("typed"), FEATURES.index("ends_name")


def goes_on_with_name(x: np.ndarray | None) -> bool:
    """Whether a suggestion with features `x` goes on with a half-typed name (rather than taking it
    as finished): the in-name bar's suggestions."""
    return x is not None and x[TYPED] > 0 and not x[ENDS_NAME]


@dataclass(frozen=True)
class Bars:
    """How sure ghost text must be to be shown: a whole suggestion, one that goes on with a
    half-typed name (it finishes the name, then the line), and, where no whole suggestion
    reaches its bar, a cut (at least as sure as its suggestion's bar too)."""

    whole: float
    in_name: float
    prefix: float

    @staticmethod
    def flat(threshold: float) -> Bars:
        """One bar for everything (a model without a calibration, where nothing has a confidence)."""
        return Bars(threshold, threshold, threshold)

    def of(self, x: np.ndarray | None) -> float:
        """The bar of a whole suggestion with features `x` (those it was made with: one typed along
        with keeps them, and so its bar)."""
        return self.in_name if goes_on_with_name(x) else self.whole

    def of_cut(self, x: np.ndarray | None) -> float:
        """A cut's bar: a user who asks for surer ghost text gets surer cuts, one who asks for more
        gets more whole lines."""
        return max(self.prefix, self.of(x))


def bars_at(calibration: Calibration | None, setting: float | None = None) -> Bars:
    """The bars at the user's setting (None: the default). Without a calibration nothing has a
    confidence and everything is shown whatever the bar (the setting, 0 by default)."""
    return calibration.bars(setting) if calibration else Bars.flat(setting or 0.0)


def _logistic(weights: Sequence[float], x: np.ndarray) -> float:
    z = float(np.dot(weights, x))
    return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


@dataclass
class Cut:
    """A shorter prefix of a suggestion that is code too: its length in tokens, its text, its
    features and (with a calibration) its confidence."""

    tokens: int
    text: str
    x: np.ndarray
    confidence: float | None = None
