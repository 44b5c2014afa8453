"""The popup's list: the model's candidates merged with names it cannot know by itself.

The model ranks; this module adds what it never saw (names the document binds, the names the
receiver's module or class has), gives each item its kind, and orders the list. It needs no
network, so that the popup without a model (`fallback.py`) uses it too.
"""

from __future__ import annotations

import keyword
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from heed.model.lookup.imports import defining_module, stream_bindings
from heed.model.lookup.module_source import Module
from heed.model.lookup.modules import ModuleIndex, module_kind
from heed.model.lookup.scope import Scope
from heed.model.text.cursor import receiver_before
from heed.model.text.roles import ROLES
from heed.model.text.stream import TokenStream
from heed.model.workspace.index import ProjectName, WorkspaceIndex

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
    source: str  # "vocabulary", "pointer", "file" (the n-grams), "defined" (by the receiver's module or class),
    # "scope" or "project" (a name another module of the project defines)
    where: str = ""  # for a name of the project: the module and line that define it (`pkg.mod:12`) ...
    import_from: str = ""  # ... and the module to import it from, where it is not in scope


@dataclass
class Popup:
    prefix: str
    candidates: list[Candidate]
    model_used: bool
    # What the look-ups said comes here, which re-ranked the model's list (`Rerank.why`: "class"
    # after `self.`, "type", "module", "corpus", "import", "call"); "" where none did.
    looked_up: str = ""


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


def project_names(workspace: WorkspaceIndex | None, prefix: str, after_dot: bool, path: Path | None) -> list[ProjectName]:
    """The names the project's other modules define that start with `prefix`: offered at a
    name's start once something is typed (with nothing typed, thousands of them are noise), in
    a document of the project (`path` in the index's folders, or not saved yet)."""
    if workspace is None or not prefix or after_dot or (path is not None and not workspace.holds(path)):
        return []
    return [n for n in workspace.names(prefix) if n.path != path]


def finish_popup(
    stream: TokenStream, offset: int, prefix: str, after_dot: bool, scope: Scope,
    found: dict[str, Candidate], max_items: int, model_used: bool, module: Module | None = None,
    modules: ModuleIndex | None = None, defined: Mapping[str, str] | None = None,
    project: Sequence[ProjectName] = (), listing: bool = False, origin: Path | None = None,
) -> Popup:
    """Add the names the model did not rank (after a `.`: attributes seen on the receiver, the
    names of `module` if it is one, and `defined`: what other code says it has, name -> kind
    or "" (see `lookup/receivers.py`); `listing` (in an import statement): `module`'s and
    `defined` only; else the names in scope, then `project`: the names the project's other
    modules define), filtered by the typed prefix; rank by model probability, then by how often
    the document uses the name, public before `_private`. `origin`: the document's file, for the
    kinds of what its relative imports bind."""
    defined = defined or {}
    if after_dot or listing:
        receiver = receiver_before(stream.text, offset - len(prefix)) if after_dot else None
        extra: Mapping[str, int] = +scope.attributes.get(receiver, Counter()) if receiver else {}
        known = [*(module.offered() if module is not None else ()), *defined]
        if known:
            public = {n: 0 for n in known if not n.startswith("_") or prefix.startswith("_")}
            extra = {**public, **extra}
    else:
        extra = {n: scope.counts.get(n, 0) for n in scope.names}
    for name, _count in sorted(extra.items(), key=lambda kv: -kv[1]):
        if name.startswith(prefix) and name not in found and name != prefix:
            found[name] = Candidate(name, 0.0, "", "scope")
    elsewhere: dict[str, ProjectName] = {}
    if not after_dot and not listing:
        for p in project:
            if p.name not in scope.names and p.name != prefix:
                elsewhere.setdefault(p.name, p)  # the first by path, where several modules define it
                found.setdefault(p.name, Candidate(p.name, 0.0, "", "project"))
    # Ties (names only the look-up offers, with the same floor) go to the document's most used, then
    # to public names before `_private` ones (unless one is being typed), then alphabetically.
    private = not prefix.startswith("_")
    ranked = sorted(found.values(), key=lambda c: (-c.prob, -scope.counts.get(c.text, 0), private and c.text.startswith("_"),
                                                   c.text))[:max_items]
    for c in ranked:  # kinds for the items shown only: looking one up can scan the document
        kind = module_kind(modules, module, c.text) if module is not None and modules is not None else ""
        there = elsewhere.get(c.text)
        if there is not None:
            c.where, c.import_from = f"{there.module}:{there.line}", there.module
        given = defined.get(c.text, "")  # a parameter of the call is `name=`, unless the name is a value here
        role = scope.names.get(c.text)
        c.kind = kind or (given if given != "parameter" or role is None or role >= 0 and ROLES[role] == "parameter" else "") \
            or (there.kind if there is not None and not scope.counts.get(c.text) else "") or kind_of(c.text, scope)
    imported = [c for c in ranked if c.kind == "module" and (role := scope.names.get(c.text)) is not None and role >= 0
                and ROLES[role] in ("import", "import_from")]
    if imported and modules is not None:  # `from m import Engine`: a class, as `m` says
        for c, kind in zip(imported, imported_kinds(modules, stream, [c.text for c in imported], offset, origin)):
            c.kind = kind or c.kind
    return Popup(prefix, ranked, model_used)


def imported_kinds(modules: ModuleIndex, stream: TokenStream, names: list[str], offset: int, origin: Path | None) -> list[str]:
    """What each name a `from m import name` before `offset` binds is ("class", "function", ...),
    read from `m` ("" where it is a module's own name or `m` cannot be found)."""
    bound = stream_bindings(stream, set(names), offset)
    found = [defining_module(modules, [name], *bound[name], origin) if name in bound else None for name in names]
    return [module_kind(modules, *where) if where is not None else "" for where in found]
