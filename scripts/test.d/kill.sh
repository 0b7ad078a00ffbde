#!/bin/sh
# Kill test (the run state of attn/train.h, through `attn demo`): a training is killed with
# SIGKILL at 30 random moments and resumed each time; at the end its model and run state
# (weights, optimiser moments, step, dropout stream) must be byte-identical to an uninterrupted
# run with the same seed and threads, metrics.csv must hold each step once with the same losses,
# and no temporary file may be left. Ends with "N passed, N failed".
cd "$(dirname "$0")/../.."
ATTN=${ATTN:-build/attn}
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
if [ ! -x "$ATTN" ]; then
    echo "FAIL $ATTN missing"
    echo "0 passed, 1 failed"
    exit 1
fi
OUT=$(mktemp -d)
trap '[ -n "$KEEP" ] || rm -rf "$OUT"' EXIT
# a small model and many saves, so that kills land in steps, in saves and between them
ARGS="--steps 120 --batch 8 --d-model 32 --heads 2 --layers 1 --log-every 1 --val 8 --eval 0 --threads 1 --seed 5"
"$ATTN" demo $ARGS --out "$OUT/ref" > "$OUT/ref.log" 2>&1
check "uninterrupted run finishes" grep -q '^result:\|saved' "$OUT/ref.log"
# 30 kills at random moments (seeded: the same moments on every run of the test)
kills=0
seed=12345
while [ $kills -lt 30 ]; do
    resume=""
    [ -f "$OUT/k/run.safetensors" ] && resume="--resume"
    started=$(grep -c '^attn demo: English' "$OUT/k.log" 2>/dev/null)
    "$ATTN" demo $ARGS $resume --out "$OUT/k" >> "$OUT/k.log" 2>&1 &
    pid=$!
    # wait for the run to begin training (after loading and resuming), then a random while:
    # the kill lands in a step, in a save or between them, whatever the machine's load
    while [ "$(grep -c '^attn demo: English' "$OUT/k.log" 2>/dev/null)" = "${started:-0}" ] && kill -0 $pid 2>/dev/null; do
        sleep 0.01
    done
    # and for this run's first save (a new metrics.csv row), so that on a loaded machine the kills
    # still land in later steps and saves, not always before the first one
    rows0=$(cat "$OUT/k/metrics.csv" 2>/dev/null | wc -l)
    [ -n "$resume" ] || rows0=0
    while [ "$(cat "$OUT/k/metrics.csv" 2>/dev/null | wc -l)" -le "$rows0" ] && kill -0 $pid 2>/dev/null; do
        sleep 0.01
    done
    seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
    ms=$(( seed % 1500 ))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    if kill -9 $pid 2>/dev/null; then kills=$((kills + 1)); fi
    wait $pid 2>/dev/null
    if grep -q '^result:' "$OUT/k.log" 2>/dev/null && [ $kills -lt 30 ]; then
        # it finished before the kill: start over so that every kill interrupts a run
        cat "$OUT/k.log" >> "$OUT/earlier.log" # its resumes still count
        rm -rf "$OUT/k" "$OUT/k.log"
    fi
done
resume=""
[ -f "$OUT/k/run.safetensors" ] && resume="--resume"
"$ATTN" demo $ARGS $resume --out "$OUT/k" >> "$OUT/k.log" 2>&1
check "after 30 kills the run finishes (exit $?)" grep -q '^result:' "$OUT/k.log"
check "model.safetensors byte-identical to the uninterrupted run" cmp -s "$OUT/ref/model.safetensors" "$OUT/k/model.safetensors"
check "run.safetensors (weights, optimiser, step, RNG) byte-identical" cmp -s "$OUT/ref/run.safetensors" "$OUT/k/run.safetensors"
steps() { awk -F, 'NR > 1 { print $2 "," $3 "," $4 }' "$1"; }
steps "$OUT/ref/metrics.csv" > "$OUT/ref.rows"
steps "$OUT/k/metrics.csv" > "$OUT/k.rows"
check "metrics.csv: the same 120 loss rows, each step once" sh -c "[ \$(wc -l < '$OUT/k.rows') = 120 ] && cmp -s '$OUT/ref.rows' '$OUT/k.rows'"
left=$(find "$OUT/k" -name '*.tmp.*' | wc -l)
check "no temporary file left ($left)" [ "$left" = 0 ]
resumes=$(cat "$OUT/earlier.log" "$OUT/k.log" 2>/dev/null | grep -c '^resumed')
check "the kills interrupted training: $resumes of 31 runs resumed from a saved state" [ "$resumes" -ge 15 ]
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
