#!/bin/sh
# example_translate.sh MODEL INPUT EXPECTED: build examples/text/translate.c against an install of
# this tree (headers, libattn, libattn_text, pkg-config files only — no path into the sources),
# translate INPUT with MODEL and compare with EXPECTED (what `attn translate --beam 5` printed).
set -u
cd "$(dirname "$0")/.."
model=$1 input=$2 expected=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make --no-print-directory install PREFIX="$tmp/prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig" LD_LIBRARY_PATH="$tmp/prefix/lib"
cp examples/text/translate.c "$tmp/translate.c"
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/translate" "$tmp/translate.c" $(pkg-config --cflags --libs attn-text) || exit 1
"$tmp/translate" "$model" <"$input" >"$tmp/out" || exit 1
cmp "$tmp/out" "$expected"
