#!/usr/bin/env bash
# The GPU profile on a borrowed GPU machine, as one command (issue 21):
#
#   here:   bash benchmarks/gpu_profile_device.sh --wheels      # once: the missing packages
#   there:  bash benchmarks/gpu_profile_device.sh               # ~7 min, results in $OUT
#   try it: OUT=/tmp/gp bash benchmarks/gpu_profile_device.sh --scale smoke --device cpu \
#               --budget-s 60 --only infonce_gmm
#
# The GPU image has torch, numpy, scipy, scikit-learn, pandas, tabulate, typer and pyyaml,
# but not pydantic or platformdirs: `--wheels` downloads them (with their own needs, for
# CPython 3.12 on x86-64) into .whl/, which the device call carries (`carry: [".whl"]`;
# add `/.whl/` to .git/info/exclude). Real data does not travel (../shared stays here),
# so data-backed claims come out `skipped`, never faked. The claims run cheapest first
# within --budget-s (default 420 s, leaving time for start-up and a rerun); their records,
# results/gpu_profile.{md,json} and the log are packed into $OUT/gpu_profile.tgz.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--wheels" ]]; then
    python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl pydantic platformdirs
    ls .whl
    exit 0
fi
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD"
else
    export PYTHONPATH="$PWD"
fi
OUT="${OUT:-/tmp/gpu_profile_out}"
mkdir -p "$OUT"
export REPRO_CACHE_DIR="${REPRO_CACHE_DIR:-/tmp/repro-cache}" MPLBACKEND=Agg PYTHONUNBUFFERED=1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
args=("$@")
[[ " ${args[*]} " == *" --budget-s "* ]] || args+=(--budget-s 420)
python3 -m repro.gpu_profile "${args[@]}" 2>&1 | tee "$OUT/gpu_profile.log"
shopt -s nullglob
tar czf "$OUT/gpu_profile.tgz" results/gpu_profile.* results/*/paper.* results/*/smoke.* \
    "$OUT/gpu_profile.log" 2>/dev/null || true
ls -la "$OUT"
