#!/bin/sh
# Replay the IDX fuzz corpus (seeds and regression inputs in fuzz/corpus/idx/) through the
# libFuzzer target under ASan + UBSan, each input once. Skipped, and said so, without clang.
set -u
cd "$(dirname "$0")/../.."
if ! command -v clang >/dev/null 2>&1; then
    echo "skipped: clang not installed (scripts/deps.sh installs it)"
    echo "0 passed, 0 failed"
    exit 0
fi
mkdir -p build
if ! make --no-print-directory fuzz-idx >build/fuzz-idx-build.log 2>&1; then
    cat build/fuzz-idx-build.log
    echo "FAIL building build/fuzz_idx"
    echo "0 passed, 1 failed"
    exit 1
fi
pass=0
fail=0
for f in fuzz/corpus/idx/*; do
    if out=$(build/fuzz_idx -runs=1 "$f" 2>&1); then
        pass=$((pass + 1))
    else
        echo "$out" | tail -20
        echo "FAIL $f"
        fail=$((fail + 1))
    fi
done
echo "replayed $((pass + fail)) corpus inputs through fuzz_idx"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
