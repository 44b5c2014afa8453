"""The JSON-RPC edges pygls 2.1 leaves open, closed the way the LSP specification says.

Found by tests/test_reliability_protocol.py and tests/test_reliability_edits.py; each case
below was a hang, a crash or a wrong document before:

- A `Content-Length` larger than any real message (say 100 GB): pygls allocated it up front and
  the server died of MemoryError. Frames above MAX_MESSAGE_BYTES are refused (-32700) and
  skipped, read in bounded pieces, until the next header.
- Bytes that are not JSON or not UTF-8: pygls logged them and answered nothing. Now: -32700
  ParseError with id null (JSON-RPC 2.0, section 5.1).
- A request whose params do not fit the method (`"position": "x"`): pygls raised while decoding
  and never answered, so the client waited forever. Now: -32602 InvalidParams with its id
  (-32601 when the method is unknown anyway). A notification with bad params is still only
  logged and shown, as pygls does: a notification gets no answer.
- JSON that is no message at all (an array, a number, an object without `jsonrpc: "2.0"`):
  -32600 InvalidRequest, with the id when there is a usable one.
- A request before `initialize`: -32002 ServerNotInitialized; notifications then are dropped
  (except `exit`), as the specification says. pygls ran them.
- A request after `shutdown`: -32600 InvalidRequest. pygls dropped it unanswered.
- `shutdown` while requests were pending: pygls cancelled them while walking its table of
  pending requests, which their callbacks shrank, and answered with an error.
- `exit` without `shutdown` first: the process exits with 1, as LSP says. pygls's SystemExit(1)
  was swallowed by its own loop, so the code was always 0.
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

import logging
from typing import Any, BinaryIO

import attrs
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcMethodNotFound,
    JsonRpcParseError,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import RPCRequest

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a 1 MB file escaped as \uXXXX is 6 MB: far below this
MAX_HEADER_LINE = 64 * 1024  # header lines are read in pieces of at most this


class BoundedStdin:
    """stdin for pygls's reader: a frame too large to be real is not read into memory.

    Reading it would allocate `Content-Length` bytes at once. Instead the body is answered as
    unparsable (one byte that is not JSON) and left in the stream, where pygls's header loop
    reads it in pieces of MAX_HEADER_LINE and drops them until the next `Content-Length`.
    The same resynchronisation recovers from a Content-Length that is merely wrong.
    """

    def __init__(self, raw: BinaryIO):
        self.raw = raw

    def readline(self) -> bytes:
        line = self.raw.readline(MAX_HEADER_LINE)
        # After a frame whose Content-Length was wrong (or refused), the next header follows the
        # leftover body on the same line; pygls only knows a header at the start of a line, so
        # without this every later message would be lost too.
        at = line.find(b"Content-Length:")
        return line[at:] if at > 0 else line

    def read(self, n: int) -> bytes:
        if n > MAX_MESSAGE_BYTES:
            log.warning("refusing a %d-byte message (more than %d): skipping to the next header", n, MAX_MESSAGE_BYTES)
            return b"\x00"
        return self.raw.read(n)


@attrs.define
class Rejected:
    """A message that could not be decoded, and the error to answer it with."""

    id: Any
    error: JsonRpcException


def _usable_id(data: Any) -> Any:
    msg_id = data.get("id") if isinstance(data, dict) else None
    return msg_id if isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool) else None


class HeedProtocol(LanguageServerProtocol):
    initialize_seen = False
    exit_code: int | None = None  # set by the exit notification

    # -- decoding ---------------------------------------------------------------------------------
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            # Only the top-level message has "jsonrpc" (structure_message is json's object_hook).
            msg_id, method = _usable_id(data), data.get("method")
            why = f"{type(exc.__cause__).__name__}: {exc.__cause__}"
            unusable_id = "method" in data and "id" in data and msg_id is None  # null, a float, an object
            if data.get("jsonrpc") != self.VERSION or not isinstance(method, (str, type(None))) or unusable_id:
                return Rejected(msg_id, JsonRpcInvalidRequest(f"not a valid JSON-RPC 2.0 request: {why}"))
            if msg_id is None or method is None:
                raise  # a notification (nobody to answer) or a malformed answer: pygls logs it
            if self.get_message_type(method) is None and method not in self.fm.features:
                return Rejected(msg_id, JsonRpcMethodNotFound.of(method))
            return Rejected(msg_id, JsonRpcInvalidParams(f"invalid params for {method!r}: {why}"))

    def answer_unparsable(self, error: Exception) -> bool:
        """Answer bytes that were not JSON (called from the server's error handler)."""
        if isinstance(error, (ValueError, RecursionError)) and not isinstance(error, JsonRpcException):
            log.warning("unparsable message: %s", error)
            self.send_error(None, JsonRpcParseError(f"Parse error: {error}"))
            return True
        return False

    def send_error(self, msg_id: Any, error: JsonRpcException) -> None:
        # A dict, not ResponseErrorMessage: the converter would drop `"id": null`, which JSON-RPC requires.
        self._send_data({"jsonrpc": "2.0", "id": msg_id,
                         "error": {"code": error.code, "message": error.message}})

    # -- dispatch ---------------------------------------------------------------------------------
    def handle_message(self, message: Any) -> None:
        if isinstance(message, Rejected):
            self.send_error(message.id, message.error)
            return
        if getattr(message, "jsonrpc", None) != self.VERSION:
            self.send_error(_usable_id(message) if isinstance(message, dict) else getattr(message, "id", None),
                            JsonRpcInvalidRequest('not a JSON-RPC 2.0 message (needs "jsonrpc": "2.0")'))
            return
        method = getattr(message, "method", None)
        request = isinstance(message, RPCRequest)
        if method is not None and not isinstance(method, str):
            self.send_error(getattr(message, "id", None), JsonRpcInvalidRequest("the method must be a string"))
            return
        if method == types.EXIT:
            self.exit_code = 0 if self._shutdown else 1  # pygls loses it: see HeedServer.start_io
        if method == types.INITIALIZE:
            self.initialize_seen = True
        elif method is not None and method != types.EXIT:
            if not self.initialize_seen:
                if request:
                    self.send_error(message.id, JsonRpcServerNotInitialized(f"{method}: the server is not initialized yet"))
                return  # notifications before initialize are dropped
            if self._shutdown:
                if request:
                    self.send_error(message.id, JsonRpcInvalidRequest(f"{method}: the server is shutting down"))
                return
        super().handle_message(message)

    # -- bookkeeping ----------------------------------------------------------------------------
    # pygls 2.1 files the future of a notification whose handler is a generator (didOpen,
    # didChange, didClose, initialized, ...), and of each step such a generator runs, in
    # _request_futures under a made-up id, and only requests are ever removed from there: every
    # keystroke leaked a Future (about 3 KB; bench/soak.py saw 1.8 MB per 1,000 steps, steadily).
    def _forget(self, future: Any) -> None:
        for key in [k for k, f in self._request_futures.items() if f is future]:
            del self._request_futures[key]

    def _check_handler_result(self, future: Any) -> None:
        self._forget(future)
        super()._check_handler_result(future)

    def _run_generator(self, future: Any, *, gen: Any, result_future: Any) -> None:
        if future is not None:
            self._forget(future)
        super()._run_generator(future, gen=gen, result_future=result_future)

    # -- shutdown ---------------------------------------------------------------------------------
    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Any:
        """pygls 2.1's, walking a copy of the pending requests: cancelling one runs its callbacks
        at once (a concurrent Future), and they remove it from the table being walked, so
        `shutdown` after a benchmark's requests was answered with "dictionary changed size during
        iteration" (tests/test_reliability_protocol.py; tests/test_pygls_contract.py fails if
        pygls's own changes)."""
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current_id = self.msg_id  # this request's future stays: its answer is the reply
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True

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
