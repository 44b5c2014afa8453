"""A raw JSON-RPC client over the real server's stdio, for the reliability tests and bench/soak.py.

pytest-lsp speaks only well-formed LSP; these tests also need to write broken frames, send
requests faster than they can be served, time every answer and read the server's memory. So
`ServerProcess` writes `Content-Length` frames itself, a reader thread collects what comes back
(answers by id, notifications by method), and another drains stderr so a chatty server never
blocks on a full pipe.

It also holds the client side of a document: `ClientDoc` keeps the text the editor has and
turns code-point offsets into LSP positions (UTF-16 code units, lines split on CRLF, CR and LF
only, as the specification says). The tests at the bottom check that model against an
independent encoder, and the server's own conversion against it.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 5.0  # seconds any single request may take to answer, in every reliability test


class NoAnswer(AssertionError):
    """The server did not answer a request in time (or died)."""


class ServerProcess:
    """`python -m heed serve` as a subprocess, driven with raw frames."""

    def __init__(self, *, debug: bool = True, env: dict[str, str] | None = None, args: tuple[str, ...] = ()):
        full_env = dict(os.environ, PYTHONUNBUFFERED="1")
        if debug:
            full_env["HEED_DEBUG"] = "1"
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "heed", *args, "serve"], cwd=REPO, env=full_env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.ids = itertools.count(1)
        self.answers: dict[Any, dict] = {}
        self.notes: dict[str, list[Any]] = defaultdict(list)
        self.unframed: list[dict] = []  # answers whose id we never sent (e.g. id null)
        self.stderr_tail: deque[str] = deque(maxlen=200)
        self.tracebacks: list[list[str]] = []  # the first few tracebacks the server logged, whole
        self.traceback_count = 0
        self.cond = threading.Condition()
        self.write_lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    # -- the wire -------------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        with self.write_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()  # ASCII: lone surrogates and NULs travel as \u escapes
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _read_stdout(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    with self.cond:
                        self.closed = True
                        self.cond.notify_all()
                    return
                if line in (b"\r\n", b"\n"):
                    break
                m = re.match(rb"Content-Length:\s*(\d+)", line, re.I)
                if m:
                    length = int(m.group(1))
            assert length is not None, "a frame without Content-Length from the server"
            msg = json.loads(out.read(length))
            if "method" in msg and "id" in msg:  # a request to the client: accept everything
                self.send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
                continue
            with self.cond:
                if "method" in msg:
                    self.notes[msg["method"]].append(msg.get("params"))
                elif msg.get("id") is None:
                    self.unframed.append(msg)
                else:
                    self.answers[msg["id"]] = msg
                self.cond.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        current: list[str] | None = None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            self.stderr_tail.append(line)
            if line.startswith("Traceback"):
                self.traceback_count += 1
                current = [] if len(self.tracebacks) < 5 else None
                if current is not None:
                    self.tracebacks.append(current)
            if current is not None and len(current) < 60:
                current.append(line)
            if current is not None and line and not line.startswith((" ", "Traceback")):
                current = None  # the exception line ends the traceback

    def take_tracebacks(self) -> list[str]:
        """Tracebacks the server logged since the last call (exceptions it caught are bugs too)."""
        found = ["\n".join(t) for t in self.tracebacks]
        self.tracebacks.clear()
        return found

    # -- requests and notifications ---------------------------------------------------------------
    def request_nowait(self, method: str, params: Any = None, msg_id: Any = None) -> Any:
        msg_id = next(self.ids) if msg_id is None else msg_id
        message = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return msg_id

    def wait(self, msg_id: Any, timeout: float = TIMEOUT) -> dict:
        """The whole answer (`result` or `error`) to request `msg_id`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while msg_id not in self.answers:
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    why = "the server exited" if self.closed else f"no answer in {timeout} s"
                    raise NoAnswer(f"request {msg_id}: {why}\n" + self.log_tail())
                self.cond.wait(left)
            return self.answers.pop(msg_id)

    def request(self, method: str, params: Any = None, timeout: float = TIMEOUT) -> Any:
        """The result of a request; AssertionError on a JSON-RPC error."""
        answer = self.wait(self.request_nowait(method, params), timeout)
        assert "error" not in answer, (method, answer["error"])
        return answer["result"]

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_note(self, method: str, check=lambda p: True, timeout: float = 60.0, since: int = 0) -> Any:  # type: ignore[no-untyped-def]
        """The first notification `method` (after the first `since` of them) whose params pass `check`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for params in self.notes[method][since:]:
                    if check(params):
                        return params
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise NoAnswer(f"no {method} notification passing the check\n" + self.log_tail())
                self.cond.wait(left)

    # -- an LSP session ---------------------------------------------------------------------------
    def initialize(self, options: dict | None = None, timeout: float = 60.0) -> dict:
        """initialize + initialized; returns the first `heed/status` past `loading`."""
        caps = {"textDocument": {"completion": {"completionItem": {"snippetSupport": False}},
                                 "inlineCompletion": {}}, "general": {"positionEncodings": ["utf-16"]}}
        self.request("initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": caps,
                                    "initializationOptions": options or {}}, timeout=timeout)
        self.notify("initialized", {})
        return self.wait_note("heed/status", lambda p: p["state"] != "loading", timeout)

    def open(self, uri: str, text: str, version: int = 1) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": text}})

    def change(self, uri: str, version: int, changes: list[dict]) -> None:
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes})

    def complete_nowait(self, uri: str, pos: dict) -> Any:
        return self.request_nowait("textDocument/completion", {"textDocument": {"uri": uri}, "position": pos})

    def inline_nowait(self, uri: str, pos: dict) -> Any:
        return self.request_nowait("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": pos, "context": {"triggerKind": 2}})

    def debug_document(self, uri: str, timeout: float = TIMEOUT) -> dict:
        """The server's copy of a document (needs HEED_DEBUG=1): text, version, streamText."""
        return self.request("heed/debugDocument", {"uri": uri}, timeout=timeout)

    def close(self, timeout: float = 10.0) -> int:
        """shutdown + exit, politely; kill if that does not work. Returns the exit code."""
        if self.proc.poll() is None:
            try:
                self.request("shutdown", timeout=timeout)
                self.notify("exit")
                self.proc.stdin.close()  # type: ignore[union-attr]
            except (NoAnswer, OSError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    # -- health -----------------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> float:
        """Resident memory of the server process, in MiB (Linux)."""
        return _status_kb(self.proc.pid, "VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        """Peak resident memory of the server process since start or `reset_peak()`, in MiB (Linux)."""
        return _status_kb(self.proc.pid, "VmHWM") / 1024

    def reset_peak(self) -> None:
        """Start measuring the peak afresh (Linux 4.0+: "5" to clear_refs resets VmHWM)."""
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    def log_tail(self, lines: int = 30) -> str:
        return "server stderr (tail):\n" + "\n".join(list(self.stderr_tail)[-lines:])


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


# -- the client's side of a document --------------------------------------------------------------

_BREAK = re.compile(r"\r\n|\r|\n")


def utf16_len(s: str) -> int:
    return len(s) + sum(1 for ch in s if ord(ch) > 0xFFFF)


class ClientDoc:
    """The editor's copy of a document: text, version, and LSP positions of code-point offsets."""

    def __init__(self, uri: str, text: str):
        self.uri, self.text, self.version = uri, text, 1

    def line_starts(self) -> list[int]:
        return [0] + [m.end() for m in _BREAK.finditer(self.text)]

    def position(self, offset: int) -> dict:
        starts = self.line_starts()
        line = max(i for i, s in enumerate(starts) if s <= offset)
        # An offset between the CR and the LF of a CRLF belongs to the line the CR ends.
        return {"line": line, "character": utf16_len(self.text[starts[line]:offset])}

    def end(self) -> dict:
        return self.position(len(self.text))

    def line_end(self, line: int) -> int:
        """Offset of the end of `line`'s content (before its line break)."""
        starts = self.line_starts()
        end = starts[line + 1] if line + 1 < len(starts) else len(self.text)
        content = self.text[starts[line]:end]
        return starts[line] + len(content.rstrip("\r\n")) if content.endswith(("\r", "\n")) else end

    def edit(self, start: int, end: int, new: str) -> dict:
        """Apply an edit here and return the LSP change that describes it (positions before it)."""
        change = {"range": {"start": self.position(start), "end": self.position(end)}, "text": new}
        self.text = self.text[:start] + new + self.text[end:]
        self.version += 1
        return change


# -- tests of the harness and of the server's position conversion ---------------------------------

def _utf16_position(text: str, offset: int) -> tuple[int, int]:
    """An independent reference: encode to UTF-16 and count."""
    before = text[:offset]
    lines = _BREAK.split(before)
    last = lines[-1]
    return len(lines) - 1, len(last.encode("utf-16-le", "surrogatepass")) // 2


TEXT = st.text(alphabet=st.sampled_from(list("ab \t\r\n\x00\x0c\u2028\x85é中😀\U0010ffff")), max_size=40)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.data())
def test_client_positions_match_a_utf16_encoder(text: str, data: st.DataObject) -> None:
    offset = data.draw(st.integers(0, len(text)))
    if 0 < offset < len(text) and text[offset - 1 : offset + 1] == "\r\n":
        offset -= 1  # not a place a cursor can be
    pos = ClientDoc("u", text).position(offset)
    assert (pos["line"], pos["character"]) == _utf16_position(text, offset)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.data())
def test_server_position_conversion_round_trips(text: str, data: st.DataObject) -> None:
    from lsprotocol import types

    from heed.server.lines import Lines

    offset = data.draw(st.integers(0, len(text)))
    if 0 < offset < len(text) and text[offset - 1 : offset + 1] == "\r\n":
        offset -= 1
    pos = ClientDoc("u", text).position(offset)
    lines = Lines(text)
    assert lines.offset(types.Position(**pos)) == offset
    back = lines.position(offset)
    assert (back.line, back.character) == (pos["line"], pos["character"])
