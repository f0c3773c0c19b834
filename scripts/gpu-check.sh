#!/usr/bin/env bash
# Checks and measures the accelerator's GPU backend on a machine with a CUDA GPU, Node.js, the built
# addon (build/Release) and the compiled JavaScript (dist/). Everything goes to stdout and to
# OUT_DIR/gpu-check.log. Parts (default: all, in this order):
#   test       the GPU test suite on CUDA: exact products bit-identical to the CPU's, float32 within
#              rounding (docs/gpu.md)
#   products   the products of one training step (VGG19-BN, ResNet-18, AlexNet at 224², batch 1, f32
#              and wide) on the GPU against the CPU backend on all cores; the GPU's copies staged
#              through page-locked buffers and, side by side, not
#   products4  the same at batch 4, wide, VGG19-BN and ResNet-18
#   split      split-mode training steps (exact) with the accelerator on the GPU and on the CPU
#   modes      split steps with float integrity and with integrity off (the unchecked plain-GPU row)
# Usage: scripts/gpu-check.sh [OUT_DIR] [PART ...]
#   TEE_OFFLOAD_CUDA_LIBS  colon-separated folders holding libcuda, libnvrtc and libcublas when they are
#                          not on the dynamic loader's path
set -uo pipefail
out=${1:-.}
shift || true
parts=${*:-test products products4 split modes}
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
for part in $parts; do
  case $part in
    test) run node --test --test-reporter=spec dist/test/accelerator/gpu-linear.test.js ;;
    products) run node dist/src/bench/gpu-products.js vgg19_bn resnet18 alexnet --batch 1 --reps 3 --staging both ;;
    products4) run node dist/src/bench/gpu-products.js vgg19_bn resnet18 --batch 4 --reps 3 --arith wide ;;
    split)
      for b in 1 4; do
        models="vgg19_bn resnet18 alexnet"
        [ $b = 4 ] && models=vgg19_bn
        run node dist/src/bench/split-share.js $models --batch $b --steps 2 --accelerator-backend cuda
        run node dist/src/bench/split-share.js $models --batch $b --steps 2 --accelerator-backend cpu --accelerator-threads $((cores - 1))
      done ;;
    modes)
      for integrity in float off; do
        run node dist/src/bench/split-share.js vgg19_bn resnet18 alexnet --steps 2 --integrity $integrity --accelerator-backend cuda \
          $([ $integrity = off ] && echo --offload-min-intensity 0)
      done ;;
    *) echo "gpu-check: unknown part '$part' (test, products, products4, split, modes)" >&2; exit 2 ;;
  esac
done
exit $status
