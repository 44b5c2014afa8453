"""What a call's next argument can name: the parameters of the function called.

At `json.dumps(obj, |` or `Parser(source, |` the popup raises what the callee takes by keyword
(`indent`, `sort_keys`; for a class, its `__init__`'s or a base's, or a dataclass's fields), but
not those the arguments before the cursor took by position or named. The callee is found as a
receiver is (`receivers.py`): a function or class the document defines (above the cursor, or
below it: `class_below.parameters_below`), `self.method`, `super().method`, what its imports
bind, a module's function or class (read by `modules.py`, nothing run), a method of a value whose
type the code shows (`parser.parse(` with `parser = Parser()`, `items.sort(` with `items = []`),
and the builtins (`inspect.signature` of the interpreter's own functions). A positional argument
is as likely next, so the parameters are raised without pushing anything else down, unless none
can come: after `key=1,`, or once the positions are taken (`json.dump(obj, f, |`: the rest of
its parameters are keyword-only), only names can follow.
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from heed.model.lookup.classes import SELF_NAMES, enclosing_class, header_parameters
from heed.model.lookup.imports import defining_module
from heed.model.lookup.module_source import FIELD_BASES, FIELD_DECORATORS, Module
from heed.model.lookup.modules import signature_parameters
from heed.model.lookup.receivers import Lookup, ReceiverNames, header_bases, named, receiver_of

LOOK_BACK = 400  # tokens searched for the call's open bracket


@dataclass(frozen=True)
class CallSpot:
    """An argument's start in a call: what is called, as written (`json.dumps` -> ["json",
    "dumps"]), and the keyword arguments the call has already."""

    callee: tuple[str, ...]
    given: frozenset[str]
    positional: int = 0  # arguments before the cursor given by position (they take the first parameters)


def call_spot(texts: Sequence[str]) -> CallSpot | None:
    """The call whose argument starts after `texts` (the context's token texts: the last one `(`
    or `,`), if the cursor is in one (not in a `def` or `class` header, a subscript, a literal)."""
    if not texts or texts[-1] not in ("(", ","):
        return None
    depth, starts = 0, []  # where each argument before the cursor starts
    j = len(texts) - 1
    stop = max(len(texts) - LOOK_BACK, 0)
    while j >= stop:
        t = texts[j]
        if t in (")", "]", "}"):
            depth += 1
        elif t in ("(", "[", "{"):
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and t == "," and j < len(texts) - 1:
            starts.append(j + 1)
        elif depth == 0 and t in ("\n", ";", "def", "class", "lambda"):
            return None
        j -= 1
    if j < stop or texts[j] != "(":
        return None
    if len(texts) - 1 > j:
        starts.append(j + 1)
    given = {texts[s] for s in starts if s + 1 < len(texts) and texts[s + 1] == "=" and texts[s].isidentifier()}
    starred = any(texts[s] in ("*", "**") for s in starts)  # `*args` takes the positions no one can count
    positional = 0 if starred else len(starts) - len(given)
    chain: list[str] = []
    k = j - 1
    while k >= 0 and texts[k].isidentifier() and not keyword.iskeyword(texts[k]):
        chain.insert(0, texts[k])
        if k >= 1 and texts[k - 1] == ".":
            k -= 2
        else:
            break
    else:
        if not (chain and k >= 2 and texts[k - 2 : k + 1] == ["super", "(", ")"]):
            return None  # `f()(`, `x[0].get(`, `"".join(`: not a callee heed reads
        chain.insert(0, "super()")
    if k >= 1 and texts[k - 1] in ("def", "class"):
        return None
    return CallSpot(tuple(chain), frozenset(given), positional)


def call_names(spot: CallSpot, look: Lookup) -> ReceiverNames | None:
    """The parameters the callee at `spot` takes by keyword that the call has not named, as the
    names after a dot are given (`receivers.py`); None where the callee is not found."""
    params = parameters(spot.callee, look) or []
    names = {p: "parameter" for p in nameable(params, spot.positional, spot.given)}
    if not names:
        return None
    given = np.array([i for i in map(look.id_of, spot.given) if i >= 0], np.int64)  # named twice: a SyntaxError
    return named(names, look.id_of, "call", open=not spot.given and takes_position(params, spot.positional), excluded=given)


def nameable(params: Sequence[str], positional: int, given: frozenset[str]) -> list[str]:
    """What a call can still name of `params` (as `module_source.keyword_parameters` writes them:
    `/positional_only`, `*keyword_only`) after `positional` arguments and those named in `given`."""
    out = []
    for p in params:
        if p == "...":
            continue
        if not p.startswith("*") and positional > 0:
            positional -= 1
        elif not p.startswith("/") and p.lstrip("*") not in given:
            out.append(p.lstrip("*"))
    return out


def takes_position(params: Sequence[str], positional: int) -> bool:
    """Whether a call that gave `positional` arguments by position can give another so."""
    return "..." in params or sum(not p.startswith("*") for p in params) > positional


def parameters(callee: Sequence[str], look: Lookup) -> list[str] | None:
    """The parameters of `callee` (`module_source.keyword_parameters`), if heed can read it."""
    name = callee[-1]
    if len(callee) == 2 and callee[0] in SELF_NAMES:  # a method above the cursor, or below it
        found = document_parameters(look.texts, name)
        return found if found is not None else look.parameters_below(name)
    if len(callee) == 2 and callee[0] == "super()":
        return base_parameters(look, name)
    if len(callee) > 1:  # `json.dumps(`, `self.parser.parse(`, `items.sort(`: a module's, or a value's method
        got = receiver_of(look, list(callee[:-1]))
        return look.index.parameters(got, name) if isinstance(got, Module) else got.parameters(name) if got else None
    found = document_parameters(look.texts, name)
    if found is not None:
        return found
    bound = look.binding_of(name)
    if bound is not None:  # `from m import f` then `f(`
        found = defining_module(look.index, [name], *bound, look.origin)
        return look.index.parameters(*found) if found is not None else None
    found = look.parameters_below(name)  # a function the document defines further down
    if found is not None:
        return found
    return signature_parameters(value) if callable(value := getattr(builtins, name, None)) else None


def base_parameters(look: Lookup, method: str) -> list[str] | None:
    """`super().method(`: the parameters of `method` in the first base of the class around the
    cursor that heed can read and that has it (a base the document defines: its `__init__` only)."""
    found = enclosing_class(look.tokens, look.ids)
    for base in header_bases(look.texts, found[0]) if found is not None else ():
        if "." not in base and method == "__init__" and (got := document_parameters(look.texts, base)) is not None:
            return got
        parts = base.split(".")
        bound = look.binding_of(parts[0])
        where = defining_module(look.index, parts, *bound, look.origin) if bound is not None else None
        if where is not None and (got := look.index.parameters(*where, method)) is not None:
            return got
    return None


def document_parameters(texts: Sequence[str], name: str) -> list[str] | None:
    """What the function `name` the document defines before the cursor (the last one of that
    name), or its class `name` (its `__init__`, or a dataclass's fields) takes by keyword."""
    for k in range(len(texts) - 2, 0, -1):
        if texts[k] == name and texts[k - 1] in ("def", "class") and texts[k + 1] in ("(", ":"):
            if texts[k - 1] == "def":
                return header_parameters(texts, k + 1)
            later = next((i for i in range(k + 1, len(texts)) if texts[i] == "class"), len(texts))
            init = next((i for i in range(k + 1, later - 2) if texts[i] == "__init__" and texts[i - 1] == "def"), None)
            if init is not None:
                return header_parameters(texts, init + 1)
            return _fields(texts, k, later) if _made_of_fields(texts, k - 1) else None
    return None


def _made_of_fields(texts: Sequence[str], k: int) -> bool:
    """Whether the class whose `class` keyword is at `k` takes its fields (`@dataclass` on the
    lines above it, `NamedTuple` or `BaseModel` among its bases)."""
    if any(b.rpartition(".")[2] in FIELD_BASES for b in header_bases(texts, k)):
        return True
    j = k - 1
    while j >= 0 and texts[j] in ("\n", ""):
        j -= 1
    end = j + 1
    while j >= 0 and texts[j] not in ("\n", ""):  # back to the start of the line above: a decorator's `@`
        j -= 1
    line = list(texts[j + 1 : end])
    dotted = line[1 : line.index("(") if "(" in line else len(line)]  # `@dataclasses.dataclass(frozen=True)`
    return bool(line) and line[0] == "@" and bool(dotted) and dotted[-1] in FIELD_DECORATORS


def _fields(texts: Sequence[str], k: int, end: int) -> list[str]:
    """The annotated names a class body (its `class` keyword at `k`) starts with, before its first method."""
    names = []
    for i in range(k + 2, end - 1):
        if texts[i] in ("def", "class"):
            break
        if texts[i].isidentifier() and texts[i + 1] == ":" and texts[i - 1] in ("\n", "") and texts[i] not in names:
            names.append(texts[i])
    return names
