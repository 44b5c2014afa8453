"""`heed complete`: what the server would answer at a place in a file, without an editor.

The same path as a live request on a document just opened (token stream -> Completer, with the
server's quick path and time budget -> LSP conversion), run once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lsprotocol import converters, types

from heed.model.lookup.auto_import import import_edit
from heed.model.lookup.modules import SHARED
from heed.model.nn.store import ModelError
from heed.model.runtime.completer import Completer
from heed.model.runtime.predictor import Predictor, load_predictor
from heed.model.text.stream import TokenStream
from heed.model.workspace.index import WorkspaceIndex
from heed.server import convert
from heed.server.lines import Lines


def complete_at(path: str, line: int, col: int, inline: bool = False, model: str | None = None,
                max_items: int = 10, workspace: str | None = None) -> dict[str, Any]:
    """{"lsp": the LSP result as JSON, "text": a readable rendering}. `line` and `col` are 1-based.
    `workspace`: a project folder to index first (with the server's cache)."""
    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    lines = Lines(text)
    offset = lines.offset(types.Position(max(line - 1, 0), max(col - 1, 0)))
    try:
        predictor: Predictor | None = load_predictor(model)
        note = ""
    except ModelError as exc:
        predictor, note = None, f"(no model: {exc}; names in scope only)\n"
    index = WorkspaceIndex([Path(workspace).resolve()], SHARED).build() if workspace else None
    completer = Completer(predictor, Path(path).resolve(), workspace=index)
    stream = TokenStream(text)
    convert_json = converters.get_converter().unstructure
    if inline:
        suggestions = completer.inline(stream, offset, quick=True)  # the server's request: its budget and quick path
        typed = suggestions[0].typed if suggestions else ""
        edit = types.Range(lines.position(offset - len(typed)), lines.position(offset))
        items = [convert.inline_item(typed + s.text, edit) for s in suggestions]
        rendered = "\n".join(f"{text[lines.starts[line - 1]:offset]}\u2502{s.text}    (log p {s.logp:.2f}"
                             + (f", confidence {s.confidence:.2f})" if s.confidence is not None else ")") for s in suggestions)
        return {"lsp": convert_json(types.InlineCompletionList(items=items)), "text": note + (rendered or "(no suggestion)")}
    popup = completer.popup(stream, offset, max_items, quick=True)
    edit = types.Range(lines.position(offset - len(popup.prefix)), lines.position(offset))
    data = {"uri": Path(path).resolve().as_uri(), "offset": offset, "version": 0}
    imports = {c.text: e for c in popup.candidates if c.import_from and (e := import_edit(text, c.import_from, c.text))}
    items = [convert.completion_item(c, i, edit, data, imports.get(c.text)) for i, c in enumerate(popup.candidates)]
    rows = [f"{i + 1:>3}. {c.text:<28} {c.prob:7.2%}  {c.kind:<9} {c.source}" + (f" ({c.where})" if c.where else "")
            for i, c in enumerate(popup.candidates)]
    return {"lsp": convert_json(types.CompletionList(is_incomplete=True, items=items)), "text": note + "\n".join(rows)}
