"""One file of the workspace, read once: its symbols and its tokens.

The symbols are what the module look-up reads of any module (`lookup/module_source.py`: names
with kinds, imports, classes with their members, bases and the types their attributes hold),
plus the line each top-level name is defined on, for the popup's detail. The tokens are the
keys the model reads (`text/vocab.token_key`), for the project's n-grams (`ngrams.py`).
Summaries travel to and from the disk cache as JSON (`cache.py`): never a pickle.
"""

from __future__ import annotations

import ast
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heed.model.lookup.module_source import ClassInfo, Module, collect, star_sources
from heed.model.text import lexer
from heed.model.text.vocab import token_key


@dataclass
class FileSummary:
    path: Path
    size: int
    mtime_ns: int
    module: Module | None  # None: the file does not parse (its tokens still count)
    lines: dict[str, int]  # top-level name -> the line (1-based) that defines it
    keys: list[str]  # the model's token keys, in order

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "size": self.size, "mtime_ns": self.mtime_ns,
                "module": module_to_json(self.module) if self.module is not None else None,
                "lines": self.lines, "keys": "\n".join(self.keys)}  # a key never holds a line break

    @staticmethod
    def from_json(raw: dict[str, Any]) -> FileSummary:
        """The summary as saved; raises (KeyError, TypeError, ValueError) on anything malformed."""
        module = module_from_json(raw["module"]) if raw["module"] is not None else None
        keys = raw["keys"].split("\n") if raw["keys"] else []
        lines = raw["lines"]
        if not isinstance(lines, dict):
            raise ValueError("malformed summary")
        return FileSummary(Path(raw["path"]), int(raw["size"]), int(raw["mtime_ns"]), module,
                           {str(k): int(v) for k, v in lines.items()}, [sys.intern(k) for k in keys])


class Reader:
    """Reads one file a slice at a time (`advance`): a large file is lexed a few logical lines
    per slice, so that the index never holds up a request for long; parsing it is one step."""

    LINES_PER_CHECK = 64

    def __init__(self, path: Path, text: str, dotted: str, size: int, mtime_ns: int):
        self.path, self.text, self.dotted, self.size, self.mtime_ns = path, text, dotted, size, mtime_ns
        self.keys: list[str] = []
        self._lines = lexer.lex_lines(text)

    def advance(self, deadline: float) -> FileSummary | None:
        """Work until `deadline` (time.monotonic); the summary once the file is read, else None."""
        while True:
            for _ in range(self.LINES_PER_CHECK):
                line = next(self._lines, None)
                if line is None:
                    return self._finish()
                self.keys += [sys.intern(token_key(t.kind, t.text)) for t in line[1] if t.kind != lexer.ENDMARKER]
            if time.monotonic() >= deadline:
                return None

    def _finish(self) -> FileSummary:
        try:
            tree = ast.parse(self.text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return FileSummary(self.path, self.size, self.mtime_ns, None, {}, self.keys)
        module = Module(self.dotted, self.path)
        collect(tree.body, module)
        module.stars = star_sources(tree.body)
        return FileSummary(self.path, self.size, self.mtime_ns, module, top_level_lines(tree.body), self.keys)


def top_level_lines(body: list[ast.stmt]) -> dict[str, int]:
    """The line of each name the module's top level defines (first definition wins), under
    `if`/`try` too, as `module_source.collect` reads them."""
    out: dict[str, int] = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.setdefault(node.name, node.lineno)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        out.setdefault(n.id, node.lineno)
        elif isinstance(node, (ast.If, ast.Try)):
            for block in (node.body, node.orelse, getattr(node, "finalbody", [])):
                for name, line in top_level_lines(block).items():
                    out.setdefault(name, line)
    return out


def module_to_json(m: Module) -> dict[str, Any]:
    return {
        "name": m.name, "path": str(m.path) if m.path is not None else None, "names": m.names,
        "refs": {k: list(v) for k, v in m.refs.items()},
        "classes": {k: {"names": c.names, "bases": c.bases, "types": c.types, "params": c.params} for k, c in m.classes.items()},
        "exported": sorted(m.exported) if m.exported is not None else None, "dynamic": m.dynamic,
        "types": m.types, "returns": m.returns, "stars": [list(s) for s in m.stars], "params": m.params,
    }


def module_from_json(raw: dict[str, Any]) -> Module:
    def strings(d: Any) -> dict[str, str]:
        if not isinstance(d, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in d.items()):
            raise ValueError("malformed names")
        return dict(d)

    def params(d: Any) -> dict[str, list[str]]:
        if not isinstance(d, dict) or not all(isinstance(v, list) and all(isinstance(p, str) for p in v) for v in d.values()):
            raise ValueError("malformed parameters")
        return {str(k): list(v) for k, v in d.items()}

    classes = {str(k): ClassInfo(strings(c["names"]), [str(b) for b in c["bases"]], strings(c["types"]), params(c["params"]))
               for k, c in raw["classes"].items()}
    refs = {str(k): (int(v[0]), str(v[1])) for k, v in raw["refs"].items()}
    exported = set(map(str, raw["exported"])) if raw["exported"] is not None else None
    return Module(str(raw["name"]), Path(raw["path"]) if raw["path"] else None, strings(raw["names"]), refs, classes,
                  exported, bool(raw["dynamic"]), strings(raw["types"]), strings(raw["returns"]),
                  [(int(level), str(dotted)) for level, dotted in raw["stars"]], params(raw["params"]))
