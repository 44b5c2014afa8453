"""A loaded model ready for inference: running it over a context, and its next-token
prediction there (the network's distribution, adjusted as heed answers: `adjust.py`).

The state cache that makes this cheap while typing is `state_cache.py`; beam search for the
rest of a line is `beam.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from heed.model.lookup.classes import ClassTokens
from heed.model.lookup.receivers import ReceiverNames
from heed.model.nn.member_table import MemberTable
from heed.model.nn.network import HeedLM, Output, State, mixture
from heed.model.nn.store import default_model_dir, load_members, load_model
from heed.model.runtime import ngram
from heed.model.runtime.adjust import Adjuster
from heed.model.runtime.beam import STOP_KEYS
from heed.model.runtime.cancel import Cancelled, RequestCancelled
from heed.model.runtime.confidence import Calibration
from heed.model.runtime.encoding import DocEncoder, Encoded
from heed.model.runtime.rerank import Rerank, Reranker
from heed.model.runtime.state_cache import compact, far_positions
from heed.model.text.roles import UNKNOWN
from heed.model.text.vocab import PAD, UNANSWERABLE, UNK, Vocab

log = logging.getLogger(__name__)

CHECKPOINT = 64  # tokens between cached states


@dataclass(frozen=True)
class Features:
    """Which parts of heed answer: all of them, except in `heed eval`'s lesions."""

    ngrams: bool = True  # the document's n-grams mixed in (`--no-cache`)
    members: bool = True  # after a dot, re-ranked by the corpus table or the class's members (`--no-members`)
    modules: bool = True  # after a dot, the names the receiver's module or class has (`--no-modules`)
    pointer: bool = True  # the network's pointer (`--no-pointer`)
    far: bool = True  # the pointer's far memory (`--no-far`)
    syntax_check: bool = True  # ghost text shown only if it is code (`--no-syntax-check`)
    workspace: bool = True  # the project's index: its n-grams, names and types (`--no-index`)


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
    receiver: ReceiverNames | None = None  # after a dot, the names other code says the receiver has


class Predictor:
    """A loaded model with what it needs at inference: answerable mask, device, threads."""

    def __init__(self, model: HeedLM, vocab: Vocab, meta: dict | None = None, table: MemberTable | None = None,
                 features: Features = ALL_FEATURES):
        if not (features.pointer and features.far):  # lesions of the same weights (the predictor owns its model)
            model.config = replace(model.config, pointer=model.config.pointer and features.pointer,
                                   far=model.config.far if features.far else 0)
        self.model = model.eval()
        self.vocab = vocab
        self.meta = meta or {}
        self.table = table
        self.features = features
        self.answerable = torch.tensor(vocab.answerable())
        # Beam search may predict a placeholder (`<str>`: a string comes here), which ends the
        # hypothesis; never `<unk>`, whose mass belongs to the names the pointer can copy.
        self.beam_answers = torch.tensor([t not in (PAD, UNK) for t in vocab.tokens])
        self.reranker = Reranker(vocab, table) if features.members else None
        self.class_tokens = ClassTokens.of(vocab)
        self.stop_ids = {vocab.index[k] for k in STOP_KEYS}
        self.unanswerable_ids = {vocab.index[k] for k in UNANSWERABLE}
        self.calibration: Calibration | None = None  # the ghost text's confidence (`confidence.py`)

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

    def prediction(self, out: Output, encoder: DocEncoder, context: Encoded, receiver: ReceiverNames | None = None,
                   project: ngram.ProjectGrams | None = None) -> Prediction:
        """The next-token prediction after the last token of `context` (`out` is the model's output
        there). `receiver`: after a dot, the names other code says the receiver has; `project`:
        the project's n-grams."""
        n, K, F = len(context), self.model.config.window, self.model.config.far
        window = np.arange(n - K, n)
        far = far_positions(context, n, K, F)
        key_pos = np.concatenate([np.full(F - len(far), -1), far, np.where(window >= 0, window, -1)])
        adjuster = self.adjuster(context, receiver, project=project)
        adjusted = adjuster.adjust(mixture(out, encoder.n_ext, self.answerable)[0, -1], self.answerable)
        rerank = adjusted.rerank
        return Prediction(
            probs=adjusted.probs.numpy(),
            gate=float(out.gate[0, -1]),
            attn=out.attn[0, -1].numpy(),
            key_ext=out.key_ext[0].numpy(),
            key_pos=key_pos,
            vocab_probs=torch.softmax(out.logits[0, -1].float(), -1).numpy(),
            ngrams=adjusted.guess,
            rerank=rerank,
            reranked=_ratio(adjusted.probs, adjusted.mixed) if rerank is not None else None,
            receiver=adjuster.receiver,
        )

    def adjuster(self, context: Encoded, receiver: ReceiverNames | None = None,
                 ngrams: ngram.Ngrams | None = None, project: ngram.ProjectGrams | None = None) -> Adjuster:
        """What the document, the project and the corpus add to the network after `context`, as
        this predictor's features allow. `ngrams`: of a longer run that `context` starts (`heed
        eval` indexes a whole file once), else of `context`."""
        if self.features.ngrams and ngrams is None:
            ngrams = ngram.Ngrams(ngram.identities(context.ids, context.ext))
        return Adjuster(context, ngrams if self.features.ngrams else None, self.reranker, self.vocab.index.get(".", -1),
                        receiver if self.features.modules else None, project if self.features.workspace else None)

    @torch.no_grad()
    def feed(self, state: State, ext_ids: list[int], roles: list[int] | None = None) -> Output:
        """One more token per row of `state`, given by pointer identity, as beam search produces
        tokens: a name outside the vocabulary is `<unk>` to the embedding. `roles`: each token's
        (`causal_roles.last_role`); unknown without them."""
        last = torch.tensor(ext_ids)[:, None]
        ids = torch.where(last < len(self.vocab), last, torch.full_like(last, self.vocab.unk))
        role_ids = torch.tensor(roles)[:, None] if roles is not None else torch.full_like(ids, UNKNOWN)
        return self.model(ids, role_ids, last, state, last_only=True)


def load_predictor(folder: str | Path | None = None, features: Features = ALL_FEATURES) -> Predictor:
    """A model folder (the bundled one by default) ready for inference, with its member table and
    the calibration of its ghost text's confidence (where it has one that fits)."""
    model, vocab, meta = load_model(folder)
    predictor = Predictor(model, vocab, meta, load_members(folder, vocab), features)
    try:
        predictor.calibration = Calibration.load(Path(folder) if folder else default_model_dir())
    except ValueError as exc:
        log.warning("%s: ghost text is shown without a confidence", exc)
    return predictor


def _ratio(after: torch.Tensor, before: torch.Tensor) -> np.ndarray:
    return torch.where(before > 0, after / before.clamp_min(1e-30), torch.ones_like(after)).numpy()
