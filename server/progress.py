"""One `$/progress` bar in the client (loading the model, indexing the workspace).

Shown only when the client says it supports work-done progress and accepts the token: a client
that refuses it, or never answers, still gets everything else, and every call here then does
nothing. The work may end before the client has answered: the bar then begins and ends at once,
so a client never keeps a bar that nothing will end.
"""

from __future__ import annotations

import asyncio
import uuid

from lsprotocol import types
from pygls.lsp.server import LanguageServer

CREATE_TIMEOUT = 5.0  # seconds a client may take to accept a progress token


class ClientProgress:
    def __init__(self, server: LanguageServer, title: str, cancellable: bool = False):
        self.server, self.title, self.cancellable = server, title, cancellable
        self.token: str | None = None  # once the client accepted it and the bar began
        self.final: str | None = None  # the end's message, once the work ended

    async def begin(self, message: str, percentage: int | None = None) -> None:
        caps = self.server.client_capabilities
        if not (caps.window and caps.window.work_done_progress):
            return
        token = str(uuid.uuid4())
        try:
            await asyncio.wait_for(self.server.work_done_progress.create_async(token), CREATE_TIMEOUT)
            self.server.work_done_progress.begin(
                token, types.WorkDoneProgressBegin(title=self.title, message=message, percentage=percentage,
                                                   cancellable=self.cancellable))
        except Exception:  # a client that refuses progress still gets completions
            return
        self.token = token
        if self.final is not None:  # the work ended while the client answered
            self.server.work_done_progress.end(token, types.WorkDoneProgressEnd(message=self.final))

    def report(self, message: str, percentage: int | None = None) -> None:
        if self.token is not None and self.final is None:
            self.server.work_done_progress.report(token=self.token, value=types.WorkDoneProgressReport(
                message=message, percentage=percentage))

    def end(self, message: str) -> None:
        if self.final is not None:
            return
        self.final = message
        if self.token is not None:
            self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
