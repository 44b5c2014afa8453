"""The project memory: which name followed each context in the project's files, recalled by
nearest neighbours (a kNN-LM, Khandelwal et al. 2020).

`heed adapt` runs the network over the workspace's files and keeps, for every place where a name
comes next, the vector the output layer reads there and that name (`training/memory.py` builds
it). At a request, the entries nearest to the cursor's vector vote for their names, each by
exp(-distance / TEMPERATURE), and those votes are mixed into the network's distribution at
WEIGHT. It learns a project in the time one pass over it takes, and needs no gradient: on the
validation projects' evaluation fifths (`bench/adapt_probe.py --knn`, the network alone) it moved
attribute top-5 from 68.8% to 73.0% and identifier top-5 from 66.4% to 69.8%, where fine-tuning
for 3 minutes moved them by less than a point. With the workspace index on, whose n-grams and
look-up know much of the same, it adds a point or three to identifiers on the validation projects
and nothing measurable on the evaluation ones (docs/MODEL_CARD.md).

The vectors are kept in DIMS dimensions (their principal components over the project: the same
figures as all 192) and at most MAX_ENTRIES of them, so that a large project's memory stays
small (100,000 entries: 26 MB) and a search is one product. Entries remember their file:
a document never recalls its own file's entries (its buffer, not what is saved, counts, and
`heed eval` must not see the file it evaluates).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

MEMORY, MEMORY_META = "memory.safetensors", "memory.json"
FORMAT = "heed-memory-1"
NEIGHBOURS = 32  # entries that vote
TEMPERATURE = 8.0  # in squared distance between reduced vectors
WEIGHT = 0.2  # the votes' share of the next-token distribution
DIMS = 64
MAX_ENTRIES = 100_000


@dataclass
class ProjectMemory:
    keys: np.ndarray  # [N, DIMS] float32: the reduced vectors
    values: np.ndarray  # [N] int32: the name that came next, an index into `names`
    files: np.ndarray  # [N] int32: the file it came from, an index into `paths`
    names: list[str]
    paths: list[str]  # resolved, as `Path.resolve().as_posix()` writes them
    mean: np.ndarray  # [E] what is subtracted from a vector ...
    basis: np.ndarray  # [E, DIMS] ... before it is projected
    norms: np.ndarray = field(init=False)
    file_index: dict[str, int] = field(init=False)
    name_index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.norms = (self.keys * self.keys).sum(1)
        self.file_index = {p: i for i, p in enumerate(self.paths)}
        self.name_index = {n: i for i, n in enumerate(self.names)}

    def __len__(self) -> int:
        return len(self.values)

    @staticmethod
    def of(vectors: np.ndarray, names: list[str], paths: list[str], rng: np.random.Generator | None = None) -> ProjectMemory:
        """A memory of `vectors` [N, E], each followed by `names[i]` in `paths[i]` (sampled down
        to MAX_ENTRIES, reduced to their DIMS principal components)."""
        if len(vectors) > MAX_ENTRIES:
            keep = np.sort((rng or np.random.default_rng(0)).choice(len(vectors), MAX_ENTRIES, replace=False))
            vectors, names, paths = vectors[keep], [names[i] for i in keep], [paths[i] for i in keep]
        vectors = np.asarray(vectors, np.float32)
        mean = vectors.mean(0)
        centred = vectors - mean
        _, eigenvectors = np.linalg.eigh(centred.T @ centred)  # ascending: the last are the principal ones
        basis = np.ascontiguousarray(eigenvectors[:, ::-1][:, :DIMS], dtype=np.float32)
        name_list, name_ids = np.unique(np.array(names, dtype=object), return_inverse=True)
        path_list, path_ids = np.unique(np.array(paths, dtype=object), return_inverse=True)
        return ProjectMemory(centred @ basis, name_ids.astype(np.int32), path_ids.astype(np.int32),
                             [str(n) for n in name_list], [str(p) for p in path_list], mean, basis)

    def reduced(self, vector: np.ndarray) -> np.ndarray:
        """A vector [E] of the network's, in the memory's DIMS dimensions."""
        return (np.asarray(vector, np.float32) - self.mean) @ self.basis

    def recall(self, vector: np.ndarray, leave_out: str | None = None) -> dict[str, float]:
        """The names the entries nearest to `vector` [E] vote for, with their shares (summing to
        1), leaving out the entries of the file `leave_out` (a resolved path)."""
        q = self.reduced(vector)
        distance = self.norms - 2 * (self.keys @ q) + float(q @ q)
        mine = self.file_index.get(leave_out) if leave_out is not None else None
        if mine is not None:
            distance = np.where(self.files == mine, np.inf, distance)
        k = min(NEIGHBOURS, len(distance))
        if k == 0:
            return {}
        nearest = np.argpartition(distance, k - 1)[:k]
        nearest = nearest[np.isfinite(distance[nearest])]
        if not len(nearest):
            return {}
        d = distance[nearest]
        weight = np.exp(-(d - d.min()) / TEMPERATURE)
        weight /= weight.sum()
        shares: dict[str, float] = {}
        for i, w in zip(self.values[nearest].tolist(), weight.tolist()):
            shares[self.names[i]] = shares.get(self.names[i], 0.0) + w
        return shares

    def where(self, vector: np.ndarray, name: str, leave_out: str | None = None) -> str | None:
        """The file of the entry nearest to `vector` that `name` followed (for explanations)."""
        q = self.reduced(vector)
        mine = self.file_index.get(leave_out, -1) if leave_out is not None else -1
        ok = np.flatnonzero((self.values == self.name_index.get(name, -1)) & (self.files != mine))
        if not len(ok):
            return None
        distance = self.norms[ok] - 2 * (self.keys[ok] @ q)
        return self.paths[int(self.files[ok[int(np.argmin(distance))]])]

    def save(self, folder: Path) -> None:
        save_file({"keys": self.keys.astype(np.float16), "values": self.values, "files": self.files,
                   "mean": self.mean, "basis": self.basis}, str(folder / MEMORY))
        meta = {"format": FORMAT, "entries": len(self), "dims": int(self.keys.shape[1]), "names": self.names, "paths": self.paths}
        (folder / MEMORY_META).write_text(json.dumps(meta), encoding="utf-8")

    @staticmethod
    def load(folder: Path, embed: int) -> ProjectMemory | None:
        """The memory in a model folder; None if it has none. ValueError if it is unusable
        (another format, shapes that do not fit the model's `embed`, indices out of range)."""
        if not (folder / MEMORY).is_file() and not (folder / MEMORY_META).is_file():
            return None
        try:
            meta = json.loads((folder / MEMORY_META).read_text(encoding="utf-8"))
            t = load_file(str(folder / MEMORY))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format') if isinstance(meta, dict) else None!r}, not {FORMAT}")
            names, paths = meta["names"], meta["paths"]
            keys, values, files = t["keys"].astype(np.float32), t["values"], t["files"]
            n, dims = keys.shape
            if t["mean"].shape != (embed,) or t["basis"].shape != (embed, dims) or values.shape != (n,) or files.shape != (n,):
                raise ValueError("its shapes do not fit the model")
            if n and (values.min() < 0 or values.max() >= len(names) or files.min() < 0 or files.max() >= len(paths)):
                raise ValueError("an entry names no name or file")
            return ProjectMemory(keys, values.astype(np.int32), files.astype(np.int32), [str(x) for x in names],
                                 [str(x) for x in paths], t["mean"].astype(np.float32), t["basis"].astype(np.float32))
        except (OSError, SafetensorError, KeyError, TypeError, AttributeError, ValueError) as exc:  # JSON's errors included
            raise ValueError(f"{folder}: its project memory is unusable ({exc})") from exc
