#!/usr/bin/env bash
# The GPU checks, in one call on a lent CUDA machine (run from the repository root):
#   bash benchmarks/gpu_check.sh [OUT_DIR] [step] [reasoning] [decode]   (none named: step reasoning)
# step:      gpu_step.py, one baseline and one RGE training step of the full-size 3B model,
#            with self-rationale caps of 32 and 128 tokens -> gpu_step_<cap>.txt
# reasoning: reasoning_embed.py --full-size, rge's batched KV loop against the release's
#            per-sample generate on the 3B model -> reasoning_embed.txt
# decode:    the generation engines (at most 6.5 min by its timeouts, about 5 on one H200):
#            the gpu-marked tests (CUDA graphs, sync-free step, in-place weight update, bf16
#            varlen vision) -> gpu_tests.txt; gpu_decode_check.py: old loop vs static eager vs
#            static graph at batch 8/32/128, vision per-window vs one call (fwd + bwd) ->
#            gpu_decode.json (written after every part) + gpu_decode.txt; one RGE step per
#            engine at cap 128 -> gpu_step_engines.txt; reasoning q/s per engine ->
#            reasoning_<engine>.txt. The gpu tests need pytest on the machine (else skipped).
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
if [[ " $parts " == *" decode "* ]]; then
  if python3 -c "import pytest" 2>/dev/null; then
    timeout 60 python3 -m pytest -q -p no:cacheprovider -m gpu tests/gpu 2>&1 | tee "$out/gpu_tests.txt" || status=1
  else
    echo "pytest not installed: gpu tests not run" | tee "$out/gpu_tests.txt"
  fi
  timeout 150 python3 benchmarks/gpu_decode_check.py "$out" --batches 8 32 128 --cap 16 2>&1 | tee "$out/gpu_decode.txt" || status=1
  timeout 110 python3 benchmarks/gpu_step.py --steps 1 --max-new-tokens 128 2>&1 | tee "$out/gpu_step_engines.txt" || status=1
  for engine in dynamic static; do
    timeout 35 python3 benchmarks/reasoning_embed.py --full-size --device cuda --queries 32 --batch-size 32 \
      --max-new-tokens 32 --target-tokens 16 --repeats 1 --engine "$engine" 2>&1 | tee "$out/reasoning_$engine.txt" || status=1
  done
fi
exit $status
