"""Completions for one document: the popup list, ghost text, and why each was suggested.

`Completer` is what the language server calls (one per open document). Without a model (still
loading, missing or corrupt) it still answers: names in scope ranked by how often the document
uses them.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from heed.model.lookup.imports import read_imports
from heed.model.lookup.known import known_names
from heed.model.lookup.modules import SHARED, ModuleIndex
from heed.model.lookup.receivers import ReceiverNames
from heed.model.lookup.scope import piece_names, scope_at
from heed.model.nn.numpy_net import Output, mixture
from heed.model.runtime.attribution import Explanation, shares, source_of
from heed.model.runtime.beam import beam_search
from heed.model.runtime.cancel import Cancelled, RequestCancelled
from heed.model.runtime.candidates import Candidate, Popup, finish_popup, project_names
from heed.model.runtime.confidence import FEATURES, Bars, Cut, agreement, bars_at, features, line_context
from heed.model.runtime.context import CursorContext, cursor_context, encode_ahead, short_cut
from heed.model.runtime.encoding import DocEncoder, Encoded
from heed.model.runtime.line_end import exploded_depth, overlap
from heed.model.runtime.ngram import ProjectGrams
from heed.model.runtime.predictor import Prediction, Predictor
from heed.model.runtime.state_cache import StateCache
from heed.model.runtime.syntax_check import leaves_valid_code
from heed.model.runtime.typed_along import LastSuggestions, line_around, typed_along
from heed.model.text import detok
from heed.model.text.cursor import is_after_dot, typed_prefix
from heed.model.text.stream import TokenStream
from heed.model.workspace.index import WorkspaceIndex

POPUP_POOL = 400  # model candidates considered before filtering by prefix
# A quick request far from every cached state (a document just opened, a jump to a part not yet
# warmed) reads only the last `quick` to 1.25 x `quick` tokens, from a fresh state, while the
# server warms the whole document in the background for the requests after it. The LSTM reads
# about 20,000 tokens a second here. bench/quick_context.py, on the validation projects: the
# popup's top-1 and top-5 and the ghost text's exact matches are the same (within a point or two
# of 150 places) from 256 to 1,024 tokens as from the whole warmed document, and 256 costs a
# fifth less than 384 (popup p95 48 against 61 ms; the popup read 2,048 before: p95 174 ms).
# Both read the same, so that the ghost text resumes from the popup's states.
QUICK_INLINE, QUICK_POPUP = 256, 256
# A logical line longer than this before the cursor is data (a generated table, a megabyte of
# brackets), not a line to finish: no ghost text there, whose checks read the whole line.
MAX_LINE_TOKENS = 2_000


@dataclass
class InlineSuggestion:
    text: str  # what to insert at the cursor (after the typed prefix)
    logp: float
    complete: bool
    typed: str = ""  # what it follows and replaces before the cursor: the typed prefix, or the popup's selection
    confidence: float | None = None  # calibrated chance that the rest of the line starts with it (`confidence.py`)
    x: np.ndarray | None = None  # the features that confidence is read from
    cuts: list[Cut] = field(default_factory=list)  # with `all_cuts`: its shorter prefixes that are code, longest first


class Completer:
    """The model side of one open document (`path`: its file, for its relative imports)."""

    def __init__(self, predictor: Predictor | None, path: Path | None = None, modules: ModuleIndex | None = None,
                 workspace: WorkspaceIndex | None = None):
        self.predictor = predictor
        self.encoder = DocEncoder(predictor.vocab) if predictor else None
        self.states = StateCache()
        self.path = path
        self.own_file = _resolved(path)  # what the project memory leaves out
        self.modules = modules or SHARED
        self.workspace = workspace  # the project's index (`model/workspace`), as far as it is built ...
        # ... which a file outside the project (a library's, opened to read it) does not use: the
        # project's idioms are not its own.
        self.in_project = workspace is not None and (path is None or workspace.holds(path))
        self.last_line: LastSuggestions | None = None  # the ghost text made last, which typing along keeps

    def _receiver(self, stream: TokenStream, start: int, ctx: CursorContext) -> ReceiverNames | None:
        """What other code says can come where the name being typed starts (`lookup/known.py`):
        after a dot, in an import statement, at a call's argument."""
        if self.encoder is None or self.predictor is None or not len(ctx.inputs):
            return None
        c = ctx.inputs
        return known_names(stream, start, ctx.texts, c.ids, c.parsed, c.ext, self.predictor.class_tokens, self.modules,
                           self.path, self.encoder.ext_of_text)

    def _project(self) -> ProjectGrams | None:
        """The project's n-grams in this document's identities, once the workspace index has them."""
        ws = self.workspace if self.in_project else None
        if ws is None or ws.ngrams is None or self.encoder is None:
            return None
        # The file `heed eval` evaluates, or else the document's own file on disk, is left out: its
        # buffer is what counts (its own n-grams).
        mine = ws.leave_out or self.path
        return ProjectGrams(ws.ngrams, ws.key_numbers, self.encoder, str(mine) if mine else None)

    def forget(self) -> None:
        """Drop the cached model states (to bound memory); they are recomputed when needed."""
        self.states = StateCache()

    def warm(self, stream: TokenStream, cancelled: Cancelled | None = None) -> None:
        """Run the model over the whole document ahead of requests (the server does this when it
        is idle), so that a request anywhere resumes from a state a few tokens before it."""
        if self.predictor is None or self.encoder is None:
            return
        if not read_imports(self.modules, stream, self.path, cancelled):  # so that the first `module.` does not parse it
            raise RequestCancelled
        for piece in stream.pieces:  # one at a time, so that a request stops this between two
            if cancelled is not None and cancelled():
                raise RequestCancelled
            piece_names(piece)  # the scope's summary of it (its roles parsed)
        encode_ahead(stream, self.encoder, cancelled)
        ctx = cursor_context(stream, len(stream.text), self.encoder)
        if len(ctx.inputs):
            self.states.warm(self.predictor, ctx.inputs, ctx.origin, cancelled)

    def _context(self, stream: TokenStream, offset: int, quick: int) -> CursorContext:
        """The cursor's context; for a quick request on a document the model has not run over yet
        (just opened), only its end, so that the rest of the file is not even parsed for it."""
        assert self.encoder is not None
        # With states kept for the whole context, it may be cheap: `_run` decides.
        return cursor_context(stream, offset, self.encoder, short=quick, whole_if=self.states.has_origin)

    def _run(self, ctx: CursorContext, cancelled: Cancelled | None, quick: int) -> tuple[Output, Encoded, int]:
        """The model's output at the cursor, the inputs it read, and where they start in `ctx.inputs`."""
        assert self.predictor is not None
        inputs, origin, cut = ctx.inputs, ctx.origin, 0
        if quick and self.states.cost(self.predictor, inputs, origin) > quick * 5 // 4:
            cut = short_cut(len(inputs), quick)  # as cursor_context cuts, so both reuse the same states
            inputs, origin = inputs.tail(cut), origin + cut
        return self.states.advance(self.predictor, inputs, origin, cancelled), inputs, cut

    def predict(
        self, stream: TokenStream, offset: int, cancelled: Cancelled | None = None, quick: int = 0
    ) -> tuple[CursorContext, Prediction | None] | None:
        """(context, the next token's prediction, as the popup ranks from it); no prediction inside
        a string or comment; None without a model. `quick`: see QUICK_POPUP."""
        if self.predictor is None or self.encoder is None:
            return None
        ctx = self._context(stream, offset, quick)
        if ctx.inside or len(ctx.inputs) == 0:
            return ctx, None
        out, inputs, cut = self._run(ctx, cancelled, quick)
        dot_end = offset - len(ctx.prefix)
        pred = self.predictor.prediction(out, self.encoder, inputs, self._receiver(stream, dot_end, ctx), self._project(),
                                         self.own_file)
        pred.key_pos = np.where(pred.key_pos >= 0, pred.key_pos + cut, -1)
        pred.ngrams.last = np.where(pred.ngrams.last >= 0, pred.ngrams.last + cut, -1)
        return ctx, pred

    # -- the popup ------------------------------------------------------------------------------
    def popup(self, stream: TokenStream, offset: int, max_items: int = 20, cancelled: Cancelled | None = None,
              quick: bool = False) -> Popup:
        """The popup list at `offset`. `quick` (the server's requests): see QUICK_POPUP."""
        result = self.predict(stream, offset, cancelled, QUICK_POPUP if quick else 0)
        ctx, pred = result if result else (None, None)
        if ctx is not None and ctx.inside:
            return Popup(ctx.prefix, [], False)  # in a string or a comment
        prefix = ctx.prefix if ctx else typed_prefix(stream.text, offset)
        after_dot = is_after_dot(stream.text, offset - len(prefix))
        scope = scope_at(stream, offset, quick)
        found: dict[str, Candidate] = {}
        ranked: dict[str, int] = {}  # the model's candidates' identities: their sources are told for the items shown
        known = pred.receiver if pred is not None else None
        listing = not after_dot and known is not None and known.why == "import"  # (`lookup/import_spot.py`)
        if pred is not None and self.encoder is not None:
            probs = pred.probs
            pool = np.argpartition(-probs, min(POPUP_POOL, len(probs) - 1))[:POPUP_POOL]
            for i in pool[np.argsort(-probs[pool])]:
                p = float(probs[i])
                if p <= 0:
                    break
                text = self.encoder.text_of(int(i))
                if not text.isidentifier() or not text.startswith(prefix) or text == prefix and not prefix:
                    continue
                if (after_dot or listing) and keyword.iskeyword(text):
                    continue
                found[text] = Candidate(text, p, "", "vocabulary")
                ranked[text] = int(i)
        defined: dict[str, str] = {}  # what other code says the receiver has, with kinds where known
        if known is not None and self.encoder is not None:
            for ids in (known.module, known.inherited, known.below):
                defined.update((text, known.kinds.get(text, "")) for text in map(self.encoder.text_of, (ids if ids is not None else ())))
        module = known.source if known is not None else None  # for the kinds of its names
        workspace = self.workspace if self.in_project and (self.predictor is None or self.predictor.features.workspace) else None
        project = project_names(workspace, prefix, after_dot, self.path)
        popup = finish_popup(stream, offset, prefix, after_dot, scope, found, max_items, pred is not None, module,
                             self.modules, defined, project, listing, self.path)
        for c in popup.candidates:
            if pred is not None and c.text in ranked:
                c.source = self._source(pred, ranked[c.text])
        popup.looked_up = pred.rerank.why if pred is not None and pred.rerank is not None else ""
        return popup

    def _unforeseen(self, out: Output, prefix: str) -> bool:
        """Whether the model gives no name that starts with `prefix` a chance after `out`."""
        assert self.predictor is not None and self.encoder is not None
        probs = mixture(out, self.encoder.n_ext, self.predictor.answerable)[0]
        starts = np.array([t.startswith(prefix) for t in self.encoder.texts()], bool)
        return not bool(((probs > 0) & starts).any())

    def _source(self, pred: Prediction, ext_id: int) -> str:
        """What gave a candidate most of its probability: "pointer", "vocabulary", "file" (the
        n-grams), "memory" (the project memory's votes) or "defined" (the floor the module or
        class the receiver is gave its names)."""
        parts = shares(pred, ext_id)
        floor = pred.rerank.floor if pred.rerank is not None and pred.rerank.why in ("module", "type", "import", "call") else None
        if floor is not None and 0 <= ext_id < len(floor) and floor[ext_id] > 0 and sum(parts) < 0.5 * float(pred.probs[ext_id]):
            return "defined"
        return source_of(*parts)

    def _shown_path(self, path: str | None) -> str:
        """A file of the project as a user reads it: relative to the workspace folder it is in."""
        if not path:
            return ""
        for root in self.workspace.roots if self.workspace is not None else ():
            if Path(path).is_relative_to(root.resolve()):
                return Path(path).relative_to(root.resolve()).as_posix()
        return path

    # -- ghost text -----------------------------------------------------------------------------
    def inline(
        self,
        stream: TokenStream,
        offset: int,
        width: int = 4,
        max_tokens: int = 16,
        alternatives: int = 3,
        selected: str | None = None,
        budget_s: float = 0.12,
        cancelled: Cancelled | None = None,
        quick: bool = False,
        min_confidence: float | None = None,
        all_cuts: bool = False,
    ) -> list[InlineSuggestion]:
        """The rest of the line after the cursor. With `selected` (the popup's selection, which
        replaces the typed prefix), the rest given that choice. Where the model has a calibration,
        the suggestions whose chance of being the whole rest of the line reaches `min_confidence`
        (None: the calibration's default; in a half-typed name, the bar it moves: `Calibration.bars`)
        are shown; where none does, a prefix that is code and sure enough (`sure_enough`), or
        nothing. `all_cuts`: keep every such prefix on each suggestion, each with its confidence
        (`heed eval`, `heed calibrate`)."""
        if self.predictor is None or self.encoder is None:
            return []
        calibration = self.predictor.calibration
        bars = bars_at(calibration, min_confidence)
        last, self.last_line = self.last_line, None
        kept = typed_along(last, stream, offset, bars) if selected is None else None
        if kept is not None:  # the user typed along with the last suggestion: it goes on from there
            self.last_line = last
            return kept if all_cuts else sure_enough(kept, bars)
        short = QUICK_INLINE if quick else 0
        ctx = self._context(stream, offset, short)
        if ctx.inside or len(ctx.inputs) == 0 or len(ctx.line_before) > MAX_LINE_TOKENS:
            return []
        out, inputs, _ = self._run(ctx, cancelled, short)
        prefix = ctx.prefix
        dot_end = offset - len(prefix)
        adjuster = self.predictor.adjuster(inputs, self._receiver(stream, dot_end, ctx), project=self._project(), recalled=self.predictor.recall(out, self.encoder, self.own_file))
        given: list[str] = []  # the typed name, when the model cannot produce it
        first: Callable[[str], bool] | None
        if selected is not None and selected.endswith("=") and selected[:-1].isidentifier():
            # A keyword argument picked in the popup (`indent=`, `lookup/calls.py`): what follows is its value.
            given, first = [selected[:-1], "="], None
            for ext in map(self.encoder.ext_of_text, given):
                out = self.predictor.feed(out.state, [ext])
                adjuster = adjuster.extended(ext, len(self.predictor.vocab), self.predictor.vocab.unk)
        elif selected is not None:
            first = selected.__eq__  # exactly the selected name
            if selected.isidentifier():
                self.encoder.ext_of_text(selected)  # so that beam search can produce it
        elif prefix and self._unforeseen(out, prefix):
            # A name the model has never seen (`class Parser|`, a new parameter): it is typed in
            # full, and the suggestion is what follows it.
            ext = self.encoder.ext_of_text(prefix)
            out, given, first = self.predictor.feed(out.state, [ext]), [prefix], None
            adjuster = adjuster.extended(ext, len(self.predictor.vocab), self.predictor.vocab.unk)
        elif prefix:
            first = lambda text: text.startswith(prefix) and text.isidentifier()  # noqa: E731
        else:
            first = None
        opened = sum(t in "([{" for t in ctx.line_before) - sum(t in ")]}" for t in ctx.line_before)
        line_start = stream.text.rfind("\n", 0, offset) + 1
        exploded = exploded_depth(ctx, bool(stream.text[line_start : offset - len(prefix)].strip()))
        # With code after the cursor on its line (an editor's auto-closed bracket), the suggestion
        # ends where it closes a bracket opened before the cursor; at the end of a line it goes on
        # to the line's end (`self) -> None:`).
        line_end = stream.text.find("\n", offset)
        after = stream.text[offset : line_end if line_end >= 0 else len(stream.text)].strip()
        hyps = beam_search(
            self.predictor, out, self.encoder, width, max_tokens, first, budget_s, cancelled, alternatives, max(opened, 0),
            stop_at_close=bool(after), comma_ends_at=None if exploded is None else exploded - opened, adjuster=adjuster,
            line_before=[*ctx.line_before, *given],
        )
        space_before = offset - len(prefix) > 0 and stream.text[offset - len(prefix) - 1] in " \t"
        before = stream.text[ctx.line_start : offset - len(prefix)]
        rest_of_line = stream.text[offset : line_end if line_end >= 0 else len(stream.text)].rstrip("\r")
        typed = prefix if selected is None else selected
        checked = self.predictor.features.syntax_check

        def shown(tokens: list[str]) -> str | None:
            """The text that `tokens` make after the cursor, if it is code there."""
            text = detok.join(ctx.line_before, given + tokens)
            if space_before or prefix:
                text = text.lstrip(" ")
            text = text[len(typed) :]  # the typed prefix, or the selection, which the popup inserts itself
            text = text[: len(text) - overlap(text, rest_of_line)]
            if text.strip() and (not checked or leaves_valid_code(before, typed + text, rest_of_line, stream.text, ctx.line_start)):
                return text
            return None

        context = line_context(stream.text[line_start:offset])
        beam = [(h.tokens, h.logp) for h in hyps]
        suggestions = []
        for h in hyps:
            text = shown(h.tokens)
            if text is None:
                continue
            ends_name = bool(typed) and not (text[:1].isalnum() or text[:1] == "_")
            x = features(h.steps, True, h.complete, typed, context, agreement(h.tokens, beam), ends_name, bool(given))
            confidence = calibration.confidence(x) if calibration else None
            suggestion = InlineSuggestion(text, h.logp, h.complete, typed, confidence, x)
            for k in range(len(h.tokens) - 1, 0, -1) if calibration or all_cuts else ():
                xk = features(h.steps[:k], False, False, typed, context, agreement(h.tokens[:k], beam), ends_name, bool(given))
                sure = calibration.prefix_confidence(xk) if calibration else None
                if all_cuts or (confidence is not None and confidence < bars.of(x) and sure is not None and sure >= bars.of_cut(x)):
                    part = shown(h.tokens[:k])
                    if part is not None:
                        suggestion.cuts.append(Cut(k, part, xk, sure))
                        if not all_cuts:
                            break  # the longest that is sure enough
            suggestions.append(suggestion)
        if any(s.complete for s in suggestions):  # a line left with a bracket open is a poor suggestion
            suggestions = [s for s in suggestions if s.complete]
        if selected is None:
            self.last_line = LastSuggestions(*line_around(stream, offset), suggestions)
        return suggestions if all_cuts else sure_enough(suggestions, bars)

    # -- why ------------------------------------------------------------------------------------
    def explain(self, stream: TokenStream, offset: int, text: str, top: int = 3) -> Explanation | None:
        """Where the model looked when it suggested `text` at `offset`."""
        result = self.predict(stream, offset, None)
        if result is None or self.encoder is None or self.predictor is None:
            return None
        ctx, pred = result
        if pred is None:
            return None
        ext_id = self.encoder.ext_of_text(text) if text.isidentifier() else self.predictor.vocab.index.get(text, -1)
        prob = float(pred.probs[ext_id]) if 0 <= ext_id < len(pred.probs) else 0.0
        weights: list[tuple[int, int, str, float]] = []
        by_line: dict[int, float] = {}
        for j, pos in enumerate(pred.key_pos):
            if pos < 0 or pos >= len(ctx.texts) or pred.attn[j] <= 0:
                continue
            line = int(ctx.lines[pos])
            w = float(pred.attn[j])
            weights.append((line, int(ctx.cols[pos]), ctx.texts[pos], w))
            by_line[line] = by_line.get(line, 0.0) + w
        lines = stream.text.splitlines()
        spans = [
            (line, lines[line - 1].strip() if 0 < line <= len(lines) else "", w)
            for line, w in sorted(by_line.items(), key=lambda kv: -kv[1])[:top]
        ]
        hits = [(float(pred.attn[j]), j) for j in range(len(pred.attn)) if pred.key_ext[j] == ext_id >= 0 and pred.key_pos[j] >= 0]
        pointer_prob, vocab_prob, file_prob, _ = shares(pred, ext_id)
        source = self._source(pred, ext_id)
        recalled_from = ""
        if source == "memory" and self.predictor.memory is not None and pred.vector is not None:
            recalled_from = self._shown_path(self.predictor.memory.where(pred.vector, text, self.own_file))
        copied_from = repeats_line = None
        if hits and source == "pointer":
            _, j = max(hits)
            pos = int(pred.key_pos[j])
            copied_from = int(ctx.lines[pos]) if 0 <= pos < len(ctx.lines) else None
        last = pred.ngrams.last[pred.ngrams.tokens == ext_id]
        if len(last) and 0 <= last[0] < len(ctx.lines):
            repeats_line = int(ctx.lines[last[0]])
        lifted = pred.rerank is not None and pred.reranked is not None and 0 <= ext_id < len(pred.reranked) \
            and pred.reranked[ext_id] > 1
        return Explanation(
            text, prob, source, pred.gate, pointer_prob, vocab_prob, spans, copied_from, weights, file_prob, repeats_line,
            recalled_from, pred.rerank.why if lifted and pred.rerank is not None else "",
        )


def _resolved(path: Path | None) -> str | None:
    """`path` as the project memory names files (a symlink loop leaves it as it is)."""
    if path is None:
        return None
    try:
        return path.resolve().as_posix()
    except (OSError, RuntimeError):
        return path.as_posix()


def sure_enough(suggestions: list[InlineSuggestion], bars: Bars) -> list[InlineSuggestion]:
    """The suggestions as shown: those that reach their bar whole, in the beam's order; where none
    does, each one's longest prefix that reaches a cut's bar; else nothing. A suggestion without a
    confidence (no calibration) is shown whole."""
    out = [s for s in suggestions if s.confidence is None or s.confidence >= bars.of(s.x)]
    if not out:
        for s in suggestions:
            cut = next((c for c in s.cuts if c.confidence is not None and c.confidence >= bars.of_cut(s.x)), None)
            if cut is not None:
                out.append(InlineSuggestion(cut.text, float(cut.x[FEATURES.index("logp")]), False, s.typed, cut.confidence, cut.x))
    unique: dict[str, InlineSuggestion] = {}
    for s in out:
        unique.setdefault(s.text, s)
    return list(unique.values())
