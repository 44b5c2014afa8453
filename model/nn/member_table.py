"""The corpus's member table: for each receiver in the vocabulary, how often each attribute
followed it after a dot in the training split (names outside the vocabulary counted together
as `<unk>`). `heed train` builds it (and adds a fine-tune's counts to the base model's); it is
saved beside the weights as `members.safetensors`, and a model folder without it works as
before. How it re-ranks the distribution after a dot: `model/runtime/rerank.py`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from heed.model.text.vocab import Vocab

FILE = "members.safetensors"


@dataclass
class MemberTable:
    """Attribute counts per receiver, in CSR form over vocabulary ids."""

    receivers: np.ndarray  # [R] sorted receiver ids
    starts: np.ndarray  # [R + 1] each receiver's run in `attrs`/`counts`
    attrs: np.ndarray  # attribute ids (the `<unk>` id: any name outside the vocabulary)
    counts: np.ndarray

    @staticmethod
    def build(ids: np.ndarray, vocab: Vocab) -> MemberTable:
        """From a training split's token ids (files one after another: a dot never starts a file)."""
        ids = np.asarray(ids, np.int64)
        at = np.flatnonzero(ids[1:-1] == vocab.index.get(".", -1)) + 2  # the token after each dot
        names = np.array([t.isidentifier() for t in vocab.tokens]) & np.array(vocab.answerable())
        names[vocab.unk] = True
        keep = names[ids[at]] & names[ids[at - 2]] & (ids[at - 2] != vocab.unk)
        pairs, counts = np.unique(ids[at - 2][keep] * len(vocab) + ids[at][keep], return_counts=True)
        recv, attrs = np.divmod(pairs, len(vocab))
        receivers, first = np.unique(recv, return_index=True)
        return MemberTable(receivers.astype(np.int32), np.append(first, len(pairs)).astype(np.int64),
                           attrs.astype(np.int32), counts.astype(np.int32))

    def merged(self, other: MemberTable) -> MemberTable:
        """Both tables' counts added (fine-tuning keeps what the base model's corpus knew)."""
        pairs = np.concatenate([self._pairs(), other._pairs()])
        counts = np.concatenate([self.counts, other.counts]).astype(np.int64)
        keys, inverse = np.unique(pairs, axis=0, return_inverse=True)
        total = np.zeros(len(keys), np.int64)
        np.add.at(total, inverse.ravel(), counts)
        receivers, first = np.unique(keys[:, 0], return_index=True)
        return MemberTable(receivers.astype(np.int32), np.append(first, len(keys)).astype(np.int64),
                           keys[:, 1].astype(np.int32), np.minimum(total, 2**31 - 1).astype(np.int32))

    def _pairs(self) -> np.ndarray:
        return np.stack([np.repeat(self.receivers, np.diff(self.starts)), self.attrs], 1)

    def of(self, receiver: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(attribute ids, their share) after `receiver`, or None if it was never seen before a dot."""
        i = int(np.searchsorted(self.receivers, receiver))
        if i >= len(self.receivers) or self.receivers[i] != receiver:
            return None
        a, b = self.starts[i], self.starts[i + 1]
        counts = self.counts[a:b].astype(np.float64)
        return self.attrs[a:b], counts / counts.sum()

    def save(self, folder: Path) -> None:
        tmp = folder / (FILE + ".tmp")  # renamed into place once whole, as the weights are
        save_file({k: getattr(self, k) for k in ("receivers", "starts", "attrs", "counts")}, str(tmp),
                  metadata={"format": "heed-members"})
        os.replace(tmp, folder / FILE)

    @staticmethod
    def load(folder: Path, vocab_size: int) -> MemberTable | None:
        """The folder's table; None if it has none. A table that does not fit raises ValueError."""
        path = folder / FILE
        if not path.is_file():
            return None
        arrays = load_file(str(path))
        table = MemberTable(*(arrays[k] for k in ("receivers", "starts", "attrs", "counts")))
        ok = (
            table.starts.ndim == 1 and len(table.starts) == len(table.receivers) + 1 and table.starts[0] == 0
            and table.starts[-1] == len(table.attrs) == len(table.counts) and bool((np.diff(table.starts) > 0).all())
            and bool((table.counts > 0).all())
            and all(len(x) == 0 or (x.min() >= 0 and x.max() < vocab_size) for x in (table.receivers, table.attrs))
        )
        if not ok:
            raise ValueError(f"{path} does not fit a vocabulary of {vocab_size}")
        return table
