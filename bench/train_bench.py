"""Training speed: `heed train`'s step against a plain reference model of the same size, same run.

    python bench/train_bench.py --corpus runs/corpus                     # on the GPU, if there is one
    python bench/train_bench.py --corpus runs/corpus --device cpu --batch 8 --sizes 64 --steps 3

The reference is the model the issue quotes a figure for: embeddings -> one `nn.LSTM` -> attention
over the last K hidden states -> a vocabulary softmax mixed with a pointer over the same window
(about 0.46M tokens/s at H=512 and 0.75M at H=256 on one H100, vocabulary 16k, batch 256x128,
bf16). Here it is written plainly below and timed beside heed's own training step
(`Trainer.train_step`: roles, the far memory, attribute weighting, a few rows' accuracy), both at
the same sizes, on the same batches of the corpus, with bf16 autocast on CUDA, AdamW and gradient
clipping. heed's vocabulary is widened to the reference's size (its extra entries never occur;
the output layer costs the same). Tokens/s counts every position of the B x T batch.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F_
from torch import nn

from heed.model.nn.network import HeedLM
from heed.model.training.batches import Batch, Rows
from heed.model.training.config import TrainConfig
from heed.model.training.corpus import load_split
from heed.model.training.train import Trainer, lstm_runs_in_bf16, pick_device


class PlainPointerLM(nn.Module):
    """The reference: LSTM, window attention, vocabulary + pointer (Li et al. 2018), nothing else."""

    def __init__(self, vocab: int, embed: int, hidden: int, window: int):
        super().__init__()
        self.window = window
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.query = nn.Linear(hidden, hidden, bias=False)
        self.proj = nn.Linear(2 * hidden, embed)
        self.gate = nn.Linear(2 * hidden, 1)
        self.bias = nn.Parameter(torch.zeros(vocab))

    def forward(self, ids: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
                state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        h, c, mem, mem_ids = state
        B, T = ids.shape
        K = self.window
        out, (h, c) = self.lstm(self.embed(ids), (h, c))
        keys = torch.cat([mem.to(out.dtype), out], 1)  # [B, K+T, H]
        key_ids = torch.cat([mem_ids, ids], 1)
        q = torch.arange(T, device=ids.device)[:, None] + K
        k = torch.arange(K + T, device=ids.device)[None, :]
        band = (k <= q) & (k > q - K)
        scores = torch.einsum("bth,bkh->btk", self.query(out), keys).float() / math.sqrt(out.shape[-1])
        attn = torch.softmax(scores.masked_fill(~band, float("-inf")), -1)
        context = torch.einsum("btk,bkh->bth", attn.to(keys.dtype), keys)
        z = torch.cat([out, context], -1)
        logits = F_.linear(torch.tanh(self.proj(z)), self.embed.weight, self.bias)
        gate = torch.sigmoid(self.gate(z).float()).squeeze(-1)
        p_voc = torch.softmax(logits.float(), -1).gather(-1, targets[..., None]).squeeze(-1)
        p_ptr = (attn * (key_ids[:, None, :] == targets[..., None])).sum(-1)
        nll = -torch.log(gate * p_voc + (1 - gate) * p_ptr + 1e-9)
        loss = (nll * mask).sum() / mask.sum().clamp_min(1)
        return loss, (h.detach(), c.detach(), keys[:, -K:].detach(), key_ids[:, -K:])


def time_steps(step: Callable[[Batch], None], batches: list[Batch], warmup: int, device: torch.device) -> float:
    """Seconds per step, after `warmup` untimed steps (kernels chosen, allocator warm)."""
    for b in batches[:warmup]:
        step(b)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for b in batches[warmup:]:
        step(b)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / (len(batches) - warmup)


def reference_step(args: argparse.Namespace, hidden: int, device: torch.device, bf16: bool) -> Callable[[Batch], None]:
    """`bf16`: autocast on (False where the LSTM has no bf16 kernel: then all of it in float32)."""
    model = PlainPointerLM(args.vocab, args.embed, hidden, args.window).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    B = args.batch
    zeros = torch.zeros(1, B, hidden, device=device)
    state = [(zeros, zeros, torch.zeros(B, args.window, hidden, device=device),
              torch.full((B, args.window), -1, dtype=torch.long, device=device))]

    def step(batch: Batch) -> None:
        b = batch.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss, state[0] = model(b.ids, b.targets, b.mask, state[0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        float(loss.detach())  # a progress bar reads the loss every step; heed's step does too

    return step


def heed_step(args: argparse.Namespace, hidden: int, far: int, out: str) -> tuple[Callable[[Batch], None], Trainer]:
    cfg = TrainConfig(corpus=args.corpus, out=out, embed=args.embed, hidden=hidden, window=args.window, far=far,
                      batch=args.batch, bptt=args.bptt, device=args.device, attribute_weight=3.0)
    trainer = Trainer(cfg)
    if args.vocab > trainer.model.config.vocab_size:  # widen to the reference's vocabulary
        fp32 = trainer.model.lstm_in_fp32
        trainer.model = HeedLM(replace(trainer.model.config, vocab_size=args.vocab)).to(trainer.device)
        trainer.model.lstm_in_fp32 = fp32
        trainer.net = trainer.model
        trainer.opt = torch.optim.AdamW(trainer.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        pad = torch.zeros(args.vocab - len(trainer.answerable), dtype=torch.bool, device=trainer.device)
        trainer.answerable = torch.cat([trainer.answerable, pad])
    trainer.total = 10_000
    trainer.state = trainer.model.initial_state(args.batch, trainer.device)
    return (lambda b: trainer.train_step(b) and None), trainer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="a corpus folder (`heed corpus build`)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--sizes", default="512,256", help="hidden sizes, comma-separated")
    parser.add_argument("--vocab", type=int, default=16384)
    parser.add_argument("--embed", type=int, default=192)
    parser.add_argument("--window", type=int, default=96)
    parser.add_argument("--far", type=int, default=512, help="heed's far memory (the shipped model's)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--bptt", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    args = parser.parse_args()

    device = pick_device(args.device)
    bf16 = device.type == "cuda"  # as `heed train` decides
    lstm_bf16 = bf16 and lstm_runs_in_bf16(device)
    split = load_split(Path(args.corpus), "train")  # the same batches for every model
    rows = Rows(split, list(range(min(len(split), 4000))), args.batch, args.bptt, trim_tail=True)
    batches = [rows.batch_at(i % len(rows)) for i in range(args.warmup + args.steps)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for hidden in [int(s) for s in args.sizes.split(",")]:
            row: dict[str, float] = {"hidden": hidden}
            for name, far in (("heed", args.far), ("heed_far0", 0)):
                step, trainer = heed_step(args, hidden, far, f"{tmp}/{name}")
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats()
                row[name] = args.batch * args.bptt / time_steps(step, batches, args.warmup, device)
                if device.type == "cuda":
                    row[name + "_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
                del step, trainer
            row["reference"] = args.batch * args.bptt / time_steps(
                reference_step(args, hidden, device, lstm_bf16), batches, args.warmup, device)
            row["ratio"] = row["heed"] / row["reference"]
            results.append(row)
            print(f"H={hidden}: heed {row['heed']:,.0f} tok/s (far memory {args.far}), heed without it "
                  f"{row['heed_far0']:,.0f}, reference {row['reference']:,.0f}; heed / reference = {row['ratio']:.2f}",
                  flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    summary = {"device": name, "torch": torch.__version__, "bf16": bf16, "lstm": "bf16" if lstm_bf16 else "float32", "batch": args.batch,
               "bptt": args.bptt, "vocab": args.vocab, "embed": args.embed, "window": args.window, "steps": args.steps,
               "results": results}
    print(json.dumps(summary))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
