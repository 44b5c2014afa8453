"""Running the model while someone types: a state cache per document, next-token prediction and
beam search for the rest of a line.

The model's state after every CHECKPOINT tokens of a document's context can be rebuilt from
what a `Track` keeps (see there). A request compares its context with the tracks, resumes from
the last kept state before the first difference, and runs only the tokens after it: typing in a
3,000-line file costs tens of tokens, not thousands, and so does moving to another place once
the server has warmed the document. The answer is the same as running from scratch (a test
checks this after random edits).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from heed.model import ngram
from heed.model.members import Members, MemberTable, ReceiverNames, Rerank, module_rerank
from heed.model.network import HeedLM, Output, State, mixture
from heed.model.roles import SYNTAX, UNKNOWN
from heed.model.store import load_members, load_model
from heed.model.vocab import LAYOUT, PAD, UNANSWERABLE, UNK, Vocab

CHECKPOINT = 64  # tokens between cached states
MAX_CONTEXT = 32768  # tokens before the cursor the model reads at most (the whole of nearly any file)
CONTEXT_STRIDE = 8192  # the context's start moves in steps of this, so the cache stays valid
STOP_KEYS = frozenset(LAYOUT.values())  # a line ends at <newline>, <indent>, <dedent>, <eof>
OPENERS, CLOSERS = frozenset("([{"), frozenset(")]}")
TRACK_SLACK = 256  # spare rows a track allocates when it grows, so typing on rarely copies it

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

    def head(self, end: int) -> Encoded:
        return Encoded(self.ids[:end], self.roles[:end], self.ext[:end])


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

    def texts(self) -> list[str]:
        """The text of every pointer identity, in order."""
        return [*self.vocab.tokens, *self.oov_texts]

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
    attn: np.ndarray  # [F+K] the pointer's weights: far names, then the last K context tokens
    key_ext: np.ndarray  # [F+K] pointer identity of those tokens
    key_pos: np.ndarray  # [F+K] their index in the context (-1: an empty slot)
    vocab_probs: np.ndarray  # [V] the vocabulary's own distribution (before the gate)
    cache: ngram.CacheGuess = field(default_factory=ngram.CacheGuess.none)  # the document's n-grams' guess, mixed in
    rerank: Rerank | None = None  # after a dot: the receiver's usual attributes, or the class's members
    reranked: np.ndarray | None = None  # [n_ext] what that re-ranking multiplied each probability by
    receiver: ReceiverNames | None = None  # after a dot, the names other code says the receiver has


@dataclass
class Recall:
    """What the document and the corpus add to the network's next-token distribution after one
    context: the document's n-grams (`ngram`), and after a dot the receiver's usual attributes
    or the enclosing class's members (`members`). Beam search passes the tokens it has produced
    since (`tail`)."""

    context: Encoded
    ngrams: ngram.NgramCache | None  # of the context (or of a longer run it starts: `heed eval`)
    members: Members | None
    dot: int = -1  # the vocabulary id of `.`: after it the n-grams weigh less (ngram.AFTER_DOT)
    receiver: ReceiverNames | None = None  # what code outside the context says follows its final dot

    def adjust(self, probs: torch.Tensor, allowed: torch.Tensor, tail: list[int] | None = None) -> torch.Tensor:
        """`probs` [n_ext] with the n-grams mixed in and, after a dot, re-ranked."""
        mixed, _ = self.mix(probs, allowed, tail)
        rerank = self.rerank(probs.shape[-1], tail)
        return rerank.apply(mixed) if rerank is not None else mixed

    def mix(self, probs: torch.Tensor, allowed: torch.Tensor, tail: list[int] | None = None
            ) -> tuple[torch.Tensor, ngram.CacheGuess]:
        """`probs` [n_ext] with the document's n-grams mixed in, and their guess."""
        guess = self.ngrams.guess(len(self.context), tail or []) if self.ngrams is not None else ngram.CacheGuess.none()
        last = tail[-1] if tail else int(self.context.ids[-1]) if len(self.context.ids) else -1
        if last == self.dot >= 0:
            guess = guess.scaled(ngram.AFTER_DOT)
        return ngram.mix(probs, guess, allowed), guess

    def rerank(self, n_ext: int, tail: list[int] | None = None) -> Rerank | None:
        """The re-ranking of the next token's distribution if it follows a dot."""
        c, known = self.context, self.receiver if not tail else None
        inherited = known.inherited if known is not None else None
        rerank = self.members.rerank(c.ids, c.roles, c.ext, n_ext, tail or [], inherited) if self.members is not None else None
        if known is None or known.module is None:
            return rerank
        if rerank is not None:
            return rerank.then_module(known.module, known.unseen, known.why)
        return module_rerank(known.module, n_ext, known.unseen, known.why)

    def extended(self, ext_id: int, vocab_size: int, unk: int) -> Recall:
        """The same after one more token, given by its identity (a name typed in full)."""
        one = Encoded(np.array([ext_id if ext_id < vocab_size else unk]), np.array([UNKNOWN]), np.array([ext_id]))
        context = Encoded.concat([self.context, one])
        grams = ngram.NgramCache(ngram.identities(context.ids, context.ext)) if self.ngrams is not None else None
        return Recall(context, grams, self.members, self.dot)


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

    def __init__(self, model: HeedLM, vocab: Vocab, meta: dict | None = None, table: MemberTable | None = None):
        self.model = model.eval()
        self.vocab = vocab
        self.meta = meta or {}
        self.answerable = torch.tensor(vocab.answerable())
        # Beam search may predict a placeholder (`<str>`: a string comes here), which ends the
        # hypothesis; never `<unk>`, whose mass belongs to the names the pointer can copy.
        self.beam_answers = torch.tensor([t not in (PAD, UNK) for t in vocab.tokens])
        self.use_cache = True  # mix the document's n-grams in (`heed eval --no-cache` turns it off)
        self.members: Members | None = Members(vocab, table)  # None: no re-ranking after a dot (`--no-members`)
        self.use_modules = True  # after a dot, names other modules define (`--no-modules` turns it off)
        self.stop_ids = {vocab.index[k] for k in STOP_KEYS}
        self.unanswerable_ids = {vocab.index[k] for k in UNANSWERABLE}

    @property
    def chunk(self) -> int:
        """Tokens run at a time, and the spacing of cached states: at most the window, whose last
        `chunk` entries are the hidden states of the tokens just run (the cache keeps them)."""
        return min(CHECKPOINT, self.model.config.window)

    def initial_state(self) -> State:
        return compact(self.model.initial_state(1))

    @torch.no_grad()
    def run(self, inputs: Encoded, state: State, cancelled: Cancelled | None = None,
            keep: Callable[[int, State], None] | None = None) -> Output:
        """Consume `inputs` from `state`, `chunk` tokens at a time: the output at the last token.
        `keep(tokens consumed, state)` sees the state after each chunk."""
        out = None
        for a in range(0, len(inputs), self.chunk):
            if cancelled and cancelled():
                raise RequestCancelled
            b = min(a + self.chunk, len(inputs))
            seg = [torch.from_numpy(x[a:b])[None] for x in (inputs.ids, inputs.roles, inputs.ext)]
            out = self.model(*seg, state, last_only=True)
            state = compact(out.state)
            out = out._replace(state=state)
            if keep:
                keep(b, state)
        assert out is not None, "run() needs at least one token"
        return out

    @torch.no_grad()
    def run_lstm(self, inputs: Encoded, h: torch.Tensor, c: torch.Tensor, cancelled: Cancelled | None,
                 keep: Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], None]) -> None:
        """The LSTM alone over `inputs`, `chunk` tokens at a time, as `run` cuts them:
        `keep(tokens consumed, the chunk's hidden states in half precision, h, c)` after each."""
        for a in range(0, len(inputs), self.chunk):
            if cancelled and cancelled():
                raise RequestCancelled
            b = min(a + self.chunk, len(inputs))
            out, (h, c) = self.model.recur(torch.from_numpy(inputs.ids[a:b])[None], torch.from_numpy(inputs.roles[a:b])[None], h, c)
            keep(b, out[0].half(), h, c)

    def prediction(self, out: Output, encoder: DocEncoder, context: Encoded, receiver: ReceiverNames | None = None) -> Prediction:
        """The next-token prediction after the last token of `context` (`out` is the model's output
        there). `receiver`: after a dot, the names other code says the receiver has."""
        n, K, F = len(context), self.model.config.window, self.model.config.far
        window = np.arange(n - K, n)
        far = far_positions(context, n, K, F)
        key_pos = np.concatenate([np.full(F - len(far), -1), far, np.where(window >= 0, window, -1)])
        recall = self.recall_of(context, receiver)
        mixed, guess = recall.mix(mixture(out, encoder.n_ext, self.answerable)[0, -1], self.answerable)
        rerank = recall.rerank(encoder.n_ext)
        probs = rerank.apply(mixed) if rerank is not None else mixed
        return Prediction(
            probs=probs.numpy(),
            gate=float(out.gate[0, -1]),
            attn=out.attn[0, -1].numpy(),
            key_ext=out.key_ext[0].numpy(),
            key_pos=key_pos,
            vocab_probs=torch.softmax(out.logits[0, -1].float(), -1).numpy(),
            cache=guess,
            rerank=rerank,
            reranked=_ratio(probs, mixed) if rerank is not None else None,
            receiver=recall.receiver,
        )

    def recall_of(self, context: Encoded, receiver: ReceiverNames | None = None) -> Recall:
        """What the document and the corpus add to the network after `context`."""
        grams = ngram.NgramCache(ngram.identities(context.ids, context.ext)) if self.use_cache else None
        return Recall(context, grams, self.members, self.vocab.index.get(".", -1), receiver if self.use_modules else None)

    @torch.no_grad()
    def feed(self, state: State, ext_ids: list[int]) -> Output:
        """One more token per row of `state`, given by pointer identity, as beam search produces
        tokens: a name outside the vocabulary is `<unk>` to the embedding, and its role unknown."""
        last = torch.tensor(ext_ids)[:, None]
        ids = torch.where(last < len(self.vocab), last, torch.full_like(last, self.vocab.unk))
        return self.model(ids, torch.full_like(ids, UNKNOWN), last, state, last_only=True)

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
        comma_ends_at: int | None = None,
        recall: Recall | None = None,
    ) -> list[LineHypothesis]:
        """Most probable continuations of the line after `out`'s position.

        `first` restricts the first token (the identifier already typed, or the popup's
        selection). A hypothesis ends at the end of the line; with `stop_at_close`, at a closing
        bracket that was opened before the cursor (`open_before` of them are open there; a
        closing bracket with none open is not Python and ends nothing); at a `,` that leaves
        `comma_ends_at` brackets open (counted from the cursor: 0, -1...); at a literal the
        vocabulary only knows by kind; or after `max_tokens`. Lines that end come first, each
        group by total log-probability (the end included). `recall` adjusts every step's
        distribution, given the tokens of each hypothesis.
        """
        deadline = time.monotonic() + budget_s
        n_ext = encoder.n_ext
        # The far memory in single precision once, rather than converted for every step's attention.
        out = out._replace(state=out.state._replace(far=out.state.far.float()))
        live: list[tuple[float, list[int], int]] = [(0.0, [], 0)]  # (logp, ext ids, bracket depth)
        finished: list[LineHypothesis] = []
        for step in range(max_tokens):
            if cancelled and cancelled():
                raise RequestCancelled
            probs = mixture(out, n_ext, self.beam_answers)[:, -1]  # [beams, n_ext]
            if recall is not None:
                probs = torch.stack([recall.adjust(p, self.beam_answers, b[1]) for p, b in zip(probs, live)])
            logp = torch.log(probs.clamp_min(1e-12))
            if step == 0 and first is not None:
                allowed = torch.tensor([first(t) for t in encoder.texts()])
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
                if d < 0 and stop_at_close or text == "," and d == comma_ends_at:  # the line ends here
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
            out = self.feed(out.state.select(torch.tensor(rows)), [b[1][-1] for b in live])
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


def load_predictor(folder: str | Path | None = None) -> Predictor:
    """A model folder (the bundled one by default) ready for inference, with its member table."""
    model, vocab, meta = load_model(folder)
    return Predictor(model, vocab, meta, load_members(folder, vocab))


def _ratio(after: torch.Tensor, before: torch.Tensor) -> np.ndarray:
    return torch.where(before > 0, after / before.clamp_min(1e-30), torch.ones_like(after)).numpy()


def compact(state: State) -> State:
    """The state as the cache stores it: the hidden states of the window and the far memory in
    half precision. A run always carries it so, which keeps a resumed run equal to a fresh one."""
    return state._replace(mem=state.mem.half(), far=state.far.half())


def name_mask(inputs: Encoded) -> np.ndarray:
    """The tokens that enter the far memory when they leave the window (as the network decides)."""
    return (inputs.roles != SYNTAX) & (inputs.ext >= 0)


def far_positions(inputs: Encoded, k: int, window: int, far: int) -> np.ndarray:
    """Where the far memory's names stand after the first k tokens: the last `far` names before
    the window, oldest first (as `network.push_far` leaves them)."""
    if not far:
        return np.zeros(0, np.int64)
    return np.flatnonzero(name_mask(inputs)[: max(k - window, 0)])[-far:]


@dataclass
class Track:
    """The model's states along one token sequence: the LSTM's (h, c) every `chunk` tokens and
    the hidden state at every position, from which the state at any kept point is rebuilt (the
    window and the far memory are hidden states of earlier positions). Positions before `start`
    belong to `parent`: a track forks from another where an edit made them differ."""

    origin: int  # document token index where the sequence starts
    inputs: Encoded  # the whole sequence, from the origin
    start: int
    parent: Track | None
    hidden: torch.Tensor  # [capacity, H] half: the LSTM output at positions start, start+1, ...
    end: int  # positions start .. end-1 have their hidden state
    hc: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)  # k -> (h, c) after k tokens

    @staticmethod
    def fork(origin: int, inputs: Encoded, parent: Track | None, at: int, hidden_size: int) -> Track:
        return Track(origin, inputs, at, parent, torch.empty(0, hidden_size, dtype=torch.half), at)

    def common(self, inputs: Encoded) -> int:
        """How many leading tokens `inputs` shares with this track (that have hidden states)."""
        m = min(len(inputs), len(self.inputs), self.end)
        same = (inputs.ids[:m] == self.inputs.ids[:m]) & (inputs.roles[:m] == self.inputs.roles[:m]) & (
            inputs.ext[:m] == self.inputs.ext[:m])
        return m if same.all() else int(np.argmin(same))

    def kept(self, k: int) -> bool:
        if k == 0:
            return True
        return k in self.hc if k > self.start or self.parent is None else self.parent.kept(k)

    def lstm_at(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.hc[k] if k > self.start or self.parent is None else self.parent.lstm_at(k)

    def rows(self, positions: np.ndarray) -> torch.Tensor:
        """Hidden states at `positions` (each < end)."""
        mine = positions >= self.start
        out = torch.empty(len(positions), self.hidden.shape[1], dtype=self.hidden.dtype)
        out[torch.from_numpy(mine)] = self.hidden[torch.from_numpy(positions[mine] - self.start)]
        if not mine.all():
            assert self.parent is not None
            out[torch.from_numpy(~mine)] = self.parent.rows(positions[~mine])
        return out

    def reserve(self, n: int) -> None:
        """Room for the hidden states of positions up to n (and some slack for typing on)."""
        if n - self.start > self.hidden.shape[0]:
            grown = self.hidden.new_empty(n - self.start + TRACK_SLACK, self.hidden.shape[1])
            grown[: self.end - self.start] = self.hidden[: self.end - self.start]
            self.hidden = grown

    def store(self, b: int, hidden: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> None:
        """Keep the state after the first b tokens, having just run positions end .. b-1 (their
        hidden states are the last rows of `hidden`)."""
        a = self.end
        self.reserve(b)
        self.hidden[a - self.start : b - self.start] = hidden[-(b - a) :]
        self.end = b
        self.hc[b] = (h, c)

    def truncate(self, k: int) -> None:
        self.end = min(self.end, k)
        self.hc = {at: v for at, v in self.hc.items() if at <= k}

    def state_at(self, predictor: Predictor, k: int) -> State:
        """The model's state after the first k tokens (k kept), as a run from the start leaves it."""
        if k == 0:
            return predictor.initial_state()
        K, F = predictor.model.config.window, predictor.model.config.far
        h, c = self.lstm_at(k)
        ext, names = self.inputs.ext[:k], name_mask(self.inputs)[:k]
        win = np.arange(k - K, k)
        ok = win >= 0
        mem = torch.zeros(1, K, h.shape[-1], dtype=torch.half)
        mem[0, torch.from_numpy(ok)] = self.rows(win[ok])
        far_pos = far_positions(self.inputs, k, K, F)
        far = torch.zeros(1, F, h.shape[-1], dtype=torch.half)
        far_ext = torch.full((1, F), -1, dtype=torch.long)
        far_valid = torch.zeros(1, F, dtype=torch.bool)
        if len(far_pos):
            far[0, F - len(far_pos) :] = self.rows(far_pos)
            far_ext[0, F - len(far_pos) :] = torch.from_numpy(ext[far_pos])
            far_valid[0, F - len(far_pos) :] = True
        win = np.maximum(win, 0)
        return State(h, c, mem, torch.from_numpy(np.where(ok, ext[win], -1))[None], torch.from_numpy(ok)[None],
                     torch.from_numpy(ok & names[win])[None], far, far_ext, far_valid)

    def flattened(self) -> Track:
        """The same states in one track without a parent."""
        if self.parent is None:
            return self
        hidden = torch.cat([self.parent.rows(np.arange(self.start)), self.hidden[: self.end - self.start]])
        hc = {k: v for k, v in self.parent.flattened().hc.items() if k <= self.start} | self.hc
        return Track(self.origin, self.inputs, 0, None, hidden, self.end, hc)


@dataclass
class StateCache:
    """The model's states along one document, for resuming after an edit or at another place.

    Three tracks: `base`, run over the whole document in the background (`warm`); `warming`,
    such a run in progress (it survives interruptions: the next one goes on from where it
    stopped); and `live`, forked from either where the requests' contexts leave them (at the line
    being typed). When the user types a line and takes it back, or moves to another place,
    `base` still holds there.
    """

    base: Track | None = None
    warming: Track | None = None
    live: Track | None = None
    tokens_run: int = 0  # tokens the last call had to run (for tests and benchmarks)

    def resume_point(self, predictor: Predictor, context: Encoded, origin: int) -> tuple[Track | None, int]:
        """The track that shares the most with `context` and its last kept state before the first
        difference (and before the last token, whose output is the answer)."""
        track, k = None, 0
        for t in (self.live, self.warming, self.base):
            if t is None or t.origin != origin:
                continue
            at = min(t.common(context), len(context) - 1) // predictor.chunk * predictor.chunk
            while not t.kept(at):
                at -= predictor.chunk
            if at > k:
                track, k = t, at
        return track, k

    def has_origin(self, origin: int) -> bool:
        """Whether any track holds states of a context starting at `origin`."""
        return any(t is not None and t.origin == origin for t in (self.base, self.warming, self.live))

    def is_warm(self, context: Encoded, origin: int) -> bool:
        """Whether the base holds the states of exactly `context`."""
        base = self.base
        return base is not None and base.origin == origin and base.common(context) == len(context) == len(base.inputs)

    def cost(self, predictor: Predictor, context: Encoded, origin: int) -> int:
        """Tokens `advance` would run."""
        return len(context) - self.resume_point(predictor, context, origin)[1]

    def _writable(self, mine: Track | None, track: Track | None, k: int, origin: int, context: Encoded,
                  predictor: Predictor) -> Track:
        """A track to write the states after k into: `mine` cut back to k when the resume point
        is on it, else a new one forked from `track` at k."""
        hidden_size = predictor.model.config.hidden
        if track is not None and track is mine and k >= track.start:
            track.truncate(k)
            track.inputs = context
            return track
        if track is None or k == 0:
            return Track.fork(origin, context, None, 0, hidden_size)
        if track.parent is not None and k <= track.start:
            return Track.fork(origin, context, track.parent, k, hidden_size)
        return Track.fork(origin, context, track.flattened() if track.parent else track, k, hidden_size)

    def advance(self, predictor: Predictor, context: Encoded, origin: int, cancelled: Cancelled | None = None) -> Output:
        """The model's output after the last token of `context` (which starts at `origin`)."""
        track, k = self.resume_point(predictor, context, origin)
        live = self.live = self._writable(self.live, track, k, origin, context, predictor)
        live.reserve(len(context))
        self.tokens_run = len(context) - k
        last = (len(context) - 1) // predictor.chunk * predictor.chunk  # where the last chunk starts
        if last > k:  # the LSTM alone up to the last chunk (a third faster), as `warm` runs it
            _recur(predictor, context.tail(k).head(last - k), track, k, live, cancelled)
            track, k = live, last
        state = track.state_at(predictor, k) if track is not None else predictor.initial_state()
        return predictor.run(context.tail(k), state, cancelled, keep=lambda b, st: live.store(k + b, st.mem[0], st.h, st.c))

    def warm(self, predictor: Predictor, context: Encoded, origin: int, cancelled: Cancelled | None = None) -> None:
        """Run the LSTM over the whole of `context` (the document), keeping its states; the
        attention is left out, as the states are rebuilt from the LSTM's outputs. Interrupted,
        it keeps what it ran; finished, it becomes the new base."""
        if self.is_warm(context, origin):
            return
        track, k = self.resume_point(predictor, context, origin)
        warming = self.warming = self._writable(self.warming, track, k, origin, context, predictor)
        warming.reserve(len(context))
        _recur(predictor, context.tail(k), track, k, warming, cancelled)
        self.tokens_run = len(context) - k
        self.base, self.warming = warming.flattened(), None


def _recur(predictor: Predictor, inputs: Encoded, track: Track | None, k: int, into: Track,
           cancelled: Cancelled | None) -> None:
    """The LSTM alone over `inputs`, from the state `track` kept after k tokens (none: the start),
    its states kept in `into`."""
    h, c = track.lstm_at(k) if track is not None and k > 0 else predictor.initial_state()[:2]
    predictor.run_lstm(inputs, h, c, cancelled, keep=lambda b, out, h_, c_: into.store(k + b, out, h_, c_))
