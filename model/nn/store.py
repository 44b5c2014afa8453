"""The released model format: one folder, nothing on the loading path unpickles.

    model.safetensors   weights (float16 to keep the shipped file small; loaded as float32)
    config.json         the network's ModelConfig, plus training metadata under "meta"
    vocab.json          the vocabulary and the tokenizer version it was built with
    members.safetensors (optional) attributes per receiver in the training corpus (member_table.py)

Every way a folder can be wrong (missing, truncated, a pickle in disguise, a vocabulary that
does not fit the weights, a config out of range, another tokenizer) ends in a `ModelError` with
a message a user can act on.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from heed.model.nn.config import ModelConfig, weight_shapes
from heed.model.nn.member_table import MemberTable
from heed.model.nn.numpy_net import NumpyNet
from heed.model.text.vocab import SAME_KEYS_AS, TOKENIZER_VERSION, Vocab

if TYPE_CHECKING:
    from heed.model.nn.network import HeedLM

WEIGHTS, CONFIG, VOCAB = "model.safetensors", "config.json", "vocab.json"


class ModelError(Exception):
    """A model folder that cannot be used, and why."""


def default_model_dir() -> Path:
    """The model shipped inside the package."""
    return Path(str(resources.files("heed.model") / "default"))


def write_atomically(path: Path, text: str) -> None:
    """Write a text file under a temporary name, then rename it into place."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save_model(folder: Path, model: HeedLM, vocab: Vocab, meta: dict[str, Any] | None = None) -> None:
    # Each file is written under a temporary name and renamed into place once complete: training
    # killed while it releases a model leaves the previous release loadable, not a truncated file.
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().float().numpy().astype(np.float16) for k, v in model.state_dict().items()}
    tmp = folder / (WEIGHTS + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": "heed", "tokenizer_version": vocab.tokenizer_version})
    os.replace(tmp, folder / WEIGHTS)
    config = {"model": model.config.to_json(), "meta": meta or {}}
    write_atomically(folder / CONFIG, json.dumps(config, indent=1))
    write_atomically(folder / VOCAB, json.dumps(vocab.to_json(), ensure_ascii=False))


def load_weights(folder: Path | str | None = None, to_fine_tune: bool = False
                 ) -> tuple[ModelConfig, dict[str, np.ndarray], Vocab, dict[str, Any]]:
    """(config, float32 weights, vocabulary, metadata) from a model folder; the bundled one by
    default. No torch: the server runs these weights in numpy (`numpy_net.py`). `to_fine_tune`
    also takes a model of an earlier tokenizer with the same keys (its vocabulary carried over):
    fine-tuning is how such a model comes to read the current roles."""
    folder = Path(folder) if folder else default_model_dir()
    if not folder.is_dir():
        raise ModelError(f"model folder {folder} does not exist")
    for name in (WEIGHTS, CONFIG, VOCAB):
        if not (folder / name).is_file():
            raise ModelError(f"model folder {folder} has no {name}")
    try:
        raw = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not isinstance(raw.get("model"), dict):
            raise ValueError('expected an object with a "model" object in it')  # not a bare KeyError: 'model'
        config = ModelConfig.from_json(raw["model"])
        meta = raw.get("meta", {})
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{folder / CONFIG}: invalid config: {exc}") from exc
    try:
        vocab = Vocab.load(folder / VOCAB)
    except (ValueError, UnicodeDecodeError) as exc:
        why = str(exc)  # Vocab.load's own messages start with the path already
        raise ModelError(why if why.startswith(str(folder / VOCAB)) else f"{folder / VOCAB}: {why}") from exc
    if to_fine_tune and vocab.tokenizer_version in SAME_KEYS_AS:
        vocab = vocab.carried_over()
    if vocab.tokenizer_version != TOKENIZER_VERSION:
        raise ModelError(
            f"model {folder} was made for tokenizer {vocab.tokenizer_version!r}, this heed uses "
            f"{TOKENIZER_VERSION!r}: retrain it with `heed train` or use a matching heed version"
        )
    if len(vocab) != config.vocab_size:
        raise ModelError(f"{folder}: vocab.json has {len(vocab)} tokens but the config says {config.vocab_size}")
    try:
        tensors = load_file(str(folder / WEIGHTS))
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as exc:
        raise ModelError(f"{folder / WEIGHTS} is not a readable safetensors file of float16 or float32 weights ({exc}); "
                         "pickles are never loaded") from exc
    # Names and shapes are checked before anything is built, so that its size is the file's:
    # a config that does not fit the weights must not allocate whatever it asks for (hidden 4096
    # and 3 layers: 1.6 GB before the refusal; hidden 8192 and 8 layers: 17 GB).
    expected = weight_shapes(config)
    if set(tensors) != set(expected):
        raise ModelError(f"{folder / WEIGHTS}: tensors {sorted(set(tensors) ^ set(expected))} do not match the config")
    weights = {}
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != expected[name]:
            raise ModelError(f"{folder / WEIGHTS}: {name} has shape {tuple(tensor.shape)}, the config needs {expected[name]}")
        if tensor.dtype.kind != "f":
            raise ModelError(f"{folder / WEIGHTS}: {name} holds {tensor.dtype} values, not floating point")
        weights[name] = tensor.astype(np.float32)
        if not np.isfinite(weights[name]).all():
            raise ModelError(f"{folder / WEIGHTS}: {name} holds non-finite values")
    return config, weights, vocab, meta


def load_net(folder: Path | str | None = None) -> tuple[NumpyNet, Vocab, dict[str, Any]]:
    """(the network for inference, vocabulary, metadata) from a model folder: what the server runs."""
    config, weights, vocab, meta = load_weights(folder)
    return NumpyNet(config, weights), vocab, meta


TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # a bare `torch` on Linux is the several-GB CUDA build


def torch_missing() -> str:
    """"" where torch can be imported; else what to run to install it. Completion runs in numpy;
    training and adapting a model (`heed train`, `heed adapt`, "learn this project") need torch,
    an extra a plain install leaves out (`pip install heed-lsp[learn]`)."""
    try:
        if importlib.util.find_spec("torch") is not None:
            return ""
    except (ImportError, ValueError):  # a broken or blocked install: as good as none
        pass
    return (f"torch is not installed for {sys.executable}: training and learning a project need it (completion does "
            f"not); its CPU build: {sys.executable} -m pip install torch --index-url {TORCH_CPU_INDEX}")


def load_model(folder: Path | str | None = None, device: str = "cpu",
               to_fine_tune: bool = False) -> tuple[HeedLM, Vocab, dict[str, Any]]:
    """(the torch model in eval mode, vocabulary, metadata) from a model folder, to train or
    evaluate it (`load_weights` checks the folder)."""
    from heed.model.nn.network import HeedLM  # torch: only on the training side

    config, weights, vocab, meta = load_weights(folder, to_fine_tune)
    return HeedLM.of(config, weights).to(device).eval(), vocab, meta


def load_members(folder: Path | str | None, vocab: Vocab) -> MemberTable | None:
    """The model folder's member table (the bundled model's by default); None if it has none."""
    folder = Path(folder) if folder else default_model_dir()
    try:
        return MemberTable.load(folder, len(vocab))
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise ModelError(f"{folder}: its member table is unusable ({exc}); delete it or retrain") from exc
