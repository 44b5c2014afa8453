"""What the code says the receiver before a dot is, and so which names can follow it.

The network ranks attribute names by what usually follows; this module looks the receiver up.
Its first name's last binding before the dot, read off the libcst roles, says what it is:
- an import (`cst.`, `os.path.`): a module, whose names `modules.py` reads;
- a parameter or an assignment whose type shows (`node: cst.Name`, `parser = Parser(...)`):
  an instance, with its class's names, its bases' included;
- a class the document defines (`Color.`): that class's names;
- `self` or `cls`: the bases of the class around define names too (its own members are
  `classes.class_members`).
A class defined earlier in the document is read off its tokens; an imported one from its
module; a builtin one (`str`, `dict`) from the interpreter. Everything else: no answer.
"""

from __future__ import annotations

import builtins
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from heed.model.lookup.classes import SELF_NAMES, ClassTokens, body_members, class_body, enclosing_class
from heed.model.lookup.imports import dotted_name, receiver_chain, resolve_chain
from heed.model.lookup.module_source import Module
from heed.model.lookup.modules import CLASS_DEPTH, ModuleIndex
from heed.model.text.roles import ROLE_ID

IMPORT, PARAMETER, TARGET, CLASS_NAME, DEF_NAME = (ROLE_ID[r] for r in ("import", "parameter", "target", "class_name", "def_name"))
BINDING = frozenset({IMPORT, PARAMETER, TARGET, CLASS_NAME, DEF_NAME})
SCAN = 20_000  # tokens looked back for a name's binding


@dataclass
class ReceiverNames:
    """What code outside the context's tokens says can follow its final dot (`receiver_names`)."""

    module: np.ndarray | None = None  # identities of the names of the module (or the class) the receiver is ...
    unseen: int = 0  # ... and how many more it has with no identity here (`heed eval`)
    why: str = "module"  # "module": the receiver is a module; "type": an instance or a class
    inherited: np.ndarray | None = None  # after `self.`: identities of what the class's bases define
    kinds: dict[str, str] = field(default_factory=dict)  # what each name found elsewhere is, for the popup
    source: Module | None = None  # the module the receiver is (for its names' kinds, followed on demand)


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


def receiver_names(look: Lookup) -> ReceiverNames | None:
    """The names the receiver before the context's final `.` has, as far as the code says."""
    chain = receiver_chain(look.texts[max(len(look.texts) - 24, 0) :])
    if not chain:
        return None
    if chain[0] in SELF_NAMES and len(chain) == 1:
        return inherited(look)
    at = last_binding(look, chain[0])
    role = int(look.roles[at]) if at is not None else IMPORT  # none in the context: maybe an import before it
    if role == IMPORT:
        bound = look.binding_of(chain[0])
        module = resolve_chain(look.index, chain, *bound, look.origin) if bound is not None else None
        if module is None or module.dynamic:
            return None
        found = _names(look, module.names, np.zeros(0, np.int64), "module")
        found.source = module
        return found
    if len(chain) > 1:
        return None  # `node.value.` : what an attribute holds is not followed
    if role == CLASS_NAME and at is not None:
        found_cls = _document_class(look, at, 0)
    else:
        type_at = type_of(look, at) if at is not None else None
        found_cls = class_names_at(look, type_at, at) if type_at else None
    return _names(look, *found_cls, "type") if found_cls is not None else None


def _names(look: Lookup, names: dict[str, str], extra: np.ndarray, why: str) -> ReceiverNames:
    ids = np.array([look.id_of(n) for n in names if n.isidentifier()], np.int64)
    known = np.unique(np.concatenate([ids[ids >= 0], extra]))
    return ReceiverNames(module=known, unseen=int((ids < 0).sum()), why=why, kinds=names)


def last_binding(look: Lookup, name: str, before: int | None = None) -> int | None:
    """Index of the context's last token before `before` (default: its final dot) that binds
    `name` (import, parameter, assignment, def, class); None if there is none."""
    end = len(look.texts) - 1 if before is None else before
    texts, roles = look.texts, look.roles
    for i in range(end - 1, max(end - SCAN, 0) - 1, -1):
        if texts[i] == name and roles[i] in BINDING:
            return i
    return None


def type_of(look: Lookup, at: int) -> str | None:
    """The class a parameter or assignment target at `at` holds an instance of, as written:
    `x: T`, `x: Optional[T]`, `x: T | None`, `x: "T"`, `x = T(...)`. None if it does not show."""
    texts = look.texts
    if at + 2 >= len(texts) or (at > 0 and texts[at - 1] in ("as", ",", "for", "*", "**")):
        return None
    if texts[at + 1] == ":" and look.roles[at] in (PARAMETER, TARGET):
        j = at + 2
        if texts[j] in ("Optional", "Final", "ClassVar") and j + 2 < len(texts) and texts[j + 1] == "[":
            j += 2
        written = texts[j]
        if len(written) > 2 and written[0] in "'\"" and written[-1] == written[0]:
            inner = written[1:-1].split("[")[0].strip()
            return inner if all(p.isidentifier() for p in inner.split(".")) else None
        found, _ = dotted_name(texts, j)
        return found or None
    if texts[at + 1] == "=" and look.roles[at] == TARGET:
        found, k = dotted_name(texts, at + 2)
        return found if found and k < len(texts) and texts[k] == "(" else None
    return None


def class_names_at(look: Lookup, dotted: str, at: int | None, depth: int = 0) -> tuple[dict[str, str], np.ndarray] | None:
    """(names with their kinds, identities) of the class `dotted` names in the document before
    `at`: names from other modules or the interpreter, identities read off a class body the
    document has."""
    parts = dotted.split(".")
    where = last_binding(look, parts[0], at)
    role = int(look.roles[where]) if where is not None else IMPORT
    if role == CLASS_NAME and where is not None and len(parts) == 1:
        return _document_class(look, where, depth)
    if role != IMPORT:
        return None
    bound = look.binding_of(parts[0])
    if bound is None:
        return _builtin_class(parts[0]) if len(parts) == 1 and where is None else None
    level, target = bound
    if len(parts) == 1:
        head, _, last = target.rpartition(".")
        module = look.index.find(head, level, look.origin) if head or level else None
    else:
        module, last = resolve_chain(look.index, parts[:-1], level, target, look.origin), parts[-1]
    names = look.index.class_names(module, last) if module is not None else {}
    return (names, np.zeros(0, np.int64)) if names else None


def _document_class(look: Lookup, name_at: int, depth: int) -> tuple[dict[str, str], np.ndarray] | None:
    """A class the document defines (its name at `name_at`): its body's names and its bases'."""
    k = name_at - 1
    if k < 0 or look.ids[k] != look.tokens.class_id:
        return None
    body = class_body(look.tokens, look.ids, k)
    names: dict[str, str] = {}
    parts = [body_members(look.tokens, look.ids, look.roles, look.ext, *body)] if body is not None else []
    if depth < CLASS_DEPTH:
        for base in header_bases(look.texts, k):
            got = class_names_at(look, base, k, depth + 1)
            if got is not None:
                names = {**got[0], **names}
                parts.append(got[1])
    return names, np.unique(np.concatenate([np.zeros(0, np.int64), *parts]))


def _builtin_class(name: str) -> tuple[dict[str, str], np.ndarray] | None:
    value = getattr(builtins, name, None)
    if not inspect.isclass(value):
        return None
    names = {n: "method" if callable(getattr(value, n, None)) else "field" for n in dir(value) if not n.startswith("__")}
    return names, np.zeros(0, np.int64)


def inherited(look: Lookup) -> ReceiverNames | None:
    """After `self.`: what the bases of the class around define. None: no base heed can read."""
    found = enclosing_class(look.tokens, look.ids)
    if found is None:
        return None
    names: dict[str, str] = {}
    parts: list[np.ndarray] = []
    for base in header_bases(look.texts, found[0]):
        got = class_names_at(look, base, found[0])
        if got is not None:
            names = {**got[0], **names}
            parts.append(got[1])
    if not names and not parts:
        return None
    ids = np.array([look.id_of(n) for n in sorted(names)], np.int64)
    return ReceiverNames(inherited=np.unique(np.concatenate([ids[ids >= 0], *parts])), kinds=names)


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
