"""The project memory's weight and temperature, chosen on validation projects (never evaluation ones).

    python bench/memory_tune.py ROOT... --models runs/adapt/mem/P [--lines 4] [--grid W:T ...]

Each project ROOT was adapted first with `heed adapt ROOT --leave-out-fifth --out DIR` (`P` in
`--models` stands for the project's name; `--train none` builds the memory alone). Its
evaluation fifth is then scored as `heed eval --projects --fifth` scores it, with the workspace
index on, at more places per file (30 attribute and 30 identifier places, `--lines` mid-line
ones): without the memory, then with it at each weight:temperature of `--grid`. Prints one
pooled line per setting.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from heed.model.runtime import memory
from heed.model.runtime.predictor import load_predictor
from heed.model.training.projects import score_projects, summarize

SHOWN = ("attribute_top1", "attribute_top5", "identifier_top1", "identifier_top5", "all_top1", "line_shown", "line_exact",
         "line_exact_shown", "line_similarity_shown")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("roots", nargs="+", type=Path)
    ap.add_argument("--models", required=True, help="each project's adapted model, P standing for its name")
    ap.add_argument("--lines", type=int, default=0, help="mid-line places per file (ghost text; slower)")
    ap.add_argument("--grid", nargs="*", default=[f"{w}:{t}" for w in (0.1, 0.2, 0.3, 0.5) for t in (4, 8, 16)])
    args = ap.parse_args()
    per_file = {"attribute": 30, "identifier": 30, "line": args.lines}
    predictors = {root: load_predictor(args.models.replace("P", root.name)) for root in args.roots}
    memories = {root: p.memory for root, p in predictors.items()}
    for setting in ["none", *args.grid]:
        scores = {}
        for root, predictor in predictors.items():
            predictor.memory = memories[root] if setting != "none" else None
            if setting != "none":
                memory.WEIGHT, memory.TEMPERATURE = map(float, setting.split(":"))
            scores.update(score_projects(predictor, [root], progress=False, per_file=per_file, fifth=True))
            calibration = predictor.calibration
            for f in scores[root.name]:
                if calibration is not None:
                    f.judge(calibration.bars())
        s = summarize(scores, 0)
        print(f"{'without' if setting == 'none' else 'weight:temperature ' + setting:28s}",
              " ".join(f"{k} {s[k]['value']:.1%}" for k in SHOWN if k in s and s[k]["n"]),
              f"(n {s['attribute_top1']['n']} / {s['identifier_top1']['n']})", flush=True)


if __name__ == "__main__":
    main()
