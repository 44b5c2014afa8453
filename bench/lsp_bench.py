#!/usr/bin/env python
"""heed's language server vs jedi-language-server, over real LSP on stdio, on held-out code.

    python bench/lsp_bench.py [--points N] [--files F ...] [--json OUT]

What it does (both servers get the same points, the same client code and the same capabilities):

* Points come from real code heed's model never saw: the held-out projects of
  `bench/projects.txt` (fetched into runs/projects/evaluation by `bench/fetch_projects.sh`; tests
  folders skipped), the files `heed eval --projects` reads, the places of
  `heed.model.training.positions`. Three kinds, sampled with a fixed seed, at most one point per
  file per round so that a few huge files cannot dominate:
    attribute   right after a `.` (not in import statements); expected: the attribute name
    identifier  at the start of an identifier (not after `.`, not a def/class name); expected: it
    inline      at the start of a token in mid-line (lines with no comment and no multi-line
                token); expected: the rest of the line, stripped
  The servers see a copy of the projects in which the file being asked about holds on disk what
  the editor holds (the text before the cursor), so reading modules from disk never shows the
  answer.
* Replay: the document is opened CUT AT THE CURSOR (nothing after it) and one request is made at
  once (`textDocument/completion`, or `textDocument/inlineCompletion` for inline points): the
  "just opened" latency, and the answer that is scored. Then the cursor's line is deleted and
  typed back (two incremental changes) and the same request made again: the "warm" latency
  (and a check that the answer did not change). The popup is ranked as editors do (sortText,
  then label); an item matches when its label, with a trailing `=` of a keyword-argument item
  removed, equals the expected text.
* Latency is client-side: from sending the request to having the whole response read and
  JSON-decoded (pygls's own conversion to lsprotocol objects is not counted, so a server that
  returns a long list is not charged for this client's slowness).
* Start-up: process start -> first completion response (`initialize` included), whatever the
  model's state (heed answers from the names in scope until its model is loaded).
* Typing in a large file: a real held-out file of 4,000+ lines is opened whole and asked once at
  the first place; then, after a pause for reading (`--read-pause`, 3 s by default: a person
  looks at a file before typing in it), at a few places a new line is started and a short
  identifier (with one `.attr` when the code has one) is typed char by char with incremental
  `didChange`, a completion request after each keystroke.
* Memory: the RSS of the server's process tree, sampled every 50 ms from /proc, during the point
  replay and in a separate fresh session with 20 real files open (one completion in each).

jedi-language-server runs with its default options; it does not do inline completion (n/a). The
workspace root is an empty temporary folder for both (documents keep their real paths).
Targets are printed beside the measured values with a check mark; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import io
import json
import keyword
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tokenize
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from heed.model.training.metrics import similarity
from heed.model.training.positions import places, project_files, read_source
from heed.server.documents import line_starts

REPO = Path(__file__).resolve().parent.parent
PROJECTS = REPO / "runs" / "projects" / "evaluation"  # the held-out projects: bash bench/fetch_projects.sh
KINDS = ("attribute", "identifier", "inline")
TYPING_FILE = "textual/textual/widget.py"  # 4,956 lines of hand-written held-out code, under PROJECTS
REQUEST_TIMEOUT_S = 30.0


# ------------------------------------------------------------------------------------------------
# Points
# ------------------------------------------------------------------------------------------------
@dataclass
class Point:
    kind: str
    file: str  # path relative to site-packages (or as given)
    path: str  # absolute path
    offset: int  # the cursor, in code points
    line: int  # 0-based
    col: int  # 0-based, code points
    expected: str


def lsp_position(text: str, offset: int) -> types.Position:
    """The LSP (UTF-16) position of a code-point offset."""
    line = text.count("\n", 0, offset)
    segment = text[text.rfind("\n", 0, offset) + 1 : offset]
    return types.Position(line=line, character=len(segment.encode("utf-16-le")) // 2)


SKIP = (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)


def candidates(text: str) -> dict[str, list[tuple[int, int, int, str]]]:
    """All candidate points of a file: kind -> [(offset, line, col, expected)] (`heed.model.training.positions`)."""
    found = places(text)
    return {kind: [(p.offset, p.line, p.col, p.expected) for p in found[where]]
            for kind, where in (("attribute", "attribute"), ("identifier", "identifier"), ("inline", "line"))}


def held_out_files(projects: list[Path]) -> list[tuple[str, Path]]:
    """(label, path) of the projects' files, as `heed eval --projects` reads them."""
    return [(f"{root.name}/{path.relative_to(root).as_posix()}", path) for root in projects for path in project_files(root)]


class Mirror:
    """A copy of the projects in which the file being asked about holds on disk what the editor
    holds (the text before the cursor), so that a server reading modules from disk never finds
    the answer there; each file is whole again once its point is done."""

    def __init__(self, projects: list[Path]):
        self.root = Path(tempfile.mkdtemp(prefix="lsp-bench-projects-"))
        for project in projects:
            shutil.copytree(project, self.root / project.name, symlinks=True)

    def path(self, label: str) -> Path:
        return self.root / label

    @contextlib.contextmanager
    def cut(self, path: Path, text: str) -> Iterator[None]:
        whole = path.read_bytes() if path.is_relative_to(self.root) else None
        if whole is not None:
            path.write_text(text, encoding="utf-8")
        try:
            yield
        finally:
            if whole is not None:
                path.write_bytes(whole)


def sample_points(
    files: list[tuple[str, Path]], n: int, seed: int, min_lines: int = 20
) -> tuple[list[Point], dict[str, str]]:
    """`n` points per kind: files in a seeded order, one random unused point per file per round."""
    texts: dict[str, str] = {}
    per_file: dict[str, dict[str, list[tuple[int, int, int, str]]]] = {}
    for rel, path in files:
        text = read_source(path)
        if text is None or text.count("\n") < min_lines:
            continue
        texts[rel] = text
        per_file[rel] = candidates(text)
    paths = dict(files)
    points: list[Point] = []
    for kind in KINDS:
        rng = random.Random(f"{seed}:{kind}")
        order = sorted(per_file)
        rng.shuffle(order)
        pools = {rel: list(per_file[rel][kind]) for rel in order}
        picked: list[Point] = []
        while len(picked) < n and any(pools.values()):
            for rel in order:
                pool = pools[rel]
                if not pool:
                    continue
                offset, line, col, expected = pool.pop(rng.randrange(len(pool)))
                picked.append(Point(kind, rel, str(paths[rel]), offset, line, col, expected))
                if len(picked) >= n:
                    break
        points.extend(picked)
    return points, texts


@dataclass
class TypingPlace:
    line: int  # 0-based row of the statement the new line is inserted before
    indent: str
    word: str


def typing_places(text: str, k: int, seed: int) -> list[TypingPlace]:
    """Statements inside function bodies (indent >= 8) that start with a name: type that name (and
    one `.attr` when the code has one) on a new line inserted before the statement."""
    toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    lines = text.split("\n")
    found: list[TypingPlace] = []
    logical_start = True
    for i, tok in enumerate(toks):
        if tok.type == tokenize.NEWLINE:
            logical_start = True
            continue
        if tok.type in SKIP:
            continue
        if logical_start:
            logical_start = False
            if tok.type != tokenize.NAME or keyword.iskeyword(tok.string) or len(tok.string) < 3:
                continue
            row, col = tok.start
            indent = lines[row - 1][:col]
            if col < 8 or indent.strip():
                continue
            word = tok.string
            if (
                i + 2 < len(toks)
                and toks[i + 1].string == "."
                and toks[i + 2].type == tokenize.NAME
                and toks[i + 1].start == tok.end
                and toks[i + 2].start == toks[i + 1].end
            ):
                word += "." + toks[i + 2].string
            found.append(TypingPlace(row - 1, indent, word))
    rng = random.Random(f"{seed}:typing")
    picked = rng.sample(found, min(k, len(found)))
    return sorted(picked, key=lambda p: p.line)


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


# ------------------------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------------------------
def ranked_labels(items: list[types.CompletionItem]) -> list[str]:
    """The popup in the server's order, as editors show it: by sortText, then label."""
    ordered = sorted(items, key=lambda i: (i.sort_text if i.sort_text is not None else i.label, i.label))
    return [i.label for i in ordered]


def rank_of(labels: list[str], expected: str) -> int | None:
    for i, label in enumerate(labels, 1):
        if label == expected or (label.endswith("=") and label[:-1] == expected):
            return i
    return None


def inline_suggestion(items: list[types.InlineCompletionItem], text: str) -> str:
    """The first item's text minus the part already typed (its range start -> cursor), first line."""
    if not items:
        return ""
    item = items[0]
    insert = item.insert_text if isinstance(item.insert_text, str) else item.insert_text.value
    typed = ""
    if item.range is not None:
        starts = line_starts(text)
        start = item.range.start
        # the range is on the cursor's line; ASCII-only prefixes make UTF-16 == code points there
        typed = text[starts[start.line] + start.character :] if start.line < len(starts) else ""
    if typed and insert.startswith(typed):
        insert = insert[len(typed) :]
    return insert.split("\n")[0].strip()


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def latency_summary(ms: list[float]) -> dict[str, float | None]:
    return {"n": len(ms), "p50": quantile(ms, 0.5), "p95": quantile(ms, 0.95), "max": max(ms) if ms else None}


# ------------------------------------------------------------------------------------------------
# The runs
# ------------------------------------------------------------------------------------------------
STARTUP_DOC = "import collections\n\n\ndef count(words):\n    counts = collections.Counter(words)\n    return counts."


def retype_line(session: Session, uri: str, text: str) -> None:
    """The document is open and answered once: delete the cursor's line up to the cursor, type it
    back (two incremental changes), so the next request is the same question on a warm server."""
    line_start = text.rfind("\n", 0, len(text)) + 1
    typed = text[line_start:]
    if not typed:
        return
    start, end = lsp_position(text, line_start), lsp_position(text, len(text))
    session.change(uri, start, end, "")
    session.change(uri, start, start, typed)


async def ask_point(session: Session, server: Server, uri: str, text: str, p: Point, records: list[dict[str, Any]],
                    warm: bool) -> None:
    """Open the document cut at the point's cursor, ask once (and again warm), score, close."""
    session.open(uri, text)
    rec: dict[str, Any] = {"kind": p.kind, "file": p.file, "line": p.line, "col": p.col, "expected": p.expected}
    if p.kind == "inline":
        if server.inline:
            ghosts, ms = await session.inline(uri, text, len(text))
            got = inline_suggestion(ghosts, text)
            rec.update(ms=ms, suggestion=got, exact=got == p.expected, similarity=similarity(got, p.expected))
            if warm:
                retype_line(session, uri, text)
                ghosts, rec["warm_ms"] = await session.inline(uri, text, len(text))
                rec["warm_same"] = inline_suggestion(ghosts, text) == got
    else:
        items, ms = await session.complete(uri, text, len(text))
        labels = ranked_labels(items)
        rec.update(ms=ms, rank=rank_of(labels, p.expected), n_items=len(labels), top=labels[:5])
        if warm:
            retype_line(session, uri, text)
            items, rec["warm_ms"] = await session.complete(uri, text, len(text))
            rec["warm_same"] = ranked_labels(items) == labels
    session.close(uri)
    records.append(rec)


async def run_points_session(server: Server, points: list[Point], texts: dict[str, str], root: Path,
                             typing_text: str, typing_uri: str, places: list[TypingPlace], progress: bool,
                             warm: bool, read_pause: float, mirror: Mirror | None = None) -> dict[str, Any]:
    session = Session(server, root)
    out: dict[str, Any] = {"server": server.name}
    startup_uri = (root / "heed_bench_startup.py").as_uri()
    out["startup_s"] = await session.start((startup_uri, STARTUP_DOC))
    t_ready = time.perf_counter()
    out["model_state"] = await session.wait_ready()
    out["ready_wait_s"] = time.perf_counter() - t_ready
    assert session.sampler is not None
    session.sampler.phase("points")
    records = []
    t_points = time.perf_counter()
    for i, p in enumerate(points):
        text = texts[p.file][: p.offset]
        uri = Path(p.path).as_uri()
        with mirror.cut(Path(p.path), text) if mirror is not None else contextlib.nullcontext():
            await ask_point(session, server, uri, text, p, records, warm)
        if progress and (i + 1) % 25 == 0:
            print(f"  {server.name}: {i + 1}/{len(points)} points ({time.perf_counter() - t_points:.0f} s)", file=sys.stderr)
    out["points_s"] = time.perf_counter() - t_points
    out["records"] = records

    # typing in a large file
    session.sampler.phase("typing")
    t_typing = time.perf_counter()
    session.open(typing_uri, typing_text)
    first_place = places[0]
    starts = line_starts(typing_text)
    _, out["typing_first_ms"] = await session.complete(
        typing_uri, typing_text, starts[first_place.line] + len(first_place.indent)
    )
    await asyncio.sleep(read_pause)
    keystrokes: list[dict[str, Any]] = []
    for place in places:
        row, col0 = place.line, len(place.indent)
        line_start = types.Position(row, 0)
        session.change(typing_uri, line_start, line_start, place.indent + "\n")  # Enter, auto-indented
        typed = place.indent
        for j, ch in enumerate(place.word):
            pos = types.Position(row, col0 + j)
            session.change(typing_uri, pos, pos, ch)
            typed += ch
            cursor = types.Position(row, col0 + j + 1)
            context_text = typed  # the current line up to the cursor decides the trigger kind
            items, ms = await session.complete(typing_uri, context_text, len(context_text), cursor)
            typed_word = place.word[: j + 1]
            segment = typed_word.rsplit(".", 1)[-1]  # what the popup filters by
            target = place.word.split(".")[typed_word.count(".")]  # the name being typed
            labels = [label for label in ranked_labels(items) if label.startswith(segment)]
            keystrokes.append({"line": row, "typed": typed_word, "ms": ms, "n_items": len(items),
                               "target_top5": target in labels[:5], "first_at_place": j == 0})
        session.change(typing_uri, types.Position(row, 0), types.Position(row + 1, 0), "")  # undo
    session.close(typing_uri)
    out["typing"] = keystrokes
    out["typing_s"] = time.perf_counter() - t_typing
    out["peak_rss_points_mb"] = session.sampler.peak("start", "points")
    out["peak_rss_typing_mb"] = session.sampler.peak("typing")
    t_stop = time.perf_counter()
    await session.stop()
    out["stop_s"] = time.perf_counter() - t_stop
    if progress:
        print(f"  {server.name}: start {out['startup_s']:.1f} s, model wait {out['ready_wait_s']:.1f} s, points "
              f"{out['points_s']:.1f} s, typing {out['typing_s']:.1f} s, shutdown {out['stop_s']:.1f} s", file=sys.stderr)
    return out


async def run_memory_session(server: Server, files: list[tuple[str, Path, str]], root: Path, seed: int) -> dict[str, Any]:
    """A fresh server with `len(files)` real files open, one completion (and inline) in each."""
    session = Session(server, root)
    startup_uri = (root / "heed_bench_startup.py").as_uri()
    out: dict[str, Any] = {"startup_s": await session.start((startup_uri, STARTUP_DOC))}
    out["model_state"] = await session.wait_ready()
    assert session.sampler is not None
    session.sampler.phase("open")
    rng = random.Random(f"{seed}:memory")
    for _rel, path, text in files:
        uri = path.as_uri()
        session.open(uri, text)
        pool = candidates(text)["identifier"]
        offset = pool[rng.randrange(len(pool))][0] if pool else len(text)
        await session.complete(uri, text, offset)
        if server.inline:
            await session.inline(uri, text, offset)
    await asyncio.sleep(1.0)
    out["open_files"] = len(files)
    out["rss_open_mb"] = session.sampler.last / 2**20
    out["peak_rss_open_mb"] = session.sampler.peak("open")
    out["peak_rss_session_mb"] = session.sampler.peak()
    await session.stop()
    return out


# ------------------------------------------------------------------------------------------------
# Summary and report
# ------------------------------------------------------------------------------------------------
def same_share(recs: list[dict[str, Any]]) -> float | None:
    """How often the warm answer equalled the cold one (it should: same text, same cursor)."""
    warm = [r["warm_same"] for r in recs if "warm_same" in r]
    return sum(warm) / len(warm) if warm else None


def summarize(run: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = {"model_state": run["model_state"], "startup_s": run["startup_s"]}
    for kind in ("attribute", "identifier"):
        recs = [r for r in run["records"] if r["kind"] == kind]
        ranks = [r["rank"] for r in recs]
        n = len(recs)
        s[kind] = {
            "n": n,
            "top1": sum(1 for r in ranks if r == 1) / n if n else None,
            "top5": sum(1 for r in ranks if r is not None and r <= 5) / n if n else None,
            "mrr": sum(1 / r for r in ranks if r) / n if n else None,
            "latency_ms": latency_summary([r["ms"] for r in recs]),
            "warm_latency_ms": latency_summary([r["warm_ms"] for r in recs if "warm_ms" in r]),
            "warm_same": same_share(recs),
            "mean_items": sum(r["n_items"] for r in recs) / n if n else None,
        }
    recs = [r for r in run["records"] if r["kind"] == "inline" and "ms" in r]
    n = len(recs)
    s["inline"] = {
        "n": n,
        "exact": sum(r["exact"] for r in recs) / n if n else None,
        "exact_ignoring_spaces": sum(r["suggestion"].replace(" ", "") == r["expected"].replace(" ", "") for r in recs) / n if n else None,
        "similarity": sum(r["similarity"] for r in recs) / n if n else None,
        "empty": sum(1 for r in recs if not r["suggestion"]) / n if n else None,
        "latency_ms": latency_summary([r["ms"] for r in recs]),
        "warm_latency_ms": latency_summary([r["warm_ms"] for r in recs if "warm_ms" in r]),
        "warm_same": same_share(recs),
    }
    keys = run["typing"]
    scored = [k for k in keys if k["target_top5"] is not None]
    s["typing"] = {
        "first_after_open_ms": run["typing_first_ms"],
        "latency_ms": latency_summary([k["ms"] for k in keys]),
        "first_key_at_place_ms": latency_summary([k["ms"] for k in keys if k.get("first_at_place")]),
        "later_keys_ms": latency_summary([k["ms"] for k in keys if not k.get("first_at_place")]),
        "word_in_top5": sum(k["target_top5"] for k in scored) / len(scored) if scored else None,
    }
    s["peak_rss_points_mb"] = run["peak_rss_points_mb"]
    s["peak_rss_typing_mb"] = run["peak_rss_typing_mb"]
    mem = run.get("memory")
    if mem:
        s["startup_s_second"] = mem["startup_s"]
        s["peak_rss_open_mb"] = mem["peak_rss_open_mb"]
        s["open_files"] = mem["open_files"]
        s["peak_rss_open_session_mb"] = mem["peak_rss_session_mb"]
    return s


def fmt(v: Any, unit: str = "", digits: int = 2) -> str:
    if v is None:
        return "n/a"
    if unit == "%":
        return f"{100 * v:.1f}%"
    if unit == "ms":
        return f"{v:.1f} ms" if v < 100 else f"{v:.0f} ms"
    if unit == "s":
        return f"{v:.2f} s"
    if unit == "MB":
        return f"{v:.0f} MB"
    return f"{v:.{digits}f}"


def ratio(a: Any, b: Any) -> str:
    if a is None or b is None:
        return "n/a"
    if b == 0:
        return "inf" if a else "-"
    r = a / b
    return f"{r:.2f}x" if r < 10 else f"{r:.0f}x"


def get(d: dict[str, Any] | None, *path: str) -> Any:
    for key in path:
        if d is None:
            return None
        d = d.get(key)
    return d


def report_rows(h: dict[str, Any], j: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, path: tuple[str, ...], unit: str) -> None:
        a, b = get(h, *path), get(j, *path)
        rows.append((label, fmt(a, unit), fmt(b, unit), ratio(a, b)))

    for kind, title in (("attribute", "attribute (after `.`)"), ("identifier", "identifier start")):
        row(f"{title} top-1", (kind, "top1"), "%")
        row(f"{title} top-5", (kind, "top5"), "%")
        row(f"{title} MRR", (kind, "mrr"), "")
        for q in ("p50", "p95", "max"):
            row(f"{title} latency {q}, just opened", (kind, "latency_ms", q), "ms")
        for q in ("p50", "p95"):
            row(f"{title} latency {q}, warm", (kind, "warm_latency_ms", q), "ms")
    row("inline exact match", ("inline", "exact"), "%")
    row("inline exact, ignoring spaces", ("inline", "exact_ignoring_spaces"), "%")
    row("inline edit similarity", ("inline", "similarity"), "")
    for q in ("p50", "p95", "max"):
        row(f"inline latency {q}, just opened", ("inline", "latency_ms", q), "ms")
    for q in ("p50", "p95"):
        row(f"inline latency {q}, warm", ("inline", "warm_latency_ms", q), "ms")
    row("typing, large file: first answer after open", ("typing", "first_after_open_ms"), "ms")
    for q in ("p50", "p95", "max"):
        row(f"typing, large file: popup {q}", ("typing", "latency_ms", q), "ms")
    row("  first keystroke at each place, p50", ("typing", "first_key_at_place_ms", "p50"), "ms")
    row("  first keystroke at each place, max", ("typing", "first_key_at_place_ms", "max"), "ms")
    row("  later keystrokes, p95", ("typing", "later_keys_ms", "p95"), "ms")
    row("typing, large file: word in top-5", ("typing", "word_in_top5"), "%")
    row("start -> first answer", ("startup_s",), "s")
    row("start -> first answer (2nd start)", ("startup_s_second",), "s")
    row("peak RSS, replaying the points", ("peak_rss_points_mb",), "MB")
    row("peak RSS, typing in the large file", ("peak_rss_typing_mb",), "MB")
    row(f"peak RSS, {h.get('open_files', 0)} files open", ("peak_rss_open_mb",), "MB")
    return rows


def targets(h: dict[str, Any], j: dict[str, Any] | None, typing_lines: int) -> list[tuple[bool | None, str, str]]:
    """(met, target, measured)."""
    out: list[tuple[bool | None, str, str]] = []

    def check(ok: bool | None, target: str, measured: str) -> None:
        out.append((ok, target, measured))

    def le(v: Any, limit: float) -> bool | None:
        return None if v is None else v <= limit

    def ge(v: Any, limit: float) -> bool | None:
        return None if v is None else v >= limit

    tp95 = get(h, "typing", "latency_ms", "p95")
    check(le(tp95, 30), f"popup p95 <= 30 ms while typing in a {typing_lines:,}-line file", fmt(tp95, "ms"))
    jp95 = get(j, "typing", "latency_ms", "p95")
    speedup = jp95 / tp95 if tp95 and jp95 else None
    check(ge(speedup, 5), "  ... and >= 5x below jedi's p95 on the same keystrokes",
          f"jedi {fmt(jp95, 'ms')} / heed {fmt(tp95, 'ms')} = {ratio(jp95, tp95)}")
    ip95, iw95 = get(h, "inline", "latency_ms", "p95"), get(h, "inline", "warm_latency_ms", "p95")
    check(le(ip95, 150), "inline p95 <= 150 ms (document just opened)", f"{fmt(ip95, 'ms')} (warm: {fmt(iw95, 'ms')})")
    a1, ja1 = get(h, "attribute", "top1"), get(j, "attribute", "top1")
    check(None if a1 is None or ja1 is None else a1 >= 3 * ja1, "attribute top-1 >= 3x jedi's",
          f"heed {fmt(a1, '%')} vs jedi {fmt(ja1, '%')} ({ratio(a1, ja1)})")
    a5 = get(h, "attribute", "top5")
    check(ge(a5, 0.60), "attribute top-5 >= 60%", fmt(a5, "%"))
    i5 = get(h, "identifier", "top5")
    check(ge(i5, 0.50), "identifier-start top-5 >= 50%", fmt(i5, "%"))
    ex = get(h, "inline", "exact")
    check(ge(ex, 0.20), "inline exact match >= 20%", fmt(ex, "%"))
    starts = [v for v in (get(h, "startup_s"), get(h, "startup_s_second")) if v is not None]
    worst = max(starts) if starts else None
    check(le(worst, 2.0), "start -> first answer <= 2 s (worse of two starts)", fmt(worst, "s"))
    mem = get(h, "peak_rss_open_mb")
    check(le(mem, 400), "peak memory <= 400 MB with 20 open files", f"{fmt(mem, 'MB')} with {h.get('open_files', 0)} open")
    return out


def render(h: dict[str, Any], j: dict[str, Any] | None, typing_lines: int, markdown: bool) -> str:
    rows = report_rows(h, j)
    marks = {True: "✓", False: "✗", None: "?"}
    lines = []
    if markdown:
        lines += ["| metric | heed | jedi-language-server | heed/jedi |", "|---|---:|---:|---:|"]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
        lines += ["", "| | target | measured |", "|---|---|---|"]
        lines += [f"| {marks[ok]} | {t.strip().replace('...', 'popup p95')} | {m} |" for ok, t, m in targets(h, j, typing_lines)]
    else:
        w = max(len(r[0]) for r in rows)
        lines.append(f"{'metric':<{w}}  {'heed':>10}  {'jedi':>10}  {'heed/jedi':>9}")
        lines.append("-" * (w + 37))
        lines += [f"{a:<{w}}  {b:>10}  {c:>10}  {d:>9}" for a, b, c, d in rows]
        lines += ["", "Targets:"]
        lines += [f"  {marks[ok]} {t}: {m}" for ok, t, m in targets(h, j, typing_lines)]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_1m_at_start": os.getloadavg()[0]}


def model_meta() -> dict[str, Any]:
    try:
        from heed.model.nn.store import default_model_dir

        config = json.loads((Path(default_model_dir()) / "config.json").read_text())
        return config.get("meta", {})
    except Exception as exc:  # report, don't fail
        return {"error": str(exc)}


def git_state() -> str:
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=False).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("heed", "jedi-language-server", "jedi", "pygls", "lsprotocol", "libcst"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


# ------------------------------------------------------------------------------------------------
async def main_async(args: argparse.Namespace) -> int:
    mirror = None
    if args.files:
        files = [(str(Path(f)), Path(f).resolve()) for f in args.files]
        source = "the given files"
    else:
        projects = [Path(p).resolve() for p in args.projects] if args.projects else sorted(p for p in PROJECTS.glob("*") if p.is_dir())
        if not projects:
            print(f"no held-out projects in {PROJECTS}: run bash bench/fetch_projects.sh (or pass --projects/--files)",
                  file=sys.stderr)
            return 2
        mirror = Mirror(projects)
        files = [(label, mirror.path(label)) for label, _ in held_out_files(projects)]
        source = ", ".join(p.name for p in projects)
    # The workspace root is an empty folder: documents keep their real paths (so jedi resolves
    # relative imports), but no server indexes or puts on sys.path a folder of unrelated code
    # (with site-packages as the root, jedi's start-up alone took 7-27 s here).
    root = Path(tempfile.mkdtemp(prefix="lsp-bench-"))
    points, texts = sample_points(files, args.points, args.seed)
    typing_path = Path(args.typing_file) if args.typing_file else PROJECTS / TYPING_FILE
    typing_text = read_source(typing_path)
    if typing_text is None:
        print(f"cannot read the typing file {typing_path}", file=sys.stderr)
        return 2
    typing_lines = typing_text.count("\n") + 1
    places = typing_places(typing_text, args.typing_places, args.seed)
    big = sorted(rel for rel, t in texts.items() if t.count("\n") >= 200)
    memory_files = [(rel, Path(dict(files)[rel]), texts[rel]) for rel in random.Random(f"{args.seed}:open").sample(big, min(args.open_files, len(big)))]
    by_kind = {k: sum(1 for p in points if p.kind == k) for k in KINDS}
    print(f"{len(texts)} files, points per kind {by_kind}, typing file {typing_path.name} ({typing_lines:,} lines, "
          f"{len(places)} places, {sum(len(p.word) for p in places)} keystrokes), {len(memory_files)} files open for memory",
          file=sys.stderr)
    training = subprocess.run(["pgrep", "-f", "heed -v train"], capture_output=True, text=True, check=False).stdout.split()
    if training:
        print(f"warning: a training run is using the CPU (pids {' '.join(training)}): latencies are pessimistic",
              file=sys.stderr)

    servers = [Server("heed", [sys.executable, "-m", "heed", "serve"], {"completion": {"maxItems": args.max_items}}, True, True)]
    jedi_cmd = shutil.which("jedi-language-server", path=str(Path(sys.executable).parent)) or shutil.which("jedi-language-server")
    if args.no_jedi:
        pass
    elif jedi_cmd is None:
        print("jedi-language-server not found: pip install jedi-language-server (or --no-jedi)", file=sys.stderr)
        return 2
    else:
        servers.append(Server("jedi", [jedi_cmd], None, False, False))

    typing_uri = typing_path.as_uri()
    meta = model_meta()  # read before the servers load it, compared after
    env, git_start = machine(), git_state()
    runs: dict[str, dict[str, Any]] = {}
    t_all = time.perf_counter()
    for server in servers:
        print(f"{server.name}: replaying {len(points)} points ...", file=sys.stderr)
        run = await run_points_session(server, points, texts, root, typing_text, typing_uri, places, not args.quiet,
                                       not args.no_warm, args.read_pause, mirror)
        if args.open_files:
            print(f"{server.name}: {len(memory_files)} files open ...", file=sys.stderr)
            run["memory"] = await run_memory_session(server, memory_files, root, args.seed)
        runs[server.name] = run
        print(f"{server.name}: done in {time.perf_counter() - t_all:.0f} s", file=sys.stderr)
    shutil.rmtree(root, ignore_errors=True)
    if mirror is not None:
        shutil.rmtree(mirror.root, ignore_errors=True)

    summaries = {name: summarize(run) for name, run in runs.items()}
    h, j = summaries["heed"], summaries.get("jedi")
    if model_meta() != meta:
        print("warning: model/default changed during the run: the numbers mix two models", file=sys.stderr)
        meta["changed_during_run"] = True
    cmd = "python bench/lsp_bench.py " + " ".join(sys.argv[1:])
    header = (f"heed {versions()['heed']} (model trained_steps={meta.get('trained_steps')}, state {h['model_state']}) vs "
              f"jedi-language-server {versions()['jedi-language-server']}; {by_kind['attribute']}/{by_kind['identifier']}/"
              f"{by_kind['inline']} attribute/identifier/inline points from {len(texts)} held-out files; "
              f"{env['cpu']}, {env['cores']} cores; {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}")
    print()
    print(header)
    print(render(h, j, typing_lines, markdown=False))
    if args.markdown:
        lines = [
            f"- Command: `{cmd.strip()}` ({time.perf_counter() - t_all:.0f} s)",
            f"- Machine: {env['cpu']}, {env['cores']} cores, no GPU; Python {env['python']}; "
            f"load average {env['load_1m_at_start']:.2f} at the start",
            f"- Date: {dt.datetime.now().strftime('%Y-%m-%d %H:%M %Z').strip()}; heed at {git_start}"
            + ("" if git_state() == git_start else f" (HEAD moved to {git_state()} during the run)"),
            f"- heed's model: model/default, trained_steps {meta.get('trained_steps')} "
            f"(val_acc {meta.get('val_acc')}), status `{h['model_state']}` before measuring",
            "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
            f"- Points: {by_kind['attribute']} attribute, {by_kind['identifier']} identifier-start, "
            f"{by_kind['inline']} inline, from {len(texts)} files of {source} (seed {args.seed}); "
            f"typing: {typing_path.name} ({typing_lines:,} lines), {len(places)} places, "
            f"{sum(len(p.word) for p in places)} keystrokes after a {args.read_pause:g} s reading pause",
            "",
            render(h, j, typing_lines, markdown=True),
        ]
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    if args.json:
        doc = {
            "command": cmd, "date": dt.datetime.now().isoformat(timespec="seconds"), "machine": env,
            "versions": versions(), "git": git_start, "git_at_end": git_state(), "model": meta, "seed": args.seed, "points_per_kind": by_kind,
            "files": len(texts), "typing_file": str(typing_path), "typing_lines": typing_lines,
            "typing_places": [asdict(p) for p in places], "read_pause_s": args.read_pause, "memory_files": [rel for rel, _, _ in memory_files],
            "summary": summaries,
            "targets": [{"met": ok, "target": t.strip(), "measured": m} for ok, t, m in targets(h, j, typing_lines)],
            "runs": {name: {k: v for k, v in run.items()} for name, run in runs.items()},
            "wall_s": time.perf_counter() - t_all,
        }
        Path(args.json).write_text(json.dumps(doc, indent=1, default=str))
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=150, help="points per kind (default 150)")
    parser.add_argument("--projects", nargs="+", help=f"held-out project folders (default: those in {PROJECTS})")
    parser.add_argument("--files", nargs="+", help="take points from these files instead of the held-out projects")
    parser.add_argument("--json", help="write the full results (every point) to this file")
    parser.add_argument("--markdown", help="write the table as Markdown to this file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--typing-file", help=f"the large file to type in (default {PROJECTS.name}/{TYPING_FILE})")
    parser.add_argument("--typing-places", type=int, default=8, help="places typed at in the large file (default 8)")
    parser.add_argument("--read-pause", type=float, default=3.0,
                        help="seconds between opening the large file (and a first request) and typing in it (default 3)")
    parser.add_argument("--open-files", type=int, default=20, help="files open in the memory run (0: skip it)")
    parser.add_argument("--max-items", type=int, default=20, help="heed's completion.maxItems (its default: 20)")
    parser.add_argument("--no-jedi", action="store_true", help="heed alone")
    parser.add_argument("--no-warm", action="store_true", help="skip the second (warm) request at each point")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
