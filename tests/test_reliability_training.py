"""Training and corpus faults: killed training resumes exactly; bad corpus files and cache entries are survived.

tests/test_train.py already shows that a run stopped cleanly after a checkpoint and resumed ends
bit for bit where an uninterrupted run does, and tests/test_corpus.py that corrupt cache entries
(garbage, truncated, a wrong checksum, tampered tokens, no roles) are detected and rebuilt and
that unreadable, non-UTF-8, too large and unparsable files are skipped and counted. This file adds
the faults those leave out:

- training killed (SIGKILL, `os._exit`) at any moment, including halfway through writing a
  checkpoint or between its files, then `--resume`d: the same weights and optimizer state as one
  uninterrupted run;
- a released model folder is never left half-written;
- corpus files that are dangling symlinks, symlink loops, FIFOs or directories named x.py, and a
  cache that cannot be written (a file where the folder should be, a directory where an entry
  should be): the build finishes and counts what it skipped.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

STEPS, CKPT = 24, 4
DRIVER = r"""
import os, sys, json
from pathlib import Path
import heed.model.training.train as train
from heed.model.training.train import TrainConfig, Trainer

corpus, out, fault = sys.argv[1], sys.argv[2], sys.argv[3]
resume = fault == "resume"
calls = {"checkpoint": 0, "release": 0}

def faulty(real_save):
    def save(tensors, path, metadata=None):
        # fault = "<what>:<checkpoint|release>:<k>": act on the k-th write of that kind
        kind = "checkpoint" if "checkpoint" in str(path) else "release"
        calls[kind] += 1
        what, *where = fault.split(":")
        hit = where == [kind, str(calls[kind])]
        if what == "half-written" and hit:
            real_save(tensors, str(path) + ".full", metadata=metadata)  # then half of it where it was going
            data = Path(str(path) + ".full").read_bytes()
            Path(path).write_bytes(data[: len(data) // 2])
            os._exit(137)
        real_save(tensors, path, metadata=metadata)
        if what == "after-weights" and hit:
            os._exit(137)  # the weights are written, nothing after them is
    return save

import heed.model.nn.store as store
train.save_file = faulty(train.save_file)
store.save_file = faulty(store.save_file)
cfg = TrainConfig(corpus=corpus, out=out, embed=16, hidden=32, window=16, dropout=0.1, role_dropout=0.1,
                  batch=4, bptt=16, device="cpu", threads=1, eval_tokens=2000, patience=1000, epochs=1000,
                  lr=5e-3, warmup=4, max_steps=STEPS, eval_every=8, ckpt_every=CKPT, seed=7, resume=resume)
Trainer(cfg).run()
print("finished", flush=True)
""".replace("STEPS", str(STEPS)).replace("CKPT", str(CKPT))


def run_training(corpus: Path, out: Path, fault: str = "none", kill_after: float | None = None) -> int:
    """Train in a subprocess; with `kill_after`, SIGKILL it that many seconds after its first checkpoint."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(corpus), str(out), fault], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if kill_after is not None:
        deadline = time.monotonic() + 120
        while not (out / "checkpoint" / "train_state.json").exists() and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    if fault in ("none", "resume") and kill_after is None:
        assert proc.returncode == 0, err.decode()[-3000:]
    return proc.returncode


def final_state(out: Path) -> dict[str, torch.Tensor]:
    tensors = load_file(str(out / "checkpoint" / "train_state.safetensors"))
    info = json.loads((out / "checkpoint" / "train_state.json").read_text())
    assert info["step"] == STEPS
    return {k: v for k, v in tensors.items() if k.startswith(("model.", "opt."))}


@pytest.fixture(scope="module")
def reference(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    out = tmp_path_factory.mktemp("reference") / "run"
    run_training(tiny_corpus, out)
    return final_state(out)


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("fault", ["half-written:checkpoint:3", "after-weights:checkpoint:3",
                                   pytest.param("after-weights:checkpoint:5", marks=pytest.mark.slow)])
def test_killed_while_checkpointing_then_resumed_is_exact(tiny_corpus: Path, tmp_path: Path, reference, fault: str) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    assert run_training(tiny_corpus, out, fault) == 137
    run_training(tiny_corpus, out, "resume")
    assert_same(reference, final_state(out))


def test_killed_at_random_moments_then_resumed_is_exact(tiny_corpus: Path, tmp_path: Path, reference) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(11)
    killed = 0
    for i in range(2):
        out = tmp_path / f"run{i}"
        killed += run_training(tiny_corpus, out, kill_after=rng.uniform(0.0, 0.5)) == -signal.SIGKILL
        run_training(tiny_corpus, out, "resume")
        assert_same(reference, final_state(out))
    assert killed  # at least one run really died before it finished


def test_a_released_model_is_never_half_written(tiny_corpus: Path, tmp_path: Path) -> None:
    """Killed halfway through writing the released model (out/model.safetensors): the folder
    still holds the previous release, which loads."""
    from heed.model.nn.store import load_model

    out = tmp_path / "run"
    assert run_training(tiny_corpus, out, "half-written:release:2") == 137  # the first release is whole
    _, _, meta = load_model(out)
    assert meta["trained_steps"] == 8


# -- the corpus --------------------------------------------------------------------------------------

@pytest.fixture
def awkward_project(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.py").write_text("import os\n\nvalue = os.path.join('a', 'b')\n", encoding="utf-8")
    (src / "dangling.py").symlink_to(src / "nowhere.py")
    (src / "loop.py").symlink_to(src / "loop.py")
    os.mkfifo(src / "fifo.py")  # reading it would wait forever
    (src / "package.py").mkdir()  # a directory named like a module: walked into, not read
    (src / "package.py" / "inner.py").write_text("x = 1\n", encoding="utf-8")
    return src


def build(src: Path, out: Path, cache: Path):  # type: ignore[no-untyped-def]
    from heed.model.training.corpus import Source, build_corpus

    return build_corpus(out, [Source(src, "awkward")], vocab_size=100, min_count=1, cache_dir=cache, jobs=1, progress=False)


def test_unreadable_corpus_files_are_skipped_and_counted(awkward_project: Path, tmp_path: Path) -> None:
    stats = build(awkward_project, tmp_path / "corpus", tmp_path / "cache")
    assert stats.parsed == 2  # good.py and package.py/inner.py
    assert dict(stats.skipped) == {"unreadable": 2, "not_a_file": 1}
    manifest = json.loads((tmp_path / "corpus" / "manifest.json").read_text())
    assert manifest["skipped"] == {"unreadable": 2, "not_a_file": 1}
    assert sorted(f["path"] for f in manifest["files"]) == ["awkward/good.py", "awkward/package.py/inner.py"]


def test_a_cache_that_cannot_be_written_does_not_stop_the_build(awkward_project: Path, tmp_path: Path) -> None:
    (tmp_path / "cache-file").write_text("not a folder")
    stats = build(awkward_project, tmp_path / "corpus", tmp_path / "cache-file")
    assert stats.parsed + stats.corrupt_rebuilt == 2 and sum(stats.tokens.values()) > 0


def test_a_cache_entry_that_is_a_directory_is_survived(awkward_project: Path, tmp_path: Path) -> None:
    build(awkward_project, tmp_path / "corpus", tmp_path / "cache")
    entry = next((tmp_path / "cache").rglob("*.json"))
    entry.unlink()
    entry.mkdir()
    stats = build(awkward_project, tmp_path / "again", tmp_path / "cache")
    assert (stats.corrupt_rebuilt, stats.cached) == (1, 1)
    assert not list((tmp_path / "cache").rglob("*.tmp"))
    first = json.loads((tmp_path / "corpus" / "manifest.json").read_text())["files"]
    assert json.loads((tmp_path / "again" / "manifest.json").read_text())["files"] == first
