"""Where a ghost-text suggestion's line ends, from what surrounds the cursor: a layout of one
item per line (a comma ends the item), and code after the cursor that the suggestion must not
type again."""

from __future__ import annotations

from heed.model.runtime.context import CursorContext


def overlap(text: str, rest: str) -> int:
    """How much of the end of `text` the code after the cursor already holds: the suggestion stops
    before it, not re-typing it (an editor's auto-closed `)` after `print(os.pa|`: the suggestion
    `th)` is shown as `th`; shown whole it made `print(os.path))`, which the syntax check refused,
    so ghost text never showed inside an auto-closed bracket)."""
    for k in range(min(len(text), len(rest)), 0, -1):
        if rest[:k].strip() and text.endswith(rest[:k]):
            return k
    return 0


def exploded_depth(ctx: CursorContext, tokens_on_cursor_line: bool) -> int | None:
    """How many brackets are open at the start of the cursor's line, when the innermost of them
    ends the line it was opened on (one item per line, as black lays out a long call or
    signature): there a `,` that leaves as many open ends the line. None otherwise."""
    n = len(ctx.line_before)
    texts, lines = ctx.line_before, ctx.lines[len(ctx.lines) - n :].tolist()
    if len(lines) < n or not n:
        return None
    earlier = sum(1 for line in lines if line < lines[-1]) if tokens_on_cursor_line else n
    stack: list[int] = []  # indices of the open brackets among the earlier tokens
    for i in range(earlier):
        if texts[i] in "([{":
            stack.append(i)
        elif texts[i] in ")]}" and stack:
            stack.pop()
    if not stack:
        return None
    last = stack[-1]
    ends_its_line = last == earlier - 1 or lines[last + 1] > lines[last]
    return len(stack) if ends_its_line else None
