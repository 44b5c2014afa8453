"""Token texts spaced the way PEP 8 would have them (`model/text/detok.py`)."""

from __future__ import annotations

import pytest

from heed.model.text.detok import join


@pytest.mark.parametrize(("before", "tokens", "text"), [
    ([], ["x", "=", "f", "(", "a", "=", "1", ",", "*", "args", ")"], "x = f(a=1, *args)"),
    (["def", "f", "("], ["a", ":", "int", "=", "1", ",", "b", "=", "2", ")", ":"], "a: int = 1, b=2):"),
    (["def", "f", "(", "a", ":", "Optional", "[", "int", "]"], ["=", "None", ","], " = None,"),
    (["def", "f", "(", "a", ":", "dict", "[", "str", ",", "int", "]"], ["=", "None", ")"], " = None)"),  # a comma deeper down
    (["f", "("], ["key", "=", "lambda", "x", ":", "x", ",", "y", "=", "2", ")"], "key=lambda x: x, y=2)"),
    ([], ["x", ":", "int", "=", "1"], "x: int = 1"),
    ([], ["d", "[", "a", ":", "b", "]", "=", "c"], "d[a:b] = c"),
])
def test_spacing(before: list[str], tokens: list[str], text: str) -> None:
    assert join(before, tokens) == text


def test_a_slice_is_not_spaced_but_a_dict_is() -> None:
    assert join(["x", "="], ["y", "[", "1", ":", "]", "+", "{", "a", ":", "b", "}"]) == " y[1:] + {a: b}"


@pytest.mark.parametrize(("before", "tokens", "text"), [
    (["x", "["], [":", "-", "1", "]"], ":-1]"),
    (["f", "("], ["-", "1", ")"], "-1)"),
    (["x", "="], ["-", "y"], " -y"),
    (["return"], ["-", "1"], " -1"),
    (["x", "="], ["a", "-", "1"], " a - 1"),
    (["x", "=", "f", "(", ")"], ["-", "1"], " - 1"),
    (["x", "=", "a"], ["-", "1"], " - 1"),
])
def test_a_sign_binds_to_what_follows_it_but_a_minus_does_not(before: list[str], tokens: list[str], text: str) -> None:
    assert join(before, tokens) == text
