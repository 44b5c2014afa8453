"""`heed calibrate`: fit the ghost text's confidence on validation projects, and pick its thresholds.

On the validation projects (never the evaluation or final ones) the completer's suggestions are
asked for as the server asks, with every prefix each could be cut to
(`Completer.inline(all_cuts=True)`), at two kinds of place: mid-line places, each document cut
at the cursor, and every keystroke of lines typed through (`projects.replay_file`: half-typed
names, where the suggestion may finish the name or take it as finished). Two logistic models are
fitted (L2, Newton's method) over their features (`runtime/confidence.py`): on each whole
suggestion, whether it is exactly the rest of the line; on each prefix, whether the rest of the
line starts with it.

The bars (`confidence.Bars`: a whole suggestion's, one that goes on with a half-typed name's, and
the higher bar a prefix must reach where no whole one does) are picked on confidences each
project gets from the models fitted on the *other* projects, so that the choice sees how the
models do on code they were not fitted to: of the triples whose shown ghost text is exact at least
as often as issue #22 asks at each kind of place (EXACT_TARGETS), at the lower end of its 95%
interval (files resampled), the one that gives the most accepted characters per place (the two
kinds weighing the same); where none reaches them, the one that gives the most characters. The
in-name bar is what lets the keystrokes' higher target be met without showing less elsewhere. At
the keystrokes, what each triple would show is judged as the server shows it: a suggestion shown
and typed along with is kept (`served`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from heed.model.runtime.completer import InlineSuggestion
from heed.model.runtime.confidence import FEATURES, Bars, Calibration, Cut, goes_on_with_name
from heed.model.runtime.predictor import Predictor
from heed.model.runtime.typed_along import LastSuggestions, kept_along
from heed.model.training.held_out import measured_on
from heed.model.training.metrics import accepted_chars, accepts
from heed.model.training.projects import CURVE, FileScore, curve, score_projects, shown_text

LINES_PER_FILE = 12  # mid-line places per file
TYPING_FILES, TYPING_LINES = 15, 2  # files per project, and lines of each, typed through
# Exact among shown, at the lower end of its interval, at each kind of place (issue #22's targets)
EXACT_TARGETS = {"mid-line": 0.5, "typing": 0.6}
L2 = 1.0
WHOLE_GRID = tuple(round(0.1 + 0.025 * i, 3) for i in range(33))  # 0.1 ... 0.9
PREFIX_GRID = (*(round(0.6 + 0.05 * i, 2) for i in range(8)), 1.01)  # 1.01: never a prefix
BOOTSTRAP = 500


def _each(files: list[FileScore]) -> Iterator[tuple[str, InlineSuggestion | Cut, bool]]:
    """(expected, suggestion or prefix, whether it is a whole suggestion), for every suggestion and
    every prefix of one at every line place, always in the same order."""
    for f in files:
        for place in f.lines:
            for s in place.suggestions:
                if s.x is not None:
                    yield place.expected, s, True
                for c in s.cuts:
                    yield place.expected, c, False


def samples(files: list[FileScore]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, label, whole) for every suggestion and every prefix: a whole suggestion's label is
    whether it is exactly the rest of the line, a prefix's whether the rest of the line starts with it."""
    xs, ys, whole = [], [], []
    for expected, s, is_whole in _each(files):
        text = s.text.split("\n")[0].strip()
        xs.append(s.x)
        ys.append(text == expected if is_whole else accepts(expected, text))
        whole.append(is_whole)
    return (np.asarray(xs, np.float64).reshape(-1, len(FEATURES)), np.asarray(ys, np.float64),
            np.asarray(whole, bool))


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


def _probability(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x @ w, -50, 50)))


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Predicted against observed, by bins of predicted confidence (how well calibrated it is)."""
    rows = []
    for b in range(bins):
        inside = (p >= b / bins) & ((p < (b + 1) / bins) | (b == bins - 1))
        if inside.any():
            rows.append({"from": b / bins, "n": int(inside.sum()), "predicted": float(p[inside].mean()),
                         "observed": float(y[inside].mean())})
    return rows


def held_out_confidences(x: np.ndarray, y: np.ndarray, whole: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Each sample's confidence under the model (whole or prefix) fitted on the other groups."""
    p = np.zeros(len(y))
    for g in np.unique(group):
        for kind in (whole, ~whole):
            fit, test = kind & (group != g), kind & (group == g)
            if test.any() and fit.any() and 0 < y[fit].mean() < 1:
                p[test] = _probability(x[test], fit_logistic(x[fit], y[fit]))
            elif test.any():
                p[test] = y[fit].mean() if fit.any() else 0.0
    return p


def served(f: FileScore, bars: Bars) -> list[list[InlineSuggestion]]:
    """The suggestions the completer would hold at each of a file's line places with ghost text
    shown at `bars`: at a keystroke that types along with the last suggestion shown on its
    line, that one kept (`typed_along`), else what was made there (the replay made them all with
    nothing kept: `calibrate` runs it uncalibrated)."""
    out: list[list[InlineSuggestion]] = []
    last: LastSuggestions | None = None
    for place in f.lines:
        if place.line is None:  # a mid-line place, no keystroke before it
            out.append(place.suggestions)
            continue
        kept = kept_along(last, *place.line, bars)
        if kept is None:
            last = LastSuggestions(*place.line, place.suggestions) if place.suggestions else None
        out.append(kept if kept is not None else place.suggestions)
    return out


def judged(files: list[FileScore], bars: Bars, held: list[list[list[InlineSuggestion]]] | None = None) -> np.ndarray:
    """Per file: [line places, shown, exact, characters accepted] at these bars: what
    `FileScore.judge` scores, less the edit similarity, which the grid cannot afford.
    `held`: each file's `served` suggestions at `bars` (default: those made at each place)."""
    rows = []
    for i, f in enumerate(files):
        lists = held[i] if held is not None else [p.suggestions for p in f.lines]
        got = [(shown_text(s, bars), p.expected) for s, p in zip(lists, f.lines)]
        rows.append([len(got), sum(bool(g) for g, _ in got), sum(bool(g) and g == e for g, e in got),
                     sum(accepted_chars(e, g) for g, e in got)])
    return np.asarray(rows, np.float64).reshape(-1, 4)


def pick_thresholds(kinds: dict[str, list[FileScore]], seed: int = 0) -> tuple[Bars, dict[str, Any]]:
    """The bars and what they give at each kind of place: see the module's docstring."""
    rng = np.random.default_rng(seed)
    resamples = {kind: rng.integers(0, len(files), size=(BOOTSTRAP, len(files))) for kind, files in kinds.items() if files}
    rows: dict[tuple[str, Bars], dict[str, float]] = {}

    def row_of(kind: str, bars: Bars, held: list[list[list[InlineSuggestion]]]) -> dict[str, float]:
        counts = judged(kinds[kind], bars, held)
        places, shown, exact, chars = counts.sum(axis=0)
        boot = counts[resamples[kind]].sum(axis=1)  # [BOOTSTRAP, 4]
        low = float(np.percentile(boot[:, 2] / np.maximum(boot[:, 1], 1), 2.5)) if shown else 0.0
        return {"shown": shown / places, "exact": exact / shown if shown else 0.0, "exact_low": low, "chars_all": chars / places}

    # Whether a kind has suggestions the in-name bar decides: where none has, it changes nothing there.
    in_name = {kind: any(goes_on_with_name(s.x) for f in kinds[kind] for p in f.lines for s in p.suggestions)
               for kind in resamples}
    best: tuple[tuple[float, ...], Bars, dict[str, Any]] | None = None
    for t in WHOLE_GRID:
        for t_name in (v for v in WHOLE_GRID if v >= t):  # a half-typed name asks at least as much
            # What typing along keeps at these bars
            held = {kind: [served(f, Bars(t, t_name, 1.0)) for f in files] for kind, files in kinds.items()}
            for tp in PREFIX_GRID:
                if tp < t:
                    continue  # a prefix is held to at least its suggestion's bar (`Bars.of_cut`)
                bars = Bars(t, t_name, tp)
                parts = {}
                for kind in resamples:
                    key = (kind, bars if in_name[kind] else Bars(t, t, tp))
                    if key not in rows:
                        rows[key] = row_of(kind, bars, held[kind])
                    parts[kind] = rows[key]
                reaches = all(r["exact_low"] >= EXACT_TARGETS.get(kind, 0.5) for kind, r in parts.items())
                # Ties go to the surer ghost text, then to the higher bars (less shown for the same).
                rank = (float(reaches), float(np.mean([r["chars_all"] for r in parts.values()])),
                        float(np.mean([r["exact"] for r in parts.values()])), t, t_name, tp)
                if any(r["shown"] for r in parts.values()) and (best is None or rank > best[0]):
                    best = (rank, bars, {"threshold": t, "in_name_threshold": t_name, "prefix_threshold": tp, **parts})
    if best is None:
        raise ValueError("calibrate: no threshold shows any ghost text")
    return best[1], best[2]


def _set_confidences(files: list[FileScore], p: np.ndarray) -> None:
    for (_, s, _), c in zip(_each(files), p):
        s.confidence = float(c)


def calibrate(predictor: Predictor, roots: list[Path], max_files: int, seed: int = 0,
              progress: bool = True) -> tuple[Calibration, dict[str, Any]]:
    """A calibration for `predictor`, fitted on the projects under `roots`, and what it found."""
    for root in roots:
        if (kind := measured_on(root)) is not None:
            raise ValueError(f"calibrate: {root} is one of the {kind} projects (bench/projects.txt): constants are chosen "
                             "on validation projects only")
    predictor.calibration = None  # the suggestions as they come, every one shown
    scores = {"mid-line": score_projects(predictor, roots, max_files, seed, progress, per_file={"line": LINES_PER_FILE}),
              "typing": score_projects(predictor, roots, min(max_files, TYPING_FILES), seed, progress, typing=TYPING_LINES)}
    kinds = {kind: [f for group in by_project.values() for f in group] for kind, by_project in scores.items()}
    files = [f for group in kinds.values() for f in group]
    x, y, whole = samples(files)
    for part, name in ((whole, "whole suggestions"), (~whole, "prefixes")):
        if not part.any() or y[part].min() == y[part].max():
            raise ValueError(f"calibrate: {int(part.sum())} {name}, all {'right' if part.any() and y[part][0] else 'wrong'}: "
                             "nothing to fit")
    # Left out a project at a time (a file at a time where there is one project).
    if len(roots) > 1:
        group_of = {id(f): i for by_project in scores.values() for i, group in enumerate(by_project.values()) for f in group}
    else:
        group_of = {id(f): i for i, f in enumerate(files)}
    group = np.asarray([group_of[id(f)] for f in files for _ in _each([f])])
    held_out = held_out_confidences(x, y, whole, group)
    _set_confidences(files, held_out)
    bars, picked = pick_thresholds(kinds, seed)
    w_whole, w_prefix = fit_logistic(x[whole], y[whole]), fit_logistic(x[~whole], y[~whole])
    places = {kind: sum(len(f.lines) for f in fs) for kind, fs in kinds.items()}
    chosen = Calibration(tuple(float(v) for v in w_whole), tuple(float(v) for v in w_prefix), bars.whole, bars.prefix,
                         f"{int(whole.sum())} suggestions and {int((~whole).sum())} prefixes at {places['mid-line']} "
                         f"mid-line places and {places['typing']} keystrokes of {', '.join(r.name for r in roots)}",
                         bars.in_name)
    # As the held-out confidences show it, at each whole threshold
    curves = {kind: curve(fs, list(CURVE), chosen) for kind, fs in kinds.items()}
    predictor.calibration = chosen
    report = {"samples": len(y), "exact_wholes": float(y[whole].mean()), "right_prefixes": float(y[~whole].mean()),
              "places": places, "threshold": bars.whole, "in_name_threshold": bars.in_name, "prefix_threshold": bars.prefix,
              "picked": picked,
              "curve": curves,
              "reliability": {"whole": reliability(held_out[whole], y[whole]), "prefix": reliability(held_out[~whole], y[~whole])},
              "weights": {"whole": dict(zip(FEATURES, w_whole)), "prefix": dict(zip(FEATURES, w_prefix))}}
    return chosen, report
