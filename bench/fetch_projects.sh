#!/usr/bin/env bash
# The held-out projects of bench/projects.txt, as their wheels from the package index hold them
# (sources only, no dependencies), unpacked into runs/projects/<set>/<name>/.
#   bash bench/fetch_projects.sh [evaluation|validation|final]   (default: evaluation)
set -euo pipefail
cd "$(dirname "$0")/.."
want="${1:-evaluation}"
py="${PYTHON:-.venv/bin/python}"
out="runs/projects/$want"
mkdir -p "$out" runs/projects/wheels
grep -E "^$want " bench/projects.txt | while read -r _ spec; do
  name="${spec%%==*}"
  [ -d "$out/$name" ] && continue
  "$py" -m pip download -q --no-deps --only-binary :all: --dest runs/projects/wheels "$spec"
  wheel=$(ls runs/projects/wheels/"${name}"-"${spec##*==}"-*.whl | head -n 1)
  mkdir -p "$out/$name"
  "$py" -m zipfile -e "$wheel" "$out/$name"
  rm -rf "$out/$name"/*.data  # scripts a wheel installs: copies of the package's own modules
  echo "$spec -> $out/$name"
done
