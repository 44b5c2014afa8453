"""Broken models: refused with a clear message, and the server keeps answering without them.

Every way a model folder can be wrong is offered to the real server, most through
`workspace/didChangeConfiguration` (one server, many folders, as a user trying paths would), a
few through `initializationOptions` at start-up. Each time: a `heed/status` of `fallback` whose
message names the problem, exactly one `window/showMessage`, completions still answered (from
the names in scope), the server's memory bounded, and no pickle ever unpickled: the pickles
here create a marker file when loaded, and the marker must never appear. At the end a good
model is taken again.
"""

from __future__ import annotations

import json
import pickle
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from test_reliability_harness import ClientDoc, ServerProcess

DEFAULT = Path(__file__).resolve().parents[1] / "model" / "default"
MARKER = "UNPICKLED"  # a file the pickles below create when anything loads them
MAX_LOAD_GROWTH_MB = 200  # what a refused model may add to the server's peak memory
DOC = ClientDoc("file:///models/doc.py", "import os\nvalue = os.path.join('a', 'b')\nva")


class Booby:
    """Unpickling this creates `path` (open(path, "w")): proof that a pickle was loaded."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (str(self.path), "w"))


def copy_default(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("config.json", "vocab.json", "model.safetensors"):
        shutil.copyfile(DEFAULT / name, folder / name)
    return folder


def edit_json(path: Path, change: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def set_model(key: str, value: object) -> Callable[[dict], None]:
    return lambda config: config["model"].__setitem__(key, value)


def tweak_weights(folder: Path, change: Callable[[dict], None]) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / "model.safetensors"))
    change(tensors)
    save_file(tensors, str(folder / "model.safetensors"))


def torch_pickle(path: Path, marker: Path) -> None:
    import torch

    torch.save({"embed.weight": Booby(marker)}, str(path))


def big_vocab(folder: Path, n: int) -> None:
    edit_json(folder / "vocab.json", lambda v: v["tokens"].extend(f"name:t{i}" for i in range(n - len(v["tokens"]))))
    edit_json(folder / "config.json", set_model("vocab_size", n))


def bad_members(folder: Path) -> None:
    from safetensors.numpy import load_file, save_file

    arrays = load_file(str(DEFAULT / "members.safetensors"))
    arrays["attrs"][0] = 10**6  # an attribute id no vocabulary of this model has
    save_file(arrays, str(folder / "members.safetensors"))


# name -> (how to spoil a copy of the default model, words the message must hold)
BROKEN: dict[str, tuple[Callable[[Path], None], str]] = {
    "folder missing": (lambda f: shutil.rmtree(f), "does not exist"),
    "a file, not a folder": (lambda f: (shutil.rmtree(f), f.write_text("x")), "does not exist"),
    "no weights": (lambda f: (f / "model.safetensors").unlink(), "has no model.safetensors"),
    "no vocabulary": (lambda f: (f / "vocab.json").unlink(), "has no vocab.json"),
    "weights a directory": (lambda f: ((f / "model.safetensors").unlink(), (f / "model.safetensors").mkdir()), "has no model.safetensors"),
    "empty weights": (lambda f: (f / "model.safetensors").write_bytes(b""), "not a readable safetensors"),
    "truncated weights": (lambda f: (f / "model.safetensors").write_bytes((DEFAULT / "model.safetensors").read_bytes()[:5000]), "not a readable safetensors"),
    "header claims 2**62 bytes": (lambda f: (f / "model.safetensors").write_bytes(struct.pack("<Q", 2**62) + b"{}"), "not a readable safetensors"),
    "random bytes": (lambda f: (f / "model.safetensors").write_bytes(bytes(range(256)) * 4000), "not a readable safetensors"),
    "NaN in a tensor": (lambda f: tweak_weights(f, lambda t: t["gate.weight"].fill_(float("nan"))), "non-finite"),
    "a tensor missing": (lambda f: tweak_weights(f, lambda t: t.pop("query.weight")), "do not match"),
    "a tensor reshaped": (lambda f: tweak_weights(f, lambda t: t.__setitem__("query.weight", t["query.weight"][:100])), "has shape"),
    "vocabulary one token short": (lambda f: edit_json(f / "vocab.json", lambda v: v["tokens"].pop()), "10000"),
    "vocabulary of another tokenizer": (lambda f: edit_json(f / "vocab.json", lambda v: v.__setitem__("tokenizer_version", "heed-tokens-0")), "tokenizer"),
    "vocabulary not JSON": (lambda f: (f / "vocab.json").write_bytes(b"\x80\x81 not json"), "vocab.json"),
    "vocabulary a list": (lambda f: (f / "vocab.json").write_text("[1, 2, 3]"), "not a heed vocabulary"),
    "vocabulary without specials": (lambda f: edit_json(f / "vocab.json", lambda v: v.__setitem__("tokens", ["a"] * 10000)), "malformed vocabulary"),
    "config not JSON": (lambda f: (f / "config.json").write_text("{model: 1"), "invalid config"),
    "config without model": (lambda f: edit_json(f / "config.json", lambda c: c.pop("model")), "a \"model\" object"),
    "config a list": (lambda f: (f / "config.json").write_text("[]"), "a \"model\" object"),
    "hidden 0": (lambda f: edit_json(f / "config.json", set_model("hidden", 0)), "hidden=0"),
    "100 layers": (lambda f: edit_json(f / "config.json", set_model("layers", 100)), "layers=100"),
    "window -1": (lambda f: edit_json(f / "config.json", set_model("window", -1)), "window=-1"),
    "embed a string": (lambda f: edit_json(f / "config.json", set_model("embed", "big")), "embed='big'"),
    "dropout 1.5": (lambda f: edit_json(f / "config.json", set_model("dropout", 1.5)), "dropout=1.5"),
    "hidden true": (lambda f: edit_json(f / "config.json", set_model("hidden", True)), "hidden=True"),
    "an unknown config key": (lambda f: edit_json(f / "config.json", set_model("heads", 8)), "unknown config keys"),
    "vocab_size 10**9": (lambda f: edit_json(f / "config.json", set_model("vocab_size", 10**9)), "vocab_size"),
    "config too big for the weights (was 1.6 GB)": (
        lambda f: edit_json(f / "config.json", lambda c: c["model"].update(hidden=4096, layers=3)), "do not match"),
    "a million-token vocabulary and config": (lambda f: big_vocab(f, 1_000_000), "has shape"),
    "a pickle named model.safetensors": (lambda f: torch_pickle(f / "model.safetensors", f.parent / MARKER), "pickles are never loaded"),
    "a raw pickle named model.safetensors": (
        lambda f: (f / "model.safetensors").write_bytes(pickle.dumps(Booby(f.parent / MARKER))), "pickles are never loaded"),
    "a pickle named members.safetensors": (lambda f: torch_pickle(f / "members.safetensors", f.parent / MARKER), "member table is unusable"),
    "a member table past the vocabulary": (lambda f: bad_members(f), "member table is unusable"),
    "only a pytorch_model.bin": (
        lambda f: ((f / "model.safetensors").unlink(), torch_pickle(f / "pytorch_model.bin", f.parent / MARKER)), "has no model.safetensors"),
}


def make_broken(base: Path, name: str) -> Path:
    spoil, _ = BROKEN[name]
    folder = copy_default(base / name.replace(" ", "_").replace("*", "^") / "model")
    spoil(folder)
    return folder


def statuses_after(server: ServerProcess, seen: int) -> dict:
    """The first status past `loading` among those after the first `seen`."""
    return server.wait_note("heed/status", lambda p: p["state"] != "loading", since=seen)


def still_completes(server: ServerProcess) -> list[str]:
    result = server.request("textDocument/completion", {"textDocument": {"uri": DOC.uri}, "position": DOC.end()})
    return [item["label"] for item in result["items"]]


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    proc = ServerProcess(debug=False)
    assert proc.initialize()["state"] == "ready"
    proc.open(DOC.uri, DOC.text)
    yield proc
    assert proc.close() == 0


@pytest.mark.parametrize("name", BROKEN)
def test_broken_model_is_refused_and_the_server_falls_back(server: ServerProcess, name: str, tmp_path: Path) -> None:
    folder = make_broken(tmp_path, name)
    seen, messages = len(server.notes["heed/status"]), len(server.notes["window/showMessage"])
    server.reset_peak()
    before = server.rss_mb()
    server.notify("workspace/didChangeConfiguration", {"settings": {"heed": {"modelPath": str(folder)}}})
    status = statuses_after(server, seen)
    assert status["state"] == "fallback", status
    assert BROKEN[name][1] in status["message"], status["message"]
    server.wait_note("window/showMessage", since=messages, timeout=10)
    shown = server.notes["window/showMessage"][messages:]
    assert len(shown) == 1 and shown[0]["message"] == status["message"] and shown[0]["type"] == 2  # a warning
    print(f"\n{name}: {status['message'].replace(str(tmp_path), '...')}")
    assert "value" in still_completes(server)  # the names in scope, without a model
    assert server.peak_rss_mb() - before < MAX_LOAD_GROWTH_MB
    assert not list(tmp_path.rglob(MARKER)), "a pickle was loaded"
    assert server.alive() and not server.take_tracebacks(), server.log_tail()


def test_a_good_model_is_taken_again_afterwards(server: ServerProcess) -> None:
    seen = len(server.notes["heed/status"])
    server.notify("workspace/didChangeConfiguration", {"settings": {"heed": {"modelPath": str(DEFAULT)}}})
    assert statuses_after(server, seen)["state"] == "ready"
    assert "value" in still_completes(server)


@pytest.mark.parametrize("name", ["a pickle named model.safetensors", "100 layers", "truncated weights"])
def test_broken_model_at_start_up(name: str, tmp_path: Path) -> None:
    folder = make_broken(tmp_path, name)
    proc = ServerProcess(debug=False)
    try:
        status = proc.initialize({"modelPath": str(folder)})
        assert status["state"] == "fallback" and BROKEN[name][1] in status["message"], status
        proc.wait_note("window/showMessage", timeout=10)
        messages = proc.notes["window/showMessage"]
        assert len(messages) == 1 and "could not load its model" in messages[0]["message"]
        proc.open(DOC.uri, DOC.text)
        assert "value" in still_completes(proc)
        assert not list(tmp_path.rglob(MARKER)), "a pickle was loaded"
    finally:
        assert proc.close() == 0


def test_the_marker_pickle_really_fires(tmp_path: Path) -> None:
    """The check above means something: loading these pickles does create the marker."""
    import torch

    torch_pickle(tmp_path / "m.bin", tmp_path / "torch-marker")
    torch.load(str(tmp_path / "m.bin"), weights_only=False)
    pickle.loads(pickle.dumps(Booby(tmp_path / "raw-marker")))
    assert (tmp_path / "torch-marker").exists() and (tmp_path / "raw-marker").exists()
