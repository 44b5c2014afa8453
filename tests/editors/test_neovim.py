"""Real Neovim, headless, against the real `heed serve`: popup after `os.` and ghost text.

Each Neovim build is optional (see conftest.py); absent ones skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "editors" / "neovim"
INIT = Path(__file__).with_name("nvim_init.lua")
# HEED_TEST_SERVER_CMD (a JSON list) overrides the server, for developing the plugin alone.
REAL_SERVER = [sys.executable, "-m", "heed", "serve"]
SERVER_CMD = json.loads(os.environ.get("HEED_TEST_SERVER_CMD", "null")) or REAL_SERVER
TIMEOUT_S = 90
DEMO = "import os\n\nprint(os.path.join('a', 'b'))\nos\n"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HEED_PLUGIN_DIR=str(PLUGIN),
        HEED_TEST_CMD=json.dumps(SERVER_CMD),
        XDG_CONFIG_HOME=str(tmp_path / "config"),  # no user config or plugins
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        HEED_CACHE=str(tmp_path / "cache"),  # the workspace index of tmp_path: not in the user's cache
        **extra,
    )
    return env


def _run(nvim: Path, tmp_path: Path, **env: str) -> dict:
    demo = tmp_path / "demo.py"
    # An earlier `os.path` lets even a small model offer `path` (its pointer copies names).
    demo.write_text(DEMO)
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [str(nvim), "--headless", "-u", str(INIT), str(demo)],
        cwd=tmp_path,
        env=_env(tmp_path, HEED_TEST_OUT=str(out), **env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert out.exists(), f"nvim wrote no result (rc={proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(out.read_text())
    print(json.dumps(result, indent=1))
    assert result["finish"] == "done", result
    return result


@pytest.mark.parametrize(
    ("build", "mode"),
    [
        ("apt", "setup"),
        ("binwheels", "setup"),
        ("binwheels", "enable"),
        ("pyinstaller", "setup"),
        ("pyinstaller", "enable"),
    ],
)
def test_popup_and_ghost_text(tmp_path: Path, nvim_build, build: str, mode: str) -> None:
    result = _run(nvim_build(build), tmp_path, HEED_TEST_MODE=mode)
    assert result["inline_provider"], "server did not advertise inlineCompletionProvider"
    assert "path" in result["popup"]
    assert result["ghost"].strip()
    before, after = result["line_before_accept"], result["line_after_accept"]
    assert after.startswith(before) and len(after) > len(before), "<Tab> did not accept the ghost text"
    expected_ns = "nvim.lsp.inline_completion" if build == "pyinstaller" else "heed_ghost"
    assert result["ghost_ns"] == expected_ns


@pytest.mark.parametrize("build", ["apt", "pyinstaller"])
def test_inline_off_keeps_popup_and_tab(tmp_path: Path, nvim_build, build: str) -> None:
    result = _run(nvim_build(build), tmp_path, HEED_TEST_INLINE="0")
    assert "path" in result["popup"]
    assert result["ghost"] is None
    after = result["line_after_accept"]  # a Tab, or spaces with the Python ftplugin's expandtab
    assert after.startswith("os.pa") and len(after) > 5 and not after[5:].strip()


@pytest.mark.parametrize("build", ["apt", "binwheels", "pyinstaller"])
def test_checkhealth(tmp_path: Path, nvim_build, build: str) -> None:
    nvim = nvim_build(build)
    report = tmp_path / "health.txt"
    setup = "lua require('heed').setup{cmd = vim.fn.json_decode(os.getenv('HEED_TEST_CMD'))}"
    subprocess.run(
        [
            str(nvim),
            "--headless",
            "-u",
            "NONE",
            "--cmd",
            f"set rtp^={PLUGIN}",
            "-c",
            setup,
            "-c",
            "checkhealth heed",
            "-c",
            f"write! {report}",
            "-c",
            "qall!",
        ],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    text = report.read_text()
    print(text)
    assert "heed 0.1.0" in text
    assert "ERROR" not in text
