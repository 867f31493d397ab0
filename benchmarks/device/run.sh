#!/usr/bin/env bash
# The device run: on a machine with JAX + CUDA but no TensorFlow and no network, install the
# carried wheels (.whl/, see wheels.txt), then on the JAX backend
#   1. time every paper's GAN at its paper size (Kermany's at 128 px), GAN_SECONDS each;
#   2. run the Davoodi notebook at its paper profile on the embedded phantoms (no data to
#      carry), time-boxed to PAPER_SECONDS: a run cut short is resumable, and its
#      attempt log and GAN histories say how far it got.
# Figures go to $OUT (default results/device). Fits in 8 minutes: install < 1, stage 1 about
# 2 x (compile + 60 s), stage 2 240 s. `run.sh --dry-run` checks it on a CPU
# (JAX_PLATFORMS=cpu; 32 px throughput, the Davoodi smoke profile).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-results/device}"
GAN_SECONDS="${GAN_SECONDS:-60}"
PAPER_SECONDS="${PAPER_SECONDS:-240}"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
    export PATH="/tmp/site/bin:$PATH"
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
PYTHON="${PYTHON:-python3}"
mkdir -p "$OUT"
start=$(date +%s)
if [[ "${1:-}" == "--dry-run" ]]; then
    "$PYTHON" benchmarks/device/gan_throughput.py --out "$OUT" --seconds 1 --dry-run
    profile=smoke
else
    (nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true) >"$OUT/gpu.txt" 2>&1
    timeout $(( 2 * GAN_SECONDS + 210 )) "$PYTHON" benchmarks/device/gan_throughput.py \
        --out "$OUT" --seconds "$GAN_SECONDS"
    profile=paper
fi
stage2=$(date +%s)
set +e
timeout "$PAPER_SECONDS" "$PYTHON" -m tools.pipeline run davoodi --profile "$profile" \
    --data phantoms --backend jax --out "$OUT/runs" >"$OUT/davoodi_$profile.log" 2>&1
code=$?
set -e
echo "{\"profile\": \"$profile\", \"exit_code\": $code, \"timed_out\": $([[ $code == 124 ]] && echo true || echo false), \"wall_seconds\": $(( $(date +%s) - stage2 ))}" \
    >"$OUT/davoodi_$profile.json"
echo "{\"wall_seconds\": $(( $(date +%s) - start ))}" >"$OUT/wall.json"
