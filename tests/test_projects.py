"""`heed eval --projects`: it scores what the popup answers, on text cut at the cursor."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from heed.model.lookup.modules import ModuleIndex
from heed.model.runtime.completer import Completer
from heed.model.runtime.predictor import Predictor
from heed.model.text.stream import TokenStream
from heed.model.training.positions import places, read_source, sample
from heed.model.training.projects import METRICS, evaluate_projects, score_file


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, stdlib_files: Callable[..., list[Path]]) -> Path:
    """A small project of three real modules (from the standard library)."""
    root = tmp_path_factory.mktemp("project") / "proj"
    (root / "pkg").mkdir(parents=True)
    for path in stdlib_files(3, 6_000, 14_000, seed=5):
        shutil.copyfile(path, root / "pkg" / path.name)
    return root


def test_places_are_where_the_expected_text_stands(project: Path) -> None:
    for path in sorted((project / "pkg").glob("*.py")):
        text = read_source(path)
        assert text is not None
        found = places(text)
        assert all(found[k] for k in ("attribute", "identifier", "line"))
        for p in found["attribute"]:
            assert text[p.offset - 1] == "." and text.startswith(p.expected, p.offset)
        for p in found["identifier"]:
            assert text.startswith(p.expected, p.offset) and p.expected.isidentifier()
        for p in found["line"]:
            assert text[p.offset :].split("\n")[0].strip() == p.expected
        again = sample(found, {"attribute": 3, "line": 2}, "seed")
        assert again == sample(found, {"attribute": 3, "line": 2}, "seed") and len(again) == 5
        assert [p.offset for p in again] == sorted(p.offset for p in again)


def test_the_rank_scored_is_the_place_in_a_fresh_popup(tiny_predictor: Predictor, project: Path) -> None:
    """At a few hundred places of real files: the rank `heed eval --projects` records (typing the
    file forward, states warmed as the server warms them) is the expected name's place in the
    popup a fresh completer gives for the text cut at the cursor."""
    checked = 0
    for path in sorted((project / "pkg").glob("*.py")):
        text = read_source(path)
        assert text is not None
        chosen = sample(places(text), {"attribute": 45, "identifier": 45}, f"agree:{path.name}")
        score = score_file(tiny_predictor, path, text, chosen, ModuleIndex())
        got = {kind: iter(ranks) for kind, ranks in score.ranks.items()}
        for place in chosen:
            fresh = Completer(tiny_predictor, path, ModuleIndex(exclude=path))
            labels = [c.text for c in fresh.popup(TokenStream(text[: place.offset]), place.offset).candidates]
            expected_rank = labels.index(place.expected) + 1 if place.expected in labels else 0
            assert next(got[place.kind]) == expected_rank, (path.name, place)
            checked += 1
    assert checked >= 200


def test_the_report_gives_each_figure_an_interval(tiny_predictor: Predictor, project: Path) -> None:
    report = evaluate_projects(tiny_predictor, [project], max_files=3, progress=False)
    pooled = report["pooled"]
    assert pooled["files"] == report["projects"]["proj"]["files"] == 3
    for name in METRICS:
        m = pooled[name]
        assert m["n"] > 0 and 0 <= m["low"] <= m["value"] <= m["high"] <= 1, (name, m)
    assert pooled["attribute_top1"]["value"] <= pooled["attribute_top5"]["value"]
    assert pooled["line_exact"]["value"] <= pooled["line_similarity"]["value"]


def test_the_command_line_evaluates_projects(tiny_model_dir: Path, project: Path) -> None:
    cmd = [sys.executable, "-m", "heed", "eval", "--model", str(tiny_model_dir), "--projects", str(project),
           "--files-per-project", "1", "--json"]
    report = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert report["pooled"]["files"] == 1 and report["pooled"]["identifier_top5"]["n"] > 0
    missing = subprocess.run(cmd[:-4] + [str(project / "nowhere")], capture_output=True, text=True)
    assert missing.returncode == 1 and "not a folder" in missing.stderr
