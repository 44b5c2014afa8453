"""The model behind the server: loaded in the background, run on one worker thread.

Loading happens off the event loop after `initialized`; until it finishes, and whenever the
model is missing or broken, requests are answered without it (`heed.model.runtime.fallback`).

All model work runs on a single worker thread, one job at a time, because the per-document
state caches are not thread-safe and two jobs would only fight over the CPU. Each job gets a
`cancelled()` probe that turns true when a newer request of the same kind arrives for the same
document, when the document changes, or when the client cancels: the job stops at its next
check and the handler answers at once with an empty result.

In the worker's idle time, background jobs (warming the documents' model states) run under the
same kind of probe: any request arriving stops them at their next check, and they are tried
again once the requests are done.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from heed.model.runtime.cancel import RequestCancelled

log = logging.getLogger(__name__)
T = TypeVar("T")
IDLE_RETRY = 0.3  # seconds before a background job stopped by a request is tried again


@dataclass
class Status:
    state: str  # loading, ready, fallback, error
    model: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"state": self.state, "model": self.model, "message": self.message}


class Engine:
    def __init__(self) -> None:
        self.predictor: Any = None  # heed.model.runtime.predictor.Predictor once loaded
        self.status = Status("loading", "", "loading the model")
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heed-model")
        self.generation: dict[tuple[str, str], int] = {}
        self.load_started = 0.0
        self._load_lock = threading.Lock()
        self.busy = 0  # requests queued or running (touched on the event loop only)
        self.timers: dict[str, asyncio.TimerHandle] = {}

    # -- loading ----------------------------------------------------------------------------------
    async def load_off_loop(self, model_path: str, threads: int) -> Status:
        """`load` on a thread of its own, which ends with it, so that no pool keeps a thread for
        it. (When the server ran torch, whose OpenMP keeps a team of spinning threads for every
        thread that ran an operation, a loader thread that stayed alive made the worker's model
        runs 2.7 times slower on two cores.)"""
        statuses: list[Status] = []
        thread = threading.Thread(target=lambda: statuses.append(self.load(model_path, threads)), name="heed-load",
                                  daemon=True)
        thread.start()
        await asyncio.get_running_loop().run_in_executor(None, thread.join)  # gone before the worker runs the model
        return statuses[0]  # `load` never raises

    def load(self, model_path: str, threads: int) -> Status:
        """Load a model (blocking; call from a thread). Never raises: failures become a status."""
        with self._load_lock:
            self.load_started = time.monotonic()
            name = model_path or "bundled default"
            try:
                from heed.model.nn.store import ModelError, default_model_dir
                from heed.model.runtime.predictor import load_predictor

                folder = Path(model_path).expanduser() if model_path else default_model_dir()
                try:
                    self.predictor = load_predictor(folder, threads=threads)
                except ModelError as exc:
                    self.predictor = None
                    self.status = Status("fallback", name, f"heed could not load its model: {exc}. "
                                         "Suggestions come from the names in scope until this is fixed.")
                    return self.status
                params = self.predictor.model.parameter_count()
                memory = self.predictor.memory
                recalls = f", a project memory of {len(memory):,} names" if memory is not None else ""
                self.status = Status("ready", str(folder), f"model loaded ({params / 1e6:.1f}M parameters, "
                                     f"{len(self.predictor.vocab)} tokens{recalls}) in {time.monotonic() - self.load_started:.1f} s")
            except Exception as exc:  # an unexpected failure must not take the server down
                log.exception("loading the model failed")
                self.predictor = None
                self.status = Status("error", name, f"heed failed to load its model ({type(exc).__name__}: {exc}); "
                                     "suggestions come from the names in scope")
            return self.status

    def warm_up(self) -> None:
        """A popup and a ghost text on a few lines (on the worker): the first runs are slower
        (OpenBLAS's buffers, caches, the lexer's first compiled patterns), and the first request
        must not pay for them (nor miss its ghost text: beam search has a time budget)."""
        if self.predictor is None:
            return
        from heed.model.runtime.completer import Completer
        from heed.model.text.stream import TokenStream

        started = time.monotonic()
        text = "import os\n\n\ndef main(path):\n    name = os.path.basename(path)\n    print(name.upper())\n    return os."
        completer, stream = Completer(self.predictor), TokenStream(text)
        completer.popup(stream, len(text), quick=True)
        completer.inline(stream, len(text) - len("os."), quick=True)
        log.debug("warmed up in %.2f s", time.monotonic() - started)

    # -- jobs -------------------------------------------------------------------------------------
    async def run(self, uri: str, kind: str, job: Callable[[Callable[[], bool]], T], is_stale: Callable[[], bool]) -> T:
        """Run `job(cancelled)` on the worker; raise RequestCancelled if it was made moot (before it
        started, or by the job itself at its next check)."""
        key = (uri, kind)
        self.generation[key] = mine = self.generation.get(key, 0) + 1
        cancelled_by_client = threading.Event()

        def cancelled() -> bool:
            return cancelled_by_client.is_set() or self.generation.get(key) != mine or is_stale()

        def guarded() -> T:
            if cancelled():
                raise RequestCancelled
            return job(cancelled)

        loop = asyncio.get_running_loop()
        self.busy += 1
        try:
            return await loop.run_in_executor(self.worker, guarded)
        except asyncio.CancelledError:
            cancelled_by_client.set()  # the worker stops at its next check
            raise
        finally:
            self.busy -= 1

    # -- background jobs --------------------------------------------------------------------------
    def when_idle(self, key: str, job: Callable[[Callable[[], bool]], None], delay: float) -> None:
        """Run `job(stop)` on the worker `delay` seconds from now (a later call with the same key
        replaces this one); `stop()` turns true when a request arrives, and the job is retried later."""
        old = self.timers.pop(key, None)
        if old is not None:
            old.cancel()
        self.timers[key] = asyncio.get_running_loop().call_later(delay, self._start_idle, key, job)

    def cancel_idle(self, key: str) -> None:
        old = self.timers.pop(key, None)
        if old is not None:
            old.cancel()

    def _start_idle(self, key: str, job: Callable[[Callable[[], bool]], None]) -> None:
        self.timers.pop(key, None)
        if self.busy:
            self.when_idle(key, job, IDLE_RETRY)
            return
        try:
            future = asyncio.get_running_loop().run_in_executor(self.worker, job, lambda: self.busy > 0)
        except RuntimeError:  # the worker was shut down (after `shutdown`)
            return
        future.add_done_callback(lambda f: self._idle_done(key, job, f))

    def _idle_done(self, key: str, job: Callable[[Callable[[], bool]], None], future: asyncio.Future) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if isinstance(exc, RequestCancelled):
            if key not in self.timers:  # nothing newer scheduled: try again
                self.when_idle(key, job, IDLE_RETRY)
        elif exc is not None:
            log.error("background job %s failed", key, exc_info=exc)

    async def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the worker (for work that must not race the model jobs); like a request, it
        stops the background job running there at its next check."""
        self.busy += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.worker, fn)
        finally:
            self.busy -= 1

    def close(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        self.worker.shutdown(wait=False, cancel_futures=True)
