"""After a dot: the receiver's usual attributes (counted in the training corpus) and the members
of the class around `self.`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from heed.model.lookup.classes import ClassTokens, class_members
from heed.model.nn.member_table import FILE, MemberTable
from heed.model.nn.store import ModelError, default_model_dir, load_members
from heed.model.runtime.completer import Completer
from heed.model.runtime.context import cursor_context
from heed.model.runtime.encoding import DocEncoder
from heed.model.runtime.predictor import Features, Predictor
from heed.model.runtime.rerank import Reranker
from heed.model.text.stream import TokenStream
from heed.model.text.vocab import Vocab


@pytest.fixture(scope="module")
def vocab() -> Vocab:
    return Vocab.load(default_model_dir() / "vocab.json")


def ids_of(vocab: Vocab, code: str) -> np.ndarray:
    return np.array([vocab.index.get(t, vocab.unk) for t in code.split()], np.int64)


def test_the_table_counts_what_followed_each_receiver(vocab: Vocab) -> None:
    ids = ids_of(vocab, "os . path ; os . path ; os . getcwd ( ) ; x . zzz_unknown ; ( a ) . join ; zzz_r . y")
    table = MemberTable.build(ids, vocab)
    attrs, share = table.of(vocab.index["os"])  # type: ignore[misc]
    assert dict(zip(attrs.tolist(), share.tolist())) == pytest.approx({vocab.index["path"]: 2 / 3, vocab.index["getcwd"]: 1 / 3})
    attrs, share = table.of(vocab.index["x"])  # type: ignore[misc]
    assert attrs.tolist() == [vocab.unk]  # a name outside the vocabulary counts as <unk>
    assert table.of(vocab.index[")"]) is None  # only names are receivers
    assert table.of(vocab.unk) is None  # and a receiver outside the vocabulary says nothing
    merged = table.merged(table)
    assert (merged.counts == 2 * table.counts).all() and (merged.attrs == table.attrs).all()


def test_the_table_round_trips_and_a_bad_one_is_refused(vocab: Vocab, tmp_path: Path) -> None:
    table = MemberTable.build(ids_of(vocab, "os . path ; sys . argv ; os . sep"), vocab)
    table.save(tmp_path)
    back = load_members(tmp_path, vocab)
    assert back is not None
    for name in ("receivers", "starts", "attrs", "counts"):
        assert (getattr(back, name) == getattr(table, name)).all()
    assert load_members(tmp_path / "elsewhere", vocab) is None  # no table: a model without one works
    small = Vocab(vocab.tokens[:100], vocab.tokenizer_version)
    with pytest.raises(ModelError, match="member table"):
        load_members(tmp_path, small)  # ids beyond that vocabulary
    (tmp_path / FILE).write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(ModelError, match="member table"):
        load_members(tmp_path, vocab)


def test_the_corpus_table_reranks_after_its_receiver(vocab: Vocab) -> None:
    table = MemberTable.build(ids_of(vocab, "os . path ; " * 9 + "os . sep ; " * 2 + "os . zzz_unknown"), vocab)
    members = Reranker(vocab, table)
    n_ext = len(vocab) + 2  # two names of the document outside the vocabulary
    flat = np.full(n_ext, 1.0 / n_ext, np.float32)
    context = ids_of(vocab, "x = os .")
    rerank = members.rerank(context, np.zeros_like(context), context.copy(), n_ext)
    assert rerank is not None and rerank.why == "corpus"
    p = rerank.apply(flat)
    path, sep, other = vocab.index["path"], vocab.index["sep"], vocab.index["argv"]
    assert p[path] > p[sep] > p[len(vocab)] == p[len(vocab) + 1] > p[other]  # 9/12, 2/12, the unknown names' 1/12, 0
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-5)
    assert members.rerank(context[:-1], np.zeros(3, np.int64), context[:-1], n_ext) is None  # not after a dot
    # A document whose `os.` is followed by what the table never saw there trusts the table less.
    other = ids_of(vocab, "os . argv ; os . argv ; x = os .")
    doubted = members.rerank(other, np.zeros_like(other), other.copy(), n_ext)
    assert doubted is not None and doubted.scale[path] / doubted.scale[other[2]] < rerank.scale[path] / rerank.scale[other[2]]
    agreed = ids_of(vocab, "os . path ; x = os .")
    trusted = members.rerank(agreed, np.zeros_like(agreed), agreed.copy(), n_ext)
    assert trusted is not None and np.allclose(trusted.scale, rerank.scale)
    assert members.rerank(context[:-2], np.zeros(2, np.int64), context[:-2], n_ext, [vocab.index["os"], vocab.index["."]]) is not None


CLASS_SOURCE = """\
class Other:
    def elsewhere(self):
        self.far = 1


class Parser:
    limit = 10

    def __init__(self, text):
        self.text = text
        self.pos = 0
        local = 3

    def advance(self):
        def helper():
            pass
        self.pos += 1

    def peek(self):
        return self."""


def _members_at(predictor: Predictor, source: str) -> set[str] | None:
    encoder = DocEncoder(predictor.vocab)
    ctx = cursor_context(TokenStream(source), len(source), encoder)
    found = class_members(ClassTokens.of(predictor.vocab), ctx.inputs.ids, ctx.inputs.parsed, ctx.inputs.ext)
    return None if found is None else {encoder.text_of(int(i)) for i in found}


def test_the_class_members_are_what_the_class_around_defined(tiny_predictor: Predictor) -> None:
    assert _members_at(tiny_predictor, CLASS_SOURCE) == {"limit", "__init__", "text", "pos", "advance", "peek"}
    outside = "def f(self):\n    return self."
    assert _members_at(tiny_predictor, outside) is None
    after_class = CLASS_SOURCE.replace("        return self.", "        pass\n\n\ndef g(self):\n    return self.")
    assert _members_at(tiny_predictor, after_class) is None


def test_members_of_the_class_rise_after_self(tiny_predictor: Predictor) -> None:
    p = tiny_predictor
    without_members = Completer(Predictor(p.model, p.vocab, p.meta, p.table, Features(members=False)))
    completer = Completer(tiny_predictor)
    stream = TokenStream(CLASS_SOURCE)
    offset = len(CLASS_SOURCE)
    names = ["limit", "text", "pos", "advance", "peek"]

    def ranks(completer: Completer) -> list[int]:
        shown = [c.text for c in completer.popup(stream, offset, max_items=200).candidates]
        return [shown.index(n) if n in shown else len(shown) for n in names]

    with_members, without = ranks(completer), ranks(without_members)
    # The random model and the file's n-grams know `text` and `pos` (both follow `self.` above);
    # only the class says `limit`, `advance` and `peek` are there.
    assert max(with_members) < 10 and sum(with_members) < sum(without)
    explanation = completer.explain(stream, offset, "advance")
    assert explanation is not None and explanation.lifted_by == "class"


def test_eval_can_switch_the_reranking_off(tiny_model_dir: Path, tiny_corpus: Path) -> None:
    assert (tiny_model_dir / FILE).is_file()
    cmd = [sys.executable, "-m", "heed", "eval", "--model", str(tiny_model_dir), "--corpus", str(tiny_corpus),
           "--line-points", "0", "--json"]
    full = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    lesioned = json.loads(subprocess.run(cmd + ["--no-members"], capture_output=True, text=True, check=True).stdout)
    assert full["members"] and full["member_table"] and not lesioned["members"]
    assert lesioned["attribute"]["n"] == full["attribute"]["n"] > 0
    assert lesioned["attribute"] != full["attribute"]


def test_self_starting_a_statement_offers_the_parameters_not_stored_yet(tiny_predictor: Predictor) -> None:
    from heed.model.lookup.classes import unstored_parameters

    def unstored(source: str) -> set[str]:
        encoder = DocEncoder(tiny_predictor.vocab)
        inputs = cursor_context(TokenStream(source), len(source), encoder).inputs
        tokens = ClassTokens.of(tiny_predictor.vocab)
        members = class_members(tokens, inputs.ids, inputs.parsed, inputs.ext)
        assert members is not None
        return {encoder.text_of(int(i)) for i in unstored_parameters(tokens, inputs.ids, inputs.parsed, inputs.ext, members)}

    head = "class Box:\n    def __init__(self, width, height_zqx=1, *, depth_zqx: int = 2, **rest_zqx):\n        self.width = width\n"
    assert unstored(head + "        self.") == {"height_zqx", "depth_zqx", "rest_zqx"}
    assert unstored(head + "        x = self.") == set()  # not a statement's start
    assert unstored(head + "        if x:\n            self.") == {"height_zqx", "depth_zqx", "rest_zqx"}
    assert unstored(head + "\n    def area(self):\n        self.") == set()  # another function, no parameters
    encoder = DocEncoder(tiny_predictor.vocab)  # the re-ranking raises them as it raises the class's members
    inputs = cursor_context(TokenStream(head + "        self."), len(head) + 13, encoder).inputs
    rerank = tiny_predictor.reranker.rerank(inputs.ids, inputs.parsed, inputs.ext, encoder.n_ext)
    assert rerank is not None and rerank.floor is not None
    for name in ("height_zqx", "width"):
        i = encoder.ext_of_text(name)
        assert rerank.scale[i] == 1.0 and rerank.floor[i] > 0, name
