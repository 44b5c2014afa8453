"""Popup candidates that need no model: names in scope, their kinds, the typed prefix.

The model ranks; this module supplies what the model cannot know by itself (names the document
binds that it never saw) and everything the popup needs while no model is loaded. It imports
no torch, so the server can answer from it before the model has loaded.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from heed.model.modules import SHARED, Module, ModuleIndex, module_kind, receiver_in_stream
from heed.model.roles import ROLES
from heed.model.scope import Scope, attributes_of, scope_at
from heed.model.stream import TokenStream

# What kind of thing a name is, from the role it plays where the document binds or uses it.
KIND_OF_ROLE = {
    "def_name": "function",
    "class_name": "class",
    "import": "module",
    "import_from": "module",
    "parameter": "variable",
    "target": "variable",
    "attribute": "field",
    "attribute_target": "field",
    "method": "method",
    "call": "function",
    "decorator": "function",
    "keyword_arg": "variable",
}

@dataclass
class Candidate:
    text: str
    prob: float  # the model's probability (0: offered by scope alone)
    kind: str  # function, method, class, module, variable, field, keyword, builtin, text
    source: str  # "vocabulary", "pointer", "file" (the n-grams), "defined" (by the receiver's module or class) or "scope"


@dataclass
class Popup:
    prefix: str
    candidates: list[Candidate]
    model_used: bool


def kind_of(text: str, scope: Scope) -> str:
    """What kind of thing a name is: from where the document binds it, else how it uses it."""
    if keyword.iskeyword(text):
        return "keyword"
    role = scope.names.get(text)
    if role == -1:
        return "builtin"
    if role is None:
        role = scope.role_of(text)
    return KIND_OF_ROLE.get(ROLES[role], "variable") if role is not None and role >= 0 else "text"


def finish_popup(
    stream: TokenStream, offset: int, prefix: str, after_dot: bool, scope: Scope,
    found: dict[str, Candidate], max_items: int, model_used: bool, module: Module | None = None,
    modules: ModuleIndex | None = None, defined: Mapping[str, str] | None = None,
) -> Popup:
    """Add the names the model did not rank (after a `.`: attributes seen on the receiver, the
    names of `module` if it is one, and `defined`: what other code says it has, name -> kind
    or "" (see `model/receivers.py`); else the names in scope), filtered by the typed prefix;
    rank by model probability, then by how often the document uses the name."""
    defined = defined or {}
    if after_dot:
        receiver = receiver_before(stream.text, offset - len(prefix))
        extra: Mapping[str, int] = attributes_of(stream, receiver) if receiver else {}
        known = [*(module.names if module is not None else ()), *defined]
        if known:
            public = {n: 0 for n in known if not n.startswith("_") or prefix.startswith("_")}
            extra = {**public, **extra}
    else:
        extra = {n: scope.counts.get(n, 0) for n in scope.names}
    for name, _count in sorted(extra.items(), key=lambda kv: -kv[1]):
        if name.startswith(prefix) and name not in found and name != prefix:
            found[name] = Candidate(name, 0.0, "", "scope")
    ranked = sorted(found.values(), key=lambda c: (-c.prob, -scope.counts.get(c.text, 0), c.text))[:max_items]
    for c in ranked:  # kinds for the items shown only: looking one up can scan the document
        kind = module_kind(modules, module, c.text) if module is not None and modules is not None else ""
        c.kind = kind or defined.get(c.text, "") or kind_of(c.text, scope)
    return Popup(prefix, ranked, model_used)


def fallback_popup(stream: TokenStream, offset: int, max_items: int, path: Path | None = None) -> Popup:
    """The popup without a model: names in scope (after a module's name, its names), by
    frequency in the document. `path`: the document's file, for its relative imports."""
    prefix = typed_prefix(stream.text, offset)
    after_dot = is_after_dot(stream.text, offset - len(prefix))
    module = receiver_in_stream(SHARED, stream, offset - len(prefix), path) if after_dot else None
    return finish_popup(stream, offset, prefix, after_dot, scope_at(stream, offset), {}, max_items, False, module, SHARED)


def typed_prefix(text: str, offset: int) -> str:
    i = offset
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
        i -= 1
    return text[i:offset]


def is_after_dot(text: str, offset: int) -> bool:
    i = offset
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    return i > 0 and text[i - 1] == "." and not (i > 1 and text[i - 2].isdigit())


def receiver_before(text: str, offset: int) -> str:
    """The name before the `.` that ends at `offset`."""
    i = offset
    while i > 0 and text[i - 1] in " \t":
        i -= 1
    i -= 1  # the dot
    j = i
    while j > 0 and (text[j - 1].isalnum() or text[j - 1] == "_"):
        j -= 1
    return text[j:i]
