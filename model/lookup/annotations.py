"""The class an annotation names, read off a document's tokens (`receivers.py`): `x: T`,
`def f() -> T`, and what iterating over `xs: List[T]` gives. (`module_source.py` reads the
annotations of the modules heed does not have open, with `ast`.)"""

from __future__ import annotations

import re
from collections.abc import Sequence

from heed.model.lookup.imports import dotted_name

# Annotations whose first argument is what iterating gives: `for x in xs` with `xs: List[T]`.
ITERABLES = frozenset({"List", "list", "Sequence", "MutableSequence", "Iterable", "Iterator", "Collection", "Set", "set",
                       "FrozenSet", "frozenset", "AbstractSet", "MutableSet", "Deque", "deque", "Generator", "KeysView",
                       "Dict", "dict", "Mapping", "MutableMapping", "DefaultDict", "OrderedDict"})


def return_annotation(texts: Sequence[str], name_at: int) -> str:
    """The class a `def` (its name at `name_at`) says it returns: `def f(...) -> T:` -> "T"."""
    depth = 0
    for j in range(name_at + 1, min(name_at + 400, len(texts))):
        t = texts[j]
        if t in ("(", "[", "{"):
            depth += 1
        elif t in (")", "]", "}"):
            depth -= 1
        elif depth == 0 and t == ":":
            return ""
        elif depth == 0 and t == "->":
            return annotation_at(texts, j + 1)
    return ""


def annotation_at(texts: Sequence[str], j: int) -> str:
    """The class the annotation starting at `texts[j]` names, as written: `T`, `m.T`,
    `Optional[T]` (or `Final[T]`, `ClassVar[T]`), `"T"`; "" for anything else."""
    if j + 1 < len(texts) and texts[j] in ("Optional", "Final", "ClassVar") and texts[j + 1] == "[":
        j += 2
    quoted = _quoted(texts[j] if j < len(texts) else "")
    if quoted is not None:
        inner = quoted.split("[")[0].strip()
        return inner if all(p.isidentifier() for p in inner.split(".")) else ""
    return dotted_name(texts, j)[0]


def iterated_annotation(texts: Sequence[str], j: int) -> str:
    """The T of a container annotation starting at `texts[j]` (`List[T]`, `typing.Iterator[T]`,
    `Optional[list[T]]`, `Tuple[T, ...]`, `"List[T]"`); "" for anything else."""
    quoted = _quoted(texts[j] if j < len(texts) else "")
    if quoted is not None:  # a whole annotation in a string
        return iterated_annotation(re.findall(r"\w+|\.\.\.|\S", quoted), 0)
    if j + 1 < len(texts) and texts[j] in ("Optional", "Final") and texts[j + 1] == "[":
        j += 2
    head, k = dotted_name(texts, j)
    last = head.rpartition(".")[2]
    if k + 1 >= len(texts) or texts[k] != "[":
        return ""
    if last in ("Tuple", "tuple"):  # only a tuple of any length holds one type
        inner, after = dotted_name(texts, k + 1)
        return inner if list(texts[after : after + 3]) == [",", "...", "]"] else ""
    return annotation_at(texts, k + 1) if last in ITERABLES else ""


def _quoted(written: str) -> str | None:
    """What a string token written as an annotation (`"Foo"`, `'List[Foo]'`) holds; None for any other token."""
    return written[1:-1] if len(written) > 2 and written[0] in "'\"" and written[-1] == written[0] else None
