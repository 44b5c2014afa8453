#!/usr/bin/env python
"""Soak: the edit fuzzer of tests/test_reliability_edits.py, for 10,000+ steps, watching memory.

    python bench/soak.py [--steps 10000] [--docs 8] [--seed 1] [--max-growth-mb 20] [--max-slope-mb 1] [--json OUT]

One real `heed serve` (HEED_DEBUG=1) and a seeded random editor with several documents open.
Each step is one of: an insert, a delete, a replacement, several changes in one notification,
an insert past a line's end, a whole-document replacement, a close and reopen (edits, with the
same text pieces as the fuzzer: CRLF, tabs, NULs, astral characters, lone surrogates, long lines),
or a popup, ghost text, a cancelled popup, or a burst of keystrokes with requests (requests).
Documents are kept under --max-chars by deleting from them.

After every step the server's copy of the document and of its token stream must equal the
client's (`heed/debugDocument`), every request must be answered within 5 s, and the process
must be alive with no traceback in its log. Resident memory (VmRSS) is sampled every 100
steps. The first --warmup steps let the allocator and caches settle; after them, RSS may rise
at most --max-growth-mb above its value at the end of the warm-up, and its least-squares trend
may be at most --max-slope-mb per 1,000 steps (a leak of one Future per notification, fixed in
server/protocol.py, showed as +1.8 MB per 1,000 steps; without it the trend is about +0.2 MB,
levelling off). The exit status is 1 if any check fails.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_reliability_edits import LONG, PIECES, SNIPPETS  # noqa: E402
from test_reliability_harness import TIMEOUT, ClientDoc, ServerProcess  # noqa: E402


class Soak:
    def __init__(self, server: ServerProcess, rng: random.Random, docs: int, max_chars: int):
        self.server, self.rng, self.max_chars = server, rng, max_chars
        self.docs = [ClientDoc(f"file:///soak/doc{i}.py", rng.choice(SNIPPETS)) for i in range(docs)]
        for doc in self.docs:
            server.open(doc.uri, doc.text)
        self.latency: dict[str, list[float]] = {}
        self.counts: dict[str, int] = {}

    # -- random material ----------------------------------------------------------------------------
    def fragment(self) -> str:
        roll = self.rng.random()
        if roll < 0.02:
            return self.rng.choice(LONG)
        if roll < 0.10:
            return self.rng.choice(SNIPPETS[1:])
        return "".join(self.rng.choice(PIECES) for _ in range(self.rng.randint(1, 12)))

    def offset(self, doc: ClientDoc) -> int:
        text = doc.text
        at = self.rng.randint(0, len(text))
        if 0 < at < len(text) and text[at - 1] == "\r" and text[at] == "\n":
            at -= 1
        return at

    def span(self, doc: ClientDoc) -> tuple[int, int]:
        a, b = sorted((self.offset(doc), self.offset(doc)))
        return a, b

    # -- requests -----------------------------------------------------------------------------------
    def answer(self, kind: str, msg_id: int) -> dict:
        start = time.monotonic()
        answer = self.server.wait(msg_id, TIMEOUT)
        self.latency.setdefault(kind, []).append(time.monotonic() - start)
        return answer

    # -- one step -----------------------------------------------------------------------------------
    def step(self) -> None:
        doc = self.rng.choice(self.docs)
        if len(doc.text) > self.max_chars:
            kind = "trim"
        else:
            kind = self.rng.choices(
                ["insert", "delete", "replace", "several", "past_end", "whole", "reopen", "popup", "ghost", "cancel", "burst"],
                [20, 10, 10, 5, 3, 1, 1, 20, 15, 5, 5])[0]
        self.counts[kind] = self.counts.get(kind, 0) + 1
        server = self.server
        if kind == "trim":
            a = self.rng.randint(0, len(doc.text) // 4)
            b = a + len(doc.text) // 2
            b -= 1 if 0 < b < len(doc.text) and doc.text[b - 1 : b + 1] == "\r\n" else 0
            a -= 1 if 0 < a < len(doc.text) and doc.text[a - 1 : a + 1] == "\r\n" else 0
            server.change(doc.uri, doc.version + 1, [doc.edit(a, b, "")])
        elif kind == "insert":
            at = self.offset(doc)
            server.change(doc.uri, doc.version + 1, [doc.edit(at, at, self.fragment())])
        elif kind == "delete":
            server.change(doc.uri, doc.version + 1, [doc.edit(*self.span(doc), "")])
        elif kind == "replace":
            server.change(doc.uri, doc.version + 1, [doc.edit(*self.span(doc), self.fragment())])
        elif kind == "several":
            changes = []
            for _ in range(self.rng.randint(2, 6)):
                changes.append(doc.edit(*self.span(doc), self.fragment()))
                doc.version -= 1
            doc.version += 1
            server.change(doc.uri, doc.version, changes)
        elif kind == "past_end":
            line = self.rng.randrange(len(doc.line_starts()))
            end = doc.line_end(line)
            change = doc.edit(end, end, self.fragment())
            change["range"]["start"]["character"] += self.rng.randint(1, 300)
            change["range"]["end"] = change["range"]["start"]
            server.change(doc.uri, doc.version, [change])
        elif kind == "whole":
            doc.text, doc.version = self.rng.choice(SNIPPETS), doc.version + 1
            server.change(doc.uri, doc.version, [{"text": doc.text}])
        elif kind == "reopen":
            server.notify("textDocument/didClose", {"textDocument": {"uri": doc.uri}})
            doc.text, doc.version = self.rng.choice(SNIPPETS), 1
            server.open(doc.uri, doc.text)
        elif kind == "popup":
            answer = self.answer("popup", server.complete_nowait(doc.uri, doc.position(self.offset(doc))))
            assert isinstance(answer["result"]["items"], list), answer
        elif kind == "ghost":
            answer = self.answer("ghost", server.inline_nowait(doc.uri, doc.position(self.offset(doc))))
            assert "result" in answer, answer
        elif kind == "cancel":
            msg_id = server.complete_nowait(doc.uri, doc.position(self.offset(doc)))
            server.notify("$/cancelRequest", {"id": msg_id})
            answer = self.answer("cancelled", msg_id)
            assert "result" in answer or answer["error"]["code"] == -32800, answer
        elif kind == "burst":
            ids = []
            for _ in range(self.rng.randint(2, 8)):
                at = self.offset(doc)
                server.change(doc.uri, doc.version + 1, [doc.edit(at, at, self.rng.choice(PIECES))])
                ids.append(server.complete_nowait(doc.uri, doc.position(self.offset(doc))))
                ids.append(server.inline_nowait(doc.uri, doc.position(self.offset(doc))))
            for msg_id in ids:
                assert "result" in self.answer("burst", msg_id)
        self.check(doc)

    def check(self, doc: ClientDoc) -> None:
        assert self.server.alive(), self.server.log_tail()
        seen = self.server.debug_document(doc.uri)
        assert seen is not None and seen["text"] == doc.text, f"{doc.uri}: the server's text differs"
        assert seen["streamText"] == doc.text, f"{doc.uri}: the token stream's text differs"
        assert seen["version"] == doc.version, (seen["version"], doc.version)
        tracebacks = self.server.take_tracebacks()
        assert not tracebacks, tracebacks[0]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-chars", type=int, default=20_000, help="a document longer than this is trimmed")
    parser.add_argument("--warmup", type=int, default=1_000, help="steps before the memory baseline")
    parser.add_argument("--max-growth-mb", type=float, default=20.0, help="allowed RSS rise after the warm-up")
    parser.add_argument("--max-slope-mb", type=float, default=1.0, help="allowed RSS trend after the warm-up, per 1,000 steps")
    parser.add_argument("--json", help="write the report here")
    args = parser.parse_args(argv)

    server = ServerProcess()
    status = server.initialize()
    print(f"server ready: {status['message']}", flush=True)
    soak = Soak(server, random.Random(args.seed), args.docs, args.max_chars)
    samples: list[tuple[int, float]] = [(0, server.rss_mb())]
    failure = ""
    start = time.monotonic()
    step = 0
    try:
        for step in range(1, args.steps + 1):
            soak.step()
            if step % 100 == 0:
                samples.append((step, server.rss_mb()))
            if step % 1000 == 0:
                print(f"step {step:6d}  {time.monotonic() - start:7.1f} s  RSS {samples[-1][1]:6.1f} MiB", flush=True)
    except AssertionError as exc:
        failure = f"step {step}: {exc}"
    elapsed = time.monotonic() - start

    baseline = next((rss for s, rss in samples if s >= args.warmup), samples[-1][1])
    after = [rss for s, rss in samples if s >= args.warmup] or [samples[-1][1]]
    growth = max(after) - baseline
    tail = [(s, rss) for s, rss in samples if s >= args.warmup]
    slope = 0.0
    if len(tail) > 2:  # least squares, MiB per 1,000 steps
        mx = sum(s for s, _ in tail) / len(tail)
        my = sum(r for _, r in tail) / len(tail)
        slope = 1000 * sum((s - mx) * (r - my) for s, r in tail) / max(sum((s - mx) ** 2 for s, _ in tail), 1)
    if not failure and growth > args.max_growth_mb:
        failure = f"RSS grew {growth:.1f} MiB after the warm-up (bound {args.max_growth_mb} MiB)"
    if not failure and slope > args.max_slope_mb:
        failure = f"RSS trend {slope:+.2f} MiB per 1,000 steps after the warm-up (bound {args.max_slope_mb})"
    peak = server.peak_rss_mb() if server.alive() else float("nan")
    code = server.close() if server.alive() else server.proc.returncode
    if not failure and code != 0:
        failure = f"the server exited with {code}"

    report = {
        "steps": step, "seconds": round(elapsed, 1), "seed": args.seed, "docs": args.docs,
        "step_kinds": soak.counts,
        "latency_s": {k: {"n": len(v), "p50": round(percentile(v, 0.5), 3), "p99": round(percentile(v, 0.99), 3),
                          "max": round(max(v), 3)} for k, v in sorted(soak.latency.items())},
        "rss_mib": {"start": round(samples[0][1], 1), "baseline_after_warmup": round(baseline, 1),
                    "max_after_warmup": round(max(after), 1), "end": round(samples[-1][1], 1), "peak": round(peak, 1),
                    "growth_after_warmup": round(growth, 1), "slope_per_1000_steps": round(slope, 2),
                    "bound": args.max_growth_mb, "slope_bound": args.max_slope_mb},
        "rss_samples": samples,
        "failure": failure,
    }
    print(f"\n{step} steps in {elapsed:.0f} s, {args.docs} documents, seed {args.seed}")
    print("steps by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(soak.counts.items())))
    for kind, lat in report["latency_s"].items():
        print(f"  {kind:10} n={lat['n']:5d}  p50 {lat['p50']:.3f} s  p99 {lat['p99']:.3f} s  max {lat['max']:.3f} s")
    r = report["rss_mib"]
    print(f"RSS: start {r['start']} MiB, after warm-up {r['baseline_after_warmup']}, max after {r['max_after_warmup']}, "
          f"end {r['end']}, peak {r['peak']}; growth {r['growth_after_warmup']} MiB (bound {args.max_growth_mb}), "
          f"trend {r['slope_per_1000_steps']:+} MiB per 1,000 steps (bound {args.max_slope_mb})")
    print("RSS every 1,000 steps: " + " ".join(f"{rss:.0f}" for s, rss in samples if s % 1000 == 0))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))
    print("FAILED: " + failure if failure else "OK: every check held")
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
