"""Ghost text the user types along with is kept, not made again.

An editor asks for ghost text at every keystroke. Where the user types what the last suggestion
said (`items.pop()` shown, `i` typed), the suggestion goes on from there (`tems.pop()`) instead of a
new beam search that may offer something else mid-word: the grey text does not jump while it is
being confirmed, and the keystroke costs no network step. Kept are the suggestions made at the
line's last request, as long as the line before the cursor only grew by what the first of them
starts with, the first was shown (its calibrated confidence reached its bar) and the rest of the
line did not change; each keeps its confidence, its features and its prefixes (`Completer.inline`
applies the bars to them as to new ones). Anything else (a character that differs, a deletion,
another line, the popup's selection, no calibration) makes them again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from heed.model.runtime.confidence import Bars
from heed.model.text.stream import TokenStream

if TYPE_CHECKING:
    from heed.model.runtime.completer import InlineSuggestion


@dataclass(frozen=True)
class LastSuggestions:
    """The suggestions (before the threshold) made for a line, and the line when they were made."""

    line_start: int
    before: str  # the line up to the cursor
    after: str  # the line after the cursor
    suggestions: list[InlineSuggestion]


def line_around(stream: TokenStream, offset: int) -> tuple[int, str, str]:
    """(where the cursor's line starts, its text before the cursor, its text after it)."""
    start = stream.text.rfind("\n", 0, offset) + 1
    end = stream.text.find("\n", offset)
    return start, stream.text[start:offset], stream.text[offset : end if end >= 0 else len(stream.text)]


def typed_along(last: LastSuggestions | None, stream: TokenStream, offset: int, bars: Bars
                ) -> list[InlineSuggestion] | None:
    """The last suggestions, each cut by what was typed since, where the user typed along with the
    first of them and it was sure enough to be shown at `bars`; None where they are to be
    made again (one that was not shown is made again with what was typed: surer, or another)."""
    return kept_along(last, *line_around(stream, offset), bars)


def kept_along(last: LastSuggestions | None, start: int, before: str, after: str, bars: Bars
               ) -> list[InlineSuggestion] | None:
    """`typed_along` for a cursor on the line that starts at `start`, with `before` and `after`
    it on that line (`heed calibrate` replays keystrokes with this)."""
    if last is None or not last.suggestions:
        return None
    confidence = last.suggestions[0].confidence
    if confidence is None or confidence < bars.of(last.suggestions[0].x):
        return None
    if start != last.line_start or after != last.after or not before.startswith(last.before):
        return None
    typed = before[len(last.before) :]
    first = last.suggestions[0].text
    if not typed or not first.startswith(typed) or len(first) == len(typed):
        return None
    return [
        replace(s, text=s.text[len(typed) :], typed=s.typed + typed,
                cuts=[replace(c, text=c.text[len(typed) :]) for c in s.cuts if c.text.startswith(typed) and len(c.text) > len(typed)])
        for s in last.suggestions
        if s.text.startswith(typed) and len(s.text) > len(typed)
    ]
