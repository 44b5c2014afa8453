"""Would a larger vocabulary hold the names the popup is asked for? The names of a corpus's training
files (`heed corpus build`'s manifest) counted with heed's lexer; the model's vocabulary grown with
the most frequent names it lacks, to N tokens; at the attribute and identifier places of `heed eval
--projects` (same files, places and seed), the share whose expected name such a vocabulary holds,
and of the places whose name the model's vocabulary lacks today, the share it would then hold.
Validation projects only (the answer chooses a vocabulary size).

    python bench/vocab_probe.py --corpus runs/corpus-c1 runs/projects/validation/*
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from heed.model.nn.store import default_model_dir
from heed.model.text import lexer
from heed.model.text.vocab import Vocab
from heed.model.training import projects
from heed.model.training.held_out import measured_on
from heed.model.training.positions import sample

SIZES = (10_000, 20_000, 30_000, 50_000, 100_000)


def corpus_names(corpus: Path) -> Counter[str]:
    manifest = json.loads((corpus / "manifest.json").read_text())
    roots = {s["label"]: Path(s["root"]) for s in manifest["sources"]}  # a file's path starts with its label
    counts: Counter[str] = Counter()
    for f in manifest["files"]:
        if f["split"] != "train":
            continue
        label, rel = f["path"].split("/", 1)
        try:
            text = (roots[label] / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, KeyError):
            continue
        counts.update(t.text for t in lexer.lex(text) if t.kind == lexer.NAME)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("projects", nargs="+", type=Path)
    parser.add_argument("--corpus", type=Path, required=True)
    args = parser.parse_args()
    for root in args.projects:
        if (kind := measured_on(root)) is not None:
            raise SystemExit(f"{root} is one of the {kind} projects: this probe chooses, so it runs on validation projects only")
    vocab = set(Vocab.load(default_model_dir() / "vocab.json").tokens)
    grown = [name for name, _ in corpus_names(args.corpus).most_common() if name not in vocab]
    print(f"vocabulary {len(vocab)}; {len(grown)} more names in the corpus's training files\n")
    print("| places | count | outside today's vocabulary | " + " | ".join(f"held by {n:,}" for n in SIZES) + " |")
    print("|---|---:|---:|" + "---:|" * len(SIZES))
    places = [p for root in args.projects for _, _, found, key in projects.measured_files(root, projects.MAX_FILES, 0)
              for p in sample(found, projects.PER_FILE, key)]
    for kind in ("attribute", "identifier"):
        expected = [p.expected for p in places if p.kind == kind]
        outside = [e for e in expected if e not in vocab]
        cells = []
        for n in SIZES:
            held = vocab | set(grown[: max(n - len(vocab), 0)])
            newly = sum(e in held for e in outside)
            cells.append(f"{sum(e in held for e in expected) / len(expected):.1%} ({newly / max(len(outside), 1):.0%} of those outside)")
        print(f"| {kind} | {len(expected)} | {len(outside) / len(expected):.1%} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
