#!/usr/bin/env bash
# Issue 11's GPU measurements in one call, sized for a short device lease
# (about 9 minutes of running; bench/README.md says how to call it):
#   1. the static training-memory estimate against max_memory_allocated,
#      resnet50 at batch 64 and 256 (float32, SGD momentum);
#   2. resnet50 against torchvision, eager and torch.compile, batch 256;
#   3. the other models eager only, while the budget lasts.
# Results land in $OUT (default out/device): the logs and the JSON of each run,
# rewritten after every model so a run killed at its limit keeps what it did.
set -uo pipefail
OUT=${OUT:-out/device}
BUDGET=${BUDGET:-480}  # seconds of running before the eager sweep stops starting models
mkdir -p "$OUT"
start=$SECONDS
if compgen -G ".whl/*.whl" >/dev/null; then  # packages the machine lacks (lark), carried as wheels
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 -c "import lark, torchvision, netdsl" || {
    echo "missing packages: carry them as wheels in .whl/ (bench/README.md)"; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/device.txt"
for batch in 64 256; do
    python3 bench/gpu_memory.py resnet50 --batch "$batch" 2>&1 | tee "$OUT/memory_$batch.txt"
done
python3 bench/gpu.py --models resnet50 --batch 256 --json "$OUT/gpu_resnet50.json" 2>&1 \
    | tee "$OUT/gpu_resnet50.txt"
left=$((BUDGET - (SECONDS - start)))
if [ "$left" -gt 30 ]; then
    python3 bench/gpu.py --models resnet18 vgg16 densenet121 googlenet convnext_tiny vit_b_16 \
        --batch 256 --no-compile --budget "$left" --json "$OUT/gpu_eager.json" 2>&1 | tee "$OUT/gpu_eager.txt"
fi
echo "done in $((SECONDS - start)) s"
