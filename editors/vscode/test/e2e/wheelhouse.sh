#!/usr/bin/env bash
# A folder of wheels for the extension's install to run offline from (run.sh's install mode points
# pip at it with PIP_NO_INDEX and PIP_FIND_LINKS): heed's dependencies at the versions PYTHON has
# (no torch: the install leaves it out). heed itself is left out: it must come from the wheel in the
# .vsix. Kept in CACHE under a name from those versions, so it is downloaded once (~60 MB).
#
#   wheelhouse.sh PYTHON HEED_WHEEL CACHE      prints the wheelhouse folder
set -euo pipefail
PYTHON=$1
WHEEL=$2
CACHE=$3

pins=$("$PYTHON" -m pip freeze --exclude-editable | grep -v -i '^heed-lsp')
DIR="$CACHE/wheelhouse-$(sha256sum <<<"$pins" | cut -c1-12)"
if [[ ! -f "$DIR/.complete" ]]; then
  rm -rf "$DIR"
  mkdir -p "$DIR"
  printf '%s\n' "$pins" >"$DIR/constraints.txt"
  "$PYTHON" -m pip download --disable-pip-version-check --only-binary=:all: \
    --dest "$DIR" -c "$DIR/constraints.txt" "$WHEEL" >"$DIR/download.log" 2>&1 \
    || { tail -20 "$DIR/download.log" >&2; exit 1; }
  rm -f "$DIR"/heed_lsp-*.whl
  touch "$DIR/.complete"
fi
echo "$DIR"
