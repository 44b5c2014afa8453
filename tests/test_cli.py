"""The command line's parsing (the commands themselves are tested where their code is)."""

from __future__ import annotations

import pytest

from heed.cli import build_parser


@pytest.mark.parametrize(
    ("argv", "level"),
    [(["serve"], 0), (["serve", "-v"], 1), (["-v", "serve"], 1), (["serve", "-vv"], 2),
     (["complete", "a.py:1:1", "--verbose"], 1), (["corpus", "build", "--out", "x", "-v"], 1)],
)
def test_verbose_is_taken_before_or_after_the_command(argv: list[str], level: int) -> None:
    """The README writes `heed serve [-v]`: the flag works after the command as before it."""
    assert build_parser().parse_args(argv).verbose == level
