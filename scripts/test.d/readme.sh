#!/bin/sh
# The documents' shell examples, run as a user would paste them: every ```sh block of README.md
# and docs/*.md, in the order of the file, from the project's root (so `build/attn`, `configs/`
# and `../shared/data/` mean what the text says), each block by `sh -e` (the first failing
# command fails the block). Blocks of one file share what they write (under out/ and runs/,
# both ignored by git), so a later block may use the model an earlier one trained.
# A block follows `<!-- test:skip REASON -->` on the line before its fence only where running it
# here is impossible; it is then reported as skipped with REASON. Blocks that read
# ../shared/data/ or call mpirun are skipped, and say so, where those are absent.
# BUILD=DIR tests another build directory (`build/attn` in the blocks becomes DIR/attn);
# arguments name the documents to run (default: README.md docs/*.md).
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
root=$(pwd)
BUILD=${BUILD:-build}
bd=$BUILD
unset BUILD # the blocks' own make runs (pip install ./python) build where a user's would
PY=${PY:-/usr/bin/python3} # the documents' python3 is Debian's (python3-numpy, python3-torch)
pydir=$(dirname "$PY")
export PATH="$root/$bd:$pydir:$PATH" OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 # the MPI example, as root
# `make demo` runs as written, on a shorter job: its packages, build and run are what the block
# shows; the demo's training itself is the demo stage's (demo.sh, kill.sh)
export DEMO_ARGS="${DEMO_ARGS:---steps 60 --eval 100}"
pass=0
fail=0
skipped=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log_dir=$root/out/readme-test
mkdir -p "$log_dir"

if [ ! -x "$bd/attn" ]; then
    echo "FAIL $bd/attn not built (run make)"
    echo "0 passed, 1 failed"
    exit 1
fi

# split FILE: write each ```sh block to $tmp/blocks/N.sh with its start line in N.line and a
# skip reason (if any) in N.skip
split_blocks() {
    rm -rf "$tmp/blocks"
    mkdir -p "$tmp/blocks"
    awk -v dir="$tmp/blocks" '
        /^<!-- test:skip/ { reason = $0; sub(/^<!-- test:skip */, "", reason); sub(/ *-->.*$/, "", reason); pend = NR; next }
        !inblk && /^```sh[ \t]*$/ {
            n++; inblk = 1; f = sprintf("%s/%03d.sh", dir, n)
            print NR > sprintf("%s/%03d.line", dir, n)
            if (pend == NR - 1) print reason > sprintf("%s/%03d.skip", dir, n)
            printf "" > f
            next
        }
        inblk && /^```[ \t]*$/ { inblk = 0; close(f); next }
        inblk { print > f }
    ' "$1"
}

[ "$#" -gt 0 ] || set -- README.md docs/*.md
for doc in "$@"; do
    [ -f "$doc" ] || continue
    split_blocks "$doc"
    for b in "$tmp"/blocks/*.sh; do
        [ -f "$b" ] || continue
        n=${b%.sh}
        where="$doc:$(cat "$n.line")"
        first=$(grep -m1 -v '^[[:space:]]*\(#.*\)\{0,1\}$' "$b" | cut -c1-60)
        if [ -f "$n.skip" ]; then
            echo "skip $where ($first): $(cat "$n.skip")"
            skipped=$((skipped + 1))
            continue
        fi
        if grep -q '\.\./shared/data' "$b" && [ ! -d ../shared/data ]; then
            echo "skip $where ($first): ../shared/data is not on this machine"
            skipped=$((skipped + 1))
            continue
        fi
        if grep -q '^[[:space:]]*mpirun' "$b" && { [ ! -x "$bd/test_dist" ] || ! command -v mpirun > /dev/null 2>&1; }; then
            echo "skip $where ($first): attn was built without MPI"
            skipped=$((skipped + 1))
            continue
        fi
        sed "s#\bbuild/attn\b#$bd/attn#g" "$b" > "$b.run"
        log="$log_dir/$(echo "$where" | tr '/:' '__').log"
        t0=$(date +%s)
        sh -e "$b.run" > "$log" 2>&1
        rc=$?
        secs=$(($(date +%s) - t0))
        if [ "$rc" -eq 0 ]; then
            echo "ok   $where ($first) ${secs} s"
            pass=$((pass + 1))
        else
            echo "FAIL $where ($first): exit $rc after ${secs} s; last lines of $log:"
            tail -15 "$log" | sed 's/^/    /'
            fail=$((fail + 1))
        fi
    done
done
[ "$skipped" -eq 0 ] || echo "($skipped blocks skipped, reasons above)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
