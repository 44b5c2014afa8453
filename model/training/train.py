"""`heed train`: train (or fine-tune) the model on a tokenized corpus, top to bottom.

    heed train --corpus runs/corpus --out runs/model                 # from scratch
    heed train --corpus runs/mine --init-from DEFAULT --out runs/ft  # fine-tune on your code
    torchrun --nproc_per_node 2 -m heed train ...                    # data-parallel (DDP)

Truncated back-propagation through each file, the LSTM state and the attention window carried
from segment to segment; AdamW, gradient clipping, warm-up then cosine decay, dropout; bf16 on
CUDA; periodic validation, checkpoints, early stopping and a training curve (CSV and PNG).

A checkpoint (`OUT/checkpoint/`) holds everything needed to continue bit for bit: weights,
optimizer moments, the carried state, the RNG and the position in the epoch, as safetensors and
JSON (no pickles). `--resume` picks it up.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from heed.model.nn.member_table import MemberTable
from heed.model.nn.network import HeedLM, ModelConfig, State, mixture
from heed.model.nn.store import load_members, load_model, save_model, write_atomically
from heed.model.text.roles import SYNTAX, UNKNOWN
from heed.model.training.batches import Batch, Rows, epoch_files
from heed.model.training.config import TrainConfig
from heed.model.training.corpus import corpus_vocab, load_split

log = logging.getLogger(__name__)


def pick_device(name: str) -> torch.device:
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def lstm_runs_in_bf16(device: torch.device) -> bool:
    """Whether `nn.LSTM` has a bf16 kernel here under autocast (forward and backward): cuDNN has
    one from 9.13, older builds and the CPU may not."""
    lstm = torch.nn.LSTM(8, 8, batch_first=True).to(device)
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            out, _ = lstm(torch.zeros(2, 3, 8, device=device))
        out.float().sum().backward()
    except RuntimeError as exc:
        log.warning("the LSTM runs in float32 under bf16 autocast: %s", str(exc).splitlines()[0])
        return False
    return True


class Trainer:
    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.rank = int(os.environ.get("RANK", 0))
        self.device = pick_device(cfg.device)
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed + self.rank)
        corpus = Path(cfg.corpus)
        self.train_split = load_split(corpus, "train")
        self.valid_split = load_split(corpus, "valid")
        if cfg.init_from:
            self.model, self.vocab, _ = load_model(cfg.init_from, "cpu", to_fine_tune=True)
            if cfg.far != self.model.config.far:  # grow (or drop) the far memory: a new far_bias
                grown = HeedLM(replace(self.model.config, far=cfg.far))
                grown.load_state_dict(self.model.state_dict(), strict=False)
                self.model = grown
            self.model.train()
            if corpus_vocab(corpus).tokens != self.vocab.tokens:
                raise SystemExit(f"the corpus {corpus} was not built with the vocabulary of {cfg.init_from}: "
                                 f"rebuild it with `heed corpus build --vocab {cfg.init_from}/vocab.json ...`")
        else:
            self.vocab = corpus_vocab(corpus)
            self.model = HeedLM(ModelConfig(
                vocab_size=len(self.vocab), embed=cfg.embed, hidden=cfg.hidden, window=cfg.window,
                far=cfg.far, dropout=cfg.dropout, pointer=cfg.pointer,
            ))
        # What follows each receiver's dot in this corpus (model/nn/member_table.py); fine-tuning adds
        # these counts to the base model's.
        self.members = MemberTable.build(self.train_split.ids, self.vocab)
        base = load_members(cfg.init_from, self.vocab) if cfg.init_from else None
        if base is not None:
            self.members = base.merged(self.members)
        self.model.to(self.device)
        self.bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and self.device.type == "cuda")
        if self.device.type == "cuda":  # what stays in float32 may use TensorFloat-32
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        if self.bf16:
            self.model.lstm_in_fp32 = not lstm_runs_in_bf16(self.device)
        if cfg.train_only:  # the rest frozen (before DDP, which registers what it reduces): no gradient,
            # no optimizer state, no weight decay; a part this model lacks (far_bias without far) is skipped
            for name, p in self.model.named_parameters():
                p.requires_grad_(name.split(".")[0] in cfg.train_only)
            if not any(p.requires_grad for p in self.model.parameters()):
                raise SystemExit(f"train_only {list(cfg.train_only)} names no part of the model")
        self.net: torch.nn.Module = self.model
        if self.world > 1:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        trained = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(trained, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.answerable = torch.tensor(self.vocab.answerable(), device=self.device)
        self.dot = self.vocab.index.get(".", -1)
        self.step = 0
        self.epoch = 0
        self.segment = 0  # next segment of the current epoch
        self.best = math.inf
        self.bad_evals = 0
        self.state: State | None = None
        self.history: list[dict[str, float]] = []
        self.elapsed = 0.0
        self.tokens_seen = 0

    # -- schedule and steps -------------------------------------------------------------------
    def total_steps(self) -> int:
        per_epoch = self._epoch_rows(0).segments
        total = per_epoch * self.cfg.epochs
        return min(total, self.cfg.max_steps) if self.cfg.max_steps else total

    def lr_at(self, step: int) -> float:
        cfg = self.cfg
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        progress = (step - cfg.warmup) / max(self.total - cfg.warmup, 1)
        if cfg.max_minutes:  # a time budget: decay by whichever runs out first
            progress = max(progress, self.elapsed / (cfg.max_minutes * 60))
        progress = min(progress, 1.0)
        return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    def _epoch_rows(self, epoch: int) -> Rows:
        files = epoch_files(len(self.train_split), epoch, self.cfg.seed, self.rank, self.world)
        rows = Rows(self.train_split, files, self.cfg.batch, self.cfg.bptt, trim_tail=True,
                    shuffle=np.random.default_rng([self.cfg.seed, epoch, self.rank]))
        if self.world > 1:  # every rank must take the same number of steps
            n = torch.tensor([rows.segments], device=self.device)
            dist.all_reduce(n, op=dist.ReduceOp.MIN)
            rows.segments = int(n.item())
        return rows

    def _autocast(self):  # type: ignore[no-untyped-def]
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def train_step(self, batch: Batch) -> dict[str, float]:
        b = batch.to(self.device)
        assert self.state is not None
        state = self.state.reset_rows(b.reset)
        for group in self.opt.param_groups:
            group["lr"] = self.lr_at(self.step)
        roles = b.roles
        if self.cfg.role_dropout:
            roles = roles.masked_fill(torch.rand(roles.shape, device=self.device) < self.cfg.role_dropout, UNKNOWN)
        weight = b.mask
        if self.cfg.attribute_weight != 1:  # attribute names, the hardest names to get right, weigh more
            weight = b.mask * torch.where(b.ids == self.dot, self.cfg.attribute_weight, 1.0)
        with self._autocast():
            out = self.net(b.ids, roles, b.ext, state, b.targets, b.target_ext, weight, names=b.roles != SYNTAX)
        self.opt.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip)
        self.opt.step()
        self.state = out.state.detach()
        with torch.no_grad():
            rows = slice(0, min(4, b.ids.shape[0]))  # accuracy on a few rows: the full mixture is large
            sub = out._replace(logits=out.logits[rows], attn=out.attn[rows], gate=out.gate[rows], key_ext=out.key_ext[rows])
            n_ext = int(max(b.target_ext[rows].max().item(), out.key_ext[rows].max().item(), len(self.vocab) - 1)) + 1
            pred = mixture(sub, n_ext, self.answerable).argmax(-1)
            hit = ((pred == self._truth(b.targets[rows], b.target_ext[rows])).float() * b.mask[rows]).sum()
        return {"loss": float(out.loss.detach()), "correct": float(hit), "counted": float(b.mask[rows].sum()), "tokens": float(b.mask.sum())}

    def _truth(self, targets: torch.Tensor, target_ext: torch.Tensor) -> torch.Tensor:
        """The index in the mixture that counts as right: -1 (nothing) for placeholders."""
        truth = torch.where(target_ext >= 0, target_ext, targets)
        return torch.where(self.answerable[targets] | (target_ext >= len(self.vocab)), truth, torch.full_like(truth, -1))

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        self.model.eval()
        files = list(range(len(self.valid_split)))
        rows = Rows(self.valid_split, files, self.cfg.batch, self.cfg.bptt)
        state = self.model.initial_state(self.cfg.batch, self.device)
        loss_sum = n = correct = 0.0
        limit = max(1, self.cfg.eval_tokens // (self.cfg.batch * self.cfg.bptt))
        for i, batch in enumerate(rows):
            if i >= limit:
                break
            b = batch.to(self.device)
            state = state.reset_rows(b.reset)
            with self._autocast():
                out = self.model(b.ids, b.roles, b.ext, state, b.targets, b.target_ext, b.mask)
            state = out.state
            m = b.mask.sum().item()
            loss_sum += float(out.loss) * m
            n += m
            n_ext = int(max(b.target_ext.max().item(), out.key_ext.max().item(), len(self.vocab) - 1)) + 1
            pred = mixture(out, n_ext, self.answerable).argmax(-1)
            correct += float(((pred == self._truth(b.targets, b.target_ext)).float() * b.mask).sum())
        self.model.train()
        return {"val_loss": loss_sum / max(n, 1), "val_acc": correct / max(n, 1)}

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> Path:
        cfg = self.cfg
        self.total = self.total_steps()
        if cfg.resume:
            self.load_checkpoint()
        main = self.rank == 0
        bar = tqdm(total=self.total, initial=self.step, desc="training", unit="step", disable=not main, dynamic_ncols=True)
        start = time.time() - self.elapsed
        window: list[dict[str, float]] = []
        stop = False
        self.model.train()
        while not stop and self.epoch < cfg.epochs:
            rows = self._epoch_rows(self.epoch)
            if self.state is None or self.segment == 0:
                self.state = self.model.initial_state(cfg.batch, self.device)
            while self.segment < len(rows):
                t0 = time.time()
                stats = self.train_step(rows.batch_at(self.segment))
                self.segment += 1
                self.step += 1
                self.tokens_seen += int(stats["tokens"]) * self.world
                stats["tok_s"] = stats["tokens"] * self.world / max(time.time() - t0, 1e-9)
                window = (window + [stats])[-50:]
                loss = sum(s["loss"] for s in window) / len(window)
                acc = sum(s["correct"] for s in window) / max(sum(s["counted"] for s in window), 1)
                tok_s = sum(s["tokens"] for s in window) * self.world / max(sum(s["tokens"] / s["tok_s"] for s in window), 1e-9)
                bar.update()
                bar.set_postfix(loss=f"{loss:.3f}", acc=f"{acc:.3f}", tok_s=f"{tok_s:,.0f}", refresh=False)
                self.elapsed = time.time() - start
                done = (cfg.max_steps and self.step >= cfg.max_steps) or (cfg.max_minutes and self.elapsed >= cfg.max_minutes * 60)
                if self.step % cfg.eval_every == 0 or done or self.segment == len(rows):
                    val = self.validate()
                    self.history.append({"step": self.step, "tokens": self.tokens_seen, "seconds": round(self.elapsed, 1),
                                         "train_loss": loss, "train_acc": acc, "lr": self.lr_at(self.step), "tok_s": tok_s, **val})
                    if main:
                        self.write_curve()
                        if val["val_loss"] < self.best:
                            self.save_release(self.out, val)
                        log.info("step %d: %s", self.step, val)
                    if val["val_loss"] < self.best - 1e-4:
                        self.best, self.bad_evals = val["val_loss"], 0
                    else:
                        self.bad_evals += 1
                        if self.bad_evals >= cfg.patience:
                            log.warning("validation loss has not improved for %d evaluations: stopping early", self.bad_evals)
                            stop = True
                if main and (self.step % cfg.ckpt_every == 0 or done or stop):
                    self.save_checkpoint()
                if done or stop:
                    stop = True
                    break
            else:
                self.epoch += 1
                self.segment = 0
        bar.close()
        if main:
            self.save_checkpoint()
            self.write_curve()
        if self.world > 1:
            dist.barrier()
        return self.out

    # -- files ------------------------------------------------------------------------------------
    def save_release(self, folder: Path, val: dict[str, float]) -> None:
        meta = {"trained_steps": self.step, "trained_tokens": self.tokens_seen, "train_seconds": round(self.elapsed, 1),
                "device": str(self.device), "world_size": self.world, "corpus": self.cfg.corpus,
                "init_from": self.cfg.init_from, **{k: round(v, 4) for k, v in val.items()}}
        save_model(folder, self.model, self.vocab, meta)
        self.members.save(folder)

    def save_checkpoint(self) -> None:
        folder = self.out / "checkpoint"
        folder.mkdir(parents=True, exist_ok=True)
        tensors: dict[str, torch.Tensor] = {f"model.{k}": v.detach().cpu() for k, v in self.model.state_dict().items()}
        opt_state = self.opt.state_dict()
        for i, st in opt_state["state"].items():
            for k, v in st.items():
                tensors[f"opt.{i}.{k}"] = torch.as_tensor(v).detach().cpu()
        if self.state is not None:
            for name, t in self.state._asdict().items():
                tensors[f"carry.{name}"] = t.detach().cpu()
        tensors["rng.cpu"] = torch.get_rng_state()
        if self.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
        info = {"step": self.step, "epoch": self.epoch, "segment": self.segment, "best": self.best, "bad_evals": self.bad_evals,
                "elapsed": self.elapsed, "tokens_seen": self.tokens_seen, "history": self.history,
                "model": self.model.config.to_json(), "train": asdict(self.cfg)}
        # The whole state is one file, `info` in its metadata, renamed into place once complete: a
        # kill at any moment leaves the previous checkpoint whole and consistent. (Written as two
        # files in place, a kill halfway left a truncated file that --resume crashed on, and a kill
        # between them left new weights beside old counters, which --resume trained on silently.)
        tmp = folder / "train_state.safetensors.tmp"
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata={"train_state": json.dumps(info)})
        os.replace(tmp, folder / "train_state.safetensors")
        write_atomically(folder / "train_state.json", json.dumps(info, indent=1))  # for people and tools
        write_atomically(folder / "vocab.json", json.dumps(self.vocab.to_json(), ensure_ascii=False))

    def load_checkpoint(self) -> None:
        folder = self.out / "checkpoint"
        if not (folder / "train_state.safetensors").exists():
            log.warning("no checkpoint in %s: starting afresh", folder)
            return
        with safe_open(str(folder / "train_state.safetensors"), "pt") as f:
            saved = (f.metadata() or {}).get("train_state")
        # Checkpoints written before the state moved into the metadata keep it beside it only.
        info = json.loads(saved if saved else (folder / "train_state.json").read_text(encoding="utf-8"))
        tensors = load_file(str(folder / "train_state.safetensors"))
        self.model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        opt_state = self.opt.state_dict()
        for i in opt_state["param_groups"][0]["params"]:
            st = {k.split(".", 2)[2]: v.to(self.device) for k, v in tensors.items() if k.startswith(f"opt.{i}.")}
            if st:
                opt_state["state"][i] = st
        self.opt.load_state_dict(opt_state)
        if all(f"carry.{n}" in tensors for n in State._fields):  # else a fresh state, as at an epoch's start
            self.state = State(*(tensors[f"carry.{n}"].to(self.device) for n in State._fields))
        torch.set_rng_state(tensors["rng.cpu"])
        if "rng.cuda" in tensors and self.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
        for key in ("step", "epoch", "segment", "best", "bad_evals", "elapsed", "tokens_seen", "history"):
            setattr(self, key, info[key])
        log.info("resumed at step %d (epoch %d, segment %d)", self.step, self.epoch, self.segment)

    def write_curve(self) -> None:
        if not self.history:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / "curve.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(self.history[0]))
            writer.writeheader()
            writer.writerows(self.history)
        plot_curve(self.history, self.out / "curve.png")


def plot_curve(history: list[dict[str, Any]], path: Path) -> None:
    """Loss and accuracy over steps, training and validation (curve.csv holds them where matplotlib,
    which "learn this project" does not install, is missing)."""
    try:
        import matplotlib
    except ImportError:
        log.info("no matplotlib: %s not drawn", path.name)
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(steps, [h["train_loss"] for h in history], label="train")
    ax1.plot(steps, [h["val_loss"] for h in history], label="validation")
    ax1.set_xlabel("step")
    ax1.set_ylabel("loss (nats/token)")
    ax1.legend()
    ax2.plot(steps, [h["train_acc"] for h in history], label="train")
    ax2.plot(steps, [h["val_acc"] for h in history], label="validation")
    ax2.set_xlabel("step")
    ax2.set_ylabel("top-1 accuracy")
    ax2.legend()
    fig.suptitle("heed training")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(cfg: TrainConfig) -> Path:
    return Trainer(cfg).run()
