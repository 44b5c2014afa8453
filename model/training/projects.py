"""`heed eval --projects`: what the server answers, on whole projects heed never saw.

Each file is read as its author's editor holds it while they type: at every sampled place
(`positions.py`) the document is the text before the cursor and nothing after it. The file grows
from place to place, appended to one token stream as typing does, and between places the
model's states are warmed over what is there, as the server does once typing pauses. The
answers come from `Completer`, the very object the server asks, with the server's defaults:
the popup's 20 items in its order (ties included), the ghost text with its time budget. Neither
the module look-up nor the workspace index (the project's files, read as the server reads its
workspace) sees the file under evaluation on disk (it holds the whole file there).

With `typing` (`heed eval --projects --typing N`), the ghost text alone while typing through a
file: N lines of each file typed a character at a time, asked at every keystroke (`replay_file`).

Scores per project and pooled over projects, each with a 95% bootstrap interval over files
(files resampled within each project): popup top-1, top-5 and MRR (0 past rank 10; a name not
among the 20 items is a miss) at attribute and identifier places, with the cursor right after
the dot or at the start of the name (nothing typed); all tokens: at every place where nothing
is typed, the rank of the token that stands there in the distribution the popup ranks from (a
tie counts against it; a literal the model only knows by kind is a miss); for the rest of the line,
the ghost text as the server shows it at the confidence threshold (`runtime/confidence.py`): how
often something is shown, and its exact match, whether the line starts with it, its edit
similarity and the characters a user would accept, over all places and among those where it was
shown; and, pooled, the same at other thresholds (`curve`).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from heed.model.lookup.modules import ModuleIndex
from heed.model.runtime.completer import Completer, InlineSuggestion, sure_enough
from heed.model.runtime.confidence import LINE_CONTEXTS, Bars, Calibration, bars_at, line_context
from heed.model.runtime.predictor import Predictor
from heed.model.runtime.typed_along import line_around
from heed.model.text import lexer
from heed.model.text.stream import TokenStream
from heed.model.text.vocab import token_key
from heed.model.training.metrics import MRR_CUTOFF, accepted_chars, accepts, similarity
from heed.model.training.positions import Place, places, project_files, read_source, sample
from heed.model.workspace.index import WorkspaceIndex

PER_FILE = {"attribute": 8, "identifier": 8, "line": 4}  # places drawn from each file
MAX_FILES = 60  # files drawn from each project (seeded; all of a smaller project)
MIN_LINES = 20
BOOTSTRAP = 1000
POPUP_KINDS = ("attribute", "identifier")
RANKED = (*POPUP_KINDS, "all")


@dataclass
class LinePlace:
    """A mid-line place: the rest of the line, what precedes the cursor, and the ghost text the
    completer made there with every prefix it could cut each suggestion to (`all_cuts`)."""

    expected: str
    context: str  # one of LINE_CONTEXTS
    suggestions: list[InlineSuggestion]
    line: tuple[int, str, str] | None = None  # a keystroke's (`replay_file`): `typed_along.line_around` there

    def shown(self, bars: Bars) -> str:
        """The ghost text the editor would show at `bars` (the server's own choice)."""
        return shown_text(self.suggestions, bars)


def shown_text(suggestions: list[InlineSuggestion], bars: Bars) -> str:
    """The line of ghost text `sure_enough` picks at these bars ("": none)."""
    picked = sure_enough(suggestions, bars)
    return picked[0].text.split("\n")[0].strip() if picked else ""


@dataclass
class FileScore:
    """What one file scored: the popup rank at each place (0: not among the items), and for each
    line place (`judge`d at a threshold) whether ghost text was shown, matched exactly, was right as
    far as it goes (the rest of the line starts with it), its edit similarity and the characters a
    user would accept of it."""

    ranks: dict[str, list[int]] = field(default_factory=lambda: {k: [] for k in RANKED})
    looked_up: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in POPUP_KINDS})  # `Popup.looked_up` at each
    lines: list[LinePlace] = field(default_factory=list)
    shown: list[bool] = field(default_factory=list)
    exact: list[bool] = field(default_factory=list)
    right: list[bool] = field(default_factory=list)
    similarity: list[float] = field(default_factory=list)
    chars: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def contexts(self) -> list[str]:
        return [p.context for p in self.lines]

    def judge(self, bars: Bars) -> None:
        """Score the line places as shown at `bars` (`sure_enough`)."""
        got = [p.shown(bars) for p in self.lines]
        self.shown = [bool(g) for g in got]
        self.exact = [g == p.expected for g, p in zip(got, self.lines)]
        self.right = [accepts(p.expected, g) for g, p in zip(got, self.lines)]
        self.similarity = [similarity(g, p.expected) for g, p in zip(got, self.lines)]
        self.chars = [accepted_chars(p.expected, g) for g, p in zip(got, self.lines)]


def score_file(predictor: Predictor, path: Path, text: str, chosen: list[Place], index: ModuleIndex,
               workspace: WorkspaceIndex | None = None, min_confidence: float | None = None) -> FileScore:
    """Type the file forward to each place and ask there as the server would (`min_confidence`:
    the threshold the ghost text is shown at, which decides what typing along keeps)."""
    started = time.monotonic()
    index.exclude = path  # the file on disk is whole: the look-up must not read the answer there
    if workspace is not None:
        workspace.leave_out = path  # nor the project's index: it holds the project's other files
    completer = Completer(predictor, path, index, workspace)
    stream = TokenStream("")
    score = FileScore()
    keys = {t.offset: token_key(t.kind, t.text) for t in lexer.lex(text)}  # the token at each place (no roles needed)
    at = 0
    for place in chosen:
        stream.edit(at, at, text[at : place.offset])
        at = place.offset
        completer.warm(stream)  # the server's idle-time warm-up
        rank = next_token_rank(completer, stream, at, keys.get(at))
        if rank is not None:
            score.ranks["all"].append(rank)
        if place.kind == "line":
            suggestions = completer.inline(stream, at, quick=True, min_confidence=min_confidence, all_cuts=True)
            score.lines.append(LinePlace(place.expected, line_context(text[text.rfind("\n", 0, at) + 1 : at]), suggestions))
        else:
            popup = completer.popup(stream, at, quick=True)
            labels = [c.text for c in popup.candidates]
            score.ranks[place.kind].append(labels.index(place.expected) + 1 if place.expected in labels else 0)
            score.looked_up[place.kind].append(popup.looked_up)
    score.seconds = time.monotonic() - started
    return score


def replay_file(predictor: Predictor, path: Path, text: str, rows: list[int], index: ModuleIndex,
                workspace: WorkspaceIndex | None = None, min_confidence: float | None = None) -> FileScore:
    """Type each of `rows` (0-based, in order) a character at a time from its indentation, the file
    before it typed and nothing after it, and ask for ghost text at every keystroke as the server
    is asked (the idle warm-up in the pause before the line, none between keystrokes): a line place
    at each, the rest of the line expected. What was shown at `min_confidence` (None: the model's
    default) decides what typing along keeps (`runtime/typed_along.py`), so the figures at other
    thresholds (`curve`) keep what that one showed."""
    started = time.monotonic()
    index.exclude = path
    if workspace is not None:
        workspace.leave_out = path
    completer = Completer(predictor, path, index, workspace)
    stream = TokenStream("")
    score = FileScore()
    starts = [0, *(i + 1 for i, ch in enumerate(text) if ch == "\n")]
    at = 0
    for row in rows:
        line_end = text.find("\n", starts[row])
        line_end = len(text) if line_end < 0 else line_end
        line = text[starts[row] : line_end]
        begin = starts[row] + len(line) - len(line.lstrip())
        stream.edit(at, at, text[at:begin])
        at = begin
        completer.warm(stream)
        for cursor in range(begin, line_end):
            stream.edit(at, at, text[at:cursor])
            at = cursor
            expected = text[cursor:line_end].strip()
            if not expected:
                continue
            suggestions = completer.inline(stream, cursor, quick=True, min_confidence=min_confidence, all_cuts=True)
            score.lines.append(LinePlace(expected, line_context(text[starts[row] : cursor]), suggestions,
                                         line_around(stream, cursor)))
    score.seconds = time.monotonic() - started
    return score


def typed_rows(found: dict[str, list[Place]], n: int, seed: str) -> list[int]:
    """Up to `n` lines to type through, drawn with a seed of their own among those that have mid-line
    places (code of two tokens or more, no comment, no token that spans lines), in file order."""
    pool = sorted({p.line for p in found.get("line", [])})
    return sorted(random.Random(f"{seed}:typing").sample(pool, min(n, len(pool))))


def by_line_context(files: list[FileScore]) -> dict[str, dict[str, float]]:
    """Ghost text at mid-line places, by what precedes the cursor: places, and the share shown,
    exact over all, exact among shown."""
    out = {}
    for context in LINE_CONTEXTS:
        rows = [(s, e) for f in files for s, e, c in zip(f.shown, f.exact, f.contexts) if c == context]
        shown = sum(s for s, _ in rows)
        exact = sum(e for _, e in rows)
        out[context] = {"places": len(rows), "shown": shown / len(rows) if rows else 0.0,
                        "exact": exact / len(rows) if rows else 0.0, "exact_if_shown": exact / shown if shown else 0.0}
    return out


def next_token_rank(completer: Completer, stream: TokenStream, at: int, key: str | None) -> int | None:
    """The rank of the token `key` (which stands at `at` in the whole file) in the distribution
    the popup ranks from, a tie counting against it; 0 where the model cannot produce it. None
    where the cursor is inside a name, string or comment (nothing to rank a whole token in)."""
    found = completer.predict(stream, at)
    if found is None or key is None:
        return None
    ctx, pred = found
    if pred is None or ctx.prefix:
        return None
    encoder = completer.encoder
    assert encoder is not None
    vid = encoder.vocab.index.get(key)
    if vid is not None:
        identity = vid if encoder.answerable[vid] else -1  # a placeholder (`<str>`) is never an answer
    else:  # a name outside the vocabulary: one the document (or the look-up) already has, or none
        identity = len(encoder.vocab) + encoder.oov[key] if key in encoder.oov else -1
    p = float(pred.probs[identity]) if 0 <= identity < len(pred.probs) else 0.0
    return int((pred.probs >= p).sum()) if p > 0 else 0


def in_fifth(root: Path, path: Path) -> bool:
    """Whether a project's file is in its evaluation fifth (by a hash of its path in the project):
    `--fifth` evaluates only these, and `heed adapt --leave-out-fifth` never trains on them."""
    return int(hashlib.sha1(path.relative_to(root).as_posix().encode()).hexdigest()[:8], 16) % 5 == 0


def measured_files(root: Path, max_files: int = MAX_FILES, seed: int = 0, fifth: bool = False
                   ) -> list[tuple[Path, str, dict[str, list[Place]], str]]:
    """(path, text, its places, the seed key of its draws) for each file of a project that is
    measured: drawn with `seed` (only its evaluation fifth's with `fifth`), long enough."""
    files = [p for p in project_files(root, 0 if fifth else max_files, seed) if not fifth or in_fifth(root, p)]
    texts = ((path, read_source(path)) for path in files)
    return [(path, text, places(text), f"{seed}:{path.relative_to(root)}")
            for path, text in texts if text is not None and text.count("\n") >= MIN_LINES]


def score_projects(predictor: Predictor, roots: list[Path], max_files: int = MAX_FILES, seed: int = 0,
                   progress: bool = True, per_file: dict[str, int] = PER_FILE, fifth: bool = False,
                   typing: int = 0, min_confidence: float | None = None) -> dict[str, list[FileScore]]:
    """Each project's files scored at `per_file` places of each kind (seeded), or with `typing`,
    that many lines of each typed through (`replay_file`); `fifth`: only its evaluation fifth's
    (`in_fifth`); `min_confidence`: the ghost text's threshold (None: the model's default)."""
    scores: dict[str, list[FileScore]] = {}
    for root in roots:
        index = ModuleIndex()
        workspace = WorkspaceIndex([root], index, use_cache=False).build() if predictor.features.workspace else None
        scores[root.name] = []
        for path, text, found, key in tqdm(measured_files(root, max_files, seed, fifth), desc=root.name, unit="file",
                                           disable=not progress, leave=False):
            if typing:
                rows = typed_rows(found, typing, key)
                if rows:
                    scores[root.name].append(replay_file(predictor, path, text, rows, index, workspace, min_confidence))
                continue
            chosen = sample(found, per_file, key)
            if chosen:
                scores[root.name].append(score_file(predictor, path, text, chosen, index, workspace, min_confidence))
    return scores


def evaluate_projects(predictor: Predictor, roots: list[Path], max_files: int = MAX_FILES, seed: int = 0,
                      progress: bool = True, min_confidence: float | None = None, fifth: bool = False,
                      typing: int = 0) -> dict[str, Any]:
    """The report: per project and pooled, each figure with its 95% interval, the ghost text as
    shown at `min_confidence` (None: the model's calibrated default, or everything without one);
    and the pooled ghost text at other thresholds (`curve`). `typing`: the ghost text only, at
    every keystroke of that many lines of each file typed through (`replay_file`)."""
    scores = score_projects(predictor, roots, max_files, seed, progress, fifth=fifth, typing=typing,
                            min_confidence=min_confidence)
    every = [f for files in scores.values() for f in files]
    calibration = predictor.calibration
    bars = bars_at(calibration, min_confidence)
    report: dict[str, Any] = {"threshold": bars.whole, "in_name_threshold": bars.in_name,
                              "calibrated": calibration is not None, "typing": typing}
    report["curve"] = curve(every, sorted({*CURVE, bars.whole}), calibration) if calibration else []
    for f in every:
        f.judge(bars)
    report["projects"] = {name: summarize({name: s}, seed) for name, s in scores.items()}
    report["pooled"] = summarize(scores, seed)
    report["line_by_context"] = by_line_context(every)
    return report


CURVE = tuple(round(0.05 * i, 2) for i in range(20))  # thresholds the pooled ghost text is reported at


def curve(files: list[FileScore], thresholds: list[float], calibration: Calibration | None = None) -> list[dict[str, float]]:
    """The pooled ghost text at each threshold, the setting (with the bars in a half-typed name and
    for prefixes that `calibration` sets there): how often it is shown, and among what is shown, how
    often it is exact and right as far as it goes, its similarity and the characters accepted."""
    rows = []
    for t in thresholds:
        for f in files:
            f.judge(bars_at(calibration, t))
        shown = sum(sum(f.shown) for f in files)
        places = sum(len(f.shown) for f in files)

        rows.append({"threshold": t, "shown": shown / places if places else 0.0,
                     **{what: _among_shown(files, what, shown) for what in ("exact", "right", "similarity", "chars")},
                     "exact_all": sum(sum(f.exact) for f in files) / places if places else 0.0})
    return rows


def _among_shown(files: list[FileScore], what: str, shown: int) -> float:
    """The mean of `what` over the line places where ghost text was shown (judged already)."""
    return sum(float(v) for f in files for v, s in zip(getattr(f, what), f.shown) if s) / shown if shown else 0.0


def _popup(kind: str, k: int | None) -> Callable[[list[FileScore]], tuple[float, int]]:
    """(sum, count) over files of top-k hits (k=None: reciprocal rank) at `kind` places."""
    def total(files: list[FileScore]) -> tuple[float, int]:
        ranks = np.array([r for f in files for r in f.ranks[kind]], np.int64)
        if k is not None:
            return float(((ranks >= 1) & (ranks <= k)).sum()), len(ranks)
        ok = (ranks >= 1) & (ranks <= MRR_CUTOFF)
        return float((1.0 / ranks[ok]).sum()), len(ranks)
    return total


def _lines(what: str, shown_only: bool = False) -> Callable[[list[FileScore]], tuple[float, int]]:
    """(sum, count) over files of `what` at line places (`shown_only`: where ghost text was shown)."""
    def total(files: list[FileScore]) -> tuple[float, int]:
        values = [float(v) for f in files for v, shown in zip(getattr(f, what), f.shown) if shown or not shown_only]
        return sum(values), len(values)
    return total


METRICS: dict[str, Callable[[list[FileScore]], tuple[float, int]]] = {
    **{f"{kind}_{name}": _popup(kind, k) for kind in RANKED for name, k in (("top1", 1), ("top5", 5), ("mrr", None))},
    "line_shown": _lines("shown"),
    "line_exact": _lines("exact"),
    "line_similarity": _lines("similarity"),
    "line_exact_shown": _lines("exact", shown_only=True),
    "line_right_shown": _lines("right", shown_only=True),
    "line_similarity_shown": _lines("similarity", shown_only=True),
    "line_chars_shown": _lines("chars", shown_only=True),
}


def summarize(scores: dict[str, list[FileScore]], seed: int) -> dict[str, Any]:
    """Each metric's value, its count of places, and a 95% percentile-bootstrap interval: files
    resampled with replacement within each project, the projects' files pooled."""
    rng = np.random.default_rng(seed)
    files = [f for group in scores.values() for f in group]
    starts = np.cumsum([0, *(len(g) for g in scores.values())])
    draws = np.concatenate([rng.integers(a, b, (BOOTSTRAP, b - a)) for a, b in zip(starts[:-1], starts[1:])], axis=1)
    out: dict[str, Any] = {"files": len(files), "seconds": sum(f.seconds for f in files)}
    for name, total in METRICS.items():
        per_file = np.array([total([f]) for f in files], np.float64).reshape(-1, 2)  # [files, (sum, count)]
        value, n = per_file.sum(0)
        sums, counts = per_file[draws, 0].sum(1), per_file[draws, 1].sum(1)
        resampled = sums[counts > 0] / counts[counts > 0]
        low, high = np.percentile(resampled, [2.5, 97.5]) if len(resampled) else (float("nan"), float("nan"))
        out[name] = {"value": value / n if n else float("nan"), "n": int(n), "low": float(low), "high": float(high)}
    return out


def render(report: dict[str, Any]) -> str:
    """The report as a table: one row per project and the pooled row, value [interval] each."""
    columns = [("all top1", "all_top1"), ("all top5", "all_top5"), ("attr top1", "attribute_top1"), ("attr top5", "attribute_top5"), ("ident top1", "identifier_top1"),
               ("ident top5", "identifier_top5"), ("line shown", "line_shown"), ("line exact", "line_exact"),
               ("exact if shown", "line_exact_shown"), ("right if shown", "line_right_shown"),
               ("sim if shown", "line_similarity_shown")]
    if report.get("typing"):  # the ghost text only
        columns = [c for c in columns if c[1].startswith("line_")]
    rows = [*report["projects"].items(), ("pooled", report["pooled"])]
    lines = [f"{'project':<12} {'files':>5}  " + "  ".join(f"{title:>19}" for title, _ in columns)]
    for name, r in rows:
        cells = [f"{r[k]['value']:6.1%} [{r[k]['low']:4.0%}-{r[k]['high']:4.0%}]" for _, k in columns]
        lines.append(f"{name:<12} {r['files']:>5}  " + "  ".join(f"{c:>19}" for c in cells))
    n = report["pooled"]
    if "line_by_context" in report:
        lines.append("ghost text by what precedes the cursor:  " + "; ".join(
            f"{c} {v['exact']:.0%} exact of {v['places']} ({v['exact_if_shown']:.0%} if shown)"
            for c, v in report["line_by_context"].items()))
    chars = n["line_chars_shown"]
    in_name = report.get("in_name_threshold", report["threshold"])
    lines.append(f"ghost text at confidence >= {report['threshold']:.2f}"
                 f"{f' ({in_name:.3g} going on with a half-typed name)' if in_name != report['threshold'] else ''}"
                 f"{'' if report.get('calibrated') else ' (no calibration: all shown)'}: "
                 f"{chars['value']:.1f} characters accepted per suggestion shown [{chars['low']:.1f}-{chars['high']:.1f}]")
    for row in report.get("curve", []):
        lines.append(f"  at >= {row['threshold']:.2f}: shown {row['shown']:6.1%}, among shown exact {row['exact']:6.1%}, "
                     f"right {row['right']:6.1%}, similarity {row['similarity']:6.1%}, {row['chars']:.1f} chars")
    lines.append(f"places: attribute {n['attribute_top1']['n']}, identifier {n['identifier_top1']['n']}, "
                 f"line {n['line_exact']['n']}; 95% bootstrap intervals over files")
    return "\n".join(lines)
