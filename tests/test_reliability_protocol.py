"""Malformed protocol, as raw bytes on the real server's stdin: errors as JSON-RPC and LSP say.

Every case ends the same way: the server is alive and answers a well-formed request after it.
The codes: -32700 ParseError (id null), -32600 InvalidRequest, -32601 MethodNotFound, -32602
InvalidParams, -32002 ServerNotInitialized (LSP), -32800 RequestCancelled (LSP). See
server/protocol.py for what pygls did before.
"""

from __future__ import annotations

import json
import sysconfig
import time
from pathlib import Path

import pytest
from test_reliability_harness import TIMEOUT, NoAnswer, ServerProcess

STDLIB = Path(sysconfig.get_paths()["stdlib"])
STARTUP = 60.0  # the first answer waits for Python, torch and the model to load


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def request_bytes(msg_id: int, method: str, params: object = None) -> bytes:
    message: dict = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


def still_answers(server: ServerProcess) -> None:
    """The server is alive and a fresh request gets its proper answer."""
    assert server.alive(), server.log_tail()
    answer = server.wait(server.request_nowait("heed/noSuchMethod", {}), TIMEOUT)
    assert answer["error"]["code"] == -32601, answer


def unframed_errors(server: ServerProcess, n: int, timeout: float = TIMEOUT) -> list[dict]:
    """Wait for `n` answers with id null (parse errors and unidentifiable requests)."""
    deadline = time.monotonic() + timeout
    while len(server.unframed) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    got, server.unframed[:] = list(server.unframed), []
    assert len(got) == n, (got, server.log_tail())
    return got


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    proc = ServerProcess(debug=False)
    proc.initialize(timeout=STARTUP)
    yield proc
    assert proc.close() == 0


@pytest.fixture(autouse=True)
def still_answering_afterwards(request):  # type: ignore[no-untyped-def]
    yield
    if "server" in request.fixturenames:
        server = request.getfixturevalue("server")
        still_answers(server)


# -- bytes that are not JSON ---------------------------------------------------------------------

NOT_JSON = {
    "broken object": b"{oops",
    "truncated": b'{"jsonrpc": "2.0", "id": 1, "meth',
    "not utf-8": b'{"jsonrpc": "2.0", "id": 1, "method": "\xff\xfe"}',
    "nul bytes": b"\x00\x00\x00\x00",
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "empty object key": b'{"": }',
}


@pytest.mark.parametrize("body", NOT_JSON.values(), ids=NOT_JSON.keys())
def test_unparsable_bodies_get_a_parse_error(server: ServerProcess, body: bytes) -> None:
    server.send_raw(frame(body))
    [answer] = unframed_errors(server, 1)
    assert answer["id"] is None and answer["error"]["code"] == -32700


NOT_MESSAGES = {
    "number": b"5",
    "array (a batch: LSP has none)": b'[{"jsonrpc": "2.0", "id": 7001, "method": "shutdown"}]',
    "null": b"null",
    "string": b'"hello"',
    "no jsonrpc member": b'{"id": 7001, "method": "shutdown"}',
    "jsonrpc 1.0": b'{"jsonrpc": "1.0", "id": 7001, "method": "shutdown", "params": null}',
    "method not a string": b'{"jsonrpc": "2.0", "id": 7001, "method": 7, "params": {}}',
    "id an object": b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "textDocument/completion", "params": {}}',
}


@pytest.mark.parametrize("body", NOT_MESSAGES.values(), ids=NOT_MESSAGES.keys())
def test_json_that_is_no_message_gets_invalid_request(server: ServerProcess, body: bytes) -> None:
    msg_id = json.loads(body)["id"] if body.startswith(b"{") and isinstance(json.loads(body)["id"], int) else None
    server.send_raw(frame(body))
    answer = server.wait(msg_id) if msg_id is not None else unframed_errors(server, 1)[0]
    assert answer["error"]["code"] == -32600, answer


# -- framing ----------------------------------------------------------------------------------------

def test_content_length_too_short_loses_that_message_only(server: ServerProcess) -> None:
    body = request_bytes(9001, "heed/noSuchMethod", {})
    server.send_raw(b"Content-Length: %d\r\n\r\n" % (len(body) - 10) + body)
    unframed_errors(server, 1)  # the truncated body: -32700; the next header is found again


def test_content_length_too_long_swallows_the_next_message(server: ServerProcess) -> None:
    first, second = request_bytes(9002, "heed/noSuchMethod", {}), request_bytes(9003, "heed/noSuchMethod", {})
    server.send_raw(b"Content-Length: %d\r\n\r\n" % (len(first) + 30) + first + frame(second))
    unframed_errors(server, 1)
    with pytest.raises(NoAnswer):  # 9003's header was read as 9002's body: it is lost, not answered
        server.wait(9003, 1.0)


def test_a_100_gb_content_length_is_refused_without_allocating_it(server: ServerProcess) -> None:
    before = server.rss_mb()
    server.send_raw(b"Content-Length: 100000000000\r\n\r\n{}")
    server.send_raw(frame(request_bytes(9004, "heed/noSuchMethod", {})))
    assert server.wait(9004)["error"]["code"] == -32601  # resynchronised at the very next header
    unframed_errors(server, 1)
    assert server.rss_mb() - before < 50


@pytest.mark.parametrize("header", [
    b"Content-Length: abc\r\n\r\n{}",  # not a number
    b"Content-Length: 2\n\n{}",  # LF only
    b"Content-Type: application/json\r\n\r\n{}",  # no length at all
    b"Garbage without any header at all\r\n",
    b"Content-Length: 0\r\n\r\n",
])
def test_bad_headers_are_skipped(server: ServerProcess, header: bytes) -> None:
    server.send_raw(header)  # nothing to answer; the autouse check sends a request after it


def test_a_body_split_into_many_writes_is_one_message(server: ServerProcess) -> None:
    data = frame(request_bytes(9005, "heed/noSuchMethod", {}))
    for i in range(len(data)):
        server.send_raw(data[i : i + 1])
    assert server.wait(9005)["error"]["code"] == -32601


# -- methods and params ---------------------------------------------------------------------------

def test_unknown_methods(server: ServerProcess) -> None:
    assert server.wait(server.request_nowait("heed/noSuchMethod"))["error"]["code"] == -32601  # no params
    assert server.wait(server.request_nowait("$/someExtension", {}))["error"]["code"] == -32601
    server.notify("heed/noSuchNotification", {"x": 1})  # ignored, no answer
    server.notify("$/someExtension", [1, 2, 3])


COMPLETION_POSITION = {"textDocument": {"uri": "file:///p.py"}, "position": {"line": 0, "character": 0}}
BAD_PARAMS = {
    "position a string": {"textDocument": {"uri": "file:///p.py"}, "position": "x"},
    "line negative": {"textDocument": {"uri": "file:///p.py"}, "position": {"line": -1, "character": 0}},
    "line above 2**31": {"textDocument": {"uri": "file:///p.py"}, "position": {"line": 2**40, "character": 0}},
    "position missing a field": {"textDocument": {"uri": "file:///p.py"}, "position": {"line": 0}},
    "no textDocument": {"position": {"line": 0, "character": 0}},
    "params an array": [1, 2],
    "params a string": "completion please",
}


@pytest.mark.parametrize("params", BAD_PARAMS.values(), ids=BAD_PARAMS.keys())
def test_wrong_param_types_get_invalid_params(server: ServerProcess, params: object) -> None:
    for method in ("textDocument/completion", "textDocument/inlineCompletion"):
        answer = server.wait(server.request_nowait(method, params))
        assert answer["error"]["code"] == -32602, answer


def test_params_the_converter_coerces_are_answered(server: ServerProcess) -> None:
    # cattrs turns a number into a string where a URI belongs: an unknown document, no error.
    params = {"textDocument": {"uri": 5}, "position": {"line": 0, "character": 0}}
    assert server.request("textDocument/completion", params)["items"] == []


def test_requests_without_params_get_invalid_params(server: ServerProcess) -> None:
    server.send_raw(frame(b'{"jsonrpc": "2.0", "id": 9010, "method": "textDocument/completion"}'))
    assert server.wait(9010)["error"]["code"] == -32602


def test_notifications_with_wrong_params_are_dropped(server: ServerProcess) -> None:
    uri = "file:///notes.py"
    server.open(uri, "value = 1\nva")
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri}, "contentChanges": "nope"})
    server.notify("textDocument/didOpen", {"textDocument": 5})
    server.notify("workspace/didChangeConfiguration", {"settings": [1, 2]})
    result = server.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 2}})
    assert "value" in [i["label"] for i in result["items"]]


def test_resolve_with_foreign_data_returns_the_item(server: ServerProcess) -> None:
    for data in (None, "text", 5, [1], {"uri": "file:///nowhere.py", "offset": "x", "version": 1}, {"uri": 3}):
        item = {"label": "items", "data": data}
        assert server.request("completionItem/resolve", item)["label"] == "items"


def test_positions_outside_the_document_clamp(server: ServerProcess) -> None:
    uri = "file:///outside.py"
    server.take_tracebacks()  # earlier tests' parse errors are logged with theirs
    server.open(uri, "value = 1\nva")
    for pos in ({"line": 10**6, "character": 0}, {"line": 1, "character": 10**6}, {"line": 2**31 - 1, "character": 2**31 - 1}):
        params = {"textDocument": {"uri": uri}, "position": pos}
        server.request("textDocument/completion", params)  # an answer, not an error
        server.request("textDocument/inlineCompletion", {**params, "context": {"triggerKind": 1}})
    # An edit whose range is reversed or far outside: applied at the clamped place, never a crash.
    server.change(uri, 2, [{"range": {"start": {"line": 1, "character": 2}, "end": {"line": 0, "character": 0}}, "text": "X"}])
    server.change(uri, 3, [{"range": {"start": {"line": 99, "character": 0}, "end": {"line": 99, "character": 5}}, "text": "\nend"}])
    server.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 3}})
    assert not server.take_tracebacks(), server.log_tail()


def test_cancelling_unknown_and_finished_requests(server: ServerProcess) -> None:
    server.notify("$/cancelRequest", {"id": 123456})
    server.notify("$/cancelRequest", {"id": "never-sent"})
    server.notify("$/cancelRequest", {"id": None})
    server.notify("$/cancelRequest", {})


# -- lifecycle ------------------------------------------------------------------------------------

def test_before_initialize_requests_get_server_not_initialized() -> None:
    proc = ServerProcess(debug=True)
    try:
        answer = proc.wait(proc.request_nowait("textDocument/completion", COMPLETION_POSITION), STARTUP)
        assert answer["error"]["code"] == -32002, answer
        proc.open("file:///early.py", "early = 1\nea")  # a notification before initialize: dropped
        proc.initialize(timeout=STARTUP)
        assert proc.debug_document("file:///early.py") is None
        assert proc.request("textDocument/completion", COMPLETION_POSITION)["items"] == []
    finally:
        assert proc.close() == 0


def test_after_shutdown_requests_get_invalid_request_and_exit_is_clean() -> None:
    proc = ServerProcess(debug=False)
    proc.initialize(timeout=STARTUP)
    assert proc.request("shutdown") is None
    for method, params in (("textDocument/completion", COMPLETION_POSITION), ("shutdown", None), ("heed/noSuchMethod", {})):
        answer = proc.wait(proc.request_nowait(method, params))
        assert answer["error"]["code"] == -32600, answer
    proc.notify("textDocument/didOpen", {"textDocument": {"uri": "file:///late.py", "languageId": "python", "version": 1, "text": ""}})
    proc.notify("exit")
    assert proc.proc.wait(10) == 0


def test_exit_without_shutdown_exits_with_1() -> None:
    proc = ServerProcess(debug=False)
    proc.initialize(timeout=STARTUP)
    proc.notify("exit")
    assert proc.proc.wait(10) == 1


def test_the_client_vanishing_ends_the_server() -> None:
    proc = ServerProcess(debug=False)
    proc.initialize(timeout=STARTUP)
    proc.open("file:///v.py", "import os\nos.")
    proc.complete_nowait("file:///v.py", {"line": 1, "character": 3})
    proc.proc.stdin.close()  # type: ignore[union-attr]
    assert proc.proc.wait(15) is not None


def test_shutdown_with_requests_in_flight_is_answered_cleanly() -> None:
    """`shutdown` arrives while popups and ghost text for three edited documents are still queued:
    it is answered with null, every request before it gets an answer (a result, or cancelled),
    nothing is logged as a crash, and `exit` is clean."""
    text = (STDLIB / "textwrap.py").read_text(encoding="utf-8") + "\nimport os\nos."
    lines = text.split("\n")
    end = {"line": len(lines) - 1, "character": len(lines[-1])}
    proc = ServerProcess(debug=False)
    proc.initialize(timeout=STARTUP)
    uris = [f"file:///inflight{i}.py" for i in range(3)]
    for uri in uris:
        proc.open(uri, text)
    pending = []
    for version in range(2, 12):
        for uri in uris:
            proc.change(uri, version, [{"text": text}])
            pending += [proc.complete_nowait(uri, end), proc.inline_nowait(uri, end)]
    answer = proc.wait(proc.request_nowait("shutdown"), STARTUP)
    assert "error" not in answer and answer["result"] is None, answer
    for msg_id in pending:
        got = proc.wait(msg_id, STARTUP)
        assert "result" in got or got["error"]["code"] == -32800, got  # RequestCancelled
    proc.notify("exit")
    assert proc.proc.wait(10) == 0
    assert proc.traceback_count == 0, proc.tracebacks
