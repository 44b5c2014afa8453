"""`heed eval --projects`: it scores what the popup answers, on text cut at the cursor."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tokenize
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from heed.model.lookup.modules import ModuleIndex
from heed.model.runtime.completer import Completer, InlineSuggestion
from heed.model.runtime.predictor import Predictor
from heed.model.text.stream import TokenStream
from heed.model.training.positions import places, read_source, sample
from heed.model.training.projects import (
    METRICS,
    evaluate_projects,
    render,
    replay_file,
    score_file,
    typed_rows,
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, stdlib_files: Callable[..., list[Path]]) -> Path:
    """A small project of three real modules (from the standard library)."""
    root = tmp_path_factory.mktemp("project") / "proj"
    (root / "pkg").mkdir(parents=True)
    for path in stdlib_files(3, 6_000, 14_000, seed=5):
        shutil.copyfile(path, root / "pkg" / path.name)
    return root


def test_places_are_where_the_expected_text_stands(project: Path) -> None:
    for path in sorted((project / "pkg").glob("*.py")):
        text = read_source(path)
        assert text is not None
        found = places(text)
        assert all(found[k] for k in ("attribute", "identifier", "line"))
        for p in found["attribute"]:
            assert text[p.offset - 1] == "." and text.startswith(p.expected, p.offset)
        for p in found["identifier"]:
            assert text.startswith(p.expected, p.offset) and p.expected.isidentifier()
        for p in found["line"]:
            assert text[p.offset :].split("\n")[0].strip() == p.expected
        again = sample(found, {"attribute": 3, "line": 2}, "seed")
        assert again == sample(found, {"attribute": 3, "line": 2}, "seed") and len(again) == 5
        assert [p.offset for p in again] == sorted(p.offset for p in again)


def test_the_rank_scored_is_the_place_in_a_fresh_popup(tiny_predictor: Predictor, project: Path) -> None:
    """At a few hundred places of real files: the rank `heed eval --projects` records (typing the
    file forward, states warmed as the server warms them) is the expected name's place in the
    popup a fresh completer gives for the text cut at the cursor."""
    checked = 0
    for path in sorted((project / "pkg").glob("*.py")):
        text = read_source(path)
        assert text is not None
        chosen = sample(places(text), {"attribute": 45, "identifier": 45}, f"agree:{path.name}")
        score = score_file(tiny_predictor, path, text, chosen, ModuleIndex())
        got = {kind: iter(ranks) for kind, ranks in score.ranks.items()}
        for place in chosen:
            fresh = Completer(tiny_predictor, path, ModuleIndex(exclude=path))
            labels = [c.text for c in fresh.popup(TokenStream(text[: place.offset]), place.offset).candidates]
            expected_rank = labels.index(place.expected) + 1 if place.expected in labels else 0
            assert next(got[place.kind]) == expected_rank, (path.name, place)
            checked += 1
    assert checked >= 200


def test_the_report_gives_each_figure_an_interval(tiny_predictor: Predictor, project: Path) -> None:
    report = evaluate_projects(tiny_predictor, [project], max_files=3, progress=False)
    pooled = report["pooled"]
    assert pooled["files"] == report["projects"]["proj"]["files"] == 3
    for name in METRICS:
        m = pooled[name]
        top = float("inf") if name == "line_chars_shown" else 1  # characters, not a share
        assert m["n"] > 0 and 0 <= m["low"] <= m["value"] <= m["high"] <= top, (name, m)
    assert pooled["line_exact_shown"]["value"] <= pooled["line_right_shown"]["value"]
    assert pooled["attribute_top1"]["value"] <= pooled["attribute_top5"]["value"]
    assert pooled["line_exact"]["value"] <= pooled["line_similarity"]["value"]
    contexts = report["line_by_context"]  # every mid-line place in one of them, judged the same way
    assert sum(c["places"] for c in contexts.values()) == pooled["line_exact"]["n"]
    assert sum(c["exact"] * c["places"] for c in contexts.values()) == pytest.approx(
        pooled["line_exact"]["value"] * pooled["line_exact"]["n"])


def test_typing_through_a_line_asks_at_every_keystroke(tiny_predictor: Predictor, project: Path) -> None:
    """`--typing`: each chosen line typed from its indentation, a line place at every keystroke
    before its last character, with the rest of the line expected; the report scores the ghost text."""
    path = sorted((project / "pkg").glob("*.py"))[0]
    text = read_source(path)
    assert text is not None
    rows = typed_rows(places(text), 3, "seed")
    assert len(rows) == 3 and rows == sorted(rows) == typed_rows(places(text), 3, "seed")
    score = replay_file(tiny_predictor, path, text, rows, ModuleIndex())
    lines = [text.split("\n")[r] for r in rows]
    expected = [line.strip()[k:].strip() for line in lines for k in range(len(line.strip()))]
    assert [p.expected for p in score.lines] == [e for e in expected if e]
    assert not any(score.ranks.values())  # no popup asked
    report = evaluate_projects(tiny_predictor, [project], max_files=2, progress=False, typing=2)
    assert report["typing"] == 2 and report["pooled"]["line_shown"]["n"] > 20
    assert report["pooled"]["attribute_top1"]["n"] == 0
    assert "ident top1" not in render(report) and "exact if shown" in render(report)


def test_the_command_line_evaluates_projects(tiny_model_dir: Path, project: Path) -> None:
    cmd = [sys.executable, "-m", "heed", "eval", "--model", str(tiny_model_dir), "--projects", str(project),
           "--files-per-project", "1", "--json"]
    report = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    assert report["pooled"]["files"] == 1 and report["pooled"]["identifier_top5"]["n"] > 0
    missing = subprocess.run(cmd[:-4] + [str(project / "nowhere")], capture_output=True, text=True)
    assert missing.returncode == 1 and "not a folder" in missing.stderr


def one_line_statements(text: str) -> set[int]:
    """The 0-based rows that hold a whole simple statement on their own (not a block header, whose
    body below a suggestion would have to fit): Python's tokenizer decides."""
    rows, first, ended = set(), None, None
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.NL, tokenize.COMMENT):
            continue
        if ended is not None and tok.type != tokenize.INDENT:
            rows.add(ended)  # not followed by an indented block
        ended = None
        if tok.type in (tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        if tok.type == tokenize.NEWLINE:
            if first == tok.start[0]:
                ended = first - 1
            first = None
        elif first is None:
            first = tok.start[0]
    return rows


def test_the_ghost_text_shown_is_always_code(tiny_predictor: Predictor, project: Path) -> None:
    """At about a thousand places of real files typed up to the cursor, on lines that hold a whole
    simple statement: whatever the (random, tiny) model's ghost text shows, put in place of the rest of
    the line (a block header it makes given a body), leaves the whole file Python: it compiles."""
    checked = shown = 0
    for path in sorted((project / "pkg").glob("*.py")):
        text = read_source(path)
        assert text is not None
        rows = one_line_statements(text)
        completer = Completer(tiny_predictor, path, ModuleIndex(exclude=path))
        stream = TokenStream("")
        at = 0
        for place in sample(places(text), {"line": 300, "identifier": 300}, f"code:{path.name}"):
            if place.line not in rows:
                continue
            stream.edit(at, at, text[at : place.offset])
            at = place.offset
            line_end = text.find("\n", at)
            indent = text[at - place.col : at - place.col + len(text[at - place.col :]) - len(text[at - place.col :].lstrip())]
            # everything the completer could show, at any threshold: each suggestion and each cut of it
            texts = [(s.typed, t) for s in completer.inline(stream, at, budget_s=1.0, min_confidence=0.0, all_cuts=True)
                     for t in (s.text, *(c.text for c in s.cuts))]
            for typed, shown_text in texts:
                s = InlineSuggestion(shown_text, 0.0, True, typed)
                body = "\n" + indent + "    pass" if s.text.rstrip().endswith(":") else ""  # a new block header's body
                if body and (text[at - place.col : at - len(s.typed)] + s.typed + s.text).lstrip().startswith("try"):
                    body += "\n" + indent + "finally:\n" + indent + "    pass"  # ... and a try its clause
                edited = text[: at - len(s.typed)] + s.typed + s.text + body + text[line_end:]
                try:
                    with warnings.catch_warnings():  # what the compiler refuses or warns can never work; nothing run
                        warnings.simplefilter("error", SyntaxWarning)
                        compile(edited, str(path), "exec", dont_inherit=True)
                except (SyntaxError, SyntaxWarning) as exc:
                    raise AssertionError(f"{path.name}:{place.line + 1}: {text[at - place.col : at]!r} + {s.text!r}") from exc
                shown += 1
            checked += 1
    assert checked >= 900 and shown > 100
