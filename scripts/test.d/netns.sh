#!/bin/sh
# MPI across a real network boundary on one machine: two network namespaces joined by a veth
# link (10.77.<k>.1 and .2), one "host" each. mpirun runs inside the first namespace and starts
# the second host's daemon through a launch agent that does `ip netns exec` instead of ssh;
# OpenMPI's out-of-band and byte-transfer traffic is limited to the veth addresses (tcp only, no
# shared memory between the hosts). Checks: ring attention (forward/backward errors, and the
# same errors as on loopback) at 2 and 4 ranks, and the data-parallel demo's losses bit-identical
# to the same 2-rank run on loopback. The namespaces are removed on exit. Skipped (and said so,
# counted neither passed nor failed) without MPI or root, or where the environment refuses what
# the test does: it probes exactly that first — `ip netns add`, a veth pair, and `ip netns exec`
# (which needs to make / a slave mount and mount /sys: refused in a chroot or a container
# without CAP_SYS_ADMIN), alone and nested as the launch agent runs it.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build} # the build directory to test (make BUILD=...)
root=$(pwd)
skip() {
    echo "skipped: $1"
    echo "0 passed, 0 failed"
    exit 0
}
[ -x "$BUILD"/test_dist ] || skip "attn was built without MPI"
[ "$(id -u)" -eq 0 ] || skip "creating network namespaces needs root"
command -v ip > /dev/null || skip "iproute2 (ip) is not installed"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

k=$(( $$ % 200 + 20 ))
na="attn-$$-a" nb="attn-$$-b"
A="10.77.$k.1" B="10.77.$k.2"
tmp=$(mktemp -d)
cleanup() {
    ip netns del "$na" 2> /dev/null
    ip netns del "$nb" 2> /dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ip netns add "$na" 2> "$tmp/probe" && ip netns add "$nb" 2> "$tmp/probe" ||
    skip "ip netns add refused here: $(head -1 "$tmp/probe")"
ip netns exec "$na" true 2> "$tmp/probe" ||
    skip "ip netns exec refused here (it mounts /sys and makes / a slave mount): $(head -1 "$tmp/probe")"
ip netns exec "$na" ip netns exec "$nb" true 2> "$tmp/probe" ||
    skip "nested ip netns exec (the launch agent's) refused here: $(head -1 "$tmp/probe")"
ip link add "veth$$a" netns "$na" type veth peer name "veth$$b" netns "$nb" 2> "$tmp/probe" ||
    skip "cannot create a veth pair here: $(head -1 "$tmp/probe")"
ip -n "$na" addr add "$A/24" dev "veth$$a"
ip -n "$nb" addr add "$B/24" dev "veth$$b"
for n in "$na" "$nb"; do
    ip -n "$n" link set lo up
done
ip -n "$na" link set "veth$$a" up
ip -n "$nb" link set "veth$$b" up
if ip -n "$na" -br addr show "veth$$a" | grep -q "UP.*$A/24" &&
    ip -n "$nb" -br addr show "veth$$b" | grep -q "UP.*$B/24" &&
    { ! command -v ping > /dev/null || ip netns exec "$na" ping -c 1 -W 5 "$B" > /dev/null 2>&1; }; then
    ok "namespaces $na ($A) and $nb ($B) joined by a veth link"
else
    bad "veth link: $A cannot reach $B"
fi

# the launch agent: "agent HOST COMMAND..." runs COMMAND in HOST's namespace, as ssh would
cat > "$tmp/agent" << EOF
#!/bin/sh
host=\$1
shift
case "\$host" in
    $A) ns=$na ;;
    $B) ns=$nb ;;
    *) echo "agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" /bin/sh -c "\$*"
EOF
chmod +x "$tmp/agent"
printf '%s slots=2\n%s slots=2\n' "$A" "$B" > "$tmp/hosts"
net="10.77.$k.0/24"
run_net() { # $1 = ranks; rest = the attn command line
    n=$1
    shift
    timeout 300 ip netns exec "$na" mpirun -np "$n" --hostfile "$tmp/hosts" --map-by node \
        --mca plm_rsh_agent "$tmp/agent" --mca btl self,tcp --mca btl_tcp_if_include "$net" \
        --mca oob_tcp_if_include "$net" --mca plm_rsh_no_tree_spawn 1 \
        -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM "$root/$BUILD/attn" "$@"
}
run_local() {
    n=$1
    shift
    OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_vader_single_copy_mechanism=none \
        OMPI_MCA_rmaps_base_oversubscribe=1 timeout 300 mpirun -np "$n" "$root/$BUILD/attn" "$@"
}

for n in 2 4; do
    args="bench ring --check full --len 384 --heads 2 --dim 32 --causal"
    before=$(ip netns exec "$nb" cat "/sys/class/net/veth$$b/statistics/rx_bytes")
    out=$(run_net "$n" $args 2>&1)
    rc=$?
    after=$(ip netns exec "$nb" cat "/sys/class/net/veth$$b/statistics/rx_bytes")
    res=$(echo "$out" | grep '^result:')
    ref=$(run_local "$n" $args 2>&1 | grep '^result:')
    echo "    namespaces: $res"
    echo "    loopback:   $ref"
    errs() { echo "$1" | sed -n 's/.* \(max_err=[^ ]*\).* \(bwd_max_err=[^ ]*\).*/\1 \2/p'; }
    if [ "$rc" -eq 0 ] && [ -n "$res" ] && [ "$(errs "$res")" = "$(errs "$ref")" ] &&
        echo "$res" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
                          END { exit !(v["max_err"] <= 1e-5 && v["bwd_max_err"] <= 1e-4) }'; then
        ok "ring at $n ranks over the veth link: $(errs "$res") (as on loopback), $((after - before)) bytes received by $nb"
    else
        echo "$out" | tail -15 | sed 's/^/    /'
        bad "ring at $n ranks over the veth link (exit $rc)"
    fi
done
dargs="demo --batch 8 --threads 1 --eval 0 --seed 5 --steps 3"
run_net 2 $dargs --out "$tmp/dn" --losses "$tmp/dn.loss" > "$tmp/dn.log" 2>&1
rc=$?
run_local 2 $dargs --out "$tmp/dl" --losses "$tmp/dl.loss" > "$tmp/dl.log" 2>&1
if [ "$rc" -eq 0 ] && [ -s "$tmp/dn.loss" ] && cmp -s "$tmp/dn.loss" "$tmp/dl.loss"; then
    ok "demo at 2 ranks over the veth link: losses bit-identical to loopback ($(tail -1 "$tmp/dn.loss"))"
else
    tail -15 "$tmp/dn.log" | sed 's/^/    /'
    bad "demo over the veth link (exit $rc)"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
