"""What an imported module has: the names it defines, read from its source, never imported.

After `os.` or `cst.` (with `import libcst as cst` above) the names that can follow are the
module's own. `ModuleIndex` finds a module as the import system would (relative imports from
the document's package, absolute ones from the document's project root and then `sys.path`),
parses its source with `ast` and collects what its top level binds: functions, classes,
assignments, imports, names a `from m import *` brings in, and a package's submodules. Nothing
is executed. A module with no source is only read if it is compiled into the interpreter or on
a short list of the standard library's extension modules (`math`): those run no user code and
print nothing (unlike `readline`, which would write to the protocol's stdout).

The document side: `import_bindings` reads what a document's imports bind off its token keys
(`piece_imports` caches that per piece of an open document), and `resolve_chain` follows a
dotted chain (`os.path.`) from such a binding to the module it names. `model/receivers.py`
decides what a receiver is.
"""

from __future__ import annotations

import ast
import bisect
import functools
import importlib
import inspect
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from heed.model.roles import ROLE_ID
from heed.model.scope import scope_at
from heed.model.stream import Piece, TokenStream
from heed.model.vocab import token_key

MAX_MODULE_BYTES = 4_000_000  # a larger file is not parsed (generated code)
STAR_DEPTH = 4  # `from m import *` chains followed this deep
CLASS_DEPTH = 12  # base classes followed this deep (and imports followed this far to find one)
SAFE_EXTENSIONS = frozenset({"math", "cmath", "array", "binascii", "select", "zlib", "unicodedata", "_socket",
                             "_struct", "_datetime", "_random", "_bisect", "_heapq", "_json", "_csv", "_pickle"})
STATEMENT_START = frozenset({"<newline>", "<indent>", "<dedent>", ";", ":"})
CHAIN_BEFORE_DOT = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:[ \t]*\.[ \t]*[A-Za-z_]\w*)*)[ \t]*\.[ \t]*\Z")


@dataclass
class ClassInfo:
    """What a class defines itself: methods, class-level names, `self.x = ...` in its methods;
    and its bases, as written (`Base`, `cst.CSTNode`), to be found from its module."""

    names: dict[str, str]  # name -> kind: "method", "field" or "class"
    bases: list[str]


@dataclass
class Module:
    """A module's top-level names: name -> kind ("module", "class", "function", "variable")."""

    name: str
    path: Path | None  # its source (None: compiled into the interpreter)
    names: dict[str, str] = field(default_factory=dict)
    refs: dict[str, tuple[int, str]] = field(default_factory=dict)  # name -> (level, dotted) it was imported as
    classes: dict[str, ClassInfo] = field(default_factory=dict)  # its top-level classes
    exported: set[str] | None = None  # its literal `__all__`: what `from it import *` brings (else public names)
    dynamic: bool = False  # it defines `__getattr__`: it may have names no statement binds

    @property
    def package_dir(self) -> Path | None:
        return self.path.parent if self.path is not None and self.path.stem == "__init__" else None


class ModuleIndex:
    """Modules found by name and read once (again if their file changes)."""

    def __init__(self, search_path: Sequence[str | Path] | None = None, exclude: Path | None = None):
        self.search_path = [Path(p) for p in (sys.path if search_path is None else search_path) if p]
        self.exclude = exclude  # a file never read (`heed eval`'s file under evaluation)
        self._read: dict[Path, tuple[float, Module]] = {}
        self._classes: dict[tuple[int, str, Path | None], tuple[Module, dict[str, str]]] = {}

    def find(self, dotted: str, level: int = 0, origin: Path | None = None, depth: int = 0) -> Module | None:
        """The module `dotted` names, imported from the document at `origin` with `level` leading dots."""
        parts = [p for p in dotted.split(".") if p]
        if level:
            if origin is None:
                return None
            base = origin.parent
            for _ in range(level - 1):
                base = base.parent
            return self._under([base], parts, depth) if parts else self._package(base, depth)
        if not parts:
            return None
        roots = [*project_roots(origin), *self.search_path]
        found = self._under(roots, parts, depth)
        if found is None and len(parts) == 1 and (parts[0] in sys.builtin_module_names or parts[0] in SAFE_EXTENSIONS):
            return _compiled(parts[0])
        return found

    def member_module(self, module: Module, name: str, depth: int = 0) -> Module | None:
        """The module `module.name` is, if it is one: a submodule, or a module it imported under that name."""
        if module.package_dir is not None:
            sub = self._under([module.package_dir], [name], depth)
            if sub is not None:
                return sub
        ref = module.refs.get(name)
        if ref is None or depth > STAR_DEPTH:
            return None
        level, dotted = ref
        target = self.find(dotted, level, module.path, depth + 1)
        if target is None and "." in dotted:  # `from m import name`: an attribute of m that is a module
            head, _, last = dotted.rpartition(".")
            parent = self.find(head, level, module.path, depth + 1)
            return self.member_module(parent, last, depth + 1) if parent is not None and parent is not module else None
        return target

    def class_names(self, module: Module, dotted: str, depth: int = 0) -> dict[str, str]:
        """The names class `dotted` (as written in `module`) has, with their kinds: its own and
        its bases', as far as they can be found; empty if it is not a class heed can find.
        Kept for the next call: not to be changed."""
        key = (id(module), dotted, self.exclude)  # what is found depends on the file left out
        cached = self._classes.get(key)
        if cached is not None:
            return cached[1]
        found = self.find_class(module, dotted) if depth <= CLASS_DEPTH else None
        names: dict[str, str] = {}
        if found is not None:
            where, info = found
            for base in info.bases[::-1]:  # the first base's names win, as in the method resolution order
                names.update(self.class_names(where, base, depth + 1))
            names.update(info.names)
        self._classes[key] = (module, names)  # the module kept alive, so that its id stays its own
        return self._classes[key][1]

    def find_class(self, module: Module, dotted: str, hops: int = 0) -> tuple[Module, ClassInfo] | None:
        """(the module that defines it, the class) for a name as written in `module`."""
        head, _, last = dotted.rpartition(".")
        if hops > CLASS_DEPTH:
            return None
        if head:
            where: Module | None = module
            for part in head.split("."):
                where = self.member_module(where, part) if where is not None else None
            return self.find_class(where, last, hops + 1) if where is not None else None
        if last in module.classes:
            return module, module.classes[last]
        ref = module.refs.get(last)
        if ref is None:
            return None
        level, target = ref
        parent_name, _, name = target.rpartition(".")
        parent = self.find(parent_name, level, module.path) if parent_name or level else None
        return self.find_class(parent, name, hops + 1) if parent is not None and parent is not module else None

    def _under(self, roots: Sequence[Path], parts: list[str], depth: int) -> Module | None:
        namespace = None  # a folder without `__init__.py`: used only if no root has a real module
        for root in roots:
            folder = root.joinpath(*parts)
            for candidate in (folder / "__init__.py", folder.with_name(f"{parts[-1]}.py")):
                if candidate.is_file():
                    return self._load(candidate, ".".join(parts), depth)
            if namespace is None and folder.is_dir():
                namespace = folder
        return Module(".".join(parts), None, _submodules(namespace)) if namespace is not None else None

    def _excluded(self, path: Path) -> bool:
        try:
            return self.exclude is not None and path.name == self.exclude.name and path.samefile(self.exclude)
        except OSError:
            return False

    def _package(self, folder: Path, depth: int) -> Module | None:
        init = folder / "__init__.py"
        return self._load(init, folder.name, depth) if init.is_file() else Module(folder.name, None, _submodules(folder))

    def _load(self, path: Path, name: str, depth: int) -> Module | None:
        try:
            stat = path.stat()
            if self._excluded(path):
                return None
            cached = self._read.get(path)
            if cached is not None and cached[0] == stat.st_mtime:
                return cached[1]
            if stat.st_size > MAX_MODULE_BYTES:
                return None
            tree = ast.parse(path.read_bytes())
        except (OSError, SyntaxError, ValueError, RecursionError):
            return None
        module = Module(name, path)
        self._read[path] = (stat.st_mtime, module)  # before reading on: a cycle of `*` imports ends here
        if path.stem == "__init__":
            module.names.update(_submodules(path.parent))
        _collect(tree.body, module)
        for level, dotted in _star_sources(tree.body):
            source = self.find(dotted, level, path, depth + 1) if depth < STAR_DEPTH else None
            if source is None:
                continue
            for n, kind in source.names.items():
                if n in source.refs:
                    module.refs.setdefault(n, source.refs[n])
                if n in source.exported if source.exported is not None else not n.startswith("_"):
                    module.names.setdefault(n, kind)
        return module


SHARED = ModuleIndex()  # the process's index: each module is read once for every document


def module_kind(index: ModuleIndex, module: Module, name: str, depth: int = 0) -> str:
    """What `module.name` is ("module", "class", "function", "variable"), following imports; "" if unknown."""
    kind = module.names.get(name, "")
    if kind or name not in module.refs or depth > STAR_DEPTH:
        return kind
    if index.member_module(module, name) is not None:
        return "module"
    level, dotted = module.refs[name]
    head, _, last = dotted.rpartition(".")
    parent = index.find(head, level, module.path) if head or level else None
    return module_kind(index, parent, last, depth + 1) if parent is not None and parent is not module else ""


def project_roots(origin: Path | None) -> list[Path]:
    """The folder above the document's outermost package: where its project's absolute imports start."""
    if origin is None:
        return []
    folder = origin.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    return [folder]


def _submodules(folder: Path) -> dict[str, str]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return {}
    out = {}
    for e in entries:
        stem = e.name[:-3] if e.name.endswith(".py") else e.name
        if stem.isidentifier() and stem != "__init__" and (e.name.endswith(".py") or os.path.isfile(os.path.join(e.path, "__init__.py"))):
            out[stem] = "module"
    return out


@functools.cache  # they cannot change while the process runs
def _compiled(name: str) -> Module | None:
    """A module compiled into the interpreter, or one of SAFE_EXTENSIONS: it has no source to
    read (None where this interpreter lacks it)."""
    try:
        mod = importlib.import_module(name)
    except ImportError:
        return None
    names = {}
    for n in dir(mod):
        v = getattr(mod, n, None)
        names[n] = ("module" if inspect.ismodule(v) else "class" if inspect.isclass(v)
                    else "function" if callable(v) else "variable")
    return Module(name, None, names)


def _collect(body: list[ast.stmt], module: Module) -> None:
    """The names a block of top-level statements binds (into `if`/`try`/`with`, not into functions)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            module.names[node.name] = "function"
            if node.name == "__getattr__":
                module.dynamic = True
        elif isinstance(node, ast.ClassDef):
            module.names[node.name] = "class"
            module.classes[node.name] = class_info(node)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    module.names[a.asname] = "module"
                    module.refs.setdefault(a.asname, (0, a.name))  # the first of `try:`/`if` branches
                else:
                    top = a.name.split(".")[0]
                    module.names[top] = "module"
                    module.refs.setdefault(top, (0, top))
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.name != "*":
                    bound = a.asname or a.name
                    module.names.setdefault(bound, "")  # what it is: `module_kind` follows it when asked
                    module.refs.setdefault(bound, (node.level, f"{node.module or ''}.{a.name}".lstrip(".")))
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                _read_all(node, module)
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        module.names.setdefault(n.id, "variable")
            if isinstance(node, (ast.For, ast.AsyncFor)):
                _collect(node.body + node.orelse, module)
        elif isinstance(node, (ast.If, ast.While)):
            _collect(node.body + node.orelse, module)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            _collect(node.body, module)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            _collect(node.body + node.orelse + node.finalbody, module)  # type: ignore[attr-defined]
            for h in node.handlers:  # type: ignore[attr-defined]
                _collect(h.body, module)


def class_info(node: ast.ClassDef) -> ClassInfo:
    names: dict[str, str] = {}
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[stmt.name] = "field" if any(_dotted_text(d).endswith("property") for d in stmt.decorator_list) else "method"
        elif isinstance(stmt, ast.ClassDef):
            names[stmt.name] = "class"
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            for t in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                names.update((n.id, "field") for n in ast.walk(t) if isinstance(n, ast.Name))
    for n in ast.walk(node):
        if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Name) \
                and n.value.id == "self":
            names.setdefault(n.attr, "field")
    return ClassInfo(names, [b for b in map(_dotted_text, node.bases) if b])


def _dotted_text(node: ast.expr) -> str:
    """`a.b.C` for a base written as a dotted name; "" for anything else (`Generic[T]`, a call)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *parts[::-1]]) if isinstance(node, ast.Name) else ""


def _read_all(node: ast.stmt, module: Module) -> None:
    """`__all__ = [...]` or `__all__ += [...]` with literal strings; anything else: not known."""
    try:
        value = ast.literal_eval(node.value) if getattr(node, "value", None) is not None else None  # type: ignore[attr-defined]
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        value = None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        return
    if isinstance(node, ast.AugAssign):
        module.exported = (module.exported or set()) | set(value)
    else:
        module.exported = set(value)


def _star_sources(body: list[ast.stmt]) -> list[tuple[int, str]]:
    """(level, module) of each `from module import *` at the top level (also under `if`/`try`)."""
    out = []
    for node in body:
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            out.append((node.level, node.module or ""))
        for block in ("body", "orelse", "finalbody"):
            if isinstance(node, (ast.If, ast.Try, ast.With)) and hasattr(node, block):
                out += _star_sources(getattr(node, block))
    return out


# -- the document side --------------------------------------------------------------------------


def import_bindings(keys: Sequence[str]) -> dict[str, list[tuple[int, int, str]]]:
    """Each name the document's imports bind: name -> [(token index, level, dotted)], in order.
    `import a.b` binds `a` to `a`; `import a.b as c` binds `c` to `a.b`; `from m import n as k`
    binds `k` to `m.n` (a submodule or an attribute of m: resolved later)."""
    out: dict[str, list[tuple[int, int, str]]] = {}
    n = len(keys)
    i = 0
    while i < n:
        key = keys[i]
        if key not in ("import", "from") or (i > 0 and keys[i - 1] not in STATEMENT_START):
            i += 1
            continue
        j = i + 1
        level, base = 0, ""
        if key == "from":
            while j < n and keys[j] in (".", "..."):
                level += len(keys[j])
                j += 1
            base, j = dotted_name(keys, j)
            if j >= n or keys[j] != "import":
                i = j
                continue
            j += 1
            if j < n and keys[j] == "(":
                j += 1
        while j < n:
            name, j = dotted_name(keys, j)
            if not name:
                break
            bound = name.split(".")[0] if key == "import" else name
            target = bound if key == "import" else f"{base}.{name}".lstrip(".")
            if j + 1 < n and keys[j] == "as" and keys[j + 1].isidentifier():
                bound, j = keys[j + 1], j + 2
                target = name if key == "import" else target
            out.setdefault(bound, []).append((i, level, target))
            if j < n and keys[j] == ",":
                j += 1
            else:
                break
        i = j
    return out


def dotted_name(keys: Sequence[str], j: int) -> tuple[str, int]:
    """The dotted name starting at `keys[j]` ("" if none) and the index after it."""
    parts = []
    while j < len(keys) and keys[j].isidentifier() and keys[j] not in ("import", "as"):
        parts.append(keys[j])
        if j + 1 < len(keys) and keys[j + 1] == ".":
            j += 2
        else:
            j += 1
            break
    return ".".join(parts), j


def receiver_chain(keys: Sequence[str]) -> list[str]:
    """The dotted names before a context's final `.`: `os.path.` -> ["os", "path"]; [] if none."""
    if not keys or keys[-1] != ".":
        return []
    chain: list[str] = []
    j = len(keys) - 2
    while True:
        if j < 0 or not keys[j].isidentifier():
            return []  # `f().x.`: the chain starts at something that is not a name
        chain.append(keys[j])
        if j < 1 or keys[j - 1] != ".":
            break
        j -= 2
    return chain[::-1]


def resolve_chain(index: ModuleIndex, chain: Sequence[str], level: int, dotted: str, origin: Path | None) -> Module | None:
    """The module `chain` names, its first name bound by an import of `dotted` (with `level` dots)
    in the document at `origin`; None if it names no module heed can read."""
    module = index.find(dotted, level, origin)
    if module is None and "." in dotted:  # `from m import name`: name is an attribute of m
        head, _, last = dotted.rpartition(".")
        parent = index.find(head, level, origin)
        module = index.member_module(parent, last) if parent is not None else None
    for name in chain[1:]:
        if module is None:
            return None
        module = index.member_module(module, name)
    return module


def receiver_in_stream(index: ModuleIndex, stream: TokenStream, dot: int, origin: Path | None) -> Module | None:
    """The module named before the `.` that ends at `dot` in an open document, if any: the chain
    is read off the text, its first name must be bound by an import visible there."""
    found = CHAIN_BEFORE_DOT.search(stream.text, max(dot - 400, 0), dot)
    if found is None:
        return None
    chain = [part.strip() for part in found.group(1).split(".")]
    if scope_at(stream, dot).names.get(chain[0]) != ROLE_ID["import"]:
        return None  # bound by an assignment, a parameter, ... or not at all
    binding = stream_binding(stream, chain[0], dot)
    return resolve_chain(index, chain, *binding, origin) if binding is not None else None


def stream_binding(stream: TokenStream, name: str, offset: int) -> tuple[int, str] | None:
    """(level, dotted) of the last import that binds `name` before `offset` in an open document."""
    starts = stream.starts()
    last = max(bisect.bisect_right(starts, offset) - 1, 0)
    binding = None
    for i, piece in enumerate(stream.pieces[: last + 1]):
        for where, level, dotted in piece_imports(piece).get(name, ()):
            if starts[i] + where < offset:
                binding = (level, dotted)
    return binding


def read_imports(index: ModuleIndex, stream: TokenStream, origin: Path | None) -> None:
    """Read every module the document imports into `index` ahead of requests."""
    for piece in stream.pieces:
        for name, bound in piece_imports(piece).items():
            for _, level, dotted in bound:
                resolve_chain(index, [name], level, dotted, origin)


def piece_imports(piece: Piece) -> dict[str, list[tuple[int, int, str]]]:
    """`import_bindings` of one piece of a document, with offsets in the piece: computed once."""
    cached = piece.derived.get("imports")
    if cached is None:
        toks = piece.tokens
        found = import_bindings([token_key(t.kind, t.text) for t in toks]) if any(t.text == "import" for t in toks) else {}
        cached = piece.derived["imports"] = {
            name: [(toks[i].offset, level, dotted) for i, level, dotted in bound] for name, bound in found.items()
        }
    return cached
