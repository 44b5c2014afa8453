"""The model's states along a document, kept so that a request resumes instead of re-running.

The model's state after every `Predictor.chunk` tokens of a document's context can be rebuilt
from what a `Track` keeps (see there). A request compares its context with the tracks, resumes
from the last kept state before the first difference, and runs only the tokens after it: typing
in a 3,000-line file costs tens of tokens, not thousands, and so does moving to another place
once the server has warmed the document. The answer is the same as running from scratch (a test
checks this after random edits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from heed.model.nn.numpy_net import Output, State
from heed.model.runtime.cancel import Cancelled
from heed.model.runtime.encoding import Encoded
from heed.model.text.roles import SYNTAX

if TYPE_CHECKING:
    from heed.model.runtime.predictor import Predictor

TRACK_SLACK = 256  # spare rows a track allocates when it grows, so typing on rarely copies it


def compact(state: State) -> State:
    """The state as the cache stores it: the hidden states of the window and the far memory in
    half precision. A run always carries it so, which keeps a resumed run equal to a fresh one."""
    return state._replace(mem=state.mem.astype(np.float16), far=state.far.astype(np.float16))


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
    hidden: np.ndarray  # [capacity, H] half: the LSTM output at positions start, start+1, ...
    end: int  # positions start .. end-1 have their hidden state
    hc: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # k -> (h, c) after k tokens

    @staticmethod
    def fork(origin: int, inputs: Encoded, parent: Track | None, at: int, hidden_size: int) -> Track:
        return Track(origin, inputs, at, parent, np.empty((0, hidden_size), np.float16), at)

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

    def lstm_at(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self.hc[k] if k > self.start or self.parent is None else self.parent.lstm_at(k)

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """Hidden states at `positions` (each < end)."""
        mine = positions >= self.start
        if mine.all():
            return self.hidden[positions - self.start]
        assert self.parent is not None
        out = np.empty((len(positions), self.hidden.shape[1]), self.hidden.dtype)
        out[mine] = self.hidden[positions[mine] - self.start]
        out[~mine] = self.parent.rows(positions[~mine])
        return out

    def reserve(self, n: int) -> None:
        """Room for the hidden states of positions up to n (and some slack for typing on)."""
        if n - self.start > self.hidden.shape[0]:
            grown = np.empty((n - self.start + TRACK_SLACK, self.hidden.shape[1]), self.hidden.dtype)
            grown[: self.end - self.start] = self.hidden[: self.end - self.start]
            self.hidden = grown

    def store(self, b: int, hidden: np.ndarray, h: np.ndarray, c: np.ndarray) -> None:
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
        mem = np.zeros((1, K, h.shape[-1]), np.float16)
        mem[0, ok] = self.rows(win[ok])
        far_pos = far_positions(self.inputs, k, K, F)
        far = np.zeros((1, F, h.shape[-1]), np.float16)
        far_ext = np.full((1, F), -1, np.int64)
        far_valid = np.zeros((1, F), bool)
        if len(far_pos):
            far[0, F - len(far_pos) :] = self.rows(far_pos)
            far_ext[0, F - len(far_pos) :] = ext[far_pos]
            far_valid[0, F - len(far_pos) :] = True
        win = np.maximum(win, 0)
        return State(h, c, mem, np.where(ok, ext[win], -1)[None], ok[None], (ok & names[win])[None], far, far_ext, far_valid)

    def flattened(self) -> Track:
        """The same states in one track without a parent."""
        if self.parent is None:
            return self
        hidden = np.concatenate([self.parent.rows(np.arange(self.start)), self.hidden[: self.end - self.start]])
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
    # The last context `advance` ran (origin, inputs) and the model's output there: typing a name
    # changes its prefix, not the context before it, and the next keystroke's output is this one.
    last: tuple[int, Encoded, Output] | None = None

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
        if self.last is not None and self.last[0] == origin and _same(self.last[1], context):
            self.tokens_run = 0
            return self.last[2]
        out = self._advance(predictor, context, origin, cancelled)
        self.last = (origin, context, out)
        return out

    def _advance(self, predictor: Predictor, context: Encoded, origin: int, cancelled: Cancelled | None) -> Output:
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


def _same(a: Encoded, b: Encoded) -> bool:
    """Whether two contexts are the same model inputs (what the network reads of them)."""
    return len(a) == len(b) and all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("ids", "roles", "ext"))


def _recur(predictor: Predictor, inputs: Encoded, track: Track | None, k: int, into: Track,
           cancelled: Cancelled | None) -> None:
    """The LSTM alone over `inputs`, from the state `track` kept after k tokens (none: the start),
    its states kept in `into`."""
    h, c = track.lstm_at(k) if track is not None and k > 0 else predictor.initial_state()[:2]
    predictor.run_lstm(inputs, h, c, cancelled, keep=lambda b, out, h_, c_: into.store(k + b, out, h_, c_))
