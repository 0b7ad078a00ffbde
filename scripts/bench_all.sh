#!/bin/sh
# Run every benchmark once, side by side, into build/bench/*.txt (the figures in BENCHMARKS.md).
#   scripts/bench_all.sh [threads]
set -u
cd "$(dirname "$0")/.."
T=${1:-2}
mkdir -p build/bench
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee build/bench/machine.txt
build/attn bench attention --threads "$T" --pass fwd | tee build/bench/attention_fwd.txt
build/attn bench attention --threads "$T" --pass bwd --shapes S1,S2,S3,S5,S7 | tee build/bench/attention_bwd.txt
build/attn bench attention --threads "$T" --shapes S8 | tee build/bench/attention_train_shape.txt
build/attn bench gemm --threads "$T" | tee build/bench/gemm.txt
build/attn bench train --threads "$T" --steps 10 --rounds 3 | tee build/bench/train.txt
