#!/usr/bin/env python
"""heed's language server vs jedi-language-server, over real LSP on stdio, on held-out code.

    python bench/lsp_bench.py [--points N] [--files F ...] [--json OUT]

What it does (both servers get the same points, the same client code and the same capabilities):

* Points come from real code heed's model never saw: the held-out projects of
  `bench/projects.txt` (fetched into runs/projects/evaluation by `bench/fetch_projects.sh`; tests
  folders skipped), the files `heed eval --projects` reads, the places of
  `heed.model.training.positions`. Three kinds, sampled with a fixed seed, at most one point per
  file per round so that a few huge files cannot dominate:
    attribute   right after a `.` (not in import statements); expected: the attribute name
    identifier  at the start of an identifier (not after `.`, not a def/class name); expected: it
    inline      at the start of a token in mid-line (lines with no comment and no multi-line
                token); expected: the rest of the line, stripped
  The servers see a copy of the projects in which the file being asked about holds on disk what
  the editor holds (the text before the cursor), so reading modules from disk never shows the
  answer.
* Replay: the document is opened CUT AT THE CURSOR (nothing after it) and one request is made at
  once (`textDocument/completion`, or `textDocument/inlineCompletion` for inline points): the
  "just opened" latency, and the answer that is scored. Then the cursor's line is deleted and
  typed back (two incremental changes) and the same request made again: the "warm" latency
  (and a check that the answer did not change). The popup is ranked as editors do (sortText,
  then label); an item matches when its label, with a trailing `=` of a keyword-argument item
  removed, equals the expected text.
* Latency is client-side: from sending the request to having the whole response read and
  JSON-decoded (pygls's own conversion to lsprotocol objects is not counted, so a server that
  returns a long list is not charged for this client's slowness).
* Start-up: process start -> first completion response (`initialize` included), whatever the
  model's state (heed answers from the names in scope until its model is loaded).
* Typing in a large file: a real held-out file of 4,000+ lines is opened whole and asked once at
  the first place; then, after a pause for reading (`--read-pause`, 3 s by default: a person
  looks at a file before typing in it), at a few places a new line is started and a short
  identifier (with one `.attr` when the code has one) is typed char by char with incremental
  `didChange`, a completion request after each keystroke.
* Memory: the RSS of the server's process tree, sampled every 50 ms from /proc, during the point
  replay and in a separate fresh session with 20 real files open (one completion in each).

jedi-language-server runs with its default options; it does not do inline completion (n/a). The
workspace root is an empty temporary folder for both (documents keep their real paths), or the
folder `--workspace` names (the typing file's project: heed indexes it in the background).
Targets are printed beside the measured values with a check mark; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lsp_points import (
    KINDS,
    PROJECTS,
    REPO,
    Mirror,
    Point,
    TypingPlace,
    candidates,
    held_out_files,
    lsp_position,
    sample_points,
    typing_places,
)
from lsp_report import inline_suggestion, rank_of, ranked_labels, render, summarize, targets
from lsp_session import Server, Session
from lsprotocol import types

from heed.model.training.metrics import similarity
from heed.model.training.positions import read_source
from heed.server.lines import Lines

TYPING_FILE = "textual/textual/widget.py"  # 4,956 lines of hand-written held-out code, under PROJECTS


# ------------------------------------------------------------------------------------------------
# The runs
# ------------------------------------------------------------------------------------------------
STARTUP_DOC = "import collections\n\n\ndef count(words):\n    counts = collections.Counter(words)\n    return counts."


def retype_line(session: Session, uri: str, text: str) -> None:
    """The document is open and answered once: delete the cursor's line up to the cursor, type it
    back (two incremental changes), so the next request is the same question on a warm server."""
    line_start = text.rfind("\n", 0, len(text)) + 1
    typed = text[line_start:]
    if not typed:
        return
    start, end = lsp_position(text, line_start), lsp_position(text, len(text))
    session.change(uri, start, end, "")
    session.change(uri, start, start, typed)


async def ask_point(session: Session, server: Server, uri: str, text: str, p: Point, records: list[dict[str, Any]],
                    warm: bool) -> None:
    """Open the document cut at the point's cursor, ask once (and again warm), score, close."""
    session.open(uri, text)
    rec: dict[str, Any] = {"kind": p.kind, "file": p.file, "line": p.line, "col": p.col, "expected": p.expected}
    if p.kind == "inline":
        if server.inline:
            ghosts, ms = await session.inline(uri, text, len(text))
            got = inline_suggestion(ghosts, text)
            rec.update(ms=ms, suggestion=got, exact=got == p.expected, similarity=similarity(got, p.expected))
            if warm:
                retype_line(session, uri, text)
                ghosts, rec["warm_ms"] = await session.inline(uri, text, len(text))
                rec["warm_same"] = inline_suggestion(ghosts, text) == got
    else:
        items, ms = await session.complete(uri, text, len(text))
        labels = ranked_labels(items)
        rec.update(ms=ms, rank=rank_of(labels, p.expected), n_items=len(labels), top=labels[:5])
        if warm:
            retype_line(session, uri, text)
            items, rec["warm_ms"] = await session.complete(uri, text, len(text))
            rec["warm_same"] = ranked_labels(items) == labels
    session.close(uri)
    records.append(rec)


async def run_points_session(server: Server, points: list[Point], texts: dict[str, str], root: Path,
                             typing_text: str, typing_uri: str, places: list[TypingPlace], progress: bool,
                             warm: bool, read_pause: float, mirror: Mirror | None = None) -> dict[str, Any]:
    session = Session(server, root)
    out: dict[str, Any] = {"server": server.name}
    startup_uri = (root / "heed_bench_startup.py").as_uri()
    out["startup_s"] = await session.start((startup_uri, STARTUP_DOC))
    t_ready = time.perf_counter()
    out["model_state"] = await session.wait_ready()
    out["ready_wait_s"] = time.perf_counter() - t_ready
    assert session.sampler is not None
    session.sampler.phase("points")
    records = []
    t_points = time.perf_counter()
    for i, p in enumerate(points):
        text = texts[p.file][: p.offset]
        uri = Path(p.path).as_uri()
        with mirror.cut(Path(p.path), text) if mirror is not None else contextlib.nullcontext():
            await ask_point(session, server, uri, text, p, records, warm)
        if progress and (i + 1) % 25 == 0:
            print(f"  {server.name}: {i + 1}/{len(points)} points ({time.perf_counter() - t_points:.0f} s)", file=sys.stderr)
    out["points_s"] = time.perf_counter() - t_points
    out["records"] = records

    # typing in a large file
    session.sampler.phase("typing")
    t_typing = time.perf_counter()
    session.open(typing_uri, typing_text)
    first_place = places[0]
    starts = Lines(typing_text).starts
    _, out["typing_first_ms"] = await session.complete(
        typing_uri, typing_text, int(starts[first_place.line]) + len(first_place.indent)
    )
    await asyncio.sleep(read_pause)
    keystrokes: list[dict[str, Any]] = []
    for place in places:
        row, col0 = place.line, len(place.indent)
        line_start = types.Position(row, 0)
        session.change(typing_uri, line_start, line_start, place.indent + "\n")  # Enter, auto-indented
        typed = place.indent
        for j, ch in enumerate(place.word):
            pos = types.Position(row, col0 + j)
            session.change(typing_uri, pos, pos, ch)
            typed += ch
            cursor = types.Position(row, col0 + j + 1)
            context_text = typed  # the current line up to the cursor decides the trigger kind
            items, ms = await session.complete(typing_uri, context_text, len(context_text), cursor)
            typed_word = place.word[: j + 1]
            segment = typed_word.rsplit(".", 1)[-1]  # what the popup filters by
            target = place.word.split(".")[typed_word.count(".")]  # the name being typed
            labels = [label for label in ranked_labels(items) if label.startswith(segment)]
            keystrokes.append({"line": row, "typed": typed_word, "ms": ms, "n_items": len(items),
                               "target_top5": target in labels[:5], "first_at_place": j == 0})
        session.change(typing_uri, types.Position(row, 0), types.Position(row + 1, 0), "")  # undo
    session.close(typing_uri)
    out["typing"] = keystrokes
    out["typing_s"] = time.perf_counter() - t_typing
    out["peak_rss_points_mb"] = session.sampler.peak("start", "points")
    out["peak_rss_typing_mb"] = session.sampler.peak("typing")
    t_stop = time.perf_counter()
    await session.stop()
    out["stop_s"] = time.perf_counter() - t_stop
    if progress:
        print(f"  {server.name}: start {out['startup_s']:.1f} s, model wait {out['ready_wait_s']:.1f} s, points "
              f"{out['points_s']:.1f} s, typing {out['typing_s']:.1f} s, shutdown {out['stop_s']:.1f} s", file=sys.stderr)
    return out


async def run_memory_session(server: Server, files: list[tuple[str, Path, str]], root: Path, seed: int) -> dict[str, Any]:
    """A fresh server with `len(files)` real files open, one completion (and inline) in each."""
    session = Session(server, root)
    startup_uri = (root / "heed_bench_startup.py").as_uri()
    out: dict[str, Any] = {"startup_s": await session.start((startup_uri, STARTUP_DOC))}
    out["model_state"] = await session.wait_ready()
    assert session.sampler is not None
    session.sampler.phase("open")
    rng = random.Random(f"{seed}:memory")
    for _rel, path, text in files:
        uri = path.as_uri()
        session.open(uri, text)
        pool = candidates(text)["identifier"]
        offset = pool[rng.randrange(len(pool))][0] if pool else len(text)
        await session.complete(uri, text, offset)
        if server.inline:
            await session.inline(uri, text, offset)
    await asyncio.sleep(1.0)
    out["open_files"] = len(files)
    out["rss_open_mb"] = session.sampler.last / 2**20
    out["peak_rss_open_mb"] = session.sampler.peak("open")
    out["peak_rss_session_mb"] = session.sampler.peak()
    await session.stop()
    return out


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_1m_at_start": os.getloadavg()[0]}


def model_meta() -> dict[str, Any]:
    try:
        from heed.model.nn.store import default_model_dir

        config = json.loads((Path(default_model_dir()) / "config.json").read_text())
        return config.get("meta", {})
    except Exception as exc:  # report, don't fail
        return {"error": str(exc)}


def git_state() -> str:
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=False).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("heed", "jedi-language-server", "jedi", "pygls", "lsprotocol", "libcst"):
        try:
            out[name] = version("heed-lsp" if name == "heed" else name)  # heed's distribution name
        except PackageNotFoundError:
            out[name] = "missing"
    return out


# ------------------------------------------------------------------------------------------------
async def main_async(args: argparse.Namespace) -> int:
    mirror = None
    if args.files:
        files = [(str(Path(f)), Path(f).resolve()) for f in args.files]
        source = "the given files"
    else:
        projects = [Path(p).resolve() for p in args.projects] if args.projects else sorted(p for p in PROJECTS.glob("*") if p.is_dir())
        if not projects:
            print(f"no held-out projects in {PROJECTS}: run bash bench/fetch_projects.sh (or pass --projects/--files)",
                  file=sys.stderr)
            return 2
        mirror = Mirror(projects)
        files = [(label, mirror.path(label)) for label, _ in held_out_files(projects)]
        source = ", ".join(p.name for p in projects)
    # The workspace root is an empty folder: documents keep their real paths (so jedi resolves
    # relative imports), but no server indexes or puts on sys.path a folder of unrelated code
    # (with site-packages as the root, jedi's start-up alone took 7-27 s here).
    root = Path(args.workspace).resolve() if args.workspace else Path(tempfile.mkdtemp(prefix="lsp-bench-"))
    points, texts = sample_points(files, args.points, args.seed)
    typing_path = Path(args.typing_file) if args.typing_file else PROJECTS / TYPING_FILE
    typing_text = read_source(typing_path)
    if typing_text is None:
        print(f"cannot read the typing file {typing_path}", file=sys.stderr)
        return 2
    typing_lines = typing_text.count("\n") + 1
    places = typing_places(typing_text, args.typing_places, args.seed)
    big = sorted(rel for rel, t in texts.items() if t.count("\n") >= 200)
    memory_files = [(rel, Path(dict(files)[rel]), texts[rel]) for rel in random.Random(f"{args.seed}:open").sample(big, min(args.open_files, len(big)))]
    by_kind = {k: sum(1 for p in points if p.kind == k) for k in KINDS}
    print(f"{len(texts)} files, points per kind {by_kind}, typing file {typing_path.name} ({typing_lines:,} lines, "
          f"{len(places)} places, {sum(len(p.word) for p in places)} keystrokes), {len(memory_files)} files open for memory",
          file=sys.stderr)
    training = subprocess.run(["pgrep", "-f", "heed -v train"], capture_output=True, text=True, check=False).stdout.split()
    if training:
        print(f"warning: a training run is using the CPU (pids {' '.join(training)}): latencies are pessimistic",
              file=sys.stderr)

    servers = [Server("heed", [sys.executable, "-m", "heed", "serve"], {"completion": {"maxItems": args.max_items}}, True, True)]
    jedi_cmd = shutil.which("jedi-language-server", path=str(Path(sys.executable).parent)) or shutil.which("jedi-language-server")
    if args.no_jedi:
        pass
    elif jedi_cmd is None:
        print("jedi-language-server not found: pip install jedi-language-server (or --no-jedi)", file=sys.stderr)
        return 2
    else:
        servers.append(Server("jedi", [jedi_cmd], None, False, False))

    typing_uri = typing_path.as_uri()
    meta = model_meta()  # read before the servers load it, compared after
    env, git_start = machine(), git_state()
    runs: dict[str, dict[str, Any]] = {}
    t_all = time.perf_counter()
    for server in servers:
        print(f"{server.name}: replaying {len(points)} points ...", file=sys.stderr)
        run = await run_points_session(server, points, texts, root, typing_text, typing_uri, places, not args.quiet,
                                       not args.no_warm, args.read_pause, mirror)
        if args.open_files:
            print(f"{server.name}: {len(memory_files)} files open ...", file=sys.stderr)
            run["memory"] = await run_memory_session(server, memory_files, root, args.seed)
        runs[server.name] = run
        print(f"{server.name}: done in {time.perf_counter() - t_all:.0f} s", file=sys.stderr)
    if not args.workspace:
        shutil.rmtree(root, ignore_errors=True)
    if mirror is not None:
        shutil.rmtree(mirror.root, ignore_errors=True)

    summaries = {name: summarize(run) for name, run in runs.items()}
    h, j = summaries["heed"], summaries.get("jedi")
    if model_meta() != meta:
        print("warning: model/default changed during the run: the numbers mix two models", file=sys.stderr)
        meta["changed_during_run"] = True
    cmd = "python bench/lsp_bench.py " + " ".join(sys.argv[1:])
    header = (f"heed {versions()['heed']} (model trained_steps={meta.get('trained_steps')}, state {h['model_state']}) vs "
              f"jedi-language-server {versions()['jedi-language-server']}; {by_kind['attribute']}/{by_kind['identifier']}/"
              f"{by_kind['inline']} attribute/identifier/inline points from {len(texts)} held-out files; "
              f"{env['cpu']}, {env['cores']} cores; {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}")
    print()
    print(header)
    print(render(h, j, typing_lines, markdown=False))
    if args.markdown:
        lines = [
            f"- Command: `{cmd.strip()}` ({time.perf_counter() - t_all:.0f} s)",
            f"- Machine: {env['cpu']}, {env['cores']} cores, no GPU; Python {env['python']}; "
            f"load average {env['load_1m_at_start']:.2f} at the start",
            f"- Date: {dt.datetime.now().strftime('%Y-%m-%d %H:%M %Z').strip()}; heed at {git_start}"
            + ("" if git_state() == git_start else f" (HEAD moved to {git_state()} during the run)"),
            f"- heed's model: model/default, trained_steps {meta.get('trained_steps')} "
            f"(val_acc {meta.get('val_acc')}), status `{h['model_state']}` before measuring",
            "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
            f"- Points: {by_kind['attribute']} attribute, {by_kind['identifier']} identifier-start, "
            f"{by_kind['inline']} inline, from {len(texts)} files of {source} (seed {args.seed}); "
            f"typing: {typing_path.name} ({typing_lines:,} lines), {len(places)} places, "
            f"{sum(len(p.word) for p in places)} keystrokes after a {args.read_pause:g} s reading pause",
            "",
            render(h, j, typing_lines, markdown=True),
        ]
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    if args.json:
        doc = {
            "command": cmd, "date": dt.datetime.now().isoformat(timespec="seconds"), "machine": env,
            "versions": versions(), "git": git_start, "git_at_end": git_state(), "model": meta, "seed": args.seed, "points_per_kind": by_kind,
            "files": len(texts), "typing_file": str(typing_path), "typing_lines": typing_lines,
            "typing_places": [asdict(p) for p in places], "read_pause_s": args.read_pause, "memory_files": [rel for rel, _, _ in memory_files],
            "summary": summaries,
            "targets": [{"met": ok, "target": t.strip(), "measured": m} for ok, t, m in targets(h, j, typing_lines)],
            "runs": {name: {k: v for k, v in run.items()} for name, run in runs.items()},
            "wall_s": time.perf_counter() - t_all,
        }
        Path(args.json).write_text(json.dumps(doc, indent=1, default=str))
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=150, help="points per kind (default 150)")
    parser.add_argument("--projects", nargs="+", help=f"held-out project folders (default: those in {PROJECTS})")
    parser.add_argument("--files", nargs="+", help="take points from these files instead of the held-out projects")
    parser.add_argument("--json", help="write the full results (every point) to this file")
    parser.add_argument("--markdown", help="write the table as Markdown to this file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--typing-file", help=f"the large file to type in (default {PROJECTS.name}/{TYPING_FILE})")
    parser.add_argument("--typing-places", type=int, default=8, help="places typed at in the large file (default 8)")
    parser.add_argument("--read-pause", type=float, default=3.0,
                        help="seconds between opening the large file (and a first request) and typing in it (default 3)")
    parser.add_argument("--open-files", type=int, default=20, help="files open in the memory run (0: skip it)")
    parser.add_argument("--max-items", type=int, default=20, help="heed's completion.maxItems (its default: 20)")
    parser.add_argument("--workspace", help="the workspace root both servers are given (default: an empty folder); "
                        "a project folder makes heed index it while the run goes on")
    parser.add_argument("--no-jedi", action="store_true", help="heed alone")
    parser.add_argument("--no-warm", action="store_true", help="skip the second (warm) request at each point")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
