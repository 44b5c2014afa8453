"""What the code says the receiver before a dot is, and so which names can follow it.

The network ranks attribute names by what usually follows; this module looks the receiver up.
Its first name's last binding before the dot, read off the libcst roles, says what it is:
- an import (`cst.`, `os.path.`): a module, whose names `modules.py` reads;
- a parameter or an assignment whose type shows (`node: cst.Name`, `parser = Parser(...)`,
  `parser = make()` with `def make() -> Parser`, `x = []`, `for parser in parsers:` with
  `parsers: List[Parser]`): an instance, with its class's names,
  its bases' included (`value_of`);
- a class the document defines (`Color.`): that class's names;
- `self` or `cls`: the bases of the class around define names too (its own members are
  `classes.class_members`).
A chain (`self.engine.wheel.`, `make().gearbox().`) is followed attribute by attribute through
the types the code shows for them (`Value.attribute`: `self.engine = Engine()`, `wheel: Wheel`,
a method's return annotation once called). A class defined earlier in the document is read off
its tokens; an imported one from its module; a builtin one (`str`, `dict`) from the
interpreter. Everything else: no answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from heed.model.lookup.annotations import annotation_at, iterated_annotation, return_annotation
from heed.model.lookup.bindings import (
    ATTRIBUTE_TARGET,
    CLASS_NAME,
    DEF_NAME,
    IMPORT,
    PARAMETER,
    TARGET,
    isinstance_type,
    last_binding,
)
from heed.model.lookup.classes import (
    SELF_NAMES,
    ClassTokens,
    body_members,
    class_body,
    enclosing_class,
    header_parameters,
)
from heed.model.lookup.imports import defining_module, dotted_name, receiver_chain, resolve_chain
from heed.model.lookup.module_source import Module
from heed.model.lookup.modules import (
    CLASS_DEPTH,
    ModuleIndex,
    base_stand_in,
    builtin_names,
    builtin_parameters,
)

T = TypeVar("T")


def _no_parameters(method: str) -> list[str] | None:
    return None


@dataclass
class ReceiverNames:
    """What code outside the context's tokens says can follow its final dot (`receiver_names`)."""

    module: np.ndarray | None = None  # identities of the names of the module (or the class) the receiver is ...
    unseen: int = 0  # ... and how many more it has with no identity here (`heed eval`)
    why: str = "module"  # "module": the receiver is a module; "type": an instance or a class
    inherited: np.ndarray | None = None  # after `self.`: identities of what the class's bases define ...
    below: np.ndarray | None = None  # ... and of what the class defines below the cursor (`class_below.py`)
    kinds: dict[str, str] = field(default_factory=dict)  # what each name found elsewhere is, for the popup
    source: Module | None = None  # the module the receiver is (for its names' kinds, followed on demand)
    open: bool = False  # it may have names not listed (a module's `__getattr__`, a base heed cannot read): others keep their chance
    excluded: np.ndarray | None = None  # identities that cannot follow (what an import statement already lists) ...
    lowered: np.ndarray | None = None  # ... and that seldom do (`import |`: what the document imports already)


@dataclass
class Lookup:
    """One context (its last token a `.`), and how to look up what it names."""

    tokens: ClassTokens  # the vocabulary's ids of `class`, INDENT, ... (the class structure)
    ids: np.ndarray
    roles: np.ndarray
    ext: np.ndarray
    texts: Sequence[str]  # each token's text
    index: ModuleIndex
    origin: Path | None  # the document's file, for its relative imports
    binding_of: Callable[[str], tuple[int, str] | None]  # (level, dotted) of the import binding a name
    id_of: Callable[[str], int]  # a name's identity here (-1: none)
    below: Callable[[], dict[str, str]] = dict  # what the class around the cursor defines below it (`class_below.py`) ...
    parameters_below: Callable[[str], list[str] | None] = _no_parameters  # ... and a `def`'s parameters there


def receiver_names(look: Lookup) -> ReceiverNames | None:
    """The names the receiver before the context's final `.` has, as far as the code says."""
    chain = receiver_chain(look.texts[max(len(look.texts) - 200, 0) :])
    if not chain:
        return None
    if chain == ["super()"]:  # what the bases of the class around define (their dunders, from builtins, do not all show)
        bases = inherited(look, below=False)
        return ReceiverNames(module=bases.inherited, why="type", kinds=bases.kinds, open=True) if bases is not None else None
    if chain in (["self"], ["cls"]):
        return inherited(look)
    got = receiver_of(look, chain)
    if isinstance(got, Module):  # `np.`, `torch.`: its `__getattr__` adds names, its statements bind the rest
        return named(got.offered(), look.id_of, "module", source=got, open=got.dynamic)
    return named(got.names, look.id_of, "type", got.ids, open=got.open) if got is not None else None


def receiver_of(look: Lookup, chain: list[str]) -> Value | Module | None:
    """What the dotted `chain` (`["self", "parser"]`, `["make()"]`, `["os", "path"]`) before the
    cursor names, as far as the code says: a module, or a value (an instance, a class)."""
    if chain[0].endswith("()"):  # `make().`: what the function or class it names gives
        first = chain[0][:-2]
        at = last_binding(look, first)
        value = value_of(look, chain[0], None) if at is None or int(look.roles[at]) in (IMPORT, DEF_NAME, CLASS_NAME) else None
        return follow(value, chain[1:])
    if chain[0] in SELF_NAMES:
        found = enclosing_class(look.tokens, look.ids)
        return follow(document_value(look, found[0], 0) if found is not None else None, chain[1:])
    at = last_binding(look, chain[0])
    narrowed = isinstance_type(look, chain[0], at if at is not None else -1)
    if narrowed is not None:  # `if isinstance(node, cst.Name):` ... `node.`
        value = follow(value_of(look, *narrowed), chain[1:])
        if value is not None:
            return value
    role = int(look.roles[at]) if at is not None else IMPORT  # none in the context: maybe an import before it
    if role == IMPORT:
        bound = look.binding_of(chain[0])
        call = next((k for k, c in enumerate(chain) if c.endswith("()")), len(chain))
        module = resolve_chain(look.index, chain[:call], *bound, look.origin) if bound is not None else None
        if module is not None and call < len(chain):  # `csv.Sniffer().`: what a class or function of the module gives
            return follow(module_value(look.index, module, chain[call]), chain[call + 1 :])
        if module is not None:
            return module
        if bound is None or len(chain) == 1:
            return None
        # `from m import Class` then `Class.attr.`: not a module; read on as a value below
    if role == CLASS_NAME and at is not None:
        value = document_value(look, at - 1, 0)
    elif role == IMPORT:
        value = value_of(look, chain[0], at)
    else:
        type_at = type_of(look, at) if at is not None else None
        value = value_of(look, type_at, at) if type_at else None
    return follow(value, chain[1:])


def named(names: dict[str, str], id_of: Callable[[str], int], why: str, extra: np.ndarray | None = None,
          **more: Any) -> ReceiverNames:
    """`names` (name -> kind) as what can come: their identities here (and `extra` ones), and how
    many have none (`heed eval`); `more`: the other fields of ReceiverNames."""
    ids = np.array([id_of(n) for n in names if n.isidentifier()], np.int64)
    known = np.unique(np.concatenate([ids[ids >= 0], extra if extra is not None else np.zeros(0, np.int64)]))
    return ReceiverNames(module=known, unseen=int((ids < 0).sum()), why=why, kinds=names, **more)


def type_of(look: Lookup, at: int) -> str | None:
    """The type a parameter or assignment target at `at` holds, as written: `x: T`,
    `x: Optional[T]`, `x: T | None`, `x: "T"` -> "T"; `x = T(...)` -> "T()" (an instance of a
    class, or what a function returns: `value_of` decides); `x = []`, `{}`, `""` -> a builtin's
    name; `x = param` -> the parameter's annotation; `self.x = ...` alike; `for x in xs:` -> what
    `element_type` finds. None if it does not show."""
    texts = look.texts
    if at > 0 and texts[at - 1] == "for" and at + 1 < len(texts) and texts[at + 1] == "in" and look.roles[at] == TARGET:
        return element_type(look, at + 2)
    # `a, b = ...`, `for a, b in`, `as x`: not what the value is; `*args: T`: a tuple of T. A parameter
    # after a comma (`def f(self, node: Node)`) is annotated as any other.
    before = texts[at - 1] if at > 0 else ""
    if at + 2 >= len(texts) or before in ("*", "**") or before in ("as", ",", "for") and look.roles[at] != PARAMETER:
        return None
    if texts[at + 1] == ":" and look.roles[at] in (PARAMETER, TARGET, ATTRIBUTE_TARGET):
        found = annotation_at(texts, at + 2)
        return {"List": "list", "Dict": "dict", "Set": "set", "Tuple": "tuple"}.get(found, found) or None
    if texts[at + 1] == "=" and look.roles[at] in (TARGET, ATTRIBUTE_TARGET):
        first = texts[at + 2]
        if first in LITERAL_STARTS:
            return LITERAL_STARTS[first]
        if first.lstrip("rRbBuUfF")[:1] in ("'", '"'):
            return "bytes" if "b" in first.split(first.lstrip("rRbBuUfF")[:1])[0].lower() else "str"
        found, k = dotted_name(texts, at + 2)
        if found and k < len(texts) and texts[k] == "(":
            return f"{found}()"
        if found.isidentifier() and (k >= len(texts) or texts[k] in ("\n", ";")):  # `self.md = md`: what the parameter holds
            where = last_binding(look, found, at)
            return type_of(look, where) if where is not None and look.roles[where] == PARAMETER else None
    return None


def element_type(look: Lookup, j: int) -> str | None:
    """What `for x in <iterable>:` gives, the iterable's tokens from `j`: an element of a name or
    an attribute of `self` annotated as a container of T (`xs: List[T]`, `self.nodes: list[T]`,
    `Iterator[T]`, a dict's keys) -> T. None where the code does not show it."""
    texts = look.texts
    chain, k = dotted_name(texts, j)
    parts = chain.split(".")
    if not chain or k >= len(texts) or texts[k] != ":" or len(parts) > 2 or len(parts) == 2 and parts[0] not in SELF_NAMES:
        return None
    if len(parts) == 1:
        where = last_binding(look, parts[0], j)
        annotated = [where] if where is not None and look.roles[where] in (PARAMETER, TARGET) else []
    else:
        found = enclosing_class(look.tokens, look.ids[:j])
        annotated = attribute_bindings(look, found[0], parts[1]) if found is not None else []
    for i in reversed(annotated):
        if i + 2 < len(texts) and texts[i + 1] == ":" and (found_type := iterated_annotation(texts, i + 2)):
            return found_type
    return None


LITERAL_STARTS = {"[": "list", "{": "dict"}


def _document_class(look: Lookup, name_at: int, depth: int) -> tuple[dict[str, str], np.ndarray, bool] | None:
    """A class the document defines (its name at `name_at`): its body's names and its bases', and
    whether it has a base heed cannot read (`Value.open`)."""
    k = name_at - 1
    if k < 0 or look.ids[k] != look.tokens.class_id:
        return None
    body = class_body(look.tokens, look.ids, k)
    names: dict[str, str] = {}
    parts = [body_members(look.tokens, look.ids, look.roles, look.ext, *body)] if body is not None else []
    is_open = False
    if depth < CLASS_DEPTH:
        for base in header_bases(look.texts, k):
            stand_in = base_stand_in(base)
            got = value_of(look, base, k, depth + 1) if stand_in is None else None
            if got is not None:
                names = {**got.names, **names}
                parts.append(got.ids)
            else:
                names = {**(stand_in or {}), **names}
            is_open |= got.open if got is not None else stand_in is None
    return names, np.unique(np.concatenate([np.zeros(0, np.int64), *parts])), is_open


def inherited(look: Lookup, below: bool = True) -> ReceiverNames | None:
    """After `self.`: what the bases of the class around define, and (`below`) what it defines
    itself below the cursor. None: neither is there to read."""
    found = enclosing_class(look.tokens, look.ids)
    if found is None:
        return None
    names: dict[str, str] = {}
    parts: list[np.ndarray] = []
    for base in header_bases(look.texts, found[0]):
        got = value_of(look, base, found[0])
        if got is not None:
            names = {**got.names, **names}
            parts.append(got.ids)
    later = look.below() if below else {}
    if not names and not parts and not later:
        return None
    ids = np.array([look.id_of(n) for n in sorted(names)], np.int64)
    own = np.array([look.id_of(n) for n in later], np.int64)
    return ReceiverNames(inherited=np.unique(np.concatenate([ids[ids >= 0], *parts])), kinds={**names, **later},
                         below=np.unique(own[own >= 0]))


def header_bases(texts: Sequence[str], k: int) -> list[str]:
    """The bases written in the `class` header at `k` (`class A(b.C, D, metaclass=M):` -> b.C, D)."""
    if k + 2 >= len(texts) or texts[k + 2] != "(":
        return []
    out: list[list[str]] = []
    arg: list[str] = []
    depth = 1
    for t in texts[k + 3 : k + 200]:
        if t in ("(", "[", "{"):
            depth += 1
        elif t in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and t == ",":
            out.append(arg)
            arg = []
        elif depth >= 1:
            arg.append(t)
    out.append(arg)
    bases = []
    for a in out:
        if len(a) > 1 and a[1] == "=":
            continue  # metaclass=...
        dotted, _ = dotted_name(a, 0)
        if dotted:
            bases.append(dotted)
    return bases


@dataclass
class Value:
    """What a receiver holds, as far as the code shows: the names it has (with kinds), identities
    read off a class body the document has, what one of its attributes holds (`attribute`), and
    what one of its methods takes (`parameters`, as `module_source.keyword_parameters` writes them)."""

    names: dict[str, str]
    ids: np.ndarray
    attribute: Callable[[str], Value | None]
    parameters: Callable[[str], list[str] | None] = field(default=_no_parameters)
    open: bool = False  # its class has a base heed cannot read: it has names not listed


def follow(value: Value | None, attributes: Sequence[str]) -> Value | None:
    """What `value.a.b` holds, for attributes [a, b]."""
    for name in attributes:
        value = value.attribute(name) if value is not None else None
    return value


def value_of(look: Lookup, written: str, at: int | None, depth: int = 0) -> Value | None:
    """What a value of the type `written` (`type_of`) holds, the names in it as bound in the
    document before `at`: a class the document defines, one from a module (or what a function
    there returns), a builtin's."""
    called = written.endswith("()")
    parts = written.removesuffix("()").split(".")
    if depth > CLASS_DEPTH or not all(p.isidentifier() for p in parts):
        return None
    where = last_binding(look, parts[0], at)
    role = int(look.roles[where]) if where is not None else IMPORT
    if where is not None and len(parts) == 1 and role == CLASS_NAME:
        return document_value(look, where - 1, depth + 1)
    if where is not None and len(parts) == 1 and role == DEF_NAME:
        returns = return_annotation(look.texts, where) if called else ""
        return value_of(look, returns, where, depth + 1) if returns else None
    if role != IMPORT:
        return None
    bound = look.binding_of(parts[0])
    if bound is None:
        names = builtin_names(parts[0]) if len(parts) == 1 and where is None else {}
        return Value(names, np.zeros(0, np.int64), lambda _: None, lambda m: builtin_parameters(parts[0], m)) if names else None
    found = defining_module(look.index, parts, *bound, look.origin)
    return module_value(look.index, found[0], found[1] + "()" * called) if found is not None else None


def module_value(index: ModuleIndex, module: Module, written: str) -> Value | None:
    """A value of the type `written` in a module heed reads: an instance of a class it can find."""
    found = index.instance_class(module, written)
    if found is None:
        return None
    where, name = found

    names = index.class_names(where, name)

    def attribute(attr: str) -> Value | None:
        called = attr.endswith("()")
        if (names.get(attr.removesuffix("()")) == "method") != called:
            return None  # a method's type is what it returns: only once called
        held = index.attribute_type(where, name, attr.removesuffix("()"))
        return module_value(index, *held) if held is not None else None

    return Value(names, np.zeros(0, np.int64), attribute, lambda method: index.parameters(where, name, method),
                 index.class_is_open(where, name))


def document_value(look: Lookup, k: int, depth: int) -> Value | None:
    """An instance of the class whose `class` keyword is at `k` in the document."""
    got = _document_class(look, k + 1, depth) if k >= 0 and look.ids[k] == look.tokens.class_id else None
    if got is None:
        return None

    def from_bases(ask: Callable[[Value], T | None]) -> T | None:
        """What the first of the class's bases heed can read and `ask` finds in, answers."""
        for base in header_bases(look.texts, k):
            value = value_of(look, base, k, depth + 1)
            found = ask(value) if value is not None else None
            if found is not None:
                return found
        return None

    def attribute(attr: str) -> Value | None:
        for i in attribute_bindings(look, k, attr):
            written = (return_annotation(look.texts, i) if attr.endswith("()") else "") if look.roles[i] == DEF_NAME \
                else type_of(look, i) if not attr.endswith("()") else ""
            value = value_of(look, written, i, depth + 1) if written else None
            if value is not None:
                return value
        return from_bases(lambda base: base.attribute(attr))

    def parameters(method: str) -> list[str] | None:
        for i in attribute_bindings(look, k, method):
            if look.roles[i] == DEF_NAME:
                return header_parameters(look.texts, i + 1)
        return from_bases(lambda base: base.parameters(method))

    return Value(got[0], got[1], attribute, parameters, got[2])


def attribute_bindings(look: Lookup, k: int, attr: str) -> list[int]:
    """Where the class at `k` binds `attr`: `attr = ...` / `attr: ...` / `def attr` in its body
    (`attr()`: its methods only), `self.attr = ...` anywhere in it (token indices, in order)."""
    body = class_body(look.tokens, look.ids, k)
    if body is None:
        return []
    b, end = body
    ids, texts, roles = look.ids, look.texts, look.roles
    depth = np.cumsum((ids[b:end] == look.tokens.indent).astype(np.int32) - (ids[b:end] == look.tokens.dedent))
    out = []
    called = attr.endswith("()")
    attr = attr.removesuffix("()")
    for i in range(b, end):
        if texts[i] != attr:
            continue
        in_body = depth[i - b] == 1 and (roles[i] == DEF_NAME or not called and roles[i] == TARGET)
        on_self = not called and roles[i] == ATTRIBUTE_TARGET and i >= 2 and texts[i - 1] == "." and texts[i - 2] in SELF_NAMES
        if in_body or on_self:
            out.append(i)
    return out
