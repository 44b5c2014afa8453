"""The project memory (`model/runtime/memory.py`): built by `heed adapt`, recalled at each completion."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from heed.model.nn.store import ModelError
from heed.model.runtime import memory
from heed.model.runtime.completer import Completer
from heed.model.runtime.memory import MEMORY, MEMORY_META, ProjectMemory
from heed.model.runtime.predictor import Features, load_predictor
from heed.model.text.stream import TokenStream
from heed.server.convert import SOURCE_LABEL, explanation_markdown

E = 16  # the tiny model's embedding size (tests/conftest.py)


def clusters(rng: np.random.Generator, n: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two far-apart centres, and `n` vectors near each."""
    a, b = np.full(E, 0.6, np.float32), np.full(E, -0.6, np.float32)
    near = lambda c: c + rng.normal(0, 0.05, (n, E)).astype(np.float32)  # noqa: E731
    return a, b, np.concatenate([near(a), near(b)])


def test_recall_votes_for_the_names_that_followed_the_nearest_contexts() -> None:
    rng = np.random.default_rng(0)
    a, b, vectors = clusters(rng)
    m = ProjectMemory.of(vectors, ["alpha"] * 40 + ["beta"] * 40, ["/p/a.py"] * 40 + ["/p/b.py"] * 40)
    got = m.recall(a)
    assert max(got, key=got.get) == "alpha" and got["alpha"] > 0.9
    assert abs(sum(got.values()) - 1) < 1e-5
    # A document never recalls its own file: `heed eval` must not see the file it evaluates.
    assert set(m.recall(a, leave_out="/p/a.py")) == {"beta"}
    assert m.recall(b, leave_out="/p/elsewhere.py")["beta"] > 0.9


def test_a_large_project_is_sampled_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "MAX_ENTRIES", 10)
    _, _, vectors = clusters(np.random.default_rng(1))
    m = ProjectMemory.of(vectors, [f"n{i}" for i in range(80)], ["/p/a.py"] * 80)
    assert len(m) == 10 and len(set(m.values.tolist())) == 10


def test_it_survives_a_round_trip_and_a_corrupt_one_is_refused(tmp_path: Path) -> None:
    _, b, vectors = clusters(np.random.default_rng(2))
    m = ProjectMemory.of(vectors, ["alpha"] * 40 + ["beta"] * 40, ["/p/a.py"] * 40 + ["/p/b.py"] * 40)
    assert ProjectMemory.load(tmp_path, E) is None  # none there: none
    m.save(tmp_path)
    again = ProjectMemory.load(tmp_path, E)
    assert again is not None and again.names == m.names and again.paths == m.paths
    assert max(again.recall(b), key=again.recall(b).get) == "beta"
    with pytest.raises(ValueError, match="do not fit"):
        ProjectMemory.load(tmp_path, E + 1)  # another model's memory
    (tmp_path / MEMORY).write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="project memory is unusable"):
        ProjectMemory.load(tmp_path, E)
    (tmp_path / MEMORY).unlink()
    with pytest.raises(ValueError, match="project memory is unusable"):
        ProjectMemory.load(tmp_path, E)  # half of it


def with_memory(tiny_model_dir: Path, tmp_path: Path, names: list[str], paths: list[str]) -> Path:
    """A copy of the tiny model with a memory whose entries all lie near every vector it makes."""
    folder = tmp_path / "adapted"
    shutil.copytree(tiny_model_dir, folder)
    vectors = np.random.default_rng(3).normal(0, 0.01, (len(names), E)).astype(np.float32)
    ProjectMemory.of(vectors, names, paths).save(folder)
    return folder


def popup_labels(completer: Completer, text: str) -> list[str]:
    stream = TokenStream(text)
    return [c.text for c in completer.popup(stream, len(text), max_items=50).candidates]


def test_a_name_only_the_memory_knows_reaches_the_popup(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = with_memory(tiny_model_dir, tmp_path, ["zebra_stripes"] * 20, [(tmp_path / "other.py").as_posix()] * 20)
    text = "import os\n\nvalue = os.getcwd()\n"
    assert "zebra_stripes" in popup_labels(Completer(load_predictor(folder), tmp_path / "doc.py"), text)
    assert "zebra_stripes" not in popup_labels(Completer(load_predictor(tiny_model_dir), tmp_path / "doc.py"), text)
    lesion = load_predictor(folder, Features(memory=False))
    assert "zebra_stripes" not in popup_labels(Completer(lesion, tmp_path / "doc.py"), text)
    # `heed explain` and the popup's details say where it came from.
    explained = Completer(load_predictor(folder), tmp_path / "doc.py").explain(TokenStream(text), len(text), "zebra_stripes")
    assert explained is not None and explained.source == "memory"
    assert explained.recalled_from == (tmp_path / "other.py").as_posix()
    assert "recalled from the project" in explanation_markdown(explained) and SOURCE_LABEL["memory"] == "recalled"
    # The document's own file's entries are left out (what is saved is not what is typed).
    mine = Completer(load_predictor(folder), tmp_path / "other.py")
    assert "zebra_stripes" not in popup_labels(mine, text)


def test_a_broken_memory_is_a_broken_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    """An adapted model whose memory is damaged is not loaded (the server falls back to the
    bundled model, tests/test_learning.py), and `heed check` says why."""
    folder = with_memory(tiny_model_dir, tmp_path, ["zebra_stripes"] * 5, ["/p/a.py"] * 5)
    assert load_predictor(folder).memory is not None
    ok = subprocess.run([sys.executable, "-m", "heed", "check", "--model", str(folder)], capture_output=True, text=True)
    assert ok.returncode == 0 and "a project memory of 5 names from 1 files" in ok.stdout
    (folder / MEMORY_META).write_text("{not json")
    with pytest.raises(ModelError, match="project memory is unusable"):
        load_predictor(folder)
    broken = subprocess.run([sys.executable, "-m", "heed", "check", "--model", str(folder)], capture_output=True, text=True)
    assert broken.returncode == 1 and "project memory is unusable" in broken.stderr
