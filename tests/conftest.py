"""Shared fixtures for the test suite.

Each group of fixtures lives in its own section below; add new groups as new sections.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import sys
import sysconfig
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

# =============================================================================================
# heed model fixtures: token stream, corpus, network, training, inference (tests/test_*.py)
#
# Everything here is tiny on purpose: the suite runs on a loaded 2-core CPU box.
# =============================================================================================

STDLIB = Path(sysconfig.get_paths()["stdlib"])
TINY_VOCAB_SIZE = 500


def pick_stdlib_files(n: int, min_bytes: int = 2_000, max_bytes: int = 12_000, seed: int = 0) -> list[Path]:
    """`n` top-level standard-library modules within a size range; the same ones on every run."""
    pool = sorted(p for p in STDLIB.glob("*.py") if min_bytes <= p.stat().st_size <= max_bytes)
    return sorted(random.Random(seed).sample(pool, min(n, len(pool))))


@pytest.fixture(scope="session")
def stdlib_files() -> Callable[..., list[Path]]:
    """`stdlib_files(n, min_bytes=..., max_bytes=..., seed=...)`: a deterministic sample of stdlib modules."""
    return pick_stdlib_files


def _name_in_split(split: str, stem: str, label: str) -> str:
    """A file name `stem_<i>.py` that `split_of` sends to `split` under the source `label`."""
    from heed.model.training.corpus import split_of

    for i in itertools.count():
        name = f"{stem}_{i}.py"
        if split_of(f"{label}/{name}") == split:
            return name
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus folder built from 8 small stdlib modules: 6 train, 1 valid, 1 test; vocabulary <= 500."""
    from heed.model.training.corpus import Source, build_corpus

    base = tmp_path_factory.mktemp("tiny_corpus")
    src = base / "src"
    src.mkdir()
    files = pick_stdlib_files(8, 2_000, 10_000, seed=1)
    for path, split in zip(files, ["valid", "test"] + ["train"] * 6):
        shutil.copyfile(path, src / _name_in_split(split, path.stem, "tiny"))
    build_corpus(base / "corpus", [Source(src, "tiny")], vocab_size=TINY_VOCAB_SIZE, min_count=2,
                 cache_dir=base / "cache", jobs=1, progress=False)
    return base / "corpus"


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised (untrained) HeedLM over the tiny corpus's vocabulary, saved with `save_model`."""
    import torch

    from heed.model.nn.member_table import MemberTable
    from heed.model.nn.network import HeedLM, ModelConfig
    from heed.model.nn.store import save_model
    from heed.model.training.corpus import corpus_vocab, load_split

    vocab = corpus_vocab(tiny_corpus)
    torch.manual_seed(0)
    model = HeedLM(ModelConfig(vocab_size=len(vocab), embed=16, role_embed=4, hidden=32, window=16, far=8, dropout=0.0))
    folder = tmp_path_factory.mktemp("tiny_model") / "model"
    save_model(folder, model, vocab, {"note": "random weights, for tests"})
    MemberTable.build(load_split(tiny_corpus, "train").ids, vocab).save(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_predictor(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    """A `Predictor` over the tiny random model (read-only: copy the model before changing it)."""
    from heed.model.runtime.predictor import load_predictor

    return load_predictor(tiny_model_dir)


@pytest.fixture(scope="session")
def sample_source() -> str:
    """A real ~200-line Python module (from the standard library)."""
    for name in ("fnmatch.py", "glob.py", "colorsys.py", "sched.py"):
        if (STDLIB / name).is_file():
            return (STDLIB / name).read_text(encoding="utf-8")
    raise AssertionError(f"no sample module found in {STDLIB}")


# =============================================================================================
# A heed server over stdio in a workspace (tests/test_workspace_server.py, tests/test_learning.py)
# =============================================================================================

@pytest_asyncio.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """`await start(root, ...)`: a server in the workspace `root` (None: no workspace), initialized."""
    clients: list[LanguageClient] = []

    async def starting(root: Path | None, *, spec: str = "visual-studio-code", options: dict | None = None,
                       progress: bool = True, cache: Path | None = None, model: bool = False) -> LanguageClient:
        env = {**os.environ, "HEED_DEBUG": "1", "HEED_CACHE": str(cache or tmp_path / "cache")}
        log_file = tmp_path / f"server{len(clients)}.log"
        command = [sys.executable, "-m", "heed", "serve", "--log-file", str(log_file)]
        client = await ClientServerConfig(server_command=command, server_env=env).start()
        client.log_file = log_file  # type: ignore[attr-defined]
        clients.append(client)
        client.registrations = registrations = []  # type: ignore[attr-defined]

        @client.feature(types.CLIENT_REGISTER_CAPABILITY)
        def on_register(params: types.RegistrationParams) -> None:
            registrations.extend(params.registrations)

        caps = client_capabilities(spec)
        if not progress:
            caps.window.work_done_progress = False
        settings = {**({} if model else {"modelPath": str(tmp_path / "no-model")}), **(options or {})}
        client.init_result = await client.initialize_session(types.InitializeParams(  # type: ignore[attr-defined]
            capabilities=caps, initialization_options=settings, root_uri=root.as_uri() if root else None,
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)] if root else None))
        return client

    yield starting
    for client in clients:
        await client.shutdown_session()
        await client.stop()
