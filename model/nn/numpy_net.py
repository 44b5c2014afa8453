"""The network's forward pass in numpy: what the server runs. It never imports torch.

`network.py` defines the network (in torch, which trains it); this is the same arithmetic for
inference, on the same weights, one query at a time (`last_only`): a language server that
imports torch costs 230 MB of memory before it has loaded anything (docs/BENCHMARKS.md), and
at these sizes (one position, a beam of four) numpy is about as fast (bench/model_bench.py). A test checks every output
against `HeedLM`'s.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import NamedTuple

import numpy as np

from heed.model.nn.config import ModelConfig, weight_shapes
from heed.model.text.roles import SYNTAX


class State(NamedTuple):
    """What carries over from one segment (or one step) to the next (`network.State`, in numpy)."""

    h: np.ndarray  # [layers, B, H]
    c: np.ndarray  # [layers, B, H]
    mem: np.ndarray  # [B, K, H] the last K hidden states
    mem_ext: np.ndarray  # [B, K] their pointer identities (-1: copies nothing)
    mem_valid: np.ndarray  # [B, K] bool: False before a file's start
    mem_name: np.ndarray  # [B, K] bool: a name, which enters the far memory when it leaves
    far: np.ndarray  # [B, F, H] hidden states of the last F names that left the window
    far_ext: np.ndarray  # [B, F] their pointer identities
    far_valid: np.ndarray  # [B, F] bool; the valid entries are the newest, at the end

    def select(self, rows: np.ndarray) -> State:
        """The state of some batch rows (beam search reorders hypotheses this way)."""
        return State(self.h[:, rows], self.c[:, rows], *(t[rows] for t in self[2:]))


class Output(NamedTuple):
    """The network's output at the last position of what it ran (`network.Output`, T = 1)."""

    logits: np.ndarray  # [B, 1, V] vocabulary scores
    attn: np.ndarray  # [B, 1, F+K] the pointer's distribution over the far memory, then the window
    gate: np.ndarray  # [B, 1] probability given to the vocabulary
    key_ext: np.ndarray  # [B, F+K] pointer identity of each of those positions
    state: State
    vector: np.ndarray | None = None  # [B, E] the output layer's input: what the project memory is searched by


class NumpyNet:
    """`HeedLM`'s weights as float32 arrays, and its forward pass for inference."""

    def __init__(self, config: ModelConfig, weights: dict[str, np.ndarray]):
        shapes = weight_shapes(config)
        assert set(shapes) <= set(weights), sorted(set(shapes) - set(weights))
        weights = {k: w for k, w in weights.items() if k in shapes}  # a lesion may leave some out (`far_bias`)
        self.config = config
        # The matrices are kept transposed (contiguous, each product reads them row by row), and
        # `weights` holds views of them: one copy of each in memory.
        self._t = {k: np.ascontiguousarray(np.asarray(w, np.float32).reshape(shapes[k]).T)
                   for k, w in weights.items() if len(shapes[k]) == 2 and k != "role_embed.weight"}
        self.weights = {k: self._t[k].T if k in self._t else np.asarray(w, np.float32).reshape(shapes[k])
                        for k, w in weights.items()}

    def with_config(self, **changes: object) -> NumpyNet:
        """The same weights read with another config (the lesions: no pointer, no far memory)."""
        return NumpyNet(replace(self.config, **changes), self.weights)  # type: ignore[arg-type]

    def with_weights(self, changes: dict[str, np.ndarray]) -> NumpyNet:
        """A copy with some weights replaced (tests make a model favour a token this way)."""
        return NumpyNet(self.config, self.weights | changes)

    def parameter_count(self) -> int:
        return sum(int(w.size) for w in self.weights.values())

    def initial_state(self, batch: int) -> State:
        c = self.config
        return State(
            np.zeros((c.layers, batch, c.hidden), np.float32),
            np.zeros((c.layers, batch, c.hidden), np.float32),
            np.zeros((batch, c.window, c.hidden), np.float32),
            np.full((batch, c.window), -1, np.int64),
            np.zeros((batch, c.window), bool),
            np.zeros((batch, c.window), bool),
            np.zeros((batch, c.far, c.hidden), np.float32),
            np.full((batch, c.far), -1, np.int64),
            np.zeros((batch, c.far), bool),
        )

    def recur(self, ids: np.ndarray, roles: np.ndarray, h: np.ndarray, c: np.ndarray
              ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """The LSTM alone over ids, roles [B, T] from (h, c) [layers, B, H]: its outputs [B, T, H]
        and final (h, c), as `HeedLM.recur` (PyTorch's gate order: input, forget, cell, output)."""
        w, H = self.weights, self.config.hidden
        x = np.concatenate([w["embed.weight"][ids], w["role_embed.weight"][roles]], axis=-1)
        B, T = ids.shape
        # One tanh for all four gates: sigmoid(x) = 0.5 tanh(x / 2) + 0.5 for the input, forget and
        # output gates, tanh(x) for the cell's input. In place, step after step: at one token a
        # step, numpy's per-call cost is a third of the LSTM's time.
        scale = np.full(4 * H, 0.5, np.float32)
        scale[2 * H : 3 * H] = 1.0
        shift = np.where(scale == 0.5, 0.5, 0.0).astype(np.float32)
        hs, cs = [], []
        for layer in range(self.config.layers):
            gates_x = x @ self._t[f"lstm.weight_ih_l{layer}"] + (w[f"lstm.bias_ih_l{layer}"] + w[f"lstm.bias_hh_l{layer}"])
            w_hh = self._t[f"lstm.weight_hh_l{layer}"]
            h_, c_ = np.array(h[layer], np.float32), np.array(c[layer], np.float32)  # copies: updated in place
            out = np.empty((B, T, H), np.float32)
            g, ic = np.empty((B, 4 * H), np.float32), np.empty((B, H), np.float32)
            for t in range(T):
                if B == 1:
                    np.dot(h_, w_hh, out=g)
                else:
                    g[:] = _dot(h_, w_hh)
                g += gates_x[:, t]
                g *= scale
                np.tanh(g, out=g)
                g *= scale
                g += shift
                c_ *= g[:, H : 2 * H]
                np.multiply(g[:, :H], g[:, 2 * H : 3 * H], out=ic)
                c_ += ic
                np.tanh(c_, out=h_)
                h_ *= g[:, 3 * H :]
                out[:, t] = h_
            hs.append(h_)
            cs.append(c_)
            x = out
        return x, (np.stack(hs), np.stack(cs))

    def __call__(self, ids: np.ndarray, roles: np.ndarray, ext: np.ndarray, state: State,
                 names: np.ndarray | None = None) -> Output:
        """Run ids, roles, ext [B, T] (ext: each input's pointer identity, -1: none) from `state`:
        the output at the last position, and the state after it (`HeedLM.forward(last_only=True)`)."""
        B, T = ids.shape
        K, F, H = self.config.window, self.config.far, self.config.hidden
        if names is None:
            names = roles != SYNTAX
        out, (h, c) = self.recur(ids, roles, state.h, state.c)
        keys = np.concatenate([state.mem.astype(np.float32), out], axis=1)  # [B, K+T, H]
        key_ext = np.concatenate([state.mem_ext, ext.astype(np.int64)], axis=1)
        key_valid = np.concatenate([state.mem_valid, np.ones((B, T), bool)], axis=1)
        key_name = np.concatenate([state.mem_name, names.astype(bool) & (ext >= 0)], axis=1) & key_valid
        far, far_ext, far_valid = push_far(state, keys[:, :T], key_ext[:, :T], key_name[:, :T], F)
        new = State(h, c, keys[:, -K:], key_ext[:, -K:], key_valid[:, -K:], key_name[:, -K:], far, far_ext, far_valid)

        # One query over the window it can see (the current token's included), and the far memory.
        w, q = self.weights, out[:, -1]  # [B, H]
        query, scale = q @ self._t["query.weight"], math.sqrt(H)
        scores = np.einsum("bh,bkh->bk", query, new.mem) / scale
        attn = _softmax(np.where(new.mem_valid, scores, -np.inf))
        context = np.einsum("bk,bkh->bh", attn, new.mem)
        attn_ext = np.concatenate([new.far_ext, new.mem_ext], axis=1)
        if F:  # the pointer: one softmax over the far names, then the window
            far_scores = np.einsum("bh,bkh->bk", query, new.far.astype(np.float32, copy=False)) / scale
            beyond = np.where(new.far_valid, far_scores + w["far_bias"], -np.inf)
            attn = _softmax(np.concatenate([beyond, np.where(new.mem_valid, scores, -np.inf)], axis=1))
        z = np.concatenate([q, context], axis=-1)
        vector = np.tanh(z @ self._t["proj.weight"] + w["proj.bias"])
        logits = _dot(vector, self._t["embed.weight"]) + w["decoder_bias"]
        if self.config.pointer:
            gate = _sigmoid((z @ self._t["gate.weight"] + w["gate.bias"])[:, 0])
        else:
            gate = np.ones(B, np.float32)
        return Output(logits[:, None], attn[:, None], gate.astype(np.float32)[:, None], attn_ext, new, vector)


def _dot(x: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """x [B, I] @ wt [I, O]: a few rows one at a time, which OpenBLAS does twice as fast as
    its matrix product at this shape (a beam of four)."""
    if 1 < len(x) <= 8:
        return np.stack([row @ wt for row in x])
    return x @ wt


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * x)  # without exp's overflow


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def push_far(state: State, keys: np.ndarray, ext: np.ndarray, names: np.ndarray, F: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The far memory after `keys` [B, T, H] left the window: the newest F names, oldest first,
    valid last (`network.push_far`). Pushed keys take the far memory's precision."""
    if F == 0:
        return state.far, state.far_ext, state.far_valid
    keys = keys.astype(state.far.dtype, copy=False)
    if keys.shape[1] == 1:  # one step (beam search): a row that pushes a name drops its oldest entry
        push = names[:, 0]
        if not push.any():
            return state.far, state.far_ext, state.far_valid
        shifted = (np.concatenate([state.far[:, 1:], keys], 1), np.concatenate([state.far_ext[:, 1:], ext], 1),
                   np.concatenate([state.far_valid[:, 1:], names], 1))
        if push.all():
            return shifted
        old = (state.far, state.far_ext, state.far_valid)
        return tuple(np.where(push.reshape(-1, *[1] * (new.ndim - 1)), new, was)  # type: ignore[return-value]
                     for new, was in zip(shifted, old))
    all_keys = np.concatenate([state.far, keys], axis=1)
    all_ext = np.concatenate([state.far_ext, ext], axis=1)
    valid = np.concatenate([state.far_valid, names], axis=1)
    n = valid.shape[1]
    at = np.arange(n)
    keep = np.argsort(np.where(valid, at + n, at), axis=1)[:, -F:]  # invalid first, then valid in order
    valid = np.take_along_axis(valid, keep, 1)
    return (np.take_along_axis(all_keys, keep[..., None], 1),
            np.where(valid, np.take_along_axis(all_ext, keep, 1), -1), valid)


def mixture(out: Output, n_ext: int, answerable: np.ndarray) -> np.ndarray:
    """The full next-token distribution [B, n_ext] over vocabulary ids and pointer identities
    (`network.mixture` at the last position): i < V a vocabulary token, i >= V a name outside
    the vocabulary that the pointer can copy. Placeholders (`<unk>`, `<str>`...) are zeroed."""
    logits, gate = out.logits[:, -1], out.gate[:, -1]
    probs = _softmax(logits) * gate[:, None] * answerable
    V = probs.shape[-1]
    if n_ext > V:
        probs = np.concatenate([probs, np.zeros((len(probs), n_ext - V), np.float32)], axis=1)
    weight = out.attn[:, -1] * (1 - gate[:, None]) * answerable_ext(out.key_ext, answerable)
    ext = np.clip(out.key_ext, 0, n_ext - 1)
    for row in range(len(probs)):
        probs[row] += np.bincount(ext[row], weights=weight[row], minlength=n_ext)[:n_ext].astype(np.float32)
    return probs


def answerable_ext(key_ext: np.ndarray, answerable: np.ndarray) -> np.ndarray:
    """Whether each pointer identity is a definite text (names outside the vocabulary are)."""
    V = answerable.shape[0]
    inside = answerable[np.clip(key_ext, 0, V - 1)]
    return np.where(key_ext >= V, True, inside) & (key_ext >= 0)
