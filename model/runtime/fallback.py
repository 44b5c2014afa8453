"""The popup without a model (still loading, missing or corrupt): names in scope, ranked by how
often the document uses them (then the project's, from the workspace index); after an imported
module's name and a dot, the names it defines; in an import statement, what it can import.
No network runs on this path.
"""

from __future__ import annotations

from pathlib import Path

from heed.model.lookup.import_spot import import_spot, spot_names
from heed.model.lookup.imports import receiver_in_stream
from heed.model.lookup.modules import SHARED
from heed.model.lookup.scope import scope_at
from heed.model.runtime.candidates import Popup, finish_popup, project_names
from heed.model.text.cursor import is_after_dot, typed_prefix
from heed.model.text.stream import TokenStream
from heed.model.workspace.index import WorkspaceIndex


def fallback_popup(stream: TokenStream, offset: int, max_items: int, path: Path | None = None,
                   workspace: WorkspaceIndex | None = None) -> Popup:
    """The popup without a model: names in scope (after a module's name, its names), by
    frequency in the document, then the project's (`workspace`). `path`: the document's file,
    for its relative imports."""
    prefix = typed_prefix(stream.text, offset)
    after_dot = is_after_dot(stream.text, offset - len(prefix))
    module = receiver_in_stream(SHARED, stream, offset - len(prefix), path) if after_dot else None
    spot = None if after_dot else import_spot(stream.text, offset - len(prefix))
    importable = spot_names(spot, SHARED, path, lambda _: -1) if spot is not None else None
    return finish_popup(stream, offset, prefix, after_dot, scope_at(stream, offset), {}, max_items, False, module, SHARED,
                        importable.kinds if importable is not None else None,
                        project_names(workspace, prefix, after_dot, path), importable is not None, path)
