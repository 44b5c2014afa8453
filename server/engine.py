"""The model behind the server: loaded in the background, run on one worker thread.

Loading happens off the event loop after `initialized`; until it finishes, and whenever the
model is missing or broken, requests are answered without it (`heed.model.candidates`).

All model work runs on a single worker thread, one job at a time, because the per-document
state caches are not thread-safe and two jobs would only fight over the CPU. Each job gets a
`cancelled()` probe that turns true when a newer request of the same kind arrives for the same
document, when the document changes, or when the client cancels: the job stops at its next
check and the handler answers at once with an empty result.
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

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Status:
    state: str  # loading, ready, fallback, error
    model: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"state": self.state, "model": self.model, "message": self.message}


class Superseded(Exception):
    """A newer request made this one moot."""


class Engine:
    def __init__(self) -> None:
        self.predictor: Any = None  # heed.model.inference.Predictor once loaded
        self.status = Status("loading", "", "loading the model")
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="heed-model")
        self.generation: dict[tuple[str, str], int] = {}
        self.load_started = 0.0
        self._load_lock = threading.Lock()

    # -- loading ----------------------------------------------------------------------------------
    def load(self, model_path: str, threads: int) -> Status:
        """Load a model (blocking; call from a thread). Never raises: failures become a status."""
        with self._load_lock:
            self.load_started = time.monotonic()
            name = model_path or "bundled default"
            try:
                import torch

                from heed.model.inference import Predictor
                from heed.model.store import ModelError, default_model_dir, load_model

                torch.set_num_threads(threads or min(4, torch.get_num_threads()))
                folder = Path(model_path).expanduser() if model_path else default_model_dir()
                try:
                    model, vocab, meta = load_model(folder)
                except ModelError as exc:
                    self.predictor = None
                    self.status = Status("fallback", name, f"heed could not load its model: {exc}. "
                                         "Suggestions come from the names in scope until this is fixed.")
                    return self.status
                self.predictor = Predictor(model, vocab, meta)
                params = sum(p.numel() for p in model.parameters())
                self.status = Status("ready", str(folder), f"model loaded ({params / 1e6:.1f}M parameters, "
                                     f"{len(vocab)} tokens) in {time.monotonic() - self.load_started:.1f} s")
            except Exception as exc:  # an unexpected failure must not take the server down
                log.exception("loading the model failed")
                self.predictor = None
                self.status = Status("error", name, f"heed failed to load its model ({type(exc).__name__}: {exc}); "
                                     "suggestions come from the names in scope")
            return self.status

    # -- jobs -------------------------------------------------------------------------------------
    async def run(self, uri: str, kind: str, job: Callable[[Callable[[], bool]], T], is_stale: Callable[[], bool]) -> T:
        """Run `job(cancelled)` on the worker; raise Superseded if it was made moot."""
        key = (uri, kind)
        self.generation[key] = mine = self.generation.get(key, 0) + 1
        cancelled_by_client = threading.Event()

        def cancelled() -> bool:
            return cancelled_by_client.is_set() or self.generation.get(key) != mine or is_stale()

        def guarded() -> T:
            if cancelled():
                raise Superseded
            return job(cancelled)

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.worker, guarded)
        except asyncio.CancelledError:
            cancelled_by_client.set()  # the worker stops at its next check
            raise
        except Exception as exc:
            if type(exc).__name__ == "RequestCancelled":
                raise Superseded from exc
            raise

    async def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the worker (for work that must not race the model jobs)."""
        return await asyncio.get_running_loop().run_in_executor(self.worker, fn)

    def close(self) -> None:
        self.worker.shutdown(wait=False, cancel_futures=True)
