""""Learn this project" in the real server (server/learning.py): `heed.learnProject` runs `heed
adapt` beside the server, shows it as a cancellable progress bar and switches to the adapted
model without a restart; `heed.forgetProject` goes back; a broken adapted model is never used."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from lsprotocol import types
from test_server import _record_status
from test_workspace_server import STDLIB, Start, server_log

from heed.model.workspace.cache import adapted_dir


def python_project(root: Path, files: int = 40) -> Path:
    """A workspace of real Python: standard-library modules, enough to train and validate on."""
    pkg = root / "proj"
    pkg.mkdir(parents=True)
    for source in sorted(STDLIB.glob("[a-k]*.py"))[:files]:
        shutil.copyfile(source, pkg / source.name)
    return root


async def execute(client, command: str, *arguments: object, timeout: float = 240) -> str:  # type: ignore[no-untyped-def]
    return await asyncio.wait_for(client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command, arguments=list(arguments))), timeout)


async def popup_items(client, root: Path) -> list[types.CompletionItem]:  # type: ignore[no-untyped-def]
    """The popup after `os.` in a new file of the workspace."""
    doc = root / "proj" / "new.py"
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
        uri=doc.as_uri(), language_id="python", version=1, text="import os\nos.")))
    popup = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(doc.as_uri()), types.Position(1, 3)))
    return [] if popup is None else popup if isinstance(popup, list) else popup.items


async def ready_model(client, timeout: float = 120) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.statuses and client.statuses[-1]["state"] == "ready":
            return client.statuses[-1]["model"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no model ready: {client.statuses}")


async def test_learning_the_project_switches_to_the_adapted_model_and_forgetting_goes_back(
        start: Start, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HEED_CACHE", str(tmp_path / "cache"))  # where the server keeps it too
    root = python_project(tmp_path / "ws")
    client = await start(root, model=True)
    _record_status(client)
    bundled = await ready_model(client)
    assert "adapted" not in bundled
    caps = client.init_result.capabilities
    assert {"heed.learnProject", "heed.forgetProject"} <= set(caps.execute_command_provider.commands)

    said = await execute(client, "heed.learnProject", 0.05)  # three seconds of training
    assert said.startswith("heed has learned ws"), said
    folder = adapted_dir(root)
    assert (folder / "model.safetensors").is_file()
    assert await ready_model(client) == str(folder)  # switched without a restart
    bars = [r for r in client.progress_reports.values() if r and getattr(r[0], "title", "") == "heed: learning this project"]
    assert bars and bars[0][0].cancellable and isinstance(bars[0][-1], types.WorkDoneProgressEnd)
    assert await popup_items(client, root)

    said = await execute(client, "heed.forgetProject")
    assert "forgotten" in said and not folder.exists()
    assert "adapted" not in await ready_model(client)


async def test_a_cancel_stops_learning_and_keeps_the_model(start: Start, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HEED_CACHE", str(tmp_path / "cache"))
    root = python_project(tmp_path / "ws")
    client = await start(root, model=True)
    _record_status(client)
    await ready_model(client)
    learning = asyncio.ensure_future(execute(client, "heed.learnProject", 1.0))
    deadline = time.monotonic() + 60
    token = None
    while token is None and time.monotonic() < deadline:
        token = next((t for t, r in client.progress_reports.items()
                      if r and getattr(r[0], "title", "") == "heed: learning this project"), None)
        await asyncio.sleep(0.1)
    assert token is not None, "no progress bar"
    await asyncio.sleep(1.0)
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    said = await asyncio.wait_for(learning, 30)
    assert "cancelled" in said and not adapted_dir(root).exists()
    assert "adapted" not in client.statuses[-1]["model"]


async def test_a_broken_adapted_model_is_never_loaded(start: Start, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HEED_CACHE", str(tmp_path / "cache"))
    root = python_project(tmp_path / "ws", files=2)
    folder = adapted_dir(root)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"half a model")
    client = await start(root, model=True)
    _record_status(client)
    assert "adapted" not in await ready_model(client)  # the bundled one
    assert "is not used" in server_log(client)
    said = await execute(client, "heed.learnProject", 0.05)  # two small files: too little to learn from
    assert "could not learn" in said and "too little Python" in said


def test_what_makes_an_automatic_run(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    from heed.server.learning import needs_learning

    monkeypatch.setenv("HEED_CACHE", str(tmp_path / "cache"))
    root = python_project(tmp_path / "ws", files=20)
    assert "not learned" in needs_learning(root, [])
    folder = adapted_dir(root)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    made = (folder / "model.safetensors").stat().st_mtime
    files = sorted((root / "proj").glob("*.py"))
    for f in files:
        os.utime(f, (made - 100, made - 100))
    assert needs_learning(root, []) == ""
    for f in files[:9]:  # fewer than ten changed: not enough
        os.utime(f, (made + 100, made + 100))
    assert needs_learning(root, []) == ""
    os.utime(files[9], (made + 100, made + 100))
    assert "10 of ws's 20 Python files changed" in needs_learning(root, [])
    assert needs_learning(tmp_path / "empty", []) == ""


async def test_an_automatic_run_learns_a_project_not_learned_yet(start: Start, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HEED_CACHE", str(tmp_path / "cache"))
    root = python_project(tmp_path / "ws")
    client = await start(root, model=True, options={"learn": {"automatic": True, "minutes": 0.05}})
    _record_status(client)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (client.statuses and client.statuses[-1]["model"] == str(adapted_dir(root))):
        await asyncio.sleep(0.2)
    assert client.statuses[-1]["model"] == str(adapted_dir(root)), client.statuses


class AskingServer:
    """What `Learner` needs of the server, answering its question with `answer`."""

    def __init__(self, answer: str | None):
        self.answer, self.asked, self.said = answer, [], []  # type: ignore[var-annotated]
        self.client_capabilities = types.ClientCapabilities()  # no progress bars

    async def ask(self, kind: types.MessageType, message: str, choices: list[str]) -> str | None:
        self.asked.append((message, choices))
        return self.answer

    def show(self, kind: types.MessageType, message: str) -> None:
        self.said.append(message)


async def test_without_torch_learning_asks_to_install_it_first(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A plain install has no torch: declined, nothing runs and the message says how to install it;
    accepted, pip runs in the server's Python (here a stand-in that fails, then one that succeeds
    without torch appearing) and a failure is reported with pip's error."""
    import sys

    from heed.server import learning

    monkeypatch.setattr(learning, "torch_missing", lambda: "torch is not installed: pip install torch")
    reloaded: list[bool] = []

    async def reload() -> None:
        reloaded.append(True)

    server = AskingServer("Not now")
    said = await learning.Learner(server, reload).learn(tmp_path)
    assert server.asked and "needs torch" in server.asked[0][0] and learning.INSTALL_TORCH in server.asked[0][1]
    assert "not learning this project without torch" in said and "pip install torch" in said

    server = AskingServer(learning.INSTALL_TORCH)
    monkeypatch.setattr(learning, "TORCH_INSTALL", [sys.executable, "-c", "import sys; print('ERROR: no space left'); sys.exit(1)"])
    said = await learning.Learner(server, reload).learn(tmp_path)
    assert said.startswith("heed could not install torch: ERROR: no space left"), said
    monkeypatch.setattr(learning, "TORCH_INSTALL", [sys.executable, "-c", "print('Successfully installed torch')"])
    said = await learning.Learner(server, reload).learn(tmp_path)
    assert said.startswith("heed could not install torch"), said  # pip said yes, but torch still does not import
    assert not reloaded and not adapted_dir(tmp_path).exists()


def without_torch(folder: Path) -> Path:
    """A folder that, on PYTHONPATH, makes `import torch` and `find_spec("torch")` fail in a new
    Python process: a plain install of heed, which has no torch."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "import sys\nclass NoTorch:\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, NoTorch())\n")
    return folder


async def test_a_server_without_torch_asks_before_learning_and_keeps_completing(
        start: Start, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The real server in a Python without torch: "learn this project" asks the editor whether to
    install it (`window/showMessageRequest`); declined, nothing is learned, and the popup works."""
    monkeypatch.setenv("PYTHONPATH", str(without_torch(tmp_path / "no-torch")))
    monkeypatch.setenv("HEED_CACHE", str(tmp_path / "cache"))
    root = python_project(tmp_path / "ws", files=3)
    client = await start(root, model=True)
    asked: list[types.ShowMessageRequestParams] = []

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def on_ask(params: types.ShowMessageRequestParams) -> types.MessageActionItem:
        asked.append(params)
        return types.MessageActionItem(title="Not now")

    said = await execute(client, "heed.learnProject", 0.05)
    assert len(asked) == 1 and "needs torch" in asked[0].message
    assert [a.title for a in asked[0].actions or []] == ["Install torch", "Not now"]
    assert "not learning this project without torch" in said and "--index-url" in said, said
    assert not adapted_dir(root).exists()
    assert await popup_items(client, root)
    assert "Traceback" not in server_log(client)


def test_the_command_line_says_what_needs_torch(tmp_path: Path) -> None:
    """`heed adapt`, `heed train` and the corpus `heed eval` without torch: a clear message, exit 1."""
    import subprocess
    import sys

    env = {**__import__("os").environ, "PYTHONPATH": str(without_torch(tmp_path))}
    for args in (["adapt", str(tmp_path)], ["train", "--corpus", str(tmp_path / "c"), "--out", str(tmp_path / "m")], ["eval"]):
        done = subprocess.run([sys.executable, "-m", "heed", *args], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 1 and f"`heed {args[0]}" in done.stderr and "needs torch" in done.stderr, done.stderr
        assert "--index-url https://download.pytorch.org/whl/cpu" in done.stderr
    check = subprocess.run([sys.executable, "-m", "heed", "check"], capture_output=True, text=True, env=env, timeout=120)
    assert check.returncode == 0 and "loaded" in check.stdout, check.stderr  # completion needs no torch
