"""`heed calibrate`: fit the ghost text's confidence on validation projects, and pick its threshold.

At mid-line places of the validation projects (never the evaluation or final ones), each document
cut at the cursor, the completer's suggestions are asked for as the server asks, with every
prefix each could be cut to (`Completer.inline(all_cuts=True)`). Each suggestion and each prefix
is a sample: its features (`runtime/confidence.py`) and whether the rest of the line starts with
it. A logistic model is fitted to them (L2, Newton's method); its threshold is the lowest at which
what the server would show is exact at least EXACT_TARGET of the time on those projects, or, where
none reaches it, the one that gives the most accepted characters over all places.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from heed.model.runtime.confidence import FEATURES, Calibration
from heed.model.runtime.predictor import Predictor
from heed.model.training.metrics import accepts
from heed.model.training.projects import CURVE, FileScore, curve, score_projects

LINES_PER_FILE = 12
EXACT_TARGET = 0.5  # exact among shown (issue #22's bar)
L2 = 1.0


def samples(files: list[FileScore]) -> tuple[np.ndarray, np.ndarray]:
    """(features, right) for every suggestion and every prefix of one, at every line place."""
    xs, ys = [], []
    for f in files:
        for place in f.lines:
            for s in place.suggestions:
                for text, x in [(s.text, s.x), *((c.text, c.x) for c in s.cuts)]:
                    if x is not None:
                        xs.append(x)
                        ys.append(accepts(place.expected, text.split("\n")[0].strip()))
    return np.asarray(xs, np.float64).reshape(-1, len(FEATURES)), np.asarray(ys, np.float64)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2, steps: int = 50) -> np.ndarray:
    """Weights of a logistic regression (the first column the bias, not penalized)."""
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -50, 50)))
        grad = x.T @ (p - y) + penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def reliability(x: np.ndarray, y: np.ndarray, w: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Predicted against observed, by bins of predicted confidence (how well calibrated it is)."""
    p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -50, 50)))
    rows = []
    for b in range(bins):
        inside = (p >= b / bins) & ((p < (b + 1) / bins) | (b == bins - 1))
        if inside.any():
            rows.append({"from": b / bins, "n": int(inside.sum()), "predicted": float(p[inside].mean()),
                         "observed": float(y[inside].mean())})
    return rows


def pick_threshold(rows: list[dict[str, float]]) -> float:
    """The lowest threshold whose shown ghost text is exact at least EXACT_TARGET of the time,
    else the one with the most characters accepted over all places."""
    reaching = [r for r in rows if r["exact"] >= EXACT_TARGET and r["shown"] > 0]
    if reaching:
        return min(r["threshold"] for r in reaching)
    return max(rows, key=lambda r: r["chars"] * r["shown"])["threshold"]


def calibrate(predictor: Predictor, roots: list[Path], max_files: int, seed: int = 0,
              progress: bool = True) -> tuple[Calibration, dict[str, Any]]:
    """A calibration for `predictor`, fitted on the projects under `roots`, and what it found."""
    predictor.calibration = None  # the suggestions as they come, every one shown
    scores = score_projects(predictor, roots, max_files, seed, progress, per_file={"line": LINES_PER_FILE})
    files = [f for group in scores.values() for f in group]
    x, y = samples(files)
    if len(y) == 0 or y.min() == y.max():
        raise ValueError(f"calibrate: {len(y)} samples, all {'right' if len(y) and y[0] else 'wrong'}: nothing to fit")
    w = fit_logistic(x, y)
    fitted = Calibration(tuple(float(v) for v in w), 0.0, f"{len(y)} suggestions and prefixes at "
                         f"{sum(len(f.lines) for f in files)} places of {', '.join(r.name for r in roots)}")
    predictor.calibration = fitted
    for f in files:  # confidences under the fitted model, for the curve
        for place in f.lines:
            for s in place.suggestions:
                s.confidence = fitted.confidence(s.x) if s.x is not None else None
                for c in s.cuts:
                    c.confidence = fitted.confidence(c.x)
    rows = curve(files, list(CURVE))
    chosen = Calibration(fitted.weights, pick_threshold(rows), fitted.fitted_on)
    predictor.calibration = chosen
    report = {"samples": len(y), "right": float(y.mean()), "threshold": chosen.threshold, "curve": rows,
              "reliability": reliability(x, y, w), "weights": dict(zip(FEATURES, chosen.weights))}
    return chosen, report
