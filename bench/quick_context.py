"""How long a context a just-opened document's first popup and ghost text read (`QUICK_POPUP`,
`QUICK_INLINE`).

A document the server has not run the model over yet is answered from its last tokens only,
while the whole of it is warmed in the background. Fewer tokens answer sooner; more rank
better. This measures both on the *validation* projects (the choice is tuned there, never on
the held-out ones): at each sampled place the document is opened cut at the cursor and asked
once, reading the last Q tokens, for each Q; "warm" is the answer after the whole document ran.

    python bench/quick_context.py [--points 150] [--sizes 256 512 1024 2048]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from lsp_points import held_out_files, sample_points

from heed.model.lookup.modules import ModuleIndex
from heed.model.nn.store import default_model_dir
from heed.model.runtime import completer as completer_module
from heed.model.runtime.completer import Completer
from heed.model.runtime.predictor import load_predictor
from heed.model.text.stream import TokenStream

VALIDATION = Path(__file__).resolve().parent.parent / "runs" / "projects" / "validation"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=150, help="points per kind (attribute, identifier, ghost text)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 384, 512, 1024])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    predictor = load_predictor(default_model_dir())
    projects = sorted(p for p in VALIDATION.iterdir() if p.is_dir())
    points, texts = sample_points(held_out_files(projects), args.points, args.seed)
    configs = [str(q) for q in args.sizes] + ["warm"]
    hits: dict[str, dict[str, list[int]]] = {c: {"attribute": [], "identifier": []} for c in configs}
    ms: dict[str, list[float]] = {c: [] for c in configs}
    ghost: dict[str, list[tuple[bool, bool, float]]] = {c: [] for c in configs}  # (shown, exact, ms)
    for point in points:
        text = texts[point.file][: point.offset]
        for config in configs:
            index = ModuleIndex()
            index.exclude = Path(point.path)  # the file on disk is whole: the look-up must not read the answer
            c = Completer(predictor, Path(point.path), index)
            stream = TokenStream(text)
            started = time.perf_counter()
            if config == "warm":
                c.warm(stream)
                started = time.perf_counter()
            else:
                completer_module.QUICK_POPUP = completer_module.QUICK_INLINE = int(config)
            if point.kind == "inline":
                shown = c.inline(stream, len(text), quick=True)
                got = shown[0].text.split("\n")[0].strip() if shown else ""
                ghost[config].append((bool(got), got == point.expected, (time.perf_counter() - started) * 1000))
                continue
            labels = [x.text for x in c.popup(stream, len(text), quick=True).candidates]
            ms[config].append((time.perf_counter() - started) * 1000)
            rank = labels.index(point.expected) + 1 if point.expected in labels else 0
            hits[config][point.kind].append(rank)
    print(f"{len(points)} points from {', '.join(p.name for p in projects)}")
    print("| context | attr top-1 | attr top-5 | id top-1 | id top-5 | popup p50 | popup p95 "
          "| ghost shown | ghost exact | ghost p50 | ghost p95 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for config in configs:
        row = [100 * statistics.mean([0 < r <= k for r in hits[config][kind]]) for kind in ("attribute", "identifier") for k in (1, 5)]
        q = statistics.quantiles(ms[config], n=20)
        g = ghost[config]
        gq = statistics.quantiles([x[2] for x in g], n=20)
        print(f"| {config} | {row[0]:.1f}% | {row[1]:.1f}% | {row[2]:.1f}% | {row[3]:.1f}% | {statistics.median(ms[config]):.0f} ms "
              f"| {q[18]:.0f} ms | {100 * statistics.mean(x[0] for x in g):.1f}% | {100 * statistics.mean(x[1] for x in g):.1f}% "
              f"| {statistics.median(x[2] for x in g):.0f} ms | {gq[18]:.0f} ms |")


if __name__ == "__main__":
    main()
