"""The points lsp_bench.py asks the servers about: held-out files, sampled places, the typing
places in a large file, and the mirror of the projects the servers read from disk."""

from __future__ import annotations

import contextlib
import io
import keyword
import random
import shutil
import tempfile
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types

from heed.model.training.positions import places, project_files, read_source

REPO = Path(__file__).resolve().parent.parent
PROJECTS = REPO / "runs" / "projects" / "evaluation"  # the held-out projects: bash bench/fetch_projects.sh
KINDS = ("attribute", "identifier", "inline")


# ------------------------------------------------------------------------------------------------
# Points
# ------------------------------------------------------------------------------------------------
@dataclass
class Point:
    kind: str
    file: str  # path relative to site-packages (or as given)
    path: str  # absolute path
    offset: int  # the cursor, in code points
    line: int  # 0-based
    col: int  # 0-based, code points
    expected: str


def lsp_position(text: str, offset: int) -> types.Position:
    """The LSP (UTF-16) position of a code-point offset."""
    line = text.count("\n", 0, offset)
    segment = text[text.rfind("\n", 0, offset) + 1 : offset]
    return types.Position(line=line, character=len(segment.encode("utf-16-le")) // 2)


SKIP = (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)


def candidates(text: str) -> dict[str, list[tuple[int, int, int, str]]]:
    """All candidate points of a file: kind -> [(offset, line, col, expected)] (`heed.model.training.positions`)."""
    found = places(text)
    return {kind: [(p.offset, p.line, p.col, p.expected) for p in found[where]]
            for kind, where in (("attribute", "attribute"), ("identifier", "identifier"), ("inline", "line"))}


def held_out_files(projects: list[Path]) -> list[tuple[str, Path]]:
    """(label, path) of the projects' files, as `heed eval --projects` reads them."""
    return [(f"{root.name}/{path.relative_to(root).as_posix()}", path) for root in projects for path in project_files(root)]


class Mirror:
    """A copy of the projects in which the file being asked about holds on disk what the editor
    holds (the text before the cursor), so that a server reading modules from disk never finds
    the answer there; each file is whole again once its point is done."""

    def __init__(self, projects: list[Path]):
        self.root = Path(tempfile.mkdtemp(prefix="lsp-bench-projects-"))
        for project in projects:
            shutil.copytree(project, self.root / project.name, symlinks=True)

    def path(self, label: str) -> Path:
        return self.root / label

    @contextlib.contextmanager
    def cut(self, path: Path, text: str) -> Iterator[None]:
        whole = path.read_bytes() if path.is_relative_to(self.root) else None
        if whole is not None:
            path.write_text(text, encoding="utf-8")
        try:
            yield
        finally:
            if whole is not None:
                path.write_bytes(whole)


def sample_points(
    files: list[tuple[str, Path]], n: int, seed: int, min_lines: int = 20
) -> tuple[list[Point], dict[str, str]]:
    """`n` points per kind: files in a seeded order, one random unused point per file per round."""
    texts: dict[str, str] = {}
    per_file: dict[str, dict[str, list[tuple[int, int, int, str]]]] = {}
    for rel, path in files:
        text = read_source(path)
        if text is None or text.count("\n") < min_lines:
            continue
        texts[rel] = text
        per_file[rel] = candidates(text)
    paths = dict(files)
    points: list[Point] = []
    for kind in KINDS:
        rng = random.Random(f"{seed}:{kind}")
        order = sorted(per_file)
        rng.shuffle(order)
        pools = {rel: list(per_file[rel][kind]) for rel in order}
        picked: list[Point] = []
        while len(picked) < n and any(pools.values()):
            for rel in order:
                pool = pools[rel]
                if not pool:
                    continue
                offset, line, col, expected = pool.pop(rng.randrange(len(pool)))
                picked.append(Point(kind, rel, str(paths[rel]), offset, line, col, expected))
                if len(picked) >= n:
                    break
        points.extend(picked)
    return points, texts


@dataclass
class TypingPlace:
    line: int  # 0-based row of the statement the new line is inserted before
    indent: str
    word: str


def typing_places(text: str, k: int, seed: int) -> list[TypingPlace]:
    """Statements inside function bodies (indent >= 8) that start with a name: type that name (and
    one `.attr` when the code has one) on a new line inserted before the statement."""
    toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    lines = text.split("\n")
    found: list[TypingPlace] = []
    logical_start = True
    for i, tok in enumerate(toks):
        if tok.type == tokenize.NEWLINE:
            logical_start = True
            continue
        if tok.type in SKIP:
            continue
        if logical_start:
            logical_start = False
            if tok.type != tokenize.NAME or keyword.iskeyword(tok.string) or len(tok.string) < 3:
                continue
            row, col = tok.start
            indent = lines[row - 1][:col]
            if col < 8 or indent.strip():
                continue
            word = tok.string
            if (
                i + 2 < len(toks)
                and toks[i + 1].string == "."
                and toks[i + 2].type == tokenize.NAME
                and toks[i + 1].start == tok.end
                and toks[i + 2].start == toks[i + 1].end
            ):
                word += "." + toks[i + 2].string
            found.append(TypingPlace(row - 1, indent, word))
    rng = random.Random(f"{seed}:typing")
    picked = rng.sample(found, min(k, len(found)))
    return sorted(picked, key=lambda p: p.line)
