"""The names of a chunk with their roles, read off Python's own parser (`ast`) instead of libcst.

The same list `role_parser._RoleVisitor` makes from a libcst tree, (name, role) for every name
leaf in source order, about ten times faster: libcst's parse and, above all, its visitor (which
rebuilds every node it passes) cost about a millisecond a chunk, and the look-ups need the roles
of every chunk of a document (a 5,000-line file: seconds). `ast` gives positions instead of
concrete syntax, so each name is placed by its (line, byte column) and the list is sorted.

Where the two could disagree, this gives up (None) and libcst answers: code `ast` does not parse
(another grammar, or what the compiler refuses but libcst reads), `match` statements and type
parameters (whose names `ast` keeps as strings without positions). tests/test_ast_names.py
checks both give the same roles on thousands of chunks of real code.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from heed.model.text.roles import ROLE_ID

_Key = tuple[int, int, int]  # (line, byte column, order among names placed at the same spot)

_NAME, _CALL, _METHOD, _ATTRIBUTE = ROLE_ID["name"], ROLE_ID["call"], ROLE_ID["method"], ROLE_ID["attribute"]
_PARAMETER, _KEYWORD_ARG, _IMPORT, _IMPORT_FROM = (ROLE_ID[r] for r in ("parameter", "keyword_arg", "import", "import_from"))
_DECORATOR, _DEF, _CLASS, _TARGET = (ROLE_ID[r] for r in ("decorator", "def_name", "class_name", "target"))
_ATTRIBUTE_TARGET, _SUBSCRIPT, _ANNOTATION = (ROLE_ID[r] for r in ("attribute_target", "subscript", "annotation"))
_SINGLETONS = {True: "True", False: "False", None: "None"}


class Unsupported(Exception):
    """A node whose names `ast` cannot place: libcst answers for the chunk."""


_UNSUPPORTED: tuple[type, ...] = (ast.Match,) + tuple(
    getattr(ast, n) for n in ("TypeAlias", "TypeVar", "ParamSpec", "TypeVarTuple") if hasattr(ast, n))


class _Names:
    def __init__(self) -> None:
        self.found: list[tuple[_Key, str, int]] = []
        self.marks: dict[int, int] = {}  # id(node) -> role; the first mark wins, as in libcst's visitor

    def mark(self, node: ast.AST | None, role: int) -> None:
        if node is not None:
            self.marks.setdefault(id(node), role)

    def mark_targets(self, node: ast.AST | None) -> None:
        if isinstance(node, ast.Name):
            self.mark(node, _TARGET)
        elif isinstance(node, ast.Attribute):
            self.mark(node, _ATTRIBUTE_TARGET)  # the attribute's name: Attribute nodes stand for it
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                self.mark_targets(element)
        elif isinstance(node, ast.Starred):
            self.mark_targets(node.value)

    def emit(self, key: _Key, text: str, role: int) -> None:
        self.found.append((key, text, role))

    def dotted(self, node: ast.AST, dotted: str, role: int, order: int = 0) -> None:
        line, col = node.lineno, node.col_offset  # type: ignore[attr-defined]
        for k, part in enumerate(dotted.split(".")):
            self.emit((line, col, order + k), part, role)

    def walk(self, node: ast.AST, ctx: int) -> None:
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            handler(self, node, ctx)
            return
        if isinstance(node, _UNSUPPORTED):
            raise Unsupported(type(node).__name__)
        for child in ast.iter_child_nodes(node):
            self.walk(child, ctx)

    def walk_all(self, nodes: list, ctx: int) -> None:
        for n in nodes:
            if n is not None:
                self.walk(n, ctx)


def _name(v: _Names, node: ast.Name, ctx: int) -> None:
    v.emit((node.lineno, node.col_offset, 0), node.id, v.marks.get(id(node), ctx))


def _constant(v: _Names, node: ast.Constant, ctx: int) -> None:
    # True, False and None are Name leaves in libcst; the lexer keeps them as keywords that only
    # hold their place when names are aligned, so any role will do.
    if isinstance(node.value, (bool, type(None))):
        v.emit((node.lineno, node.col_offset, 0), _SINGLETONS[node.value], v.marks.get(id(node), ctx))


def _attribute(v: _Names, node: ast.Attribute, ctx: int) -> None:
    v.walk(node.value, ctx)
    # The attribute's name is the last token of the node: its start is the end less its length.
    v.emit((node.end_lineno or node.lineno, (node.end_col_offset or 0) - len(node.attr.encode()), 0), node.attr,
           v.marks.get(id(node), _ATTRIBUTE))


def _call(v: _Names, node: ast.Call, ctx: int) -> None:
    if isinstance(node.func, (ast.Name, ast.Attribute)):
        v.mark(node.func, _CALL if isinstance(node.func, ast.Name) else _METHOD)
    v.walk(node.func, ctx)
    v.walk_all(node.args, ctx)
    v.walk_all(node.keywords, ctx)


def _keyword(v: _Names, node: ast.keyword, ctx: int) -> None:
    if node.arg is not None:
        v.emit((node.lineno, node.col_offset, 0), node.arg, _KEYWORD_ARG)
    v.walk(node.value, ctx)


def _arg(v: _Names, node: ast.arg, ctx: int) -> None:
    v.emit((node.lineno, node.col_offset, 0), node.arg, _PARAMETER)
    if node.annotation is not None:
        v.walk(node.annotation, _ANNOTATION)


def _function(v: _Names, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: int) -> None:
    if getattr(node, "type_params", None):
        raise Unsupported("type parameters")
    v.walk_all(node.decorator_list, _DECORATOR)
    v.emit((node.lineno, node.col_offset, 1), node.name, _DEF)  # after `def`, before the parameters
    v.walk(node.args, ctx)
    if node.returns is not None:
        v.walk(node.returns, _ANNOTATION)
    v.walk_all(node.body, ctx)


def _class(v: _Names, node: ast.ClassDef, ctx: int) -> None:
    if getattr(node, "type_params", None):
        raise Unsupported("type parameters")
    v.walk_all(node.decorator_list, _DECORATOR)
    v.emit((node.lineno, node.col_offset, 1), node.name, _CLASS)
    v.walk_all(node.bases, ctx)
    v.walk_all(node.keywords, ctx)
    v.walk_all(node.body, ctx)


def _targets(field: str) -> Callable[[_Names, ast.AST, int], None]:
    def handle(v: _Names, node: ast.AST, ctx: int) -> None:
        value = getattr(node, field)
        for target in value if isinstance(value, list) else [value]:
            v.mark_targets(target)
        for child in ast.iter_child_nodes(node):
            v.walk(child, ctx)
    return handle


def _ann_assign(v: _Names, node: ast.AnnAssign, ctx: int) -> None:
    v.mark_targets(node.target)
    v.walk(node.target, ctx)
    v.walk(node.annotation, _ANNOTATION)
    if node.value is not None:
        v.walk(node.value, ctx)


def _with_item(v: _Names, node: ast.withitem, ctx: int) -> None:
    v.mark_targets(node.optional_vars)
    v.walk(node.context_expr, ctx)
    if node.optional_vars is not None:
        v.walk(node.optional_vars, ctx)


def _except(v: _Names, node: ast.ExceptHandler, ctx: int) -> None:
    if node.type is not None:
        v.walk(node.type, ctx)
        if node.name is not None:  # `as NAME`, right after the type
            v.emit((node.type.end_lineno or 0, node.type.end_col_offset or 0, 1), node.name, _TARGET)
    v.walk_all(node.body, ctx)


def _subscript(v: _Names, node: ast.Subscript, ctx: int) -> None:
    # libcst marks each subscript element that is a bare name (or a starred one); `x[a, b]` has
    # two elements, and `x[(a, b)]` one, a tuple (ast's parenthesized tuple starts at the `(`).
    elements = [node.slice]
    if isinstance(node.slice, ast.Tuple) and not _parenthesized(node.slice):
        elements = node.slice.elts
    for element in elements:
        inner = element.value if isinstance(element, ast.Starred) else element
        if isinstance(inner, ast.Name) or (isinstance(inner, ast.Constant) and isinstance(inner.value, (bool, type(None)))):
            v.mark(inner, _SUBSCRIPT)  # (True, False and None are names in libcst)
    v.walk(node.value, ctx)
    v.walk(node.slice, ctx)


def _parenthesized(node: ast.Tuple) -> bool:
    first = node.elts[0] if node.elts else None
    return first is None or (first.lineno, first.col_offset) != (node.lineno, node.col_offset)


def _import(v: _Names, node: ast.Import, ctx: int) -> None:
    for alias in node.names:
        _alias(v, alias)


def _import_from(v: _Names, node: ast.ImportFrom, ctx: int) -> None:
    if node.module:
        v.dotted(node, node.module, _IMPORT_FROM, order=1)  # after `from` (and any dots)
    for alias in node.names:
        _alias(v, alias)


def _alias(v: _Names, alias: ast.alias) -> None:
    if alias.name == "*":
        return
    v.dotted(alias, alias.name, _IMPORT)
    if alias.asname:
        v.emit((alias.end_lineno or alias.lineno, (alias.end_col_offset or 0) - len(alias.asname.encode()), 0), alias.asname, _IMPORT)


def _global(v: _Names, node: ast.Global | ast.Nonlocal, ctx: int) -> None:
    for k, name in enumerate(node.names):
        v.emit((node.lineno, node.col_offset, 1 + k), name, ctx)


def _skip(v: _Names, node: ast.AST, ctx: int) -> None:
    """An f-string: the lexer keeps it as one token, so its names are not aligned."""


_HANDLERS: dict[type, Callable] = {
    ast.Name: _name,
    ast.Constant: _constant,
    ast.Attribute: _attribute,
    ast.Call: _call,
    ast.keyword: _keyword,
    ast.arg: _arg,
    ast.FunctionDef: _function,
    ast.AsyncFunctionDef: _function,
    ast.ClassDef: _class,
    ast.Assign: _targets("targets"),
    ast.AugAssign: _targets("target"),
    ast.AnnAssign: _ann_assign,
    ast.For: _targets("target"),
    ast.AsyncFor: _targets("target"),
    ast.comprehension: _targets("target"),
    ast.NamedExpr: _targets("target"),
    ast.withitem: _with_item,
    ast.ExceptHandler: _except,
    ast.Subscript: _subscript,
    ast.Import: _import,
    ast.ImportFrom: _import_from,
    ast.Global: _global,
    ast.Nonlocal: _global,
    ast.JoinedStr: _skip,
}


def ast_names(source: str) -> list[tuple[str, int]] | None:
    """(name, role id) for each name of `source` in source order, as `role_parser` lists them
    from libcst; None where `ast` does not parse it or cannot place its names."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None
    v = _Names()
    try:
        v.walk_all(tree.body, _NAME)
    except (Unsupported, RecursionError):
        return None
    v.found.sort(key=lambda f: f[0])
    return [(text, role) for _, text, role in v.found]
