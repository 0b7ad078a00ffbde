#!/bin/sh
# Replay the loaders' fuzz corpora (fuzz/corpus/{checkpoint,base64,data,view}/: seeds, what the
# fuzzers found, and regression inputs) through their libFuzzer targets under ASan + UBSan,
# each input once, no mutation; the spm charsmap corpus through build/fuzz_spm. The long,
# exploring runs are `make fuzz-loaders-run` (mk/hostile.mk). Skipped without clang.
set -u
cd "$(dirname "$0")/../.."
if ! command -v clang >/dev/null 2>&1; then
    echo "skipped: clang not installed (scripts/deps.sh installs it)"
    echo "0 passed, 0 failed"
    exit 0
fi
if ! make -j"${JOBS:-1}" --no-print-directory fuzz-loaders >build/fuzz-loaders-build.log 2>&1; then
    tail -30 build/fuzz-loaders-build.log
    echo "0 passed, 1 failed"
    exit 1
fi
pass=0
fail=0
for t in checkpoint base64 data view; do
    set -- fuzz/corpus/$t/*
    [ -e "$1" ] || continue
    if out=$(build/fuzz/fuzz_$t -rss_limit_mb=1024 -malloc_limit_mb=512 "$@" 2>&1); then
        pass=$((pass + $#))
        echo "ok   fuzz_$t: $# inputs"
    else
        echo "$out" | grep -v '^Running:\|^Executed' | tail -30
        fail=$((fail + 1))
        echo "FAIL fuzz_$t"
    fi
done
# the SentencePiece loader (charsmap mutations and whole models) through build/fuzz_spm
set -- fuzz/corpus/spm/*
if [ -e "$1" ]; then
    if ! make --no-print-directory fuzz-spm >>build/fuzz-loaders-build.log 2>&1; then
        tail -30 build/fuzz-loaders-build.log
        fail=$((fail + 1))
        echo "FAIL building build/fuzz_spm"
    elif out=$(build/fuzz_spm -rss_limit_mb=1024 "$@" 2>&1); then
        pass=$((pass + $#))
        echo "ok   fuzz_spm: $# inputs"
    else
        echo "$out" | grep -v '^Running:\|^Executed' | tail -30
        fail=$((fail + 1))
        echo "FAIL fuzz_spm"
    fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
