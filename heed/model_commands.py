"""The commands that make and measure models: `heed corpus build`, `heed train`, `heed eval`,
`heed calibrate` (their arguments are defined with the others in `cli.py`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any


def _bundled(path: str) -> str:
    """`bundled` names the model shipped with heed."""
    if path == "bundled":
        from heed.model.nn.store import default_model_dir

        return str(default_model_dir())
    return path


def _folders(paths: list[str]) -> list[Path]:
    """The folders named, resolved; exits with a message where one is not a folder."""
    roots = [Path(p).resolve() for p in paths]
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        raise SystemExit(f"heed: not a folder: {', '.join(missing)}")
    return roots


def _print_json(report: Any) -> None:
    json.dump(report, sys.stdout, indent=1)
    sys.stdout.write("\n")


def cmd_corpus_build(args: argparse.Namespace) -> int:
    from heed.model.training import corpus, held_out

    sources = [] if args.no_stdlib else [corpus.stdlib_source()]
    sources += [corpus.Source(Path(p).resolve(), Path(p).resolve().name) for p in args.add]
    sources += [corpus.Source(Path(p).resolve(), Path(p).resolve().name, holdout=True) for p in args.holdout]
    if args.eval_packages:
        sources += corpus.eval_package_sources()
    exclude = list(args.exclude) + (list(held_out.NEVER_TRAINED_ON) if args.exclude_eval_packages else [])
    vocab = None
    if args.vocab:
        from heed.model.text.vocab import Vocab

        vocab_path = Path(_bundled(args.vocab))
        try:
            vocab = Vocab.load(vocab_path / "vocab.json" if vocab_path.is_dir() else vocab_path).carried_over()
        except ValueError as exc:
            raise SystemExit(f"heed corpus build: --vocab {args.vocab}: {exc}") from exc
    stats = corpus.build_corpus(
        Path(args.out),
        sources,
        exclude=exclude,
        skip_tests=args.skip_tests,
        vocab=vocab,
        vocab_size=args.vocab_size,
        min_count=args.min_count,
        cache_dir=Path(args.cache) if args.cache else None,
        jobs=args.jobs,
    )
    print(
        f"{stats.files} files: {stats.parsed} tokenized, {stats.cached} from cache, "
        f"{stats.corrupt_rebuilt} corrupt cache entries rebuilt, skipped {dict(stats.skipped) or 'none'}; "
        f"tokens {stats.tokens} -> {args.out}",
        file=sys.stderr,
    )
    return 0


def _without_torch(command: str) -> bool:
    """Say so and return True where `command` needs torch and this environment lacks it."""
    from heed.model.nn.store import torch_missing

    why = torch_missing()
    if why:
        print(f"heed: `heed {command}` needs torch: {why}", file=sys.stderr)
    return bool(why)


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import fields

    if _without_torch("train"):
        return 1

    from heed.model.training import corpus
    from heed.model.training.held_out import NEVER_TRAINED_ON
    from heed.model.training.train import TrainConfig, train

    args.init_from = _bundled(args.init_from)
    if not corpus.is_corpus(Path(args.corpus)):
        print(f"no corpus in {args.corpus}: building it from the standard library (no tests, no evaluation packages)",
              file=sys.stderr)
        vocab = None
        if args.init_from:
            from heed.model.nn.store import load_model

            vocab = load_model(args.init_from)[1]
        corpus.build_corpus(Path(args.corpus), [corpus.stdlib_source()], exclude=NEVER_TRAINED_ON,
                            skip_tests=True, vocab=vocab)
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    out = train(TrainConfig(**values))
    print(f"model written to {out}", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from heed.model.runtime.predictor import Features

    features = Features(ngrams=not args.no_cache, members=not args.no_members, modules=not args.no_modules,
                        pointer=not args.no_pointer, far=not args.no_far, syntax_check=not args.no_syntax_check,
                        workspace=not args.no_index, memory=not args.no_memory)
    if args.projects:
        return _eval_projects(args, features)  # what the server answers: no torch needed
    if _without_torch("eval --corpus"):
        return 1
    from heed.model.training.evaluate import evaluate

    report = evaluate(args.model, args.corpus, line_points=args.line_points, features=features,
                      max_files=args.max_files, progress=not args.json)
    if args.json:
        _print_json(report)
        return 0
    print(f"model {report['model']} on {report['files']} held-out files (pointer {'on' if report['pointer'] else 'off'}, "
          f"far memory {'on' if report['far'] else 'off'})")
    print(f"{'':12} {'':8} {'top1':>7} {'top5':>7} {'mrr':>7} {'n':>9}")
    rows = [("heed", report)] + list(report["baselines"].items())
    for category in ("all", "identifier", "attribute"):
        for name, r in rows:
            m = r[category]
            print(f"{category:12} {name:8} {m['top1']:7.3f} {m['top5']:7.3f} {m['mrr']:7.3f} {m['n']:9d}")
    print(f"pointer share of top-1 hits: {report['pointer_share']:.3f}")
    line = report["line"]
    if line:
        print(f"rest of line: exact match {line['exact_match']:.3f}, edit similarity {line['edit_similarity']:.3f} (n={line['n']})")
    return 0


def _eval_projects(args: argparse.Namespace, features: Any) -> int:
    from heed.model.nn.store import ModelError
    from heed.model.runtime.predictor import load_predictor
    from heed.model.training.projects import evaluate_projects, render

    roots = _folders(args.projects)
    try:
        predictor = load_predictor(args.model, features)
    except ModelError as exc:
        print(f"heed: {exc}", file=sys.stderr)
        return 1
    report = evaluate_projects(predictor, roots, args.files_per_project, args.seed, progress=not args.json,
                               min_confidence=args.min_confidence, fifth=args.fifth, typing=args.typing)
    report["model"] = str(args.model or "default")
    if args.json:
        _print_json(report)
    else:
        how = f"{args.typing} lines of each file typed through" if args.typing else "each file typed up to the cursor"
        print(f"model {report['model']} on {len(roots)} projects, {how}")
        print(render(report))
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from heed.model.nn.store import ModelError, default_model_dir
    from heed.model.runtime.predictor import load_predictor
    from heed.model.training.calibrate import calibrate

    roots = _folders(args.projects)
    folder = Path(_bundled(args.model)) if args.model else default_model_dir()
    try:
        predictor = load_predictor(folder)
    except ModelError as exc:
        print(f"heed: {exc}", file=sys.stderr)
        return 1
    try:
        calibration, report = calibrate(predictor, roots, args.files_per_project, args.seed, progress=not args.json)
    except ValueError as exc:
        print(f"heed: {exc}", file=sys.stderr)
        return 1
    calibration.save(folder)
    if args.json:
        _print_json(report)
        return 0
    print(f"fitted on {report['samples']} suggestions and prefixes ({report['exact_wholes']:.1%} of the suggestions "
          f"exact, {report['right_prefixes']:.1%} of the prefixes right); {calibration.describe()}; written to {folder}")
    for kind, curve in report["curve"].items():
        got = report["picked"][kind]
        print(f"{kind} ({report['places'][kind]} places), with each project's confidences from the other projects' fit: "
              f"shown {got['shown']:.1%}, exact among shown {got['exact']:.1%} (at least {got['exact_low']:.1%}), "
              f"{got['chars_all']:.2f} characters accepted per place")
        for r in curve:
            print(f"  at >= {r['threshold']:.2f}: shown {r['shown']:6.1%}, among shown exact {r['exact']:6.1%}, "
                  f"right {r['right']:6.1%}, similarity {r['similarity']:6.1%}, {r['chars']:.1f} chars")
    for kind in ("whole", "prefix"):
        for r in report["reliability"][kind]:
            print(f"  {kind:6s} confidence {r['from']:.1f}+: {r['n']:6d} samples, predicted {r['predicted']:6.1%}, "
                  f"observed {r['observed']:6.1%}")
    return 0


def cmd_adapt(args: argparse.Namespace) -> int:
    if _without_torch("adapt"):
        return 1
    from heed.model.nn.store import ModelError
    from heed.model.training.adapt import adapt
    from heed.model.training.projects import in_fifth

    root = Path(args.workspace).resolve()
    if not root.is_dir():
        print(f"heed: {args.workspace} is not a folder", file=sys.stderr)
        return 1
    leave_out = (lambda p: in_fifth(root, p)) if args.leave_out_fifth else None
    with contextlib.suppress(OSError, AttributeError):  # a background job: the editor's requests come first
        os.nice(10)
    try:
        done = adapt(root, Path(args.out) if args.out else None, args.max_minutes, Path(_bundled(args.model)) if args.model else None,
                     args.threads, args.lr, args.exclude, leave_out, progress=True, trained=args.train,
                     memory=not args.no_memory)
    except (ValueError, ModelError, OSError) as exc:
        print(f"heed: {exc}", file=sys.stderr)
        return 1
    print(f"adapted on {done.files['train']} files ({done.tokens['train']:,} tokens), validated on {done.files['valid']} "
          f"({done.tokens['valid']:,} tokens): {done.model}")
    return 0
