"""The text just before a cursor: the typed name, a dot before it, the chain before the dot."""

from __future__ import annotations

import pytest

from heed.model.text.cursor import chain_before_dot, is_after_dot, receiver_before, typed_prefix


@pytest.mark.parametrize(
    "text, prefix, after_dot",
    [
        ("x = os.pa", "pa", True),
        ("x = os.", "", True),
        ("x = os . ", "", True),
        ("return sel", "sel", False),
        ("y = 1.", "", False),  # a number's dot
        ("f(a, b_2", "b_2", False),
        ("", "", False),
    ],
)
def test_the_typed_name_and_the_dot_before_it(text: str, prefix: str, after_dot: bool) -> None:
    assert typed_prefix(text, len(text)) == prefix
    assert is_after_dot(text, len(text) - len(prefix)) is after_dot


@pytest.mark.parametrize(
    "text, names, whole",
    [
        ("x = os.path.", ["os", "path"], True),
        ("x = os . path . ", ["os", "path"], True),
        ("cst.", ["cst"], True),
        ("(node.", ["node"], True),
        ("f().x.", ["x"], False),  # the chain starts at a call: nothing names it
        ("a[0].b.", ["b"], False),
        ("x = 1.", [], False),
        ("x = .", [], False),
        ("x = y", [], False),  # no dot at all
    ],
)
def test_the_chain_before_a_dot(text: str, names: list[str], whole: bool) -> None:
    assert chain_before_dot(text, len(text)) == (names, whole)
    assert receiver_before(text, len(text)) == (names[-1] if names else "")

