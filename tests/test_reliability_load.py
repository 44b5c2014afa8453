"""Load: requests arriving faster than one model worker can serve them.

The engine (server/engine.py) runs model work one job at a time and drops a job that a newer
request of the same kind for the same document, or an edit, made moot: it answers empty at
once. So however fast requests come, the worker does about one job per document and kind, the
latest request is answered in full, and memory does not grow with the backlog.
"""

from __future__ import annotations

import sysconfig
import time
from pathlib import Path

import pytest
from test_reliability_harness import ClientDoc, ServerProcess

STDLIB = Path(sysconfig.get_paths()["stdlib"])
MODULES = ["fnmatch", "glob", "colorsys", "sched", "bisect", "shlex", "textwrap", "queue", "base64", "heapq",
           "copy", "string", "tabnanny", "netrc", "getopt", "calendar", "uu", "quopri", "keyword", "numbers"]
ANSWER_BOUND = 20.0  # seconds from sending any request to its answer, however deep the backlog
MAX_GROWTH_MB = 150  # resident memory the whole load may add to the server


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    proc = ServerProcess()  # HEED_DEBUG=1 only adds heed/debugDocument, which settled_rss_mb reads
    assert proc.initialize()["state"] == "ready"
    yield proc
    assert proc.close() == 0


def source(name: str) -> str:
    return (STDLIB / f"{name}.py").read_text(encoding="utf-8") + "\n\nresult = "


def type_and_undo(server: ServerProcess, doc: ClientDoc, then) -> None:  # type: ignore[no-untyped-def]
    """Two keystrokes at the end: a `(`, then its deletion; `then()` after each. The text ends as
    it began (after `result = `), where a served popup is never empty: an empty answer is a dropped one.
    (A bracket, not a letter: a letter is a name's prefix, which leaves the context, and so the
    model's output, as it was, and such a request costs next to nothing.)"""
    server.change(doc.uri, doc.version + 1, [doc.edit(len(doc.text), len(doc.text), "(")])
    then()
    server.change(doc.uri, doc.version + 1, [doc.edit(len(doc.text) - 1, len(doc.text), "")])
    then()


def settled_rss_mb(server: ServerProcess, uri: str) -> float:
    """Resident memory once the document's idle-time warm-up has finished: whether a warm-up ran
    inside a measured interval is timing (a slower machine leaves gaps between keystrokes), and its
    model states are megabytes that would read as growth."""
    seen, steady_since = -1, time.monotonic()
    deadline = steady_since + 60
    while time.monotonic() < deadline:
        warm = server.debug_document(uri, timeout=30)["warmTokens"]
        if warm != seen:
            seen, steady_since = warm, time.monotonic()
        elif warm and time.monotonic() - steady_since > 1.5:  # past the idle delay and a retry
            return server.rss_mb()
        time.sleep(0.25)
    raise AssertionError(f"the warm-up never settled (warmTokens {seen})")


def drain(server: ServerProcess, sent: list[tuple[int, float]]) -> list[tuple[dict, float]]:
    """(result, seconds from send to answer) of each request, in sending order."""
    out = []
    for msg_id, at in sent:
        answer = server.wait(msg_id, ANSWER_BOUND)
        assert "result" in answer, answer
        out.append((answer["result"], time.monotonic() - at))
    return out


def items(result: dict | list | None) -> list:
    return result["items"] if isinstance(result, dict) else result or []


def test_a_typing_burst_serves_only_the_latest_request(server: ServerProcess) -> None:
    doc = ClientDoc("file:///load/burst.py", source("textwrap"))
    server.open(doc.uri, doc.text)
    single = time.monotonic()
    assert items(server.request("textDocument/completion", {"textDocument": {"uri": doc.uri}, "position": doc.end()}, 30))
    single = time.monotonic() - single

    sent, start = [], time.monotonic()
    for _ in range(60):  # 120 keystrokes (type a letter, delete it), each with a popup request
        type_and_undo(server, doc, lambda: sent.append((server.complete_nowait(doc.uri, doc.end()), time.monotonic())))
    answers = drain(server, sent)
    total = time.monotonic() - start
    served = [i for i, (r, _) in enumerate(answers) if items(r)]
    print(f"\nburst of {len(sent)}: one request alone {single:.2f} s; all answered in {total:.2f} s; "
          f"{len(served)} served in full, the rest superseded")
    assert served and served[-1] == len(sent) - 1  # the latest is answered in full
    # Stale work is dropped (without it all 120 are served in full). How many are depends on how
    # fast this client types against how fast the server answers: 11-27 alone, 41 once in a
    # full test run on 2 busy cores.
    assert len(served) <= len(sent) // 2
    assert total < max(10 * single, 3.0)  # ...so the burst costs a few requests, not 120


def test_twenty_documents_edited_in_turn(server: ServerProcess) -> None:
    docs = [ClientDoc(f"file:///load/{name}.py", source(name)) for name in MODULES]
    for doc in docs:
        server.open(doc.uri, doc.text)
    base = server.rss_mb()
    sent: list[tuple[int, float]] = []
    last: dict[str, tuple[int, int]] = {}
    start = time.monotonic()
    def ask(doc: ClientDoc) -> None:
        popup = server.complete_nowait(doc.uri, doc.end())
        ghost = server.inline_nowait(doc.uri, doc.end())
        sent.extend([(popup, time.monotonic()), (ghost, time.monotonic())])
        last[doc.uri] = (popup, ghost)

    for _ in range(5):  # 10 rounds of a keystroke in every document, each with a popup and a ghost text
        for doc in docs:
            type_and_undo(server, doc, lambda doc=doc: ask(doc))
    answers = dict(zip([i for i, _ in sent], drain(server, sent)))
    total = time.monotonic() - start
    latencies = sorted(t for _, t in answers.values())
    finals = {i for pair in last.values() for i in pair}
    stale_served = sum(1 for i, (r, _) in answers.items() if i not in finals and items(r))
    growth = server.rss_mb() - base
    print(f"\n20 documents x 10 rounds: {len(sent)} requests answered in {total:.1f} s; latency median "
          f"{latencies[len(latencies) // 2]:.2f} s, max {latencies[-1]:.2f} s; {stale_served} stale requests "
          f"did model work; memory +{growth:.0f} MiB")
    for uri, (popup, _) in last.items():
        assert items(answers[popup][0]), f"the latest popup request for {uri} was not served"
    assert latencies[-1] < ANSWER_BOUND
    assert growth < MAX_GROWTH_MB
    assert server.alive() and not server.take_tracebacks(), server.log_tail()


def test_opening_and_closing_many_documents_does_not_grow_memory(server: ServerProcess) -> None:
    text = source("bisect")
    def cycle(n: int, tag: str) -> None:  # noqa: E306
        for i in range(n):
            doc = ClientDoc(f"file:///load/cycle-{tag}-{i}.py", text + f"x{i}")
            server.open(doc.uri, doc.text)
            server.request("textDocument/completion", {"textDocument": {"uri": doc.uri}, "position": doc.end()}, 30)
            server.notify("textDocument/didClose", {"textDocument": {"uri": doc.uri}})
    cycle(5, "warm")  # allocator and caches settle
    before = server.rss_mb()
    cycle(30, "measured")  # a kept document would hold ~0.5 MB: its text, tokens, model states
    growth = server.rss_mb() - before
    print(f"\n30 more documents opened, completed and closed: memory {growth:+.1f} MiB")
    assert growth < 10


def test_a_day_of_keystrokes_does_not_grow_memory(server: ServerProcess) -> None:
    """6,000 didChange notifications: pygls kept a Future for each (~2 KB, 12.5 MB here) until
    server/protocol.py made it let go."""
    doc = ClientDoc("file:///load/keystrokes.py", source("heapq"))
    server.open(doc.uri, doc.text)

    def keystrokes(n: int) -> None:
        for _ in range(n // 2):
            type_and_undo(server, doc, lambda: None)
        server.request("textDocument/completion", {"textDocument": {"uri": doc.uri}, "position": doc.end()}, 30)

    keystrokes(2_000)
    before = settled_rss_mb(server, doc.uri)
    keystrokes(6_000)
    growth = settled_rss_mb(server, doc.uri) - before
    print(f"\n6,000 keystrokes: memory {growth:+.1f} MiB")
    assert growth < 6
