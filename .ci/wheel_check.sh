#!/usr/bin/env bash
# CI: heed as a user installs it. Builds the sdist and, from it, the wheel; installs the wheel into
# a fresh venv outside the checkout (no torch: completion runs in numpy, and only training needs
# the `learn` extra); runs `heed check` and a `heed complete` there, from a folder outside the
# checkout, with the model the wheel ships, and checks that `heed adapt` says it needs torch; and
# checks what the VS Code .vsix holds (built by `make vscode-test`): the extension, and the same
# heed wheel, which the extension installs into a venv of its own. Under a minute.
#
#   bash .ci/wheel_check.sh        # `make wheel-check` runs it with the Makefile's Python and torch
#
# Env: BUILD_PYTHON (a Python with the `build` package, default .venv/bin/python), PYTHON (makes the
# fresh venv, default python3), VSIX (default editors/vscode/heed.vsix), WHEEL_CHECK_DIR (work
# folder, kept; default a temporary one, removed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_PYTHON=${BUILD_PYTHON:-.venv/bin/python}
PYTHON=${PYTHON:-python3}
VSIX=${VSIX:-editors/vscode/heed.vsix}
if [ -n "${WHEEL_CHECK_DIR:-}" ]; then
    WORK=$WHEEL_CHECK_DIR
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/heed-wheel-check.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
fi
case "$WORK/" in "$ROOT"/*) echo "wheel check: $WORK is inside the checkout" >&2; exit 2 ;; esac
fail() { echo "wheel check FAILED: $*" >&2; exit 1; }
step() { echo "--- wheel check: $* ($(( SECONDS ))s)"; }

step "the sdist, then the wheel from it"
"$BUILD_PYTHON" -m build --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; fail "python -m build"; }
sdist=$(ls "$WORK"/dist/heed_lsp-*.tar.gz) || fail "no heed_lsp sdist in $WORK/dist"
wheel=$(ls "$WORK"/dist/heed_lsp-*-py3-none-any.whl) || fail "no heed_lsp wheel in $WORK/dist"
ls -l "$sdist" "$wheel"

step "what the sdist and the wheel hold"
"$BUILD_PYTHON" - "$sdist" "$wheel" <<'EOF'
import sys, tarfile, zipfile

sdist, wheel = sys.argv[1], sys.argv[2]
with tarfile.open(sdist) as tar:
    top = tar.getnames()[0].split("/")[0]
    s_names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
with zipfile.ZipFile(wheel) as z:
    w_names = set(z.namelist())
    meta = next(n for n in w_names if n.endswith(".dist-info/METADATA"))
    metadata = z.read(meta).decode()
    entry = z.read(meta.replace("METADATA", "entry_points.txt")).decode()
problems = []
for name in ["pyproject.toml", "README.md", "heed/cli.py", "model/nn/store.py", "server/app.py",
             "model/default/model.safetensors", "model/default/vocab.json", "model/default/config.json"]:
    if name not in s_names:
        problems.append(f"sdist lacks {name}")
for name in ["heed/__init__.py", "heed/cli.py", "heed/model/nn/network.py", "heed/server/app.py",
             "heed/model/default/model.safetensors", "heed/model/default/vocab.json",
             "heed/model/default/config.json", "heed/model/default/members.safetensors"]:
    if name not in w_names:
        problems.append(f"wheel lacks {name}")
for names, what in ((s_names, "sdist"), (w_names, "wheel")):
    for name in names:
        if name.startswith(("runs/", "editors/", ".venv/", "node_modules/", "docs/", "bench/")) or "__pycache__" in name:
            problems.append(f"{what} holds {name}")
if "\nName: heed-lsp\n" not in metadata:
    problems.append("wheel METADATA does not name heed-lsp")
if "heed = heed.cli:main" not in entry:
    problems.append("wheel has no `heed` command")
print(f"sdist {top}: {len(s_names)} files; wheel: {len(w_names)} files")
if problems:
    sys.exit("\n".join(problems))
EOF

step "a fresh venv outside the checkout, the wheel in it"
"$PYTHON" -m venv "$WORK/venv"
V=$WORK/venv/bin
pip_install() {
    "$V/python" -m pip install --disable-pip-version-check "$@" >"$WORK/pip.log" 2>&1 \
        || { tail -30 "$WORK/pip.log"; fail "pip install $*"; }
}
pip_install "$wheel"
mkdir -p "$WORK/user"
cp docs/examples/stack.py "$WORK/user/"
cd "$WORK/user"
# Nothing of the checkout on the path: heed and its model come from the venv.
unset PYTHONPATH
"$V/python" - <<'EOF' || fail "the installed heed is not the wheel's, or it pulled torch in"
import importlib.metadata as md, importlib.util, sys, heed
assert heed.__file__.startswith(sys.prefix), heed.__file__
assert md.version("heed-lsp") == heed.__version__, (md.version("heed-lsp"), heed.__version__)
assert importlib.util.find_spec("torch") is None, "torch was installed: only the learn extra needs it"
heavy = [d.metadata["Name"] for d in md.distributions() if d.metadata["Name"].lower().startswith(("nvidia", "torch"))]
assert not heavy, f"installed: {heavy}"
print(f"heed {heed.__version__} from {heed.__file__}; no torch")
EOF

step "heed --version, heed check, heed complete in $WORK/user"
"$V/heed" --version
"$V/heed" check || fail "heed check: the model the wheel ships does not load"
"$V/heed" complete stack.py:12:21 --max-items 5 | tee complete.txt
grep -q '^ *1\. ' complete.txt || fail "heed complete stack.py:12:21 offered nothing"
"$V/heed" complete stack.py:12:21 --inline
if "$V/heed" adapt . >adapt.txt 2>&1 || ! grep -q "needs torch" adapt.txt; then
    cat adapt.txt; fail "heed adapt without torch did not say it needs torch"
fi
cd "$ROOT"

step "what $VSIX holds"
[ -f "$VSIX" ] || fail "$VSIX is missing: build it with make vscode-test"
"$BUILD_PYTHON" - "$VSIX" "$wheel" <<'EOF'
import io, os, sys, zipfile

# The extension installs heed from the wheel it ships (extension/wheels/): it must be the one this
# checkout builds, and the rest of the .vsix stays small.
vsix, built = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(vsix) as z:
    infos = z.infolist()
    names = [i.filename for i in infos]
    shipped = [n for n in names if n.startswith("extension/wheels/")]
    wheel_bytes = z.read(shipped[0]) if len(shipped) == 1 else b""
problems = [f"lacks {n}" for n in ("extension/package.json", "extension/dist/extension.js") if n not in names]
for name in names:
    rest = name.removeprefix("extension/")
    if rest.startswith(("node_modules/", "src/", "test/", "out/")) or name.endswith((".ts", ".map", ".tsbuildinfo")):
        problems.append(f"holds {name}")
expected = "extension/wheels/" + os.path.basename(built)
if shipped != [expected]:
    problems.append(f"ships the wheels {shipped}, not just {expected}")
else:
    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as w, zipfile.ZipFile(built) as b:
        if sorted(w.namelist()) != sorted(b.namelist()):
            problems.append(f"{expected} holds other files than {built}: rebuild the .vsix")
rest_size = sum(i.file_size for i in infos if i.filename not in shipped)
if rest_size > 2_000_000:
    problems.append(f"holds {rest_size} bytes beside the wheel (more than 2 MB)")
print(f"{vsix}: {len(names)} files ({rest_size} bytes beside the wheel): {', '.join(sorted(names))}")
if problems:
    sys.exit("\n".join(problems))
EOF
step "passed"
