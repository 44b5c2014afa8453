"""How long-running model work learns that its answer is no longer wanted.

A job gets a `Cancelled` probe (a newer request, an edit, or the client's `$/cancelRequest`
makes it true), checks it between chunks of work, and raises `RequestCancelled` to drop what it
did. The server imports this before any model is loaded.
"""

from __future__ import annotations

from collections.abc import Callable

Cancelled = Callable[[], bool]


class RequestCancelled(Exception):
    """The request was superseded or cancelled; its partial work is dropped."""
