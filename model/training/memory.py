"""Building the project memory (`runtime/memory.py`): the network run over a workspace's files,
keeping the vector its output layer reads wherever a name comes next, with that name and its file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from heed.model.nn.network import HeedLM
from heed.model.runtime.memory import ProjectMemory
from heed.model.text.vocab import KIND_ID, Vocab
from heed.model.training.corpus import FileTokens, encode_file

SEGMENT = 512  # tokens a forward pass (the state carries over, as in training)


def file_vectors(model: HeedLM, vocab: Vocab, tokens: FileTokens) -> tuple[np.ndarray, list[str]]:
    """The output layer's input before every name of a file but its first token [n, E], and those names."""
    arrays = encode_file(tokens, vocab)
    ids, roles, ext = (torch.as_tensor(arrays[k], dtype=torch.long)[None] for k in ("ids", "roles", "ext"))
    n = ids.shape[1]
    captured: list[torch.Tensor] = []
    hook = model.proj.register_forward_hook(lambda _m, _i, out: captured.append(torch.tanh(out)[0].float()))
    try:
        state = model.initial_state(1)
        with torch.no_grad():
            for start in range(0, n - 1, SEGMENT):
                end = min(start + SEGMENT, n - 1)
                state = model(ids[:, start:end], roles[:, start:end], ext[:, start:end], state).state
    finally:
        hook.remove()
    if not captured:
        return np.zeros((0, model.config.embed), np.float32), []
    vectors = torch.cat(captured).numpy()  # position t: before token t + 1
    name = KIND_ID["name"]
    nexts = [t for t in range(n - 1) if tokens.kinds[t + 1] == name]
    return vectors[nexts], [tokens.keys[t + 1] for t in nexts]


def build_memory(model: HeedLM, vocab: Vocab, files: Sequence[tuple[Path, FileTokens]],
                 progress: bool = False) -> ProjectMemory | None:
    """The memory of `files` (path, tokens) as `model` reads them; None if they hold no name."""
    model.eval()
    vectors: list[np.ndarray] = []
    names: list[str] = []
    paths: list[str] = []
    for path, tokens in tqdm(files, desc="remembering", unit="file", disable=not progress, leave=False):
        v, n = file_vectors(model, vocab, tokens)
        vectors.append(v)
        names += n
        paths += [path.resolve().as_posix()] * len(n)
    if not names:
        return None
    return ProjectMemory.of(np.concatenate(vectors), names, paths)
