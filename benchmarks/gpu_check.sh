#!/usr/bin/env bash
# The GPU checks, in one call on a lent CUDA machine (run from the repository root):
#   bash benchmarks/gpu_check.sh [OUT_DIR] [step] [reasoning]     (no part named: both)
# step:      gpu_step.py, one baseline and one RGE training step of the full-size 3B model,
#            with self-rationale caps of 32 and 128 tokens -> gpu_step_<cap>.txt
# reasoning: reasoning_embed.py --full-size, rge's batched KV loop against the release's
#            per-sample generate on the 3B model -> reasoning_embed.txt
# Uses the machine's python3 and torch; transformers comes from wheels in .whl/ when present
# (the project pins transformers 5.24.0; .whl/ is not committed). To fetch it beforehand:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl transformers==5.24.0
# Results and the device are recorded in RESULTS.md.
set -uo pipefail
out=${1:-${OUT:-/tmp/gpu_check}}
shift || true
parts=${*:-step reasoning}
mkdir -p "$out"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/device.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" | tee -a "$out/device.txt"
status=0
if [[ " $parts " == *" step "* ]]; then
  for cap in 32 128; do
    python3 benchmarks/gpu_step.py --steps 3 --max-new-tokens "$cap" 2>&1 | tee "$out/gpu_step_$cap.txt" || status=1
  done
fi
if [[ " $parts " == *" reasoning "* ]]; then
  python3 benchmarks/reasoning_embed.py --full-size --device cuda --queries 32 --batch-size 32 \
    --max-new-tokens 32 --target-tokens 16 --repeats 2 --profile 2>&1 | tee "$out/reasoning_embed.txt" || status=1
fi
exit $status
