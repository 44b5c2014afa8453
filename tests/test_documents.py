"""The server's documents: their lines kept up to date edit by edit, and a big text read lazily."""

from __future__ import annotations

import random
import re

import pytest
from lsprotocol import types

from heed.model.runtime.cancel import RequestCancelled
from heed.server.documents import Document
from heed.server.lines import Lines

SOURCE = "import os\r\n\ndef f(x):\r    return os.path.join(x,\n                        'a')\n\n\nclass C:\n    pass\n"


def reference_starts(text: str) -> list[int]:
    return [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]


def test_lines_follow_random_edits():
    """Against the whole text split again after each of 3,000 random edits, with every kind of
    line break (an inserted \n after a \r joins them into one break; a deleted one splits them)
    and characters outside the BMP (two UTF-16 units each)."""
    rng = random.Random(0)
    text = SOURCE * 3
    lines = Lines(text)
    pieces = ["", "x", "\n", "\r", "\r\n", "ab\ncd", "\n\n\r", "é", "\r\nz\r", "\U0001F600"]
    for _ in range(3000):
        start = rng.randint(0, len(text))
        end = min(len(text), start + rng.choice([0, 0, 1, 2, 5, 40]))
        if text[end - 1 : end + 1] == "\r\n":  # an LSP position never falls inside a line break
            end -= 1
        new = rng.choice(pieces)
        text = text[:start] + new + text[end:]
        lines.replace(start, end, new)
        assert lines.text == text and list(lines.starts) == reference_starts(text), (start, end, new)
        at = rng.randint(0, len(text))
        if text[at - 1 : at + 1] != "\r\n":
            assert lines.offset(lines.position(at)) == at


def test_positions_past_a_line_or_the_text_clamp():
    lines = Lines("ab\r\ncd\U0001F600e\n")
    assert lines.offset(types.Position(0, 99)) == 2  # the end of the line, before its break
    assert lines.offset(types.Position(1, 4)) == 7  # after the emoji: two UTF-16 units, one code point
    assert lines.position(7) == types.Position(1, 4)
    assert lines.offset(types.Position(9, 0)) == len(lines.text)


def change(start: types.Position, end: types.Position, text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(range=types.Range(start, end), text=text)


def test_a_request_reads_up_to_its_cursor_and_the_background_the_rest_in_slices():
    text = "def f():\n    return 1\n\n\n" * 2000  # 8,000 lines
    doc = Document("file:///big.py", text, 1)
    stream, _, _ = doc.snapshot(upto=40)  # a request near the top
    assert not stream.complete and 0 < len(stream.pieces) < 10
    calls = []
    assert doc.snapshot(stop=lambda: len(calls.append(1) or calls) >= 100) is None  # a request arrived: stopped
    assert not stream.complete and len(stream.pieces) < 200
    found = doc.snapshot(stop=lambda: False)
    assert found is not None and found[0] is stream and stream.complete and stream.source() == text


def test_edits_queued_while_reading_are_replayed_one_at_a_time():
    text = "x = 1\n" * 3000
    doc = Document("file:///big.py", text, 1)
    doc.snapshot(upto=10)
    for i in range(20):  # typing at the top while the rest is unread
        doc.apply(change(types.Position(0, i), types.Position(0, i), "y"), 2 + i)
    assert doc.snapshot(stop=lambda: True) is None  # stopped after a piece: nothing half applied
    stopped = 0
    while (found := doc.snapshot(stop=lambda: True)) is None:
        stopped += 1
    assert stopped >= 20  # the stop is checked between edits
    stream, got, version = found
    assert got == doc.text == "y" * 20 + text and version == 21 and stream.source() == got


def test_a_request_made_before_an_edit_gets_no_snapshot_of_the_text_after_it():
    """The editor asks at the end of a line, then undoes a keystroke before the worker gets to the
    request: the cursor it asked at is past the end of the text now. The request is moot (its
    answer would be dropped): RequestCancelled, not a snapshot it would misread."""
    doc = Document("file:///a.py", "import os\nos.pa", 3)
    asked_at = len(doc.text)
    stream, text = doc.snapshot_at(3, asked_at)
    assert text == "import os\nos.pa" and stream.text == text
    doc.apply(change(types.Position(1, 4), types.Position(1, 5), ""), 4)  # the `a` undone
    with pytest.raises(RequestCancelled):
        doc.snapshot_at(3, asked_at)
    assert doc.snapshot_at(4, len(doc.text))[1] == "import os\nos.p"
