#!/bin/sh
# The SentencePiece shim's test program (C++ library, so kept out of build/test_attn), in the
# normal build and, when it was built, under ASan+UBSan; then the training runs of libattn_text
# (tests/text/test_runs.c) likewise. Ends with "N passed, N failed".
cd "$(dirname "$0")/../.."
pass=0
fail=0
for bin in build/test_spm build-san/test_spm build/test_text_runs build-san/test_text_runs; do
    [ -x "$bin" ] || { case $bin in build/*) echo "FAIL $bin missing"; fail=$((fail + 1)) ;; esac; continue; }
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

# The attn command's text subcommands.
cli_check() {
    if [ "$1" = 0 ]; then echo "ok   $2"; pass=$((pass + 1)); else echo "FAIL $2"; fail=$((fail + 1)); fi
}
if [ -x build/attn ]; then
    echo "== attn bleu / attn spm"
    t=$(mktemp -d)
    printf 'The dog bit the man.\nIt wasn'"'"'t surprising.\nThe man had just bitten him.\n' >"$t/hyp"
    printf 'The dog bit the man.\nIt was not unexpected.\nThe man bit him first.\n' >"$t/r1"
    printf 'The dog had bit the man.\nNo one was surprised.\nThe man had bitten the dog.\n' >"$t/r2"
    out=$(build/attn bleu "$t/hyp" "$t/r1" "$t/r2" 2>&1)
    echo "$out" | grep -q '^BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)$'
    cli_check $? "attn bleu prints sacreBLEU's documented line for its README example"
    echo "$out" | grep -q '^chrF2 = 59.73$'
    cli_check $? "attn bleu prints the documented chrF2 = 59.73"
    build/attn bleu "$t/hyp" "$t/missing" >/dev/null 2>"$t/err"
    [ $? -ne 0 ] && grep -q missing "$t/err"
    cli_check $? "attn bleu names a missing file and fails"
    for i in $(seq 1 60); do
        echo "Sentence number $i: a dog runs over the green grass near $((i * 7)) trees."
        echo "Zwei Männer spielen Fußball im Park, Nummer $i."
    done >"$t/corpus"
    build/attn spm train --input "$t/corpus" --model "$t/m.model" --vocab 320 --type bpe 2>/dev/null
    cli_check $? "attn spm train writes a model"
    printf 'A dog runs over 700 trees.\nZwei Männer 🐕 spielen.\n' >"$t/in"
    build/attn spm encode --model "$t/m.model" <"$t/in" | build/attn spm decode --model "$t/m.model" | cmp -s - "$t/in"
    cli_check $? "attn spm encode | attn spm decode gives the text back (emoji through bytes)"
    rm -rf "$t"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
