"""`heed eval`: how good the model is on code it never saw, next to two baselines.

Held-out data: the test split of the given corpora. By default, the standard library's test
split plus the installed pygls, lsprotocol and libcst packages whole (none of which the default
model is trained on), tokenized with the model's own vocabulary.

Next-token metrics at every position, for all tokens, identifiers, and attribute names (the
name after a `.`): top-1, top-5 and MRR (reciprocal rank, 0 past rank 10), of the distribution
heed answers from, adjusted by the very code the server runs (`Predictor.adjuster`): the
network's, with the file's n-grams mixed in (`runtime/ngram.py`; the lesion
`Features(ngrams=False)` leaves them out) and, after a dot, re-ranked by the receiver's usual
attributes or the class's members (`runtime/rerank.py`; lesion: `members=False`) and by what
the code says the receiver is (`lookup/receivers.py`; lesion: `modules=False`). For the last, each
file's token keys are read again from its source (the corpus keeps no text for names outside
the vocabulary); the file under evaluation is never read as a module; and the names the
receiver has that have no identity in the file (neither in the vocabulary nor anywhere in it)
take ranks like any other, so that they cost what they would cost in the popup. A target the
model cannot produce (a long literal, a name outside the vocabulary that the pointer does not
reach) counts as wrong, and a target tied with other tokens ranks below all of them (the popup
breaks ties by usage and name, never in the answer's favour; before 2026-12-05 ties counted for
it). `pointer_share` is the share of top-1 hits the pointer contributed most to.

Baselines, given the token's category for free: *unigram* ranks tokens of that category by
training frequency; *cache* ranks the file's most recent distinct tokens of that category.

Multi-token: from mid-line points, beam search for the rest of the line; exact match and edit
similarity (1 - Levenshtein / longer length) of the detokenized text.
"""

from __future__ import annotations

import hashlib
import keyword
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from heed.model.lookup.imports import import_bindings
from heed.model.lookup.modules import ModuleIndex
from heed.model.lookup.receivers import Lookup, ReceiverNames, receiver_names
from heed.model.nn.network import HeedLM, mixture
from heed.model.runtime import ngram
from heed.model.runtime.beam import beam_search
from heed.model.runtime.context import select_context
from heed.model.runtime.encoding import DocEncoder, Encoded
from heed.model.runtime.predictor import ALL_FEATURES, Features, Predictor, load_predictor
from heed.model.text import detok
from heed.model.text.vocab import KIND_ID, LAYOUT, Vocab
from heed.model.training import corpus as corpus_mod
from heed.model.training.batches import Rows
from heed.model.training.corpus import ARRAYS, Split
from heed.model.training.metrics import MRR_CUTOFF, Results, similarity


def eval_corpus_dir(vocab: Vocab, cache_root: Path | None = None) -> Path:
    """The default evaluation corpus for this vocabulary, built once and kept in the cache."""
    root = cache_root or corpus_mod.default_cache_dir().parent
    digest = hashlib.sha1("\n".join(vocab.tokens).encode()).hexdigest()[:12]
    out = root / f"eval-{vocab.tokenizer_version}-{digest}"
    if not (out / "test.npz").exists():
        # Copies of held-out files among the installed packages (setuptools vendors parts of the
        # standard library) are training data: such files are dropped from the evaluation set.
        installed = {Path(p) for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])}
        corpus_mod.build_corpus(out, corpus_mod.default_eval_sources(), skip_tests=True, vocab=vocab, splits=("test",),
                                reference=sorted(installed))
    return out


def _categories(split_ids: np.ndarray, kinds: np.ndarray, dot_id: int) -> dict[str, np.ndarray]:
    name = kinds == KIND_ID["name"]
    return {"all": np.ones_like(name), "identifier": name, "attribute": name & (split_ids == dot_id)}


@torch.no_grad()
def next_token_metrics(predictor: Predictor, split: Split, results: Results, batch: int = 16, bptt: int = 128,
                       progress: bool = True) -> None:
    vocab, features = predictor.vocab, predictor.features
    # Whole segments at once, in torch: the same weights (and lesions) as the predictor's network.
    model = HeedLM.of(predictor.model.config, predictor.model.weights).eval()
    answerable = torch.tensor(vocab.answerable())
    V = len(vocab)
    rows = Rows(split, list(range(len(split))), batch, bptt, max_piece=10**9)
    state = model.initial_state(batch)
    dot = vocab.index["."]
    n_ext = int(max(split.ext.max(initial=0), V - 1)) + 1
    files_seen: dict[int, EvalFile] = {}
    index = ModuleIndex() if features.modules else None
    for i, b in enumerate(tqdm(rows, desc="evaluating", unit="segment", disable=not progress, leave=False)):
        state = state.reset_rows(b.reset)
        out = model(b.ids, b.roles, b.ext, state)
        state = out.state
        probs = mixture(out, n_ext, answerable)  # [B, T, n_ext]
        unseen = torch.zeros(probs.shape[:2], dtype=torch.long)  # names the receiver has, with no identity in the file ...
        unseen_p = torch.zeros(probs.shape[:2])  # ... and the probability each has
        if features.ngrams or features.members or features.modules:
            _adjust(predictor, probs, rows.where[:, i * bptt : (i + 1) * bptt], split, files_seen, answerable, index,
                    unseen, unseen_p)
        truth = torch.where(b.target_ext >= 0, b.target_ext, b.targets)
        ok = (answerable[b.targets] | (b.target_ext >= V)) & (b.mask > 0)
        p_true = probs.gather(-1, truth.clamp(0, n_ext - 1)[..., None]).squeeze(-1)
        # A tie counts against the target: the popup breaks ties by how often the document uses
        # a name, then by its text, neither of which favours the right answer.
        above = (probs >= p_true[..., None]).sum(-1) - 1 + unseen * (unseen_p >= p_true)
        ranks = (above + 1) * (ok & (p_true > 0))
        # Which part gave the right answer most: the pointer or the vocabulary?
        hits_ptr = (out.key_ext[:, None, :] == truth[..., None]) & (truth[..., None] >= 0)
        ptr = (out.attn * hits_ptr).sum(-1) * (1 - out.gate)
        voc_p = torch.softmax(out.logits.float(), -1).gather(-1, b.targets[..., None]).squeeze(-1) * out.gate
        voc_p = torch.where(b.target_ext >= V, torch.zeros_like(voc_p), voc_p)
        cats = _categories(b.ids.numpy(), b.kinds.numpy(), dot)
        mask = b.mask.numpy() > 0
        r = ranks.numpy()
        for c, sel in cats.items():
            results.model[c].add(r[sel & mask])
        results.pointer_hits += int(((ranks == 1) & (ptr > voc_p) & (b.mask > 0)).sum())


@dataclass
class EvalFile:
    """One file of the split, whole, for adjusting each of its positions as inference would."""

    whole: Encoded  # its model inputs (each position reads their head)
    ngrams: ngram.Ngrams | None  # of the whole file (each position guesses from its head)
    keys: list[str] | None = None  # the file's token keys, read again from its source (for the look-up)
    bindings: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    origin: Path | None = None
    identity: dict[str, int] = field(default_factory=dict)  # each name in the file -> its identity there


def _eval_file(split: Split, f: int, features: Features) -> EvalFile:
    a = split.file(f)
    whole = Encoded(*(a[k].astype(np.int64) for k in Encoded.FIELDS))
    out = EvalFile(whole, ngram.Ngrams(ngram.identities(whole.ids, whole.ext)) if features.ngrams else None)
    path = Path(split.paths[f]) if features.modules and f < len(split.paths) and split.paths[f] else None
    if path is None:
        return out
    _, _, tokens = corpus_mod.tokenize_file(path, corpus_mod.default_cache_dir())
    if tokens is None or len(tokens.keys) != len(whole.ids):
        return out  # changed since the corpus was built: no look-up in this file
    out.keys, out.origin = tokens.keys, path
    out.bindings = import_bindings(tokens.keys)
    out.identity = {k: int(e) for k, e in zip(tokens.keys, a["ext"]) if e >= 0}
    return out


def _receiver_names(predictor: Predictor, ef: EvalFile, end: int, index: ModuleIndex) -> ReceiverNames | None:
    """After the `.` ending the file's first `end` tokens, what other code says can follow it
    (`lookup/receivers.py`), as identities: vocabulary ids or the file's own."""
    if ef.keys is None:
        return None
    index.exclude = ef.origin  # the file under evaluation is never read, not even as a module

    def binding_of(name: str) -> tuple[int, str] | None:
        bound = [b for b in ef.bindings.get(name, ()) if b[0] < end]
        return bound[-1][1:] if bound else None

    c, vocab = ef.whole.head(end), predictor.vocab
    return receiver_names(Lookup(predictor.class_tokens, c.ids, c.parsed, c.ext, ef.keys[:end], index, ef.origin,
                                 binding_of, lambda name: ef.identity.get(name, vocab.index.get(name, -1))))


def _adjust(predictor: Predictor, probs: torch.Tensor, where: np.ndarray, split: Split, files_seen: dict[int, EvalFile],
            answerable: torch.Tensor, index: ModuleIndex | None, unseen: torch.Tensor, unseen_p: torch.Tensor) -> None:
    """Adjust each position's distribution in `probs` [B, T, n_ext] as inference does
    (`Predictor.adjuster`), with a module `index` for the receiver look-up (`where`: the split
    index of each input token; `files_seen`: each file's whole run, kept while the file lasts).
    Names the receiver has that have no identity in the file still take ranks: `unseen` and
    `unseen_p` [B, T] get how many there are and the probability each has."""
    rows, cols = np.nonzero(where >= 0)
    at = where[rows, cols]
    files = np.searchsorted(split.starts, at, "right") - 1
    dot = predictor.vocab.index["."]
    for f in set(files_seen) - set(files.tolist()):
        del files_seen[f]  # rows hold files one after another: a file that ended never comes back
    for r, t, g, f in zip(rows.tolist(), cols.tolist(), at.tolist(), files.tolist()):
        if f not in files_seen:
            files_seen[f] = _eval_file(split, f, predictor.features)
        ef = files_seen[f]
        end = g - int(split.starts[f]) + 1
        names = _receiver_names(predictor, ef, end, index) if index is not None and split.ids[g] == dot else None
        adjusted = predictor.adjuster(ef.whole.head(end), names, ef.ngrams).adjust(probs[r, t].numpy(), answerable.numpy())
        probs[r, t] = torch.from_numpy(adjusted.probs)
        if adjusted.rerank is not None:
            unseen[r, t] = adjusted.rerank.unseen
            unseen_p[r, t] = adjusted.rerank.unseen_prob(adjusted.mixed)


def baseline_metrics(vocab: Vocab, split: Split, results: Results) -> None:
    """Unigram and recent-token cache, each told the category of the token to predict."""
    V = len(vocab)
    answerable = np.array(vocab.answerable())
    is_name_tok = np.array([t.isidentifier() and not keyword.iskeyword(t) for t in vocab.tokens])
    # Unigram: the vocabulary is stored most frequent first; rank within the category.
    rank_all = np.where(answerable, np.cumsum(answerable), 0)
    rank_name = np.where(answerable & is_name_tok, np.cumsum(answerable & is_name_tok), 0)
    dot = vocab.index["."]
    name_kind = KIND_ID["name"]
    for f in range(len(split)):
        a = split.file(f)
        ids, ext, kinds = a["ids"], a["ext"], a["kinds"]
        if len(ids) < 2:
            continue
        inp, tgt, tgt_ext, tgt_kind = ids[:-1], ids[1:], ext[1:], kinds[1:]
        in_vocab = (tgt_ext < V) & (tgt_ext >= 0)
        uni_all = np.where(in_vocab, rank_all[tgt], 0)
        uni_name = np.where(in_vocab, rank_name[tgt], 0)
        cats = _categories(inp, tgt_kind, dot)
        results.unigram["all"].add(uni_all)
        results.unigram["identifier"].add(uni_name[cats["identifier"]])
        results.unigram["attribute"].add(uni_name[cats["attribute"]])
        # Cache: move-to-front lists of the file's recent tokens (all kinds / names only).
        for cat, names_only in (("all", False), ("identifier", True), ("attribute", True)):
            recent: list[int] = []
            ranks = []
            sel = cats[cat]
            for t in range(len(tgt)):
                identity = int(ext[t]) if ext[t] >= 0 else -1
                if sel[t]:
                    truth = int(tgt_ext[t])
                    ranks.append(recent.index(truth) + 1 if truth >= 0 and truth in recent[:MRR_CUTOFF] else 0)
                # the input token at t becomes visible for later positions
                if identity >= 0 and (not names_only or kinds[t] == name_kind) and (answerable[ids[t]] or identity >= V):
                    if identity in recent:
                        recent.remove(identity)
                    recent.insert(0, identity)
                    del recent[64:]
            results.cache[cat].add(np.asarray(ranks, np.int64))


def line_metrics(predictor: Predictor, split: Split, points: int, seed: int = 0, width: int = 4,
                 max_tokens: int = 16, progress: bool = True) -> dict[str, float]:
    """Rest-of-line completion from mid-line points, by beam search."""
    vocab = predictor.vocab
    V = len(vocab)
    newline_ids = {vocab.index[k] for k in LAYOUT.values()}
    rng = np.random.default_rng(seed)
    candidates = []
    for f in range(len(split)):
        ids = split.file(f)["ids"]
        line_start = 0
        for t in range(len(ids)):
            if ids[t] in newline_ids:
                if t - line_start >= 4:
                    candidates.append((f, line_start, t))
                line_start = t + 1
    if not candidates:
        return {"exact_match": 0.0, "edit_similarity": 0.0, "n": 0}
    picks = rng.choice(len(candidates), size=min(points, len(candidates)), replace=False)
    exact = sim = 0.0
    for k in tqdm(sorted(picks), desc="line completion", disable=not progress, leave=False):
        f, a, end = candidates[k]
        cut = int(rng.integers(a + 1, end - 1))  # at least one token before and after
        arr = split.file(f)
        encoder = DocEncoder(vocab)
        oov_count = int(max(arr["ext"].max(), V - 1)) - V + 1
        encoder.oov_texts = [f"oov{i}" for i in range(oov_count)]  # the corpus's own OOV identities
        origin = select_context(cut)
        ctx = Encoded(*(arr[k][origin:cut].astype(np.int64) for k in Encoded.FIELDS))
        out = predictor.run(ctx, predictor.initial_state())
        before = [encoder.text_of(int(e)) if e >= 0 else vocab.tokens[i] for i, e in zip(arr["ids"][a:cut], arr["ext"][a:cut])]
        opened = max(sum(t in "([{" for t in before) - sum(t in ")]}" for t in before), 0)
        hyps = beam_search(predictor, out, encoder, width, max_tokens, budget_s=10.0, alternatives=1, open_before=opened,
                           stop_at_close=False, adjuster=predictor.adjuster(ctx), line_before=before)
        truth = [encoder.text_of(int(e)) if e >= 0 else vocab.tokens[i] for i, e in zip(arr["ids"][cut:end], arr["ext"][cut:end])]
        guess = hyps[0].tokens if hyps else []
        exact += guess == truth
        g, t = detok.join(before, guess).strip(), detok.join(before, truth).strip()
        sim += similarity(g, t)
    n = len(picks)
    return {"exact_match": exact / n, "edit_similarity": sim / n, "n": n}


def evaluate(model_dir: str | None, corpora: list[str], line_points: int = 300, features: Features = ALL_FEATURES,
             max_files: int = 0, progress: bool = True) -> dict[str, Any]:
    """`heed eval`'s report; `features` switches parts of heed off for the ablations."""
    predictor = load_predictor(model_dir, features)
    model, vocab = predictor.model, predictor.vocab
    dirs = [Path(c) for c in corpora] or [eval_corpus_dir(vocab)]
    splits = []
    for d in dirs:
        if corpus_mod.corpus_vocab(d).tokens != vocab.tokens:
            raise SystemExit(f"{d} was built with another vocabulary: rebuild it with --vocab <model>/vocab.json")
        splits.append(corpus_mod.load_split(d, "test"))
    split = _concat(splits)
    if max_files:
        split = _spread_files(split, max_files)
    results = Results()
    next_token_metrics(predictor, split, results, progress=progress)
    baseline_metrics(vocab, split, results)
    if line_points:
        results.line = line_metrics(predictor, split, line_points, progress=progress)
    report = results.report()
    report["files"] = len(split)
    report["model"] = str(model_dir or "default")
    report["pointer"] = model.config.pointer
    report["far"] = model.config.far > 0
    report["cache"] = features.ngrams
    report["members"] = features.members
    report["modules"] = features.modules
    report["member_table"] = features.members and predictor.table is not None  # the corpus part (the class part needs none)
    return report


def _concat(splits: list[Split]) -> Split:
    """One split from several (pointer identities are per file, so they stay valid)."""
    starts = [np.zeros(1, np.int64)]
    at = 0
    for s in splits:
        starts.append(s.starts[1:] + at)
        at += int(s.starts[-1])
    return Split(
        *(np.concatenate([getattr(s, name) for s in splits]) for name, _ in ARRAYS),
        np.concatenate(starts), [label for s in splits for label in s.labels], [p for s in splits for p in s.paths],
    )


def _spread_files(split: Split, n: int) -> Split:
    """`n` files spread evenly over the split (every source represented), in order."""
    if n >= len(split):
        return split
    chosen = sorted({int(i) for i in np.linspace(0, len(split) - 1, n)})
    parts = [split.file(i) for i in chosen]
    starts = np.concatenate([[0], np.cumsum([len(p["ids"]) for p in parts])]).astype(np.int64)
    return Split(*(np.concatenate([p[k] for p in parts]) for k, _ in ARRAYS), starts,
                 [split.labels[i] for i in chosen], [split.paths[i] for i in chosen if i < len(split.paths)])
