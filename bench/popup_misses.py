"""Where the popup's answers come from, and where it misses: at each attribute and identifier place
of `heed eval --projects` (the same files, places and seed, asked the same way), the rank of the
expected name, by where that name shows before the cursor is reached:

    before    in the file's text before the cursor (as a whole word)
    builtin   a builtin or a keyword (not before the cursor)
    project   in another file of the project (the workspace index holds those), not before
    nowhere   in neither: only what a model learned elsewhere can offer it

and whether it is in the model's vocabulary (a name outside it comes only by the pointer, from
the file, or from the look-ups and the workspace index). A second table sorts the attribute
places by what the look-ups said the receiver is (`Popup.looked_up`), which re-ranked the list:

    class     `self.` or `cls.`: the members of the class around (and its bases')
    type      an instance or a class whose type the code shows
    module    an imported module
    corpus    none of those: the training corpus's usual attributes after the receiver's name
    call      a call's result
    (none)    nothing re-ranked the network's list

    python bench/popup_misses.py runs/projects/validation/* [--seed N]   (prints a Markdown table)
"""

from __future__ import annotations

import argparse
import builtins
import keyword
import re
from collections.abc import Iterator
from pathlib import Path

from heed.model.lookup.modules import ModuleIndex
from heed.model.runtime.predictor import Predictor, load_predictor
from heed.model.training import projects
from heed.model.training.positions import project_files, read_source, sample
from heed.model.workspace.index import WorkspaceIndex

KINDS = ("attribute", "identifier")
WHERE = ("before", "builtin", "project", "nowhere")
WORD = re.compile(r"[^\W\d]\w*")


def where(name: str, before: str, elsewhere: set[str]) -> str:
    if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", before):
        return "before"
    if hasattr(builtins, name) or keyword.iskeyword(name):
        return "builtin"
    return "project" if name in elsewhere else "nowhere"


def placed(root: Path, predictor: Predictor, seed: int) -> Iterator[tuple[str, str, str, int, str]]:
    """(kind, expected, where, rank: 0 when not listed, looked up) at each place of the project's measured files."""
    words = {p: set(WORD.findall(read_source(p) or "")) for p in project_files(root)}
    index = ModuleIndex()
    workspace = WorkspaceIndex([root], index, use_cache=False).build() if predictor.features.workspace else None
    for path, text, found, key in projects.measured_files(root, projects.MAX_FILES, seed):
        chosen = sample(found, projects.PER_FILE, key)
        if not chosen:
            continue
        score = projects.score_file(predictor, path, text, chosen, index, workspace)
        elsewhere = set().union(*(w for p, w in words.items() if p != path))
        ranks = {kind: iter(score.ranks[kind]) for kind in KINDS}
        looked_up = {kind: iter(score.looked_up[kind]) for kind in KINDS}
        for place in chosen:
            if place.kind in KINDS:
                yield (place.kind, place.expected, where(place.expected, text[: place.offset], elsewhere),
                       next(ranks[place.kind]), next(looked_up[place.kind]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("projects", nargs="+", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    predictor = load_predictor()
    rows = [row for root in args.projects for row in placed(root, predictor, args.seed)]
    print("| kind: where the name shows | share of places | in the vocabulary | top-1 | top-5 |")
    print("|---|---:|---:|---:|---:|")
    for kind in KINDS:
        of_kind = [r for r in rows if r[0] == kind]
        for group in (*WHERE, "all"):
            g = [r for r in of_kind if group in ("all", r[2])]
            if not g:
                continue
            known = sum(r[1] in predictor.vocab.index for r in g)
            top1 = sum(r[3] == 1 for r in g)
            top5 = sum(1 <= r[3] <= 5 for r in g)
            print(f"| {kind}: {group} | {len(g) / len(of_kind):.1%} ({len(g)}) | {known / len(g):.0%} | "
                  f"{top1 / len(g):.1%} | {top5 / len(g):.1%} |")
    attributes = [r for r in rows if r[0] == "attribute"]
    print("\n| attribute places: looked up as | share of places | top-1 | top-5 | of them, name before the cursor: top-1 / top-5 |")
    print("|---|---:|---:|---:|---:|")
    for lookup in sorted({r[4] for r in attributes}, key=lambda k: -sum(r[4] == k for r in attributes)):
        g = [r for r in attributes if r[4] == lookup]
        b = [r for r in g if r[2] == "before"]
        shares = f"{sum(r[3] == 1 for r in b) / len(b):.1%} / {sum(1 <= r[3] <= 5 for r in b) / len(b):.1%}" if b else "-"
        print(f"| {lookup or '(none)'} | {len(g) / len(attributes):.1%} ({len(g)}) | {sum(r[3] == 1 for r in g) / len(g):.1%} | "
              f"{sum(1 <= r[3] <= 5 for r in g) / len(g):.1%} | {shares} |")


if __name__ == "__main__":
    main()
