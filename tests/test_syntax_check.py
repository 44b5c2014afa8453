"""The syntax check that keeps ghost text that is not code from being shown (`runtime/syntax_check.py`)."""

from __future__ import annotations

import pytest

from heed.model.runtime.syntax_check import future_fits, leaves_valid_code


@pytest.mark.parametrize(
    ("before", "suggestion", "after", "ok"),
    [
        ("x = foo(", "a, b)", "", True),
        ("x = foo(", "a, b))", "", False),  # closes what is not open
        ("x = foo(", "a, b", "", False),  # a bracket opened on the line stays open
        ("if x ", "== 1:", "", True),
        ("print(", "x", ")", True),
        ("return ", "x +", "", False),
        ("print('a', sep=", "sep, sep=sep)", "", False),  # a keyword argument named twice: the compiler refuses it
        ("print('a', sep=", "sep, end=sep)", "", True),
        ("def f(a, ", "a):", "", False),  # a parameter named twice
        ("f(**kw, ", "**other)", "", True),
        ("x = ", "1(y)", "", False),  # a literal called: the compiler warns it can never work
        ("x = ", "'a'.join(y)", "", True),
    ],
)
def test_a_line_is_code_or_not(before: str, suggestion: str, after: str, ok: bool) -> None:
    assert leaves_valid_code(before, suggestion, after) is ok


@pytest.mark.parametrize(
    ("head", "ok"),
    [
        ("", True),
        ('"""The module."""\n\n', True),
        ("#!/usr/bin/env python\n# a licence\n'''Doc\nstring.'''\nfrom __future__ import division\n", True),
        ("import os\n", False),
        ('"""Doc."""\nimport os\n', False),
        ("x = (\n", False),  # what does not parse is not a docstring, comments and future imports
        ("# a comment\n" * 300, False),  # far below the top: not read
    ],
)
def test_a_future_import_fits_only_at_the_top_of_a_module(head: str, ok: bool) -> None:
    assert future_fits(head) is ok
    # ... and the suggestion that would start one is judged by it
    assert leaves_valid_code("from ", "__future__ import annotations", "", head, len(head)) is ok


def test_a_future_import_inside_a_block_is_not_code() -> None:
    head = "if True:\n"
    assert not leaves_valid_code("    from ", "__future__ import annotations", "", head, len(head))


def test_other_imports_are_not_held_to_the_future_rule() -> None:
    head = "import os\n"
    assert leaves_valid_code("from ", "typing import Any", "", head, len(head))
