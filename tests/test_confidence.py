"""The ghost text's confidence: its features, its calibration file, how a suggestion is cut or
dropped at a threshold, fitting it, and the setting that chooses the threshold."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from heed.model.runtime.completer import Completer, InlineSuggestion, sure_enough
from heed.model.runtime.confidence import (
    CALIBRATION,
    FEATURES,
    Calibration,
    Cut,
    agreement,
    features,
    line_context,
)
from heed.model.runtime.predictor import Predictor, load_predictor
from heed.model.text.stream import TokenStream
from heed.model.training.calibrate import fit_logistic, pick_threshold
from heed.model.training.metrics import accepted_chars, accepts
from heed.server.settings import parse_settings


def test_features_read_the_steps() -> None:
    x = features([-0.1, -2.0, -0.5], whole=True, ends_line=True, typed=False, context="after a dot")
    named = dict(zip(FEATURES, x))
    assert len(x) == len(FEATURES)
    assert named["logp"] == pytest.approx(-2.6) and named["min_logp"] == pytest.approx(-2.0)
    assert named["first_logp"] == pytest.approx(-0.1) and named["whole"] == 1.0 and named["typed"] == 0.0
    assert named["context: after a dot"] == 1.0 and named["context: other"] == 0.0
    assert named["agree"] == 1.0  # no alternatives: nothing disagrees


def test_agreement_is_the_share_of_the_beam_that_starts_the_same_way() -> None:
    beam = [(["self", ".", "assertEqual", "(", "a"], -1.0), (["self", ".", "assertEqual", "(", "b"], -1.0),
            (["self", ".", "assertTrue", "("], -1.0 - np.log(2.0))]  # half as likely as each of the others
    assert agreement(["self", "."], beam) == pytest.approx(1.0)
    assert agreement(["self", ".", "assertEqual"], beam) == pytest.approx(0.8)
    assert agreement(["self", ".", "assertEqual", "(", "a"], beam) == pytest.approx(0.4)
    assert agreement(["other"], beam) == 0.0


@pytest.mark.parametrize(("before", "context"), [
    ("import os", "import line"), ("    x = self.", "after a dot"), ("    y = ", "after ="), ("f(a, ", "in brackets"),
    ("    return ", "keyword statement"), ("    x", "other"), ("a == ", "other"),
])
def test_line_context(before: str, context: str) -> None:
    assert line_context(before) == context


def _cal(threshold: float = 0.5) -> Calibration:
    # confidence rises with the total log-probability: logp -1 -> 0.5 at this bias
    w = [0.0] * len(FEATURES)
    w[FEATURES.index("bias")], w[FEATURES.index("logp")] = 2.0, 2.0
    return Calibration(tuple(w), threshold, "test")


def test_calibration_round_trip_and_refusals(tmp_path: Path) -> None:
    cal = _cal(0.3)
    cal.save(tmp_path)
    assert Calibration.load(tmp_path) == cal
    assert Calibration.load(tmp_path / "nowhere") is None
    data = json.loads((tmp_path / CALIBRATION).read_text())
    for broken in ("{", json.dumps({**data, "features": data["features"][:-1]}), json.dumps({**data, "threshold": "x"}),
                   json.dumps({**data, "weights": [float("nan")] * len(FEATURES)}).replace("NaN", "NaN")):
        (tmp_path / CALIBRATION).write_text(broken)
        with pytest.raises(ValueError, match=CALIBRATION):
            Calibration.load(tmp_path)


def test_a_broken_calibration_is_logged_and_the_model_still_loads(tiny_model_dir: Path, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / CALIBRATION).write_text("not json")
    with caplog.at_level(logging.WARNING):
        predictor = load_predictor(folder)
    assert predictor.calibration is None
    assert CALIBRATION in caplog.text and "without a confidence" in caplog.text


def _suggestion(confidence: float | None, cuts: list[tuple[str, float]]) -> InlineSuggestion:
    x = np.zeros(len(FEATURES))
    return InlineSuggestion("os.path.join(a, b)", -3.0, True, "", confidence, x,
                            [Cut(k, text, x, c) for k, (text, c) in zip(range(len(cuts), 0, -1), cuts)])


def test_sure_enough_shows_whole_cut_or_nothing() -> None:
    s = _suggestion(0.3, [("os.path.join", 0.6), ("os.path", 0.8), ("os", 0.95)])
    assert [x.text for x in sure_enough([s], 0.2)] == ["os.path.join(a, b)"]
    assert [x.text for x in sure_enough([s], 0.5)] == ["os.path.join"]
    assert [x.text for x in sure_enough([s], 0.7)] == ["os.path"]
    shown = sure_enough([s], 0.99)
    assert shown == []
    unknown = _suggestion(None, [])
    assert sure_enough([unknown], 0.99) == [unknown]  # no calibration: shown as before


def test_inline_with_a_calibration(tiny_predictor: Predictor, sample_source: str) -> None:
    stream = TokenStream(sample_source + "\ndef f(pat):\n    x = ")
    completer = Completer(tiny_predictor)
    try:
        tiny_predictor.calibration = _cal(0.5)
        everything = completer.inline(stream, len(stream.text), budget_s=60.0, min_confidence=0.0, all_cuts=True)
        assert everything and all(s.confidence is not None and 0 < s.confidence < 1 for s in everything)
        for s in everything:
            assert [c.tokens for c in s.cuts] == sorted((c.tokens for c in s.cuts), reverse=True)
            assert all(s.text.startswith(c.text) and c.confidence is not None for c in s.cuts)
        assert completer.inline(stream, len(stream.text), budget_s=60.0, min_confidence=1.0) == []
        shown = completer.inline(stream, len(stream.text), budget_s=60.0, min_confidence=0.5)
        assert all(s.confidence is not None and s.confidence >= 0.5 for s in shown)
    finally:
        tiny_predictor.calibration = None
    plain = completer.inline(stream, len(stream.text), budget_s=60.0)
    assert plain and all(s.confidence is None for s in plain)


def test_fit_logistic_recovers_a_known_model() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(4000), rng.normal(size=4000), rng.normal(size=4000)])
    true = np.array([-0.5, 2.0, -1.0])
    y = (rng.random(4000) < 1 / (1 + np.exp(-x @ true))).astype(float)
    w = fit_logistic(x, y, l2=0.01)
    assert np.allclose(w, true, atol=0.2)


def test_pick_threshold() -> None:
    rows = [{"threshold": t, "shown": 1 - t, "exact": e, "chars": 10.0} for t, e in ((0.0, 0.2), (0.2, 0.4), (0.4, 0.55), (0.6, 0.7))]
    assert pick_threshold(rows) == 0.4
    low = [{**r, "exact": 0.1, "chars": c} for r, c in zip(rows, (5.0, 10.0, 11.0, 15.0))]
    assert pick_threshold(low) == 0.2  # most characters over all places: 10 x 0.8


@pytest.mark.parametrize(("expected", "shown", "ok", "chars"), [
    ("os.path.join(a, b)", "os.path.join(a, b)", True, 18), ("os.path.join(a, b)", "os.path", True, 7),
    ("xs = 1", "x", False, 1), ("foo(bar)", "foo(baz)", False, 6), ("a", "", False, 0),
])
def test_accepts(expected: str, shown: str, ok: bool, chars: int) -> None:
    assert accepts(expected, shown) is ok
    assert accepted_chars(expected, shown) == chars


def test_min_confidence_setting() -> None:
    settings, errors = parse_settings({"inline": {"minConfidence": 0.4}})
    assert settings.inline.min_confidence == 0.4 and not errors
    settings, errors = parse_settings({"inline": {"minConfidence": 0}})
    assert settings.inline.min_confidence == 0.0 and isinstance(settings.inline.min_confidence, float)
    for bad in (2, "high", True):
        settings, errors = parse_settings({"inline": {"minConfidence": bad}})
        assert settings.inline.min_confidence == -1.0 and len(errors) == 1 and "minConfidence" in errors[0]


def test_samples_label_each_suggestion_and_cut_by_the_rest_of_the_line() -> None:
    from heed.model.training.calibrate import samples
    from heed.model.training.projects import FileScore, LinePlace

    x = np.ones(len(FEATURES))
    s = InlineSuggestion("os.path.join(a, b)", -3.0, True, "", None, x,
                         [Cut(4, "os.path.join", 2 * x), Cut(1, "os", 3 * x)])
    wrong = InlineSuggestion("sys.exit()", -5.0, True, "", None, 4 * x)
    f = FileScore(lines=[LinePlace("os.path.join(c)", "other", [s, wrong])])
    xs, ys = samples([f])
    assert ys.tolist() == [0.0, 1.0, 1.0, 0.0]  # whole wrong, both cuts right, the other wrong
    assert xs[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0]
    f.judge(0.0)
    assert f.shown == [True] and f.exact == [False] and f.right == [False] and f.chars == [len("os.path.join(")]


def test_heed_calibrate_command(tiny_model_dir: Path, tmp_path: Path) -> None:
    """`heed calibrate` refuses a missing folder; on real projects with the (random) tiny model it
    either writes a calibration `heed check` then reports, or says there is nothing to fit."""
    import subprocess
    import sys

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    base = [sys.executable, "-m", "heed", "calibrate", "--model", str(folder), "--files-per-project", "1"]
    missing = subprocess.run([*base, "--projects", str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert missing.returncode == 1 and "not a folder" in missing.stderr
    project = tmp_path / "proj"
    project.mkdir()
    (project / "mod.py").write_text("".join(f"def f{i}(a, b):\n    return a.attr{i} + b\n\n" for i in range(40)))
    done = subprocess.run([*base, "--projects", str(project)], capture_output=True, text=True, timeout=300)
    if done.returncode == 0:
        assert Calibration.load(folder) is not None
        check = subprocess.run([sys.executable, "-m", "heed", "check", "--model", str(folder)], capture_output=True, text=True)
        assert "ghost text calibrated (threshold" in check.stdout
    else:
        assert "nothing to fit" in done.stderr and Calibration.load(folder) is None
