"""The network (shapes, the attention window and its masks, the pointer mixture, the training
objective) and the released model format (round trip, and every way a folder is refused)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch

from heed.model.nn.network import HeedLM, ModelConfig, State, answerable_ext, mixture
from heed.model.nn.store import ModelError, load_model, save_model
from heed.model.text.roles import ROLES
from heed.model.text.vocab import SPECIALS, TOKENIZER_VERSION, UNANSWERABLE, Vocab

V, K = 50, 4
CONFIG = ModelConfig(vocab_size=V, embed=8, role_embed=4, hidden=16, window=K, dropout=0.0)
VOCAB = Vocab(tuple(SPECIALS) + tuple(f"n{i}" for i in range(V - len(SPECIALS))))


@pytest.fixture
def model() -> HeedLM:
    torch.manual_seed(0)
    return HeedLM(CONFIG).eval()


def inputs(B: int, T: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(len(SPECIALS), V, (B, T), generator=g)
    roles = torch.randint(0, len(ROLES), (B, T), generator=g)
    return ids, roles, ids.clone()  # ext: in-vocabulary tokens are their own pointer identity


# -- forward --------------------------------------------------------------------------------------


def test_forward_shapes(model: HeedLM) -> None:
    B, T = 3, 7
    ids, roles, ext = inputs(B, T)
    targets = torch.roll(ids, -1, 1)
    mask = torch.ones(B, T)
    out = model(ids, roles, ext, model.initial_state(B), targets, targets, mask)
    assert out.logits.shape == (B, T, V)
    assert out.attn.shape == (B, T, K + T)
    assert out.gate.shape == (B, T)
    assert out.key_ext.shape == (B, K + T)
    assert out.state.h.shape == out.state.c.shape == (1, B, 16)
    assert out.state.mem.shape == (B, K, 16)
    assert out.state.mem_ext.shape == out.state.mem_valid.shape == (B, K)
    assert out.loss is not None and out.loss.shape == () and torch.isfinite(out.loss)
    assert ((out.gate > 0) & (out.gate < 1)).all()
    # the memory now holds this segment's last K positions
    assert torch.equal(out.state.mem_ext, ext[:, -K:])
    assert out.state.mem_valid.all()


def test_attention_stays_in_the_window(model: HeedLM) -> None:
    """Query t sees keys t+1 .. t+K of [memory; segment]: the K latest positions, itself included."""
    B, T = 2, 9
    ids, roles, ext = inputs(B, T)
    first = model(ids, roles, ext, model.initial_state(B))  # fills the memory
    out = model(*inputs(B, T, seed=1), first.state)
    attn = out.attn
    for t in range(T):
        band = torch.zeros(K + T, dtype=torch.bool)
        band[t + 1 : t + K + 1] = True
        assert (attn[:, t, ~band] == 0).all(), f"query {t} looks outside its window"
        assert (attn[:, t, band] > 0).all()
    torch.testing.assert_close(attn.sum(-1), torch.ones(B, T))


def test_attention_ignores_invalid_memory(model: HeedLM) -> None:
    B, T = 3, 6
    ids, roles, ext = inputs(B, T)
    first = model(ids, roles, ext, model.initial_state(B))
    # row 1 starts a new file: its memory is invalid; rows 0 and 2 carry on
    state = first.state.reset_rows(torch.tensor([False, True, False]))
    out = model(*inputs(B, T, seed=1), state)
    assert (out.attn[1, :, :K] == 0).all()
    assert (out.attn[0, 0, 1:K] > 0).all() and (out.attn[2, 0, 1:K] > 0).all()
    # a fresh state: nothing in memory is valid
    fresh = model(ids, roles, ext, model.initial_state(B))
    assert (fresh.attn[:, :, :K] == 0).all()
    torch.testing.assert_close(fresh.attn.sum(-1), torch.ones(B, T))
    assert (fresh.key_ext[:, :K] == -1).all()


def test_segments_carry_exactly(model: HeedLM) -> None:
    """Two segments with the carried state give what one long segment gives."""
    B, T = 2, 12
    ids, roles, ext = inputs(B, T)
    whole = model(ids, roles, ext, model.initial_state(B))
    a = model(ids[:, :5], roles[:, :5], ext[:, :5], model.initial_state(B))
    b = model(ids[:, 5:], roles[:, 5:], ext[:, 5:], a.state)
    torch.testing.assert_close(torch.cat([a.logits, b.logits], 1), whole.logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.cat([a.gate, b.gate], 1), whole.gate, rtol=1e-5, atol=1e-5)
    # the last query's weights over its window are the same however the input was cut
    torch.testing.assert_close(b.attn[:, -1, -K:], whole.attn[:, -1, -K:], rtol=1e-5, atol=1e-6)


def test_last_only_matches_the_full_output(model: HeedLM) -> None:
    B, T = 2, 10
    ids, roles, ext = inputs(B, T)
    full = model(ids, roles, ext, model.initial_state(B))
    last = model(ids, roles, ext, model.initial_state(B), last_only=True)
    assert last.logits.shape == (B, 1, V) and last.attn.shape == (B, 1, K)
    torch.testing.assert_close(last.logits[:, 0], full.logits[:, -1])
    torch.testing.assert_close(last.attn[:, 0], full.attn[:, -1, -K:])
    torch.testing.assert_close(last.gate[:, 0], full.gate[:, -1])


def test_loss_counts_masked_positions_only(model: HeedLM) -> None:
    B, T = 2, 8
    ids, roles, ext = inputs(B, T)
    targets = torch.roll(ids, -1, 1)
    mask = torch.ones(B, T)
    mask[:, 5:] = 0
    other = targets.clone()
    other[:, 5:] = 7  # different targets where the mask is 0
    a = model(ids, roles, ext, model.initial_state(B), targets, targets, mask).loss
    b = model(ids, roles, ext, model.initial_state(B), other, other, mask).loss
    assert a is not None and b is not None
    torch.testing.assert_close(a, b)


# -- the pointer mixture ----------------------------------------------------------------------------


def _answerable() -> torch.Tensor:
    return torch.tensor(VOCAB.answerable())


def test_mixture_rows_sum_to_at_most_one_and_skip_placeholders(model: HeedLM) -> None:
    B, T = 2, 6
    ids, roles, ext = inputs(B, T)
    ids[0, 2] = VOCAB.index["<str>"]
    ext[0, 2] = -1  # a placeholder copies nothing
    ext[1, 3] = V + 2  # a name outside the vocabulary
    out = model(ids, roles, ext, model.initial_state(B))
    n_ext = V + 5
    probs = mixture(out, n_ext, _answerable())
    assert probs.shape == (B, T, n_ext)
    assert (probs >= 0).all()
    assert (probs.sum(-1) <= 1 + 1e-5).all()
    for key in UNANSWERABLE:
        assert (probs[..., VOCAB.index[key]] == 0).all(), key
    # the name outside the vocabulary gets exactly its share of the pointer, from where it is in view
    in_view = out.key_ext[1] == V + 2
    expected = (1 - out.gate[1]) * (out.attn[1] * in_view).sum(-1)
    torch.testing.assert_close(probs[1, :, V + 2], expected)
    assert probs[1, 3:, V + 2].min() > 0 and (probs[1, :3, V + 2] == 0).all()


def test_mixture_sums_to_one_without_placeholders(model: HeedLM) -> None:
    ids, roles, ext = inputs(2, 6)
    out = model(ids, roles, ext, model.initial_state(2))
    probs = mixture(out, V, torch.ones(V, dtype=torch.bool))
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, 6))


def test_answerable_ext() -> None:
    key_ext = torch.tensor([[-1, VOCAB.index["<unk>"], VOCAB.index["n3"], V + 1]])
    assert answerable_ext(key_ext, _answerable()).tolist() == [[False, False, True, True]]


def test_training_objective_is_the_mixture_at_inference(model: HeedLM) -> None:
    """exp(log p(target)) that training maximises is what `mixture` shows at inference: for a
    token in the vocabulary, for a name outside it the pointer can reach (the vocabulary's `<unk>`
    must not be credited for it), and for one the pointer cannot reach."""
    B, T = 1, 6
    ids, roles, ext = inputs(B, T)
    unk = VOCAB.index["<unk>"]
    ids[0, 3], ext[0, 3] = unk, V + 0  # an out-of-vocabulary name, in view of the last query
    out = model(ids, roles, ext, model.initial_state(B))
    probs = mixture(out, V + 2, _answerable())
    t = T - 1
    cases = [
        (ids[0, 4].item(), ids[0, 4].item(), probs[0, t, ids[0, 4]]),  # in the vocabulary and in view
        (unk, V + 0, probs[0, t, V + 0]),  # outside the vocabulary, in view: the pointer alone
    ]
    for target, target_ext, expected in cases:
        logp, _, _ = HeedLM.target_log_prob(out.logits, out.attn, out.gate, out.key_ext,
                                            torch.full((B, T), target), torch.full((B, T), target_ext))
        assert math.isclose(logp[0, t].exp().item(), expected.item(), rel_tol=1e-4), (target, target_ext)
    # outside the vocabulary and out of view: only the vocabulary's <unk> can account for it
    logp, log_voc, log_ptr = HeedLM.target_log_prob(out.logits, out.attn, out.gate, out.key_ext,
                                                    torch.full((B, T), unk), torch.full((B, T), V + 1))
    assert torch.isinf(log_ptr).all() and torch.isfinite(logp).all()
    torch.testing.assert_close(logp, log_voc)


# -- save / load ------------------------------------------------------------------------------------


def _saved(tmp_path: Path, model: HeedLM, vocab: Vocab = VOCAB) -> Path:
    folder = tmp_path / "model"
    save_model(folder, model, vocab, {"trained_steps": 3})
    return folder


def test_save_load_round_trip(model: HeedLM, tmp_path: Path) -> None:
    folder = _saved(tmp_path, model)
    loaded, vocab, meta = load_model(folder)
    assert vocab == VOCAB and meta == {"trained_steps": 3}
    assert loaded.config == CONFIG and not loaded.training
    # the file holds float16: the reloaded model is the original with its weights rounded so
    reference = HeedLM(CONFIG).eval()
    reference.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    for name, tensor in loaded.state_dict().items():
        assert tensor.dtype == torch.float32
        assert torch.equal(tensor, reference.state_dict()[name]), name
    ids, roles, ext = inputs(2, 9)
    with torch.no_grad():
        got = loaded(ids, roles, ext, loaded.initial_state(2))
        want = reference(ids, roles, ext, reference.initial_state(2))
        orig = model(ids, roles, ext, model.initial_state(2))
    for a, b in zip(got[:4], want[:4]):
        assert torch.equal(a, b)
    torch.testing.assert_close(got.logits, orig.logits, rtol=0, atol=2e-2)


def _write_json(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _config_value(key: str, value: object):  # type: ignore[no-untyped-def]
    return lambda folder: _write_json(folder / "config.json", lambda d: d["model"].__setitem__(key, value))


def _replace_weights(tensors_change):  # type: ignore[no-untyped-def]
    def change(folder: Path) -> None:
        from safetensors.torch import load_file, save_file

        tensors = load_file(str(folder / "model.safetensors"))
        tensors_change(tensors)
        save_file(tensors, str(folder / "model.safetensors"))

    return change


BREAKS = {
    "no weights": (lambda f: (f / "model.safetensors").unlink(), "has no model.safetensors"),
    "no config": (lambda f: (f / "config.json").unlink(), "has no config.json"),
    "no vocab": (lambda f: (f / "vocab.json").unlink(), "has no vocab.json"),
    "truncated weights": (lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:300]),
                          "not a readable safetensors"),
    "empty weights": (lambda f: (f / "model.safetensors").write_bytes(b""), "not a readable safetensors"),
    "config not json": (lambda f: (f / "config.json").write_text("{"), "invalid config"),
    "window 0": (_config_value("window", 0), "window=0"),
    "hidden too large": (_config_value("hidden", 10**6), "hidden"),
    "layers as a string": (_config_value("layers", "2"), "layers"),
    "vocab_size a bool": (_config_value("vocab_size", True), "vocab_size"),
    "dropout 1": (_config_value("dropout", 1.0), "dropout"),
    "unknown key": (_config_value("attention_heads", 4), "unknown config keys"),
    "vocab too small": (lambda f: Vocab(VOCAB.tokens[:-1]).save(f / "vocab.json"), "vocab.json has 49 tokens"),
    "vocab not a vocab": (lambda f: (f / "vocab.json").write_text('{"tokens": ["a"]}'), "malformed vocabulary"),
    "vocab not json": (lambda f: (f / "vocab.json").write_bytes(b"\xff\xfe"), "vocab.json"),
    "missing tensor": (_replace_weights(lambda t: t.pop("gate.bias")), "do not match the config"),
    "wrong shape": (_replace_weights(lambda t: t.__setitem__("gate.bias", torch.zeros(2, dtype=torch.float16))),
                    "gate.bias has shape"),
    "nan weight": (_replace_weights(lambda t: t["proj.weight"].view(-1).__setitem__(0, float("nan"))), "non-finite"),
}


@pytest.mark.parametrize("name", list(BREAKS))
def test_load_model_refuses(model: HeedLM, tmp_path: Path, name: str) -> None:
    folder = _saved(tmp_path, model)
    load_model(folder)  # fine before the damage
    damage, message = BREAKS[name]
    damage(folder)
    with pytest.raises(ModelError, match=message.replace("(", r"\(")):
        load_model(folder)


def test_load_model_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelError):
        load_model(tmp_path / "file")


def test_load_model_refuses_another_tokenizer_version(model: HeedLM, tmp_path: Path) -> None:
    folder = _saved(tmp_path, model, Vocab(VOCAB.tokens, tokenizer_version="heed-tokens-0"))
    with pytest.raises(ModelError) as info:
        load_model(folder)
    assert "heed-tokens-0" in str(info.value) and TOKENIZER_VERSION in str(info.value)


class _Payload:
    """Unpickling this creates the folder `marker`: proof that a pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.makedirs, (str(self.marker),))


def test_load_model_never_unpickles(model: HeedLM, tmp_path: Path) -> None:
    folder = _saved(tmp_path, model)
    # the payload is live: torch.load without weights_only runs it
    live = tmp_path / "live.pt"
    torch.save({"w": _Payload(tmp_path / "proof")}, live)
    torch.load(live, weights_only=False)
    assert (tmp_path / "proof").exists()
    # the same kind of pickle, renamed model.safetensors, is refused and not run
    marker = tmp_path / "pwned"
    torch.save({"embed.weight": _Payload(marker), **model.state_dict()}, folder / "model.safetensors")
    with pytest.raises(ModelError, match="pickles are never loaded"):
        load_model(folder)
    assert not marker.exists()


def test_state_select_and_reset(model: HeedLM) -> None:
    ids, roles, ext = inputs(3, 5)
    state = model(ids, roles, ext, model.initial_state(3)).state
    picked = state.select(torch.tensor([2, 0]))
    assert torch.equal(picked.mem[0], state.mem[2]) and torch.equal(picked.h[:, 1], state.h[:, 0])
    reset = state.reset_rows(torch.tensor([True, False, False]))
    assert isinstance(reset, State)
    assert (reset.h[:, 0] == 0).all() and (reset.mem_ext[0] == -1).all() and not reset.mem_valid[0].any()
    assert torch.equal(reset.mem[1:], state.mem[1:]) and reset.mem_valid[1:].all()


@pytest.mark.parametrize("config", [ModelConfig(vocab_size=50), ModelConfig(vocab_size=70, layers=2, far=8, hidden=24, embed=12)])
def test_weight_shapes_match_a_built_model(config: ModelConfig) -> None:
    built = {name: tuple(t.shape) for name, t in HeedLM(config).state_dict().items()}
    assert HeedLM.weight_shapes(config) == built


# -- the far memory ---------------------------------------------------------------------------------


FAR_CONFIG = ModelConfig(vocab_size=V, embed=8, role_embed=4, hidden=16, window=K, far=5, dropout=0.0)


@pytest.mark.parametrize("cut", [1, 3, 7, 30])
def test_the_far_memory_is_the_same_however_the_input_is_cut(cut: int) -> None:
    """One long segment (training, evaluation) and short ones with the carried state (inference)
    give the same next-token distribution at every position: each query sees the same window and
    the same last F names that left it."""
    torch.manual_seed(0)
    model = HeedLM(FAR_CONFIG).eval()
    with torch.no_grad():
        model.far_bias.fill_(0.5)  # far names weigh about as much as the window's
    B, T = 2, 30
    ids, roles, ext = inputs(B, T, seed=3)
    n_ext = V
    whole = mixture(model(ids, roles, ext, model.initial_state(B)), n_ext, torch.ones(V, dtype=torch.bool))
    state, parts = model.initial_state(B), []
    for a in range(0, T, cut):
        out = model(ids[:, a : a + cut], roles[:, a : a + cut], ext[:, a : a + cut], state)
        parts.append(mixture(out, n_ext, torch.ones(V, dtype=torch.bool)))
        state = out.state
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=1e-5, atol=1e-6)


def test_the_far_memory_holds_the_last_names_that_left_the_window() -> None:
    torch.manual_seed(0)
    model = HeedLM(FAR_CONFIG).eval()
    T = 20
    ids, roles, ext = inputs(1, T, seed=4)
    roles[0, ::2] = ROLES.index("syntax")  # every other token is not a name
    out = model(ids, roles, ext, model.initial_state(1))
    left = [t for t in range(T - K) if roles[0, t] != ROLES.index("syntax")]
    assert out.state.far_valid[0].tolist() == [True] * 5
    assert out.state.far_ext[0].tolist() == ext[0, left[-5:]].tolist()
    # the last query's pointer puts weight on them, and on nothing older
    last = model(ids, roles, ext, model.initial_state(1), last_only=True)
    assert (last.attn[0, 0, :5] > 0).all() and last.key_ext[0, :5].tolist() == ext[0, left[-5:]].tolist()
    torch.testing.assert_close(last.attn.sum(-1), torch.ones(1, 1))
