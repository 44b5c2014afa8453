"""What a receiver holds, followed through the types the code shows (`lookup/receivers.py`:
`value_of`, `document_value`, `module_value`; `module_source.type_written`)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from heed.model.lookup.module_source import Module, annotation_type, collect
from heed.model.lookup.modules import ModuleIndex
from tests.test_modules import names_after, write

ENGINE = """
    class Wheel:
        def rotate(self, degrees: float) -> None: ...
        def inflate(self) -> None: ...

    class Engine:
        spare: "Wheel | None" = None
        def __init__(self):
            self.wheel = Wheel()
            self.log = []
        def start(self) -> None: ...
        def gearbox(self) -> "Gearbox": ...

    class Gearbox:
        def shift_up(self): ...

    class Turbo(Engine):
        pass

    class Car:
        def __init__(self, engine: Engine, spare: "Wheel | None" = None, tag=None):
            self.engine = engine
            self.spare = spare
            self.tag = tag

    def make_engine() -> Engine:
        return Engine()

    DEFAULT = Engine()
"""


@pytest.fixture
def garage(tmp_path: Path) -> Path:
    write(tmp_path, {"car/__init__.py": "", "car/engine.py": ENGINE})
    return tmp_path


def test_a_module_records_the_types_its_code_shows() -> None:
    module = Module("engine", None)
    collect(ast.parse(textwrap.dedent(ENGINE)).body, module)
    assert module.returns == {"make_engine": "Engine"}
    assert module.types == {"DEFAULT": "Engine()"}
    engine = module.classes["Engine"]
    assert engine.types == {"spare": "Wheel", "wheel": "Wheel()", "log": "list", "gearbox": "Gearbox"}
    assert module.classes["Car"].types == {"engine": "Engine", "spare": "Wheel"}  # parameters stored: `self.x = x`


@pytest.mark.parametrize("written, expected", [
    ("Foo", "Foo"), ("m.Foo", "m.Foo"), ("Optional[Foo]", "Foo"), ("Foo | None", "Foo"), ("'Foo'", "Foo"),
    ("list[Foo]", "list"), ("List[int]", "list"), ("Foo | Bar", ""), ("Callable[[int], str]", "Callable"),
])
def test_annotation_type(written: str, expected: str) -> None:
    assert annotation_type(ast.parse(written, mode="eval").body) == expected


HEAD = "from car.engine import Car, Engine, Turbo, make_engine\n"


@pytest.mark.parametrize("code, expected", [
    ("e = make_engine()\ne.", {"start", "gearbox", "wheel", "log", "spare"}),  # a function's return annotation
    ("make_engine().", {"start", "gearbox", "wheel", "log", "spare"}),
    ("make_engine().wheel.", {"rotate", "inflate"}),  # `self.wheel = Wheel()` in another module
    ("make_engine().gearbox().", {"shift_up"}),  # a method's return annotation, once called
    ("Turbo().wheel.", {"rotate", "inflate"}),  # an attribute a base class assigns
    ("def f(e: Engine):\n    e.spare.", {"rotate", "inflate"}),
    ("Car().engine.wheel.", {"rotate", "inflate"}),  # a parameter the class stored
    ("def f(e: Engine):\n    other = e\n    other.", {"start", "gearbox"}),  # a name given a parameter
])
def test_a_receiver_is_followed_through_other_modules(garage: Path, code: str, expected: set[str]) -> None:
    got = names_after(HEAD + code, ModuleIndex([garage]), garage / "main.py")
    assert got is not None and got[0] == "type"
    assert expected <= got[1]


@pytest.mark.parametrize("code", [
    "make_engine().start.",  # a method not called: its return type is not what it holds
    "make_engine().nothing.",
    "def f(e):\n    e.wheel.",  # nothing says what `e` is
    "Car().tag.",  # a parameter with no annotation, stored
])
def test_what_the_code_does_not_show_gives_no_names(garage: Path, code: str) -> None:
    assert names_after(HEAD + code, ModuleIndex([garage]), garage / "main.py") is None


def test_a_class_the_document_defines_is_followed_through_its_attributes(garage: Path) -> None:
    text = HEAD + textwrap.dedent("""\
        class Pump:
            def prime(self) -> None: ...
            def bleed(self) -> None: ...

        class Car:
            pump: Pump
            def __init__(self, spare: Pump):
                self.engine = make_engine()
                self.tags = {}
                self.spare = spare
            def parts(self) -> Pump: ...
            def drive(self):
        """) + "        "  # dedent empties a last line of spaces
    index = ModuleIndex([garage])
    for tail, expected in [("self.engine.", {"start", "wheel"}), ("self.engine.wheel.", {"rotate"}),
                           ("self.pump.", {"prime", "bleed"}), ("self.parts().", {"prime", "bleed"}),
                           ("self.tags.", {"items", "keys", "setdefault"}), ("Car().engine.wheel.", {"rotate"}),
                           ("self.spare.", {"prime", "bleed"})]:
        got = names_after(text + tail, index, garage / "main.py")
        assert got is not None and expected <= got[1], tail


@pytest.mark.parametrize("code, expected", [
    ("x = []\nx.", {"append", "extend"}), ("x = {}\nx.", {"items", "setdefault"}), ("x = 'a'\nx.", {"startswith", "join"}),
    ("x = b'a'\nx.", {"decode"}),
])
def test_literals_give_their_builtin_s_names(code: str, expected: set[str]) -> None:
    got = names_after(code, ModuleIndex([]))
    assert got is not None and expected <= got[1]
