"""Ghost text: the most probable continuations of the line after the cursor, by beam search.

Each step runs the network one token further on every live hypothesis (`Predictor.feed`) and
adjusts its distribution as the popup's is (`Adjuster`), given the tokens the hypothesis has
produced. The token stream has no line breaks inside brackets, so where a line may end there is
a rule: see `beam_search`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from heed.model.nn.numpy_net import Output, mixture
from heed.model.runtime.adjust import Adjuster
from heed.model.runtime.cancel import Cancelled, RequestCancelled
from heed.model.runtime.encoding import DocEncoder
from heed.model.text.causal_roles import last_role
from heed.model.text.vocab import LAYOUT

if TYPE_CHECKING:
    from heed.model.runtime.predictor import Predictor

STOP_KEYS = frozenset(LAYOUT.values())  # a line ends at <newline>, <indent>, <dedent>, <eof>
OPENERS, CLOSERS = frozenset("([{"), frozenset(")]}")


@dataclass
class LineHypothesis:
    tokens: list[str]  # texts
    logp: float
    complete: bool  # ended at the end of the line (or where brackets balance)
    steps: list[float]  # log-probability of each token given those before it (the end's, if any, last)


def beam_search(
    predictor: Predictor,
    out: Output,
    encoder: DocEncoder,
    width: int = 4,
    max_tokens: int = 16,
    first: Callable[[str], bool] | None = None,
    budget_s: float = 0.15,
    cancelled: Cancelled | None = None,
    alternatives: int = 3,
    open_before: int = 0,
    stop_at_close: bool = True,
    comma_ends_at: int | None = None,
    adjuster: Adjuster | None = None,
    line_before: Sequence[str] = (),
) -> list[LineHypothesis]:
    """Most probable continuations of the line after `out`'s position.

    `first` restricts the first token (the identifier already typed, or the popup's
    selection). A hypothesis ends at the end of the line; with `stop_at_close`, at a closing
    bracket that was opened before the cursor (`open_before` of them are open there; a
    closing bracket with none open is not Python and ends nothing); at a `,` that leaves
    `comma_ends_at` brackets open (counted from the cursor: 0, -1...); at a literal the
    vocabulary only knows by kind; or after `max_tokens`. Lines that end come first, each
    group by total log-probability (the end included). `adjuster` adjusts every step's
    distribution, given the tokens of each hypothesis. `line_before`: the texts of the logical
    line's tokens before the cursor, from which each produced token's role is read.
    """
    deadline = time.monotonic() + budget_s
    n_ext = encoder.n_ext
    # The far memory in single precision once, rather than converted for every step's attention.
    out = out._replace(state=out.state._replace(far=out.state.far.astype(np.float32)))
    live: list[tuple[float, list[int], int, list[float]]] = [(0.0, [], 0, [])]  # (logp, ext ids, bracket depth, steps)
    finished: list[LineHypothesis] = []
    for step in range(max_tokens):
        if cancelled and cancelled():
            raise RequestCancelled
        probs = mixture(out, n_ext, predictor.beam_answers)  # [beams, n_ext]
        if adjuster is not None:
            probs = np.stack([adjuster.adjust(p, predictor.beam_answers, b[1]).probs for p, b in zip(probs, live)])
        logp = np.log(np.maximum(probs, 1e-12))
        if step == 0 and first is not None:
            allowed = np.array([first(t) for t in encoder.texts()], bool)
            logp = np.where(allowed[None], logp, -math.inf)
        total = (logp + np.array([b[0] for b in live], np.float32)[:, None]).ravel()
        k = min(width * 2, total.size)
        flat = np.argpartition(-total, k - 1)[:k]
        flat = flat[np.argsort(-total[flat], kind="stable")]
        nxt: list[tuple[float, list[int], int, list[float]]] = []
        rows: list[int] = []
        for score, idx in zip(total[flat].tolist(), flat.tolist()):
            if score == -math.inf:
                break
            row, tok = divmod(idx, n_ext)
            base_logp, toks, depth, steps = live[row]
            steps = steps + [score - base_logp]
            text = encoder.text_of(tok)
            if tok < len(predictor.vocab) and (tok in predictor.stop_ids or tok in predictor.unanswerable_ids):
                if toks or tok in predictor.stop_ids:
                    finished.append(LineHypothesis([encoder.text_of(t) for t in toks], score, tok in predictor.stop_ids, steps))
                continue
            d = depth + (text in OPENERS) - (text in CLOSERS)
            if -d > open_before:  # a bracket that is not open
                continue
            if d < 0 and stop_at_close or text == "," and d == comma_ends_at:  # the line ends here
                finished.append(LineHypothesis([encoder.text_of(t) for t in toks + [tok]], score, True, steps))
                continue
            if len(nxt) < width:
                nxt.append((score, toks + [tok], d, steps))
                rows.append(row)
        complete = [h.logp for h in finished if h.complete]
        # Done when enough lines have ended and every live one is already less likely.
        if not nxt or (len(complete) >= alternatives and max(c for c, _, _, _ in nxt) < max(complete)):
            break
        live = nxt
        if step == max_tokens - 1 or time.monotonic() > deadline:
            break
        roles = [last_role([*line_before, *(encoder.text_of(t) for t in b[1])]) for b in live]
        out = predictor.feed(out.state.select(np.array(rows)), [b[1][-1] for b in live], roles)
    for logp_, toks, _, steps in live:
        finished.append(LineHypothesis([encoder.text_of(t) for t in toks], logp_, False, steps))
    finished.sort(key=lambda h: (not h.complete, -h.logp))  # whole lines first
    seen: set[tuple[str, ...]] = set()
    unique = []
    for h in finished:
        if h.tokens and tuple(h.tokens) not in seen:
            seen.add(tuple(h.tokens))
            unique.append(h)
    return unique[:alternatives]
