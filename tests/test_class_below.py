"""After `self.`, what the class defines below the cursor counts as it does above (`lookup/class_below.py`)."""

from __future__ import annotations

from heed.model.lookup.class_below import class_below, parameters_below
from heed.model.lookup.modules import ModuleIndex
from heed.model.runtime.completer import Completer
from heed.model.text.stream import TokenStream

ENGINE = """import os

class Engine:
    wheels = 4

    def __init__(self, size):
        self.size = size
        self.|

    def zzq_refuel(self, amount):
        def helper():
            pass
        self.zzq_tank: int = amount
        if self.zzq_level == 1:
            pass

    zzq_limit = 3

def after(self):
    self.not_a_member = 1
"""


def cursor(text: str) -> tuple[str, int]:
    return text.replace("|", ""), text.index("|")


def test_the_class_s_methods_and_attributes_below_the_cursor() -> None:
    text, at = cursor(ENGINE)
    # Not a nested function, not a comparison, nothing after the class ends.
    assert class_below(text, at) == {"zzq_refuel": "method", "zzq_tank": "field", "zzq_limit": "field"}
    assert class_below(*cursor("def f():\n    self.|\n    def g(self): pass\n")) == {}  # not in a class
    assert class_below(*cursor("class A:\n    def f(self):\n        self.|")) == {}  # nothing below
    assert class_below(*cursor("class A:\n    def f(self):\n        self.|\n\n\n    def g(self): pass\n")) == {"g": "method"}


def test_after_self_the_popup_lists_what_the_class_defines_below(tiny_predictor) -> None:  # type: ignore[no-untyped-def]
    text, at = cursor(ENGINE)
    popup = Completer(tiny_predictor, None, ModuleIndex([])).popup(TokenStream(text), at, 50)
    kinds = {c.text: c.kind for c in popup.candidates}
    assert kinds.get("zzq_refuel") == "method" and kinds.get("zzq_tank") == "field" and "not_a_member" not in kinds
    # Typed up to the cursor (as `heed eval` types a file) there is nothing below to read.
    typed = Completer(tiny_predictor, None, ModuleIndex([])).popup(TokenStream(text[:at]), at, 50)
    assert "zzq_refuel" not in {c.text for c in typed.candidates}


def test_a_function_or_method_defined_below_the_cursor_gives_its_parameters() -> None:
    text = "x = zzq_helper(\n\ndef zzq_helper(a, b=1, *, c=')'):\n    pass\nclass K:\n    def go(self, fast, /, slow):\n        pass\n"
    assert parameters_below(text, 15, "zzq_helper") == ["a", "b", "*c"]  # a `)` in a default's string
    assert parameters_below(text, 15, "go") == ["/fast", "slow"]  # `self` left out
    assert parameters_below(text, 15, "nope") is None
    assert parameters_below("f(\ndef f(a, b", 2, "f") is None  # a header not finished


def test_a_call_offers_the_parameters_of_a_method_defined_below(tiny_predictor) -> None:  # type: ignore[no-untyped-def]
    text, at = cursor("class K:\n    def run(self):\n        self.zzq_go(1, |)\n\n    def zzq_go(self, a, zzq_fast=False):\n        pass\n")
    popup = Completer(tiny_predictor, None, ModuleIndex([])).popup(TokenStream(text), at, 50)
    assert {c.text: c.kind for c in popup.candidates}.get("zzq_fast") == "parameter"
