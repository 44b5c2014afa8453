"""Where a file is asked about when heed is measured on it, and what the right answer is there.

Three kinds of place, read with the standard library's `tokenize` from the whole (valid) file:
    attribute   right after a `.` (not in an import statement); expected: the attribute name
    identifier  at the start of an identifier (not after `.`, not a def/class name); expected: it
    line        at the start of a token in mid-line (on a line with no comment and no multi-line
                token); expected: the rest of the line, stripped
`heed eval --projects` and `bench/lsp_bench.py` both sample from these, with fixed seeds.
"""

from __future__ import annotations

import io
import keyword
import random
import tokenize
from dataclasses import dataclass
from pathlib import Path

from heed.model.training.corpus import Source, find_files

KINDS = ("attribute", "identifier", "line")
MAX_BYTES = 200_000  # larger files of a project (generated tables) are left out
ODD_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # line breaks some LSP libraries count, others not
_SKIP = (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)


@dataclass(frozen=True)
class Place:
    kind: str  # one of KINDS
    offset: int  # the cursor, in code points
    line: int  # 0-based
    col: int  # 0-based, code points
    expected: str


def project_files(root: Path, max_files: int = 0, seed: int = 0) -> list[Path]:
    """The project's Python files (tests and vendored copies left out), up to `max_files` of them
    (0: all), drawn with a seed of their own."""
    files = [f.path for f in find_files([Source(root, root.name)], exclude=("_vendor", "vendor"), skip_tests=True)]
    files = [p for p in files if p.stat().st_size <= MAX_BYTES]
    if 0 < max_files < len(files):
        files = sorted(random.Random(f"{seed}:{root.name}").sample(files, max_files))
    return files


def read_source(path: Path) -> str | None:
    """The file as an editor would send it: \\n line ends; None for files the LSP libraries would
    split into lines differently (odd line breaks) or that cannot be read as UTF-8."""
    try:
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return None
    return None if any(ch in text for ch in ODD_BREAKS) else text


def places(text: str) -> dict[str, list[Place]]:
    """Every place of each kind in a file ({} of each for a file `tokenize` refuses)."""
    out: dict[str, list[Place]] = {k: [] for k in KINDS}
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return out
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    lines = text.split("\n")
    prev = None  # the previous significant token
    logical_start = True
    in_import = False
    bad_lines: set[int] = set()  # 1-based rows with a comment or a multi-line token
    code_on_line: dict[int, list[tokenize.TokenInfo]] = {}
    for tok in toks:
        if tok.type == tokenize.ENDMARKER:
            break
        if tok.type == tokenize.COMMENT:
            bad_lines.add(tok.start[0])
        if tok.start[0] != tok.end[0] and tok.type not in (tokenize.NL, tokenize.NEWLINE):
            bad_lines.update(range(tok.start[0], tok.end[0] + 1))
        if tok.type == tokenize.NEWLINE:
            logical_start = True
            prev = None
            continue
        if tok.type in _SKIP:
            continue
        if logical_start:
            in_import = tok.type == tokenize.NAME and tok.string in ("import", "from")
            logical_start = False
        code_on_line.setdefault(tok.start[0], []).append(tok)
        if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
            row, col = tok.start
            offset = starts[row - 1] + col
            after_dot = prev is not None and prev.string == "." and prev.type == tokenize.OP
            if after_dot:
                if prev is not None and prev.end == tok.start and not in_import:
                    out["attribute"].append(Place("attribute", offset, row - 1, col, tok.string))
            elif not (prev is not None and prev.type == tokenize.NAME and prev.string in ("def", "class")):
                out["identifier"].append(Place("identifier", offset, row - 1, col, tok.string))
        prev = tok
    for row, line_toks in code_on_line.items():
        if row in bad_lines or len(line_toks) < 2:
            continue
        line = lines[row - 1]
        for tok in line_toks[1:]:
            col = tok.start[1]
            rest = line[col:].strip()
            if rest:
                out["line"].append(Place("line", starts[row - 1] + col, row - 1, col, rest))
    return out


def sample(found: dict[str, list[Place]], per_kind: dict[str, int], seed: str) -> list[Place]:
    """Up to `per_kind[kind]` places of each kind, drawn with a seed of their own, in file order."""
    picked: list[Place] = []
    for kind, n in per_kind.items():
        pool = found.get(kind, [])
        picked += random.Random(f"{seed}:{kind}").sample(pool, min(n, len(pool)))
    return sorted(picked, key=lambda p: (p.offset, p.kind))
