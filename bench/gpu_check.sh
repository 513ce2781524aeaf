#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU: one CUDA job end to end, four 0.25-GPU jobs packed on one GPU
# (the fifth waits), and streamed steps/s against the bare loop on the GPU. One short run (under 3 minutes);
# prints JSON and writes it to bench/results/gpu_check.json (or --out FILE).
#   bench/gpu_check.sh                        # local executor
#   bench/gpu_check.sh --executor ray         # through the Ray cluster this machine is a node of
#   bench/gpu_check.sh --allow-cpu            # no GPU here: check the plumbing only (device cpu)
# Exit status: 0 all checks passed, 1 a check failed (see "ok" and the fields), 2 no GPU visible.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=index,name,memory.used,memory.total,utilization.gpu --format=csv,noheader >&2 || true
fi
exec timeout --kill-after=10 180 "$PY" bench/_gpu_check.py "$@"
