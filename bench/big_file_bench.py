"""A 50,000-line file open beside a small one: heed vs jedi-language-server, over real LSP.

The issue "speed whatever the file" asks: a 50,000-line file's first popup within 1 s, and the
requests in other documents at p95 <= 100 ms while it is read, warmed or edited in bursts (no
request waits behind more than a few milliseconds of another document's work). Per server:

1. *read*: the big file is opened; a popup is asked in the small document every 100 ms for
   4 s while the server reads (and heed warms) the big one.
2. *first popup*: the big file is opened again under another name and asked at once (after a
   `self.` near its end): the time from its didOpen to the answer.
3. *burst*: 300 single-character edits in the big file, sent without waiting, then a popup in
   the small document, and asked there every 100 ms for 3 s more; then a popup in the big file.

The big file is held-out code joined to 50,000 lines (textual's modules, one after another, so
that no statement repeats and no cache helps). Run from the repository root:

    python bench/big_file_bench.py [--no-jedi] [--lines 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsp_points import PROJECTS, lsp_position
from lsp_session import Server, Session
from lsprotocol import types

SMALL = PROJECTS / "httpie" / "httpie" / "sessions.py"
BIG_SOURCES = PROJECTS / "textual" / "textual"


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else (values[0] if values else float("nan"))


async def ask_every(session: Session, uri: str, text: str, offset: int, seconds: float, out: list[float]) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        _, ms = await session.complete(uri, text, offset)
        out.append(ms)
        await asyncio.sleep(0.1)


async def run(server: Server, folder: Path, small: str, big: str) -> dict[str, object]:
    session = Session(server, folder)
    small_uri, big_uri, big2_uri = ((folder / n).as_uri() for n in ("small.py", "big.py", "big2.py"))
    small_at = small.rfind("self.", 0, len(small) // 2) + len("self.")
    big_at = big.rfind("self.", 0, len(big) - 200) + len("self.")
    try:
        await session.start((small_uri, small))
        print(f"{server.name}: {await session.wait_ready()}", file=sys.stderr)
        session.open(small_uri, small)
        await session.complete(small_uri, small, small_at)
        await asyncio.sleep(1.0)  # the small document warmed

        read: list[float] = []
        session.open(big_uri, big)
        await ask_every(session, small_uri, small, small_at, 4.0, read)
        session.close(big_uri)
        await asyncio.sleep(1.0)

        session.open(big2_uri, big)
        items, first = await session.complete(big2_uri, big, big_at)
        after_first: list[float] = []
        await ask_every(session, small_uri, small, small_at, 3.0, after_first)

        line = big[:big_at].count("\n") + 1  # type a new line after the cursor's, one character a change
        start = lsp_position(big, big.find("\n", big_at) + 1)
        for i in range(300):
            pos = types.Position(start.line, i)
            session.change(big2_uri, pos, pos, "x" if i else "\n")
        burst: list[float] = []
        await ask_every(session, small_uri, small, small_at, 3.0, burst)
        _, big_after_burst = await session.complete(big2_uri, big, big_at)
        return {"read": read, "first": first, "first_items": len(items), "after_first": after_first, "burst": burst,
                "big_after_burst": big_after_burst, "line": line}
    finally:
        await session.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=50_000)
    ap.add_argument("--no-jedi", action="store_true")
    args = ap.parse_args()
    small = SMALL.read_text(encoding="utf-8")
    parts: list[str] = []
    for path in sorted(BIG_SOURCES.rglob("*.py")):
        if sum(p.count("\n") for p in parts) >= args.lines:
            break
        parts.append(path.read_text(encoding="utf-8").rstrip("\n") + "\n\n")
    big = "".join(parts)
    servers = [Server("heed", [sys.executable, "-m", "heed", "serve"], None, True, True)]
    jedi = shutil.which("jedi-language-server", path=str(Path(sys.executable).parent)) or shutil.which("jedi-language-server")
    if not args.no_jedi and jedi:
        servers.append(Server("jedi", [jedi], None, False, False))
    print(f"big file: {big.count(chr(10)):,} lines ({len(big) / 1e6:.1f} MB); small: {SMALL.name} "
          f"({small.count(chr(10))} lines)", file=sys.stderr)
    results = {}
    with tempfile.TemporaryDirectory(prefix="heed-big-") as tmp:
        for server in servers:
            results[server.name] = asyncio.run(run(server, Path(tmp), small, big))
    names = list(results)
    rows = [
        ("big file's first popup (didOpen to answer)", lambda r: r["first"]),
        ("small document while the big one is read: p50", lambda r: statistics.median(r["read"])),
        ("... p95", lambda r: pct(r["read"], 95)),
        ("... max", lambda r: max(r["read"])),
        ("small document after the big one's first popup: p95", lambda r: pct(r["after_first"], 95)),
        ("small document after a burst of 300 edits in the big one: first", lambda r: r["burst"][0]),
        ("... p95", lambda r: pct(r["burst"], 95)),
        ("... max", lambda r: max(r["burst"])),
        ("big file's popup after the burst", lambda r: r["big_after_burst"]),
    ]
    print(f"| | {' | '.join(names)} |{' heed / jedi |' if len(names) == 2 else ''}")
    print(f"|---|{'---:|' * (len(names) + (len(names) == 2))}")
    for label, get in rows:
        values = [float(get(results[n])) for n in names]  # type: ignore[arg-type]
        ratio = f" {values[0] / values[1]:.2f}x |" if len(values) == 2 and values[1] else ""
        print(f"| {label} | {' | '.join(f'{v:,.0f} ms' for v in values)} |{ratio}")
    for n in names:
        print(f"{n}: {len(results[n]['read'])} requests while reading, first popup gave {results[n]['first_items']} items",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
