"""The workspace index (`model/workspace/index.py`): what it finds, what it answers, its slices,
its cache, and what the completer does with it (the project's names and n-grams)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heed.model.lookup.auto_import import import_edit
from heed.model.lookup.modules import ModuleIndex
from heed.model.runtime.completer import Completer
from heed.model.text.stream import TokenStream
from heed.model.workspace import index as index_mod
from heed.model.workspace.index import WorkspaceIndex, dotted_name
from tests.test_modules import write

ENGINE = """
    class Engine:
        def start(self) -> None: ...

    def make_engine() -> Engine:
        return Engine()

    LIMIT = 3
"""
CAR = """
    from garage.engine import Engine, make_engine

    def drive():
        engine = make_engine()
        engine.start()
"""


@pytest.fixture
def garage(tmp_path: Path) -> Path:
    write(tmp_path, {"garage/__init__.py": "", "garage/engine.py": ENGINE, "garage/car.py": CAR,
                     "garage/tools/__init__.py": "", "garage/tools/jack.py": "def lift_engine(): ...\n"})
    return tmp_path


def built(root: Path, **kw) -> WorkspaceIndex:  # type: ignore[no-untyped-def]
    return WorkspaceIndex([root], ModuleIndex([root]), cache_folder=root.parent / f"{root.name}-cache", **kw).build()


def test_the_project_s_names_with_their_kind_module_and_line(garage: Path) -> None:
    index = built(garage)
    got = {(n.name, n.kind, n.module, n.line) for n in index.names("")}
    assert {("Engine", "class", "garage.engine", 2), ("make_engine", "function", "garage.engine", 5),
            ("LIMIT", "variable", "garage.engine", 8), ("lift_engine", "function", "garage.tools.jack", 1)} <= got
    assert "drive" in {n.name for n in index.names("dr")}
    assert not {n.name for n in index.names("")} & {"make_engine"} - {n.name for n in index.names("make")}
    assert all(n.name != "Engine" or n.module == "garage.engine" for n in index.names(""))  # imports are not definitions
    index.leave_out = garage / "garage/engine.py"  # `heed eval`: the file under evaluation is not there
    assert not index.names("make_")


def test_dotted_name(garage: Path) -> None:
    assert dotted_name(garage / "garage/tools/jack.py") == "garage.tools.jack"
    assert dotted_name(garage / "garage/__init__.py") == "garage"


def test_the_project_s_ngrams_and_leaving_a_file_out(garage: Path) -> None:
    index = built(garage)
    assert index.ngrams is not None
    after = index.ngrams.continuations(index.key_numbers(["from", "garage", "."]))
    assert after.longest == 3 and np.isclose(after.probs.sum(), 1)
    assert after.keys[int(np.argmax(after.probs))] == "engine"  # what followed all three tokens, over `.` alone
    car = str(garage / "garage/car.py")
    assert not index.ngrams.continuations(index.key_numbers(["from", "garage", "."]), leave_out=car).keys
    assert index.key_numbers(["never_in_the_project"]) == [-1]


def test_refresh_follows_new_changed_and_deleted_files(garage: Path) -> None:
    index = built(garage)
    (garage / "garage/brakes.py").write_text("class Brake: ...\n")
    index.refresh(garage / "garage/brakes.py")
    assert not index.ready
    index.build()
    assert [n.module for n in index.names("Brake")] == ["garage.brakes"]
    (garage / "garage/brakes.py").unlink()
    index.refresh(garage / "garage/brakes.py")
    index.build()
    assert not index.names("Brake")
    index.refresh(garage.parent / "elsewhere.py")  # outside the workspace: nothing to do
    assert index.ready


def test_a_step_does_a_slice_of_the_work_and_resumes(garage: Path) -> None:
    write(garage, {"garage/big.py": "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(3000))})
    index = WorkspaceIndex([garage], ModuleIndex([garage]), use_cache=False)
    steps = 0
    while not index.step(0.0):  # each step does at least one unit of work: a few lines of a big file
        steps += 1
    assert steps > 40  # the 6,000-line file was read over many slices
    assert [n.name for n in index.names("f2999")] == ["f2999"] and index.names("f0")


def test_a_restart_reads_the_cache_not_the_sources(garage: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = built(garage)
    monkeypatch.setattr(index_mod, "readable_source", lambda path: pytest.fail(f"{path} read again"))
    second = built(garage)
    assert {n.name for n in second.names("")} == {n.name for n in first.names("")}
    monkeypatch.undo()
    entries = list((garage.parent / f"{garage.name}-cache").rglob("*.json"))
    assert len(entries) == len(first.files)
    entries[0].write_text("{not json")  # a corrupt entry is read again from the source
    third = built(garage)
    assert third.stats()["cache_entries_dropped"] == 1 and len(third.files) == len(first.files)


def test_unreadable_and_odd_files_are_skipped_and_counted(garage: Path) -> None:
    (garage / "garage/blob.py").write_bytes(b"\x00\x01binary")
    (garage / "garage/latin.py").write_bytes("x = 'caf\xe9'\n".encode("latin-1"))
    (garage / "garage/broken.py").write_text("def broken(:\n")
    index = built(garage)
    assert index.stats()["skipped"] == {"binary": 1, "not UTF-8": 1}
    assert garage / "garage/broken.py" in index.files  # its tokens still count; it has no symbols
    assert index.files[garage / "garage/broken.py"].module is None


def completer(garage: Path, tiny_predictor) -> tuple[Completer, WorkspaceIndex]:  # type: ignore[no-untyped-def]
    modules = ModuleIndex([garage])
    index = WorkspaceIndex([garage], modules, use_cache=False).build()
    return Completer(tiny_predictor, garage / "garage/new.py", modules, index), index


def test_the_popup_offers_the_project_s_names_with_where_they_are_defined(garage: Path, tiny_predictor) -> None:  # type: ignore[no-untyped-def]
    comp, _ = completer(garage, tiny_predictor)
    text = "def run():\n    return make_"
    items = {c.text: c for c in comp.popup(TokenStream(text), len(text)).candidates}
    assert items["make_engine"].source == "project" and items["make_engine"].kind == "function"
    assert items["make_engine"].where == "garage.engine:5" and items["make_engine"].import_from == "garage.engine"
    comp.workspace = None
    assert "make_engine" not in {c.text for c in comp.popup(TokenStream(text), len(text)).candidates}


def test_the_project_s_ngrams_bring_its_names_to_an_import_line(garage: Path, tiny_predictor) -> None:  # type: ignore[no-untyped-def]
    comp, index = completer(garage, tiny_predictor)
    text = "from garage.engine import "
    with_index = {c.text: c.prob for c in comp.popup(TokenStream(text), len(text), 400).candidates}
    index.leave_out = garage / "garage/car.py"  # the only file with that import line
    comp2 = Completer(tiny_predictor, garage / "garage/new.py", ModuleIndex([garage]), index)
    without = {c.text: c.prob for c in comp2.popup(TokenStream(text), len(text), 400).candidates}
    # The module's names all get the look-up's floor (`lookup/import_spot.py`); what followed that
    # import elsewhere gets more.
    assert without["Engine"] == without["make_engine"] > 0 and with_index["Engine"] > 1.5 * with_index["make_engine"]


@pytest.mark.parametrize("text, expected", [
    ('"""Doc,\n\nover lines."""\nimport os\nfrom x import (\n    a,\n    b,\n)\n\nclass A:\n    import late\n', 8),
    ("#!/usr/bin/env python\n'''Doc.'''\n\ndef f(): ...\n", 2),
    ("from __future__ import annotations\nx = 1\n", 1),
    ("x = 1\n", 0),
    ("import a, \\\n    b\nclass C: ...\n", 2),
])
def test_the_import_goes_after_the_header_s_imports(text: str, expected: int) -> None:
    assert import_edit(text, "garage.engine", "Engine") == (expected, "from garage.engine import Engine\n")


def test_no_import_where_the_document_has_it() -> None:
    assert import_edit("from garage.engine import make_engine, Engine\n", "garage.engine", "Engine") is None
    assert import_edit("from garage.engine import Engines\n", "garage.engine", "Engine") is not None


def test_a_workspace_of_nothing_and_a_missing_root_are_empty(tmp_path: Path) -> None:
    assert built(tmp_path).stats()["files"] == 0
    assert WorkspaceIndex([tmp_path / "gone"], use_cache=False).build().stats()["files"] == 0


def test_a_file_outside_the_project_does_not_use_its_index(garage: Path, tmp_path_factory, tiny_predictor) -> None:  # type: ignore[no-untyped-def]
    _, index = completer(garage, tiny_predictor)
    outside = tmp_path_factory.mktemp("library") / "lib.py"
    text = "from garage.engine import "
    inside = Completer(tiny_predictor, garage / "garage/new.py", ModuleIndex([garage]), index)
    elsewhere = Completer(tiny_predictor, outside, ModuleIndex([garage]), index)
    assert inside.in_project and not elsewhere.in_project and index.holds(garage / "garage" / ".." / "garage/x.py")
    # The module's names get the look-up's floor in both; the project's n-grams raise `Engine` inside only.
    probs = [{c.text: c.prob for c in comp.popup(TokenStream(text), len(text), 400).candidates} for comp in (inside, elsewhere)]
    assert probs[0]["Engine"] > 1.5 * probs[0]["make_engine"] and probs[1]["Engine"] == probs[1]["make_engine"]
    assert not elsewhere.popup(TokenStream("make_"), 5).candidates


def test_after_a_dot_the_project_s_ngrams_weigh_more(garage: Path, tiny_predictor) -> None:  # type: ignore[no-untyped-def]
    """What the project puts after `engine .` is what an engine has: after a dot the project's
    n-grams weigh PROJECT_AFTER_DOT times what they weigh elsewhere (the document's, less)."""
    from heed.model.runtime import ngram
    from heed.model.runtime.context import cursor_context

    comp, _ = completer(garage, tiny_predictor)
    text = "def go():\n    engine."
    inputs = cursor_context(TokenStream(text), len(text), comp.encoder).inputs
    project = comp._project()
    assert project is not None and comp.encoder is not None
    plain = project.guess(ngram.identities(inputs.ids, inputs.ext))
    assert plain.weight > 0 and comp.encoder.text_of(int(plain.tokens[np.argmax(plain.probs)])) == "start"
    adjuster = tiny_predictor.adjuster(inputs, project=project)
    _, guess = adjuster.mix(np.full(comp.encoder.n_ext, 1e-4, np.float32), tiny_predictor.answerable)
    assert ngram.PROJECT_AFTER_DOT > 1 and guess.weight == pytest.approx(plain.weight * ngram.PROJECT_AFTER_DOT)
    assert "start" in {c.text for c in comp.popup(TokenStream(text), len(text)).candidates if c.prob > 0}
