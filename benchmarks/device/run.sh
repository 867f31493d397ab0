#!/usr/bin/env bash
# The device run: on a machine with JAX + CUDA but no TensorFlow and no network, install the
# carried wheels (.whl/, see wheels.txt) and time every paper's GAN at its paper size on the
# JAX backend; figures go to $OUT (default results/device). Fits in 8 minutes: 2 papers x
# (compile + 150 s timed). `run.sh --dry-run` checks it on a CPU (JAX_PLATFORMS=cpu, 32 px).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-results/device}"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
PYTHON="${PYTHON:-python3}"
start=$(date +%s)
if [[ "${1:-}" == "--dry-run" ]]; then
    "$PYTHON" benchmarks/device/gan_throughput.py --out "$OUT" --seconds 1 --dry-run
else
    mkdir -p "$OUT"; (nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true) >"$OUT/gpu.txt" 2>&1
    timeout 450 "$PYTHON" benchmarks/device/gan_throughput.py --out "$OUT" --seconds 150
fi
echo "{\"wall_seconds\": $(( $(date +%s) - start ))}" >"$OUT/wall.json"
