"""`heed adapt` (`model/training/adapt.py`): a model fine-tuned on a workspace's own files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from heed.model.nn.store import load_members, load_model
from heed.model.training.adapt import adapt, adapted_dir, split_of
from heed.model.training.projects import in_fifth
from tests.conftest import STDLIB


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A project of real code: 30 standard-library modules, one ignored by git, one in a virtual environment."""
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    sources = sorted(p for p in STDLIB.glob("*.py") if 2_000 < p.stat().st_size < 20_000)[:30]
    for p in sources:
        (root / "pkg" / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    (root / ".gitignore").write_text(f"pkg/{sources[0].name}\n")
    (root / "env").mkdir()
    (root / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    (root / "env" / "site.py").write_text("x = 1\n" * 500)
    return root


def test_a_workspace_adapts_and_the_result_is_a_model(workspace: Path, tiny_model_dir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEED_CACHE", str(tmp_path / "cache"))
    done = adapt(workspace, minutes=0.05, model=tiny_model_dir, progress=False)
    assert done.model == adapted_dir(workspace) and done.model.is_relative_to(tmp_path / "cache")
    assert done.files["train"] + done.files["valid"] == 29  # the ignored file and the venv left out
    assert done.files["valid"] >= 1 and done.tokens["train"] > done.tokens["valid"] > 0
    model, vocab, meta = load_model(done.model)
    base_model, base_vocab, _ = load_model(tiny_model_dir)
    assert vocab.tokens == base_vocab.tokens and meta["init_from"] == str(tiny_model_dir)
    assert not (done.model / "checkpoint").exists()
    members, base = load_members(done.model, vocab), load_members(tiny_model_dir, vocab)
    assert members is not None and base is not None and members.counts.sum() > base.counts.sum()  # the workspace's added


def test_leave_out_keeps_files_out_of_the_corpus(workspace: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    ignored = (workspace / ".gitignore").read_text().strip().removeprefix("pkg/")
    walked = [p for p in (workspace / "pkg").glob("*.py") if p.name != ignored]
    kept = [p for p in walked if not in_fifth(workspace, p)]
    assert 0 < len(kept) < len(walked), "the test's workspace needs files in and out of its evaluation fifth"
    done = adapt(workspace, tmp_path / "out", 0.05, tiny_model_dir, leave_out=lambda p: in_fifth(workspace, p), progress=False)
    assert done.files["train"] + done.files["valid"] == len(kept)
    assert load_model(tmp_path / "out")[2]["trained_steps"] >= 1


def test_too_little_python_is_a_clear_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    with pytest.raises(ValueError, match="too little Python"):
        adapt(tmp_path, tmp_path / "out", 0.05, tiny_model_dir, progress=False)
    assert not (tmp_path / "out").exists()


def test_the_split_is_by_path_and_stable() -> None:
    splits = [split_of(f"p/m{i}.py") for i in range(2000)]
    assert 0.07 < splits.count("valid") / len(splits) < 0.13
    assert splits == [split_of(f"p/m{i}.py") for i in range(2000)]
    assert sys.version_info >= (3, 10)


@pytest.mark.parametrize("trained", ["head", "embeddings"])
def test_a_partial_adaptation_leaves_the_rest_byte_identical(workspace: Path, tiny_model_dir: Path, tmp_path: Path,
                                                             trained: str) -> None:
    from safetensors.torch import load_file

    from heed.model.nn.store import WEIGHTS
    from heed.model.training.adapt import TRAINED

    done = adapt(workspace, tmp_path / "out", 0.02, tiny_model_dir, progress=False, trained=trained)
    assert load_model(done.model)[2]["trained_steps"] >= 1  # it loads, and it trained
    before, after = load_file(str(tiny_model_dir / WEIGHTS)), load_file(str(done.model / WEIGHTS))
    assert before.keys() == after.keys()
    parts = TRAINED[trained]
    frozen = [k for k in before if k.split(".")[0] not in parts]
    changed = [k for k in before if k.split(".")[0] in parts]
    assert any(k.startswith("lstm.") for k in frozen) and changed
    for k in frozen:
        assert before[k].numpy().tobytes() == after[k].numpy().tobytes(), f"{k} was frozen but changed"
    for k in changed:
        assert not before[k].equal(after[k]), f"{k} was to be trained but did not change"


def test_the_command_line_offers_every_part_to_train() -> None:
    from heed.cli import build_parser
    from heed.model.training.adapt import TRAINED

    action = next(a for a in build_parser()._subparsers._group_actions[0].choices["adapt"]._actions if a.dest == "train")
    assert list(action.choices) == list(TRAINED) and action.default == "all"


def test_the_memory_alone_keeps_the_weights_and_remembers_the_files_it_read(workspace: Path, tiny_model_dir: Path,
                                                                              tmp_path: Path) -> None:
    from heed.model.nn.store import WEIGHTS
    from heed.model.runtime.memory import ProjectMemory

    left_out = lambda p: in_fifth(workspace, p)  # noqa: E731
    done = adapt(workspace, tmp_path / "out", 0.02, tiny_model_dir, leave_out=left_out, progress=False, trained="none")
    assert (done.model / WEIGHTS).read_bytes() == (tiny_model_dir / WEIGHTS).read_bytes()
    model, _, _ = load_model(done.model)
    memory = ProjectMemory.load(done.model, model.config.embed)
    assert memory is not None and len(memory) > 1000
    read = {p.resolve().as_posix() for p in (workspace / "pkg").glob("*.py") if not left_out(p)}
    assert set(memory.paths) <= read and len(memory.paths) == done.files["train"] + done.files["valid"]
    assert all(n.isidentifier() for n in memory.names)


def test_fine_tuning_builds_the_memory_on_its_own_weights_unless_told_not_to(workspace: Path, tiny_model_dir: Path,
                                                                           tmp_path: Path) -> None:
    from heed.model.runtime.memory import MEMORY

    assert (adapt(workspace, tmp_path / "a", 0.02, tiny_model_dir, progress=False).model / MEMORY).is_file()
    assert not (adapt(workspace, tmp_path / "b", 0.02, tiny_model_dir, progress=False, memory=False).model / MEMORY).exists()
