"""The Neovim plugin's own environment: `require('heed.install').run()` (lazy.nvim's build step,
`:HeedInstall`) makes a venv under stdpath('data'), the plugin starts the server from it when no
`cmd`/`python` is set and `heed` is not on PATH, and `:checkhealth heed` says which command it
found and where. Real Neovim builds (see conftest.py); absent ones skip.

The install test installs a wheel of this checkout with `--no-deps` (and, as by default, no torch), so
it needs no network and takes seconds; `heed --version` (all it checks) needs neither.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "neovim"
TIMEOUT_S = 120
BUILDS = ["apt", "binwheels", "pyinstaller"]


def _path_without_heed() -> str:
    """PATH minus every folder with a `heed` command, so the plugin cannot find one there."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "heed").exists()]
    return os.pathsep.join(dirs)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=_path_without_heed(),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        **extra,
    )
    return env


def _venv(tmp_path: Path) -> Path:
    """Where the plugin keeps its venv under this test's XDG_DATA_HOME."""
    return tmp_path / "data" / "nvim" / "heed" / "venv"


def _nvim(nvim: Path, tmp_path: Path, commands: list[str], **env: str) -> subprocess.CompletedProcess:
    args = [str(nvim), "--headless", "-u", "NONE", "--cmd", f"set rtp^={PLUGIN}"]
    for command in commands:
        args += ["-c", command]
    return subprocess.run(
        [*args, "-c", "qall!"],
        cwd=tmp_path,
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def _health(nvim: Path, tmp_path: Path, start: str) -> str:
    report = tmp_path / "health.txt"
    _nvim(nvim, tmp_path, [start, "checkhealth heed", f"write! {report}"])
    text = report.read_text()
    print(text)
    return text


@pytest.mark.parametrize("build", BUILDS)
def test_health_finds_the_plugin_venv(tmp_path: Path, nvim_build, build: str) -> None:
    nvim = nvim_build(build)
    # Stands in for a venv the build step made: its python runs this heed.
    python = _venv(tmp_path) / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    text = _health(nvim, tmp_path, "lua require('heed').setup{}")
    assert f"server command: {python} -m heed serve (from the plugin's venv: {_venv(tmp_path)})" in text
    assert "version: heed 0.1.0" in text


@pytest.mark.parametrize("build", ["apt", "binwheels"])
def test_health_says_where_it_looked(tmp_path: Path, nvim_build, build: str) -> None:
    """No cmd, no python, no `heed` on PATH, no venv: python3 from PATH, and it says so."""
    nvim = nvim_build(build)
    text = _health(nvim, tmp_path, "lua require('heed').setup{}")
    assert f"python3 -m heed serve (from python3 on PATH: no heed on PATH, no plugin venv at {_venv(tmp_path)}" in text


@pytest.mark.parametrize("build", ["apt", "binwheels"])
def test_explicit_python_wins_over_the_venv(tmp_path: Path, nvim_build, build: str) -> None:
    nvim = nvim_build(build)
    (_venv(tmp_path) / "bin").mkdir(parents=True)
    shutil.copy(Path("/bin/true"), _venv(tmp_path) / "bin" / "python")
    text = _health(nvim, tmp_path, f"lua require('heed').setup{{ python = '{sys.executable}' }}")
    assert f"server command: {sys.executable} -m heed serve (from the python option" in text


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout, built from a copy (an in-tree build would write into the checkout)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("heed", "model", "server"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, "-w", str(out), str(src)],
        check=True,
        timeout=300,
    )
    (found,) = out.glob("heed_lsp-*.whl")
    return found


# Drives install.run() as lazy.nvim drives a build function: inside a coroutine, resumed from the
# event loop, its progress given by coroutine.yield. Then records what the plugin would start.
DRIVER = r"""
local out = {}
if os.getenv('HEED_TEST_ENABLE') == '1' then
  require('heed').setup({})
  out.cmd_before = vim.lsp.config.heed.cmd
end
local co = coroutine.create(function()
  return require('heed.install').run({
    python = os.getenv('HEED_TEST_PYTHON'),
    source = os.getenv('HEED_TEST_SOURCE'),
    pip_args = { '--no-deps' },
    progress = coroutine.yield,
  })
end)
out.progress = {}
local function step()
  local ok, res = coroutine.resume(co)
  if coroutine.status(co) == 'dead' then
    out.ok, out.result = ok, res
    out.cmd, out.source = require('heed.config').resolve()
    if vim.fn.has('nvim-0.11') == 1 then
      out.cmd_after = vim.lsp.config.heed.cmd
    end
    vim.fn.writefile({ vim.fn.json_encode(out) }, os.getenv('HEED_TEST_OUT'))
    vim.cmd('qall!')
  else
    table.insert(out.progress, res)
    vim.schedule(step)
  end
end
vim.schedule(step)
"""


def _install(nvim: Path, tmp_path: Path, source: str, **env: str) -> dict:
    driver = tmp_path / "driver.lua"
    driver.write_text(DRIVER)
    result = tmp_path / "result.json"
    proc = _nvim(
        nvim,
        tmp_path,
        [f"luafile {driver}"],
        HEED_TEST_PYTHON=sys.executable,
        HEED_TEST_SOURCE=source,
        HEED_TEST_OUT=str(result),
        **env,
    )
    assert result.exists(), f"nvim wrote no result (rc={proc.returncode}): {proc.stderr[-2000:]}"
    out = json.loads(result.read_text())
    print(json.dumps(out, indent=1))
    return out


@pytest.mark.parametrize("build", BUILDS)
def test_install_makes_the_venv_and_the_plugin_uses_it(tmp_path: Path, nvim_build, wheel: Path, build: str) -> None:
    nvim = nvim_build(build)
    enable = "1" if build != "apt" else "0"
    out = _install(nvim, tmp_path, str(wheel), HEED_TEST_ENABLE=enable)
    venv_python = str(_venv(tmp_path) / "bin" / "python")
    assert out["ok"], out["result"]
    assert out["result"] == venv_python
    assert out["progress"][0].startswith("making the venv at")
    assert out["progress"][-1] == f"heed 0.1.0 installed in {_venv(tmp_path)}"
    assert out["cmd"] == [venv_python, "-m", "heed", "serve"]
    assert out["source"] == f"the plugin's venv: {_venv(tmp_path)}"
    if enable == "1":  # 0.11+: setup() ran before the venv existed; the install re-pointed it
        assert out["cmd_before"][0] in ("python3", "python")
        assert out["cmd_after"] == out["cmd"]
    # heed is really there, outside the checkout, and :checkhealth finds it.
    version = subprocess.run([venv_python, "-m", "heed", "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert version.stdout.strip() == "heed 0.1.0"
    text = _health(nvim, tmp_path, "lua require('heed').setup{}")
    assert f"server command: {venv_python} -m heed serve (from the plugin's venv" in text

    # Run again (an update): the venv is kept and upgraded in place.
    out = _install(nvim, tmp_path, str(wheel))
    assert out["ok"], out["result"]
    assert not any(msg.startswith("making the venv") for msg in out["progress"])


@pytest.mark.parametrize("build", ["apt", "pyinstaller"])
def test_failed_install_leaves_nothing_behind(tmp_path: Path, nvim_build, build: str) -> None:
    nvim = nvim_build(build)
    out = _install(nvim, tmp_path, str(tmp_path / "missing" / "heed_lsp-0.1.0-py3-none-any.whl"))
    assert not out["ok"]
    assert "installing heed from" in out["result"] and "failed" in out["result"]
    assert not _venv(tmp_path).exists(), "a venv that failed to install must be removed"
    assert out["source"].startswith("python3 on PATH")
