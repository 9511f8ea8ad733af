#!/usr/bin/env bash
# Fill the GPU rows of the README's benchmark on a CUDA machine, in under 5 minutes.
#
#   scripts/bench_gpu.sh [OUT_DIR]      (default: bench_gpu_out)
#
# Needs the venv of scripts/setup.sh, a CUDA GPU and the ESPNetv2 checkpoint in
# $SEG_PERCEPTION_DATA/weights/espnetv2_edgenets (or pass WEIGHTS_DIR=...). For the ONNX Runtime
# rows install onnxruntime-gpu (CUDA / TensorRT execution providers) in place of onnxruntime:
#   pip uninstall -y onnxruntime && pip install onnxruntime-gpu==1.31.1
# Without it those rows say "not available" and the torch rows are still filled.
# Each step prints its table and writes its JSON line to OUT_DIR.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-bench_gpu_out}"
mkdir -p "$out"
# shellcheck disable=SC1091
. "$here/scripts/env.sh"
weights=()
if [ -n "${WEIGHTS_DIR:-}" ]; then weights=(--weights-dir "$WEIGHTS_DIR"); fi
bench() {  # bench NAME ARGS...: run, keep the table, keep the JSON line
    local name="$1"; shift
    echo "== $name: seg-perception bench $*"
    timeout 240 python -m seg_perception.tools.cli bench "${weights[@]}" --json "$@" \
        | tee "$out/$name.txt"
    tail -n 1 "$out/$name.txt" > "$out/$name.json"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
# Node stages (720p, 1080p; before/after) with torch fp16 on the GPU.
bench node_torch_fp16 --device cuda --half --engine torch --sections node --repeats 20
# Engines side by side: one camera, then four cameras in one batch (fp16; TensorRT EP if there).
bench engines_b1_fp16 --device cuda --half --sections engines --engine-batch 1 \
    --engine-frames 12 --repeats 20
bench engines_b4_fp16 --device cuda --half --sections engines --engine-batch 4 \
    --engine-frames 4 --repeats 20
echo "done: $out"
