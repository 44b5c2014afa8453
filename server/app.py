"""The language server: LSP handlers, each a thin function over plain logic in `heed.model`.

The path of a completion request:
    completion()                  here: find the document and the cursor, queue a job
    -> Engine.run()               server/engine.py: on the model worker, cancellable
    -> Document.snapshot_at()     server/documents.py: the token stream at the request's version
    -> Completer.popup()          model/runtime/completer.py: context -> model -> ranked candidates
    -> convert.completion_item()  server/convert.py: back to LSP types
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from heed import __version__
from heed.model.lookup.auto_import import import_edit
from heed.model.lookup.modules import SHARED
from heed.model.runtime.cancel import Cancelled, RequestCancelled
from heed.model.runtime.candidates import Popup
from heed.model.runtime.fallback import fallback_popup
from heed.model.workspace.module_cache import ModuleCache
from heed.server import convert
from heed.server.documents import Document, Documents, keep_out_of_gc, release_freed_memory
from heed.server.engine import Engine
from heed.server.learning import FORGET_COMMAND, LEARN_COMMAND, Learner, adapted_model
from heed.server.progress import ClientProgress
from heed.server.protocol import BoundedStdin, HeedProtocol
from heed.server.settings import Settings, parse_settings
from heed.server.workspace import Indexer, folder_path, indexable, workspace_roots

log = logging.getLogger("heed.server")
T = TypeVar("T")
STATUS_NOTIFICATION = "heed/status"
DEBUG_DOCUMENT = "heed/debugDocument"  # only with HEED_DEBUG=1: see debug_document() below
DEBUG_INDEX = "heed/debugIndex"  # only with HEED_DEBUG=1: what the workspace index holds
WARM_AFTER_OPEN = 0.05  # seconds before warming a document's model states after it opens
WARM_AFTER_EDIT = 0.5  # ... and after an edit: once typing pauses, not between keystrokes


class HeedServer(LanguageServer):
    protocol: HeedProtocol

    def __init__(self) -> None:
        super().__init__("heed", __version__, protocol_cls=HeedProtocol)
        self.documents = Documents()
        self.engine = Engine()
        self.settings = Settings()
        self.setting_errors: list[str] = []
        self.loaded: tuple[str, int] | None = None  # (model path, threads) last loaded
        self.indexer = Indexer(self, self.engine)  # the workspace index (server/workspace.py)
        self.learner = Learner(self, self.load_model)  # "learn this project" (server/learning.py)
        self.learning: asyncio.Future | None = None  # an automatic run of it (heed.learn.automatic)
        self.refused: tuple[str, int] | None = None  # the adapted model that did not load (path, mtime)
        SHARED.disk = ModuleCache()  # what the look-up reads of installed modules, across sessions

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        super().start_io(BoundedStdin(stdin or sys.stdin.buffer), stdout)  # see server/protocol.py
        if self.protocol.exit_code:  # `exit` came without `shutdown`: LSP wants exit code 1
            raise SystemExit(self.protocol.exit_code)

    def report_server_error(self, error: Exception, source: Any) -> None:
        # pygls's read loop reports bytes it could not parse here: answer them (-32700).
        if source is JsonRpcException and self.protocol.answer_unparsable(error):
            return
        super().report_server_error(error, source)

    def notify_status(self) -> None:
        self.protocol.notify(STATUS_NOTIFICATION, self.engine.status.to_json())

    def show(self, kind: types.MessageType, message: str) -> None:
        log.log(logging.WARNING if kind <= types.MessageType.Warning else logging.INFO, "%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    async def ask(self, kind: types.MessageType, message: str, choices: list[str]) -> str | None:
        """`window/showMessageRequest`: the choice the user picked, None where they dismissed it or
        the editor could not ask."""
        log.info("asking: %s %s", message, choices)
        try:
            picked = await self.window_show_message_request_async(types.ShowMessageRequestParams(
                type=kind, message=message, actions=[types.MessageActionItem(title=c) for c in choices]))
        except Exception as exc:  # noqa: BLE001 - an editor that cannot ask: as if dismissed
            log.warning("the editor did not answer %r: %s", message, exc)
            return None
        return picked.title if picked is not None else None

    def apply_settings(self, raw: Any) -> None:
        self.settings, errors = parse_settings(raw)
        logging.getLogger("heed").setLevel(self.settings.log_level.upper())
        for error in errors:
            self.show(types.MessageType.Warning, f"heed: invalid setting {error}")

    def completer_for(self, doc: Document, request: bool = True) -> Any:
        """The document's model side (on the worker), or None without a model. `request`: the
        user asked for something in it (not a background warm-up)."""
        predictor = self.engine.predictor
        if predictor is None:
            return None
        if request:
            doc.active = time.monotonic()
        workspace = self.indexer.index
        if doc.completer is None or doc.completer.predictor is not predictor or doc.completer.workspace is not workspace:
            from heed.model.runtime.completer import Completer  # once a model has loaded

            doc.completer = Completer(predictor, doc.path, workspace=workspace)
        self.documents.touch(doc)
        return doc.completer

    def warm_later(self, doc: Document, delay: float = WARM_AFTER_EDIT) -> None:
        """Run the model over the document in the worker's idle time, once typing pauses, so that
        a request anywhere in it resumes from a state just before the cursor."""
        if self.engine.predictor is None:
            return

        def warm(stop):  # type: ignore[no-untyped-def]
            if self.documents.get(doc.uri) is not doc or not self.documents.among_active(doc):
                return
            found = doc.snapshot(stop=stop)
            if found is None:
                raise RequestCancelled  # stopped by a request: the engine tries again later
            stream, _, version = found
            completer = self.completer_for(doc, request=False)
            if completer is not None:
                completer.warm(stream, lambda: stop() or doc.version != version or self.documents.get(doc.uri) is not doc)
                keep_out_of_gc()  # its parsed roles, encodings and model states

        self.engine.when_idle(doc.uri, warm, delay)

    def project_root(self) -> Path | None:
        """The workspace folder heed learns and adapts to: the first one worth indexing (not the
        home folder or `/`)."""
        return next(iter(indexable(self.indexer.folders)), None)

    def model_path(self) -> str:
        """The model to use: the user's `heed.modelPath`, else the one adapted to this workspace
        (server/learning.py), else the bundled one ("")."""
        adapted = adapted_model(self.project_root())
        if adapted is not None and _made_at(adapted) == self.refused:
            adapted = None  # it did not load: not tried again at every settings change
        return self.settings.model_path or (str(adapted) if adapted is not None else "")

    async def load_model(self) -> None:
        """Load (or reload) the model off the event loop, with progress shown to the client."""
        wanted = (self.model_path(), self.settings.torch_threads)
        if self.loaded == wanted:
            return
        self.loaded = wanted
        self.engine.status.state = "loading"
        self.notify_status()
        progress = ClientProgress(self, "heed")
        await progress.begin("loading the model")
        status = await self.engine.load_off_loop(*wanted)
        if status.state != "ready" and wanted[0] and not self.settings.model_path:
            # The adapted model is broken, partial or made for another tokenizer: the bundled one.
            log.warning("the model adapted to this workspace (%s) is not used: %s", wanted[0], status.message)
            self.refused = _made_at(Path(wanted[0]))
            self.loaded = ("", wanted[1])
            status = await self.engine.load_off_loop(*self.loaded)
        if status.state == "ready":
            await self.engine.call(self.engine.warm_up)
            keep_out_of_gc()  # the model and what the warm-up made
            release_freed_memory()  # what the warm-up's first runs allocated and freed: 20 MB
        progress.end(status.message)
        self.notify_status()
        if status.state == "ready":
            log.info("%s", status.message)
            for doc in self.documents.open.values():
                self.warm_later(doc, WARM_AFTER_OPEN)
        else:
            self.show(types.MessageType.Warning if status.state == "fallback" else types.MessageType.Error, status.message)

    async def answer(self, doc: Document, kind: str, job: Callable[[Cancelled], T], version: int, empty: T) -> T:
        """Run one request's `job(cancelled)` on the model worker: `empty` when it was cancelled,
        superseded by a newer request of the same `kind`, made moot by an edit (the document is
        no longer at `version`), or failed (logged: a request never takes the session down)."""
        try:
            return await self.engine.run(doc.uri, kind, job, lambda: doc.version != version)
        except RequestCancelled:
            return empty
        except Exception:
            log.exception("%s failed in %s", kind, doc.uri)
            return empty


def _made_at(model: Path) -> tuple[str, int] | None:
    """Which adapted model this is: its folder and when its weights were written (a new
    `heed adapt` writes new ones)."""
    try:
        return str(model), (model / "model.safetensors").stat().st_mtime_ns
    except OSError:
        return None


# -- lifecycle and settings ------------------------------------------------------------------------
def initialize(ls: HeedServer, params: types.InitializeParams) -> None:
    ls.apply_settings(params.initialization_options or {})
    ls.indexer.configure(ls.settings.index, workspace_roots(params))


async def initialized(ls: HeedServer, params: types.InitializedParams) -> None:
    ls.indexer.build()  # in the worker's idle time, while the model loads
    await ls.load_model()
    if ls.settings.learn.automatic and not ls.settings.model_path:
        ls.learning = asyncio.ensure_future(
            ls.learner.learn_if_needed(ls.project_root(), ls.settings.learn.minutes, list(ls.settings.index.exclude)))


async def did_change_configuration(ls: HeedServer, params: types.DidChangeConfigurationParams) -> None:
    ls.apply_settings(params.settings or {})
    if ls.indexer.configure(ls.settings.index):
        ls.indexer.build()
    await ls.load_model()


async def shutdown(ls: HeedServer, params: None) -> None:
    await ls.learner.close()
    await ls.indexer.close()
    ls.engine.close()


# -- the workspace ---------------------------------------------------------------------------------
def did_save(ls: HeedServer, params: types.DidSaveTextDocumentParams) -> None:
    ls.indexer.file_changed(params.text_document.uri)


def did_change_watched_files(ls: HeedServer, params: types.DidChangeWatchedFilesParams) -> None:
    for change in params.changes:
        ls.indexer.file_changed(change.uri)


def did_change_workspace_folders(ls: HeedServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
    removed = {folder_path(f.uri) for f in params.event.removed}
    added = [p for f in params.event.added if (p := folder_path(f.uri))]
    if ls.indexer.configure(ls.settings.index, [f for f in ls.indexer.folders if f not in removed] + added):
        ls.indexer.build()


# -- learning the project (server/learning.py) -----------------------------------------------------
async def learn_project(ls: HeedServer, *args: Any) -> str:
    """`heed.learnProject [minutes]`: fine-tune on the workspace, then use that model."""
    minutes = float(args[0]) if args and isinstance(args[0], (int, float)) and 0 < args[0] <= 60 else ls.settings.learn.minutes
    return await ls.learner.learn(ls.project_root(), minutes)


async def forget_project(ls: HeedServer, *args: Any) -> str:
    return await ls.learner.forget(ls.project_root())


def progress_cancelled(ls: HeedServer, params: types.WorkDoneProgressCancelParams) -> None:
    ls.learner.cancel(params.token)


# -- documents -------------------------------------------------------------------------------------
def did_open(ls: HeedServer, params: types.DidOpenTextDocumentParams) -> None:
    doc = ls.documents.add(params.text_document.uri, params.text_document.text, params.text_document.version)
    ls.warm_later(doc, WARM_AFTER_OPEN)


def did_change(ls: HeedServer, params: types.DidChangeTextDocumentParams) -> None:
    doc = ls.documents.get(params.text_document.uri)
    if doc is None:
        log.warning("change to a document that is not open: %s", params.text_document.uri)
        return
    for change in params.content_changes:
        doc.apply(change, params.text_document.version or doc.version + 1)
    doc.active = time.monotonic()
    ls.warm_later(doc)


def did_close(ls: HeedServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.documents.close(params.text_document.uri)
    ls.engine.cancel_idle(params.text_document.uri)


# -- requests --------------------------------------------------------------------------------------
async def completion(ls: HeedServer, params: types.CompletionParams) -> types.CompletionList:
    empty = types.CompletionList(is_incomplete=True, items=[])
    doc = ls.documents.get(params.text_document.uri)
    if doc is None:
        return empty
    offset, version, max_items = doc.offset(params.position), doc.version, ls.settings.completion.max_items

    def job(cancelled: Cancelled) -> tuple[Popup, dict[str, tuple[int, str]]]:
        stream, text = doc.snapshot_at(version, offset)
        completer = ls.completer_for(doc)
        if completer is None:
            popup = fallback_popup(stream, offset, max_items, doc.path, ls.indexer.index)
        else:
            popup = completer.popup(stream, offset, max_items, cancelled, quick=True)
        imports = {c.text: edit for c in popup.candidates if c.import_from and (edit := import_edit(text, c.import_from, c.text))}
        return popup, imports

    answer = await ls.answer(doc, "completion", job, version, None)
    if answer is None:
        return empty
    popup, imports = answer
    start = doc.position(offset - len(popup.prefix))
    edit_range = types.Range(start, doc.position(offset))
    data = {"uri": doc.uri, "offset": offset, "version": version}
    items = [convert.completion_item(c, i, edit_range, data, imports.get(c.text)) for i, c in enumerate(popup.candidates)]
    return types.CompletionList(is_incomplete=True, items=items)


async def resolve(ls: HeedServer, item: types.CompletionItem) -> types.CompletionItem:
    data = item.data if isinstance(item.data, dict) else {}
    doc = ls.documents.get(str(data.get("uri", "")))
    if doc is None or data.get("version") != doc.version or not isinstance(data.get("offset"), int):
        return item
    offset = data["offset"]

    def job(cancelled: Cancelled) -> Any:
        stream, _ = doc.snapshot_at(data["version"], offset)
        completer = ls.completer_for(doc)
        return completer.explain(stream, offset, item.label) if completer else None

    explanation = await ls.answer(doc, "resolve", job, data["version"], None)
    if explanation is not None:
        item.documentation = types.MarkupContent(kind=types.MarkupKind.Markdown, value=convert.explanation_markdown(explanation))
    return item


async def inline_completion(ls: HeedServer, params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
    doc = ls.documents.get(params.text_document.uri)
    settings = ls.settings.inline
    if doc is None or not settings.enabled:
        return None
    offset, version = doc.offset(params.position), doc.version
    selected = params.context.selected_completion_info if params.context else None

    def job(cancelled: Cancelled) -> list[Any]:
        stream, _ = doc.snapshot_at(version, offset)
        completer = ls.completer_for(doc)
        if completer is None:
            return []
        return completer.inline(
            stream, offset, settings.beam_width, settings.max_tokens, settings.alternatives,
            selected=selected.text if selected else None, cancelled=cancelled, quick=True,
            min_confidence=settings.min_confidence if settings.min_confidence >= 0 else None,
        )

    suggestions: list[Any] = await ls.answer(doc, "inline", job, version, [])
    if not suggestions:  # the document may have changed since: `offset` is not to be used
        return types.InlineCompletionList(items=[])
    typed = suggestions[0].typed  # as the model read the cursor: the typed prefix, or the selection
    edit_range = selected.range if selected is not None else types.Range(doc.position(offset - len(typed)), doc.position(offset))
    return types.InlineCompletionList(items=[convert.inline_item(typed + s.text, edit_range) for s in suggestions])


async def debug_document(ls: HeedServer, params: Any) -> dict | None:
    """Only with HEED_DEBUG=1, for tests (tests/test_reliability_edits.py): the server's copy of a
    document, to compare with the client's. `streamText` is the token stream's own text, brought
    up to date on the model worker as a completion would, so incremental re-lexing is checked too;
    `warmTokens` how many tokens the warmed model states cover (tests/test_server.py)."""
    uri = params["uri"] if isinstance(params, dict) else params.uri
    doc = ls.documents.get(uri)
    if doc is None:
        return None
    stream, text, version = await ls.engine.call(doc.snapshot)
    base = doc.completer.states.base if doc.completer is not None else None
    return {"text": text, "version": version, "streamText": stream.source(),
            "warmTokens": len(base.inputs) if base is not None else 0,
            "workspace": doc.completer is not None and doc.completer.workspace is not None}


async def debug_index(ls: HeedServer, params: Any) -> dict:
    """Only with HEED_DEBUG=1, for tests (tests/test_workspace_server.py): the index's roots, whether
    it is ready, its `stats()` and the files it holds."""
    return await ls.indexer.debug_state()


FEATURES: list[tuple[str, Any, Callable[..., Any]]] = [  # (LSP method, its options, handler)
    (types.INITIALIZE, None, initialize),
    (types.INITIALIZED, None, initialized),
    (types.WORKSPACE_DID_CHANGE_CONFIGURATION, None, did_change_configuration),
    (types.SHUTDOWN, None, shutdown),
    (types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False), did_save),
    (types.WORKSPACE_DID_CHANGE_WATCHED_FILES, None, did_change_watched_files),
    (types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS, None, did_change_workspace_folders),
    (types.TEXT_DOCUMENT_DID_OPEN, None, did_open),
    (types.TEXT_DOCUMENT_DID_CHANGE, None, did_change),
    (types.TEXT_DOCUMENT_DID_CLOSE, None, did_close),
    (types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["."], resolve_provider=True), completion),
    (types.COMPLETION_ITEM_RESOLVE, None, resolve),
    # pygls advertises inline completion only when its options are given.
    (types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions(), inline_completion),
    (types.WINDOW_WORK_DONE_PROGRESS_CANCEL, None, progress_cancelled),
]


def create_server() -> HeedServer:
    server = HeedServer()
    for method, options, handler in FEATURES:
        server.feature(method, options)(handler)
    server.command(LEARN_COMMAND)(learn_project)
    server.command(FORGET_COMMAND)(forget_project)
    if os.environ.get("HEED_DEBUG") == "1":
        server.feature(DEBUG_DOCUMENT)(debug_document)
        server.feature(DEBUG_INDEX)(debug_index)
    return server
