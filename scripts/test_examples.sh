#!/bin/sh
# Compile and run every example, and the C example quoted in README.md exactly as written,
# against the freshly built library through its installed form (header + pkg-config file).
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make --no-print-directory install PREFIX="$tmp/prefix" >/dev/null || { echo "install failed"; echo "0 passed, 1 failed"; exit 1; }
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
export LD_LIBRARY_PATH="$tmp/prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# The README example sits between the markers "<!-- example:begin -->" and "<!-- example:end -->".
sed -n '/<!-- example:begin -->/,/<!-- example:end -->/p' README.md | sed -e '1,2d' -e '$d' | sed '$d' > "$tmp/readme_example.c"
check() {
    name=$1
    src=$2
    if cc -std=c11 -Wall -Wextra -Werror -o "$tmp/$name" "$src" $(pkg-config --cflags --libs attn) -lm \
        && "$tmp/$name" > "$tmp/$name.out" 2>&1; then
        echo "ok   $name"
        pass=$((pass + 1))
    else
        echo "FAIL $name"
        cat "$tmp/$name.out" 2>/dev/null
        fail=$((fail + 1))
    fi
}
if [ -s "$tmp/readme_example.c" ]; then
    check readme_example "$tmp/readme_example.c"
else
    echo "FAIL readme_example: no example block found in README.md"
    fail=$((fail + 1))
fi
for src in examples/*.c; do
    [ -f "$src" ] || continue
    check "$(basename "$src" .c)" "$src"
done
# libattn_mpi's examples, through attn-mpi.pc (one process: MPI's singleton mode when built with it)
for src in examples/mpi/*.c; do
    [ -f "$src" ] || continue
    name=mpi_$(basename "$src" .c)
    if cc -std=c11 -Wall -Wextra -Werror -o "$tmp/$name" "$src" $(pkg-config --cflags --libs attn-mpi) -lm \
        && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$tmp/$name" > "$tmp/$name.out" 2>&1; then
        echo "ok   $name: $(tail -1 "$tmp/$name.out")"
        pass=$((pass + 1))
    else
        echo "FAIL $name"
        cat "$tmp/$name.out" 2>/dev/null
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
