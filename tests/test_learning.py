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
    doc = root / "proj" / "new.py"
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
        uri=doc.as_uri(), language_id="python", version=1, text="import os\nos.")))
    popup = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(doc.as_uri()), types.Position(1, 3)))
    assert popup is not None and popup.items

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
