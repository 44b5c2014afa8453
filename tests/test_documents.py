"""The server's documents: line starts kept up to date edit by edit, and a big text read lazily."""

from __future__ import annotations

import random

import numpy as np
from lsprotocol import types

from heed.server.documents import Document, edited_line_starts, line_starts

SOURCE = "import os\r\n\ndef f(x):\r    return os.path.join(x,\n                        'a')\n\n\nclass C:\n    pass\n"


def test_line_starts_follow_random_edits():
    """Against a full scan after each of 3,000 random edits, with every kind of line break (an
    inserted \\n after a \\r joins them into one break; a deleted one splits them)."""
    rng = random.Random(0)
    text = SOURCE * 3
    starts = line_starts(text)
    pieces = ["", "x", "\n", "\r", "\r\n", "ab\ncd", "\n\n\r", "é", "\r\nz\r"]
    for _ in range(3000):
        start = rng.randint(0, len(text))
        end = min(len(text), start + rng.choice([0, 0, 1, 2, 5, 40]))
        new = rng.choice(pieces)
        text = text[:start] + new + text[end:]
        starts = edited_line_starts(starts, text, start, end, len(new))
        assert np.array_equal(starts, line_starts(text)), (start, end, new)


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
