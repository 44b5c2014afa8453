"""Syntactic roles of names, read off a parse of one chunk at a time.

A role says what a name does where it stands: `x.NAME` is an attribute, `NAME(...)` a call,
`def f(NAME)` a parameter. The look-ups (scope, receivers, class members) read these roles; the
model reads the causal ones (`causal_roles.py`).

How: libcst parses the chunk's text, a visitor walks the tree and lists its `Name` leaves in
source order with a role each (a parent marks its children: `Call` marks its `func`, `Param` its
`name`; contexts such as annotations and decorators colour what lies under them). That list is
aligned with the lexer's name tokens by text. Python's own parser makes the same list six times
faster (`ast_names.py`) and is tried first; libcst answers where it finds no parse.

Incomplete code is the normal case (the text before a cursor), so a chunk that does not parse is
repaired before giving up: close an open string, put a placeholder where an operand is missing,
close open brackets, add the `:` a block header lacks and a `pass` body after a trailing `:`;
failing that, the last logical line is dropped and the rest tried again. Names that no parse
reaches get the role `unknown`. See docs/ARCHITECTURE.md ("Incomplete code").
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from heed.model.text.ast_names import ast_names
from heed.model.text.lexer import (
    DEDENT,
    ENDMARKER,
    INDENT,
    KEYWORD,
    NAME,
    NAME_LIKE_KEYWORDS,
    NEWLINE,
    OP,
    STRING,
    Tok,
)
from heed.model.text.roles import ROLE_ID, SYNTAX, UNKNOWN

_PLACEHOLDER = "__heed__"
_NEEDS_OPERAND_OPS = frozenset(
    [".", "=", "+", "-", "*", "/", "%", "**", "//", "@", "<", ">", "==", "!=", "<=", ">=", "&", "|", "^", "~", "<<", ">>", "->", ":=", "+=", "-=", "*=", "/=", "%=", "**=", "//=", "@=", "&=", "|=", "^=", "<<=", ">>=", ","]
)
_NEEDS_OPERAND_KEYWORDS = frozenset(
    ["and", "or", "not", "in", "is", "if", "elif", "while", "import", "from", "as", "lambda", "await", "del", "assert", "with", "for", "return", "yield", "raise", "else"]
)
_BLOCK_KEYWORDS = frozenset(["def", "class", "if", "elif", "else", "for", "while", "with", "try", "except", "finally", "async"])
_CLOSER = {"(": ")", "[": "]", "{": "}"}


class _RoleVisitor(cst.CSTVisitor):
    """Lists (name, role) for every Name leaf in source order."""

    def __init__(self) -> None:
        self.names: list[tuple[str, int]] = []
        self.marks: dict[int, str] = {}
        self.context: list[str] = []
        self.skip = 0  # inside an f-string, which the lexer keeps as one token

    def _mark(self, node: cst.CSTNode | None, role: str) -> None:
        if node is not None and id(node) not in self.marks:
            self.marks[id(node)] = role

    def _mark_targets(self, node: cst.CSTNode | None) -> None:
        if isinstance(node, cst.Name):
            self._mark(node, "target")
        elif isinstance(node, cst.Attribute):
            self._mark(node.attr, "attribute_target")
        elif isinstance(node, (cst.Tuple, cst.List)):
            for element in node.elements:
                self._mark_targets(element.value)
        elif isinstance(node, cst.StarredElement):
            self._mark_targets(node.value)

    def visit_Name(self, node: cst.Name) -> None:
        if not self.skip:
            role = self.marks.get(id(node)) or (self.context[-1] if self.context else "name")
            self.names.append((node.value, ROLE_ID[role]))

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        self.skip += 1

    def leave_FormattedString(self, original_node: cst.FormattedString) -> None:
        self.skip -= 1

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._mark(node.name, "def_name")

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._mark(node.name, "class_name")

    def visit_Param(self, node: cst.Param) -> None:
        self._mark(node.name, "parameter")

    def visit_Arg(self, node: cst.Arg) -> None:
        self._mark(node.keyword, "keyword_arg")

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name):
            self._mark(node.func, "call")
        elif isinstance(node.func, cst.Attribute):
            self._mark(node.func.attr, "method")

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._mark(node.attr, "attribute")

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._mark_targets(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._mark_targets(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._mark_targets(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._mark_targets(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._mark_targets(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._mark_targets(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        if not self.context or self.context[-1] != "import":
            self._mark_targets(node.name)

    def visit_SubscriptElement(self, node: cst.SubscriptElement) -> None:
        if isinstance(node.slice, cst.Index):
            self._mark(node.slice.value if isinstance(node.slice.value, cst.Name) else None, "subscript")

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module: cst.BaseExpression | None = node.module
        while isinstance(module, cst.Attribute):
            self._mark(module.attr, "import_from")
            module = module.value
        self._mark(module, "import_from")
        self.context.append("import")

    def leave_ImportFrom(self, original_node: cst.ImportFrom) -> None:
        self.context.pop()

    def visit_Import(self, node: cst.Import) -> None:
        self.context.append("import")

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        name: cst.BaseExpression = node.name
        while isinstance(name, cst.Attribute):
            self._mark(name.attr, "import")
            name = name.value
        self._mark(name, "import")

    def leave_Import(self, original_node: cst.Import) -> None:
        self.context.pop()

    def visit_Decorator(self, node: cst.Decorator) -> None:
        self.context.append("decorator")

    def leave_Decorator(self, original_node: cst.Decorator) -> None:
        self.context.pop()

    def visit_Annotation(self, node: cst.Annotation) -> None:
        self.context.append("annotation")

    def leave_Annotation(self, original_node: cst.Annotation) -> None:
        self.context.pop()


def _significant(tokens: list[Tok]) -> list[Tok]:
    return [t for t in tokens if t.kind not in (NEWLINE, INDENT, DEDENT, ENDMARKER)]


def _logical_lines(tokens: list[Tok]) -> list[list[Tok]]:
    lines: list[list[Tok]] = [[]]
    for tok in tokens:
        lines[-1].append(tok)
        if tok.kind == NEWLINE:
            lines.append([])
    return [line for line in lines if _significant(line)]


def _indent_of(line: list[Tok]) -> str:
    """The indentation of the first significant token of `line` (tokens from a line start).

    The lexer gives a line's leading whitespace to its INDENT/DEDENT token when it has one, so
    the text before the first significant token is gathered, then cut after its last line break.
    """
    before = []
    for tok in line:
        before.append(tok.ws)
        if tok.kind not in (INDENT, DEDENT):
            break
        before.append(tok.text)
    text = "".join(before)
    cut = max(text.rfind("\n"), text.rfind("\r"))
    return text[cut + 1 :]


def _header(tokens: list[Tok]) -> str:
    """Lines put before a chunk so that it parses as a module on its own."""
    first = _significant(tokens)[0]
    indent = _indent_of(tokens)
    if first.kind == NAME and first.text == "case":
        return "match 0:\n"
    header = "if 1:\n" if indent else ""
    if first.kind == KEYWORD and first.text in ("else", "elif"):
        header += f"{indent}if 1:\n{indent} pass\n"
    elif first.kind == KEYWORD and first.text in ("except", "finally"):
        header += f"{indent}try:\n{indent} pass\n"
    return header


def _footer(tokens: list[Tok]) -> str:
    """Lines put after a chunk: a `try:` whose clauses are chunks of their own needs one."""
    first = _significant(tokens)[0]
    if first.kind == KEYWORD and first.text == "try":
        indent = _indent_of(tokens)
        return f"\n{indent}finally:\n{indent} pass\n"
    return ""


def _repair(line: list[Tok]) -> str:
    """Text that completes the (last) logical line `line` of a chunk, as far as it can be guessed."""
    significant = _significant(line)
    if not significant:
        return ""
    last = significant[-1]
    fix = ""
    if last.kind == STRING and last.unterminated:
        body = last.text.lstrip("rRbBuUfF")
        quote = body[:3] if body[:3] in ("'''", '"""') else body[:1]
        fix += ("\\" if last.text.endswith("\\") and not last.text.endswith("\\\\") else "") + quote
    elif (last.kind == OP and last.text in _NEEDS_OPERAND_OPS and last.text != ",") or (
        last.kind == KEYWORD and last.text in _NEEDS_OPERAND_KEYWORDS
    ):
        fix += " " + _PLACEHOLDER
    stack = []
    for tok in significant:
        if tok.kind == OP and tok.text in _CLOSER:
            stack.append(_CLOSER[tok.text])
        elif tok.kind == OP and tok.text in ")]}" and stack and stack[-1] == tok.text:
            stack.pop()
    fix += "".join(reversed(stack))
    first = significant[0]
    is_block = (first.kind == KEYWORD and first.text in _BLOCK_KEYWORDS) or (
        first.kind == NAME and first.text in ("match", "case") and len(significant) > 1
    )
    if is_block and not (last.kind == OP and last.text == ":" and not stack):
        fix += ":"
    if is_block or (last.kind == OP and last.text == ":" and not stack):
        body = "case _:\n" + _indent_of(line) + "        pass" if first.text == "match" else "pass"
        fix += "\n" + _indent_of(line) + "    " + body
    return fix + "\n"


# libcst's native parser recurses once per nesting level and per operator of a chain
# (`- - - x`, `a[0][0]...`, `lambda: lambda: ...`) and crashes the whole process with a
# segmentation fault somewhere below 10,000 of them; it also takes time growing with the square
# of a chain's length (5,000 `[0]` in a row: 47 s). Real code is far from both (the standard
# library: nesting under 300 and no chunk over 16,000 tokens, but for one 2,200-string literal
# in pydoc_data/topics.py); an editor's buffer need not be, so chunks past these limits are not
# parsed: their names keep the role `unknown`.
MAX_PARSE_TOKENS = 30_000  # linear: about 0.5 s of libcst
MAX_PARSE_NESTING = 1_000  # tokens along the deepest path of nested runs; a crash is ~10x further
MAX_PARSE_COST = 10_000_000  # sum of squared run lengths: about 2.5 s in the worst shape measured


def _too_hard_to_parse(tokens: list[Tok]) -> bool:
    """Whether libcst could crash or take seconds on this chunk (see the limits above).

    A *run* is what one bracket or block level holds between commas, semicolons and line ends:
    one expression, where libcst nests once per operator. Nesting is the sum of the runs along the
    open brackets and indents; the cost, the sum of each finished run's length squared.
    """
    if len(tokens) > MAX_PARSE_TOKENS:
        return True
    runs, nesting, cost = [0], 0, 0
    for tok in tokens:
        if (tok.kind == OP and tok.text in "([{") or tok.kind == INDENT:
            runs[-1] += 1
            runs.append(0)
            nesting += 1
        elif ((tok.kind == OP and tok.text in ")]}") or tok.kind == DEDENT) and len(runs) > 1:
            done = runs.pop()
            cost += done * done
            nesting -= done - 1
            runs[-1] += 1
        elif (tok.kind == OP and tok.text in (",", ";")) or tok.kind == NEWLINE:
            cost += runs[-1] * runs[-1]
            nesting -= runs[-1]
            runs[-1] = 0
        else:
            runs[-1] += 1
            nesting += 1
        if nesting > MAX_PARSE_NESTING:
            return True
    return cost + sum(r * r for r in runs) > MAX_PARSE_COST


def _libcst_names(source: str) -> list[tuple[str, int]] | None:
    try:
        module = cst.parse_module(source)
    except (cst.ParserSyntaxError, cst.CSTValidationError, cst.CSTLogicError, RecursionError, ValueError, MemoryError):
        return None  # (CSTLogicError: libcst's own "Logic error!" on some unterminated strings)
    visitor = _RoleVisitor()
    try:
        module.visit(visitor)
    except RecursionError:
        return None
    return visitor.names


def _source(tokens: list[Tok]) -> str:
    return "".join(t.ws + t.text for t in tokens)


def chunk_roles(tokens: list[Tok]) -> list[int]:
    """One role id per token of a chunk (see `model.lexer.chunks`)."""
    roles = [SYNTAX] * len(tokens)
    name_slots = [i for i, t in enumerate(tokens) if t.kind == NAME or t.text in NAME_LIKE_KEYWORDS]
    for i in name_slots:
        if tokens[i].kind == NAME:
            roles[i] = UNKNOWN
    if not name_slots or _too_hard_to_parse(tokens):
        return roles
    # Python's own parser first (`ast_names.py`: ten times faster); libcst where it finds no
    # parse or cannot place the names.
    names = _names(tokens, ast_names)
    if names is None:
        names = _names(tokens, _libcst_names)
    if names is None:
        return roles
    _align(tokens, name_slots, names, roles)
    return roles


def _names(tokens: list[Tok], parse: Callable[[str], list[tuple[str, int]] | None]) -> list[tuple[str, int]] | None:
    """The names of the chunk with their roles, from the first of its repairs that `parse` reads."""
    names = None
    body = tokens
    header = _header(tokens)
    for _attempt in range(3):
        if not _significant(body):
            break
        source = header + _source(body)
        footer = _footer(body)
        names = parse(source + footer)
        if names is None:
            lines = _logical_lines(body)
            names = parse(source.rstrip(" \t\f") + _repair(lines[-1]) + footer.lstrip("\n"))
        if names is not None:
            break
        # Drop the last logical line and try the rest.
        lines = _logical_lines(body)
        if len(lines) < 2:
            break
        body = body[: next(i for i, t in enumerate(body) if t is lines[-1][0])]
    return names


def _align(tokens: list[Tok], slots: list[int], names: list[tuple[str, int]], roles: list[int]) -> None:
    """Give each name token the role of the libcst Name with the same text, in order.

    The lexer sees soft keywords (`match`, `case`, `type`, `_`) as names where libcst does not,
    so a lexer name with no partner is skipped (a short look-ahead), not a reason to stop.
    """
    k = 0
    for text, role in names:
        for look in range(k, min(k + 4, len(slots))):
            if tokens[slots[look]].text == text:
                if tokens[slots[look]].kind == NAME:
                    roles[slots[look]] = role
                k = look + 1
                break
        else:
            if text != _PLACEHOLDER:
                return
