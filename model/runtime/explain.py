"""`heed explain`: the code before a cursor, coloured by where the model looked.

The pointer's weights over the window (the last K tokens) and the far names become a heat map over the source:
the redder a token, the more the prediction drew on it. Below it, the top candidates with their
source: the vocabulary, or the pointer copying a name from an earlier line.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from heed.model.runtime.attribution import DEFINED_BY, LIFTED_BY, Explanation
from heed.model.runtime.completer import Completer
from heed.model.runtime.predictor import Predictor
from heed.model.text.stream import TokenStream


@dataclass
class Report:
    lines: list[tuple[int, str]]  # (line number, text) shown, up to the cursor
    heat: dict[tuple[int, int], tuple[int, float]]  # (line, col) -> (length, weight)
    top: list[Explanation]
    cursor: tuple[int, int]  # (line, col) 1-based line


def build_report(predictor: Predictor, text: str, offset: int, top: int = 5) -> Report:
    stream = TokenStream(text)
    completer = Completer(predictor)
    popup = completer.popup(stream, offset, max_items=top)
    explanations = [e for c in popup.candidates if (e := completer.explain(stream, offset, c.text)) is not None]
    heat: dict[tuple[int, int], tuple[int, float]] = {}
    first_line = None
    if explanations:
        for line, col, tok_text, weight in explanations[0].weights:
            heat[(line, col)] = (len(tok_text), weight)
            first_line = line if first_line is None else min(first_line, line)
    before = text[:offset]
    cursor_line = before.count("\n") + 1
    cursor_col = len(before) - (before.rfind("\n") + 1)
    all_lines = text.split("\n")
    start = first_line or max(1, cursor_line - 10)
    shown = [(n, all_lines[n - 1][:cursor_col] if n == cursor_line else all_lines[n - 1]) for n in range(start, cursor_line + 1)]
    return Report(shown, heat, explanations, (cursor_line, cursor_col))


def _spans(report: Report, line_no: int, line: str) -> list[tuple[str, float]]:
    """A line cut into (text, weight) runs; untouched text has weight 0."""
    out: list[tuple[str, float]] = []
    col = 0
    for (ln, c), (length, weight) in sorted(report.heat.items()):
        if ln != line_no or c < col or c >= len(line):
            continue
        out.append((line[col:c], 0.0))
        out.append((line[c : c + max(length, 1)], weight))
        col = c + max(length, 1)
    out.append((line[col:], 0.0))
    return [(t, w) for t, w in out if t]


def _candidate_line(e: Explanation) -> str:
    return f"{e.text:<24} {e.prob:7.2%}  {_where(e, f'vocabulary (gate {e.gate:.2f})')}"


def _where(e: Explanation, otherwise: str) -> str:
    if e.copied_from:
        return f"copied from line {e.copied_from}"
    if e.source == "file" and e.repeats_line:
        return f"as after the same code on line {e.repeats_line}"
    if e.source == "memory":
        return f"recalled from the project (it followed similar code in {e.recalled_from or 'another file'})"
    if e.source == "defined":
        return f"defined by {DEFINED_BY.get(e.lifted_by, 'what the receiver is')}"
    return f"{otherwise}, {LIFTED_BY[e.lifted_by]}" if e.lifted_by in LIFTED_BY else otherwise


def render_terminal(report: Report, colour: bool = True) -> str:
    peak = max((w for _, w in report.heat.values()), default=1.0) or 1.0
    rows = []
    for n, line in report.lines:
        parts = []
        for text, weight in _spans(report, n, line):
            if colour and weight > 0:
                level = weight / peak
                g = int(255 - 180 * level)
                parts.append(f"\x1b[48;2;255;{g};{g}m\x1b[38;2;0;0;0m{text}\x1b[0m")
            else:
                parts.append(text)
        rows.append(f"{n:>5} | {''.join(parts)}" + ("\u2502" if n == report.cursor[0] else ""))
    rows.append("")
    rows.append("top candidates at the cursor:")
    rows += [f"  {i + 1}. {_candidate_line(e)}" for i, e in enumerate(report.top)]
    if not report.top:
        rows.append("  (none: the cursor is in a string or comment, or no model is loaded)")
    elif not colour:
        rows.append("")
        rows.append("attention (line, token, weight), strongest first:")
        strongest = sorted(((w, ln, c) for (ln, c), (_, w) in report.heat.items()), reverse=True)[:8]
        lines = dict(report.lines)
        for w, ln, c in strongest:
            length = report.heat[(ln, c)][0]
            rows.append(f"  line {ln:>4}: {lines.get(ln, '')[c:c + max(length, 1)]!r:<24} {w:.3f}")
    return "\n".join(rows)


def render_html(report: Report, title: str) -> str:
    """A self-contained page with the same picture."""
    peak = max((w for _, w in report.heat.values()), default=1.0) or 1.0
    code = []
    for n, line in report.lines:
        cells = []
        for text, weight in _spans(report, n, line):
            t = html.escape(text)
            if weight > 0:
                cells.append(f'<span style="background:rgba(230,40,20,{0.08 + 0.8 * weight / peak:.2f})" '
                             f'title="attention {weight:.3f}">{t}</span>')
            else:
                cells.append(t)
        cursor = '<span class="cursor">\u2502</span>' if n == report.cursor[0] else ""
        code.append(f'<span class="ln">{n:>5}</span> {"".join(cells)}{cursor}')
    rows = "".join(
        f"<tr><td>{i + 1}</td><td><code>{html.escape(e.text)}</code></td><td>{e.prob:.1%}</td>"
        f"<td>{_where(e, 'vocabulary')}</td>"
        f"<td>{e.gate:.2f}</td></tr>"
        for i, e in enumerate(report.top)
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #222; }}
pre {{ font: 14px/1.5 ui-monospace, monospace; background: #fafafa; padding: 12px; border: 1px solid #ddd; }}
.ln {{ color: #999; user-select: none; }}
.cursor {{ color: #06c; font-weight: bold; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 4px 10px; border-bottom: 1px solid #eee; text-align: left; }}
</style></head><body>
<h2>heed: where the model looked</h2>
<p>{html.escape(title)}. Red marks the tokens the attention weighed for the first suggestion
(darker = more weight); the pointer copies names from exactly these places.</p>
<pre>{chr(10).join(code)}</pre>
<table><tr><th>#</th><th>suggestion</th><th>probability</th><th>source</th><th>gate (vocabulary share)</th></tr>{rows}</table>
</body></html>
"""
