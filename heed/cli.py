"""The `heed` command: one entry point, a subcommand per job.

Each subcommand parses its arguments here and hands over to plain functions in `heed.model` or
`heed.server` (the ones that make and measure models live in `model_commands.py`); heavy imports (torch) happen inside the subcommand that needs them, so
`heed tokens` and `heed --version` start fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from heed import __version__
from heed.model_commands import cmd_adapt, cmd_calibrate, cmd_corpus_build, cmd_eval, cmd_train


def _read_source(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    return Path(name).read_bytes().decode("utf-8", errors="replace")


def cmd_tokens(args: argparse.Namespace) -> int:
    from heed.model.text.stream import tokenize

    tokens = tokenize(_read_source(args.file))
    if args.json:
        json.dump([t.to_json() for t in tokens], sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for t in tokens:
            print(f"{t.line:>5}:{t.col:<4} {t.kind:<9} {t.role:<12} {t.parsed_role:<16} {t.text!r}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from heed.server.app import create_server
    from heed.server.documents import limit_heap_arenas

    limit_heap_arenas()

    if args.log_file:
        handler = logging.FileHandler(args.log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
    logging.getLogger("heed").setLevel(logging.DEBUG if args.verbose > 1 else logging.INFO)
    server = create_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
    else:
        server.start_io()
    return 0


def cmd_complete(args: argparse.Namespace) -> int:
    from heed.server.offline import complete_at

    path, line, col = _parse_location(args.location)
    result = complete_at(path, line, col, inline=args.inline, model=args.model, max_items=args.max_items,
                         workspace=args.workspace)
    if args.json:
        json.dump(result["lsp"], sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(result["text"])
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from heed.model.nn.store import ModelError, default_model_dir, load_members, load_net

    try:
        model, vocab, meta = load_net(args.model)
        table = load_members(args.model, vocab)
    except ModelError as exc:
        print(f"heed {__version__}: model not usable: {exc}", file=sys.stderr)
        return 1
    from heed.model.runtime.confidence import Calibration

    folder = Path(args.model) if args.model else default_model_dir()
    try:
        calibration = Calibration.load(folder)
        calibrated = (f"ghost text calibrated ({calibration.describe()})" if calibration
                      else "ghost text not calibrated (all of it shown)")
    except ValueError as exc:
        calibrated = f"ghost text not calibrated: {exc}"
    from heed.model.runtime.memory import ProjectMemory

    try:
        memory = ProjectMemory.load(folder, model.config.embed)
    except ValueError as exc:
        print(f"heed {__version__}: model not usable: {exc}", file=sys.stderr)
        return 1
    params = model.parameter_count()
    members = f"attributes of {len(table.receivers)} receivers" if table is not None else "no member table"
    recalls = f", a project memory of {len(memory):,} names from {len(memory.paths):,} files" if memory is not None else ""
    print(f"heed {__version__}: model {folder} loaded: {params / 1e6:.1f}M parameters, "
          f"{len(vocab)} tokens, tokenizer {vocab.tokenizer_version}, trained {meta.get('trained_tokens', '?')} tokens, "
          f"{members}, {calibrated}{recalls}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from heed.model.nn.store import ModelError
    from heed.model.runtime.explain import build_report, render_html, render_terminal
    from heed.model.runtime.predictor import load_predictor
    from heed.server.lines import Lines

    path, line, col = _parse_location(args.location)
    text = _read_source(path)
    from lsprotocol import types

    offset = Lines(text).offset(types.Position(line - 1, col - 1))
    try:
        predictor = load_predictor(args.model)
    except ModelError as exc:
        print(f"heed: {exc}", file=sys.stderr)
        return 1
    report = build_report(predictor, text, offset, top=args.top)
    print(render_terminal(report, colour=sys.stdout.isatty() and not args.no_colour))
    if args.html:
        Path(args.html).write_text(render_html(report, f"{path}:{line}:{col}"), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


def _parse_location(location: str) -> tuple[str, int, int]:
    path, _, rest = location.rpartition(":")
    path2, _, line = path.rpartition(":")
    if not path2 or not line.isdigit() or not rest.isdigit():
        raise SystemExit(f"heed: expected FILE:LINE:COL (1-based), got {location!r}")
    return path2, int(line), int(rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heed", description="Local, explainable Python code completion.")
    parser.add_argument("--version", action="version", version=f"heed {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    # The same flag after the command (`heed serve -v`); unset there, it leaves the one before alone.
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("tokens", parents=[verbose], help="print the token stream of a file")
    p.add_argument("file", help="a Python file, or - for standard input")
    p.add_argument("--json", action="store_true", help="one JSON array of {text, ws, kind, role, line, col}")
    p.set_defaults(func=cmd_tokens)

    p = sub.add_parser("corpus", help="build a tokenized corpus from folders of .py files")
    csub = p.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    b = csub.add_parser("build", parents=[verbose], help="tokenize folders into a corpus folder")
    b.add_argument("--out", required=True, help="corpus folder to write")
    b.add_argument("--add", action="append", default=[], metavar="DIR", help="a folder of code to add (split by hash)")
    b.add_argument("--holdout", action="append", default=[], metavar="DIR", help="a folder that goes to the test split whole")
    b.add_argument("--eval-packages", action="store_true", help="hold out the installed pygls, lsprotocol and libcst")
    b.add_argument("--exclude-eval-packages", action="store_true",
                   help="leave out pygls, lsprotocol, libcst and the held-out projects (bench/projects.txt)")
    b.add_argument("--exclude", action="append", default=[], metavar="NAME", help="a folder or module name to leave out")
    b.add_argument("--no-stdlib", action="store_true", help="leave out the standard library")
    b.add_argument("--skip-tests", action="store_true", help="leave out test folders and test_*.py files")
    b.add_argument("--vocab", help="use this vocab.json (or model folder, or `bundled`) instead of building one")
    b.add_argument("--vocab-size", type=int, default=10000)
    b.add_argument("--min-count", type=int, default=3)
    b.add_argument("--cache", help="token cache folder (default ~/.cache/heed/tokens or $HEED_CACHE)")
    b.add_argument("--jobs", type=int, default=None, help="processes (default: all cores)")
    b.set_defaults(func=cmd_corpus_build)

    p = sub.add_parser("eval", parents=[verbose], help="evaluate a model on held-out code, next to baselines")
    p.add_argument("--model", default=None, help="model folder (default: the bundled model)")
    p.add_argument("--corpus", nargs="*", default=[], metavar="DIR",
                   help="corpus folders whose test split to use (default: stdlib test split + pygls, lsprotocol, libcst)")
    p.add_argument("--projects", nargs="+", default=[], metavar="DIR",
                   help="evaluate whole projects instead, each file typed up to the cursor and asked as the server is")
    p.add_argument("--files-per-project", type=int, default=60, help="with --projects: files drawn from each project")
    p.add_argument("--seed", type=int, default=0, help="with --projects: the draw of files and places")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--line-points", type=int, default=300, help="mid-line points for rest-of-line completion")
    p.add_argument("--max-files", type=int, default=0, help="evaluate on N test files spread over the split (0: all)")
    p.add_argument("--no-pointer", action="store_true", help="switch the pointer off (ablation)")
    p.add_argument("--no-far", action="store_true", help="switch the pointer's far memory off (ablation)")
    p.add_argument("--no-cache", action="store_true", help="leave the document's n-gram cache out (ablation)")
    p.add_argument("--no-members", action="store_true", help="no re-ranking after a dot by the receiver's usual "
                   "attributes or the class's members (ablation)")
    p.add_argument("--no-modules", action="store_true", help="no look-up of what the code says can come: after a "
                   "dot the receiver's module, class or self's bases; in an import, what it imports; at a call's "
                   "argument, the parameters (ablation)")
    p.add_argument("--no-syntax-check", action="store_true", help="with --projects: ghost text shown even when it "
                   "is not code (ablation)")
    p.add_argument("--no-index", action="store_true", help="with --projects: without the workspace index of the "
                   "project's other files (ablation)")
    p.add_argument("--no-memory", action="store_true", help="with --projects: an adapted model without its project "
                   "memory (ablation)")
    p.add_argument("--fifth", action="store_true", help="with --projects: only each project's evaluation fifth of files "
                   "(all of them; the ones `heed adapt --leave-out-fifth` never trains on)")
    p.add_argument("--typing", type=int, default=0, metavar="N",
                   help="with --projects: the ghost text alone, asked at every keystroke of N lines of each file "
                        "typed through")
    p.add_argument("--min-confidence", type=float, default=None, metavar="P",
                   help="with --projects: ghost text shown at this confidence (default: the model's calibrated threshold)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("adapt", parents=[verbose], help="fine-tune the model on a workspace's own code, on the CPU; "
                       "the result goes into the user's cache (keyed by the workspace) or --out")
    p.add_argument("workspace", nargs="?", default=".", help="the project folder (default: the current one)")
    p.add_argument("--out", help="model folder to write (default: ~/.cache/heed/adapted/<hash of the workspace>)")
    p.add_argument("--max-minutes", type=float, default=3.0, help="time budget of the fine-tuning (default 3)")
    p.add_argument("--model", default=None, help="the model to start from (default: the bundled one)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1: the editor keeps the rest)")
    p.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (default 3e-4)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="files left out, as heed.index.exclude")
    p.add_argument("--leave-out-fifth", action="store_true", help="never train on the files `heed eval --projects "
                   "--fifth` evaluates on (the honest measure of adaptation)")
    p.add_argument("--train", choices=["all", "head", "embeddings", "no-lstm", "none"], default="all",
                   help="what is fine-tuned, the rest frozen (default all; head: the attention query, projection, "
                   "pointer gate and biases after the LSTM; embeddings: the token and role embeddings and the "
                   "output bias; no-lstm: all but the LSTM; none: nothing, the project memory alone)")
    p.add_argument("--no-memory", action="store_true", help="no project memory (the nearest contexts of the "
                   "workspace's names, recalled at each completion): fine-tuning alone")
    p.set_defaults(func=cmd_adapt)

    p = sub.add_parser("calibrate", parents=[verbose],
                       help="fit the ghost text's confidence on validation projects; writes calibration.json to the model")
    p.add_argument("--projects", nargs="+", required=True, metavar="DIR",
                   help="validation projects (never those heed is evaluated on)")
    p.add_argument("--model", default=None, help="model folder to calibrate (default: the bundled model)")
    p.add_argument("--files-per-project", type=int, default=60, help="files drawn from each project")
    p.add_argument("--seed", type=int, default=0, help="the draw of files and places")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("serve", parents=[verbose], help="run the language server (stdio by default)")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    p.add_argument("--log-file", help="also log to this file")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("complete", parents=[verbose], help="what the server would answer at FILE:LINE:COL (1-based)")
    p.add_argument("location", metavar="FILE:LINE:COL")
    p.add_argument("--inline", action="store_true", help="ghost text (rest of the line) instead of the popup")
    p.add_argument("--json", action="store_true", help="the LSP response as JSON")
    p.add_argument("--model", default=None, help="model folder (default: the bundled model)")
    p.add_argument("--max-items", type=int, default=10)
    p.add_argument("--workspace", metavar="DIR", help="index this project first, as the server indexes its workspace "
                   "(cached: the next time is quick)")
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser("explain", parents=[verbose], help="show where the model looked at FILE:LINE:COL (1-based)")
    p.add_argument("location", metavar="FILE:LINE:COL")
    p.add_argument("--html", metavar="OUT.html", help="also write a self-contained HTML page")
    p.add_argument("--model", default=None, help="model folder (default: the bundled model)")
    p.add_argument("--top", type=int, default=5, help="candidates to explain")
    p.add_argument("--no-colour", action="store_true", help="plain text (the default when not a terminal)")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("check", parents=[verbose], help="load the model and say whether it is usable")
    p.add_argument("--model", default=None, help="model folder (default: the bundled model)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("train", parents=[verbose], help="train or fine-tune the model on a corpus")
    _add_train_args(p)
    p.set_defaults(func=cmd_train)
    return parser


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from heed.model.training.config import TrainConfig

    d = TrainConfig(corpus="", out="")
    p.add_argument("--corpus", required=True, help="corpus folder (built from the standard library if missing)")
    p.add_argument("--out", required=True, help="model folder to write (checkpoints go to OUT/checkpoint)")
    p.add_argument("--init-from", default="", metavar="MODEL", help="fine-tune this model folder, or `bundled` (its vocabulary is kept)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    p.add_argument("--device", default=d.device, help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--precision", default=d.precision, choices=("auto", "bf16", "fp32"),
                   help="auto: bf16 autocast on CUDA, float32 elsewhere")
    p.add_argument("--no-pointer", dest="pointer", action="store_false", help="vocabulary only (ablation)")
    for name in ("embed", "hidden", "window", "far", "batch", "bptt", "warmup", "epochs", "max_steps", "eval_every",
                 "eval_tokens", "ckpt_every", "patience", "threads"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(d, name))
    for name in ("dropout", "role_dropout", "attribute_weight", "lr", "weight_decay", "clip", "max_minutes"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except FileNotFoundError as exc:
        print(f"heed: {exc.filename}: no such file", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `heed complete ... | head`: the reader has what it wanted
        sys.stderr.close()
        return 0
