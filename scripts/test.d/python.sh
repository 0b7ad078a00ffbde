#!/bin/sh
# The Python package as a user installs it (issue 20): `pip install ./python` into fresh venvs
# that see Debian's NumPy and PyTorch (--system-site-packages), then `import attn, attn.torch`
# with no environment variable, from outside the checkout, and README.md's Python example run
# exactly as written. Twice: with the library bundled into the package (the default), and with
# ATTN_BUNDLE=0 against a `make install`ed libattn found through pkg-config.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
root=$(pwd)
PY=${PY:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); [ -f "${2:-}" ] && tail -20 "$2"; }
unset ATTN_LIB PYTHONPATH
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

# The README's Python example, between "<!-- python:begin -->" and "<!-- python:end -->".
sed -n '/<!-- python:begin -->/,/<!-- python:end -->/p' README.md | sed -e '1,2d' -e '$d' | sed '$d' > "$tmp/readme_example.py"
[ -s "$tmp/readme_example.py" ] || bad "README.md has no Python example block"

# install VENV_NAME WHAT [env...]: a fresh venv and `pip install ./python` in it
install() {
    name=$1
    what=$2
    shift 2
    venv="$tmp/$name"
    if "$PY" -m venv --system-site-packages "$venv" >"$tmp/$name.log" 2>&1 &&
        env "$@" "$venv/bin/pip" install ./python >>"$tmp/$name.log" 2>&1; then
        ok "pip install ./python in a fresh venv ($what)"
    else
        bad "pip install ./python in a fresh venv ($what)" "$tmp/$name.log"
        return 1
    fi
}

# check VENV_NAME EXPECTED_LIB_PREFIX [env...]: imports, where the library came from, the example
check() {
    name=$1
    want=$2
    shift 2
    venv="$tmp/$name"
    mkdir -p "$tmp/run-$name"
    where=$(cd "$tmp/run-$name" && env "$@" "$venv/bin/python" -c \
        'import attn, attn.torch; print(attn._lib.library_path)' 2>"$tmp/$name.err")
    case "$where" in
        "$want"*) ok "$name: import attn, attn.torch without ATTN_LIB or PYTHONPATH (library: $where)" ;;
        *) bad "$name: import attn, attn.torch gave library '$where', expected under $want" "$tmp/$name.err" ;;
    esac
    if (cd "$tmp/run-$name" && env "$@" "$venv/bin/python" "$tmp/readme_example.py") >"$tmp/$name.ex" 2>&1; then
        ok "$name: README.md's Python example runs as written"
        sed 's/^/     /' "$tmp/$name.ex"
    else
        bad "$name: README.md's Python example" "$tmp/$name.ex"
    fi
}

if install bundled "library bundled from the checkout"; then
    check bundled "$tmp/bundled/lib/"
fi

# Against an installed libattn (make install), found through pkg-config.
if make --no-print-directory install PREFIX="$tmp/prefix" >"$tmp/install.log" 2>&1; then
    if install system "ATTN_BUNDLE=0, the installed libattn" ATTN_BUNDLE=0; then
        if [ -e "$tmp/system/lib/python3"*/site-packages/attn/_libs/libattn.so ]; then
            bad "ATTN_BUNDLE=0 still bundled the library"
        fi
        check system "$tmp/prefix/lib/" PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
    fi
else
    bad "make install PREFIX=$tmp/prefix" "$tmp/install.log"
fi
rm -rf "$root/python/build" "$root/python/attn.egg-info"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
