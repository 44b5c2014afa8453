"""Training: the pointer learns to copy names outside the vocabulary, the loss falls, a resumed
run ends bit for bit where an uninterrupted one does, and 2-process DDP (gloo) runs."""

from __future__ import annotations

import csv
import json
import os
import random
import string
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from heed.model.nn.store import load_model
from heed.model.runtime.completer import Completer
from heed.model.runtime.predictor import load_predictor
from heed.model.text.stream import TokenStream
from heed.model.training.corpus import Source, build_corpus, corpus_vocab
from heed.model.training.train import TrainConfig, Trainer, train

TINY = dict(embed=16, hidden=32, window=16, dropout=0.0, role_dropout=0.0, batch=8, bptt=32, device="cpu", threads=1,
            eval_tokens=2000, patience=1000, epochs=1000)


def _names(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(string.ascii_lowercase) for _ in range(8)) for _ in range(n)]


@pytest.fixture(scope="module")
def copy_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 files of `NAME = <digit>` / `print(NAME)` blocks, 1,200 random names, each used in one
    file only: no name reaches the vocabulary (min_count 3), so after `print(` copying the name
    from the line above is the only way to be right."""
    base = tmp_path_factory.mktemp("copy")
    src = base / "src"
    src.mkdir()
    rng = random.Random(0)
    for i in range(150):
        lines = []
        for name in _names(rng, 8):
            lines += [f"{name} = {rng.randint(0, 9)}", f"print({name})"]
        (src / f"f{i}.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    build_corpus(base / "corpus", [Source(src, "copy")], vocab_size=64, min_count=3, cache_dir=base / "cache",
                 jobs=1, progress=False)
    return base / "corpus"


def test_pointer_copies_names_outside_the_vocabulary(copy_corpus: Path, tmp_path: Path) -> None:
    vocab = corpus_vocab(copy_corpus)
    assert "print" in vocab.index and not any(len(t) == 8 and t.isalpha() for t in vocab.tokens)
    out = train(TrainConfig(corpus=str(copy_corpus), out=str(tmp_path / "model"), lr=1e-2, warmup=20, max_steps=200,
                            eval_every=100, ckpt_every=1000, seed=1, **TINY))
    predictor = load_predictor(out)
    rng = random.Random(12345)  # names never seen in training
    hits = 0
    trials = 40
    for _ in range(trials):
        earlier, name = _names(rng, 2)
        text = f"{earlier} = 1\nprint({earlier})\n{name} = 7\nprint("
        popup = Completer(predictor).popup(TokenStream(text), len(text))
        top = popup.candidates[0]
        hits += top.text == name and top.source == "pointer"
    # chance: one of len(vocab) + 2 identities; the pointer gets it right nearly always
    assert hits / trials >= 0.8, f"pointer top-1 {hits}/{trials}"


def _curve(folder: Path) -> list[dict[str, float]]:
    with open(folder / "curve.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def test_training_loss_falls(tiny_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    train(TrainConfig(corpus=str(tiny_corpus), out=str(out), lr=5e-3, warmup=5, max_steps=60, eval_every=20,
                      ckpt_every=1000, seed=3, **{**TINY, "batch": 4}))
    curve = _curve(out)
    assert [row["step"] for row in curve][-1] == 60
    first, last = curve[0], curve[-1]
    assert last["train_loss"] < first["train_loss"] - 0.3, curve
    assert last["val_loss"] < first["val_loss"], curve
    for name in ("model.safetensors", "config.json", "vocab.json", "curve.png", "checkpoint/train_state.json"):
        assert (out / name).is_file(), name
    model, vocab, meta = load_model(out)
    assert len(vocab) == model.config.vocab_size and meta["trained_steps"] > 0


@pytest.mark.parametrize("lstm_in_fp32", [False, True])
def test_a_bf16_step_matches_float32(tiny_corpus: Path, tmp_path: Path, lstm_in_fp32: bool) -> None:
    """The CUDA path's mixed precision, run on the CPU: bf16 autocast, the LSTM in bf16 or (where
    it has no bf16 kernel) in float32. The loss is close to float32's and every weight gets a
    finite gradient."""
    losses = {}
    for precision in ("fp32", "bf16"):
        trainer = Trainer(TrainConfig(corpus=str(tiny_corpus), out=str(tmp_path / precision), seed=5,
                                      precision=precision, **TINY))
        trainer.model.lstm_in_fp32 = lstm_in_fp32 and precision == "bf16"
        trainer.total = 10
        trainer.state = trainer.model.initial_state(trainer.cfg.batch)
        torch.manual_seed(0)
        losses[precision] = trainer.train_step(trainer._epoch_rows(0).batch_at(0))["loss"]
        assert all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in trainer.model.parameters())
        assert trainer.state is not None and all(bool(torch.isfinite(t.float()).all()) for t in trainer.state[:3])
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.05), losses


# -- resuming ---------------------------------------------------------------------------------------


class _Interrupt(Exception):
    pass


def _model_tensors(out: Path) -> dict[str, torch.Tensor]:
    tensors = load_file(str(out / "checkpoint" / "train_state.safetensors"))
    return {k: v for k, v in tensors.items() if k.startswith(("model.", "opt."))}


def _assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys() and a
    for key in a:
        assert torch.equal(a[key], b[key]), key


N = 24  # steps


def _resume_config(corpus: Path, out: Path, **changes) -> TrainConfig:  # type: ignore[no-untyped-def]
    tiny = {**TINY, "batch": 4, "bptt": 16, "dropout": 0.1, "role_dropout": 0.1}  # randomness must resume too
    cfg = TrainConfig(corpus=str(corpus), out=str(out), lr=5e-3, warmup=4, max_steps=N, eval_every=N // 2,
                      ckpt_every=N // 2, seed=7, **tiny)
    return replace(cfg, **changes)


def test_resume_after_an_interruption_is_exact(tiny_corpus: Path, tmp_path: Path) -> None:
    """Stopped after the checkpoint at N/2 and resumed with the same settings: the same weights and
    optimizer moments as one uninterrupted run of N steps."""
    Trainer(_resume_config(tiny_corpus, tmp_path / "one")).run()

    cfg = _resume_config(tiny_corpus, tmp_path / "two")
    trainer = Trainer(cfg)
    step = trainer.train_step

    def interrupted(batch):  # type: ignore[no-untyped-def]
        if trainer.step == N // 2:
            raise _Interrupt
        return step(batch)

    trainer.train_step = interrupted  # type: ignore[method-assign]
    with pytest.raises(_Interrupt):
        trainer.run()
    info = json.loads((tmp_path / "two" / "checkpoint" / "train_state.json").read_text())
    assert info["step"] == N // 2
    resumed = Trainer(replace(cfg, resume=True))
    resumed.run()
    assert resumed.step == N
    _assert_same_tensors(_model_tensors(tmp_path / "one"), _model_tensors(tmp_path / "two"))
    assert [h["step"] for h in _curve(tmp_path / "two")] == [h["step"] for h in _curve(tmp_path / "one")]


def test_resume_with_more_steps_continues_where_it_stopped(tiny_corpus: Path, tmp_path: Path) -> None:
    """N/2 steps, then `resume` with max_steps N, equals N steps in one go. (The cosine schedule is
    stretched over max_steps, so this holds where the learning rate does not depend on the planned
    length: here, all N steps are warm-up.)"""
    Trainer(_resume_config(tiny_corpus, tmp_path / "one", warmup=1000, lr=0.5)).run()
    Trainer(_resume_config(tiny_corpus, tmp_path / "two", warmup=1000, lr=0.5, max_steps=N // 2)).run()
    resumed = Trainer(_resume_config(tiny_corpus, tmp_path / "two", warmup=1000, lr=0.5, resume=True))
    resumed.run()
    assert resumed.step == N
    _assert_same_tensors(_model_tensors(tmp_path / "one"), _model_tensors(tmp_path / "two"))


# -- data-parallel ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ddp_two_processes_on_cpu(tiny_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "heed", "train", "--corpus", str(tiny_corpus), "--out", str(out), "--max-steps", "4", "--device", "cpu",
           "--embed", "16", "--hidden", "32", "--window", "8", "--batch", "2", "--bptt", "16", "--eval-every", "2",
           "--eval-tokens", "200", "--threads", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (out / "model.safetensors").is_file()
    model, vocab, meta = load_model(out)
    assert meta["world_size"] == 2
    info = json.loads((out / "checkpoint" / "train_state.json").read_text())
    assert info["step"] == 4


def test_training_rows_drop_an_epoch_tail_that_few_rows_fill() -> None:
    """A long file beside short ones: for training, the segments where most rows are padding are
    dropped; for evaluation every token stays."""
    import numpy as np

    from heed.model.training.batches import Rows
    from heed.model.training.corpus import Split

    lengths = [2000] + [100] * 12
    n = sum(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    split = Split(*(np.arange(n, dtype=np.int64) % 50 for _ in range(5)), starts, [f"f{i}" for i in range(len(lengths))])
    files = list(range(len(lengths)))
    whole = Rows(split, files, batch=4, bptt=16)
    assert whole.mask.sum() == n - len(lengths)  # every target, once
    trimmed = Rows(split, files, batch=4, bptt=16, trim_tail=True)
    assert 0 < len(trimmed) < len(whole)
    for i in range(len(trimmed)):
        assert int((trimmed.batch_at(i).mask.sum(1) > 0).sum()) >= 2


def test_attribute_names_weigh_more_in_the_loss(tiny_corpus: Path, tmp_path: Path) -> None:
    """With --attribute-weight W the loss is the average in which a token after a dot counts W times."""
    torch.manual_seed(0)
    trainer = Trainer(_resume_config(tiny_corpus, tmp_path / "w", attribute_weight=4.0, dropout=0.0, role_dropout=0.0))
    rows = trainer._epoch_rows(0)
    dot = trainer.vocab.index["."]
    batch = next(b for b in (rows.batch_at(i) for i in range(len(rows))) if ((b.ids == dot) & (b.mask > 0)).any())
    after_dot = (batch.ids == dot) & (batch.mask > 0)
    state = trainer.model.initial_state(batch.ids.shape[0])
    with torch.no_grad():
        out = trainer.model(batch.ids, batch.roles, batch.ext, state)
        nll = trainer.model.nll(out.logits, out.attn, out.gate, out.key_ext, batch.targets, batch.target_ext)
    weight = batch.mask * (1 + 3 * after_dot)
    trainer.state = state
    loss = trainer.train_step(batch)["loss"]
    assert loss == pytest.approx(float((nll * weight).sum() / weight.sum()), rel=1e-4)
    assert loss != pytest.approx(float((nll * batch.mask).sum() / batch.mask.sum()), rel=1e-4)


def test_the_curve_is_drawn_only_where_matplotlib_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """"Learn this project" installs torch alone: without matplotlib, curve.csv stays and no
    curve.png is drawn, and training goes on."""
    import sys

    from heed.model.training.train import plot_curve

    history = [{"step": s, "train_loss": 3.0 / s, "val_loss": 3.2 / s, "train_acc": 0.1 * s, "val_acc": 0.1 * s} for s in (1, 2)]
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError
    plot_curve(history, tmp_path / "curve.png")
    assert not (tmp_path / "curve.png").exists()
