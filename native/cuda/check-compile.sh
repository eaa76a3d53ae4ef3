#!/usr/bin/env bash
# What CI can check of the CUDA code without a GPU (or cuBLAS): nvcc compiles the device
# reduction and its GPU test for Hopper, and the kernels' logic runs on the CPU emulator against
# the float64 reference on the adversarial batches. Prints one line per step; exits non-zero on
# any failure. Running on a GPU is native/gpu/check.sh's job.
set -euo pipefail
cd "$(dirname "$0")/../.."
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
inc=(-I native/include -I native/src -I native/cuda)
t0=$SECONDS
"$NVCC" -arch=sm_90 -O3 -std=c++17 "${inc[@]}" -c native/cuda/row_stats.cu -o "$out/row_stats.o"
"$NVCC" -arch=sm_90 -O3 -std=c++17 "${inc[@]}" -c native/cuda/row_stats_test.cu -o "$out/row_stats_test.o"
echo "cuda: nvcc -arch=sm_90 compiled row_stats.cu and row_stats_test.cu ($((SECONDS - t0)) s)"
t0=$SECONDS
g++ -std=c++17 -O1 -ffp-contract=off -Wno-unknown-pragmas "${inc[@]}" native/cuda/emu/row_stats_emu_test.cpp -o "$out/emu"
"$out/emu" | tail -n 3
echo "cuda: the kernels' logic passed on the CPU emulator ($((SECONDS - t0)) s)"
