"""Whether ghost text leaves its line valid Python: a suggestion that is not code is not shown.

The statement is the logical line from its first token to the cursor, the suggestion, and what
follows the cursor on its line. Python's own parser (`ast.parse`, which runs nothing) decides,
on that statement alone: a bracket opened on the cursor's line must close on it (even `foo(`,
the start of a call laid out one argument per line, is left for the user to type); brackets still
open from the lines above (such a call's arguments) are closed, a block header gets a body, a clause
(`else:`, `except ...:`) the statement it continues, a decorator a function, a future import
the top of its module (`from __future__` anywhere else is a SyntaxError the compiler raises,
which `ast.parse` does not; so is a keyword argument or a parameter named twice, and a literal
called is refused, which it warns can never work). Anything that statement alone cannot show (a name defined
elsewhere, `return` outside a function) is left to the rest of the file.
"""

from __future__ import annotations

import ast

from heed.model.text import lexer

OPEN = {"(": ")", "[": "]", "{": "}"}
CLAUSES = {"elif": "if 1:\n    pass\n", "else": "if 1:\n    pass\n", "except": "try:\n    pass\n",
           "finally": "try:\n    pass\n"}
# The statements a clause may follow, at its own indentation.
FOLLOWS = {"elif": {"if", "elif"}, "else": {"if", "elif", "for", "while", "try", "except"},
           "except": {"try", "except"}, "finally": {"try", "except", "else"}}


def leaves_valid_code(before: str, suggestion: str, after: str, document: str = "", start: int = 0) -> bool:
    """Whether `before` (the logical line up to the cursor) + `suggestion` + `after` (the rest of
    the cursor's line) is a statement Python accepts, or the start of one that goes on below.
    `document[:start]`: the text before the statement (a clause must follow its statement)."""
    statement = (before + suggestion + after).lstrip(" \t")
    toks = [t for t in lexer.lex(statement) if t.kind not in (lexer.NEWLINE, lexer.INDENT, lexer.DEDENT, lexer.ENDMARKER)]
    if not toks or any(t.kind == lexer.ERROR for t in toks):
        return not toks
    first = toks[0].text
    if first == "case" or first == "match" and len(toks) > 1 and toks[1].text not in ("=", ".", "(", "["):
        return True  # a match statement's case needs its subject: not judged here
    line_start = statement.rfind("\n", 0, max(len(statement) - len(suggestion + after), 0)) + 1  # the cursor's line
    opened: list[tuple[str, int]] = []  # (closer, offset) of each open bracket
    for t in toks:
        if t.kind != lexer.OP:
            continue
        if t.text in OPEN:
            opened.append((OPEN[t.text], t.offset))
        elif t.text in (")", "]", "}") and (not opened or opened.pop()[0] != t.text):
            return False  # closes what is not open
    if any(at >= line_start for _, at in opened):
        return False  # brackets balanced: one opened on the cursor's line closes on it
    closers = [closer for closer, _ in opened]
    # Closers on a line of their own: inside brackets a line break is allowed, and a comment
    # that ends the line would swallow them.
    if first in FOLLOWS and not clause_fits(document, start, first):
        return False
    if first == "from" and len(toks) > 1 and toks[1].text == "__future__" and (
            before[:1] in (" ", "\t") or not future_fits(document[:start])):
        return False  # a future import inside a block, or below other code
    source = CLAUSES.get(first, "") + statement + ("\n" + "".join(reversed(closers)) if closers else "")
    # As is, or a header with a body (a `try:` with its `finally`); a statement that goes on below
    # may still become a header there (`def f(\n    a,` ... `) -> int:`).
    tails = ["\ndef _():\n    pass\n"] if first == "@" else ["\n", "\n    pass\n", "\n    pass\nfinally:\n    pass\n"]
    if closers:
        tails.append(":\n    pass\n")
    for tail in tails:
        try:
            tree = ast.parse(source + tail)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        return not refused(tree)
    return False


# What the compiler warns can never work: calling a literal (`1(x)`, `"a"(b)`).
LITERALS = (ast.Constant, ast.JoinedStr, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp,
            ast.GeneratorExp)


def refused(tree: ast.AST) -> bool:
    """Whether the compiler refuses what `ast.parse` accepts, or warns it cannot work: a call that
    names a keyword argument twice (`f(sep=1, sep=2)`), a `def` that names a parameter twice
    (SyntaxErrors), a literal called (`1(x)`: a SyntaxWarning)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, LITERALS):
                return True
            names = [k.arg for k in node.keywords if k.arg is not None]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = node.args
            names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, (a.vararg, a.kwarg)))]
        else:
            continue
        if len(names) != len(set(names)):
            return True
    return False


FUTURE_HEAD_LINES = 200  # a future import below this many lines is taken as misplaced, unread


def future_fits(head: str) -> bool:
    """Whether a `from __future__ import` may follow `head` (the module's text before its line):
    Python compiles one only after nothing but the module's docstring, comments and other future
    imports (which always parse: a head that does not parse holds something else)."""
    if head.count("\n") > FUTURE_HEAD_LINES:
        return False
    try:
        body = ast.parse(head).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring
    return all(isinstance(node, ast.ImportFrom) and node.module == "__future__" for node in body)


def clause_fits(document: str, start: int, keyword: str) -> bool:
    """Whether a clause (`else`, `except` ...) starting at `start` continues a statement it may
    follow: the nearest line above at its indentation or less is at its indentation and starts
    one of FOLLOWS[keyword] (the lines between, deeper, are that statement's body). Lines are
    read upwards from the clause, one at a time, never the whole document."""
    cut = document.rfind("\n", 0, start)
    indent = document[cut + 1 : start]
    if indent.strip():
        return False  # a clause starts a line of its own
    width = len(indent.expandtabs(8))
    end = cut
    while end > 0:
        begin = document.rfind("\n", 0, end) + 1
        line, end = document[begin:end], begin - 1
        code = line.strip()
        if not code or code.startswith("#"):
            continue
        depth = len(line.expandtabs(8)) - len(line.expandtabs(8).lstrip())
        if depth > width:
            continue
        words = code.replace(":", " ").split()
        head = words[1] if words[0] == "async" and len(words) > 1 else words[0]
        return depth == width and head in FOLLOWS[keyword]
    return False
