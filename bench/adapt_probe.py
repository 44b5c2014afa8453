"""Other ways to learn a project than `heed adapt`'s fine-tuning, probed on the network alone.

    python bench/adapt_probe.py ROOT... [--knn] [--dynamic OPT:LR ...] [--mix DIR:W ...]

For each project ROOT, the network reads each file of its evaluation fifth (`in_fifth`: the files
`heed adapt --leave-out-fifth` never trains on) from its start, and at every place where a name
comes next the name's rank in its next-token distribution (vocabulary and pointer) is counted:
top-1 and top-5, after a dot ("attribute") and elsewhere ("identifier"). No n-grams, look-up or
index: this asks whether a way of learning moves the network at all, before it is wired into
the server. Beside the bundled model as it is:

- `--knn`: retrieval, the project memory as `heed adapt` builds it (`runtime/memory.py`, a kNN-LM):
  the vectors of every name in the project's other four fifths, with the name that followed; the
  nearest to the place's vector vote for their names, mixed in at each weight and temperature;
- `--dynamic OPT:LR`: dynamic evaluation (Krause et al. 2018): one gradient step (`sgd` or `adam`)
  on each segment of the file once it has been predicted, so that the file teaches the network
  as it is read (the weights start from the bundled ones at each file);
- `--mix DIR:W`: the distribution of an adapted model (DIR, `P` replaced by the project's
  name: `runs/adapt/P-m3`) mixed with the bundled one's at weight W (1: the adapted model alone).

Needs torch. Prints one line per setting, pooled over the projects given.
"""

from __future__ import annotations

import argparse
import copy
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch

from heed.model.nn.network import HeedLM, mixture
from heed.model.nn.store import load_model
from heed.model.runtime import memory
from heed.model.text.roles import ROLE_ID
from heed.model.text.vocab import KIND_ID
from heed.model.training.corpus import default_cache_dir, encode_file, tokenize_file
from heed.model.training.memory import build_memory
from heed.model.training.projects import in_fifth
from heed.model.workspace.files import python_files

SEGMENT = 128  # tokens a step (and, with --dynamic, a gradient step)
AFTER_DOT = {ROLE_ID[r] for r in ("attribute", "method", "attribute_target")}
NAME = KIND_ID["name"]
KNN_WEIGHTS = (0.1, 0.2, 0.3)
KNN_TEMPERATURES = (4.0, 8.0, 16.0)


class File:
    """One file's model inputs, the names that come next, and where they come."""

    def __init__(self, path: Path, vocab):  # type: ignore[no-untyped-def]
        _, _, tokens = tokenize_file(path, default_cache_dir())
        self.ok = tokens is not None and len(tokens.keys) > SEGMENT // 8
        if not self.ok:
            return
        self.path, self.tokens = path, tokens
        arrays = encode_file(tokens, vocab)
        self.ids, self.roles, self.ext = (torch.tensor(arrays[k], dtype=torch.long)[None] for k in ("ids", "roles", "ext"))
        self.n = self.ids.shape[1]
        self.n_ext = int(max(arrays["ext"].max() + 1, len(vocab)))
        self.target_ext = arrays["ext"][1:]
        self.next_key = tokens.keys[1:]
        self.is_name = np.asarray(tokens.kinds[1:]) == NAME
        self.after_dot = np.isin(np.asarray(tokens.parsed[1:]), list(AFTER_DOT))
        texts = list(vocab.tokens) + [None] * (self.n_ext - len(vocab))
        for key, e in zip(tokens.keys, arrays["ext"]):
            if e >= len(vocab):
                texts[e] = key
        self.texts = texts

    def segments(self):  # type: ignore[no-untyped-def]
        for s in range(0, self.n - 1, SEGMENT):
            e = min(s + SEGMENT, self.n - 1)
            yield s, (self.ids[:, s:e], self.roles[:, s:e], self.ext[:, s:e]), (self.ids[:, s + 1 : e + 1], self.ext[:, s + 1 : e + 1])


class Tally:
    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)

    def add(self, place: str, rank: int) -> None:
        c = self.counts[place]
        c["n"] += 1
        c["top1"] += rank == 1
        c["top5"] += 1 <= rank <= 5

    def line(self) -> str:
        return "  ".join(f"{p} top-1 {c['top1'] / c['n']:6.1%} top-5 {c['top5'] / c['n']:6.1%} (n={c['n']})"
                         for p, c in sorted(self.counts.items()))


def score(tally: Tally, file: File, start: int, probs: np.ndarray) -> None:
    """Rank each name that comes next in a segment, by its pointer identity (ties count against it)."""
    for t in range(probs.shape[0]):
        i = start + t
        if file.is_name[i]:
            p = probs[t, file.target_ext[i]] if file.target_ext[i] >= 0 else 0.0
            tally.add("attribute" if file.after_dot[i] else "identifier", int((probs[t] >= p).sum()) if p > 0 else 0)


def read(model: HeedLM, file: File, answerable: torch.Tensor, vectors: list | None = None):  # type: ignore[no-untyped-def]
    """The distributions [n - 1, n_ext] over a file, and (into `vectors`) each position's context vector."""
    hook = model.proj.register_forward_hook(lambda m, i, o: vectors.append(torch.tanh(o)[0].numpy())) if vectors is not None else None
    state, out = model.initial_state(1), []
    with torch.no_grad():
        for _, inputs, _ in file.segments():
            o = model(*inputs, state)
            state = o.state
            out.append(mixture(o, file.n_ext, answerable)[0].numpy())
    if hook is not None:
        hook.remove()
    return np.concatenate(out)


def knn_probe(base: HeedLM, vocab, train: list[File], test: list[File], answerable, tallies) -> None:  # type: ignore[no-untyped-def]
    """The project memory as heed builds it (`training/memory.py`) and recalls it, over the
    network alone, at each weight and temperature."""
    built = build_memory(base, vocab, [(f.path, f.tokens) for f in train])
    assert built is not None
    for f in test:
        vectors: list[np.ndarray] = []
        probs = read(base, f, answerable, vectors)
        v = np.concatenate(vectors)
        for i in np.flatnonzero(f.is_name):
            model_p: dict[str, float] = defaultdict(float)
            for e in np.argpartition(-probs[i], 50)[:50]:
                if f.texts[e] is not None:
                    model_p[f.texts[e]] += float(probs[i, e])
            place = "attribute" if f.after_dot[i] else "identifier"
            tallies["bundled"].add(place, _rank(model_p, f.next_key[i]))
            for temp in KNN_TEMPERATURES:
                memory.TEMPERATURE = temp
                votes = built.recall(v[i])
                for weight in KNN_WEIGHTS:
                    mixed = defaultdict(float, {k: (1 - weight) * p for k, p in model_p.items()})
                    for k, p in votes.items():
                        mixed[k] += weight * p
                    tallies[f"memory weight {weight} temperature {temp:g}"].add(place, _rank(mixed, f.next_key[i]))


def _rank(probs: dict[str, float], key: str) -> int:
    p = probs.get(key, 0.0)
    return sum(q >= p for q in probs.values()) if p > 0 else 0


def dynamic_probe(base: HeedLM, f: File, opt_name: str, lr: float, answerable, tally: Tally) -> None:  # type: ignore[no-untyped-def]
    model = copy.deepcopy(base)
    opt = (torch.optim.SGD if opt_name == "sgd" else torch.optim.Adam)(model.parameters(), lr=lr)
    state = model.initial_state(1)
    for start, inputs, (targets, target_ext) in f.segments():
        out = model(*inputs, state.detach(), targets, target_ext, torch.ones_like(targets, dtype=torch.float))
        with torch.no_grad():
            score(tally, f, start, mixture(out, f.n_ext, answerable)[0].numpy())
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        state = out.state.detach()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("roots", nargs="+", type=Path)
    ap.add_argument("--model", default=None, help="the base model (the bundled one by default)")
    ap.add_argument("--knn", action="store_true")
    ap.add_argument("--dynamic", nargs="*", default=[], metavar="OPT:LR")
    ap.add_argument("--mix", nargs="*", default=[], metavar="DIR:W")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    base, vocab, _ = load_model(args.model)
    answerable = torch.tensor(vocab.answerable(), dtype=torch.bool)
    tallies: dict[str, Tally] = defaultdict(Tally)
    for root in args.roots:
        files = list(python_files(root, [], Counter()))
        test = [f for p in files if in_fifth(root, p) and (f := File(p, vocab)).ok]
        if args.knn:
            train = [f for p in files if not in_fifth(root, p) and (f := File(p, vocab)).ok]
            knn_probe(base, vocab, train, test, answerable, tallies)
        adapted = {spec: load_model(spec.rsplit(":", 1)[0].replace("P", root.name))[0] for spec in args.mix}
        for f in test:
            if not args.knn:
                score(tallies["bundled"], f, 0, read(base, f, answerable))
            for spec in args.dynamic:
                opt_name, lr = spec.split(":")
                dynamic_probe(base, f, opt_name, float(lr), answerable, tallies[f"dynamic {spec}"])
            for spec, model in adapted.items():
                w = float(spec.rsplit(":", 1)[1])
                probs = (1 - w) * read(base, f, answerable) + w * read(model, f, answerable) if w < 1 else read(model, f, answerable)
                score(tallies[f"mix {spec}"], f, 0, probs)
        print(f"{root.name}: {len(test)} files", flush=True)
    for name, tally in tallies.items():
        print(f"{name:42s} {tally.line()}")


if __name__ == "__main__":
    main()
