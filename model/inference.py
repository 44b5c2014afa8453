"""Running the model while someone types: a state cache per document, next-token prediction and
beam search for the rest of a line.

The LSTM state after every CHECKPOINT tokens of a document's context is kept. A request compares
its context with the one the checkpoints were computed on, resumes from the last checkpoint
before the first difference, and runs only the tokens after it: typing in a 3,000-line file
costs tens of tokens, not thousands. The answer is the same as running from scratch (a test
checks this after random edits).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from heed.model.network import HeedLM, Output, State, mixture
from heed.model.roles import UNKNOWN
from heed.model.vocab import LAYOUT, PAD, UNANSWERABLE, UNK, Vocab

CHECKPOINT = 64  # tokens between cached states
MAX_CONTEXT = 4096  # tokens before the cursor the model reads at most
CONTEXT_STRIDE = 1024  # the context's start moves in steps of this, so the cache stays valid
STOP_KEYS = frozenset(LAYOUT.values())  # a line ends at <newline>, <indent>, <dedent>, <eof>
OPENERS, CLOSERS = frozenset("([{"), frozenset(")]}")

Cancelled = Callable[[], bool]


class RequestCancelled(Exception):
    """The request was superseded or cancelled; its partial work is dropped."""


@dataclass
class Encoded:
    """Model inputs for a run of tokens."""

    ids: np.ndarray  # int64 vocabulary ids
    roles: np.ndarray  # int64 role ids
    ext: np.ndarray  # int64 pointer identities (-1: not copyable)

    def __len__(self) -> int:
        return len(self.ids)

    @staticmethod
    def concat(parts: list[Encoded]) -> Encoded:
        if not parts:
            z = np.zeros(0, np.int64)
            return Encoded(z, z.copy(), z.copy())
        return Encoded(*(np.concatenate([getattr(p, n) for p in parts]) for n in ("ids", "roles", "ext")))

    def tail(self, start: int) -> Encoded:
        return Encoded(self.ids[start:], self.roles[start:], self.ext[start:])


class DocEncoder:
    """Token keys -> model inputs, with this document's table of names outside the vocabulary."""

    def __init__(self, vocab: Vocab):
        self.vocab = vocab
        self.answerable = vocab.answerable()
        self.oov: dict[str, int] = {}
        self.oov_texts: list[str] = []

    def ext_of_text(self, text: str) -> int:
        """Pointer identity of a name, adding it to the document's table if new."""
        vid = self.vocab.index.get(text)
        if vid is not None:
            return vid
        if text not in self.oov:
            self.oov[text] = len(self.oov_texts)
            self.oov_texts.append(text)
        return len(self.vocab) + self.oov[text]

    def encode(self, keys: list[str], kinds: list[str], roles: list[int]) -> Encoded:
        n = len(keys)
        ids = np.empty(n, np.int64)
        ext = np.empty(n, np.int64)
        index = self.vocab.index
        for i, (key, kind) in enumerate(zip(keys, kinds)):
            vid = index.get(key)
            if vid is not None:
                ids[i] = vid
                ext[i] = vid if self.answerable[vid] else -1
            else:
                ids[i] = self.vocab.encode(kind, key)
                ext[i] = self.ext_of_text(key) if kind == "name" else -1
        return Encoded(ids, np.asarray(roles, np.int64), ext)

    def text_of(self, ext_id: int) -> str:
        size = len(self.vocab)
        return self.vocab.tokens[ext_id] if ext_id < size else self.oov_texts[ext_id - size]

    @property
    def n_ext(self) -> int:
        return len(self.vocab) + len(self.oov_texts)


@dataclass
class Prediction:
    """The model's view of the next token after a context."""

    probs: np.ndarray  # [n_ext] next-token probabilities (placeholders zeroed)
    gate: float  # probability given to the vocabulary (1 - pointer)
    attn: np.ndarray  # [K] attention over the last K context tokens (oldest first)
    window_ext: np.ndarray  # [K] pointer identity of those tokens
    window_start: int  # index in the context of the first of them (may be negative: not valid)
    vocab_probs: np.ndarray  # [V] the vocabulary's own distribution (before the gate)


@dataclass
class LineHypothesis:
    tokens: list[str]  # texts
    logp: float
    complete: bool  # ended at the end of the line (or where brackets balance)


def select_context(n_tokens: int) -> int:
    """Index of the first token the model reads when `n_tokens` precede the cursor."""
    if n_tokens <= MAX_CONTEXT:
        return 0
    return (n_tokens - MAX_CONTEXT) // CONTEXT_STRIDE * CONTEXT_STRIDE + CONTEXT_STRIDE


class Predictor:
    """A loaded model with what it needs at inference: answerable mask, device, threads."""

    def __init__(self, model: HeedLM, vocab: Vocab, meta: dict | None = None):
        self.model = model.eval()
        self.vocab = vocab
        self.meta = meta or {}
        self.answerable = torch.tensor(vocab.answerable())
        # Beam search may predict a placeholder (`<str>`: a string comes here), which ends the
        # hypothesis; never `<unk>`, whose mass belongs to the names the pointer can copy.
        self.beam_answers = torch.tensor([t not in (PAD, UNK) for t in vocab.tokens])
        self.stop_ids = {vocab.index[k] for k in STOP_KEYS}
        self.unanswerable_ids = {vocab.index[k] for k in UNANSWERABLE}

    @torch.no_grad()
    def run(self, inputs: Encoded, state: State, cancelled: Cancelled | None = None) -> tuple[Output, list[State]]:
        """Consume `inputs` from `state`: the output at the last token, and the state after every
        CHECKPOINT tokens (aligned to the start of `inputs`)."""
        states = []
        out = None
        for a in range(0, len(inputs), CHECKPOINT):
            if cancelled and cancelled():
                raise RequestCancelled
            b = min(a + CHECKPOINT, len(inputs))
            seg = [torch.from_numpy(x[a:b])[None] for x in (inputs.ids, inputs.roles, inputs.ext)]
            out = self.model(*seg, state, last_only=True)
            state = out.state
            states.append(state)
        assert out is not None, "run() needs at least one token"
        return out, states

    def prediction(self, out: Output, encoder: DocEncoder, window_start: int) -> Prediction:
        probs = mixture(out, encoder.n_ext, self.answerable)[0, -1]
        return Prediction(
            probs=probs.numpy(),
            gate=float(out.gate[0, -1]),
            attn=out.attn[0, -1].numpy(),
            window_ext=out.key_ext[0].numpy(),
            window_start=window_start,
            vocab_probs=torch.softmax(out.logits[0, -1].float(), -1).numpy(),
        )

    @torch.no_grad()
    def beam_search(
        self,
        out: Output,
        encoder: DocEncoder,
        width: int = 4,
        max_tokens: int = 16,
        first: Callable[[str], bool] | None = None,
        budget_s: float = 0.15,
        cancelled: Cancelled | None = None,
        alternatives: int = 3,
        open_before: int = 0,
        stop_at_close: bool = True,
    ) -> list[LineHypothesis]:
        """Most probable continuations of the line after `out`'s position.

        `first` restricts the first token (the identifier already typed, or the popup's
        selection). A hypothesis ends at the end of the line, at a closing bracket that was
        opened before the cursor (`open_before` of them are open there; a closing bracket with
        none open is not Python and ends nothing; with `stop_at_close` False the line goes on), at a literal the vocabulary only knows by kind, or after
        `max_tokens`. Lines that end come first, each group by total log-probability (the end
        included).
        """
        deadline = time.monotonic() + budget_s
        n_ext = encoder.n_ext
        live: list[tuple[float, list[int], int]] = [(0.0, [], 0)]  # (logp, ext ids, bracket depth)
        finished: list[LineHypothesis] = []
        for step in range(max_tokens):
            if cancelled and cancelled():
                raise RequestCancelled
            probs = mixture(out, n_ext, self.beam_answers)[:, -1]  # [beams, n_ext]
            logp = torch.log(probs.clamp_min(1e-12))
            if step == 0 and first is not None:
                allowed = torch.tensor([first(encoder.text_of(i)) for i in range(n_ext)])
                logp = logp.masked_fill(~allowed[None], -math.inf)
            total = logp + torch.tensor([b[0] for b in live])[:, None]
            k = min(width * 2, total.numel())
            scores, flat = total.flatten().topk(k)
            nxt: list[tuple[float, list[int], int]] = []
            rows: list[int] = []
            for score, idx in zip(scores.tolist(), flat.tolist()):
                if score == -math.inf:
                    break
                row, tok = divmod(idx, n_ext)
                base_logp, toks, depth = live[row]
                text = encoder.text_of(tok)
                if tok < len(self.vocab) and (tok in self.stop_ids or tok in self.unanswerable_ids):
                    if toks or tok in self.stop_ids:
                        finished.append(LineHypothesis([encoder.text_of(t) for t in toks], score, tok in self.stop_ids))
                    continue
                d = depth + (text in OPENERS) - (text in CLOSERS)
                if -d > open_before:  # a bracket that is not open
                    continue
                if d < 0 and stop_at_close:  # closes a bracket opened before the cursor: complete
                    finished.append(LineHypothesis([encoder.text_of(t) for t in toks + [tok]], score, True))
                    continue
                if len(nxt) < width:
                    nxt.append((score, toks + [tok], d))
                    rows.append(row)
            complete = [h.logp for h in finished if h.complete]
            # Done when enough lines have ended and every live one is already less likely.
            if not nxt or (len(complete) >= alternatives and max(c for c, _, _ in nxt) < max(complete)):
                break
            live = nxt
            if step == max_tokens - 1 or time.monotonic() > deadline:
                break
            state = out.state.select(torch.tensor(rows))
            last = torch.tensor([[b[1][-1]] for b in live])
            ids = torch.where(last < len(self.vocab), last, torch.full_like(last, self.vocab.unk))
            roles = torch.full_like(ids, UNKNOWN)
            out = self.model(ids, roles, last, state, last_only=True)
        for logp_, toks, _ in live:
            finished.append(LineHypothesis([encoder.text_of(t) for t in toks], logp_, False))
        finished.sort(key=lambda h: (not h.complete, -h.logp))  # whole lines first
        seen: set[tuple[str, ...]] = set()
        unique = []
        for h in finished:
            if h.tokens and tuple(h.tokens) not in seen:
                seen.add(tuple(h.tokens))
                unique.append(h)
        return unique[:alternatives]


@dataclass
class StateCache:
    """LSTM states along one document's context, for resuming after an edit."""

    origin: int = -1  # document token index where the cached context starts
    inputs: Encoded | None = None
    checkpoints: dict[int, State] = field(default_factory=dict)  # tokens consumed -> state
    tokens_run: int = 0  # tokens the last request had to run (for tests and benchmarks)

    def advance(
        self, predictor: Predictor, context: Encoded, origin: int, cancelled: Cancelled | None = None
    ) -> Output:
        """The model's output after the last token of `context` (which starts at `origin`)."""
        n = len(context)
        if origin != self.origin or self.inputs is None:
            self.origin, self.inputs, self.checkpoints = origin, None, {}
        common = 0
        if self.inputs is not None:
            m = min(n, len(self.inputs))
            same = (context.ids[:m] == self.inputs.ids[:m]) & (context.roles[:m] == self.inputs.roles[:m]) & (
                context.ext[:m] == self.inputs.ext[:m]
            )
            common = m if same.all() else int(np.argmin(same))
        start = min(common, n - 1) // CHECKPOINT * CHECKPOINT
        while start > 0 and start not in self.checkpoints:
            start -= CHECKPOINT
        state = self.checkpoints[start] if start > 0 else predictor.model.initial_state(1)
        out, states = predictor.run(context.tail(start), state, cancelled)
        self.checkpoints = {k: v for k, v in self.checkpoints.items() if k <= start}
        for i, st in enumerate(states):
            at = start + (i + 1) * CHECKPOINT
            if at <= n and at % CHECKPOINT == 0:
                self.checkpoints[at] = st
        self.inputs = context
        self.tokens_run = n - start
        return out
