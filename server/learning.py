""""Learn this project": `heed adapt` on the workspace, run by the server, and its model used.

The editor asks with the command `heed.learnProject` (VS Code: "heed: Learn This Project";
Neovim: `:HeedLearn`). The server runs `heed adapt` on the first workspace folder as a separate
process (niced, one thread: the server keeps answering), shows it as a cancellable `$/progress`
bar (a cancel kills the process; `heed adapt` writes its model whole or not at all), and once
it succeeds loads the adapted model in place of the one in use, without a restart. From then
on, a server started in that workspace loads the adapted model when it exists and loads: a
broken, partial or foreign one (another tokenizer) is never used, and the log says why.
Training needs torch, which a plain install leaves out (completion runs in numpy): where the
server's Python lacks it, the server asks whether to install its CPU build there (pip, with its
own cancellable bar) before it learns. `heed.forgetProject` deletes it and goes back to the bundled model. A model the user names in
`heed.modelPath` always wins. With `heed.learn.automatic` (off by default) the server learns by
itself when it starts in a workspace it has not learned, or whose files changed enough since.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import shutil
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lsprotocol import types

from heed.model.nn.store import TORCH_CPU_INDEX, torch_missing
from heed.model.workspace.cache import adapted_dir
from heed.model.workspace.files import python_files
from heed.server.progress import ClientProgress

log = logging.getLogger(__name__)
LEARN_COMMAND, FORGET_COMMAND = "heed.learnProject", "heed.forgetProject"
DEFAULT_MINUTES = 3.0  # `heed adapt`'s own default budget
SETUP_SECONDS = 30.0  # what the corpus takes before training starts, for the bar's percentage
CHANGED_SHARE, CHANGED_MIN = 0.1, 10  # files changed since the last run that make an automatic one
INSTALL_TORCH = "Install torch"
TORCH_INSTALL = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar",
                 "off", "torch", "--index-url", TORCH_CPU_INDEX]
INSTALL_MINUTES = 3.0  # about what pip takes, for the bar's percentage


def adapted_model(root: Path | None) -> Path | None:
    """The adapted model of a workspace, when one was written there (whole: `heed adapt` moves it
    into place at once)."""
    if root is None:
        return None
    folder = adapted_dir(root)
    return folder if (folder / "model.safetensors").is_file() and (folder / "config.json").is_file() else None


def needs_learning(root: Path, exclude: list[str]) -> str:
    """Why the workspace should be learned again ("" if not): it has no adapted model, or more
    of its Python files changed since it was made than CHANGED_SHARE of them (at least
    CHANGED_MIN). Reads the files' times, so it runs off the event loop."""
    files = list(python_files(root, exclude, Counter()))
    if not files:
        return ""
    model = adapted_model(root)
    if model is None:
        return f"it has not learned {root.name} yet"
    made = (model / "model.safetensors").stat().st_mtime
    changed = sum(1 for f in files if f.stat().st_mtime > made)
    if changed >= max(CHANGED_MIN, CHANGED_SHARE * len(files)):
        return f"{changed} of {root.name}'s {len(files)} Python files changed since it last learned it"
    return ""


class Learner:
    """One `heed adapt` at a time, with its progress bar and its process."""

    def __init__(self, server: Any, reload: Callable[[], Awaitable[None]]):
        self.server = server
        self.reload = reload  # loads the model the server should use now
        self.process: asyncio.subprocess.Process | None = None
        self.progress: ClientProgress | None = None
        self.cancelled = False
        self.active = False  # from a request to its end: a second one meanwhile is told so

    async def learn(self, root: Path | None, minutes: float = DEFAULT_MINUTES) -> str:
        if root is None:
            return self._say(types.MessageType.Warning, "heed: open a folder first: it learns the workspace's Python files")
        if self.active:
            return self._say(types.MessageType.Info, "heed is already learning this project")
        self.active, self.cancelled = True, False
        try:
            return await self._learn(root, minutes)
        finally:
            self.active, self.process = False, None

    async def _learn(self, root: Path, minutes: float) -> str:
        missing = torch_missing()
        if missing:
            failed = await self._install_torch(missing)
            if failed:
                return failed
        command = [sys.executable, "-m", "heed", "-v", "adapt", str(root), "--max-minutes", f"{minutes:g}"]
        log.info("learning the project: %s", " ".join(command))
        code, tail, progress = await self._run(command, "heed: learning this project", f"reading {root.name}'s Python files",
                                               minutes)
        if isinstance(code, str):
            return self._say(types.MessageType.Error, f"heed could not start learning: {code}")
        if self.cancelled:
            progress.end("cancelled")
            return self._say(types.MessageType.Info, "heed: learning this project was cancelled; the model in use stays")
        if code != 0:
            progress.end("failed")
            why = next((line for line in reversed(tail) if line.startswith("heed:")), tail[-1] if tail else f"exit code {code}")
            return self._say(types.MessageType.Error, f"heed could not learn this project: {why}")
        progress.end("learned: loading the adapted model")
        await self.reload()
        return self._say(types.MessageType.Info, f"heed has learned {root.name}: {tail[-1] if tail else ''}".rstrip(": "))

    async def _install_torch(self, why: str) -> str:
        """Ask to install torch's CPU build into the server's Python, and do it: "" once torch is
        there, else what was said."""
        choice = await self.server.ask(
            types.MessageType.Warning, "heed: learning this project needs torch, which heed's Python lacks. Install its "
            "CPU build there now (about 200 MB to download)?", [INSTALL_TORCH, "Not now"])
        if choice != INSTALL_TORCH:
            return self._say(types.MessageType.Info, f"heed: not learning this project without torch. {why}")
        log.info("installing torch: %s", " ".join(TORCH_INSTALL))
        code, tail, progress = await self._run(TORCH_INSTALL, "heed: installing torch", "pip install torch (CPU build)",
                                               INSTALL_MINUTES)
        if isinstance(code, str):
            return self._say(types.MessageType.Error, f"heed could not install torch: {code}. {why}")
        if self.cancelled:
            progress.end("cancelled")
            return self._say(types.MessageType.Info, "heed: installing torch was cancelled; nothing is learned")
        importlib.invalidate_caches()
        if code != 0 or torch_missing():
            progress.end("failed")
            error = next((line for line in reversed(tail) if line.startswith("ERROR")), tail[-1] if tail else f"exit code {code}")
            return self._say(types.MessageType.Error, f"heed could not install torch: {error}. {why}")
        progress.end("torch installed")
        return ""

    async def _run(self, command: list[str], title: str, message: str, minutes: float
                   ) -> tuple[int | str, list[str], ClientProgress]:
        """Run `command` under a cancellable bar: (its exit code, or why it did not start; the
        lines it wrote; the bar, ended only where it did not start)."""
        progress = self.progress = ClientProgress(self.server, title, cancellable=True)
        await progress.begin(message, 0)
        try:
            self.process = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            progress.end("failed")
            return str(exc), [], progress
        tail = await self._follow(self.process, minutes)
        code = await self.process.wait()
        self.process = None
        return code, tail, progress

    async def _follow(self, process: asyncio.subprocess.Process, minutes: float) -> list[str]:
        """Show the process's last line in the bar, with the share of its time budget spent; the
        lines it wrote, for the message at the end."""
        lines: list[str] = []
        started = time.monotonic()

        async def read(stream: asyncio.StreamReader | None) -> None:
            if stream is None:
                return
            pending = b""
            while chunk := await stream.read(4096):
                pending += chunk
                *done, pending = pending.replace(b"\r", b"\n").split(b"\n")
                for raw in done:
                    line = raw.decode("utf-8", "replace").strip()
                    if not line:
                        continue
                    lines.append(line)
                    del lines[:-50]
                    share = (time.monotonic() - started) / (minutes * 60 + SETUP_SECONDS)
                    if self.progress is not None:
                        self.progress.report(line[:120], min(99, int(100 * share)))

        await asyncio.gather(read(process.stdout), read(process.stderr))
        return lines

    async def learn_if_needed(self, root: Path | None, minutes: float, exclude: list[str]) -> None:
        """The automatic run (`heed.learn.automatic`): learn when `needs_learning` says why."""
        if root is None or self.active:
            return
        try:
            why = await asyncio.to_thread(needs_learning, root, exclude)
        except OSError as exc:
            log.warning("could not tell whether %s changed since heed learned it: %s", root, exc)
            return
        if why:
            log.info("learning the project by itself: %s", why)
            await self.learn(root, minutes)

    def cancel(self, token: str | int) -> bool:
        """`window/workDoneProgress/cancel` for this bar: kill the process."""
        if self.process is None or self.progress is None or self.progress.token != token:
            return False
        self.cancelled = True
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        return True

    async def forget(self, root: Path | None) -> str:
        folder = adapted_dir(root) if root is not None else None
        if folder is None or not folder.exists():
            return self._say(types.MessageType.Info, "heed has not learned this project: nothing to forget")
        if self.active:
            return self._say(types.MessageType.Warning, "heed is learning this project: cancel that first")
        shutil.rmtree(folder, ignore_errors=True)
        await self.reload()
        return self._say(types.MessageType.Info, "heed has forgotten what it learned of this project: the bundled model is back")

    async def close(self) -> None:
        if self.process is not None:
            self.cancelled = True
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    def _say(self, kind: types.MessageType, message: str) -> str:
        self.server.show(kind, message)
        return message
