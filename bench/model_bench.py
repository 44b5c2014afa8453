"""Model speed on this machine: inference steps, a cold context, and training throughput.

    python bench/model_bench.py [--model DIR] [--threads N] [--train-steps N]

- one step: the model consumes one more token with its state cached (what typing costs);
- cold: 500 tokens of context from an empty state (a file just opened);
- beam: ghost text for one line (width 4, up to 16 tokens);
- the project memory's recall at its largest (what an adapted model adds to each request);
- the network alone, numpy (what the server runs, `model/nn/numpy_net.py`) beside torch on
  the same weights (what it ran before), as a ratio: one token, a chunk of 64, a beam's step
  of four rows;
- training: tokens/s of `heed train`'s step at the shipped model's size on random data
  (batch 32 x 128), on the device torch picks (the CPU here).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from heed.model.nn.network import HeedLM, State
from heed.model.runtime import memory
from heed.model.runtime.beam import beam_search
from heed.model.runtime.encoding import DocEncoder, Encoded
from heed.model.runtime.memory import ProjectMemory
from heed.model.runtime.predictor import load_predictor


def _ms(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=2, help="threads for numpy and torch alike (the server's default here: 2)")
    parser.add_argument("--train-steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    predictor = load_predictor(args.model, threads=args.threads)
    net, vocab, meta = predictor.model, predictor.vocab, predictor.meta
    rng = np.random.default_rng(0)
    ids = rng.integers(20, len(vocab), 600)
    ctx = Encoded(ids, np.full(600, 2, np.int64), ids.copy(), np.full(600, 2, np.int64))
    print(f"model: {meta.get('trained_steps', '?')} steps, hidden {net.config.hidden}, window {net.config.window}, "
          f"vocab {len(vocab)}; numpy {np.__version__} and torch {torch.__version__}, {args.threads} thread(s)")

    cold = _ms(lambda: predictor.run(ctx.head(500), predictor.initial_state()), 10)
    out = predictor.run(ctx.head(512), predictor.initial_state())
    state = out.state
    one = ctx.tail(512).head(1)
    step = _ms(lambda: predictor.run(one, state), 200)
    encoder = DocEncoder(vocab)
    beam = _ms(lambda: beam_search(predictor, out, encoder, 4, 16, budget_s=10.0), 10)
    print(f"one step (cached state):   p50 {statistics.median(step):6.2f} ms  p95 {sorted(step)[189]:6.2f} ms   target <= 5 ms")
    print(f"500 tokens from cold:      p50 {statistics.median(cold):6.1f} ms  max {max(cold):6.1f} ms   target <= 150 ms")
    print(f"beam search, one line:     p50 {statistics.median(beam):6.1f} ms  max {max(beam):6.1f} ms")
    # The project memory at its largest (`runtime/memory.py`): one recall per popup and ghost text.
    size = memory.MAX_ENTRIES
    vectors = np.tanh(rng.normal(0, 1, (size, net.config.embed))).astype(np.float32)
    recalled = ProjectMemory.of(vectors, [f"name{i % 5000}" for i in range(size)], [f"/p/m{i % 300}.py" for i in range(size)])
    query = out.vector[0]
    recall = _ms(lambda: recalled.recall(query, "/p/m7.py"), 200)
    held = (recalled.keys.nbytes + recalled.norms.nbytes + recalled.values.nbytes + recalled.files.nbytes) / 2**20
    print(f"project memory recall ({size:,} entries, {held:.0f} MB): p50 {statistics.median(recall):6.2f} ms  "
          f"p95 {sorted(recall)[189]:6.2f} ms, {statistics.median(recall) / statistics.median(step):.1f}x one step")

    # The network alone, numpy against torch, from the same state.
    model = HeedLM.of(net.config, net.weights).eval()
    np_state = out.state
    t_state = State(*(torch.from_numpy(np.asarray(t)) for t in np_state))
    beam_np = np_state.select(np.zeros(4, np.int64))
    beam_t = t_state.select(torch.zeros(4, dtype=torch.long))
    cases = {
        "one token": (1, 1, np_state, t_state),
        "a chunk of 64 tokens": (1, 64, np_state, t_state),
        "a beam's step (4 rows)": (4, 1, beam_np, beam_t),
    }
    print(f"{'the network alone, p50':<28} {'numpy':>9} {'torch':>9} {'numpy / torch':>14}")
    for name, (B, T, s_np, s_t) in cases.items():
        x = rng.integers(20, len(vocab), (B, T))
        r = np.full((B, T), 2, np.int64)
        xt, rt = torch.from_numpy(x), torch.from_numpy(r)
        repeat = 300 if T == 1 else 40
        a = statistics.median(_ms(lambda: net(x, r, x, s_np), repeat))  # noqa: B023
        with torch.no_grad():
            b = statistics.median(_ms(lambda: model(xt, rt, xt, s_t, last_only=True), repeat))  # noqa: B023
        print(f"{name:<28} {a:7.2f} ms {b:7.2f} ms {a / b:13.2f}x")

    if args.train_steps:
        trainee = HeedLM(net.config).train()
        opt = torch.optim.AdamW(trainee.parameters(), 1e-3)
        B, T = 32, 128
        st = trainee.initial_state(B)
        x = torch.randint(20, len(vocab), (B, T))
        r = torch.full((B, T), 2)
        mask = torch.ones(B, T)
        times = []
        for i in range(args.train_steps + 2):
            t0 = time.perf_counter()
            o = trainee(x, r, x, st, x, x, mask)
            opt.zero_grad()
            o.loss.backward()
            opt.step()
            st = o.state.detach()
            if i >= 2:
                times.append(time.perf_counter() - t0)
        print(f"training step (batch {B}x{T}): {B * T / statistics.median(times):,.0f} tokens/s on the CPU "
              f"(reference: about 460,000 tokens/s for an H=512 model on one H100, not measured here)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
