"""Corpus splits -> batches for truncated back-propagation through whole files.

Files are laid end to end in B parallel rows. Each file starts at a segment boundary (padded to
a multiple of T), so the trainer can carry the LSTM state from one segment to the next and
reset it exactly where a new file starts. Padding is masked out of the loss.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from heed.model.training.corpus import Split


@dataclass
class Batch:
    ids: torch.Tensor  # [B, T] inputs (also: the token before each target)
    roles: torch.Tensor
    ext: torch.Tensor
    kinds: torch.Tensor  # [B, T] kind of the *target* token (for per-kind metrics)
    targets: torch.Tensor  # [B, T] vocabulary id of the next token
    target_ext: torch.Tensor
    mask: torch.Tensor  # [B, T] 1 where there is a real target
    reset: torch.Tensor  # [B] bool: a new file starts at this segment

    def to(self, device: torch.device | str) -> Batch:
        return Batch(**{k: v.to(device, non_blocking=True) for k, v in self.__dict__.items()})


class Rows:
    """One epoch's layout of files into B rows of segments of length T."""

    def __init__(self, split: Split, files: list[int], batch: int, bptt: int, max_piece: int = 64,
                 trim_tail: bool = False, shuffle: np.random.Generator | None = None):
        self.batch, self.bptt = batch, bptt
        # A very long file would leave every other row padding while its own row runs on, so
        # files are cut into pieces of at most `max_piece` segments (each piece starts afresh).
        pieces: list[tuple[int, int, int]] = []  # (file, first token, tokens incl. the last target)
        for f in files:
            n = max(int(split.starts[f + 1] - split.starts[f]) - 1, 0)
            step = max_piece * bptt
            pieces += [(f, a, min(step, n - a) + 1) for a in range(0, n, step)]
        # Greedy: longest piece first, each to the row with the fewest segments so far.
        row_pieces: list[list[tuple[int, int, int]]] = [[] for _ in range(batch)]
        row_len = [0] * batch
        for piece in sorted(pieces, key=lambda p: -p[2]):
            r = int(np.argmin(row_len))
            row_pieces[r].append(piece)
            row_len[r] += -(-(piece[2] - 1) // bptt)
        self.segments = max(row_len) if row_len else 0
        if shuffle is not None:
            # Training: each row in random order. Left longest-first, every epoch ended on a run of
            # the smallest files, and validation loss rose over it (1.45 to 1.51 at the end of an
            # epoch, back to 1.44 soon after).
            for row in row_pieces:
                shuffle.shuffle(row)  # type: ignore[arg-type]
        size = (batch, self.segments * bptt)
        self.ids = np.zeros(size, np.int64)
        self.roles = np.zeros(size, np.int64)
        self.ext = np.full(size, -1, np.int64)
        self.kinds = np.zeros(size, np.int64)
        self.targets = np.zeros(size, np.int64)
        self.target_ext = np.full(size, -1, np.int64)
        self.mask = np.zeros(size, np.float32)
        self.where = np.full(size, -1, np.int64)  # index in the split of each input token (-1: padding)
        self.reset = np.zeros((batch, max(self.segments, 1)), bool)
        for r, row in enumerate(row_pieces):
            at = 0
            for f, first, length in row:
                a = {k: v[first : first + length] for k, v in split.file(f).items()}
                n = length - 1
                s = slice(at, at + n)
                self.ids[r, s] = a["ids"][:-1]
                self.roles[r, s] = a["roles"][:-1]
                self.ext[r, s] = a["ext"][:-1]
                self.kinds[r, s] = a["kinds"][1:]
                self.targets[r, s] = a["ids"][1:]
                self.target_ext[r, s] = a["ext"][1:]
                self.mask[r, s] = 1.0
                self.where[r, s] = np.arange(n) + split.starts[f] + first
                self.reset[r, at // bptt] = True
                at += -(-n // bptt) * bptt
        if trim_tail:
            # Training: the last segments, where most rows have run out of files, are dropped (the
            # files are shuffled again next epoch): a step on one or two files' tokens at full
            # learning rate is mostly noise.
            active = self.mask.reshape(batch, -1, bptt).any(-1).sum(0) if self.segments else np.zeros(0)
            full = np.flatnonzero(active >= max(batch // 2, 1))
            self.segments = int(full[-1]) + 1 if len(full) else 0

    def __len__(self) -> int:
        return self.segments

    def batch_at(self, i: int) -> Batch:
        s = slice(i * self.bptt, (i + 1) * self.bptt)
        t = torch.from_numpy
        return Batch(
            ids=t(self.ids[:, s]), roles=t(self.roles[:, s]), ext=t(self.ext[:, s]), kinds=t(self.kinds[:, s]),
            targets=t(self.targets[:, s]), target_ext=t(self.target_ext[:, s]),
            mask=t(self.mask[:, s]), reset=t(self.reset[:, i].copy()),
        )

    def __iter__(self) -> Iterator[Batch]:
        for i in range(len(self)):
            yield self.batch_at(i)


def epoch_files(n_files: int, epoch: int, seed: int, rank: int = 0, world: int = 1) -> list[int]:
    """This rank's files for an epoch: a seeded shuffle, dealt out by rank."""
    order = np.random.default_rng([seed, epoch]).permutation(n_files)
    return [int(i) for i in order[rank::world]]
