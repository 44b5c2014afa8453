"""At an argument's start, the popup raises what the function called takes by keyword (`lookup/calls.py`)."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest
from lsprotocol import types

from heed.model.lookup.calls import CallSpot, call_spot, document_parameters, nameable, takes_position
from heed.model.lookup.classes import header_parameters
from heed.model.lookup.module_source import keyword_parameters
from heed.model.lookup.modules import ModuleIndex
from heed.model.runtime.completer import Completer
from heed.model.runtime.predictor import load_predictor
from heed.model.text.stream import TokenStream, tokenize
from heed.server.convert import completion_item


def texts(code: str) -> list[str]:
    """The token texts before the cursor at the end of `code` (the stream's end markers left out)."""
    out = [t.text for t in tokenize(code)]
    while out and not out[-1]:
        out.pop()
    return out


@pytest.mark.parametrize("code, expected", [
    ("x = f(", CallSpot(("f",), frozenset(), 0)),
    ("x = json.dumps(obj, ", CallSpot(("json", "dumps"), frozenset(), 1)),
    ("f(a, key=g(1, 2), ", CallSpot(("f",), frozenset({"key"}), 1)),
    ("f(*args, ", CallSpot(("f",), frozenset(), 0)),  # the positions `*args` takes are not known
    ("self.run(\n    1,\n    ", CallSpot(("self", "run"), frozenset(), 1)),
    ("super().__init__(a, ", CallSpot(("super()", "__init__"), frozenset(), 1)),
    ("def f(", None),  # a header, not a call
    ("class C(", None),
    ("x[0].get(", None),  # a callee heed does not read
    ("f(a)\ny = [", None),
    ("f(a, b", None),  # not at an argument's start
])
def test_where_a_call_s_argument_starts(code: str, expected: CallSpot | None) -> None:
    assert call_spot(texts(code)) == expected


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop/__init__.py").write_text("")
    (tmp_path / "shop/orders.py").write_text(textwrap.dedent("""
        def zzq_place(item, zzq_quantity=1, /, *, zzq_express=False, **options): ...
        class Base:
            def __init__(self, zzq_owner, zzq_budget=0): ...
            def zzq_checkout(self): ...
            def zzq_pay(self, zzq_card, zzq_tip=0): ...
        class Cart(Base): ...
        @dataclasses.dataclass(frozen=True)
        class Point:
            zzq_x: int
            zzq_y: "int" = 0
            zzq_origin: ClassVar[int] = 0
    """))
    return tmp_path


def labels(completer: Completer, code: str) -> dict[str, str]:
    return {c.text: c.kind for c in completer.popup(TokenStream(code), len(code), 50).candidates}


def test_the_popup_raises_the_parameters_of_the_function_called(project: Path, tiny_predictor) -> None:  # type: ignore[no-untyped-def]
    completer = Completer(tiny_predictor, project / "main.py", ModuleIndex([project, *sys.path]))
    # A module's function: positional-only parameters and `**options` cannot be named.
    got = labels(completer, "from shop.orders import zzq_place\nzzq_place(1, ")
    assert got.get("zzq_express") == "parameter" and "zzq_quantity" not in got and "options" not in got
    # A class: its base's `__init__`; what the call names already, or gave by position, is not offered.
    got = labels(completer, "from shop import orders\norders.Cart(zzq_budget=3, ")
    assert got.get("zzq_owner") == "parameter" and "zzq_budget" not in got
    assert "zzq_owner" not in labels(completer, "from shop import orders\norders.Cart(1, ")
    # A dataclass takes its fields.
    got = labels(completer, "from shop.orders import Point\nPoint(1, ")
    assert got.get("zzq_y") == "parameter" and "zzq_x" not in got and "zzq_origin" not in got
    code = "@dataclasses.dataclass(frozen=True)\nclass zzq_P:\n    zzq_a: int\n    zzq_b: int = 0\n    def f(self):\n" \
        "        zzq_local: int = 1\nzzq_P(1, "
    assert document_parameters(texts(code), "zzq_P") == ["zzq_a", "zzq_b"]  # not the method's local
    # The document's own function, and a method through `self`.
    code = "class K:\n    def zzq_go(self, zzq_fast, zzq_slow=0):\n        self.zzq_go("
    assert labels(completer, code).get("zzq_fast") == "parameter"
    assert labels(completer, "def zzq_f(zzq_a, *, zzq_b):\n    pass\nzzq_f(1, ").get("zzq_b") == "parameter"
    # `super().__init__(`: the base's, whether the document or a module defines it.
    code = "class zzq_B:\n    def __init__(self, zzq_depth):\n        pass\nclass C(zzq_B):\n    def __init__(self):\n        super().__init__("
    assert labels(completer, code).get("zzq_depth") == "parameter"
    code = "from shop.orders import Cart\nclass C(Cart):\n    def __init__(self):\n        super().__init__("
    assert labels(completer, code).get("zzq_owner") == "parameter"
    # `super().`: what the bases define.
    code = "from shop.orders import Cart\nclass C(Cart):\n    def zzq_run(self):\n        super()."
    assert labels(completer, code).get("zzq_checkout") == "method"
    # A value's method, where the code shows its type: a builtin's, a module's class's, the document's class's.
    assert labels(completer, "zzq_items = []\nzzq_items.sort(").get("reverse") == "parameter"
    got = labels(completer, "from shop.orders import Cart\nc = Cart(1)\nc.zzq_pay(zzq_card, ")  # the base's method
    assert got.get("zzq_tip") == "parameter" and got.get("zzq_card") != "parameter"
    code = "class K:\n    def zzq_go(self, zzq_fast, *, zzq_gear=1):\n        pass\ndef run(k: K):\n    k.zzq_go(1, "
    assert labels(completer, code).get("zzq_gear") == "parameter"
    # A builtin, by its signature.
    assert labels(completer, "print('a', ").get("sep") == "parameter"
    # A name that is a value here is offered as that value, not as `name=`.
    assert labels(completer, "zzq_b = 1\ndef zzq_f(zzq_a, *, zzq_b):\n    pass\nzzq_f(1, ").get("zzq_b") == "variable"


def test_a_parameter_is_completed_with_its_equals_sign(project: Path, tiny_predictor) -> None:  # type: ignore[no-untyped-def]
    completer = Completer(tiny_predictor, project / "main.py", ModuleIndex([project, *sys.path]))
    code = "print('a', "
    item = next(c for c in completer.popup(TokenStream(code), len(code), 50).candidates if c.text == "sep")
    at = types.Range(types.Position(0, len(code)), types.Position(0, len(code)))
    converted = completion_item(item, 0, at, {})
    assert converted.label == "sep=" and converted.text_edit.new_text == "sep="  # type: ignore[union-attr]


def test_after_a_keyword_argument_picked_in_the_popup_the_ghost_text_is_its_value(project: Path) -> None:
    """VS Code asks for ghost text with the popup's selection (`sep=`): the suggestion goes on after
    it (the bundled model: an untrained one makes nothing that parses)."""
    completer = Completer(load_predictor(), project / "main.py", ModuleIndex([project, *sys.path]))
    code = "print('a', "
    got = completer.inline(TokenStream(code), len(code), selected="sep=", min_confidence=0.0)
    assert got and all(s.typed == "sep=" for s in got)
    for s in got:
        compile(code + s.typed + s.text, "<ghost>", "exec")  # the value, and the call closed


def test_what_a_call_can_still_take() -> None:
    """`json.dump(obj, f, |`: the positions are taken, only keyword-only parameters are left."""
    dump = ["obj", "fp", "*skipkeys", "*indent"]
    assert nameable(dump, 2, frozenset({"indent"})) == ["skipkeys"] and not takes_position(dump, 2)
    assert takes_position(dump, 1) and takes_position(["a", "...", "*key"], 5)  # `*args` takes any more
    assert nameable(["/a", "b", "...", "*c"], 0, frozenset()) == ["b", "c"]  # positional-only: never by name
    source = "def f(a, /, b, *args, c, **kw): ...\n"
    assert keyword_parameters(ast.parse(source).body[0]) == ["/a", "b", "...", "*c"]  # type: ignore[arg-type]
    assert header_parameters(texts("def f(self, a, *args, c, **kw):"), 2) == ["a", "...", "*c"]
