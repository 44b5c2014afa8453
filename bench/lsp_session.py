"""lsp_bench.py's client: one server process over stdio, the same client code for both servers,
and the RSS of the server's process tree sampled from /proc."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsp_points import REPO, lsp_position
from lsprotocol import types
from pygls.lsp.client import LanguageClient

REQUEST_TIMEOUT_S = 30.0


# ------------------------------------------------------------------------------------------------
# Memory: RSS of a process tree, from /proc
# ------------------------------------------------------------------------------------------------
def tree_pids(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


class RssSampler(threading.Thread):
    """Samples the tree's RSS every `interval` s; keeps the peak of each named phase."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peaks: dict[str, int] = {}
        self.phase_name = "start"
        self.last = 0
        self.samples = 0
        self._halt = threading.Event()

    def phase(self, name: str) -> None:
        self.phase_name = name

    def run(self) -> None:
        pids, refreshed = [self.pid], 0.0
        while not self._halt.is_set():
            now = time.monotonic()
            if now - refreshed > 0.5:  # the tree rarely changes; its RSS does
                pids, refreshed = tree_pids(self.pid), now
            self.last = sum(rss_bytes(p) for p in pids)
            self.samples += 1
            self.peaks[self.phase_name] = max(self.peaks.get(self.phase_name, 0), self.last)
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(2)

    def peak(self, *phases: str) -> float:
        """MB."""
        values = [self.peaks.get(p, 0) for p in (phases or self.peaks)]
        return max(values, default=0) / 2**20


# ------------------------------------------------------------------------------------------------
# The client (the same for both servers)
# ------------------------------------------------------------------------------------------------
CAPABILITIES = types.ClientCapabilities(
    general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf16]),
    window=types.WindowClientCapabilities(work_done_progress=True),
    text_document=types.TextDocumentClientCapabilities(
        synchronization=types.TextDocumentSyncClientCapabilities(did_save=True),
        completion=types.CompletionClientCapabilities(
            completion_item=types.ClientCompletionItemOptions(
                snippet_support=True,
                label_details_support=True,
                documentation_format=[types.MarkupKind.Markdown, types.MarkupKind.PlainText],
                resolve_support=types.ClientCompletionItemResolveOptions(properties=["documentation", "detail"]),
            ),
            context_support=True,
        ),
        inline_completion=types.InlineCompletionClientCapabilities(),
        publish_diagnostics=types.PublishDiagnosticsClientCapabilities(),
    ),
)


class BenchClient(LanguageClient):
    def __init__(self) -> None:
        super().__init__("lsp-bench", "1")
        self.statuses: list[str] = []
        self.last_response = 0.0
        structure = self.protocol.structure_message

        def timestamped(data: dict[str, Any]) -> Any:
            # Called bottom-up by json.loads; the message itself last. A response to us has an
            # id and no method: note when it was read and decoded, before pygls converts it.
            if "jsonrpc" in data and "id" in data and "method" not in data:
                self.last_response = time.perf_counter()
            return structure(data)

        self.protocol.structure_message = timestamped  # type: ignore[method-assign]

        @self.feature("heed/status")
        def on_status(params: Any) -> None:
            state = params.get("state") if isinstance(params, dict) else getattr(params, "state", None)
            self.statuses.append(str(state))

        for method in ("window/logMessage", "window/showMessage", "textDocument/publishDiagnostics", "$/progress", "telemetry/event"):
            self.feature(method)(lambda params: None)

        @self.feature("window/workDoneProgress/create")
        def on_progress_create(params: Any) -> None:
            return None

        @self.feature("client/registerCapability")
        def on_register(params: Any) -> None:
            return None

        @self.feature("workspace/configuration")
        def on_configuration(params: Any) -> list[None]:
            return [None for _ in getattr(params, "items", [])]

    async def timed(self, call: Any, params: Any) -> tuple[Any, float]:
        """(result, ms from sending to the decoded response). Requests are made one at a time."""
        t0 = time.perf_counter()
        try:
            result = await asyncio.wait_for(call(params), REQUEST_TIMEOUT_S)
        except asyncio.TimeoutError:
            return None, REQUEST_TIMEOUT_S * 1000
        except Exception as exc:  # an error response: an answer with nothing in it
            print(f"    request failed: {type(exc).__name__}: {exc}"[:200], file=sys.stderr)
            return None, (time.perf_counter() - t0) * 1000
        t1 = self.last_response if self.last_response > t0 else time.perf_counter()
        return result, (t1 - t0) * 1000


@dataclass
class Server:
    name: str
    command: list[str]
    options: dict[str, Any] | None
    waits_for_status: bool  # heed: wait for heed/status ready before measuring accuracy
    inline: bool


class Session:
    def __init__(self, server: Server, root: Path) -> None:
        self.server, self.root = server, root
        self.client = BenchClient()
        self.sampler: RssSampler | None = None
        self.versions: dict[str, int] = {}
        self.stderr_tail: list[str] = []
        self.stderr_task: asyncio.Task[None] | None = None

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        """Read the server's stderr as it comes: a full pipe would block a server that logs."""
        while line := await stream.readline():
            self.stderr_tail = (self.stderr_tail + [line.decode(errors="replace").rstrip()])[-50:]

    async def start(self, first_doc: tuple[str, str]) -> float:
        """Spawn, initialize, answer one completion; seconds from spawning to that answer."""
        t0 = time.perf_counter()
        await self.client.start_io(*self.server.command, cwd=str(REPO))
        proc = self.client._server
        assert proc is not None and proc.stderr is not None
        self.stderr_task = asyncio.create_task(self._drain(proc.stderr))
        self.sampler = RssSampler(proc.pid)
        self.sampler.start()
        await self.client.initialize_async(
            types.InitializeParams(
                process_id=os.getpid(),
                root_uri=self.root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=self.root.as_uri(), name=self.root.name)],
                capabilities=CAPABILITIES,
                initialization_options=self.server.options,
            )
        )
        self.client.initialized(types.InitializedParams())
        uri, text = first_doc
        self.open(uri, text)
        await self.client.text_document_completion_async(self.completion_params(uri, text, len(text)))
        elapsed = time.perf_counter() - t0
        self.close(uri)
        return elapsed

    async def wait_ready(self, timeout: float = 180) -> str:
        if not self.server.waits_for_status:
            return "n/a"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [s for s in self.client.statuses if s != "loading"]
            if done:
                return done[-1]
            await asyncio.sleep(0.05)
        return "timeout"

    def open(self, uri: str, text: str) -> None:
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
            )
        )

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(
            types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )

    def change(self, uri: str, start: types.Position, end: types.Position, new: str) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start, end), text=new)],
            )
        )

    @staticmethod
    def completion_params(uri: str, text: str, offset: int, position: types.Position | None = None) -> types.CompletionParams:
        before = text[offset - 1] if offset > 0 else ""
        context = (
            types.CompletionContext(trigger_kind=types.CompletionTriggerKind.TriggerCharacter, trigger_character=".")
            if before == "."
            else types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked)
        )
        return types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position or lsp_position(text, offset),
            context=context,
        )

    async def complete(self, uri: str, text: str, offset: int, position: types.Position | None = None) -> tuple[list[types.CompletionItem], float]:
        result, ms = await self.client.timed(
            self.client.text_document_completion_async, self.completion_params(uri, text, offset, position)
        )
        items = list(result.items) if isinstance(result, types.CompletionList) else list(result or [])
        return items, ms

    async def inline(self, uri: str, text: str, offset: int) -> tuple[list[types.InlineCompletionItem], float]:
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=lsp_position(text, offset),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic),
        )
        result, ms = await self.client.timed(self.client.text_document_inline_completion_async, params)
        items = list(result.items) if isinstance(result, types.InlineCompletionList) else list(result or [])
        return items, ms

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.shutdown_async(None), 5)
            self.client.exit(None)
        proc = self.client._server
        if proc is not None:
            for end in (None, proc.terminate, proc.kill):
                if end is not None and proc.returncode is None:
                    end()
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                    break
                except asyncio.TimeoutError:
                    continue
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.stop(), 5)
        if self.stderr_task is not None:
            self.stderr_task.cancel()
        if self.sampler is not None:
            self.sampler.stop()
