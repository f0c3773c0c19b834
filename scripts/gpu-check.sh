#!/usr/bin/env bash
# Checks and measures the accelerator's GPU backend on a machine with a CUDA GPU, Node.js, the built
# addon (build/Release) and the compiled JavaScript (dist/): the GPU test suite on CUDA (bit-identical
# exact products, float32 within rounding, against the CPU products), the products of one training step
# on the GPU against the CPU backend, and split-mode training steps with the accelerator on the GPU and,
# for comparison, on the CPU. Everything goes to stdout and to OUT_DIR/gpu-check.log.
# Usage: scripts/gpu-check.sh [OUT_DIR]
#   TEE_OFFLOAD_CUDA_LIBS  colon-separated folders holding libcuda, libnvrtc and libcublas when they are
#                          not on the dynamic loader's path
#   GPU_CHECK_QUICK=1      only the test suite and the products of ResNet-18 (a first look)
set -uo pipefail
out=${1:-.}
mkdir -p "$out"
log="$out/gpu-check.log"
cores=$(nproc)
status=0
run() {
  echo "### $*" | tee -a "$log"
  "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || { echo "### exit status $rc" | tee -a "$log"; status=1; }
}
: >"$log"
command -v nvidia-smi >/dev/null && run nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
run node --test --test-reporter=spec dist/test/accelerator/gpu-linear.test.js
if [ "${GPU_CHECK_QUICK:-0}" = 1 ]; then
  run node dist/src/bench/gpu-products.js resnet18 --reps 3
  exit $status
fi
run node dist/src/bench/gpu-products.js vgg19_bn resnet18 alexnet --batch 1 --reps 3
run node dist/src/bench/gpu-products.js vgg19_bn resnet18 --batch 4 --reps 3 --arith wide
for b in 1 4; do
  models="vgg19_bn resnet18 alexnet"
  [ $b = 4 ] && models=vgg19_bn
  run node dist/src/bench/split-share.js $models --batch $b --steps 2 --accelerator-backend cuda
  run node dist/src/bench/split-share.js $models --batch $b --steps 2 --accelerator-backend cpu --accelerator-threads $((cores - 1))
done
exit $status
