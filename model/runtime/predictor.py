"""A loaded model ready for inference: running it over a context, and its next-token
prediction there (the network's distribution, adjusted as heed answers: `adjust.py`).

The state cache that makes this cheap while typing is `state_cache.py`; beam search for the
rest of a line is `beam.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from heed.model.lookup.classes import ClassTokens
from heed.model.lookup.receivers import ReceiverNames
from heed.model.nn.member_table import MemberTable
from heed.model.nn.numpy_net import NumpyNet, Output, State, mixture
from heed.model.nn.store import ModelError, default_model_dir, load_members, load_net
from heed.model.runtime import ngram
from heed.model.runtime.adjust import Adjuster
from heed.model.runtime.beam import STOP_KEYS
from heed.model.runtime.cancel import Cancelled, RequestCancelled
from heed.model.runtime.confidence import Calibration
from heed.model.runtime.encoding import DocEncoder, Encoded
from heed.model.runtime.memory import ProjectMemory
from heed.model.runtime.rerank import Rerank, Reranker
from heed.model.runtime.state_cache import compact, far_positions
from heed.model.runtime.threads import default_threads, set_blas_threads
from heed.model.text.roles import UNKNOWN
from heed.model.text.vocab import PAD, UNANSWERABLE, UNK, Vocab

log = logging.getLogger(__name__)

CHECKPOINT = 64  # tokens between cached states


@dataclass(frozen=True)
class Features:
    """Which parts of heed answer: all of them, except in `heed eval`'s lesions."""

    ngrams: bool = True  # the document's n-grams mixed in (`--no-cache`)
    members: bool = True  # after a dot, re-ranked by the corpus table or the class's members (`--no-members`)
    modules: bool = True  # what the code says can come: after a dot, an import, a call (`--no-modules`)
    pointer: bool = True  # the network's pointer (`--no-pointer`)
    far: bool = True  # the pointer's far memory (`--no-far`)
    syntax_check: bool = True  # ghost text shown only if it is code (`--no-syntax-check`)
    workspace: bool = True  # the project's index: its n-grams, names and types (`--no-index`)
    memory: bool = True  # an adapted model's project memory (`--no-memory`)


ALL_FEATURES = Features()


@dataclass
class Prediction:
    """The model's view of the next token after a context."""

    probs: np.ndarray  # [n_ext] next-token probabilities (placeholders zeroed)
    gate: float  # probability given to the vocabulary (1 - pointer)
    attn: np.ndarray  # [F+K] the pointer's weights: far names, then the last K context tokens
    key_ext: np.ndarray  # [F+K] pointer identity of those tokens
    key_pos: np.ndarray  # [F+K] their index in the context (-1: an empty slot)
    vocab_probs: np.ndarray  # [V] the vocabulary's own distribution (before the gate)
    ngrams: ngram.NgramGuess = field(default_factory=ngram.NgramGuess.none)  # the document's n-grams' guess, mixed in
    rerank: Rerank | None = None  # after a dot: the receiver's usual attributes, or the class's members
    reranked: np.ndarray | None = None  # [n_ext] what that re-ranking multiplied each probability by
    receiver: ReceiverNames | None = None  # what other code says can come there (`lookup/known.py`)
    recalled: np.ndarray | None = None  # [<= n_ext] the project memory's votes, mixed in at memory.WEIGHT
    vector: np.ndarray | None = None  # [E] what the memory was searched by (`heed explain` asks where from)


class Predictor:
    """A loaded model with what it needs at inference: the network, its vocabulary, the member
    table, which of heed's parts answer, and the ghost text's calibration."""

    def __init__(self, model: NumpyNet, vocab: Vocab, meta: dict | None = None, table: MemberTable | None = None,
                 features: Features = ALL_FEATURES):
        if not (features.pointer and features.far):  # lesions of the same weights
            model = model.with_config(pointer=model.config.pointer and features.pointer,
                                      far=model.config.far if features.far else 0)
        self.model = model
        self.vocab = vocab
        self.meta = meta or {}
        self.table = table
        self.features = features
        self.answerable = np.array(vocab.answerable(), bool)
        # Beam search may predict a placeholder (`<str>`: a string comes here), which ends the
        # hypothesis; never `<unk>`, whose mass belongs to the names the pointer can copy.
        self.beam_answers = np.array([t not in (PAD, UNK) for t in vocab.tokens], bool)
        self.reranker = Reranker(vocab, table) if features.members else None
        self.class_tokens = ClassTokens.of(vocab)
        self.stop_ids = {vocab.index[k] for k in STOP_KEYS}
        self.unanswerable_ids = {vocab.index[k] for k in UNANSWERABLE}
        self.calibration: Calibration | None = None  # the ghost text's confidence (`confidence.py`)
        self.memory: ProjectMemory | None = None  # an adapted model's project memory (`memory.py`)

    @property
    def chunk(self) -> int:
        """Tokens run at a time, and the spacing of cached states: at most the window, whose last
        `chunk` entries are the hidden states of the tokens just run (the cache keeps them)."""
        return min(CHECKPOINT, self.model.config.window)

    def initial_state(self) -> State:
        return compact(self.model.initial_state(1))

    def run(self, inputs: Encoded, state: State, cancelled: Cancelled | None = None,
            keep: Callable[[int, State], None] | None = None) -> Output:
        """Consume `inputs` from `state`, `chunk` tokens at a time: the output at the last token.
        `keep(tokens consumed, state)` sees the state after each chunk."""
        out = None
        for a in range(0, len(inputs), self.chunk):
            if cancelled and cancelled():
                raise RequestCancelled
            b = min(a + self.chunk, len(inputs))
            out = self.model(inputs.ids[None, a:b], inputs.roles[None, a:b], inputs.ext[None, a:b], state)
            state = compact(out.state)
            out = out._replace(state=state)
            if keep:
                keep(b, state)
        assert out is not None, "run() needs at least one token"
        return out

    def run_lstm(self, inputs: Encoded, h: np.ndarray, c: np.ndarray, cancelled: Cancelled | None,
                 keep: Callable[[int, np.ndarray, np.ndarray, np.ndarray], None]) -> None:
        """The LSTM alone over `inputs`, `chunk` tokens at a time, as `run` cuts them:
        `keep(tokens consumed, the chunk's hidden states in half precision, h, c)` after each."""
        for a in range(0, len(inputs), self.chunk):
            if cancelled and cancelled():
                raise RequestCancelled
            b = min(a + self.chunk, len(inputs))
            out, (h, c) = self.model.recur(inputs.ids[None, a:b], inputs.roles[None, a:b], h, c)
            keep(b, out[0].astype(np.float16), h, c)

    def prediction(self, out: Output, encoder: DocEncoder, context: Encoded, receiver: ReceiverNames | None = None,
                   project: ngram.ProjectGrams | None = None, own_file: str | None = None) -> Prediction:
        """The next-token prediction after the last token of `context` (`out` is the model's output
        there). `receiver`: what other code says can come there (`lookup/known.py`); `project`:
        the project's n-grams; `own_file`: the document's file, whose entries the project memory
        leaves out."""
        n, K, F = len(context), self.model.config.window, self.model.config.far
        window = np.arange(n - K, n)
        far = far_positions(context, n, K, F)
        key_pos = np.concatenate([np.full(F - len(far), -1), far, np.where(window >= 0, window, -1)])
        recalled = self.recall(out, encoder, own_file)
        adjuster = self.adjuster(context, receiver, project=project, recalled=recalled)
        adjusted = adjuster.adjust(mixture(out, encoder.n_ext, self.answerable)[0], self.answerable)
        rerank = adjusted.rerank
        logits = out.logits[0, -1]
        vocab_probs = np.exp(logits - logits.max())
        return Prediction(
            probs=adjusted.probs,
            gate=float(out.gate[0, -1]),
            attn=out.attn[0, -1],
            key_ext=out.key_ext[0],
            key_pos=key_pos,
            vocab_probs=vocab_probs / vocab_probs.sum(),
            ngrams=adjusted.guess,
            rerank=rerank,
            reranked=_ratio(adjusted.probs, adjusted.mixed) if rerank is not None else None,
            receiver=adjuster.receiver,
            recalled=recalled,
            vector=out.vector[0] if out.vector is not None else None,
        )

    def adjuster(self, context: Encoded, receiver: ReceiverNames | None = None, ngrams: ngram.Ngrams | None = None,
                 project: ngram.ProjectGrams | None = None, recalled: np.ndarray | None = None) -> Adjuster:
        """What the document, the project and the corpus add to the network after `context`, as
        this predictor's features allow. `ngrams`: of a longer run that `context` starts (`heed
        eval` indexes a whole file once), else of `context`; `recalled`: the project memory's votes."""
        if self.features.ngrams and ngrams is None:
            ngrams = ngram.Ngrams(ngram.identities(context.ids, context.ext))
        return Adjuster(context, ngrams if self.features.ngrams else None, self.reranker, self.vocab.index.get(".", -1),
                        receiver if self.features.modules else None, project if self.features.workspace else None, recalled)

    def recall(self, out: Output, encoder: DocEncoder, own_file: str | None = None) -> np.ndarray | None:
        """The project memory's votes for the next token after `out` [n_ext], or None (no memory).
        The names it recalls that the document has not met take identities in its table."""
        if self.memory is None or out.vector is None or not self.features.memory:
            return None
        shares = self.memory.recall(out.vector[0], own_file)
        if not shares:
            return None
        ids = [encoder.ext_of_text(name) for name in shares]
        votes = np.zeros(encoder.n_ext, np.float32)
        np.add.at(votes, ids, list(shares.values()))
        return votes

    def feed(self, state: State, ext_ids: list[int], roles: list[int] | None = None) -> Output:
        """One more token per row of `state`, given by pointer identity, as beam search produces
        tokens: a name outside the vocabulary is `<unk>` to the embedding. `roles`: each token's
        (`causal_roles.last_role`); unknown without them."""
        last = np.array(ext_ids, np.int64)[:, None]
        ids = np.where(last < len(self.vocab), last, self.vocab.unk)
        role_ids = np.array(roles, np.int64)[:, None] if roles is not None else np.full_like(ids, UNKNOWN)
        return self.model(ids, role_ids, last, state)


def load_predictor(folder: str | Path | None = None, features: Features = ALL_FEATURES, threads: int = 0) -> Predictor:
    """A model folder (the bundled one by default) ready for inference, with its member table and
    the calibration of its ghost text's confidence (where it has one that fits). `threads`: for
    numpy's products in this process (`threads.py`; 0: the server's default, so that `heed eval`
    and `heed calibrate` time the ghost text's beam as the server does)."""
    set_blas_threads(threads or default_threads())
    model, vocab, meta = load_net(folder)
    predictor = Predictor(model, vocab, meta, load_members(folder, vocab), features)
    try:
        predictor.calibration = Calibration.load(Path(folder) if folder else default_model_dir())
    except ValueError as exc:
        log.warning("%s: ghost text is shown without a confidence", exc)
    try:  # a broken memory is a broken folder (an adapted model's): the server falls back to the bundled one
        predictor.memory = ProjectMemory.load(Path(folder) if folder else default_model_dir(), model.config.embed)
    except ValueError as exc:
        raise ModelError(str(exc)) from exc
    return predictor


def _ratio(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    return np.where(before > 0, after / np.maximum(before, 1e-30), 1.0).astype(np.float32)
