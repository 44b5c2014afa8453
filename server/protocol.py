"""The LSP edges pygls 2.1 leaves open, closed the way the specification says.

Found by tests/test_reliability_edits.py; each case below was a wrong document before:

- didOpen/didChange/didClose: heed keeps its own documents (server/documents.py), so pygls's
  workspace copy is not kept. Keeping it cost a second copy of every file and a split of the
  whole file per keystroke, and it was harmful: it splits lines at \\f, \\v, U+2028 and others
  that are not LSP line breaks, and it *rewrote* `position.character` in the params before
  heed's handler saw them: a character past the end of the last line became one before its end
  (LSP says: the end), and after a form feed the line was measured wrongly, so the edit landed
  in the wrong place in heed's copy (hypothesis's smallest case: "x", insert at line 0,
  character 2). A change to a document that is not open made it raise KeyError, which popped up
  "Error in server" in the editor.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol, lsp_method


class HeedProtocol(LanguageServerProtocol):
    # -- documents: heed's own (see the module docstring) ----------------------------------------
    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Any:
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None
