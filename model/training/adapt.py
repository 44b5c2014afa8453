"""`heed adapt`: the model fine-tuned on the project the user works in, on the CPU, in minutes.

The workspace's Python files, as the workspace index finds them (`model/workspace/files.py`:
`.gitignore` and exclusions honoured, virtual environments, huge and generated files left out),
are tokenized with the model's own vocabulary (names outside it stay reachable through the
pointer) into a corpus of two splits: a tenth of the files, chosen by a hash of their path,
held back to validate. The model is then fine-tuned on the rest for a time budget (one thread
by default, so that the editor keeps the other core), keeping the weights with the best
validation loss, and its member table gets the workspace's attribute counts added. Then the
model reads all those files once more to build the project memory (`runtime/memory.py`;
`--train none` builds it alone, on the unchanged model, in seconds). Neither adds more than
about a point over the workspace index on held-out projects (docs/MODEL_CARD.md).
The result is a model folder like the bundled one, written into the user's cache directory
under a hash of the workspace's path (or where `--out` says).

`leave_out` keeps files out of the corpus altogether: `heed eval --projects --fifth` evaluates
on a fifth of each project's files, and adapting on the other four fifths is the honest measure.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from heed.model.nn.store import default_model_dir, load_model
from heed.model.runtime.confidence import CALIBRATION
from heed.model.text.vocab import TOKENIZER_VERSION
from heed.model.training.config import TrainConfig
from heed.model.training.corpus import (
    FileTokens,
    SourceFile,
    default_cache_dir,
    encode_file,
    tokenize_files,
    write_split,
)
from heed.model.workspace.cache import adapted_dir
from heed.model.workspace.files import python_files

# What `--train` fine-tunes (the model's top-level parts, model/nn/network.py); the rest stays the
# base model's, byte for byte. The output embedding is the input one (tied): "head" leaves both as
# they are, and with the LSTM and the embeddings frozen no gradient goes back through the LSTM.
TRAINED: dict[str, tuple[str, ...]] = {
    "all": (),  # every weight
    "head": ("query", "proj", "gate", "decoder_bias", "far_bias"),  # the output side after the LSTM
    "embeddings": ("embed", "role_embed", "decoder_bias"),  # what each token is, in and out
    "no-lstm": ("query", "proj", "gate", "decoder_bias", "far_bias", "embed", "role_embed"),  # all but the LSTM
    "none": (),  # nothing: the base model as it is, with the project memory
}
MODEL_FILES = ("config.json", "model.safetensors", "vocab.json", "members.safetensors")  # `none` copies these

VALID_SHARE = 10  # percent of the workspace's files held back to validate
MIN_TRAIN_TOKENS = 2_000  # below this there is nothing to learn from


@dataclass
class Adapted:
    model: Path  # the adapted model's folder
    files: dict[str, int]  # split -> files
    tokens: dict[str, int]  # split -> tokens


def split_of(rel: str) -> str:
    """"valid" for VALID_SHARE percent of the workspace's files (by a hash of their path), else "train"."""
    return "valid" if int(hashlib.sha1(rel.encode()).hexdigest()[:8], 16) % 100 < VALID_SHARE else "train"


def workspace_corpus(root: Path, out: Path, model: Path, exclude: list[str], leave_out: Callable[[Path], bool] | None,
                     progress: bool) -> tuple[dict[str, int], dict[str, int], list[tuple[Path, FileTokens]]]:
    """Write the workspace's corpus (train and valid splits, the model's vocabulary) into `out`;
    also the tokens of each of its files (for the project memory)."""
    _, vocab, _ = load_model(model)
    files = [SourceFile(p, f"{root.name}/{p.relative_to(root).as_posix()}", False)
             for p in python_files(root, exclude, Counter())
             if leave_out is None or not leave_out(p)]
    encoded: dict[str, list] = {"train": [], "valid": [], "test": []}
    manifest_files = []
    read: list[tuple[Path, FileTokens]] = []
    for file, _status, sha, tokens in tokenize_files(files, default_cache_dir(), jobs=1, progress=progress):
        if tokens is None:
            continue
        read.append((file.path, tokens))
        split = split_of(file.label)
        encoded[split].append(encode_file(tokens, vocab))
        manifest_files.append({"path": file.label, "sha": sha, "split": split, "tokens": len(tokens.keys)})
    out.mkdir(parents=True, exist_ok=True)
    vocab.save(out / "vocab.json")
    counts = {split: write_split(out / f"{split}.npz", arrays) for split, arrays in encoded.items()}
    manifest = {"tokenizer_version": TOKENIZER_VERSION, "sources": [{"root": str(root), "label": root.name, "holdout": False}],
                "files": manifest_files, "tokens": counts}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return {s: len(a) for s, a in encoded.items() if s != "test"}, {s: n for s, n in counts.items() if s != "test"}, read


def adapt(workspace: Path, out: Path | None = None, minutes: float = 3.0, model: Path | None = None, threads: int = 1,
          lr: float = 3e-4, exclude: list[str] | None = None, leave_out: Callable[[Path], bool] | None = None,
          progress: bool = True, trained: str = "all", memory: bool = True) -> Adapted:
    """Fine-tune `model` (the bundled one by default) on `workspace`, only the parts TRAINED[trained]
    names (`none`: nothing), then build its project memory (unless not `memory`); raises
    ValueError when the workspace has too little Python to learn from."""
    from heed.model.training.memory import build_memory  # torch: only once there is something to learn
    from heed.model.training.train import train

    if trained not in TRAINED:
        raise ValueError(f"unknown part to train {trained!r}: one of {', '.join(TRAINED)}")
    base = model or default_model_dir()
    target = out or adapted_dir(workspace)
    with tempfile.TemporaryDirectory(prefix="heed-adapt-") as tmp:
        corpus = Path(tmp) / "corpus"
        files, tokens, read = workspace_corpus(workspace, corpus, base, exclude or [], leave_out, progress)
        if tokens["train"] < MIN_TRAIN_TOKENS or (not tokens["valid"] and trained != "none"):
            raise ValueError(f"{workspace} has too little Python to adapt to ({tokens['train']} tokens to train on, "
                             f"{tokens['valid']} to validate)")
        staging = Path(tmp) / "model"  # written whole, then moved: a reader never sees half a model
        cfg = TrainConfig(corpus=str(corpus), out=str(staging), init_from=str(base), lr=lr, warmup=10, batch=16,
                          bptt=128, epochs=1000, max_minutes=minutes, eval_every=20, eval_tokens=tokens["valid"],
                          patience=4, threads=threads, device="cpu", far=load_model(base)[0].config.far,
                          train_only=TRAINED[trained])
        if trained == "none":
            staging.mkdir()
            for name in MODEL_FILES:
                if (base / name).is_file():
                    shutil.copyfile(base / name, staging / name)
        else:
            train(cfg)
            shutil.rmtree(staging / "checkpoint", ignore_errors=True)
        if memory:
            net, vocab, _ = load_model(staging)
            built = build_memory(net, vocab, read, progress)
            if built is not None:
                built.save(staging)
        if (base / CALIBRATION).is_file():  # the base's ghost-text confidence, until `heed calibrate` fits one
            shutil.copyfile(base / CALIBRATION, staging / CALIBRATION)
        target.parent.mkdir(parents=True, exist_ok=True)
        incoming = target.with_name(f".{target.name}.incoming")  # beside it: the rename below is atomic
        shutil.rmtree(incoming, ignore_errors=True)
        try:
            shutil.copytree(staging, incoming)  # a full disk stops here, with the old model in place
            if target.exists():
                shutil.rmtree(target)
            incoming.rename(target)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
    return Adapted(target, files, tokens)
