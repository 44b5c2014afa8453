"""`heed train`'s settings, in a module without torch so that the command line starts fast."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    corpus: str
    out: str
    embed: int = 192
    hidden: int = 512
    window: int = 96
    far: int = 512  # names beyond the window the pointer can copy (with --init-from: grows the model's)
    dropout: float = 0.1
    role_dropout: float = 0.1  # roles shown as `unknown`, as they are for tokens beam search made up
    attribute_weight: float = 1.0  # the loss of a token after a dot (an attribute name) counts this many times
    pointer: bool = True
    batch: int = 32
    bptt: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: int = 200
    clip: float = 1.0
    epochs: int = 20
    max_steps: int = 0  # 0: no limit
    max_minutes: float = 0.0  # 0: no limit
    eval_every: int = 500
    eval_tokens: int = 200_000
    ckpt_every: int = 500
    patience: int = 4  # validations without improvement before stopping
    seed: int = 1234
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 autocast on CUDA, float32 elsewhere; or bf16, fp32
    threads: int = 0
    init_from: str = ""
    train_only: tuple[str, ...] = ()  # the model's top-level modules/parameters trained (empty: all); the rest frozen
    resume: bool = False
