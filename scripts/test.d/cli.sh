#!/bin/sh
# The attn command line as a user meets it: the help of every subcommand (standard output, exit
# 0), usage errors (standard error naming the option, exit 2), --opt=value, options after the
# positional arguments, `attn plot` on each kind of metrics.csv attn writes with PNG/SVG/PDF
# output checked by magic bytes, `attn bleu` against sacreBLEU's published test cases and on
# standard input, and text input read one way (invalid UTF-8, NUL bytes, long lines).
# ATTN=path/to/attn overrides build/attn. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
A=${ATTN:-build/attn}
pass=0
fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

check() {
    if [ "$1" = 0 ]; then echo "ok   $2"; pass=$((pass + 1)); else echo "FAIL $2"; fail=$((fail + 1)); fi
}
if [ ! -x "$A" ]; then
    echo "FAIL $A missing (make cli)"
    echo "0 passed, 1 failed"
    exit 1
fi

# ---- help of every subcommand: usage on stdout, nothing on stderr, exit 0 -------------------
for cmd in "" demo translate train "train translate" "train classify" "train lm" generate eval \
    "eval translate" "eval classify" bench "bench attention" "bench gemm" "bench train" \
    "bench ring" bleu spm "spm train" "spm encode" "spm decode" viz plot classify "train image" \
    "eval image" classify-image; do
    for h in --help -h; do
        # shellcheck disable=SC2086
        $A $cmd $h >"$t/out" 2>"$t/err"
        rc=$?
        [ $rc = 0 ] && [ -s "$t/out" ] && [ ! -s "$t/err" ] && grep -qi usage "$t/out"
        check $? "attn $cmd $h: usage on stdout, exit 0 (rc $rc, stderr $(wc -c <"$t/err") bytes)"
    done
done
$A --version >"$t/out" 2>&1
[ $? = 0 ] && grep -Eq '^attn [0-9]+\.[0-9]+\.[0-9]+$' "$t/out"
check $? "attn --version prints 'attn X.Y.Z' ($(cat "$t/out"))"
$A bench --help | grep -q "unknown benchmark"
[ $? != 0 ]; check $? "attn bench --help does not say 'unknown benchmark'"
$A >/dev/null 2>"$t/err"
[ $? = 2 ] && grep -q usage "$t/err"; check $? "attn alone: usage on stderr, exit 2"
$A frobnicate >/dev/null 2>"$t/err"
[ $? = 2 ] && grep -q "unknown command 'frobnicate'" "$t/err"; check $? "unknown command: exit 2, named"

# ---- usage errors: exit 2, nothing on stdout, the reason on stderr naming the option --------
# usage_error "WHAT" "EXPECTED MESSAGE (grep -F)" ARGS...
usage_error() {
    what=$1 expect=$2
    shift 2
    "$A" "$@" >"$t/out" 2>"$t/err"
    rc=$?
    [ $rc = 2 ] && [ ! -s "$t/out" ] && grep -qF -- "$expect" "$t/err" && grep -q "^attn " "$t/err"
    check $? "$what: exit 2 with '$expect' (rc $rc: $(head -1 "$t/err"))"
}
usage_error "translate --beam 0" "attn translate: --beam must be 1..64, got 0" translate --beam 0 --model m
usage_error "translate --beam 65" "--beam must be 1..64, got 65" translate --model m --beam 65
usage_error "translate --beam 3x" "--beam must be an integer 1..64, got '3x'" translate --beam 3x
usage_error "translate --threads -1" "--threads must be 0..4096, got -1" translate --threads -1 -m m
usage_error "translate --threads abc" "--threads must be an integer 0..4096, got 'abc'" translate --threads abc
usage_error "translate --threads 99999999999999999999" "--threads must be" translate --threads 99999999999999999999
usage_error "translate --len-penalty nan" "--len-penalty must be a number" translate --len-penalty nan -m m
usage_error "translate --max-len -5" "--max-len must be 0..1000000, got -5" translate --max-len=-5 -m m
usage_error "translate without --model" "--model is required" translate hello
usage_error "translate --beam without a value" "--beam needs a value" translate -m m --beam
usage_error "unknown long option" "unknown option --bogus" translate --bogus
usage_error "unknown short option" "unknown option -Z" translate -Z
usage_error "a flag given a value" "--no-cache takes no value" translate --no-cache=1 -m m
usage_error "bleu --tokenize foo" "--tokenize must be one of 13a|none|intl|char, got 'foo'" bleu --tokenize foo a b
usage_error "bleu with one file" "needs 2 arguments, got 1" bleu a
usage_error "bleu with stdin twice" "only one file can be '-'" bleu - -
usage_error "spm train --vocab 200" "--vocab must be 261..1000000, got 200" spm train --vocab 200 -i x -m y
usage_error "spm train --coverage 2" "--coverage must be" spm train --coverage 2 -i x -m y
usage_error "bench ring --len -5" "attn bench ring: --len must be 1..16777216, got -5" bench ring --len -5
usage_error "demo --steps 0" "attn demo: --steps must be 1 or more, got 0" demo --steps 0
usage_error "generate --top-k -1" "attn generate: --top-k must be 0..16777216, got -1" generate -m m --top-k -1
usage_error "train translate --arch lstm" "--arch must be one of transformer|gru, got 'lstm'" train translate --arch lstm --data d --out o
usage_error "eval translate --beam=0" "attn eval translate: --beam must be 1..64, got 0" eval translate --beam=0
usage_error "train lm --threads x" "attn train lm: --threads must be an integer 0..4096, got 'x'" train lm --threads x
usage_error "classify-image without a file" "needs 1 argument, got 0" classify-image -m m
usage_error "bench attention --reps abc" "attn bench attention: --reps must be an integer 0..64, got 'abc'" bench attention --reps abc
usage_error "bench gemm --threads 0" "attn bench gemm: --threads must be 1..4096, got 0" bench gemm --threads 0
usage_error "bench attention --pass sideways" "--pass must be one of fwd|bwd|both, got 'sideways'" bench attention --pass sideways
usage_error "spm unknown mode" "unknown mode 'frob'" spm frob
usage_error "spm encode without --model" "--model is required" spm encode
usage_error "classify --threads abc" "--threads must be an integer" classify --threads abc -m m
usage_error "eval classify --limit -1" "--limit must be 0 or more, got -1" eval classify --limit -1 -m m -d d
usage_error "plot --out x.jpg" "--out must end in .png, .svg or .pdf, got 'x.jpg'" plot m.csv --out x.jpg
usage_error "plot without a file" "needs 1 argument, got 0" plot
usage_error "viz --pool -1" "--pool" viz --synthetic --pool -1
usage_error "viz --seed x" "--seed must be an integer" viz --synthetic --seed x
usage_error "viz with no input" "exactly one of" viz

# ---- bleu: sacreBLEU's published test cases (test/test_bleu.py, README example) -------------
printf 'The dog bit the man.\nIt wasn'"'"'t surprising.\nThe man had just bitten him.\n' >"$t/hyp"
printf 'The dog bit the man.\nIt was not unexpected.\nThe man bit him first.\n' >"$t/r1"
printf 'The dog had bit the man.\nNo one was surprised.\nThe man had bitten the dog.\n' >"$t/r2"
printf '\n\n\n' >"$t/empty3"
# bleu_is EXPECTED ARGS...: the BLEU score printed equals EXPECTED to the printed 2 decimals.
bleu_is() {
    want=$1
    shift
    got=$("$A" bleu "$@" 2>"$t/err" | sed -n 's/^BLEU = \([0-9.]*\) .*/\1/p')
    [ "$got" = "$want" ]
    check $? "attn bleu $* = $want, sacreBLEU's (got '$got')"
}
bleu_is 48.53 "$t/hyp" "$t/r1" "$t/r2"                     # 48.530827, default 13a
bleu_is 49.19 "$t/hyp" "$t/r1" "$t/r2" --tokenize none     # 49.1919566
bleu_is 48.53 "$t/hyp" "$t/r1" "$t/r2" --tokenize=13a      # 48.530827
bleu_is 43.92 "$t/hyp" "$t/r1" "$t/r2" --tokenize=intl     # 43.91623493
bleu_is 48.53 "$t/hyp" "$t/r1" "$t/r2" --smooth none       # 48.530827
bleu_is 0.00 "$t/empty3" "$t/r1" "$t/r2"                   # empty hypotheses kept: 0.0
bleu_is 43.92 -t intl "$t/hyp" "$t/r1" "$t/r2"             # options before the files
bleu_is 43.92 "$t/hyp" -t intl "$t/r1" "$t/r2"             # and between them
bleu_is 100.00 "$t/r1" "$t/r1" --tokenize char
"$A" bleu "$t/hyp" "$t/r1" "$t/r2" >"$t/file.out" 2>&1
"$A" bleu - "$t/r1" "$t/r2" <"$t/hyp" >"$t/stdin.out" 2>&1
cmp -s "$t/file.out" "$t/stdin.out"; check $? "attn bleu - (stdin) = attn bleu FILE"
"$A" bleu "$t/r1" - <"$t/r1" | grep -q '^BLEU = 100.00'; check $? "attn bleu with the reference on stdin"
grep -Eq '^signature: nrefs:2\|case:mixed\|eff:no\|tok:13a\|smooth:exp\|version:attn-[0-9.]+$' "$t/file.out"
check $? "signature in sacreBLEU's field order, version naming attn ($(grep ^signature "$t/file.out"))"
"$A" bleu -l -t intl "$t/hyp" "$t/r1" | grep -q '|case:lc|eff:no|tok:intl|'
check $? "signature follows --lowercase and --tokenize"
grep -q '^chrF2 = 59.73$' "$t/file.out"; check $? "chrF2 = 59.73 (sacreBLEU's README)"

# ---- text input: one reader everywhere -------------------------------------------------------
printf 'a good line of five words\nbad \377 byte in a longer line\n' >"$t/bad"
"$A" bleu "$t/bad" "$t/bad" >/dev/null 2>"$t/err"
[ $? = 1 ] && grep -q "$t/bad:2: invalid UTF-8 at byte 5 of the line (0xFF)" "$t/err"
check $? "bleu: invalid UTF-8 named by file, line and byte ($(head -1 "$t/err"))"
"$A" bleu - "$t/bad" <"$t/bad" >/dev/null 2>"$t/err"
[ $? = 1 ] && grep -q "<stdin>:2: invalid UTF-8" "$t/err"
check $? "bleu: invalid UTF-8 on stdin named <stdin>:2"
"$A" bleu --replace-invalid "$t/bad" "$t/bad" | grep -q '^BLEU = 100.00'
check $? "bleu --replace-invalid reads the file (U+FFFD) instead"
printf 'one\ntw\000o\n' >"$t/nul"
"$A" bleu "$t/nul" "$t/nul" >/dev/null 2>"$t/err"
[ $? = 1 ] && grep -q "$t/nul:2: NUL byte at byte 3" "$t/err"
check $? "bleu: a NUL byte is refused with file, line and byte ($(head -1 "$t/err"))"
"$A" bleu --replace-invalid "$t/nul" "$t/nul" >/dev/null 2>&1
[ $? = 1 ]; check $? "NUL is refused even with --replace-invalid"
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "w%d ", i; printf "\n" }' >"$t/long"
"$A" bleu - "$t/long" <"$t/long" >"$t/out" 2>&1
grep -q '^BLEU = 100.00 .* hyp_len = 3000 ref_len = 3000)' "$t/out"
check $? "a $(wc -c <"$t/long")-byte line on stdin is one line (not split at 4,095 bytes)"
printf 'a b c d\r\ne f g h\r\n' >"$t/crlf"
printf 'a b c d\ne f g h' >"$t/lf"
"$A" bleu "$t/crlf" "$t/lf" | grep -q '^BLEU = 100.00'; check $? "CRLF and a last line without LF read as LF lines"
"$A" translate --model "$t/none.safetensors" --input "$t/bad" >/dev/null 2>"$t/err"
[ $? = 1 ] && grep -q "$t/bad:2: invalid UTF-8 at byte 5" "$t/err"
check $? "translate --input: invalid UTF-8 named by file, line and byte"
"$A" translate --beam 0 --help >"$t/out" 2>"$t/err"
[ $? = 0 ] && grep -q "^usage: attn translate" "$t/out" && [ ! -s "$t/err" ]
check $? "--help wins over a bad value before it"
for i in $(seq 1 40); do
    echo "Sentence number $i: a dog runs over the green grass near $((i * 7)) trees."
    echo "Zwei Männer spielen Fußball im Park, Nummer $i."
done >"$t/corpus"
"$A" spm train -i "$t/corpus" --model="$t/m.model" --vocab=320 --type bpe 2>"$t/err"
check $? "spm train with short options and --opt=value"
printf 'A dog runs over 700 trees.\nZwei Männer spielen.\n' >"$t/in"
"$A" spm encode "$t/in" --model "$t/m.model" | "$A" spm decode -m "$t/m.model" | cmp -s - "$t/in"
check $? "spm encode FILE (options after it) | spm decode gives the text back"
"$A" spm encode --model "$t/m.model" "$t/bad" >/dev/null 2>"$t/err"
[ $? = 1 ] && grep -q "$t/bad:2: invalid UTF-8 at byte 5" "$t/err"
check $? "spm encode: invalid UTF-8 is an error naming file, line and byte (was: replaced)"
"$A" spm encode --replace-invalid --model "$t/m.model" "$t/bad" | wc -l | grep -q '^2$'
check $? "spm encode --replace-invalid encodes both lines"

# ---- plot: each kind of metrics.csv, PNG/SVG/PDF by the extension ---------------------------
cat >"$t/mt.csv" <<'EOF'
epoch,step,train_loss,val_loss,val_bleu,lr,tokens_per_s,elapsed_s
1,120,5.21,4.98,1.2,0.0007,2100,30.1
2,240,4.02,4.11,6.5,0.0007,2150,60.4
3,360,3.31,3.80,11.9,0.0006,2140,90.2
EOF
cat >"$t/lm.csv" <<'EOF'
step,train_loss,val_loss,lr,tokens_per_s,elapsed_s
50,4.10,,0.001,900,5
100,3.55,3.61,0.001,910,10
150,3.20,,0.001,905,15
200,2.98,3.05,0.001,900,20
EOF
cat >"$t/cls.csv" <<'EOF'
step,loss,lr,tokens_per_s,val_metric
20,0.693,0.0003,5000,
40,0.610,0.0003,5100,
40,,,,0.71
60,0.480,0.0003,5050,
60,,,,0.80
EOF
cat >"$t/demo.csv" <<'EOF'
step,loss,lr,tokens_per_s,val_metric
100,1.90,0.001,30000,
200,0.80,0.001,31000,
300,0.21,0.001,30500,
300,,0,30500,0.97
EOF
magic_ok() { # FILE EXT
    case $2 in
    png) [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ;;
    svg) head -c 200 "$1" | grep -q '<svg' ;;
    pdf) [ "$(head -c 5 "$1")" = "%PDF-" ] ;;
    esac
}
for kind in mt lm cls demo; do
    for ext in png svg pdf; do
        rm -f "$t/$kind.$ext"
        "$A" plot "$t/$kind.csv" --out "$t/$kind.$ext" >"$t/out" 2>"$t/err"
        rc=$?
        [ $rc = 0 ] && magic_ok "$t/$kind.$ext" $ext
        check $? "plot $kind metrics.csv → .$ext (rc $rc, magic of a $ext file) $(head -1 "$t/err")"
    done
done
"$A" plot --y=val_bleu --x epoch -o "$t/bleu.svg" "$t/mt.csv" >/dev/null 2>&1 && magic_ok "$t/bleu.svg" svg \
    && grep -q val_bleu "$t/bleu.svg" 2>/dev/null || grep -q '<svg' "$t/bleu.svg"
check $? "plot --y=val_bleu --x epoch (options before the file)"
"$A" plot "$t/mt.csv" --y train_loss,nope -o "$t/x.png" >/dev/null 2>"$t/err"
[ $? = 1 ] && grep -q "no column 'nope'" "$t/err" && grep -q "train_loss" "$t/err"
check $? "plot --y with an unknown column names it and lists the columns"
"$A" plot "$t/mt.csv" -o "$t/M.PDF" >/dev/null 2>&1 && magic_ok "$t/M.PDF" pdf
check $? "plot: the extension is case-insensitive (.PDF)"

# ---- a real (tiny) run: the demo's own metrics.csv, translate over a file with progress ----
"$A" demo --steps 2 --batch 4 --threads 1 --eval 10 --d-model 16 --heads 2 --layers 1 \
    --dec-layers 1 --out "$t/demo" >"$t/demo.log" 2>&1
check $? "a 2-step demo run for the checks below"
for ext in png svg pdf; do
    "$A" plot "$t/demo/metrics.csv" -o "$t/demo_curve.$ext" >/dev/null 2>&1 && magic_ok "$t/demo_curve.$ext" $ext
    check $? "plot the demo's own metrics.csv → .$ext"
done
seq 1 300 | awk '{ printf "march %d 20%02d\n", $1 % 28 + 1, $1 % 100 }' >"$t/dates"
"$A" translate -i "$t/dates" --model "$t/demo/model.safetensors" -j 1 >"$t/tr.out" 2>"$t/tr.err"
rc=$?
[ $rc = 0 ] && [ "$(wc -l <"$t/tr.out")" = 300 ] && grep -q '^translate 300/300 lines .* lines/s' "$t/tr.err" \
    && ! grep -q 'lines/s' "$t/tr.out"
check $? "translate --input of 300 lines: 300 lines on stdout, progress on stderr ($(tail -1 "$t/tr.err"))"
"$A" translate -q -i "$t/dates" --model "$t/demo/model.safetensors" -j 1 >"$t/trq.out" 2>"$t/trq.err"
[ $? = 0 ] && [ ! -s "$t/trq.err" ] && cmp -s "$t/tr.out" "$t/trq.out"
check $? "translate -q: no progress, the same translations"
"$A" translate -i - -m "$t/demo/model.safetensors" -j 1 <"$t/dates" 2>/dev/null | cmp -s - "$t/tr.out"
check $? "translate -i - (stdin) = translate -i FILE"
"$A" translate "march 3rd 2021" "1 may 1999" --model="$t/demo/model.safetensors" --beam=2 -j1 >"$t/two" 2>"$t/err"
[ $? = 0 ] && [ "$(wc -l <"$t/two")" = 2 ] && [ ! -s "$t/err" ]
check $? "translate TEXT TEXT with the options after them, --opt=value; no progress for two lines"
"$A" translate -m "$t/demo/model.safetensors" -i "$t/dates" "march 3rd" >/dev/null 2>"$t/err"
[ $? = 2 ] && grep -q "not both" "$t/err"; check $? "translate: TEXT and --input together is a usage error"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
