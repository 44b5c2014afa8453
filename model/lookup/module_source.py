"""What a module's source binds at its top level, read with `ast`: nothing is executed.

Functions, classes (with their methods, class-level names, `self.x = ...` in their methods and
their bases as written), assignments, imports (kept as references, followed on demand by
`ModuleIndex`), a literal `__all__`, and the modules a `from m import *` names. Where the code
shows what a name holds, its type as written (`type_written`): `x: Foo`, `self.x = Foo(...)`,
`x = make()` ("make()": what calling it gives), `x = []` ("list"), `self.x = x` where a method's
parameter is `x: Foo`, and each function's return annotation.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

# Names every module has that no one writes after `module.` (`__name__` and `__file__` are written).
BOOKKEEPING = frozenset({"__all__", "__spec__", "__loader__", "__package__", "__builtins__", "__cached__"})


@dataclass
class ClassInfo:
    """What a class defines itself: methods, class-level names, `self.x = ...` in its methods;
    and its bases, as written (`Base`, `cst.CSTNode`), to be found from its module."""

    names: dict[str, str]  # name -> kind: "method", "field" or "class"
    bases: list[str]
    types: dict[str, str] = field(default_factory=dict)  # field -> its type as written; method -> its return's
    params: dict[str, list[str]] = field(default_factory=dict)  # method -> its parameters (`keyword_parameters`)


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
    types: dict[str, str] = field(default_factory=dict)  # top-level variable -> its type as written
    returns: dict[str, str] = field(default_factory=dict)  # top-level function -> its return annotation
    stars: list[tuple[int, str]] = field(default_factory=list)  # (level, module) of each `from module import *`
    params: dict[str, list[str]] = field(default_factory=dict)  # top-level function -> its parameters (`keyword_parameters`)
    # What `modules.module_kind` found each imported name to be: following one looks for files,
    # and a popup after `np.` asks for twenty of them at every keystroke.
    kinds_found: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    # Names a `from m import *` brought from a module whose `__all__` lists them (`asyncio`'s, from
    # `asyncio.events`): re-exported by design wherever they were imported from.
    reexported: set[str] = field(default_factory=set, repr=False, compare=False)

    @property
    def package_dir(self) -> Path | None:
        return self.path.parent if self.path is not None and self.path.stem == "__init__" else None

    def offered(self) -> dict[str, str]:
        """The names a popup offers after `module.`: all it binds, and what its `__all__` lists
        (`re.UNICODE`, bound at run time), but the import system's bookkeeping and what it imported
        from another package for its own use (`traceback.sys`, `utils.Any`) unless it re-exports
        that (`os.path` is in `os.__all__`); a private module (`_asyncio`) is its own implementation."""
        own = self.name.split(".")[0]
        exported = self.exported or set()

        def borrowed(name: str) -> bool:
            level, dotted = self.refs[name]
            top = dotted.split(".")[0]
            return level == 0 and top != own and not top.startswith("_") and name not in exported \
                and name not in self.reexported

        names = {n: k for n, k in self.names.items() if n not in BOOKKEEPING and not (n in self.refs and borrowed(n))}
        return {**names, **{n: "" for n in exported if n not in names and n.isidentifier()}}


def collect(body: list[ast.stmt], module: Module) -> None:
    """The names a block of top-level statements binds (into `if`/`try`/`with`, not into functions)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            module.names[node.name] = "function"
            module.params.setdefault(node.name, keyword_parameters(node))
            if node.returns is not None and (written := annotation_type(node.returns)):
                module.returns.setdefault(node.name, written)
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
            if len(targets) == 1 and isinstance(targets[0], ast.Name) and (written := type_written(node)):
                module.types.setdefault(targets[0].id, written)
            if isinstance(node, (ast.For, ast.AsyncFor)):
                collect(node.body + node.orelse, module)
        elif isinstance(node, (ast.If, ast.While)):
            collect(node.body + node.orelse, module)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            collect(node.body, module)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            collect(node.body + node.orelse + node.finalbody, module)  # type: ignore[attr-defined]
            for h in node.handlers:  # type: ignore[attr-defined]
                collect(h.body, module)


def class_info(node: ast.ClassDef) -> ClassInfo:
    names: dict[str, str] = {}
    types: dict[str, str] = {}
    params: dict[str, list[str]] = {}
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names[stmt.name] = "field" if any(_dotted_text(d).endswith("property") for d in stmt.decorator_list) else "method"
            params.setdefault(stmt.name, keyword_parameters(stmt, method=True))
            if stmt.returns is not None and (written := annotation_type(stmt.returns)):
                types.setdefault(stmt.name, written)
        elif isinstance(stmt, ast.ClassDef):
            names[stmt.name] = "class"
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for t in targets:
                names.update((n.id, "field") for n in ast.walk(t) if isinstance(n, ast.Name))
            if len(targets) == 1 and isinstance(targets[0], ast.Name) and (written := type_written(stmt)):
                types.setdefault(targets[0].id, written)
    for n in ast.walk(node):
        if isinstance(n, (ast.Assign, ast.AnnAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                    names.setdefault(t.attr, "field")
                    if len(targets) == 1 and (written := type_written(n)):
                        types.setdefault(t.attr, written)
        if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Name) \
                and n.value.id == "self":
            names.setdefault(n.attr, "field")
    for stmt in node.body:  # `def __init__(self, md: Markdown): self.md = md`: the parameter's annotation
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            types = {**stored_parameters(stmt), **types}
    # A subscripted base (`Parser[BlockState]`, `Generic[T]`) is the generic class it parametrises.
    bases = [b for b in (_dotted_text(n.value if isinstance(n, ast.Subscript) else n) for n in node.bases) if b]
    if "__init__" not in params and _made_of_fields(node, bases):  # `Point(x=1, y=2)`: its annotated fields
        params["__init__"] = [s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
                              and "ClassVar" not in _dotted_text(s.annotation.value if isinstance(s.annotation, ast.Subscript)
                                                                 else s.annotation)]
    return ClassInfo(names, bases, types, params)


# Classes whose constructor takes their annotated fields: decorated (`@dataclass`, attrs' `@define`) or
# derived (`NamedTuple`, pydantic's `BaseModel`).
FIELD_DECORATORS = ("dataclass", "define", "frozen", "mutable", "attrs", "s")
FIELD_BASES = ("NamedTuple", "BaseModel", "TypedDict")


def _made_of_fields(node: ast.ClassDef, bases: list[str]) -> bool:
    decorators = [_dotted_text(d.func if isinstance(d, ast.Call) else d).rpartition(".")[2] for d in node.decorator_list]
    return any(d in FIELD_DECORATORS for d in decorators) or any(b.rpartition(".")[2] in FIELD_BASES for b in bases)


def keyword_parameters(node: ast.FunctionDef | ast.AsyncFunctionDef, method: bool = False) -> list[str]:
    """A function's parameters as a call sees them, in order (`calls.py`): a positional-only one
    marked `/name`, a keyword-only one `*name`, `*args` as `...` (it takes any more positions);
    not `**kwargs`, nor a method's `self` or `cls` (a `staticmethod` has none)."""
    args = node.args
    named = [*(f"/{a.arg}" for a in args.posonlyargs), *(a.arg for a in args.args)]
    if method and named and not any(_dotted_text(d) == "staticmethod" for d in node.decorator_list):
        named = named[1:]
    return [*named, *(["..."] if args.vararg else []), *(f"*{a.arg}" for a in args.kwonlyargs)]


def stored_parameters(method: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, str]:
    """The types of the attributes a method stores its annotated parameters in (`self.x = x`)."""
    args = method.args
    annotated = {a.arg: a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs) if a.annotation is not None}
    found: dict[str, str] = {}
    for n in ast.walk(method) if annotated else ():
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.value, ast.Name) and n.value.id in annotated:
            t = n.targets[0]
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self" \
                    and (written := annotation_type(annotated[n.value.id])):
                found.setdefault(t.attr, written)
    return found


LITERALS = {ast.List: "list", ast.ListComp: "list", ast.Dict: "dict", ast.DictComp: "dict", ast.Set: "set",
            ast.SetComp: "set", ast.JoinedStr: "str", ast.Tuple: "tuple"}
WRAPPERS = ("Optional", "Final", "ClassVar", "Annotated", "Type")


def type_written(node: ast.stmt) -> str:
    """What an assignment's target holds, as written: its annotation (`Foo`), a call ("Foo()":
    a class's instance or a function's result, decided where it is looked up), a literal's
    builtin type; "" where the code does not show it."""
    if isinstance(node, ast.AnnAssign):
        return annotation_type(node.annotation)
    value = getattr(node, "value", None)
    if isinstance(node, ast.AugAssign) or value is None:
        return ""
    if isinstance(value, ast.Call):
        called = _dotted_text(value.func)
        return f"{called}()" if called else ""
    if isinstance(value, ast.Constant) and not isinstance(value.value, bool) and value.value is not None:
        return type(value.value).__name__
    return LITERALS.get(type(value), "")


def annotation_type(node: ast.expr) -> str:
    """The class an annotation names: `Foo`, `m.Foo`, `Optional[Foo]`, `Foo | None`, `"Foo"`,
    `list[Foo]` (-> list); "" for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            return annotation_type(ast.parse(node.value, mode="eval").body)
        except (SyntaxError, ValueError, RecursionError):
            return ""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        sides = [s for s in (node.left, node.right) if not (isinstance(s, ast.Constant) and s.value is None)]
        return annotation_type(sides[0]) if len(sides) == 1 else ""
    if isinstance(node, ast.Subscript):
        head = _dotted_text(node.value)
        if head.rpartition(".")[2] in WRAPPERS and head.rpartition(".")[2] != "Type":
            inner = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) and node.slice.elts else node.slice
            return annotation_type(inner)
        return head.rpartition(".")[2].lower() if head.rpartition(".")[2] in ("List", "Dict", "Set", "Tuple") else head
    written = _dotted_text(node)
    return {"List": "list", "Dict": "dict", "Set": "set", "Tuple": "tuple"}.get(written, written)


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


def star_sources(body: list[ast.stmt]) -> list[tuple[int, str]]:
    """(level, module) of each `from module import *` at the top level (also under `if`/`try`)."""
    out = []
    for node in body:
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            out.append((node.level, node.module or ""))
        for block in ("body", "orelse", "finalbody"):
            if isinstance(node, (ast.If, ast.Try, ast.With)) and hasattr(node, block):
                out += star_sources(getattr(node, block))
    return out
