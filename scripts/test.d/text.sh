#!/bin/sh
# The SentencePiece shim's test program (C++ library, so kept out of build/test_attn), in the
# normal build and, when it was built, under ASan+UBSan. Ends with "N passed, N failed".
cd "$(dirname "$0")/../.."
pass=0
fail=0
for bin in build/test_spm build-san/test_spm; do
    [ -x "$bin" ] || { [ "$bin" = build/test_spm ] && { echo "FAIL $bin missing"; fail=$((fail + 1)); }; continue; }
    echo "== $bin"
    out=$("$bin" 2>&1)
    rc=$?
    echo "$out"
    line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    p=${p:-0}
    f=${f:-0}
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    pass=$((pass + p))
    fail=$((fail + f))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
