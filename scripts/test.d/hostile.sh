#!/bin/sh
# Hostile model files (issue 19): every command that loads a model (translators, classifiers,
# language models), run from the ASan/UBSan build on each file of the regression corpus
# scripts/make_hostile.py writes, must end with exit 1 or 2, a message on stderr (naming the problem, for the commands that load that kind of
# model: the pattern in the corpus MANIFEST), no sanitizer report, in under 5 s and 200 MB of
# peak RSS. Then the classifiers of 3, 64 and 4096 classes must load, classify, evaluate and
# visualise.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
ATTN=${ATTN:-build-san/attn}
PY=${PY:-/usr/bin/python3}
OUT=build/hostile
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

if [ ! -x "$ATTN" ]; then
    echo "FAIL $ATTN not built (make SAN=1 cli)"
    echo "0 passed, 1 failed"
    exit 1
fi
if [ ! -x /usr/bin/time ]; then
    echo "FAIL /usr/bin/time missing (apt-get install time)"
    echo "0 passed, 1 failed"
    exit 1
fi
rm -rf "$OUT"
if ! "$PY" scripts/make_hostile.py --attn "$ATTN" --out "$OUT" >"$OUT.log" 2>&1; then
    cat "$OUT.log"
    echo "0 passed, 1 failed"
    exit 1
fi
IN=$OUT/in
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# run CMD...: exit status in $rc, stderr in $OUT/err, peak RSS (KiB) in $rss, seconds in $secs.
run() {
    t0=$(date +%s.%N)
    timeout 20 /usr/bin/time -f '%M' -o "$OUT/rss" "$@" >"$OUT/out" 2>"$OUT/err" </dev/null
    rc=$?
    secs=$(echo "$(date +%s.%N) - $t0" | bc)
    rss=$(tail -1 "$OUT/rss" 2>/dev/null)
    case $rss in ''|*[!0-9]*) rss=999999999 ;; esac
}

# check NAME PATTERN: the last run failed cleanly; PATTERN ("" = any message) on stderr.
check() {
    what=$1 pat=$2
    msg=$(head -c 300 "$OUT/err" | tr '\n' ' ')
    if [ "$rc" -ne 1 ] && [ "$rc" -ne 2 ]; then bad "$what: exit $rc: $msg"; return; fi
    if grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error' "$OUT/err"; then bad "$what: sanitizer: $msg"; return; fi
    if [ ! -s "$OUT/err" ]; then bad "$what: no message"; return; fi
    if [ -n "$pat" ] && ! grep -q -i -E "$pat" "$OUT/err"; then bad "$what: message does not name /$pat/: $msg"; return; fi
    if [ "$(echo "$secs >= 5" | bc)" -eq 1 ]; then bad "$what: took $secs s"; return; fi
    if [ "$rss" -ge 204800 ]; then bad "$what: peak RSS $rss KiB"; return; fi
    ok
}

worst_s=0
worst_kb=0
while IFS="$(printf '\t')" read -r name kind pat; do
    f=$OUT/$name.safetensors
    for cmd in translate classify eval-translate eval-classify viz generate eval-lm; do
        case $cmd in
        translate) run "$ATTN" translate --model "$f" "the dog runs" ;;
        classify) run "$ATTN" classify --model "$f" "the film was good" ;;
        eval-translate) run "$ATTN" eval translate --model "$f" --src "$IN/src.txt" --ref "$IN/ref.txt" ;;
        eval-classify) run "$ATTN" eval classify --model "$f" --data "$IN/test.tsv" ;;
        viz) run "$ATTN" viz --model "$f" --input "the dog runs" --out "$OUT/viz" ;;
        generate) run "$ATTN" generate --model "$f" --prompt "the" --max-new 4 --seed 1 ;;
        eval-lm) run "$ATTN" eval lm --model "$f" --data "$IN/corpus.txt" ;;
        esac
        # the pattern applies where the command loads this kind of model
        p=""
        case "$kind:$cmd" in
        any:*|classify:classify|classify:eval-classify|classify:viz|translate:translate|translate:viz) p=$pat ;;
        lm:generate|lm:eval-lm|lm:viz) p=$pat ;;
        translate:eval-translate) case $name in spm-*|gru-*) p=$pat ;; esac ;;
        esac
        check "$name / attn $cmd" "$p"
        worst_s=$(echo "if ($secs > $worst_s) $secs else $worst_s" | bc)
        [ "$rss" -gt "$worst_kb" ] && [ "$rss" -lt 999999999 ] && worst_kb=$rss
    done
done <"$OUT/MANIFEST"
echo "hostile corpus: $(wc -l <"$OUT/MANIFEST") files x 7 commands; slowest ${worst_s} s, largest peak RSS ${worst_kb} KiB"

# ---- any number of classes --------------------------------------------------------------
for c in 3 64 4096; do
    f=$OUT/good-${c}classes.safetensors
    "$ATTN" classify --model "$f" "the film was good" "a bad film" >"$OUT/out" 2>"$OUT/err"
    rc=$?
    n=$(grep -c -E '^class[0-9]+	0\.[0-9]{4}	' "$OUT/out")
    top=$(grep -o -E '^class[0-9]+' "$OUT/out" | sed 's/class//' | sort -n | tail -1)
    if [ $rc -eq 0 ] && [ "$n" -eq 2 ] && [ "${top:-$c}" -lt "$c" ]; then ok; else
        bad "classify, $c classes (exit $rc): $(head -c 300 "$OUT/out" "$OUT/err")"
    fi
    "$ATTN" eval classify --model "$f" --data "$IN/test.tsv" >"$OUT/out" 2>"$OUT/err"
    rc=$?
    if [ $rc -eq 0 ] && grep -q '^accuracy ' "$OUT/out" && grep -q 'other' "$OUT/out"; then ok; else
        bad "eval classify, $c classes (exit $rc): $(head -c 300 "$OUT/err")"
    fi
    "$ATTN" viz --model "$f" --input "the film was good" --out "$OUT/viz-$c" >"$OUT/out" 2>"$OUT/err"
    rc=$?
    if [ $rc -eq 0 ] && grep -q -E '^class[0-9]+ \(0\.[0-9]{3}\)' "$OUT/out"; then ok; else
        bad "viz, $c classes (exit $rc): $(head -c 300 "$OUT/out" "$OUT/err")"
    fi
done
# ---- decoding is bounded by the input, not only by the model --------------------------------
f=$OUT/good-long-max-len.safetensors
run "$ATTN" translate --model "$f" "x" "march 3rd"
out_len=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$OUT/out" 2>/dev/null)
if [ $rc -eq 0 ] && [ "$(wc -l <"$OUT/out")" -eq 2 ] && [ "$out_len" -le 28 ] && [ "$(echo "$secs < 5" | bc)" = 1 ]; then ok; else
    bad "translate with max_len 524288 (exit $rc, ${secs} s, longest output $out_len characters, bound 2·9+10)"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
