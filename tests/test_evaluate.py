"""`heed eval`: the report's shape, its numbers' ranges, and the ablations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from heed.model.training.evaluate import evaluate

CATEGORIES = ("all", "identifier", "attribute")


def check_scores(scores: dict) -> None:
    assert set(scores) >= {"top1", "top5", "mrr", "n"}
    assert 0 <= scores["top1"] <= scores["top5"] <= 1 and 0 <= scores["mrr"] <= 1 and scores["n"] >= 0


def test_the_report_has_the_promised_shape(tiny_model_dir: Path, tiny_corpus: Path) -> None:
    report = evaluate(str(tiny_model_dir), [str(tiny_corpus)], line_points=3, progress=False)
    for category in CATEGORIES:
        check_scores(report[category])
        for baseline in ("unigram", "cache"):
            check_scores(report["baselines"][baseline][category])
            assert report["baselines"][baseline][category]["n"] == report[category]["n"]
    assert report["all"]["n"] > report["identifier"]["n"] > report["attribute"]["n"] > 0
    assert 0 <= report["pointer_share"] <= 1
    assert report["line"]["n"] == 3 and 0 <= report["line"]["exact_match"] <= report["line"]["edit_similarity"] <= 1
    assert report["pointer"] and report["far"] and report["cache"]


@pytest.mark.parametrize("flag, key", [("--no-pointer", "pointer"), ("--no-far", "far"), ("--no-cache", "cache")])
def test_the_ablations_switch_parts_off(tiny_model_dir: Path, tiny_corpus: Path, flag: str, key: str) -> None:
    """From the command line, with --json: the same points, the named part switched off."""
    cmd = [sys.executable, "-m", "heed", "eval", "--model", str(tiny_model_dir), "--corpus", str(tiny_corpus),
           "--line-points", "0", "--json"]
    full = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    lesioned = json.loads(subprocess.run(cmd + [flag], capture_output=True, text=True, check=True).stdout)
    assert full[key] and not lesioned[key]
    assert lesioned["all"]["n"] == full["all"]["n"]
    assert lesioned["identifier"] != full["identifier"]  # the part did something
