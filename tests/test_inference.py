"""Inference with a tiny random model: the state cache gives what a fresh run gives after any
edits, beam search stops at line ends, and explanations point at real lines."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heed.model.nn.numpy_net import NumpyNet, mixture
from heed.model.runtime import ngram
from heed.model.runtime.beam import OPENERS, STOP_KEYS, beam_search
from heed.model.runtime.completer import Completer
from heed.model.runtime.context import cursor_context
from heed.model.runtime.encoding import DocEncoder, Encoded
from heed.model.runtime.predictor import CHECKPOINT, Features, Predictor
from heed.model.text import lexer
from heed.model.text.causal_roles import last_role
from heed.model.text.stream import TokenStream

INSERTS = ["self.", "x = foo(", "bar", "(", ")", "\n", "\n    ", "import os\n", "'", "#", ".", ", ", "value_",
           "def g(a, b):\n    return a.", "\n\n", "zz_new_name"]

# The random tiny model writes lines that are seldom code: the tests of how the decoder ends and
# shapes a line look at them all, unfiltered by the syntax check (tested in tests/test_projects.py).
UNCHECKED = Features(syntax_check=False)


def assert_same_popup(got, want) -> None:  # type: ignore[no-untyped-def]
    assert (got.prefix, got.model_used) == (want.prefix, want.model_used)
    assert [(c.text, c.kind, c.source) for c in got.candidates] == [(c.text, c.kind, c.source) for c in want.candidates]
    np.testing.assert_allclose([c.prob for c in got.candidates], [c.prob for c in want.candidates], rtol=1e-5, atol=1e-8)


edits = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 25), st.sampled_from(INSERTS), st.booleans()), min_size=1, max_size=3)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=edits)
def test_incremental_popup_equals_a_fresh_one(tiny_predictor: Predictor, sample_source: str,
                                              edits: list[tuple[float, int, str, bool]]) -> None:
    """Edits applied to one stream, one Completer (and its state cache) throughout, against a
    fresh stream and a fresh Completer on the same text, at the cursor after each edit (after
    some, the document is warmed first, as the server does when typing pauses)."""
    stream = TokenStream(sample_source)
    completer = Completer(tiny_predictor)
    completer.popup(stream, len(sample_source))  # fill the cache
    for where, delete, insert, warm in edits:
        start = int(where * len(stream.text))
        stream.edit(start, min(start + delete, len(stream.text)), insert)
        if warm:
            completer.warm(stream)
        cursor = start + len(insert)
        assert_same_popup(completer.popup(stream, cursor), Completer(tiny_predictor).popup(TokenStream(stream.text), cursor))
    # and at the end of the document, where the cached states reach furthest
    end = len(stream.text)
    assert_same_popup(completer.popup(stream, end), Completer(tiny_predictor).popup(TokenStream(stream.text), end))


def test_an_edit_near_the_end_runs_few_tokens(tiny_predictor: Predictor, sample_source: str) -> None:
    stream = TokenStream(sample_source)
    completer = Completer(tiny_predictor)
    completer.popup(stream, len(stream.text))
    context = len(cursor_context(stream, len(stream.text), completer.encoder).inputs)  # type: ignore[arg-type]
    assert completer.states.tokens_run == context > 10 * CHECKPOINT  # the first request runs everything
    end = len(stream.text)
    for i, ch in enumerate("y = fnma"):
        stream.edit(end + i, end + i, ch)
        popup = completer.popup(stream, end + i + 1)
        assert popup.model_used
        assert completer.states.tokens_run <= 2 * CHECKPOINT, (ch, completer.states.tokens_run)
    assert_same_popup(popup, Completer(tiny_predictor).popup(TokenStream(stream.text), len(stream.text)))
    # an edit at the top invalidates everything after it
    stream.edit(0, 0, "import sys\n")
    completer.popup(stream, len(stream.text))
    assert completer.states.tokens_run > context


# -- beam search ------------------------------------------------------------------------------------


def _favouring(predictor: Predictor, token: str, by: float) -> NumpyNet:
    """The predictor's network, with `token`'s vocabulary score raised by `by` everywhere."""
    bias = predictor.model.weights["decoder_bias"].copy()
    bias[predictor.vocab.index[token]] += by
    return predictor.model.with_weights({"decoder_bias": bias})


@pytest.fixture
def newline_happy_predictor(tiny_predictor: Predictor) -> Predictor:
    """The tiny model, made to end lines often, so that beams finish within a few tokens."""
    return Predictor(_favouring(tiny_predictor, "<newline>", 4.0), tiny_predictor.vocab, tiny_predictor.meta, features=UNCHECKED)


def _ext_of(encoder: DocEncoder, text: str) -> int:
    vid = encoder.vocab.index.get(text)
    return vid if vid is not None else len(encoder.vocab) + encoder.oov[text]


def _score(predictor: Predictor, encoder: DocEncoder, out, tokens: list[str],  # type: ignore[no-untyped-def]
           line_before: list[str]):
    """log p(tokens) fed the way beam search feeds them (with their causal roles), and the
    distribution after them."""
    n_ext = encoder.n_ext
    total = 0.0
    for i, text in enumerate(tokens):
        probs = mixture(out, n_ext, predictor.beam_answers)[0]
        ext = _ext_of(encoder, text)
        total += math.log(max(float(probs[ext]), 1e-12))
        last = np.array([[ext]])
        ids = np.where(last < len(predictor.vocab), last, predictor.vocab.unk)
        role = np.array([[last_role([*line_before, *tokens[: i + 1]])]])
        out = predictor.model(ids, role, last, out.state)
    return total, mixture(out, n_ext, predictor.beam_answers)[0]


def _depth(tokens: list[str]) -> int:
    return sum(t in OPENERS for t in tokens) - sum(t in ")]}" for t in tokens)


@pytest.mark.parametrize("cursor_text", ["\n    name = ", "\n    return os.path.join(pat, "])
def test_beam_search_ends_at_line_ends(newline_happy_predictor: Predictor, sample_source: str, cursor_text: str) -> None:
    predictor = newline_happy_predictor
    stream = TokenStream(sample_source.rstrip("\n") + cursor_text)
    completer = Completer(predictor)
    encoder = completer.encoder
    assert encoder is not None
    ctx = cursor_context(stream, len(stream.text), encoder)
    out = completer.states.advance(predictor, ctx.inputs, ctx.origin)
    hyps = beam_search(predictor, out, encoder, width=4, max_tokens=8, budget_s=60.0, alternatives=6,
                       line_before=ctx.line_before)
    assert hyps
    keys = [(not h.complete, -h.logp) for h in hyps]
    assert keys == sorted(keys)  # lines that end first, each group most probable first
    assert len({tuple(h.tokens) for h in hyps}) == len(hyps)
    assert any(h.complete for h in hyps)
    stops = [predictor.vocab.index[k] for k in STOP_KEYS]
    for h in hyps:
        assert h.tokens and len(h.tokens) <= 8 and h.logp <= 0
        assert not any(t in STOP_KEYS or "\n" in t for t in h.tokens)
        if not h.complete:
            continue
        if h.tokens[-1] in ")]}" and _depth(h.tokens) < 0:
            logp, _ = _score(predictor, encoder, out, h.tokens, ctx.line_before)  # closed a bracket opened before the cursor
            assert math.isclose(logp, h.logp, abs_tol=1e-3)
        else:
            logp, after = _score(predictor, encoder, out, h.tokens, ctx.line_before)  # then the line ended
            assert any(math.isclose(logp + math.log(float(after[s])), h.logp, abs_tol=1e-3) for s in stops), h
    suggestions = completer.inline(stream, len(stream.text), budget_s=60.0)
    assert suggestions and all("\n" not in s.text and "\r" not in s.text for s in suggestions)


# -- explanations ------------------------------------------------------------------------------------


def _check_explanation(exp, text: str, lines: list[str], keys: int) -> None:  # type: ignore[no-untyped-def]
    assert exp is not None and exp.text == text
    weights = exp.weights
    assert len(weights) == keys  # the window and the far memory (full in these files)
    assert math.isclose(sum(w[-1] for w in weights), 1.0, abs_tol=1e-4)
    for entry in weights:
        line, token = entry[0], entry[-2]
        assert 1 <= line <= len(lines)
        if token.strip():
            assert token.splitlines()[0] in lines[line - 1], (entry, lines[line - 1])
        if len(entry) == 4 and token:  # (line, col, text, weight)
            assert lines[line - 1][entry[1]:].startswith(token.splitlines()[0]), entry
    assert exp.spans and [s[2] for s in exp.spans] == sorted((s[2] for s in exp.spans), reverse=True)
    for line, code, _ in exp.spans:
        assert 1 <= line <= len(lines) and code == lines[line - 1].strip()
    if exp.source == "pointer":
        assert exp.copied_from is not None and text in lines[exp.copied_from - 1]
        assert exp.pointer_prob > exp.vocab_prob


def test_explain(tiny_predictor: Predictor, sample_source: str) -> None:
    text = sample_source.rstrip("\n") + "\n\nzz_unique_name = compile(pat)\nprint(zz_unique_name.match(name), "
    lines = text.splitlines()
    stream = TokenStream(text)
    completer = Completer(tiny_predictor)
    window = tiny_predictor.model.config.window + tiny_predictor.model.config.far
    popup = completer.popup(stream, len(text))
    assert popup.model_used
    model_candidates = [c for c in popup.candidates if c.source != "scope"]
    assert model_candidates
    for cand in model_candidates[:5]:
        exp = completer.explain(stream, len(text), cand.text)
        _check_explanation(exp, cand.text, lines, window)
        assert math.isclose(exp.prob, cand.prob, rel_tol=1e-5)
        assert exp.source == cand.source
    # a name outside the vocabulary can only come from the pointer, copied from where it stands
    assert "zz_unique_name" not in tiny_predictor.vocab.index
    exp = completer.explain(stream, len(text), "zz_unique_name")
    _check_explanation(exp, "zz_unique_name", lines, window)
    assert exp.source == "pointer" and exp.vocab_prob == 0 and exp.prob > 0
    assert exp.copied_from in (len(lines) - 1, len(lines))
    # a name the window does not hold gets nothing from the pointer
    exp = completer.explain(stream, len(text), "never_seen_anywhere")
    assert exp is not None and exp.prob == 0 and exp.copied_from is None


def test_the_pointer_copies_a_name_from_beyond_the_window(tiny_predictor: Predictor) -> None:
    """A name outside the vocabulary, used once at the top and then out of the window's reach, is
    still offered: from the far memory, and explained by the line it stands on."""
    text = "zz_far_name = 1\n" + "(1, 2, 3)\n" * 12 + "print("
    stream = TokenStream(text)
    completer = Completer(tiny_predictor)
    popup = completer.popup(stream, len(text))
    assert "zz_far_name" in [c.text for c in popup.candidates if c.source != "scope"]
    exp = completer.explain(stream, len(text), "zz_far_name")
    assert exp is not None and exp.prob > 0 and exp.vocab_prob == 0 and exp.copied_from == 1


def test_no_prediction_inside_strings_and_comments(tiny_predictor: Predictor) -> None:
    completer = Completer(tiny_predictor)
    for text in ["x = 'abc", "x = 1  # note", "def f():\n    x = 1 # no", 's = """doc\nmore']:
        stream = TokenStream(text)
        popup = completer.popup(stream, len(text))
        assert popup.candidates == [] and completer.explain(stream, len(text), "x") is None
        assert completer.inline(stream, len(text)) == []


def test_beam_search_does_not_close_brackets_that_are_not_open(tiny_predictor: Predictor, sample_source: str) -> None:
    predictor = Predictor(_favouring(tiny_predictor, ")", 8.0), tiny_predictor.vocab, tiny_predictor.meta)
    stream = TokenStream(sample_source.rstrip("\n") + "\n    name = ")
    completer = Completer(predictor)
    assert completer.encoder is not None
    ctx = cursor_context(stream, len(stream.text), completer.encoder)
    assert _depth(ctx.line_before) == 0
    out = completer.states.advance(predictor, ctx.inputs, ctx.origin)
    hyps = beam_search(predictor, out, completer.encoder, width=4, max_tokens=8, budget_s=60.0)
    assert hyps
    for h in hyps:
        assert all(_depth(h.tokens[: i + 1]) >= 0 for i in range(len(h.tokens))), h


# -- warming -----------------------------------------------------------------------------------------


def test_a_warm_document_answers_anywhere_from_a_nearby_state(tiny_predictor: Predictor, sample_source: str) -> None:
    """After `warm`, a request anywhere runs the tokens since the last kept state; typing
    a line and taking it back leaves the warm states good for the next place."""
    stream = TokenStream(sample_source)
    completer = Completer(tiny_predictor)
    completer.warm(stream)
    everything = completer.states.tokens_run
    assert completer.states.base is not None and everything > 20 * tiny_predictor.chunk
    completer.warm(stream)  # already warm: nothing to run
    assert completer.states.tokens_run == everything
    lines = sample_source.splitlines(keepends=True)
    places = [i for i, line in enumerate(lines) if line.startswith("        ") and line.lstrip().startswith(("return ", "if "))]
    places = places[:: max(len(places) // 4, 1)][:4]
    assert len(places) == 4
    for i in places:
        at = sum(len(line) for line in lines[:i])
        typed = lines[i][: len(lines[i]) - len(lines[i].lstrip())] + "res = "
        stream.edit(at, at, typed + "\n")  # a new line, as Enter makes it
        for j, ch in enumerate("fnma"):
            stream.edit(at + len(typed) + j, at + len(typed) + j, ch)
            cursor = at + len(typed) + j + 1
            popup = completer.popup(stream, cursor)
            assert popup.model_used and completer.states.tokens_run <= 3 * tiny_predictor.chunk, (i, completer.states.tokens_run)
            assert_same_popup(popup, Completer(tiny_predictor).popup(TokenStream(stream.text), cursor))
        stream.edit(at, at + len(typed) + 5, "")  # taken back
        assert stream.text == sample_source


def test_a_quick_request_on_a_cold_document_reads_a_short_context(tiny_predictor: Predictor, sample_source: str) -> None:
    """The server's requests are quick: far from any cached state they read only the last
    QUICK_POPUP (to 1.25 x QUICK_POPUP) tokens; once the document is warm, the full context again."""
    from heed.model.runtime.completer import QUICK_POPUP as quick

    text = sample_source * 3  # long enough
    stream = TokenStream(text)
    end = len(text)
    completer = Completer(tiny_predictor)
    context = len(cursor_context(stream, end, completer.encoder).inputs)  # type: ignore[arg-type]
    assert context > quick * 5 // 4
    popup = completer.popup(stream, end, quick=True)
    assert popup.model_used and quick <= completer.states.tokens_run < quick * 5 // 4
    completer.popup(stream, end, quick=True)  # the next keystroke resumes from the short context's states
    assert completer.states.tokens_run <= tiny_predictor.chunk
    completer.warm(stream)
    assert_same_popup(completer.popup(stream, end, quick=True), Completer(tiny_predictor).popup(TokenStream(text), end))
    assert completer.states.tokens_run <= tiny_predictor.chunk


def test_an_interrupted_warm_up_goes_on_where_it_stopped(tiny_predictor: Predictor, sample_source: str) -> None:
    """A request stops the warm-up (the server's `stop()`); the next warm-up runs only the rest,
    even after a request elsewhere in between, and ends with the states a whole run gives."""
    from heed.model.runtime.cancel import RequestCancelled

    stream = TokenStream(sample_source)
    completer = Completer(tiny_predictor)
    chunk = tiny_predictor.chunk

    def after_20_chunks() -> bool:  # (it also checks between pieces while it reads imports, parses and encodes them)
        warming = completer.states.warming
        return warming is not None and warming.end >= 20 * chunk

    with pytest.raises(RequestCancelled):
        completer.warm(stream, after_20_chunks)  # stops before its 21st chunk
    completer.popup(stream, len(sample_source) // 3)
    completer.warm(stream)
    total = len(cursor_context(stream, len(stream.text), completer.encoder).inputs)  # type: ignore[arg-type]
    assert completer.states.tokens_run == total - 20 * chunk
    end = len(sample_source)
    assert_same_popup(completer.popup(stream, end), Completer(tiny_predictor).popup(TokenStream(sample_source), end))
    assert completer.states.tokens_run <= chunk


def test_a_quick_request_on_a_document_just_opened_parses_only_its_end(tiny_predictor: Predictor) -> None:
    """Roles (a libcst parse per chunk) are computed on first use: ghost text on a file just
    opened reads its last tokens only, so only the chunks there are parsed."""
    import sysconfig
    from pathlib import Path

    text = (Path(sysconfig.get_paths()["stdlib"]) / "argparse.py").read_text(encoding="utf-8")  # 2,600 lines
    stream = TokenStream(text)
    assert stream.role_cache.parses == 0
    Completer(tiny_predictor).inline(stream, len(text), quick=True, budget_s=0.01)
    parsed = stream.role_cache.parses
    stream.tokens()  # every role
    assert 0 < parsed < stream.role_cache.parses / 10


# -- ghost text: where lines end, names just typed ---------------------------------------------------


@pytest.mark.parametrize(("code", "depth"), [
    ("x = foo(\n    a,\n    ", 1),  # one item per line: a comma at depth 1 ends the line
    ("x = foo(\n    a,\n    bar(1, ", 1),
    ("def f(\n    self,\n    node: ", 1),
    ("x = foo(a,\n    ", None),  # items follow the bracket on its line: no rule
    ("x = foo(a, ", None),
    ("x = 1\ny = ", None),
])
def test_the_bracket_depth_that_a_comma_ends_a_line_at(tiny_predictor: Predictor, code: str, depth: int | None) -> None:
    from heed.model.runtime.line_end import exploded_depth

    encoder = DocEncoder(tiny_predictor.vocab)
    ctx = cursor_context(TokenStream(code), len(code), encoder)
    on_line = bool(code[code.rfind("\n") + 1 :].strip())
    assert exploded_depth(ctx, on_line) == depth


def test_a_comma_ends_ghost_text_inside_a_bracket_laid_out_one_item_per_line(tiny_predictor: Predictor, sample_source: str) -> None:
    predictor = Predictor(_favouring(tiny_predictor, ",", 6.0), tiny_predictor.vocab, tiny_predictor.meta,  # commas everywhere
                          features=UNCHECKED)
    base = sample_source.rstrip("\n") + "\n\nx = foo(\n    a,\n    "
    for code, one_per_line in ((base, True), (sample_source.rstrip("\n") + "\n\nx = foo(a,\n    ", False)):
        stream = TokenStream(code)
        suggestions = Completer(predictor).inline(stream, len(code), budget_s=60.0, alternatives=4)
        assert suggestions
        commas_at_depth_0 = []
        for s in suggestions:
            toks = [t.text for t in lexer.lex(s.text) if t.text.strip()]
            depth, n = 0, 0
            for t in toks:
                depth += (t in OPENERS) - (t in ")]}")
                n += t == "," and depth == 0
            commas_at_depth_0.append(n)
            if one_per_line:
                assert n <= 1 and (n == 0 or toks[-1] == ","), s.text
        if not one_per_line:
            assert max(commas_at_depth_0) > 1  # the same model goes on past the first comma


def test_ghost_text_after_a_name_the_model_has_never_seen_goes_on_after_it(tiny_predictor: Predictor, sample_source: str) -> None:
    code = sample_source.rstrip("\n") + "\n\n\nclass Zqxjvw"
    p = tiny_predictor
    completer = Completer(Predictor(p.model, p.vocab, p.meta, p.table, UNCHECKED))
    suggestions = completer.inline(TokenStream(code), len(code), budget_s=60.0)
    assert suggestions  # before: nothing, as no name the model knows starts with `Zqxjvw`
    assert all(not (s.text[:1].isalnum() or s.text[:1] == "_") for s in suggestions), suggestions


@pytest.mark.parametrize(
    ("code", "name", "gain"),
    [
        ("total = total + weight_zqx\n" * 29 + "total = total + ", "weight_zqx", 0.2),
        # After a dot the re-ranking weighs the document's attributes too: the n-grams count less.
        ("".join(f"v{i} = registry.lookup_zqx(v{i - 1})\n" for i in range(1, 30)) + "w = registry.", "lookup_zqx", 0.05),
    ],
)
def test_the_documents_ngrams_raise_what_followed_the_same_tokens_before(tiny_predictor: Predictor, code: str, name: str,
                                                                         gain: float) -> None:
    stream = TokenStream(code)
    probs = {}
    for ngrams in (False, True):
        predictor = Predictor(tiny_predictor.model, tiny_predictor.vocab, tiny_predictor.meta, features=Features(ngrams=ngrams))
        completer = Completer(predictor)
        popup = completer.popup(stream, len(code))
        probs[ngrams] = next((c.prob for c in popup.candidates if c.text == name), 0.0)
    assert probs[True] > probs[False] + gain  # it followed the same tokens 29 times
    exp = Completer(tiny_predictor).explain(stream, len(code), name)
    assert exp is not None and exp.file_prob > gain
    assert exp.repeats_line == 29  # the last line where it did
    assert math.isclose(exp.file_prob + exp.pointer_prob + exp.vocab_prob, exp.prob, rel_tol=1e-3)


def test_after_a_dot_the_ngrams_weigh_less(tiny_predictor: Predictor) -> None:
    index = tiny_predictor.vocab.index
    for keys, factor in ((["self", ".", "self", "<newline>", "self", "."], ngram.AFTER_DOT),
                         (["self", ".", "self", "<newline>", "self"], 1.0)):
        ids = np.array([index[k] for k in keys])
        adjuster = tiny_predictor.adjuster(Encoded(ids, np.zeros_like(ids), np.full_like(ids, -1), np.zeros_like(ids)))
        assert adjuster.ngrams is not None
        plain = adjuster.ngrams.guess(len(ids))
        _, guess = adjuster.mix(np.full(len(index), 1e-4, np.float32), tiny_predictor.answerable)
        assert plain.weight > 0 and guess.weight == pytest.approx(plain.weight * factor)


def test_ghost_text_stops_before_what_follows_the_cursor() -> None:
    """Inside a bracket the editor closed by itself (`print(os.pa|)`), the suggestion is shown
    without the closer already there: shown whole it made `))`, which the syntax check refused,
    so ghost text never showed there."""
    import ast

    from heed.model.nn.store import default_model_dir
    from heed.model.runtime.line_end import overlap
    from heed.model.runtime.predictor import load_predictor

    assert overlap("th.join(p)", ")") == 1 and overlap("x)", "))") == 1 and overlap("b, c)", ", c)") == 4
    assert overlap("upper()", "\n") == 0 and overlap("x", " + 1") == 0
    predictor = load_predictor(default_model_dir())
    head = "import os\n\n\ndef main(path):\n    name = os.path.basename(path)\n"
    for before, after in (("    print(os.pa", ")"), ("    print(os.path.join(", "))"), ("    f(name, ", ")")):
        text = head + before + after + "\n"
        found = Completer(predictor).inline(TokenStream(text), len(head + before), quick=True, min_confidence=0.0)
        assert found, before
        for s in found:
            ast.parse(head + before + s.text + after + "\n")  # the line is code, nothing typed twice


def test_typing_a_name_reuses_the_models_output(tiny_predictor: Predictor, sample_source: str) -> None:
    """The letters of a name change its prefix, not the context before it: the model is not run
    again for them, and the popup is the one a fresh run gives."""
    text = sample_source + "\nvalue = sel"
    stream = TokenStream(text)
    completer = Completer(tiny_predictor)
    completer.popup(stream, len(text))
    assert completer.states.tokens_run > 0
    stream.edit(len(text), len(text), "f")
    popup = completer.popup(stream, len(text) + 1)
    assert completer.states.tokens_run == 0
    assert_same_popup(popup, Completer(tiny_predictor).popup(TokenStream(text + "f"), len(text) + 1))
    stream.edit(len(text) + 1, len(text) + 1, ".")  # a dot is context: the model runs again
    completer.popup(stream, len(text) + 2)
    assert completer.states.tokens_run > 0
