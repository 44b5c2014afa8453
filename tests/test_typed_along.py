"""Ghost text the user types along with is kept (`runtime/typed_along.py`)."""

from __future__ import annotations

import numpy as np
import pytest

from heed.model.runtime.completer import Completer, InlineSuggestion
from heed.model.runtime.confidence import FEATURES, Bars, Calibration, Cut
from heed.model.runtime.predictor import Predictor
from heed.model.runtime.typed_along import LastSuggestions, line_around, typed_along
from heed.model.text.stream import TokenStream

X = np.zeros(len(FEATURES))


def _last(text: str, suggestions: list[InlineSuggestion]) -> LastSuggestions:
    return LastSuggestions(*line_around(TokenStream(text), len(text)), suggestions)


def test_typing_along_cuts_what_was_typed_off_each_suggestion() -> None:
    first = InlineSuggestion("items.pop()", -1.0, True, "", 0.6, X, [Cut(3, "items.pop", X, 0.9), Cut(1, "items", X, 0.95)])
    other = InlineSuggestion("item_count", -2.0, True, "", 0.2, X)
    wrong = InlineSuggestion("size", -3.0, True, "", 0.1, X)
    last = _last("x = 1\n    return self.", [first, other, wrong])
    kept = typed_along(last, TokenStream("x = 1\n    return self.ite"), len("x = 1\n    return self.ite"), Bars.flat(0.5))
    assert kept is not None
    assert [(s.text, s.typed, s.confidence) for s in kept] == [("ms.pop()", "ite", 0.6), ("m_count", "ite", 0.2)]
    assert [c.text for c in kept[0].cuts] == ["ms.pop", "ms"]
    fully = "x = 1\n    return self.items"  # a cut typed to its end is gone
    kept = typed_along(last, TokenStream(fully), len(fully), Bars.flat(0.5))
    assert kept is not None and [c.text for c in kept[0].cuts] == [".pop"]
    # one that was not shown is made again, with what was typed
    assert typed_along(last, TokenStream(fully), len(fully), Bars.flat(0.7)) is None
    unsure = _last("x = 1\n    return self.", [InlineSuggestion("items.pop()", -1.0, True, "", None, X)])
    assert typed_along(unsure, TokenStream(fully), len(fully), Bars.flat(0.0)) is None  # no calibration


def test_a_suggestion_typed_along_keeps_the_bar_it_was_made_with() -> None:
    in_name = X.copy()
    in_name[FEATURES.index("typed")] = 1.0  # made where `it` was half typed
    last = _last("x = 1\n    return self.it", [InlineSuggestion("ems.pop()", -1.0, True, "it", 0.6, in_name)])
    now = "x = 1\n    return self.ite"
    assert typed_along(last, TokenStream(now), len(now), Bars(0.7, 0.5, 1.01)) is not None
    assert typed_along(last, TokenStream(now), len(now), Bars(0.5, 0.7, 1.01)) is None  # it was not shown: made again


@pytest.mark.parametrize("now", [
    "x = 1\n    return self.",  # nothing typed since
    "x = 1\n    return self.s",  # not what the first suggestion says
    "x = 1\n    return self",  # a deletion
    "x = 1\n    return self.items.pop()",  # typed to its end
    "x = 10\n    return self.i",  # the line moved (an edit above it)
])
def test_anything_but_typing_along_makes_the_suggestions_again(now: str) -> None:
    last = _last("x = 1\n    return self.", [InlineSuggestion("items.pop()", -1.0, True, "", 0.6, X)])
    assert typed_along(last, TokenStream(now), len(now), Bars.flat(0.5)) is None
    assert typed_along(None, TokenStream(now), len(now), Bars.flat(0.5)) is None


def test_what_follows_the_cursor_must_not_change() -> None:
    last = LastSuggestions(*line_around(TokenStream("f()"), 2), [InlineSuggestion("a, b", -1.0, True, "", 0.6, X)])
    assert typed_along(last, TokenStream("f(a)"), 3, Bars.flat(0.5)) is not None
    assert typed_along(last, TokenStream("f(a])"), 3, Bars.flat(0.5)) is None


def test_the_completer_keeps_the_suggestion_typed_along(tiny_predictor: Predictor, sample_source: str) -> None:
    """Typing the first character of the top suggestion, shown: the same suggestions, one character
    on; another character: new ones."""
    text = sample_source + "\ndef f(pat):\n    x = "
    completer = Completer(tiny_predictor)
    weights = tuple(float(n == "bias") for n in FEATURES)  # every suggestion 73% sure
    try:
        tiny_predictor.calibration = Calibration(weights, weights, 0.5, 0.9, "test")
        made = completer.inline(TokenStream(text), len(text), budget_s=60.0, all_cuts=True)
        if not made or len(made[0].text) < 2:
            pytest.skip("the random model's first suggestion is one character long")
        top = made[0]
        typed = text + top.text[0]
        kept = completer.inline(TokenStream(typed), len(typed), budget_s=60.0, all_cuts=True)
        assert [(s.text, s.typed, s.confidence) for s in kept] == [
            (s.text[1:], s.typed + top.text[0], s.confidence) for s in made if s.text.startswith(top.text[0]) and len(s.text) > 1]
        shown = completer.inline(TokenStream(typed), len(typed), budget_s=60.0)
        assert shown and shown[0].text == top.text[1:]  # the server's path keeps it too
        assert completer.last_line is not None and completer.last_line.before == "    x = "  # still the line it was made for
        other = text + ("#" if top.text[0] != "#" else "@")
        completer.inline(TokenStream(other), len(other), budget_s=60.0, all_cuts=True)
        assert completer.last_line is None or completer.last_line.before != "    x = "
        # above the threshold it was not shown: made again
        completer.inline(TokenStream(text), len(text), budget_s=60.0, all_cuts=True)
        completer.inline(TokenStream(typed), len(typed), budget_s=60.0, min_confidence=0.9, all_cuts=True)
        assert completer.last_line is not None and completer.last_line.before == "    x = " + top.text[0]
    finally:
        tiny_predictor.calibration = None


def test_calibrate_replays_typing_along_at_each_threshold() -> None:
    """`heed calibrate` replays keystrokes with nothing kept; `served` says what the completer would
    have shown at a threshold: the first keystroke's suggestion kept while it is typed along with
    (where it was shown), what was made at the keystroke where it was not."""
    from heed.model.training.calibrate import judged, served
    from heed.model.training.projects import FileScore, LinePlace

    line = "    return self.items.pop()"
    sure = InlineSuggestion("items.pop()", -1.0, True, "", 0.6, X)
    places = []
    for typed in ("", "i", "it"):  # keystrokes after `self.`; what was made fresh at each is wrong
        before = "    return self." + typed
        made = [sure] if not typed else [InlineSuggestion(typed[-1] + "x", -1.0, True, typed, 0.55, X)]
        places.append(LinePlace(line[len(before):], "other", made, (0, before, "")))
    f = FileScore(lines=[LinePlace("pop()", "other", [InlineSuggestion("pop()", -1.0, True, "", 0.9, X)]), *places])
    kept = served(f, Bars.flat(0.5))
    assert [s[0].text for s in kept] == ["pop()", "items.pop()", "tems.pop()", "ems.pop()"]
    assert judged([f], Bars(0.5, 0.5, 1.01), [kept]).tolist() == [[4, 4, 4, 5 + 11 + 10 + 9]]
    made = served(f, Bars.flat(0.65))  # the first was not shown at 0.65: each keystroke's own suggestions
    assert [s[0].text for s in made] == ["pop()", "items.pop()", "ix", "tx"]
    assert judged([f], Bars(0.5, 0.5, 1.01)).tolist()[0][2] == 2  # without `served`: what was made at each place
