"""Edit fuzzing: random edits and requests against the real server, checked after every step.

A hypothesis state machine plays an editor. It opens a fresh document per example and applies
random edits (inserts, deletes, replacements, several changes in one notification, a change past
the end of a line, whole-document replacements, close and reopen) whose text mixes Python,
multi-line runs, CRLF and lone CR, tabs, form feeds, NUL bytes, astral characters (two UTF-16
units), lone surrogates and very long lines, interleaved with completion, inline-completion,
cancelled and burst requests. After every step:

- the server's copy of the document (`heed/debugDocument`, HEED_DEBUG=1) equals the client's,
  and so does the text of its incrementally updated token stream;
- every request was answered (or cancelled) within TIMEOUT, with ranges that end at the cursor;
- the process is alive and has logged no traceback.

One server serves every example (a new URI each). bench/soak.py runs the same machine longer.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from test_reliability_harness import TIMEOUT, ClientDoc, ServerProcess

PIECES = [
    "x", "self", ".", "items", "(", ")", "[", "]", "{", "}", ":", ",", "=", " ", "  ", "    ", "\t",
    "def ", "class ", "return ", "import os", "if ", "else:", "lambda ", "'", '"', '"""', "#", "\\",
    "1", "0x", "é", "中文", "Ω", "😀", "\U00010348", "\U0010ffff", "\ufffd", "\udc80", "\udfff",
    "\x00", "\x0c", "\x0b", "\x85", "\u2028", "\x1b",
    "\n", "\r\n", "\r", "\n\n", "\n    ", "\r\n\t",
]
LONG = ["y" * 3000, "😀" * 700, "(" * 120, "a." * 400]
SNIPPETS = [
    "",
    "import os\n\n\ndef main(path):\n    with open(path) as f:\n        return f.read()\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n        self.items.append(item)\n",
    "x = '😀'\r\ny = x + 'é'\r\nprint(y.upper())\r\n",
    "def f(a,\n      b):\n\treturn [a, b, {'k': (1, 2)}]\n\x0c\nclass C: pass",
    "s = '''unterminated\n  string\n",
]

fragment = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=12).map("".join),
    st.sampled_from(SNIPPETS[1:]),
    st.sampled_from(LONG),
)
spot = st.integers(0, 2**20)  # taken modulo the text's length + 1


class EditMachine(RuleBasedStateMachine):
    server: ServerProcess  # set by the test before the machine runs
    serial = itertools.count()
    checks = 0  # invariant checks run, over all examples
    requests = 0  # requests answered, over all examples

    def __init__(self) -> None:
        super().__init__()
        self.doc = ClientDoc(f"file:///fuzz/doc{next(self.serial)}.py", "")
        self.open = False

    # -- helpers -----------------------------------------------------------------------------------
    def offset(self, n: int) -> int:
        """A cursor place: any code point boundary, but never between the CR and LF of a CRLF."""
        text = self.doc.text
        offset = n % (len(text) + 1)
        if 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n":
            offset -= 1
        return offset

    def send(self, changes: list[dict]) -> None:
        self.server.change(self.doc.uri, self.doc.version, changes)

    def answer(self, msg_id: Any) -> dict:
        EditMachine.requests += 1
        return self.server.wait(msg_id, TIMEOUT)  # NoAnswer (an AssertionError) after TIMEOUT

    def check_range(self, rng: dict, cursor: dict) -> None:
        assert rng["end"] == cursor, (rng, cursor)
        assert rng["start"]["line"] == cursor["line"] and rng["start"]["character"] <= cursor["character"], (rng, cursor)

    # -- rules ---------------------------------------------------------------------------------------
    @initialize(text=st.one_of(st.sampled_from(SNIPPETS), fragment))
    def open_document(self, text: str) -> None:
        self.doc.text = text
        self.server.open(self.doc.uri, text, self.doc.version)
        self.open = True

    @rule(at=spot, text=fragment)
    def insert(self, at: int, text: str) -> None:
        a = self.offset(at)
        self.send([self.doc.edit(a, a, text)])

    @rule(a=spot, b=spot)
    def delete(self, a: int, b: int) -> None:
        a, b = sorted((self.offset(a), self.offset(b)))
        self.send([self.doc.edit(a, b, "")])

    @rule(a=spot, b=spot, text=fragment)
    def replace(self, a: int, b: int, text: str) -> None:
        a, b = sorted((self.offset(a), self.offset(b)))
        self.send([self.doc.edit(a, b, text)])

    @rule(edits=st.lists(st.tuples(spot, spot, fragment), min_size=2, max_size=6))
    def several_changes_in_one_notification(self, edits: list[tuple[int, int, str]]) -> None:
        changes = []
        for a, b, text in edits:  # each change's range refers to the text after the ones before
            a, b = sorted((self.offset(a), self.offset(b)))
            changes.append(self.doc.edit(a, b, text))
            self.doc.version -= 1
        self.doc.version += 1
        self.send(changes)

    @rule(line=spot, extra=st.integers(1, 500), text=fragment)
    def insert_past_the_end_of_a_line(self, line: int, extra: int, text: str) -> None:
        """LSP: a character past the line's length means the line's end."""
        n = line % len(self.doc.line_starts())
        end = self.doc.line_end(n)
        change = self.doc.edit(end, end, text)
        change["range"]["start"]["character"] += extra
        change["range"]["end"] = change["range"]["start"]
        self.send([change])

    @rule(text=st.one_of(st.sampled_from(SNIPPETS), fragment))
    def replace_whole_document(self, text: str) -> None:
        self.doc.text = text
        self.doc.version += 1
        self.send([{"text": text}])

    @rule(text=st.sampled_from(SNIPPETS))
    def close_and_reopen(self, text: str) -> None:
        self.server.notify("textDocument/didClose", {"textDocument": {"uri": self.doc.uri}})
        self.doc.text, self.doc.version = text, 1
        self.server.open(self.doc.uri, text, 1)

    @rule(at=spot)
    def complete(self, at: int) -> None:
        cursor = self.doc.position(self.offset(at))
        answer = self.answer(self.server.complete_nowait(self.doc.uri, cursor))
        result = answer["result"]
        assert isinstance(result["items"], list)
        for item in result["items"]:
            self.check_range(item["textEdit"]["range"], cursor)

    @rule(at=spot)
    def inline(self, at: int) -> None:
        cursor = self.doc.position(self.offset(at))
        result = self.answer(self.server.inline_nowait(self.doc.uri, cursor))["result"]
        items = result["items"] if isinstance(result, dict) else result or []
        for item in items:
            self.check_range(item["range"], cursor)
            assert "\n" not in item["insertText"]

    @rule(at=spot)
    def complete_then_cancel(self, at: int) -> None:
        msg_id = self.server.complete_nowait(self.doc.uri, self.doc.position(self.offset(at)))
        self.server.notify("$/cancelRequest", {"id": msg_id})
        answer = self.answer(msg_id)
        assert "result" in answer or answer["error"]["code"] == -32800, answer  # RequestCancelled

    @rule(spots=st.lists(spot, min_size=2, max_size=8), text=fragment)
    def typing_burst(self, spots: list[int], text: str) -> None:
        """Edits and requests without waiting, as fast typing sends them; all must be answered."""
        ids = []
        for n in spots:
            a = self.offset(n)
            self.send([self.doc.edit(a, a, text[: 1 + n % 3])])
            ids.append(self.server.complete_nowait(self.doc.uri, self.doc.position(self.offset(n + 1))))
            ids.append(self.server.inline_nowait(self.doc.uri, self.doc.position(self.offset(n))))
        for msg_id in ids:
            assert "result" in self.answer(msg_id)

    @rule()
    def complete_in_an_unknown_document(self) -> None:
        msg_id = self.server.complete_nowait("file:///fuzz/never-opened.py", {"line": 3, "character": 7})
        assert self.answer(msg_id)["result"]["items"] == []

    # -- after every step ----------------------------------------------------------------------------
    @precondition(lambda self: self.open)
    @invariant()
    def server_agrees_with_the_client(self) -> None:
        assert self.server.alive(), self.server.log_tail()
        seen = self.server.debug_document(self.doc.uri)
        assert seen is not None
        assert seen["text"] == self.doc.text, f"the server's text differs\n{self.server.log_tail()}"
        assert seen["streamText"] == self.doc.text, "the token stream's text differs from the document"
        assert seen["version"] == self.doc.version
        assert not self.server.take_tracebacks(), self.server.log_tail()
        EditMachine.checks += 1

    def teardown(self) -> None:
        if self.open:
            self.server.notify("textDocument/didClose", {"textDocument": {"uri": self.doc.uri}})


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    proc = ServerProcess()
    status = proc.initialize()
    assert status["state"] == "ready", status
    yield proc
    assert proc.close() == 0


FUZZ = settings(max_examples=15, stateful_step_count=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


def test_random_edits_keep_the_server_in_step_with_the_client(server: ServerProcess) -> None:
    EditMachine.server = server
    run_state_machine_as_test(EditMachine, settings=FUZZ)
    print(f"{EditMachine.checks} checked steps, {EditMachine.requests} requests answered")
    assert EditMachine.checks >= 100  # the machine really ran (15 examples of up to 25 steps)
    assert server.alive()
    assert server.traceback_count == 0, server.log_tail()


# Cases the fuzzer and bench/soak.py found, replayed every run (each was a fix; see docs/RELIABILITY.md).
REGRESSIONS = {
    # pygls rewrote an insert past the end of the last line to one character before it
    "insert past the end of the last line": ("x", {"range": {"start": {"line": 0, "character": 2},
                                                             "end": {"line": 0, "character": 2}}, "text": "y"}, "xy"),
    # pygls measured a line holding a form feed as two lines
    "insert after a form feed": ("ab\x0ccd\nxy", {"range": {"start": {"line": 0, "character": 4},
                                                           "end": {"line": 0, "character": 4}}, "text": "Z"}, "ab\x0ccZd\nxy"),
    # likewise U+2028 and \x85, which Python's splitlines() breaks at and LSP does not
    "insert after U+2028 and NEL": ("a\u2028b\x85c", {"range": {"start": {"line": 0, "character": 5},
                                                                "end": {"line": 0, "character": 5}}, "text": "!"}, "a\u2028b\x85c!"),
}


@pytest.mark.parametrize("case", REGRESSIONS.values(), ids=REGRESSIONS.keys())
def test_edit_regressions(server: ServerProcess, case: tuple[str, dict, str]) -> None:
    before, change, after = case
    uri = f"file:///regression/{abs(hash(before))}.py"
    server.open(uri, before)
    server.change(uri, 2, [change])
    assert server.debug_document(uri)["text"] == after


@pytest.mark.parametrize("text", ["x = 1\n\\\n", "\\\n", "def f():\n    return \\\r\n"])
def test_completion_right_after_a_backslash_continuation(server: ServerProcess, text: str) -> None:
    """The lexer raised IndexError there, so every request failed (found by bench/soak.py)."""
    doc = ClientDoc(f"file:///regression/backslash{len(text)}.py", text)
    server.open(doc.uri, text)
    server.request("textDocument/completion", {"textDocument": {"uri": doc.uri}, "position": doc.end()})
    server.request("textDocument/inlineCompletion", {"textDocument": {"uri": doc.uri}, "position": doc.end(),
                                                     "context": {"triggerKind": 1}})
    assert not server.take_tracebacks(), server.log_tail()
