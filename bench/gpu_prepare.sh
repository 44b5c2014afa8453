#!/usr/bin/env bash
# What bench/gpu_run.sh needs on a lent GPU machine (no network there), made here:
#   .whl/libcst-*.whl            heed's parser, built for that machine's Python (3.12, x86-64)
#   .carry/extra-site.tar.xz     the sources (no tests) of bench/extra_site.txt's packages that
#                                machine lacks (`runs/extra-site`, installed here if missing)
#   .carry/stdlib.tar.xz         this machine's standard library (no tests), which every corpus
#                                of the shipped model has had and whose test split is evaluated on
# They stay out of git (.gitignore) and travel because the device call names them:
#   bash bench/gpu_prepare.sh
#   device run, carry [".whl", ".carry"]:  OUT=$OUT BUDGET_S=560 bash bench/gpu_run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-.venv/bin/python}"
pyver="${GPU_PYTHON:-3.12}"

libcst=$("$py" -c "import importlib.metadata as m; print(m.version('libcst'))")
rm -rf .whl && mkdir -p .whl .carry
"$py" -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "libcst==$libcst"

if [ ! -d runs/extra-site ]; then
    "$py" -m pip install -q --no-deps --target runs/extra-site -r bench/extra_site.txt
fi
# That machine's image has these (its package list); the rest travel as sources. Each archive holds
# what a corpus of the shipped model may read there: no tests, nothing held out (`held_out.py`).
have="pandas scipy sklearn rich requests urllib3 click httpx httpcore werkzeug aiohttp jinja2 markupsafe"
stdlib=$("$py" -c "import sysconfig; print(sysconfig.get_paths()['stdlib'])")
"$py" -P - "$have" "$stdlib" <<'EOF'
import sys
from pathlib import Path
from heed.model.training.corpus import Source, find_files
from heed.model.training.held_out import NEVER_TRAINED_ON
def listing(root: Path, skip: list[str], out: str) -> None:
    files = find_files([Source(root, "")], [*skip, *NEVER_TRAINED_ON], skip_tests=True)
    Path(out).write_text("\n".join(str(f.path.relative_to(root)) for f in files) + "\n")
listing(Path("runs/extra-site"), sys.argv[1].split(), "/tmp/extra-site.list")
listing(Path(sys.argv[2]), [], "/tmp/stdlib.list")
EOF
tar -cJf .carry/extra-site.tar.xz -C runs/extra-site -T /tmp/extra-site.list
tar -cJf .carry/stdlib.tar.xz -C "$stdlib" -T /tmp/stdlib.list
du -sh .whl .carry
