"""The server's network in numpy gives what the torch network gives, on the same weights: every
output, over segments and single steps, a beam's rows, the far memory, the lesions; and the
server's inference path imports no torch."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from heed.model.nn import network
from heed.model.nn import numpy_net as nn_np
from heed.model.nn.config import ModelConfig
from heed.model.text.roles import ROLES, SYNTAX

V = 40
CONFIGS = {
    "far": ModelConfig(vocab_size=V, embed=8, role_embed=4, hidden=16, window=4, far=5, dropout=0.0),
    "no far": ModelConfig(vocab_size=V, embed=8, role_embed=4, hidden=16, window=6, dropout=0.0),
    "two layers": ModelConfig(vocab_size=V, embed=6, role_embed=3, hidden=12, window=5, far=3, layers=2, dropout=0.0),
    "no pointer": ModelConfig(vocab_size=V, embed=8, role_embed=4, hidden=16, window=4, far=5, dropout=0.0, pointer=False),
}


def _pair(config: ModelConfig, seed: int = 0) -> tuple[network.HeedLM, nn_np.NumpyNet]:
    torch.manual_seed(seed)
    model = network.HeedLM(config).eval()
    with torch.no_grad():
        for p in model.parameters():  # weights of a trained model's scale, the far names weighing in
            p.normal_(0, 0.5)
    weights = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return model, nn_np.NumpyNet(config, weights)


def _inputs(rng: np.random.Generator, B: int, T: int) -> tuple[np.ndarray, ...]:
    ids = rng.integers(5, V, (B, T))
    roles = rng.integers(0, len(ROLES), (B, T))
    roles[rng.random((B, T)) < 0.4] = SYNTAX  # names and syntax mixed, as code is
    ext = np.where(rng.random((B, T)) < 0.2, V + rng.integers(0, 6, (B, T)), ids)  # some names outside the vocabulary
    ids = np.where(ext >= V, 1, ids)
    return ids, roles, ext


def _to_torch(state: nn_np.State) -> network.State:
    return network.State(*(torch.from_numpy(np.asarray(t)) for t in state))


def _assert_same(out_np: nn_np.Output, out_t: network.Output, n_ext: int) -> None:
    np.testing.assert_allclose(out_np.logits[:, -1], out_t.logits[:, -1].numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out_np.attn[:, -1], out_t.attn[:, -1].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out_np.gate[:, -1], out_t.gate[:, -1].numpy(), rtol=1e-4, atol=1e-6)
    assert np.array_equal(out_np.key_ext, out_t.key_ext.numpy())
    answerable = np.ones(V, bool)
    answerable[:3] = False  # placeholders
    np.testing.assert_allclose(nn_np.mixture(out_np, n_ext, answerable),
                               network.mixture(out_t, n_ext, torch.from_numpy(answerable))[:, -1].numpy(), atol=1e-5)
    for a, b in zip(out_np.state, out_t.state):
        np.testing.assert_allclose(np.asarray(a, np.float64), b.double().numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("cut", [1, 3, 16])
def test_segments_and_steps_give_the_torch_network_s_outputs(name: str, cut: int) -> None:
    config = CONFIGS[name]
    model, net = _pair(config)
    rng = np.random.default_rng(1)
    B, T = 3, 40
    ids, roles, ext = _inputs(rng, B, T)
    state_np, state_t = net.initial_state(B), model.initial_state(B)
    with torch.no_grad():
        for a in range(0, T, cut):
            seg = tuple(x[:, a : a + cut] for x in (ids, roles, ext))
            out_np = net(*seg, state_np)
            out_t = model(*(torch.from_numpy(x) for x in seg), state_t, last_only=True)
            _assert_same(out_np, out_t, V + 6)
            # Each side carries its own state on, as inference does (no re-synchronising).
            state_np, state_t = out_np.state, out_t.state


def test_a_beam_s_rows_step_on_from_a_half_precision_state() -> None:
    """As beam search runs it: the state compacted to half precision, rows selected, one token each."""
    model, net = _pair(CONFIGS["far"], seed=2)
    rng = np.random.default_rng(3)
    ids, roles, ext = _inputs(rng, 1, 30)
    out = net(ids, roles, ext, net.initial_state(1))
    state = out.state._replace(mem=out.state.mem.astype(np.float16), far=out.state.far.astype(np.float16))
    rows = np.array([0, 0, 0, 0])
    beam = state.select(rows)
    step = tuple(rng.integers(5, V, (4, 1)) for _ in range(2))
    names = np.array([[True], [False], [True], [False]])  # some rows push a name into the far memory, some not
    roles_step = np.where(names, ROLES.index("name") if "name" in ROLES else 1, SYNTAX)
    with torch.no_grad():
        out_t = model(torch.from_numpy(step[0]), torch.from_numpy(roles_step), torch.from_numpy(step[1]),
                      _to_torch(beam), last_only=True)
    _assert_same(net(step[0], roles_step, step[1], beam), out_t, V)


def test_the_lesions_read_the_same_weights() -> None:
    model, net = _pair(CONFIGS["far"])
    lesioned = net.with_config(far=0, pointer=False)
    torch_lesioned = network.HeedLM.of(lesioned.config, lesioned.weights).eval()
    assert np.shares_memory(lesioned.weights["embed.weight"], net.weights["embed.weight"])  # no copy
    rng = np.random.default_rng(4)
    ids, roles, ext = _inputs(rng, 2, 12)
    with torch.no_grad():
        out_t = torch_lesioned(*(torch.from_numpy(x) for x in (ids, roles, ext)), torch_lesioned.initial_state(2), last_only=True)
    out_np = lesioned(ids, roles, ext, lesioned.initial_state(2))
    _assert_same(out_np, out_t, V + 6)
    assert (out_np.gate == 1).all()


def test_with_weights_leaves_the_original_alone() -> None:
    _, net = _pair(CONFIGS["no far"])
    bias = net.weights["decoder_bias"].copy()
    bias[7] += 5
    raised = net.with_weights({"decoder_bias": bias})
    ids, roles, ext = _inputs(np.random.default_rng(5), 1, 5)
    before = net(ids, roles, ext, net.initial_state(1)).logits
    after = raised(ids, roles, ext, raised.initial_state(1)).logits
    assert after[0, 0, 7] == pytest.approx(before[0, 0, 7] + 5, abs=1e-4)
    assert net.weights["decoder_bias"][7] != bias[7]
    assert replace(net.config) == raised.config


def test_the_server_s_inference_imports_no_torch(tiny_model_dir) -> None:  # type: ignore[no-untyped-def]
    """A popup and a ghost text through the server's classes, in a fresh interpreter: torch (230 MB
    of memory on import) is never loaded."""
    code = f"""
import sys
from heed.server.engine import Engine
from heed.model.runtime.completer import Completer
from heed.model.text.stream import TokenStream
engine = Engine()
status = engine.load({str(tiny_model_dir)!r}, 1)
assert status.state == "ready", status
text = "import os\\n\\ndef f(path):\\n    return os.path."
completer = Completer(engine.predictor)
completer.popup(TokenStream(text), len(text))
completer.inline(TokenStream(text), len(text) - 5)
print("torch" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="numpy's wheels bundle OpenBLAS on Linux")
def test_numpy_s_threads_can_be_set() -> None:
    """The server sets OpenBLAS's threads through numpy's own library (one by default)."""
    from heed.model.runtime.threads import set_blas_threads

    assert set_blas_threads(1)
    assert set_blas_threads(2)
    assert set_blas_threads(1)
