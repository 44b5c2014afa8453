"""Token keys -> the model's inputs: vocabulary ids, role ids, and pointer identities (and the
parsed roles that the look-ups read beside them).

A name outside the vocabulary is `<unk>` to the embedding but keeps an identity of its own in
the document's table (`DocEncoder`), so that the pointer can copy it and the popup can show it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heed.model.text.vocab import Vocab


@dataclass
class Encoded:
    """Model inputs for a run of tokens."""

    ids: np.ndarray  # int64 vocabulary ids
    roles: np.ndarray  # int64 role ids, as the model reads them (no look-ahead)
    ext: np.ndarray  # int64 pointer identities (-1: not copyable)
    parsed: np.ndarray  # int64 role ids from libcst, which the look-ups read (not the network)

    FIELDS = ("ids", "roles", "ext", "parsed")

    def __len__(self) -> int:
        return len(self.ids)

    @staticmethod
    def concat(parts: list[Encoded]) -> Encoded:
        if not parts:
            z = np.zeros(0, np.int64)
            return Encoded(z, z.copy(), z.copy(), z.copy())
        return Encoded(*(np.concatenate([getattr(p, n) for p in parts]) for n in Encoded.FIELDS))

    def tail(self, start: int) -> Encoded:
        return Encoded(self.ids[start:], self.roles[start:], self.ext[start:], self.parsed[start:])

    def head(self, end: int) -> Encoded:
        return Encoded(self.ids[:end], self.roles[:end], self.ext[:end], self.parsed[:end])


class DocEncoder:
    """Token keys -> model inputs, with this document's table of names outside the vocabulary."""

    def __init__(self, vocab: Vocab):
        self.vocab = vocab
        self.answerable = vocab.answerable()
        self.oov: dict[str, int] = {}
        self.oov_texts: list[str] = []

    def ext_of_text(self, text: str) -> int:
        """Pointer identity of a name, adding it to the document's table if new."""
        vid = self.vocab.index.get(text)
        if vid is not None:
            return vid
        if text not in self.oov:
            self.oov[text] = len(self.oov_texts)
            self.oov_texts.append(text)
        return len(self.vocab) + self.oov[text]

    def encode(self, keys: list[str], kinds: list[str], roles: list[int], parsed: list[int]) -> Encoded:
        n = len(keys)
        ids = np.empty(n, np.int64)
        ext = np.empty(n, np.int64)
        index = self.vocab.index
        for i, (key, kind) in enumerate(zip(keys, kinds)):
            vid = index.get(key)
            if vid is not None:
                ids[i] = vid
                ext[i] = vid if self.answerable[vid] else -1
            else:
                ids[i] = self.vocab.encode(kind, key)
                ext[i] = self.ext_of_text(key) if kind == "name" else -1
        return Encoded(ids, np.asarray(roles, np.int64), ext, np.asarray(parsed, np.int64))

    def texts(self) -> list[str]:
        """The text of every pointer identity, in order."""
        return [*self.vocab.tokens, *self.oov_texts]

    def text_of(self, ext_id: int) -> str:
        size = len(self.vocab)
        return self.vocab.tokens[ext_id] if ext_id < size else self.oov_texts[ext_id - size]

    @property
    def n_ext(self) -> int:
        return len(self.vocab) + len(self.oov_texts)
