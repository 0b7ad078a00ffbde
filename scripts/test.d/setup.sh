#!/bin/sh
# The set-up as a newcomer meets it: scripts/deps.sh by purpose and the Makefile's checks.
# Libraries are hidden by pointing pkg-config at a directory without their .pc files, so
# nothing is uninstalled. Checks:
#   - on this (complete) machine every group is satisfied and deps.sh installs nothing;
#   - without the libraries, `--check demo` names exactly the build packages (no test tools);
#     as a non-root user it prints the sudo command; `make lib` stops before compiling anything,
#     naming the Debian packages; `make` without Criterion plans no test program and says so;
#   - the banner's cpu= is the best ISA /proc/cpuinfo lists.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for g in lib build demo bench test; do
    if out=$(scripts/deps.sh "$g" 2>&1) && [ -z "$out" ]; then
        ok "deps.sh $g: everything present, nothing to install, silent"
    else
        bad "deps.sh $g on this machine: $out"
    fi
done

# a pkg-config directory with every .pc file but those named
hide() {
    d="$tmp/pc-$(echo "$*" | tr ' ' '-')"
    mkdir -p "$d"
    for dir in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
        for f in "$dir"/*.pc; do
            [ -f "$f" ] || continue
            n=$(basename "$f" .pc)
            case " $* " in *" $n "*) continue ;; esac
            [ -e "$d/$n.pc" ] || ln -s "$f" "$d/$n.pc"
        done
    done
    echo "$d"
}

none=$(hide cairo libcjson zlib sentencepiece fontconfig)
out=$(PKG_CONFIG_LIBDIR=$none scripts/deps.sh --check demo 2>&1)
rc=$?
want="zlib1g-dev libcjson-dev libcairo2-dev libfontconfig-dev libsentencepiece-dev"
line=$(echo "$out" | grep 'apt-get install')
missing_ok=1
for p in $want; do echo "$line" | grep -qw -- "$p" || missing_ok=0; done
if [ "$rc" -eq 1 ] && [ "$missing_ok" -eq 1 ] &&
    ! echo "$line" | grep -q -e chromium -e criterion -e torch -e openmpi -e openblas; then
    ok "deps.sh --check demo without the libraries: exit 1, names $want and no test tool"
else
    bad "deps.sh --check demo without the libraries (exit $rc): $out"
fi

if [ "$(id -u)" -eq 0 ] && id nobody > /dev/null 2>&1; then
    out=$(su nobody -s /bin/sh -c "PKG_CONFIG_LIBDIR=$none sh scripts/deps.sh demo" 2>&1)
    rc=$?
    if [ "$rc" -eq 1 ] && echo "$out" | grep -q 'sudo apt-get install .*libcjson-dev'; then
        ok "deps.sh demo as a non-root user: prints the sudo apt-get line, exit 1"
    else
        bad "deps.sh demo as a non-root user (exit $rc): $out"
    fi
fi

out=$(PKG_CONFIG_LIBDIR=$none make --no-print-directory BUILD="$tmp/b" lib 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && echo "$out" | grep -q 'libcjson-dev' && echo "$out" | grep -q 'zlib1g-dev' &&
    [ ! -d "$tmp/b/obj" ]; then
    ok "make lib without cJSON and zlib stops before compiling and names libcjson-dev, zlib1g-dev"
else
    bad "make lib without the libraries (exit $rc): $(echo "$out" | tail -5)"
fi

nocrit=$(hide criterion)
out=$(PKG_CONFIG_LIBDIR=$nocrit make --no-print-directory -n BUILD="$tmp/c" 2>&1)
if echo "$out" | grep -q 'criterion=no' && echo "$out" | grep -q 'libcriterion-dev' &&
    echo "$out" | grep -q "$tmp/c/attn" && ! echo "$out" | grep -q 'test_attn'; then
    ok "make without Criterion: builds the library and attn, plans no test program, says so"
else
    bad "make without Criterion: $(echo "$out" | grep -e 'attn:' -e test_attn | head -5)"
fi
out=$(PKG_CONFIG_LIBDIR=$nocrit make --no-print-directory BUILD="$tmp/c" tests 2>&1)
if [ $? -ne 0 ] && echo "$out" | grep -q "install libcriterion-dev" && [ ! -d "$tmp/c/obj" ]; then
    ok "make tests without Criterion: stops before compiling, naming libcriterion-dev"
else
    bad "make tests without Criterion: $(echo "$out" | tail -3)"
fi

best=portable
grep -qw avx2 /proc/cpuinfo && best=avx2
grep -qw avx512f /proc/cpuinfo && best=avx512f
banner=$(make --no-print-directory -s BUILD="$tmp/d" features 2>&1 | grep '^attn:')
if echo "$banner" | grep -q "cpu=$best\$"; then
    ok "banner reports cpu=$best, the best ISA in /proc/cpuinfo"
else
    bad "banner: $banner (want cpu=$best)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
