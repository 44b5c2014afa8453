"""What an imported module has: the names it defines, read from its source without running it.

After `os.` or `cst.` (with `import libcst as cst` above) the names that can follow are the
module's own. `ModuleIndex` finds a module as the import system would (relative imports from
the document's package, absolute ones from the document's project root and then `sys.path`),
parses its source with `ast` and collects what its top level binds: functions, classes,
assignments, imports, names a `from m import *` brings in, and a package's submodules. Nothing
is executed (`module_source.py`). A module with no source is listed only if it is compiled into
the interpreter or on a short list of safe extension modules (`compiled.py`).

The document side (what its imports bind, and the module a dotted chain before a dot names)
is `imports.py`; `receivers.py` decides what a receiver is.
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from heed.model.lookup.compiled import SAFE_EXTENSIONS, compiled_module
from heed.model.lookup.module_source import ClassInfo, Module, collect, star_sources

MAX_MODULE_BYTES = 4_000_000  # a larger file is not parsed (generated code)
STAR_DEPTH = 4  # `from m import *` chains followed this deep
CLASS_DEPTH = 12  # base classes followed this deep (and imports followed this far to find one)


class ModuleIndex:
    """Modules found by name and read once (again if their file changes)."""

    def __init__(self, search_path: Sequence[str | Path] | None = None, exclude: Path | None = None):
        self.search_path = [Path(p) for p in (sys.path if search_path is None else search_path) if p]
        self.exclude = exclude  # a file never read (`heed eval`'s file under evaluation)
        self._read: dict[Path, tuple[int, Module]] = {}  # path -> (its mtime_ns, what it binds)
        self._classes: dict[tuple[int, str, Path | None], tuple[Module, dict[str, str], bool]] = {}
        self._tops: dict[Path, tuple[int, set[str]]] = {}  # folder -> (its mtime_ns, the modules at its top)
        # What was collected from each module, on disk across sessions (the server's:
        # `workspace/module_cache.py`), with load(path, size, mtime_ns) and save(path, size, mtime_ns, module).
        self.disk: Any = None

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
            return compiled_module(parts[0])
        return found

    def top_level(self, origin: Path | None = None) -> set[str]:
        """The modules `import |` can name from the document at `origin`: those compiled into the
        interpreter and every module and package at the top of its project and of the search path."""
        names = set(sys.builtin_module_names)
        for root in [*project_roots(origin), *self.search_path]:
            try:
                mtime = root.stat().st_mtime_ns
            except OSError:
                continue
            cached = self._tops.get(root)
            if cached is None or cached[0] != mtime:
                cached = self._tops[root] = (mtime, _top_modules(root))
            names |= cached[1]
        return names

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

    def class_names(self, module: Module, dotted: str) -> dict[str, str]:
        """The names class `dotted` (as written in `module`) has, with their kinds: its own and
        its bases', as far as they can be found (a builtin base's too); empty if it is not a
        class heed can find. Kept for the next call: not to be changed."""
        return self._class(module, dotted)[0]

    def class_is_open(self, module: Module, dotted: str) -> bool:
        """Whether class `dotted` has a base heed cannot read (from a compiled or missing module:
        `ctypes.Structure`), so names heed does not know."""
        return self._class(module, dotted)[1]

    def _class(self, module: Module, dotted: str, depth: int = 0) -> tuple[dict[str, str], bool]:
        key = (id(module), dotted, self.exclude)  # what is found depends on the file left out
        cached = self._classes.get(key)
        if cached is not None:
            return cached[1], cached[2]
        found = self.find_class(module, dotted) if depth <= CLASS_DEPTH else None
        names: dict[str, str] = {}
        is_open = False
        if found is not None:
            where, info = found
            for base in info.bases[::-1]:  # the first base's names win, as in the method resolution order
                stand_in = base_stand_in(base)
                if stand_in is not None:
                    got, base_open = stand_in, False
                elif self.find_class(where, base) is not None:
                    got, base_open = self._class(where, base, depth + 1)
                elif base not in where.names and inspect.isclass(getattr(builtins, base, None)):
                    got, base_open = builtin_names(base), False  # `class Headers(dict)`
                else:
                    got, base_open = {}, True
                names.update(got)
                is_open |= base_open
            names.update(info.names)
        self._classes[key] = (module, names, is_open)  # the module kept alive, so that its id stays its own
        return names, is_open

    def find_class(self, module: Module, dotted: str, hops: int = 0) -> tuple[Module, ClassInfo] | None:
        """(the module that defines it, the class) for a name as written in `module`."""
        found = self.defining(module, dotted, hops)
        if found is None or found[1] not in found[0].classes:
            return None
        return found[0], found[0].classes[found[1]]

    def defining(self, module: Module, dotted: str, hops: int = 0) -> tuple[Module, str] | None:
        """(the module that defines it, its name there) for a name as written in `module`,
        following imports; None if no module heed can read defines it."""
        head, _, last = dotted.rpartition(".")
        if hops > CLASS_DEPTH:
            return None
        if head:
            where: Module | None = module
            for part in head.split("."):
                where = self.member_module(where, part) if where is not None else None
            return self.defining(where, last, hops + 1) if where is not None else None
        if last in module.classes or last in module.returns or (last in module.names and last not in module.refs):
            return module, last
        ref = module.refs.get(last)
        if ref is None:
            return None
        level, target = ref
        parent_name, _, name = target.rpartition(".")
        parent = self.find(parent_name, level, module.path) if parent_name or level else None
        return self.defining(parent, name, hops + 1) if parent is not None and parent is not module else None

    def parameters(self, module: Module, name: str, method: str = "__init__", depth: int = 0) -> list[str] | None:
        """The parameters (`module_source.keyword_parameters`) function `name` (as written in
        `module`) takes, or class `name`'s `method` (its own or a base's: calling the class, its
        `__init__`)."""
        found = self.defining(module, name)
        if found is None:
            return None
        where, defined = found
        if defined in where.params:
            return where.params[defined] if method == "__init__" else None
        info = where.classes.get(defined)
        if info is None or depth > CLASS_DEPTH:
            return None
        if method in info.params:
            return info.params[method]
        for base in info.bases:
            got = self.parameters(where, base, method, depth + 1)
            if got is not None:
                return got
        return None

    def instance_class(self, module: Module, written: str, depth: int = 0) -> tuple[Module, str] | None:
        """(the module that defines it, its name) of the class a value of the type `written` in
        `module` is an instance of (`module_source.type_written`): `Foo` or `Foo()`, the class;
        `make()`, the class its return annotation names. None where it is not a class heed can read."""
        called = written.endswith("()")
        dotted = written[:-2] if called else written
        found = self.defining(module, dotted) if dotted and depth <= CLASS_DEPTH else None
        if found is None:
            return None
        where, name = found
        if name in where.classes:
            return where, name
        returns = where.returns.get(name)
        return self.instance_class(where, returns, depth + 1) if called and returns else None

    def attribute_type(self, module: Module, class_dotted: str, attr: str, depth: int = 0) -> tuple[Module, str] | None:
        """(the module to read it in, the type as written) of what `attr` holds on instances of
        class `class_dotted` (as written in `module`), its bases searched in order."""
        found = self.find_class(module, class_dotted) if depth <= CLASS_DEPTH else None
        if found is None:
            return None
        where, info = found
        if attr in info.types:
            return where, info.types[attr]
        for base in info.bases:
            got = self.attribute_type(where, base, attr, depth + 1)
            if got is not None:
                return got
        return None

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
            if cached is not None and cached[0] == stat.st_mtime_ns:
                return cached[1]
            if stat.st_size > MAX_MODULE_BYTES:
                return None
            module = self.disk.load(path, stat.st_size, stat.st_mtime_ns) if self.disk is not None else None
            if module is None:
                tree = ast.parse(path.read_bytes())
        except (OSError, SyntaxError, ValueError, RecursionError):
            return None
        if module is None:
            module = Module(name, path)
            collect(tree.body, module)
            module.stars = star_sources(tree.body)
            if self.disk is not None:
                self.disk.save(path, stat.st_size, stat.st_mtime_ns, module)
        module.name = name
        return self._complete(path, stat.st_mtime_ns, module, depth)

    def adopt(self, path: Path, mtime_ns: int, module: Module) -> None:
        """Take a module read elsewhere (the workspace index reads the project's files in the
        background), so that no request parses it; it is completed as a module read here is."""
        self._complete(path, mtime_ns, copy.deepcopy(module), 0)

    def forget(self, path: Path) -> None:
        """Drop what was read of the module at `path` (deleted, or left out of the workspace)."""
        if self._read.pop(path, None) is not None:
            self._classes.clear()  # what its classes' names were may have come from it

    def _complete(self, path: Path, mtime_ns: int, module: Module, depth: int) -> Module:
        """Add a package's submodules and what its `from m import *` bring to a collected module."""
        self._read[path] = (mtime_ns, module)  # before reading on: a cycle of `*` imports ends here
        if path.stem == "__init__":
            module.names.update(_submodules(path.parent))
        for level, dotted in module.stars:
            source = self.find(dotted, level, path, depth + 1) if depth < STAR_DEPTH else None
            if source is None:
                continue
            # What `*` brings: the names `__all__` lists (bound by a statement or not), else the public ones.
            brought = source.exported if source.exported is not None else [n for n in source.names if not n.startswith("_")]
            for n in brought:
                if n in source.refs:
                    module.refs.setdefault(n, source.refs[n])
                module.names.setdefault(n, source.names.get(n, ""))
            if source.exported is not None:
                module.reexported.update(source.exported)
        return module


SHARED = ModuleIndex()  # the process's index: each module is read once for every document


def module_kind(index: ModuleIndex, module: Module, name: str, depth: int = 0) -> str:
    """What `module.name` is ("module", "class", "function", "variable"), following imports; "" if unknown."""
    kind = module.names.get(name, "")
    if kind or name not in module.refs or depth > STAR_DEPTH:
        return kind
    if name not in module.kinds_found:
        module.kinds_found[name] = _imported_kind(index, module, name, depth)
    return module.kinds_found[name]


def _imported_kind(index: ModuleIndex, module: Module, name: str, depth: int) -> str:
    if index.member_module(module, name) is not None:
        return "module"
    level, dotted = module.refs[name]
    head, _, last = dotted.rpartition(".")
    parent = index.find(head, level, module.path) if head or level else None
    return module_kind(index, parent, last, depth + 1) if parent is not None and parent is not module else ""


def base_stand_in(base: str) -> dict[str, str] | None:
    """The names a base heed knows without a class to read gives (`typing.NamedTuple` and
    `TypedDict` are functions; Python 3.12 compiles `Generic`); None for any other base."""
    last = base.rpartition(".")[2]
    if last in ("object", "Generic", "Protocol"):
        return {}
    if last == "NamedTuple":
        return {**builtin_names("tuple"), "_asdict": "method", "_replace": "method", "_make": "method",
                "_fields": "field", "_field_defaults": "field"}
    return builtin_names("dict") if last == "TypedDict" else None


def builtin_names(name: str) -> dict[str, str]:
    """The names of a builtin class (`str`, `dict`), with their kinds; empty for anything else,
    and for `type`: a value of it is a class, whose names are that class's (`type(obj).__name__`),
    not `type`'s."""
    value = getattr(builtins, name, None)
    if not inspect.isclass(value) or value is type:
        return {}
    return {n: "method" if callable(getattr(value, n, None)) else "field" for n in dir(value) if not n.startswith("__")}


def signature_parameters(func: Any, method: bool = False) -> list[str] | None:
    """The parameters of one of the interpreter's own functions, by its signature, as
    `module_source.keyword_parameters` writes them (`method`: its `self` left out)."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    marks = {inspect.Parameter.POSITIONAL_ONLY: "/", inspect.Parameter.POSITIONAL_OR_KEYWORD: "", inspect.Parameter.KEYWORD_ONLY: "*"}
    names = ["..." if p.kind == p.VAR_POSITIONAL else marks[p.kind] + p.name for p in signature.parameters.values()
             if p.kind in marks or p.kind == p.VAR_POSITIONAL]
    return names[1:] if method and names and names[0].lstrip("/") in ("self", "cls") else names


def builtin_parameters(name: str, method: str) -> list[str] | None:
    """The parameters of builtin class `name`'s `method` (`list.sort`: `*key`, `*reverse`)."""
    value = getattr(getattr(builtins, name, None), method, None)
    return signature_parameters(value, method=True) if callable(value) else None


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


def _top_modules(folder: Path) -> set[str]:
    """The modules a folder on the search path holds: `name.py`, packages and namespace folders,
    compiled extensions (`name.cpython-311-x86_64-linux-gnu.so`)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return set()
    out = set()
    for e in entries:
        if e.name.endswith((".py", ".so", ".pyd")):
            stem = e.name.split(".")[0]
        elif e.is_dir() and e.name != "__pycache__":
            stem = e.name
        else:
            continue
        if stem.isidentifier() and stem != "__init__":
            out.add(stem)
    return out
