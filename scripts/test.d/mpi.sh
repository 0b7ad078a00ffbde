#!/bin/sh
# MPI tests: the dist layer under mpirun at 1, 2 and 4 ranks, a configuration mismatch, and a
# dying rank (bounded time, nonzero exit). Skipped, and said so, when attn was built without MPI.
set -u
cd "$(dirname "$0")/../.."
if [ ! -x build/test_dist ]; then
    echo "skipped: attn was built without MPI (install libopenmpi-dev openmpi-bin, or make MPI=1)"
    echo "0 passed, 0 failed"
    exit 0
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
for n in 1 2 4; do
    out=$(timeout 120 mpirun -np "$n" build/test_dist normal 2>&1)
    rc=$?
    echo "$out" | sed 's/^/    /'
    line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    pass=$((pass + ${p:-0}))
    fail=$((fail + ${f:-0}))
    [ "$rc" -eq 0 ] && [ -n "$line" ] || bad "mpirun -np $n test_dist exited $rc"
done
out=$(timeout 120 mpirun -np 3 build/test_dist mismatch 2>&1)
rc=$?
echo "$out" | sed 's/^/    /'
if [ "$rc" -eq 0 ] && echo "$out" | grep -q "differs between rank 0 and rank 2"; then ok "configuration mismatch named"; else bad "configuration mismatch (exit $rc)"; fi
start=$(date +%s)
out=$(ATTN_DIST_TIMEOUT=10 timeout 90 mpirun -np 2 build/test_dist die 2>&1)
rc=$?
took=$(( $(date +%s) - start ))
echo "$out" | sed 's/^/    /' | head -20
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$took" -lt 60 ]; then ok "dying rank: nonzero exit ($rc) in ${took}s"; else bad "dying rank: exit $rc after ${took}s"; fi
start=$(date +%s)
out=$(ATTN_DIST_TIMEOUT=5 timeout 90 mpirun -np 2 build/test_dist hang 2>&1)
rc=$?
took=$(( $(date +%s) - start ))
echo "$out" | sed 's/^/    /' | head -6
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$took" -lt 60 ] && echo "$out" | grep -q "rank 0 of 2.*rank 1 did not answer"; then
    ok "silent rank: rank 0 names it, nonzero exit ($rc) in ${took}s"
else
    bad "silent rank: exit $rc after ${took}s"
fi
# ring attention vs the single-process fused kernel (forward and backward, every rank's chunks)
ring_ok() { # $1 = ranks, rest = options; passes when both errors are small
    n=$1; shift
    out=$(timeout 120 mpirun -np "$n" build/attn bench ring --check full "$@" 2>&1)
    rc=$?
    res=$(echo "$out" | grep '^result:')
    echo "    $res"
    fe=$(echo "$res" | sed -n 's/.* max_err=\([^ ]*\).*/\1/p')
    be=$(echo "$res" | sed -n 's/.*bwd_max_err=\([^ ]*\).*/\1/p')
    if [ "$rc" -eq 0 ] && [ -n "$fe" ] && [ -n "$be" ] &&
        awk -v a="$fe" -v b="$be" 'BEGIN { exit !(a <= 1e-5 && b <= 1e-4) }'; then
        ok "ring np=$n $*: fwd err $fe, bwd err $be"
    else
        echo "$out" | sed 's/^/    /' | tail -5
        bad "ring np=$n $* (exit $rc)"
    fi
}
for n in 1 2 4; do
    ring_ok "$n" --len 192 --heads 3 --dim 32 --causal
    ring_ok "$n" --len 144 --heads 2 --dim 16
done
out=$(timeout 60 mpirun -np 4 build/attn bench ring --len 64 --causal 2>&1)
if [ $? -ne 0 ] && echo "$out" | grep -q "too short"; then ok "ring: chunks of 8 tokens refused"; else bad "ring: short chunks not refused"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
