"""The network: token and role embeddings -> LSTM -> attention over a window -> vocabulary + pointer.

The pointer-mixture network of Li et al. (2018), "Code Completion with Neural Attention and
Pointer Networks". For each position t:

    x_t   = [embed(token_t); embed(role_t)]
    h_t   = LSTM(x_t, h_{t-1})                       the gates carry long-range context
    a_t   = softmax over the last K hidden states     (the window, h_t itself included)
    c_t   = sum_j a_tj h_j                            context vector
    p_voc = softmax(W tanh(U [h_t; c_t]))             W tied to the input embedding
    g_t   = sigmoid(v . [h_t; c_t])                   how much to trust the vocabulary
    p(w)  = g_t p_voc(w) + (1 - g_t) sum_{j: token_j = w} a_tj

The same attention is the pointer: copying a name seen in the window, even one outside the
vocabulary, is attending to where it stood. That is also what `heed explain` shows.

Names reach further back than the window: the hidden states of the last F names that left it
(the *far memory*) are scored by the same query, discounted by a learned bias, and share the
pointer's softmax with the window (they do not enter the context vector). A name used once
at the top of a file can be copied a thousand tokens later.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F_
from torch import nn

from heed.model.nn.config import ModelConfig, weight_shapes
from heed.model.text.roles import SYNTAX


class State(NamedTuple):
    """What carries over from one segment (or one step) to the next."""

    h: torch.Tensor  # [layers, B, H]
    c: torch.Tensor  # [layers, B, H]
    mem: torch.Tensor  # [B, K, H] the last K hidden states
    mem_ext: torch.Tensor  # [B, K] their pointer identities (-1: copies nothing)
    mem_valid: torch.Tensor  # [B, K] bool: False before a file's start
    mem_name: torch.Tensor  # [B, K] bool: a name, which enters the far memory when it leaves
    far: torch.Tensor  # [B, F, H] hidden states of the last F names that left the window
    far_ext: torch.Tensor  # [B, F] their pointer identities
    far_valid: torch.Tensor  # [B, F] bool; the valid entries are the newest, at the end

    def detach(self) -> State:
        return State(*(t.detach() for t in self))

    def select(self, rows: torch.Tensor) -> State:
        """The state of some batch rows (beam search reorders hypotheses this way)."""
        return State(self.h[:, rows], self.c[:, rows], *(t[rows] for t in self[2:]))

    def reset_rows(self, rows: torch.Tensor) -> State:
        """Zero the rows where `rows` is True: a new file starts there."""
        keep = (~rows).to(self.h.dtype)
        return State(
            self.h * keep[None, :, None],
            self.c * keep[None, :, None],
            self.mem * keep[:, None, None],
            torch.where(rows[:, None], torch.full_like(self.mem_ext, -1), self.mem_ext),
            self.mem_valid & ~rows[:, None],
            self.mem_name & ~rows[:, None],
            self.far * keep[:, None, None],
            torch.where(rows[:, None], torch.full_like(self.far_ext, -1), self.far_ext),
            self.far_valid & ~rows[:, None],
        )


FAR_BIAS_INIT = -2.0


def push_far(state: State, keys: torch.Tensor, ext: torch.Tensor, names: torch.Tensor, F: int) -> tuple[torch.Tensor, ...]:
    """The far memory after `keys` left the window: the newest F names, oldest first, valid last."""
    if F == 0:
        return state.far, state.far_ext, state.far_valid
    if keys.shape[1] == 1:  # one step (beam search): a row that pushes a name drops its oldest entry
        return _push_one(state, keys.to(state.far.dtype), ext, names)
    all_keys = torch.cat([state.far, keys.to(state.far.dtype)], dim=1)
    all_ext = torch.cat([state.far_ext, ext], dim=1)
    valid = torch.cat([state.far_valid, names], dim=1)
    n = valid.shape[1]
    at = torch.arange(n, device=valid.device)
    keep = torch.where(valid, at + n, at).argsort(dim=1)[:, -F:]  # invalid first, then valid in order
    valid = valid.gather(1, keep)
    return (all_keys.gather(1, keep[..., None].expand(-1, -1, all_keys.shape[-1])),
            all_ext.gather(1, keep).masked_fill(~valid, -1), valid)


def _push_one(state: State, key: torch.Tensor, ext: torch.Tensor, name: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """`push_far` for one token, without its sort and gathers (the valid entries are already the
    last ones). Only the invalid entries' hidden states may differ, and nothing reads those."""
    push = name[:, 0]
    if not bool(push.any()):
        return state.far, state.far_ext, state.far_valid
    shifted = (torch.cat([state.far[:, 1:], key], 1), torch.cat([state.far_ext[:, 1:], ext], 1),
               torch.cat([state.far_valid[:, 1:], name], 1))
    if bool(push.all()):
        return shifted
    old = (state.far, state.far_ext, state.far_valid)
    return tuple(torch.where(push.view(-1, *[1] * (new.dim() - 1)), new, was) for new, was in zip(shifted, old))


class Output(NamedTuple):
    logits: torch.Tensor  # [B, T, V] vocabulary scores
    attn: torch.Tensor  # [B, T, F+K+T] the pointer's distribution over far memory, window memory, segment
    gate: torch.Tensor  # [B, T] probability given to the vocabulary
    key_ext: torch.Tensor  # [B, F+K+T] pointer identity of each of those positions
    state: State
    loss: torch.Tensor | None


class HeedLM(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(c.vocab_size, c.embed)
        self.role_embed = nn.Embedding(c.n_roles, c.role_embed)
        self.drop = nn.Dropout(c.dropout)
        self.lstm = nn.LSTM(c.embed + c.role_embed, c.hidden, c.layers, batch_first=True, dropout=c.dropout if c.layers > 1 else 0.0)
        self.query = nn.Linear(c.hidden, c.hidden, bias=False)
        self.proj = nn.Linear(2 * c.hidden, c.embed)
        self.gate = nn.Linear(2 * c.hidden, 1)
        self.decoder_bias = nn.Parameter(torch.zeros(c.vocab_size))
        if c.far:  # log-weight of a far name against one in the window, before their scores
            self.far_bias = nn.Parameter(torch.tensor(FAR_BIAS_INIT))
        nn.init.normal_(self.embed.weight, std=0.05)
        # Set by the trainer where the LSTM has no bf16 kernel (cuDNN before 9.13, the CPU): under
        # autocast it then runs in float32 and the rest of the network in bf16.
        self.lstm_in_fp32 = False

    @staticmethod
    def weight_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
        return weight_shapes(config)

    @staticmethod
    def of(config: ModelConfig, weights: dict[str, Any]) -> HeedLM:
        """The model with these weights (numpy arrays, as `store.load_weights` reads them)."""
        model = HeedLM(config)
        model.load_state_dict({k: torch.as_tensor(v, dtype=torch.float32) for k, v in weights.items()})
        return model

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> State:
        c = self.config
        zeros = torch.zeros(c.layers, batch, c.hidden, device=device)
        return State(
            zeros,
            zeros.clone(),
            torch.zeros(batch, c.window, c.hidden, device=device),
            torch.full((batch, c.window), -1, dtype=torch.long, device=device),
            torch.zeros(batch, c.window, dtype=torch.bool, device=device),
            torch.zeros(batch, c.window, dtype=torch.bool, device=device),
            torch.zeros(batch, c.far, c.hidden, device=device),
            torch.full((batch, c.far), -1, dtype=torch.long, device=device),
            torch.zeros(batch, c.far, dtype=torch.bool, device=device),
        )

    def recur(self, ids: torch.Tensor, roles: torch.Tensor, h: torch.Tensor, c: torch.Tensor
              ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The LSTM alone: its outputs and final (h, c). What the attention reads is these outputs,
        so a state cache can run this and rebuild the rest (`heed.model.runtime.state_cache.Track`)."""
        x = self.drop(torch.cat([self.embed(ids), self.role_embed(roles.long())], dim=-1))
        if self.lstm_in_fp32:
            with torch.autocast(x.device.type, enabled=False):
                return self.lstm(x.float(), (h.float(), c.float()))
        return self.lstm(x, (h, c))

    def forward(
        self,
        ids: torch.Tensor,  # [B, T] vocabulary ids
        roles: torch.Tensor,  # [B, T]
        ext: torch.Tensor,  # [B, T] pointer identity of each input token (-1: none)
        state: State,
        targets: torch.Tensor | None = None,  # [B, T] vocabulary id of the next token
        target_ext: torch.Tensor | None = None,  # [B, T] its pointer identity (-1: none)
        mask: torch.Tensor | None = None,  # [B, T] positions that count in the loss
        last_only: bool = False,  # inference: attention and heads for the last position alone
        names: torch.Tensor | None = None,  # [B, T] bool: inputs that are names (default: from roles)
    ) -> Output:
        B, T = ids.shape
        K, F = self.config.window, self.config.far
        if names is None:  # the trainer passes them, since its role dropout hides some
            names = roles != SYNTAX
        out, (h, c) = self.recur(ids, roles, state.h, state.c)  # out: [B, T, H]
        keys = torch.cat([state.mem.to(out.dtype), out], dim=1)  # [B, K+T, H]
        key_ext = torch.cat([state.mem_ext, ext.long()], dim=1)  # [B, K+T]
        key_valid = torch.cat([state.mem_valid, torch.ones(B, T, dtype=torch.bool, device=ids.device)], dim=1)
        key_name = torch.cat([state.mem_name, names.bool() & (ext >= 0)], dim=1) & key_valid
        # The first T keys leave the window; the names among them go to the far memory.
        far = push_far(state, keys[:, :T], key_ext[:, :T], key_name[:, :T], F)
        new_state = State(h, c, keys[:, -K:], key_ext[:, -K:], key_valid[:, -K:], key_name[:, -K:], *far)
        if last_only:  # one query, over exactly the window it can see, and the far memory
            out, T = out[:, -1:], 1
            far_keys, keys = new_state.far, new_state.mem
            key_ext = torch.cat([new_state.far_ext, new_state.mem_ext], dim=1)
            window = new_state.mem_valid[:, None, :]  # [B, 1, K]
            beyond = torch.cat([new_state.far_valid, torch.zeros_like(new_state.mem_valid)], dim=1)[:, None, :]
        else:
            # Query t (at K+t among the keys) sees keys t+1 .. t+K: the K latest, itself included.
            q_pos = torch.arange(T, device=ids.device)[:, None] + K
            k_pos = torch.arange(K + T, device=ids.device)[None, :]
            band = (k_pos <= q_pos) & (k_pos > q_pos - K)  # [T, K+T]
            window = band[None] & key_valid[:, None, :]  # [B, T, K+T]
            # Beyond the band: the newest F names that left the window during this segment, then
            # the far memory less as many of its oldest entries: each query sees F names at most.
            left = (k_pos <= q_pos - K)[None] & key_name[:, None, :]  # [B, T, K+T]
            left &= left.flip(-1).cumsum(-1).flip(-1) <= F  # at most F of them, the newest
            n_left = left.sum(-1, keepdim=True)  # [B, T, 1]
            old = state.far_valid[:, None, :] & (torch.arange(F, device=ids.device) >= n_left)  # [B, T, F]
            far_keys, key_ext = state.far, torch.cat([state.far_ext, key_ext], dim=1)
            beyond = torch.cat([old, left], dim=-1)  # over the far memory, then the keys
        # The far memory is scored apart from the keys (never copied next to them): it takes no
        # part in the context vector.
        query, scale = self.query(out), math.sqrt(self.config.hidden)
        keys = keys.to(out.dtype)
        scores = (torch.einsum("bth,bkh->btk", query, keys) / scale).float()
        attn = torch.softmax(scores.masked_fill(~window, float("-inf")), dim=-1)  # the window alone
        context = torch.einsum("btk,bkh->bth", attn.to(keys.dtype), keys)
        if F:  # the pointer: one softmax over the far names, then the keys (those that left the window too)
            far_scores = (torch.einsum("bth,bkh->btk", query, far_keys.to(out.dtype)) / scale).float()
            scores = torch.cat([far_scores, scores], dim=-1)
            window = torch.cat([torch.zeros_like(far_scores, dtype=torch.bool), window], dim=-1)
            beyond_scores = torch.where(beyond, scores + self.far_bias.float(), torch.full_like(scores, float("-inf")))
            attn = torch.softmax(torch.where(window, scores, beyond_scores), dim=-1)
        z = self.drop(torch.cat([out, context], dim=-1))
        logits = F_.linear(torch.tanh(self.proj(z)), self.embed.weight, self.decoder_bias)
        if self.config.pointer:
            gate = torch.sigmoid(self.gate(z).float()).squeeze(-1)
        else:
            gate = torch.ones(B, T, device=ids.device)
        loss = None
        if targets is not None:
            assert target_ext is not None and mask is not None
            loss = self.nll(logits, attn, gate, key_ext, targets, target_ext)
            loss = (loss * mask).sum() / mask.sum().clamp_min(1)
        return Output(logits, attn, gate, key_ext, new_state, loss)

    @staticmethod
    def target_log_prob(
        logits: torch.Tensor, attn: torch.Tensor, gate: torch.Tensor, key_ext: torch.Tensor,
        targets: torch.Tensor, target_ext: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """log p(target), and the log-probabilities the vocabulary and the pointer gave it.

        A name outside the vocabulary is `<unk>` to the vocabulary. Where the pointer can reach
        it (it stands in the window) only the pointer is credited: otherwise predicting `<unk>`,
        which is never shown, would be as good as copying the name and the pointer never learns to.
        """
        log_voc = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.long()[..., None]).squeeze(-1)
        hits = (key_ext[:, None, :] == target_ext[..., None]) & (target_ext[..., None] >= 0)
        ptr = (attn * hits).sum(-1)
        log_ptr = torch.log(ptr.clamp_min(1e-30)).masked_fill(ptr <= 0, float("-inf"))
        log_voc = log_voc.masked_fill((target_ext >= logits.shape[-1]) & (ptr > 0), float("-inf"))
        a = torch.log(gate.clamp_min(1e-30)) + log_voc
        b = torch.log1p(-gate.clamp_max(1 - 1e-7)) + log_ptr
        return torch.logaddexp(a, b), a, b

    def nll(self, logits, attn, gate, key_ext, targets, target_ext) -> torch.Tensor:  # type: ignore[no-untyped-def]
        if not self.config.pointer:
            return F_.cross_entropy(logits.float().transpose(1, 2), targets.long(), reduction="none")
        logp, _, _ = self.target_log_prob(logits, attn, gate, key_ext, targets, target_ext)
        return -logp.clamp_min(-30.0)


def mixture(out: Output, n_ext: int, answerable: torch.Tensor) -> torch.Tensor:
    """The full next-token distribution over vocabulary ids and pointer identities.

    Returns [B, T, n_ext] with n_ext >= vocabulary size: index i < V is a vocabulary token,
    i >= V a name outside the vocabulary that the pointer can copy. Placeholders (`<unk>`,
    `<str>`...) are zeroed: they are never an answer to show.
    """
    probs = torch.softmax(out.logits.float(), dim=-1) * out.gate[..., None]
    V = probs.shape[-1]
    probs = probs * answerable.to(probs.dtype)
    if n_ext > V:
        probs = torch.cat([probs, probs.new_zeros(*probs.shape[:-1], n_ext - V)], dim=-1)
    ext = out.key_ext.clamp(0, n_ext - 1)
    weight = out.attn * (1 - out.gate[..., None]) * (out.key_ext >= 0)[:, None, :]
    weight = weight * answerable_ext(out.key_ext, answerable)[:, None, :]
    probs.scatter_add_(-1, ext[:, None, :].expand(-1, probs.shape[1], -1), weight)
    return probs


def answerable_ext(key_ext: torch.Tensor, answerable: torch.Tensor) -> torch.Tensor:
    """Whether each pointer identity is a definite text (names outside the vocabulary are)."""
    V = answerable.shape[0]
    inside = answerable[key_ext.clamp(0, V - 1)]
    return torch.where(key_ext >= V, torch.ones_like(inside), inside) & (key_ext >= 0)
