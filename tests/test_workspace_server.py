"""The workspace index in the real server over stdio (server/workspace.py): what it indexes, how it
follows saves, deletions and settings, its `$/progress`, and the inputs that must not stop it.

Each server has a cache folder of its own (`HEED_CACHE`) and, except where a test needs the model,
a model path that does not exist: the index needs no model, and the fallback starts at once.
The index is read through `heed/debugIndex` (HEED_DEBUG=1)."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient

from heed.model.workspace.cache import IndexCache
from heed.server.engine import Engine
from heed.server.settings import IndexSettings
from heed.server.workspace import TURN_S, Indexer, indexable, workspace_roots

STDLIB = Path(json.__file__).resolve().parent.parent
Start = Callable[..., Any]  # the `start` fixture (tests/conftest.py)
COPIES = 3  # of the standard library's 12 largest modules: seconds of indexing


def make_workspace(root: Path) -> Path:
    """A small package: two modules indexed, one the .gitignore leaves out, and a virtual environment."""
    pkg = root / "pkg"
    pkg.mkdir(parents=True)
    (root / ".gitignore").write_text("pkg/scratch.py\n")
    (pkg / "__init__.py").write_text("from pkg.core import Engine\n")
    (pkg / "core.py").write_text("class Engine:\n    def start(self):\n        self.running = True\n")
    (pkg / "util.py").write_text("def helper(engine):\n    return engine.start()\n")
    (pkg / "scratch.py").write_text("scratch_name = 1\n")
    venv = root / "env"
    (venv / "lib").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "lib" / "site.py").write_text("in_the_venv = 1\n")
    return root


def indexed(state: dict, root: Path) -> set[str]:
    return {Path(p).relative_to(root).as_posix() for p in state["files"]}


def plain(value: Any) -> Any:
    """A custom request's answer as JSON: pygls makes its objects named tuples."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


async def debug_index(client: LanguageClient) -> dict:
    state = plain(await asyncio.wait_for(client.protocol.send_request_async("heed/debugIndex", {}), 30))
    if "stats" in state:
        state["stats"]["skipped"] = {s["reason"]: s["count"] for s in state["stats"]["skipped"]}
    return state


async def wait_index(client: LanguageClient, until: Callable[[dict], bool] = lambda s: s["ready"],
                     timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = await debug_index(client)
        if until(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"the index never got there: {state}")
        await asyncio.sleep(0.05)


async def wait_progress_end(client: LanguageClient, timeout: float) -> types.WorkDoneProgressEnd:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for reports in client.progress_reports.values():
            if reports and getattr(reports[0], "title", "") == "heed: indexing" and isinstance(reports[-1], types.WorkDoneProgressEnd):
                return reports[-1]
        await asyncio.sleep(0.1)
    raise AssertionError("indexing never ended")


def server_log(client: LanguageClient) -> str:
    return client.log_file.read_text(encoding="utf-8")  # type: ignore[attr-defined]


async def test_the_workspace_is_indexed_as_git_sees_it_and_followed(start: Start, tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "project")
    client = await start(root)
    state = await wait_index(client)
    assert indexed(state, root) == {"pkg/__init__.py", "pkg/core.py", "pkg/util.py"}
    assert state["stats"]["skipped"] == {"ignored": 1, "not the project's code": 1}, state["stats"]
    assert state["stats"]["names"] >= 2  # Engine, helper
    # $/progress: begun with its title, ended with what it indexed (the client's answer to the
    # token's creation may come after the index is ready: wait for the end, not a fixed time)
    await wait_progress_end(client, timeout=10)
    bars = [r for r in client.progress_reports.values() if r and getattr(r[0], "title", "") == "heed: indexing"]
    assert len(bars) == 1, client.progress_reports
    assert isinstance(bars[0][-1], types.WorkDoneProgressEnd) and bars[0][-1].message == "indexed 3 files"
    # the client was asked to watch the Python files, and the log says what was skipped
    assert [r.method for r in client.registrations] == [types.WORKSPACE_DID_CHANGE_WATCHED_FILES]  # type: ignore[attr-defined]
    assert client.registrations[0].register_options["watchers"][0]["globPattern"] == "**/*.py"  # type: ignore[attr-defined]
    assert "workspace index: 3 files" in server_log(client) and "ignored 1" in server_log(client)
    save = client.init_result.capabilities.text_document_sync.save  # type: ignore[attr-defined]
    assert save is not None and not getattr(save, "include_text", False)  # didSave, without the text
    await saves_creations_and_deletions_are_followed(client, root)


async def saves_creations_and_deletions_are_followed(client: LanguageClient, root: Path) -> None:
    new = root / "pkg" / "extra.py"
    new.write_text("def extra_function():\n    pass\n")
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(new.as_uri())))
    state = await wait_index(client, lambda s: "pkg/extra.py" in indexed(s, root))
    assert state["stats"]["files"] == 4
    # a file the .gitignore or a virtual environment leaves out stays out when saved
    (root / "pkg" / "scratch.py").write_text("scratch_name = 2\n")
    for path in (root / "pkg" / "scratch.py", root / "env" / "lib" / "site.py"):
        client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(path.as_uri())))
    (root / "pkg" / "util.py").unlink()
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=(root / "pkg" / "util.py").as_uri(), type=types.FileChangeType.Deleted)]))
    state = await wait_index(client, lambda s: "pkg/util.py" not in indexed(s, root) and s["ready"])
    assert indexed(state, root) == {"pkg/__init__.py", "pkg/core.py", "pkg/extra.py"}
    # a folder deleted takes its files with it
    shutil.rmtree(root / "pkg")
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=(root / "pkg").as_uri(), type=types.FileChangeType.Deleted)]))
    state = await wait_index(client, lambda s: not s["files"])
    assert state["stats"]["files"] == 0


async def test_a_corrupt_cache_is_rebuilt(start: Start, tmp_path: Path) -> None:
    """Entries that are not JSON, nested past the parser's limit, or from another version are read
    again from the source, counted in the log, and written anew."""
    root = make_workspace(tmp_path / "project")
    cache = IndexCache(root, tmp_path / "cache" / "index")
    cache.folder.mkdir(parents=True)
    bad = {"core.py": b'{"format": "heed-index-3/\xff\x00 not json', "util.py": b"[" * 100_000,
           "__init__.py": json.dumps({"format": "heed-index-0", "summary": {}}).encode()}
    for name, content in bad.items():
        cache.entry(root / "pkg" / name).write_bytes(content)
    client = await start(root)
    state = await wait_index(client)
    assert state["stats"]["files"] == 3 and state["stats"]["cache_entries_dropped"] == 3, state["stats"]
    for name in bad:
        saved = json.loads(cache.entry(root / "pkg" / name).read_text(encoding="utf-8"))
        assert Path(saved["summary"]["path"]).name == name
    assert "cache entries dropped 3" in server_log(client)


async def test_a_completion_is_answered_while_the_index_builds(start: Start, tmp_path: Path) -> None:
    """A workspace that takes seconds to index: a request waits behind one slice, not the build."""
    root = tmp_path / "big"
    sources = sorted(STDLIB.glob("*.py"), key=lambda p: p.stat().st_size)[-12:]  # the largest modules
    for copy in range(COPIES):
        folder = root / f"copy{copy}"
        folder.mkdir(parents=True)
        for source in sources:
            shutil.copyfile(source, folder / source.name)
    client = await start(root)
    text = "import os\nvalue = 1\nva"
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=(root / "main.py").as_uri(), language_id="python", version=1, text=text)))
    await asyncio.sleep(0.5)  # the index is under way
    began = time.monotonic()
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier((root / "main.py").as_uri()), position=types.Position(2, 2)))
    took = time.monotonic() - began
    assert isinstance(result, types.CompletionList) and result.items[0].label == "value"
    state = await debug_index(client)
    assert not state["ready"], "the workspace was indexed too fast for this test"
    assert took < 1.0, f"the completion waited {took:.2f} s"
    await wait_progress_end(client, timeout=60)  # not by polling: each poll holds the build up
    state = await debug_index(client)
    assert state["ready"] and state["stats"]["files"] == COPIES * len(sources)


def folders_changed(added: list[Path], removed: list[Path]) -> types.DidChangeWorkspaceFoldersParams:
    return types.DidChangeWorkspaceFoldersParams(event=types.WorkspaceFoldersChangeEvent(
        added=[types.WorkspaceFolder(uri=f.as_uri(), name=f.name) for f in added],
        removed=[types.WorkspaceFolder(uri=f.as_uri(), name=f.name) for f in removed]))


async def test_settings_and_workspace_folders_make_a_new_index(start: Start, tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "project")
    client = await start(root, options={"index": {"exclude": ["core.py"]}})
    state = await wait_index(client)
    assert indexed(state, root) == {"pkg/__init__.py", "pkg/util.py"}
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"heed": {"modelPath": str(tmp_path / "no-model"), "index": {"exclude": ["/pkg/util.py"]}}}))
    state = await wait_index(client, lambda s: s["ready"] and "pkg/core.py" in indexed(s, root))
    assert indexed(state, root) == {"pkg/__init__.py", "pkg/core.py"}
    other = tmp_path / "other"
    other.mkdir()
    (other / "tool.py").write_text("def tool():\n    pass\n")
    client.workspace_did_change_workspace_folders(folders_changed([other], []))
    state = await wait_index(client, lambda s: s["ready"] and str(other / "tool.py") in s["files"])
    assert state["roots"] == [str(root), str(other)] and state["stats"]["files"] == 3
    client.workspace_did_change_workspace_folders(folders_changed([], [root]))
    state = await wait_index(client, lambda s: s["ready"] and s["roots"] == [str(other)])
    assert state["files"] == [str(other / "tool.py")]
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"heed": {"modelPath": str(tmp_path / "no-model"), "index": {"enabled": False, "exclude": "core.py"}}}))
    state = await wait_index(client, lambda s: not s["enabled"])
    await asyncio.sleep(0.1)
    assert any("heed.index.exclude" in m.message and "list of strings" in m.message for m in client.messages)


async def test_bad_roots_and_an_unwritable_cache_do_not_stop_the_server(start: Start, tmp_path: Path) -> None:
    """A workspace folder that does not exist, a cache folder that cannot be made, a client without
    progress or file watching: the index still works where it can, and completions come."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    client = await start(tmp_path / "missing", spec="neovim", progress=False, cache=blocker / "cache")
    assert (await debug_index(client))["enabled"] is False
    assert "is not a folder that exists" in server_log(client)
    root = make_workspace(tmp_path / "project")
    client = await start(root, spec="neovim", progress=False, cache=blocker / "cache")
    state = await wait_index(client)
    assert state["stats"]["files"] == 3
    assert not client.progress_reports and not client.registrations  # type: ignore[attr-defined]
    assert "could not be written" in server_log(client)
    text = "from pkg.core import Engine\nEng"
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=(root / "main.py").as_uri(), language_id="python", version=1, text=text)))
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier((root / "main.py").as_uri()), position=types.Position(1, 3)))
    assert "Engine" in [i.label for i in result.items]


async def test_with_the_model_the_completer_gets_the_index(start: Start, tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "project")
    client = await start(root, model=True)
    await wait_index(client)
    uri = (root / "main.py").as_uri()
    text = "from pkg.core import Engine\nengine = Engine()\nengine."
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="python", version=1, text=text)))
    deadline = time.monotonic() + 60
    while "model loaded" not in server_log(client):
        assert time.monotonic() < deadline, "the model never loaded"
        await asyncio.sleep(0.1)
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(2, 7)))
    assert "start" in [i.label for i in result.items]
    raw = await client.protocol.send_request_async("heed/debugDocument", {"uri": uri})
    assert plain(raw)["workspace"] is True


# -- the pieces, without a server -----------------------------------------------------------------
def test_workspace_roots_prefer_folders_then_root_uri_then_root_path(tmp_path: Path) -> None:
    caps = types.ClientCapabilities()
    a, b = tmp_path / "a", tmp_path / "b"
    folders = [types.WorkspaceFolder(uri=a.as_uri(), name="a"), types.WorkspaceFolder(uri="vscode-vfs://github/x", name="x")]
    assert workspace_roots(types.InitializeParams(capabilities=caps, workspace_folders=folders, root_uri=b.as_uri())) == [a]
    assert workspace_roots(types.InitializeParams(capabilities=caps, root_uri=b.as_uri(), root_path=str(a))) == [b]
    assert workspace_roots(types.InitializeParams(capabilities=caps, root_path=str(a))) == [a]
    assert workspace_roots(types.InitializeParams(capabilities=caps)) == []


def test_indexable_roots_exist_hold_a_project_and_do_not_nest(tmp_path: Path) -> None:
    (tmp_path / "a" / "inner").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    roots = [tmp_path / "a" / "inner", tmp_path / "b", tmp_path / "a", tmp_path / "gone", Path.home(), Path("/")]
    assert indexable(roots) == [tmp_path / "b", tmp_path / "a"]  # in the client's order


class CallsOnTheLoop:
    """Stands for the event loop: records what the worker hands back to it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def call_soon_threadsafe(self, fn: Callable[..., Any], *args: Any) -> None:
        self.calls.append(fn.__name__)


def indexer_for(root: Path, tmp_path: Path, monkeypatch: Any) -> tuple[Indexer, CallsOnTheLoop, list[float]]:
    monkeypatch.setenv("HEED_CACHE", str(tmp_path / "cache"))
    indexer = Indexer(None, Engine())  # type: ignore[arg-type]  # no client: nothing here talks to one
    assert indexer.configure(IndexSettings(), [root]) and indexer.index is not None
    loop = CallsOnTheLoop()
    indexer.loop = loop  # type: ignore[assignment]
    steps: list[float] = []
    step = indexer.index.step
    monkeypatch.setattr(indexer.index, "step", lambda *a: steps.append(time.monotonic()) or step(*a))
    return indexer, loop, steps


def test_a_build_turn_gives_way_to_a_request_and_to_other_idle_jobs(tmp_path: Path, monkeypatch: Any) -> None:
    root = tmp_path / "big"
    root.mkdir()
    for source in sorted(STDLIB.glob("*.py"), key=lambda p: p.stat().st_size)[-6:]:
        shutil.copyfile(source, root / source.name)
    indexer, loop, steps = indexer_for(root, tmp_path, monkeypatch)
    assert indexer.index is not None
    indexer._build_slices(indexer.index, lambda: True)  # a request is waiting: not one slice
    assert steps == [] and loop.calls == ["_next_turn"]
    began = time.monotonic()
    indexer._build_slices(indexer.index, lambda: False)  # nothing waiting: slices for one turn
    assert len(steps) > 3 and not indexer.index.ready and loop.calls[-1] == "_next_turn"
    assert steps[-1] - began < TURN_S + 0.01
    while not indexer.index.ready:
        indexer._build_slices(indexer.index, lambda: False)
    assert loop.calls[-1] == "_finished" and len(indexer.index.files) == 6


def test_a_replaced_index_stops_and_changes_reach_the_current_one(tmp_path: Path, monkeypatch: Any) -> None:
    root = make_workspace(tmp_path / "project")
    indexer, loop, steps = indexer_for(root, tmp_path, monkeypatch)
    old = indexer.index
    assert old is not None
    assert indexer.configure(IndexSettings(exclude=("util.py",)))  # new settings: a new index
    assert not indexer.configure(IndexSettings(exclude=("util.py",)))  # the same again: kept
    indexer._build_slices(old, lambda: False)
    assert steps == [] and loop.calls == []  # the old one's job ends at once, and says nothing
    new = indexer.index
    assert new is not None
    while not new.ready:
        indexer._build_slices(new, lambda: False)
    assert sorted(p.name for p in new.files) == ["__init__.py", "core.py"]
    (root / "pkg" / "util.py").write_text("x = 1\n")  # excluded: a save does not bring it in
    (root / "pkg" / "more.py").write_text("y = 2\n")
    indexer.changed.extend([root / "pkg" / "util.py", root / "pkg" / "more.py"])
    indexer._build_slices(new, lambda: False)
    assert sorted(p.name for p in new.files) == ["__init__.py", "core.py", "more.py"]
    assert indexer.configure(IndexSettings(enabled=False)) and indexer.index is None


async def test_a_project_name_comes_with_where_it_is_defined_and_its_import(start: Start, tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "project")
    client = await start(root)  # no model: the fallback popup offers the project's names too
    await wait_index(client)
    uri = (root / "main.py").as_uri()
    text = '"""A script."""\nimport os\n\n\ndef run():\n    return hel'
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="python", version=1, text=text)))
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(5, 14)))
    item = next(i for i in result.items if i.label == "helper")
    assert item.kind == types.CompletionItemKind.Function and "defined in pkg.util:1" in (item.detail or "")
    assert [(e.range.start.line, e.new_text) for e in item.additional_text_edits or []] == [(2, "from pkg.util import helper\n")]
    text = "from pkg.util import helper\nhel"  # imported already: no edit
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri), position=types.Position(1, 3)))
    item = next(i for i in result.items if i.label == "helper")
    assert not item.additional_text_edits
