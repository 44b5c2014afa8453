"""heed's answers -> LSP types. Pure functions, no protocol state."""

from __future__ import annotations

from lsprotocol import types

from heed.model.runtime.attribution import DEFINED_BY, LIFTED_BY
from heed.model.runtime.candidates import Candidate

ITEM_KIND = {
    "function": types.CompletionItemKind.Function,
    "method": types.CompletionItemKind.Method,
    "class": types.CompletionItemKind.Class,
    "module": types.CompletionItemKind.Module,
    "variable": types.CompletionItemKind.Variable,
    "field": types.CompletionItemKind.Field,
    "keyword": types.CompletionItemKind.Keyword,
    "builtin": types.CompletionItemKind.Function,
    "text": types.CompletionItemKind.Text,
    "parameter": types.CompletionItemKind.Variable,  # a keyword argument: `name=` (LSP has no kind of its own)
}
SOURCE_LABEL = {"vocabulary": "model", "pointer": "copied", "file": "repeated", "memory": "recalled", "defined": "defined there",
                "scope": "in scope", "project": "in the project"}


def completion_item(candidate: Candidate, rank: int, edit_range: types.Range, data: dict,
                    import_line: tuple[int, str] | None = None) -> types.CompletionItem:
    """One popup item. `sortText` keeps the model's order in clients that sort by it.
    `import_line`: (line, text) of the import a name from another module needs, added with it."""
    prob = f"{candidate.prob:.0%}" if candidate.prob >= 0.005 else ""
    imports = None
    if import_line is not None:
        at = types.Position(import_line[0], 0)
        imports = [types.TextEdit(range=types.Range(at, at), new_text=import_line[1])]
    text = f"{candidate.text}=" if candidate.kind == "parameter" else candidate.text
    return types.CompletionItem(
        label=text,
        kind=ITEM_KIND.get(candidate.kind, types.CompletionItemKind.Text),
        label_details=types.CompletionItemLabelDetails(
            description=" ".join(filter(None, [prob, SOURCE_LABEL[candidate.source]])),
            detail=f" from {candidate.import_from}" if import_line is not None else None),
        detail=f"heed: {candidate.prob:.1%} ({candidate.kind}, {SOURCE_LABEL[candidate.source]})"
        + (f", defined in {candidate.where}" if candidate.where else ""),
        sort_text=f"{rank:04d}",
        filter_text=candidate.text,
        text_edit=types.TextEdit(range=edit_range, new_text=text),
        additional_text_edits=imports,
        data=data,
    )


def explanation_markdown(explanation) -> str:  # type: ignore[no-untyped-def]
    """Why the model suggested an item: where it looked, and whether it copied the name."""
    e = explanation
    head = f"**heed** {e.prob:.1%}"
    if e.copied_from is not None:
        head += f" · copied from line {e.copied_from} (pointer)"
    elif e.source == "file" and e.repeats_line is not None:
        head += f" · followed the same code on line {e.repeats_line} (this file's n-grams)"
    elif e.source == "memory":
        head += f" · recalled from the project: it followed similar code in `{e.recalled_from or 'another file'}`"
    elif e.source == "defined":
        head += f" · defined by {DEFINED_BY.get(e.lifted_by, 'what the receiver is')} (the model has not seen this name)"
    else:
        head += f" · from the vocabulary (gate {e.gate:.2f})"
    head += f" · {LIFTED_BY[e.lifted_by]}" if e.lifted_by in LIFTED_BY else ""
    lines = [head, "", "The model looked most at:", "", "| line | code | weight |", "|---:|---|---:|"]
    for line, code, weight in e.spans:
        code = code.replace("|", "\\|").replace("`", "'")
        lines.append(f"| {line} | `{code[:80]}` | {weight:.2f} |")
    return "\n".join(lines)


def inline_item(text: str, edit_range: types.Range) -> types.InlineCompletionItem:
    return types.InlineCompletionItem(insert_text=text, range=edit_range)
