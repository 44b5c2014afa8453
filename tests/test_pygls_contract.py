"""What heed's server takes from pygls beyond its public API (server/protocol.py), checked
against the installed pygls: a release that changes any of it fails here, loudly, before it
misbehaves in an editor. Each assertion names the override that depends on it."""

from __future__ import annotations

import inspect

from pygls.protocol import LanguageServerProtocol

from heed.server.app import create_server


def test_the_methods_heed_overrides_still_exist_with_their_signatures() -> None:
    for name in ("structure_message", "handle_message", "get_message_type", "_send_data", "_check_handler_result"):
        assert callable(getattr(LanguageServerProtocol, name, None)), f"pygls lost {name}: see server/protocol.py"
    run = inspect.signature(LanguageServerProtocol._run_generator).parameters
    assert list(run)[:2] == ["self", "future"] and {"gen", "result_future"} <= set(run), (
        "pygls changed _run_generator: HeedProtocol._run_generator forwards (future, gen=, result_future=)")


def test_the_builtin_handlers_heed_replaces_are_the_ones_pygls_has() -> None:
    """HeedProtocol keeps its own documents and its own shutdown; pygls must still route those
    methods through these names, or its own handlers would run beside heed's."""
    for name in ("lsp_text_document__did_open", "lsp_text_document__did_change", "lsp_text_document__did_close",
                 "lsp_shutdown"):
        assert hasattr(LanguageServerProtocol, name), f"pygls renamed {name}: see server/protocol.py"


def test_heeds_shutdown_mirrors_pyglss() -> None:
    """HeedProtocol.lsp_shutdown is pygls 2.1's with the pending requests walked over a copy; if
    pygls's changes, the copy must be brought up to date (or dropped, if pygls fixed the walk)."""
    source = inspect.getsource(LanguageServerProtocol.lsp_shutdown)
    for line in ("yield user_handler, args, None", "current_id = self.msg_id",
                 "for msg_id, future in self._request_futures.items():", "future.cancel()", "self._shutdown = True"):
        assert line in source, f"pygls's lsp_shutdown changed ({line!r} is gone): update HeedProtocol.lsp_shutdown"


def test_the_protocol_state_heed_reads_is_there() -> None:
    protocol = create_server().protocol
    assert isinstance(protocol._request_futures, dict)  # HeedProtocol._forget, lsp_shutdown
    assert protocol._shutdown is False  # handle_message refuses requests after shutdown
    assert hasattr(protocol, "msg_id") and hasattr(protocol, "fm") and hasattr(protocol.fm, "features")
    assert protocol.VERSION == "2.0"
