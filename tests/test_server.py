"""The real server over stdio, driven by pytest-lsp with VS Code's and Neovim's capabilities."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "heed", "serve"])
CLIENTS = ["visual-studio-code", "neovim"]
URI = "file:///work/stack.py"
STACK = (Path(__file__).resolve().parents[1] / "docs" / "examples" / "stack.py").read_text().rstrip("\n")


def _record_status(client: LanguageClient) -> list[dict]:
    statuses: list[dict] = []

    @client.feature("heed/status")
    def on_status(params) -> None:  # type: ignore[no-untyped-def]
        statuses.append({"state": params.state, "model": params.model, "message": params.message})

    client.statuses = statuses  # type: ignore[attr-defined]
    return statuses


async def _start(client: LanguageClient, spec: str, options: dict | None = None) -> None:
    _record_status(client)
    client.init_result = await client.initialize_session(  # type: ignore[attr-defined]
        types.InitializeParams(capabilities=client_capabilities(spec), initialization_options=options or {})
    )


async def wait_model(client: LanguageClient, timeout: float = 60) -> dict:
    """The first status past `loading`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        done = [s for s in client.statuses if s["state"] != "loading"]  # type: ignore[attr-defined]
        if done:
            return done[-1]
        await asyncio.sleep(0.05)
    raise AssertionError("the model never finished loading")


def open_doc(client: LanguageClient, text: str, uri: str = URI) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text))
    )


def end_of(text: str) -> types.Position:
    lines = text.split("\n")
    return types.Position(len(lines) - 1, len(lines[-1]))


async def complete(client: LanguageClient, pos: types.Position, uri: str = URI) -> types.CompletionList:
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=pos,
            context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.TriggerCharacter, trigger_character="."),
        ))
    assert isinstance(result, types.CompletionList)
    return result


@pytest_lsp.fixture(config=SERVER, params=CLIENTS)
async def client(request, lsp_client: LanguageClient):
    await _start(lsp_client, request.param)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_capabilities_and_model_ready(client: LanguageClient):
    status = await wait_model(client)
    assert status["state"] == "ready", status
    caps = client.init_result.capabilities  # type: ignore[attr-defined]
    assert list(caps.completion_provider.trigger_characters) == ["."]
    assert caps.completion_provider.resolve_provider is True
    assert caps.inline_completion_provider is not None
    sync = caps.text_document_sync
    assert (sync.change if hasattr(sync, "change") else sync) == types.TextDocumentSyncKind.Incremental


@pytest.mark.asyncio
async def test_popup_after_dot_ranks_the_attribute_first(client: LanguageClient):
    await wait_model(client)
    open_doc(client, STACK)
    result = await complete(client, end_of(STACK))
    labels = [i.label for i in result.items]
    assert labels and labels[0] == "items", labels[:5]
    first = result.items[0]
    assert first.sort_text < result.items[1].sort_text
    assert first.text_edit.new_text == "items"
    assert first.text_edit.range.start == end_of(STACK)  # nothing typed after the dot
    assert "%" in (first.label_details.description or "") or first.detail
    assert all(i.label.isidentifier() for i in result.items)  # punctuation is for ghost text


@pytest.mark.asyncio
async def test_prefix_filters_and_resolve_explains(client: LanguageClient):
    await wait_model(client)
    text = STACK + "it"
    open_doc(client, text)
    result = await complete(client, end_of(text))
    assert result.items and all(i.label.startswith("it") for i in result.items)
    item = next(i for i in result.items if i.label == "items")
    assert item.text_edit.range.start.character == end_of(text).character - 2  # replaces the typed prefix
    resolved = await client.completion_item_resolve_async(item)
    doc = resolved.documentation
    assert doc is not None and doc.kind == types.MarkupKind.Markdown
    assert "| line |" in doc.value and "heed" in doc.value


@pytest.mark.asyncio
async def test_inline_completion_has_a_single_line_range(client: LanguageClient):
    await wait_model(client)
    text = STACK.replace("return self.", "return self.items")
    open_doc(client, text)
    pos = end_of(text)
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=URI), position=pos,
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        )
    )
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    assert items, "no ghost text"
    for item in items:
        assert item.range is not None and item.range.start.line == item.range.end.line == pos.line
        assert item.range.end == pos
        text_ = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
        assert "\n" not in text_ and text_.startswith("items")


@pytest.mark.asyncio
async def test_incremental_edits_are_followed(client: LanguageClient):
    await wait_model(client)
    open_doc(client, STACK)
    # Rename `items` to `elements` at its three places, back to front, by ranged edits.
    lines = STACK.split("\n")
    edits = []
    for n, line in reversed(list(enumerate(lines))):
        col = line.find("items")
        if col >= 0:
            edits.append(types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(n, col), types.Position(n, col + 5)), text="elements"))
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=2), content_changes=edits))
    result = await complete(client, end_of(STACK))
    labels = [i.label for i in result.items]
    assert "elements" in labels[:3] and "items" not in labels, labels[:5]


@pytest.mark.asyncio
async def test_cancelled_request_does_not_break_the_server(client: LanguageClient):
    await wait_model(client)
    open_doc(client, STACK)
    pos = end_of(STACK)
    params = types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=URI), position=pos)
    pending = asyncio.ensure_future(
        client.protocol.send_request_async(types.TEXT_DOCUMENT_COMPLETION, params, msg_id="cancel-me")
    )
    await asyncio.sleep(0)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="cancel-me"))
    try:
        answer = await asyncio.wait_for(pending, 10)
        assert isinstance(answer, types.CompletionList)  # it finished before the cancel arrived
    except Exception as exc:  # or it was cancelled: a JSON-RPC error, as the spec says
        assert "cancel" in str(exc).lower(), exc
    result = await complete(client, pos)
    assert result.items


@pytest.mark.asyncio
async def test_unknown_document_and_bad_positions_answer_empty(client: LanguageClient):
    await wait_model(client)
    result = await complete(client, types.Position(0, 0), uri="file:///nowhere.py")
    assert list(result.items) == []
    open_doc(client, "x = 1\n")
    result = await complete(client, types.Position(99, 99))
    assert isinstance(result.items, (list, tuple))


@pytest_lsp.fixture(config=SERVER)
async def missing_model_client(lsp_client: LanguageClient, tmp_path: Path):
    await _start(lsp_client, "visual-studio-code", {"modelPath": str(tmp_path / "no-such-model")})
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_missing_model_falls_back_with_one_message(missing_model_client: LanguageClient):
    client = missing_model_client
    status = await wait_model(client)
    assert status["state"] == "fallback"
    await asyncio.sleep(0.2)
    assert len([m for m in client.messages if "could not load" in m.message]) == 1
    open_doc(client, STACK)
    result = await complete(client, end_of(STACK))
    assert "items" in [i.label for i in result.items]  # the names seen on `self`


@pytest_lsp.fixture(config=SERVER)
async def corrupt_model_client(lsp_client: LanguageClient, tmp_path: Path):
    folder = tmp_path / "corrupt"
    folder.mkdir()
    default = Path(__file__).resolve().parents[1] / "model" / "default"
    for name in ("config.json", "vocab.json"):
        (folder / name).write_bytes((default / name).read_bytes())
    (folder / "model.safetensors").write_bytes((default / "model.safetensors").read_bytes()[:1000])
    await _start(lsp_client, "neovim", {"modelPath": str(folder)})
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_corrupt_model_falls_back(corrupt_model_client: LanguageClient):
    client = corrupt_model_client
    status = await wait_model(client)
    assert status["state"] == "fallback" and "safetensors" in status["message"]
    open_doc(client, "import os\nvalue = 1\nva")
    result = await complete(client, types.Position(2, 2))
    labels = [i.label for i in result.items]
    assert labels[0] == "value" and "vars" in labels  # the document's own name first, then builtins


@pytest_lsp.fixture(config=SERVER)
async def bad_settings_client(lsp_client: LanguageClient):
    await _start(lsp_client, "visual-studio-code",
                 {"inline": {"beamWidth": "wide", "enabled": True}, "completion": {"maxItems": 0}, "logLevel": "loud"})
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_invalid_settings_give_one_message_each_and_defaults(bad_settings_client: LanguageClient):
    client = bad_settings_client
    await wait_model(client)
    warnings = [m.message for m in client.messages if "invalid setting" in m.message]
    assert len(warnings) == 3, warnings
    assert any("beamWidth" in w for w in warnings) and any("maxItems" in w for w in warnings)
    open_doc(client, STACK)
    result = await complete(client, end_of(STACK))
    assert 0 < len(result.items) <= 20  # the default maxItems
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"heed": {"completion": {"maxItems": 2}}}))
    await asyncio.sleep(0.1)
    result = await complete(client, end_of(STACK))
    assert len(result.items) == 2


def test_documents_are_warmed_in_idle_time_and_again_after_edits() -> None:
    """After an open, and once typing pauses after an edit, the model runs over the whole document
    in the worker's idle time (`warmTokens`: the tokens its warmed states cover)."""
    from test_reliability_harness import ClientDoc, ServerProcess

    def warm_tokens(server: ServerProcess, uri: str, expect: object) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = server.debug_document(uri, timeout=30)["warmTokens"]
            if expect(got):
                return got
            time.sleep(0.2)
        raise AssertionError(f"warmTokens stayed {got}")

    server = ServerProcess()
    try:
        assert server.initialize()["state"] == "ready"
        doc = ClientDoc(URI, STACK)
        server.open(doc.uri, doc.text)
        before = warm_tokens(server, doc.uri, lambda n: n > 50)
        server.change(doc.uri, 2, [doc.edit(len(doc.text), len(doc.text), "\n\nextra = Stack()\n")])
        after = warm_tokens(server, doc.uri, lambda n: n != before)
        assert after > before
    finally:
        assert server.close() == 0


def test_only_the_documents_used_last_are_warmed_in_the_background() -> None:
    """Warming a document touches its states and can push out another's; a warm-up left pending
    for a document opened long ago must not push out the one being edited (it did, in
    tests/test_reliability_load.py, once warm-ups took a little longer)."""
    from heed.server.documents import WARM_DOCUMENTS, Documents

    documents = Documents()
    docs = [documents.add(f"file:///warm/doc{i}.py", "x = 1\n", 1) for i in range(WARM_DOCUMENTS + 3)]
    for i, doc in enumerate(docs):
        doc.active = 100.0 + i  # opened in this order
    docs[0].active = 200.0  # then edited
    assert [documents.among_active(d) for d in docs] == [True, *[False] * 3, *[True] * (WARM_DOCUMENTS - 1)]


def test_the_model_loads_on_a_thread_that_ends_with_the_load(tiny_model_dir) -> None:  # type: ignore[no-untyped-def]
    """No thread that ran torch outlives the load but the model worker: each keeps a team of
    OpenMP threads, and a second team made the worker's runs 2.7 times slower on two cores."""
    import threading

    from heed.server.engine import Engine

    engine = Engine()
    status = asyncio.run(engine.load_off_loop(str(tiny_model_dir), 1))
    assert status.state == "ready", status.message
    assert not [t for t in threading.enumerate() if t.name == "heed-load"]
    engine.close()
