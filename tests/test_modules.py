"""After an imported module's name and a dot: the module's names, read from its source unexecuted."""

from __future__ import annotations

import os
import random
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from heed.model.lookup.classes import ClassTokens
from heed.model.lookup.import_spot import ImportSpot, import_spot
from heed.model.lookup.imports import import_bindings, receiver_chain, receiver_in_stream, stream_binding
from heed.model.lookup.modules import ModuleIndex, module_kind
from heed.model.lookup.receivers import Lookup, ReceiverNames, header_bases, receiver_names
from heed.model.nn.store import default_model_dir
from heed.model.runtime.completer import Completer
from heed.model.runtime.context import cursor_context
from heed.model.runtime.encoding import DocEncoder
from heed.model.runtime.fallback import fallback_popup
from heed.model.runtime.predictor import load_predictor
from heed.model.runtime.rerank import module_rerank
from heed.model.text.stream import TokenStream, tokenize
from heed.model.text.vocab import Vocab, token_key


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path, {
        "pkg/__init__.py": """
            import os as _os
            from .shapes import *
            from .shapes import Circle as Round
            from . import helpers
            def area(x): ...
            class Canvas: ...
            SIZE = 3
            if SIZE:
                WIDE = True
            else:
                NARROW = False
            try:
                import json as codec
            except ImportError:
                import pickle as codec
            open("EXECUTED", "w")  # reading the module must never run this
        """,
        "pkg/shapes.py": """
            __all__ = ["Circle", "Square"]
            class Circle: ...
            class Square: ...
            class Hidden: ...
        """,
        "pkg/helpers.py": "def zzq_unusual_helper(): ...\n",
        "pkg/dyn.py": "def __getattr__(name): ...\n",
    })
    return tmp_path


def test_a_module_s_names_come_from_its_source_and_nothing_runs(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    index = ModuleIndex([project, *sys.path])
    pkg = index.find("pkg")
    assert pkg is not None
    assert {"area", "Canvas", "SIZE", "WIDE", "NARROW", "codec", "_os", "Round", "helpers"} <= pkg.names.keys()
    assert {"Circle", "Square", "shapes", "dyn"} <= pkg.names.keys()  # `*` takes `__all__`; submodules count
    assert "Hidden" not in pkg.names
    assert not (project / "EXECUTED").exists()
    assert not pkg.dynamic and index.find("pkg.dyn").dynamic  # type: ignore[union-attr]
    # What a name is, following its import.
    assert [module_kind(index, pkg, n) for n in ("area", "Canvas", "SIZE", "helpers", "Round", "codec")] == \
        ["function", "class", "variable", "module", "class", "module"]
    assert index.member_module(pkg, "_os").name == "os"  # type: ignore[union-attr]
    assert index.member_module(pkg, "codec").name == "json"  # type: ignore[union-attr]  # the first branch
    assert index.member_module(pkg, "area") is None
    assert index.find("no_such_module_zz") is None
    assert index.find("sys") is not None and "exit" in index.find("sys").names  # type: ignore[union-attr]  # compiled in


def test_a_broken_or_unreadable_module_is_none(tmp_path: Path) -> None:
    write(tmp_path, {"broken.py": "def f(:\n", "ok.py": "x = 1\n", "deep.py": "x = " + "(" * 5000 + ")" * 5000 + "\n"})
    (tmp_path / "nul.py").write_bytes(b"x = 1\x00\n")
    (tmp_path / "latin.py").write_bytes(b"# coding: ascii\nx = '\xe9'\n")
    os.mkfifo(tmp_path / "fifo.py")  # reading it would wait forever
    index = ModuleIndex([tmp_path])
    for name in ("broken", "deep", "nul", "latin", "fifo"):
        assert index.find(name) is None, name
    assert index.find("ok", 0) is not None
    assert ModuleIndex([tmp_path], exclude=tmp_path / "ok.py").find("ok") is None  # `heed eval`'s own file


def keys_of(code: str) -> list[str]:
    return [token_key(t.kind, t.text) for t in tokenize(code)]


@pytest.mark.parametrize("code, expected", [
    ("import os", {"os": "os"}),
    ("import os.path", {"os": "os"}),
    ("import os.path as osp, sys", {"osp": "os.path", "sys": "sys"}),
    ("from a.b import c as d, e", {"d": "a.b.c", "e": "a.b.e"}),
    ("from . import x", {"x": "x"}),
    ("from ..m import (y,\n    z)", {"y": "m.y", "z": "m.z"}),
    ("if t:\n    import json\n", {"json": "json"}),
    ("x = 'import os'", {}),
])
def test_import_bindings(code: str, expected: dict[str, str]) -> None:
    found = import_bindings(keys_of(code))
    assert {name: b[-1][2] for name, b in found.items()} == expected


def test_receiver_chain() -> None:
    assert receiver_chain(["x", "=", "os", ".", "path", "."]) == ["os", "path"]
    assert receiver_chain(["os", "."]) == ["os"]
    assert receiver_chain(["f", "(", "a", ",", "g", "(", ")", ")", ".", "x", "."]) == ["f()", "x"]
    assert receiver_chain(["a", ".", "m", "(", ")", "."]) == ["a", "m()"]
    assert receiver_chain(["f", "(", ")", "[", "0", "]", "."]) == []
    assert receiver_chain(["x", "=", ")", "."]) == []
    assert receiver_chain(["os"]) == []


def receiver_after(text: str, index: ModuleIndex, origin: Path | None = None) -> tuple[ReceiverNames | None, DocEncoder]:
    """What `receiver_names` gives at the end of `text` (a `.`), as the completer asks."""
    vocab = Vocab.load(default_model_dir() / "vocab.json")
    encoder, stream = DocEncoder(vocab), TokenStream(text)
    ctx = cursor_context(stream, len(text), encoder)
    c = ctx.inputs
    return receiver_names(Lookup(ClassTokens.of(vocab), c.ids, c.parsed, c.ext, ctx.texts, index, origin,
                                 lambda name: stream_binding(stream, name, len(text)), encoder.ext_of_text)), encoder


def names_after(text: str, index: ModuleIndex, origin: Path | None = None) -> tuple[str, set[str]] | None:
    """(why, names) `receiver_names` gives at the end of `text` (a `.`)."""
    got, encoder = receiver_after(text, index, origin)
    if got is None:
        return None
    ids = got.module if got.module is not None else got.inherited
    return ("self" if got.inherited is not None else got.why), {encoder.text_of(int(i)) for i in ids}  # type: ignore[union-attr]


def test_the_receiver_is_what_its_name_was_last_bound_to(project: Path) -> None:
    write(project, {"pkg/shapes.py": "class Circle:\n    def __init__(self):\n        self.zzq_radius = 1\n    def zzq_area(self): ...\n"})
    index = ModuleIndex([project])
    head = "import pkg\nfrom pkg import helpers as h\nimport pkg.shapes as shapes\n"
    cases = {
        "A = pkg.": ("module", "area"),  # a module
        "A = h.": ("module", "zzq_unusual_helper"),
        "A = pkg.helpers.": ("module", "zzq_unusual_helper"),
        "def f(c: shapes.Circle, d):\n    c.": ("type", "zzq_radius"),  # an annotated parameter
        "def f(self, c: shapes.Circle):\n    c.": ("type", "zzq_radius"),  # one after a comma
        # narrowed by isinstance, in the block it guards or after an assert
        "def f(c):\n    if isinstance(c, shapes.Circle):\n        c.": ("type", "zzq_area"),
        "def f(c):\n    if x and isinstance(c, shapes.Circle) and c:\n        y = 1\n        c.": ("type", "zzq_area"),
        "def f(c):\n    assert isinstance(c, shapes.Circle)\n    if c:\n        c.": ("type", "zzq_area"),
        "def f(c: Optional[shapes.Circle] = None):\n    c.": ("type", "zzq_area"),
        "def f(c: 'shapes.Circle'):\n    c.": ("type", "zzq_area"),
        "x = shapes.Circle()\nx.": ("type", "zzq_area"),  # an instance made here
        "s: str = ''\ns.": ("type", "join"),  # a builtin class
        "class K:\n    zzq_k = 1\nK.": ("type", "zzq_k"),  # a class of the document
        # an optional import: `None` is the fallback, never what `shapes.` means
        "try:\n    import pkg.shapes as shapes\nexcept ImportError:\n    shapes = None\nshapes.": ("module", "Circle"),
        "x = shapes.Circle()\nx = None\nx.": ("type", "zzq_area"),
        "shapes.Circle().": ("type", "zzq_area"),  # an instance made in the chain
        "pkg.shapes.Circle().": ("type", "zzq_radius"),
        # a function's parameters and locals bind nothing once it has ended
        "def g(shapes):\n    return shapes\nshapes.": ("module", "Circle"),
        "def g(): shapes = 3\nshapes.": ("module", "Circle"),
        "class A:\n    def g(self):\n        shapes = 3\n        return shapes\n    def h(self):\n        shapes.": ("module", "Circle"),
        "def f(c: shapes.Circle):\n    def g(c):\n        pass\n    c.": ("type", "zzq_area"),
        "def f(c: shapes.Circle):\n    def g():\n        return c.": ("type", "zzq_area"),  # the enclosing function's
        # what iterating over a container annotated with its element type gives
        "def f(cs: List[shapes.Circle]):\n    for c in cs:\n        c.": ("type", "zzq_area"),
        "def f(cs: 'typing.Iterator[shapes.Circle]'):\n    for c in cs:\n        c.": ("type", "zzq_area"),
        "def f(cs: Optional[list['shapes.Circle']] = None):\n    for c in cs:\n        c.": ("type", "zzq_area"),
        "cs: Tuple[shapes.Circle, ...] = ()\nfor c in cs:\n    c.": ("type", "zzq_area"),
        "def f(cs: Dict[shapes.Circle, int]):\n    for c in cs:\n        c.": ("type", "zzq_area"),
        "class K:\n    def __init__(self, cs: List[shapes.Circle]):\n        self.cs: List[shapes.Circle] = cs\n"
        "    def g(self):\n        for c in self.cs:\n            c.": ("type", "zzq_area"),
    }
    for code, (why, name) in cases.items():
        got = names_after(head + code, index)
        assert got is not None and got[0] == why and name in got[1], code
    for code in ("pkg = 3\npkg.", "x = shapes.Circle()\nx = None or 3\nx.", "def g(shapes):\n    shapes.", "def f(*c: shapes.Circle):\n    c.",
                 "def f(c):\n    if not isinstance(c, shapes.Circle):\n        c.",
                 "def f(c):\n    if isinstance(c, shapes.Circle):\n        pass\n    c.",
                 "def f(c):\n    if isinstance(c, (shapes.Circle, int)):\n        c.",
                 "def f(c):\n    if isinstance(c, shapes.Circle):\n        c = 3\n        c.",
                 "def f(c):\n    if x:\n        assert isinstance(c, shapes.Circle)\n    c.",
                 "def g():\n    if x:\n        shapes = 3\n    shapes.", "def f(c):\n    c.", "x = make()\nx.", "for c in y:\n    c.", "f().x.",
                 "def f(t: type):\n    t.", "type(x).",  # a class: its names are its own
                 "def f(cs: Tuple[shapes.Circle, int]):\n    for c in cs:\n        c.",  # a pair, not a sequence
                 "def f(cs: List[shapes.Circle]):\n    for c in cs.items:\n        c.",
                 "def f(cs: List[shapes.Circle]):\n    for i, c in enumerate(cs):\n        c.",
                 "def f(cs: shapes.Circle):\n    for c in cs:\n        c."):
        assert names_after(head + code, index) is None, code


def test_relative_imports_start_at_the_document(project: Path) -> None:
    doc = project / "pkg" / "user.py"
    text = "from . import helpers\nfrom .shapes import Circle\nhelpers."
    stream = TokenStream(text)
    module = receiver_in_stream(ModuleIndex([]), stream, len(text), doc)
    assert module is not None and "zzq_unusual_helper" in module.names
    assert receiver_in_stream(ModuleIndex([]), TokenStream("x = 1\nx."), 8, doc) is None


def test_the_module_s_names_are_raised_and_the_unseen_ones_keep_their_share() -> None:
    probs = np.array([0.5, 0.3, 0.15, 0.05], np.float32)
    rerank = module_rerank(np.array([2, 3]), 4, unseen=3)
    out = rerank.apply(probs)
    assert out.argmax() == 2 and out[3] > out[1]  # the module's names first
    # The probabilities, with the names that have no identity here, still sum to one.
    assert float(out.sum()) + 3 * rerank.unseen_prob(probs) == pytest.approx(1.0)


def test_a_module_with_its_own_getattr_offers_its_names_and_pushes_no_other_down(project: Path) -> None:
    """numpy, torch, sqlite3 define a module `__getattr__` (deprecated or lazy names): what their
    statements bind is still theirs, and what the network expects beside it keeps its chance."""
    write(project, {"pkg/dyn.py": "def zzq_defined(): ...\ndef __getattr__(name): ...\n"})
    got = names_after("import pkg.dyn\npkg.dyn.", ModuleIndex([project]))
    assert got is not None and got[0] == "module" and "zzq_defined" in got[1]
    probs = np.array([0.5, 0.3, 0.15, 0.05], np.float32)
    closed, open_ = module_rerank(np.array([3]), 4).apply(probs), module_rerank(np.array([3]), 4, open=True).apply(probs)
    assert closed.argmax() == 3  # a module whose names are all known: they come first
    assert open_.argmax() == 0 and open_[3] > probs[3]  # one that may have more: its names raised, the rest kept in order
    assert list(np.argsort(-open_[:3])) == [0, 1, 2]


def test_after_a_module_what_it_imported_for_its_own_use_is_not_offered(project: Path) -> None:
    """`traceback.` is not followed by `sys` or `suppress` (traceback imports them), nor `utils.` by
    `Any`; but what a module re-exports is its own: listed in its `__all__` (`os.path`), brought by
    `*` from a module whose `__all__` lists it, from its own package, or from its private
    implementation (`_asyncio`). What `__all__` lists without a statement binding it (`re.UNICODE`)
    is offered too; the import system's bookkeeping (`__all__`, `__spec__`) is not."""
    write(project, {
        "tools/__init__.py": """
            import sys
            import collections.abc
            from typing import Any
            from tools.core import Engine
            from .parts import Part
            from _tools_speedups import fast
            from .api import *
            def run(): ...
        """,
        "tools/api.py": "from json import dumps\n__all__ = ['dumps', 'dyn_flag']\n",
        "tools/core.py": "class Engine: ...\n",
        "tools/parts.py": "class Part: ...\n",
        "tools/exported.py": "import os\nimport json\n__all__ = ['json', 'LATE']\nfrom typing import Any\n",
    })
    index = ModuleIndex([project])
    tools = index.find("tools")
    assert tools is not None
    offered = tools.offered()
    assert {"run", "Engine", "Part", "fast", "dumps", "dyn_flag", "core", "parts", "api"} <= offered.keys()
    assert not {"sys", "collections", "Any", "__all__"} & offered.keys()
    exported = index.find("tools.exported").offered()  # type: ignore[union-attr]
    assert {"json", "LATE"} <= exported.keys() and not {"os", "Any", "__all__"} & exported.keys()
    got = names_after("import tools\ntools.", index)
    assert got is not None and "run" in got[1] and "sys" not in got[1]
    assert "__spec__" not in index.find("gc").offered()  # type: ignore[union-attr]  # compiled in


def test_the_popup_offers_the_module_s_names_with_their_kinds(project: Path, tiny_predictor) -> None:  # type: ignore[no-untyped-def]
    doc = project / "main.py"
    text = "import pkg.helpers\nfrom pkg import shapes\n\npkg.helpers.zzq"
    for popup in (
        fallback_popup(TokenStream(text), len(text), 20, doc),
        Completer(tiny_predictor, doc, ModuleIndex([project])).popup(TokenStream(text), len(text), 20),
    ):
        assert [(c.text, c.kind) for c in popup.candidates] == [("zzq_unusual_helper", "function")]
    text = "from pkg import shapes\nshapes."
    popup = Completer(tiny_predictor, doc, ModuleIndex([project])).popup(TokenStream(text), len(text), 50)
    kinds = {c.text: (c.kind, c.source) for c in popup.candidates}
    # Names the model has never seen, ranked by what the module defines.
    assert kinds["Circle"] == kinds["Hidden"] == ("class", "defined")
    assert popup.looked_up == "module"  # what `bench/popup_misses.py` sorts the places by
    write(project, {"pkg/shapes.py": "class Circle:\n    def __init__(self):\n        self.zzq_radius = 1\n"
                                     "    @property\n    def zzq_area(self): ...\n    def zzq_grow(self): ...\n"})
    text = "from pkg.shapes import Circle\ndef f(c: Circle):\n    return c.zzq"
    popup = Completer(tiny_predictor, doc, ModuleIndex([project])).popup(TokenStream(text), len(text), 20)
    assert {(c.text, c.kind) for c in popup.candidates} == {("zzq_radius", "field"), ("zzq_area", "field"), ("zzq_grow", "method")}
    assert popup.looked_up == "type"
    for text, looked_up in (("class K:\n    def f(self):\n        return self.", "class"), ("x = 1\ny = unknown_zq.", "")):
        assert Completer(tiny_predictor, doc, ModuleIndex([project])).popup(TokenStream(text), len(text), 20).looked_up == looked_up, text


@pytest.mark.parametrize("text, expected", [
    ("from .core import ", ImportSpot("core", 1)),
    ("from .core import Markdown, markdown, ", ImportSpot("core", 1, frozenset({"Markdown", "markdown"}))),
    ("from os.path import (expanduser,  # home\n    ", ImportSpot("os.path", 0, frozenset({"expanduser"}))),
    ("from . import ", ImportSpot("", 1)),
    ("import re\nimport os, ", ImportSpot("", 0, frozenset({"os"}), frozenset({"re", "os"}))),
    ("x = 1\n    from ", ImportSpot("")),
    ("from x import a as ", None),  # a new name
    ("import a as ", None),
    ("from x import (a)\nfoo(", None),
    ("print(", None),
])
def test_where_an_import_statement_is_typed(text: str, expected: ImportSpot | None) -> None:
    assert import_spot(text, len(text)) == expected


def test_in_an_import_statement_the_popup_lists_what_can_be_imported(project: Path, tiny_predictor) -> None:  # type: ignore[no-untyped-def]
    """`from pkg import |` lists what `pkg` has (not what the statement lists already, nor names
    from elsewhere); `import |` raises the modules that can be imported."""
    doc = project / "main.py"
    completer = Completer(tiny_predictor, doc, ModuleIndex([project, *sys.path]))
    text = "zzq_local = 1\nfrom pkg.helpers import "
    labels = [c.text for c in completer.popup(TokenStream(text), len(text), 20).candidates]
    assert labels[0] == "zzq_unusual_helper" and not {"from", "import"} & set(labels)  # no keyword comes here
    text = "from pkg import area, "
    popup = completer.popup(TokenStream(text), len(text), 50)
    kinds = {c.text: c.kind for c in popup.candidates}
    assert kinds["Canvas"] == "class" and kinds["helpers"] == "module" and "area" not in kinds
    text = "import pk"
    items = [(c.text, c.kind) for c in completer.popup(TokenStream(text), len(text), 20).candidates]
    assert set(items) == {("pkg", "module"), ("pkgutil", "module")}  # the project's and the standard library's
    text = "from pkg.helpers import zzq_unusual_helper, "  # without a model: the same names
    labels = [c.text for c in fallback_popup(TokenStream("x = 1\nfrom pkg import "), 22, 50, doc).candidates]
    assert labels[:3] == ["Canvas", "Circle", "NARROW"] and "x" not in labels
    assert not fallback_popup(TokenStream(text), len(text), 50, doc).candidates
    assert completer.inline(TokenStream(text), len(text), min_confidence=0.0) is not None  # the ghost text asks the same way


def test_a_name_a_from_import_binds_has_the_kind_its_module_says(project: Path, tiny_predictor) -> None:  # type: ignore[no-untyped-def]
    """`from pkg import area, Canvas, helpers`: a function, a class, a module (the roles alone said
    "module" for all three)."""
    doc = project / "main.py"
    text = "from pkg import area, Canvas, helpers\nimport json\nx = "
    for popup in (Completer(tiny_predictor, doc, ModuleIndex([project, *sys.path])).popup(TokenStream(text), len(text), 100),
                  fallback_popup(TokenStream(text), len(text), 100, doc)):
        kinds = {c.text: c.kind for c in popup.candidates}
        assert (kinds["area"], kinds["Canvas"], kinds["helpers"], kinds["json"]) == ("function", "class", "module", "module")


def test_a_class_s_names_include_its_bases_across_modules(project: Path) -> None:
    write(project, {
        "pkg/base.py": "class Root:\n    def zzq_root_method(self): ...\n",
        "pkg/nodes.py": "from pkg.base import Root\nclass Node(Root):\n    kind = 1\n    def __init__(self):\n        self.zzq_field = 2\n",
    })
    index = ModuleIndex([project])
    nodes = index.find("pkg.nodes")
    assert nodes is not None
    names = index.class_names(nodes, "Node")
    assert {k: names[k] for k in ("kind", "__init__", "zzq_field", "zzq_root_method")} == \
        {"kind": "field", "__init__": "method", "zzq_field": "field", "zzq_root_method": "method"}
    assert index.class_names(nodes, "Root") == {"zzq_root_method": "method"}  # imported: found in its own module
    assert index.class_names(nodes, "Missing") == {}


def test_a_subscripted_base_is_the_generic_class_it_parametrises(project: Path) -> None:
    write(project, {
        "pkg/core.py": "from typing import Generic, TypeVar\nST = TypeVar('ST')\n"
                       "class Parser(Generic[ST]):\n    def zzq_register(self): ...\n",
        "pkg/block.py": "from pkg.core import Parser\nclass BlockParser(Parser['State']):\n    def zzq_parse(self): ...\n",
    })
    index = ModuleIndex([project])
    block = index.find("pkg.block")
    assert block is not None
    assert block.classes["BlockParser"].bases == ["Parser"]
    assert {"zzq_register", "zzq_parse"} <= set(index.class_names(block, "BlockParser"))


def test_half_typed_annotations_are_no_type_and_no_error() -> None:
    """What a `for` over an annotated container gives, read off annotations being typed."""
    pieces = ["List[", "'List[", '"Iterator[', "Tuple[", "Tuple[A, ...", "Dict[", "Optional[", "typing.List[A]",
              "List['A']", "List[A", "]", "A", "'", "...", ",", "type", "cs"]
    rng = random.Random(7)
    index = ModuleIndex([])
    for _ in range(150):
        written = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 5)))
        for template in ("def f(cs: {}):\n    for c in cs:\n        c.", "class K(B[{}]):\n    cs: {} = []\n"
                         "    def g(self):\n        for c in self.cs:\n            c."):
            got = receiver_after(template.format(written, written), index)[0]
            assert got is None or got.why == "type", written  # a builtin container at most (`List[A`: none)


def test_a_class_with_a_base_heed_cannot_read_has_names_it_does_not_list(project: Path) -> None:
    write(project, {"pkg/kinds.py": "from nowhere_zq import Base\n"
                                    "class Headers(dict):\n    def zzq_h(self): ...\n"
                                    "class Wrapped(Base):\n    def zzq_w(self): ...\n"
                                    "from typing import NamedTuple\nclass Point(NamedTuple):\n    zzq_x: int\n"})
    index = ModuleIndex([project])
    kinds = index.find("pkg.kinds")
    assert kinds is not None
    assert {"zzq_h", "items", "setdefault"} <= index.class_names(kinds, "Headers").keys()  # a builtin base's names
    assert not index.class_is_open(kinds, "Headers") and index.class_is_open(kinds, "Wrapped")
    assert {"zzq_x", "_replace", "count"} <= index.class_names(kinds, "Point").keys() and not index.class_is_open(kinds, "Point")
    for text, is_open in (("from pkg.kinds import Wrapped\nw = Wrapped()\nw.", True),
                          ("from pkg.kinds import Headers\nh = Headers()\nh.", False),
                          ("from nowhere_zq import Base\nclass K(Base):\n    zzq_k = 1\nK().", True),
                          ("from typing import Generic\nclass K(Generic[T], object):\n    zzq_k = 1\nK().", False),
                          ("from typing import NamedTuple\nclass K(NamedTuple):\n    zzq_k: int\nK().", False)):
        got = receiver_after(text, index)[0]
        assert got is not None and got.why == "type" and got.open == is_open, text


@pytest.mark.parametrize("header, bases", [
    ("class A(B, c.D, metaclass=M):", ["B", "c.D"]),
    ("class A(Generic[T], E):", ["Generic", "E"]),
    ("class A:", []),
])
def test_header_bases(header: str, bases: list[str]) -> None:
    texts = [t.text for t in tokenize(header + "\n    pass\n")]
    assert header_bases(texts, 0) == bases


def test_after_self_the_popup_offers_what_the_bases_define(project: Path, tiny_predictor) -> None:  # type: ignore[no-untyped-def]
    write(project, {"pkg/base.py": "class Root:\n    def zzq_root_method(self): ...\n"})
    text = textwrap.dedent("""\
        from pkg.base import Root

        class Local:
            def zzq_local_method(self): ...

        class Mine(Local, Root):
            def run(self):
                return self.zzq""")
    popup = Completer(tiny_predictor, project / "main.py", ModuleIndex([project])).popup(TokenStream(text), len(text), 20)
    assert {c.text for c in popup.candidates} == {"zzq_local_method", "zzq_root_method"}
    # A name the document used before (so that the pointer gives it some probability) rises
    # when a base defines it.
    text = "zzq_root_method = 1\n" + text[: -len("zzq")]
    def prob(completer: Completer) -> float:
        popup = completer.popup(TokenStream(text), len(text), 400)
        return next(c.prob for c in popup.candidates if c.text == "zzq_root_method")
    predictor = load_predictor(None)  # the shipped model: it gives the name some probability here
    knows = prob(Completer(predictor, project / "main.py", ModuleIndex([project])))
    blind = prob(Completer(predictor, None, ModuleIndex([])))  # cannot find pkg.base
    assert knows > 1.5 * blind > 0


def test_modules_read_in_an_earlier_session_come_from_the_disk_cache(tmp_path, monkeypatch):
    """The server's look-up keeps what it collected from each module on disk (`ModuleCache`):
    the same module as from its source, and read from source again when the file changes or the
    entry is corrupt; a cache folder that cannot be written leaves the look-up working."""
    import os

    from heed.model.lookup import modules as modules_module
    from heed.model.workspace.module_cache import ModuleCache

    lib = tmp_path / "lib"
    (lib / "pkg").mkdir(parents=True)
    source = lib / "pkg" / "__init__.py"
    source.write_text("import os\n\nclass Engine:\n    def __init__(self):\n        self.wheel = Wheel()\n\n    def start(self) -> int:\n        return 1\n\nclass Wheel: ...\n\nLIMIT = 3\n")
    cache = tmp_path / "cache"

    def read() -> tuple[object, int]:
        index = ModuleIndex([lib])
        index.disk = ModuleCache(cache, roots=(str(lib),))
        parsed = []
        original = modules_module.ast.parse
        monkeypatch.setattr(modules_module.ast, "parse", lambda src: parsed.append(1) or original(src))
        module = index.find("pkg")
        monkeypatch.setattr(modules_module.ast, "parse", original)
        return module, len(parsed)

    first, parses = read()
    assert parses == 1 and {"Engine", "Wheel", "LIMIT"} <= set(first.names)
    again, parses = read()
    assert parses == 0 and again.names == first.names and again.classes.keys() == first.classes.keys()
    assert again.classes["Engine"].types == first.classes["Engine"].types and again.returns == first.returns
    source.write_text(source.read_text() + "EXTRA = 1\n")
    os.utime(source, ns=(1, 1))
    changed, parses = read()
    assert parses == 1 and "EXTRA" in changed.names
    for entry in cache.iterdir():
        entry.write_text("{not json")
    _, parses = read()
    assert parses == 1
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder would be")
    index = ModuleIndex([lib])
    index.disk = ModuleCache(blocked / "modules", roots=(str(lib),))
    assert "EXTRA" in index.find("pkg").names and index.disk.failed
    assert not ModuleCache(cache).holds(source)  # by default only the standard library's and installed packages' modules


def test_among_names_the_model_cannot_tell_apart_public_ones_come_first(project: Path, tiny_predictor) -> None:  # type: ignore[no-untyped-def]
    write(project, {"pkg/priv.py": "def _zzq_aa(): ...\ndef zzq_bb(): ...\n"})
    comp = Completer(tiny_predictor, project / "main.py", ModuleIndex([project]))
    text = "from pkg import priv\npriv."
    items = [c for c in comp.popup(TokenStream(text), len(text), 50).candidates if "zzq" in c.text]
    assert [c.text for c in items] == ["zzq_bb", "_zzq_aa"] and items[0].prob == items[1].prob > 0
    text = "from pkg import priv\npriv._"
    assert [c.text for c in comp.popup(TokenStream(text), len(text), 50).candidates if "zzq" in c.text] == ["_zzq_aa"]
