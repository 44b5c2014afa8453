"""The command line: its parsing, and each model command run once end to end (what they do is
tested where their code is)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


@pytest.mark.parametrize("command", [["explain"], ["complete"], ["complete", "--inline"], ["check"]])
def test_the_model_commands_run_end_to_end(command: list[str], tiny_model_dir: Path, tmp_path: Path) -> None:
    """Each command the README shows, on a real file with a model (a refactor once broke `heed
    explain`'s import while every module's tests passed)."""
    source = tmp_path / "stack.py"
    source.write_text("class Stack:\n    def __init__(self):\n        self.items = []\n\n    def peek(self):\n        return self.\n")
    where = [] if command == ["check"] else [f"{source}:6:21"]
    done = subprocess.run([sys.executable, "-m", "heed", command[0], *where, *command[1:], "--model", str(tiny_model_dir)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    if command == ["explain"]:
        assert "return self.\u2502" in done.stdout  # the cursor, shown in its line
