#!/usr/bin/env bash
# One prepared run on a lent GPU machine (one H100 or H200, 16 cores, Python 3.12 with torch and a
# large site-packages, no network), in the repository root:
#   1. tokenize that machine's site-packages, the packages carried in .carry/extra-site.tar.xz and
#      the standard library carried in .carry/stdlib.tar.xz, with the bundled model's vocabulary:
#      no tests, no evaluation packages and none of the held-out projects (that machine's
#      site-packages hold `markdown`, which stage 8 trained on while it was a validation project),
#      no torch (the model has had two stages on it), and not that machine's own standard
#      library: the evaluation set is the test split of the development machine's (3.11), and a
#      file moved between versions could cross splits;
#   2. with BENCH=1, training speed: heed's step against the plain reference model
#      (bench/train_bench.py, up to 150 s; taken on an H200 already, BENCHMARKS.md: off by default,
#      so that a session's few device minutes go to training);
#   3. fine-tune the bundled model on that corpus: 10 epochs, or the time left (bf16, batch 256x128).
# Results land in $OUT (8 files: as many as the device tool brings back).
#
#   OUT=/tmp/out BUDGET_S=560 bash bench/gpu_run.sh     # about 7 minutes on an H200
#
# libcst travels as a wheel in .whl/, the extra packages' and the standard library's sources in
# .carry/: bench/gpu_prepare.sh makes them here, and the device call carries them (carry [".whl",
# ".carry"]). SITE, JOBS, BENCH_ARGS and TRAIN_ARGS exist for a small rehearsal on a CPU:
#   OUT=/tmp/out SITE=<a small folder> JOBS=2 PYTHON=.venv/bin/python BUDGET_S=200 BENCH=1 \
#     BENCH_ARGS="--device cpu --batch 8 --sizes 64 --steps 3" \
#     TRAIN_ARGS="--device cpu --max-steps 6 --batch 8 --eval-every 3 --eval-tokens 2000" bash bench/gpu_run.sh
set -uo pipefail
start=$(date +%s)
out=${OUT:?set OUT to the folder for the results}
budget=${BUDGET_S:-560}
py="${PYTHON:-python3} -P"  # -P: the checkout's heed/ must not shadow /tmp/pkg/heed
exec > >(tee -a "$out/run.log") 2>&1
export PYTHONUNBUFFERED=1 TQDM_MININTERVAL=20 HEED_CACHE=${HEED_CACHE:-/tmp/heed-cache}

if ! $py -c "import libcst" 2>/dev/null; then
    $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
# heed's import names over this checkout, as pyproject.toml maps them (heed.model -> model/ ...).
mkdir -p /tmp/pkg/heed && cp heed/*.py /tmp/pkg/heed/ && ln -sfn "$PWD/model" /tmp/pkg/heed/model \
    && ln -sfn "$PWD/server" /tmp/pkg/heed/server || exit 1
export PYTHONPATH=/tmp/pkg${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
nproc

site=${SITE:-$($py -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")}
extra=()
if [ -f .carry/extra-site.tar.xz ]; then
    mkdir -p /tmp/extra-site && tar -xJf .carry/extra-site.tar.xz -C /tmp/extra-site && extra=(--add /tmp/extra-site)
fi
# The development machine's standard library (CPython 3.11.7, tests left out), under the label
# "stdlib" its corpora give it: each file keeps its split, so the evaluation set (its test split)
# stays out of training.
if [ -f .carry/stdlib.tar.xz ]; then
    mkdir -p /tmp/carried/stdlib && tar -xJf .carry/stdlib.tar.xz -C /tmp/carried/stdlib && extra+=(--add /tmp/carried/stdlib)
fi
echo "== corpus from ${extra[*]:-} $site ($(( $(date +%s) - start )) s)"
build=(-m heed corpus build --out /tmp/corpus --no-stdlib --skip-tests --exclude-eval-packages --exclude heed
       --exclude sympy --exclude torch --exclude torchgen --exclude functorch --vocab model/default --jobs "${JOBS:-16}")
# The carried files are tokenized first; if the whole takes too long, they alone make the corpus.
timeout -k 10 300 $py "${build[@]}" "${extra[@]}" --add "$site" || $py "${build[@]}" "${extra[@]}" || exit 1
gzip -c /tmp/corpus/manifest.json > "$out/manifest.json.gz"

if [ "${BENCH:-0}" = 1 ]; then
    echo "== training speed ($(( $(date +%s) - start )) s)"
    # shellcheck disable=SC2086
    timeout 150 $py bench/train_bench.py --corpus /tmp/corpus --json "$out/train_bench.json" ${BENCH_ARGS:-} \
        || echo "train_bench.py failed or ran out of time"
fi

left=$(( budget - ($(date +%s) - start) - 40 ))
minutes=$($py -c "print(round(max($left, 60) / 60, 2))")
echo "== fine-tuning the bundled model for $minutes minutes ($(( $(date +%s) - start )) s)"
# shellcheck disable=SC2086
$py -m heed -v train --corpus /tmp/corpus --out /tmp/model --init-from model/default --batch 256 --lr 8e-4 \
    --warmup 100 --epochs 10 --eval-every 500 --ckpt-every 100000 --patience 4 --seed 23 --attribute-weight 3 \
    --max-minutes "$minutes" ${TRAIN_ARGS:-}
cp /tmp/model/model.safetensors /tmp/model/config.json /tmp/model/members.safetensors /tmp/model/curve.csv \
    /tmp/model/curve.png "$out/"
echo "== done ($(( $(date +%s) - start )) s)"
