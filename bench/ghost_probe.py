"""Would ghost text's confidence, or its choice among the beam's suggestions, do better with what the
released one does not read? On validation projects only, at the places `heed calibrate` collects
(mid-line places and the keystrokes of lines typed through, the same files and seed), each
project's confidences from the model fitted on the other projects, as `heed calibrate` scores them:

    base        the released features (`runtime/confidence.py`)
    + file      and whether the line, finished so, was written before in the file (how often;
                that count over the lines starting as this one does)
    + project   and how often the project's other files wrote that line
    choice      where a suggestion passes the bar, the beam's first (as released) or the one with
                the most expected similarity to the beam's others (minimum Bayes risk)

and, where scikit-learn is importable (it is not one of heed's dependencies), gradient-boosted
trees over the base features in place of the logistic model. Prints a Markdown table: at each
threshold, shown / exact among shown / similarity among shown. (Typing along, which keeps a shown
suggestion, is not replayed here: the keystroke figures compare the variants with one another.)

    python bench/ghost_probe.py runs/projects/validation/* [--cache runs/ghost_probe.json]
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from heed.model.runtime import completer as completer_module
from heed.model.runtime.predictor import load_predictor
from heed.model.training.calibrate import LINES_PER_FILE, TYPING_FILES, TYPING_LINES, held_out_confidences
from heed.model.training.held_out import measured_on
from heed.model.training.metrics import similarity
from heed.model.training.projects import score_projects
from heed.model.workspace.files import python_files, readable_source

THRESHOLDS = (0.25, 0.30, 0.35, 0.40)


def collect(roots: list[Path], files_per_project: int) -> list[dict[str, Any]]:
    """Each place's suggestions (text, features) as `heed calibrate` collects them, with the
    line's typed part and the earlier lines of the document that start as it does."""
    predictor = load_predictor()
    predictor.calibration = None  # every suggestion, as `heed calibrate` sees them
    asked: list[dict[str, Any]] = []
    inline = completer_module.Completer.inline

    def recording(self: completer_module.Completer, stream: Any, offset: int, *args: Any, **kwargs: Any) -> Any:
        out = inline(self, stream, offset, *args, **kwargs)
        start = stream.text.rfind("\n", 0, offset) + 1
        typed = stream.text[start:offset].strip()
        earlier = Counter(s for s in (ln.strip() for ln in stream.text[:start].split("\n")) if s.startswith(typed) and s)
        asked.append({"path": str(self.path), "typed": typed, "earlier": dict(earlier)})
        return out

    completer_module.Completer.inline = recording  # type: ignore[method-assign]
    rows: list[dict[str, Any]] = []
    try:
        for kind, how in (("mid-line", {"per_file": {"line": LINES_PER_FILE}}), ("typing", {"typing": TYPING_LINES})):
            for root in roots:
                asked.clear()
                scores = score_projects(predictor, [root], files_per_project if kind == "mid-line" else TYPING_FILES,
                                        progress=False, **how)  # type: ignore[arg-type]
                places = [p for f in scores[root.name] for p in f.lines]
                assert len(places) == len(asked), "one inline request per place"
                for p, a in zip(places, asked):
                    rows.append({"kind": kind, "project": str(root), "expected": p.expected, **a,
                                 "suggestions": [{"text": s.text, "x": None if s.x is None else s.x.tolist()}
                                                 for s in p.suggestions]})
    finally:
        completer_module.Completer.inline = inline  # type: ignore[method-assign]
    return rows


def project_lines(roots: set[str]) -> tuple[dict[str, Counter[str]], dict[str, Counter[str]]]:
    """Each project's stripped lines counted, and each file's (the index leaves the measured file out)."""
    by_project: dict[str, Counter[str]] = {}
    by_file: dict[str, Counter[str]] = {}
    for root in roots:
        total: Counter[str] = Counter()
        for path in python_files(Path(root), (), Counter()):
            text, _ = readable_source(path)
            if text is not None:
                lines = Counter(s for s in (ln.strip() for ln in text.split("\n")) if s)
                by_file[str(path.resolve())] = lines
                total += lines
        by_project[root] = total
    return by_project, by_file


def first_line(text: str) -> str:
    return text.split("\n")[0].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("projects", nargs="+", type=Path)
    parser.add_argument("--files-per-project", type=int, default=60)
    parser.add_argument("--cache", type=Path, help="the collected places, JSON: read if it exists, else written")
    args = parser.parse_args()
    for root in args.projects:
        if (kind := measured_on(root)) is not None:
            raise SystemExit(f"{root} is one of the {kind} projects: this probe chooses, so it runs on validation projects only")
    if args.cache and args.cache.exists():
        rows = json.loads(args.cache.read_text())
    else:
        rows = collect(args.projects, args.files_per_project)
        if args.cache:
            args.cache.write_text(json.dumps(rows))
    by_project, by_file = project_lines({r["project"] for r in rows})

    # One sample per whole suggestion (the released calibration shows no cuts: its prefix bar is 1.01)
    where, xs, extra, ys, group = [], [], [], [], []
    for i, r in enumerate(rows):
        own = by_file.get(str(Path(r["path"]).resolve()), Counter())
        for j, s in enumerate(r["suggestions"]):
            if s["x"] is None:
                continue
            line = (r["typed"] + s["text"].split("\n")[0]).strip()
            in_file, starting = r["earlier"].get(line, 0), sum(r["earlier"].values()) if r["typed"] else 0
            in_project = by_project[r["project"]][line] - own[line]
            where.append((i, j))
            xs.append(s["x"])
            extra.append([math.log1p(in_file), float(in_file > 0), in_file / starting if starting else 0.0,
                          math.log1p(in_project), float(in_project > 0)])
            ys.append(first_line(s["text"]) == r["expected"])
            group.append(r["project"])
    x, e, y = np.asarray(xs), np.asarray(extra), np.asarray(ys, np.float64)
    w = np.ones(len(y), bool)  # all whole suggestions (`held_out_confidences` fits cuts apart)
    g = np.unique(np.asarray(group), return_inverse=True)[1]
    print(f"{len(rows)} places, {len(y)} suggestions ({y.mean():.1%} exact); "
          f"whose line the file wrote before: {(e[:, 1] > 0).mean():.1%} ({y[e[:, 1] > 0].mean():.1%} exact), "
          f"the project's other files: {(e[:, 4] > 0).mean():.1%} ({y[e[:, 4] > 0].mean():.1%} exact)\n")

    def table_row(name: str, p: np.ndarray, mbr: bool = False) -> str:
        conf: dict[tuple[int, int], float] = {k: float(c) for k, c in zip(where, p)}
        cells = []
        for kind in ("mid-line", "typing"):
            places = [i for i, r in enumerate(rows) if r["kind"] == kind]
            for t in THRESHOLDS:
                shown = exact = 0
                sim = 0.0
                for i in places:
                    got = shown_at(rows[i], i, conf, t, mbr)
                    if got is not None:
                        shown, exact, sim = shown + 1, exact + (got == rows[i]["expected"]), sim + similarity(got, rows[i]["expected"])
                cells.append(f"{shown / len(places):.1%} / {exact / max(shown, 1):.1%} / {sim / max(shown, 1):.1%}")
        return f"| {name} | " + " | ".join(cells) + " |"

    heads = [f"{kind} {t:.2f}" for kind in ("mid-line", "typing") for t in THRESHOLDS]
    print("| variant | " + " | ".join(heads) + " |\n|---|" + "---:|" * len(heads))
    base = held_out_confidences(x, y, w, g)
    print(table_row("base (as released)", base))
    print(table_row("choice: minimum Bayes risk", base, mbr=True))
    print(table_row("+ file", held_out_confidences(np.hstack([x, e[:, :3]]), y, w, g)))
    print(table_row("+ project", held_out_confidences(np.hstack([x, e[:, 3:]]), y, w, g)))
    print(table_row("+ file + project", held_out_confidences(np.hstack([x, e]), y, w, g)))
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-not-found]
    except ImportError:
        return
    trees = np.zeros(len(y))
    for held in np.unique(g):
        model = HistGradientBoostingClassifier(max_depth=3, max_iter=200, learning_rate=0.05).fit(x[g != held], y[g != held])
        trees[g == held] = model.predict_proba(x[g == held])[:, 1]
    print(table_row("boosted trees (base features)", trees))


def shown_at(row: dict[str, Any], i: int, conf: dict[tuple[int, int], float], t: float, mbr: bool) -> str | None:
    """The line shown at threshold `t`: a suggestion that reaches it (the beam's first, or with `mbr`
    the passing one closest to the beam's others), else nothing."""
    whole = [(conf.get((i, j), 0.0), first_line(s["text"]), s["x"][1]) for j, s in enumerate(row["suggestions"])
             if s["x"] is not None]
    passing = [s for s in whole if s[0] >= t]
    if not passing:
        return None
    if not mbr:
        return passing[0][1]
    top = max(s[2] for s in whole)
    weights = [math.exp(s[2] - top) for s in whole]
    return max(passing, key=lambda a: sum(wb * similarity(a[1], b[1]) for wb, b in zip(weights, whole)))[1]


if __name__ == "__main__":
    main()
