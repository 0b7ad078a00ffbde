#!/bin/sh
# Run every test stage and end with one line: "N passed, N failed".
# Each stage prints its own summary; this script adds them up. Exit status 1 on any failure.
set -u
cd "$(dirname "$0")/.."
PY=${PY:-/usr/bin/python3}
total_pass=0
total_fail=0
total_skip=0
log_dir=build/test-logs
mkdir -p "$log_dir"

# stage NAME COMMAND...: run, echo output, add up the counts it reports.
stage() {
    name=$1
    shift
    echo "== $name"
    log="$log_dir/$name.log"
    "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    # Criterion: "Synthesis: Tested: 12 | Passing: 12 | Failing: 0 | Crashing: 0"
    # a stage's own closing line counts first (a stage may run a Criterion binary among others)
    synth=$(grep -a 'Synthesis: Tested' "$log" | tail -1 | sed 's/\x1b\[[0-9;]*m//g')
    [ -n "$(grep -a -E '^[0-9]+ passed, [0-9]+ failed' "$log")" ] && synth=""
    if [ -n "$synth" ]; then
        p=$(echo "$synth" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
        f=$(echo "$synth" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
        c=$(echo "$synth" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
        f=$((f + c))
    else
        line=$(grep -a -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
        p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
        f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    fi
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # the stage failed without saying how many: count it once
    fi
    skipped=$(grep -a -m1 '^skipped: ' "$log")
    if [ -n "$skipped" ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "-- $name: $skipped" # counted neither passed nor failed
        total_skip=$((total_skip + 1))
    else
        echo "-- $name: $p passed, $f failed (exit $rc)"
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
}

# Shared or loaded machines: OpenMP threads that sleep instead of spinning at barriers keep
# the suite from crawling when the cores are oversubscribed (results do not depend on it).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

stage unit build/test_attn --jobs 2
stage unit-asan build-san/test_attn --jobs 2
stage examples scripts/test_examples.sh
if [ -f tests/py/run_all.py ]; then
    stage conformance env ATTN_LIB=build/libattn.so "$PY" tests/py/run_all.py
fi
for extra in scripts/test.d/*.sh; do
    [ -x "$extra" ] || continue
    stage "$(basename "$extra" .sh)" "$extra"
done

[ "$total_skip" -eq 0 ] || echo "($total_skip stages skipped: see their -- lines)"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
