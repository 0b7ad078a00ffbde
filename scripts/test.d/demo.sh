#!/bin/sh
# Test stage for `attn demo` and `attn translate` (tools/attn/demo.c, translate.c), run by
# `make test`:
#   (a) resume is exact: 40 steps in one run = 20 steps, then --resume to 40 (same per-step
#       losses in metrics.csv, byte-identical model and optimiser files), also with the default
#       50-step loss window;
#   (b) the same seed and thread count twice give byte-identical models (another seed does not);
#   (c) translate: greedy = --beam 1, beam search runs, batch of lines = one by one (beam search
#       against exhaustive search is in tests/c/test_models.c, models_decode);
#   (d) malformed input: not a checkpoint, a checkpoint of another architecture, bad metadata,
#       a truncated file, empty and over-long input, bad options, bad --resume.
# Small batches and few steps so it runs in well under a minute on 2 shared cores.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
ATTN=${ATTN:-build/attn}
PY=${PY:-/usr/bin/python3}
OUT=out/demo-test
# under contention OpenMP's spinning waits make 2 threads several times slower than 1
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { # check NAME COMMAND...: the command's status decides
    name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

if [ ! -x "$ATTN" ]; then
    echo "FAIL $ATTN not built (run make)"
    echo "0 passed, 1 failed"
    exit 1
fi
rm -rf "$OUT"
mkdir -p "$OUT"

COMMON="--eval 20 --val 32 --threads 2 --batch 16"
run() { # run DIR ARGS...: a demo run, output to DIR.log (appended)
    dir=$1
    shift
    mkdir -p "$dir"
    "$ATTN" demo "$@" --out "$dir" >> "$dir.log" 2>&1
}
# loss rows (epoch, step, train loss, validation loss, lr; not the timing columns)
loss_rows() { awk -F, 'NR > 1 { print $1 "," $2 "," $3 "," $4 "," $5 }' "$1"; }

# ---- (a) resume ------------------------------------------------------------------------------
run $OUT/full $COMMON --log-every 1 --steps 40
run $OUT/resumed $COMMON --log-every 1 --steps 20
rc_first=$?
grep -q "^20," $OUT/resumed/metrics.csv
run $OUT/resumed $COMMON --log-every 1 --steps 40 --resume
rc=$?
check "demo runs finish (40 steps, 20 steps, resume to 40)" [ "$rc_first" = 0 ] && [ "$rc" = 0 ]
check "resumed run starts at the saved step" grep -q "resumed $OUT/resumed at step 20" $OUT/resumed.log
loss_rows $OUT/full/metrics.csv > $OUT/full.loss
loss_rows $OUT/resumed/metrics.csv > $OUT/resumed.loss
n=$(wc -l < $OUT/full.loss)
check "per-step losses after resume = uninterrupted ($n rows)" \
    sh -c "[ $n = 40 ] && cmp -s $OUT/full.loss $OUT/resumed.loss"
check "resumed model.safetensors byte-identical" cmp -s $OUT/full/model.safetensors $OUT/resumed/model.safetensors
check "resumed run.safetensors byte-identical" cmp -s $OUT/full/run.safetensors $OUT/resumed/run.safetensors
# the default period of 50 steps: a run stopped at 20 and resumed to 40 validates at 20 and 40;
# its model and the validation at 40 are the uninterrupted run's (the warm-up spans both)
run $OUT/wfull $COMMON --steps 40
run $OUT/wres $COMMON --steps 20
run $OUT/wres $COMMON --steps 40 --resume
a=$(awk -F, '$2 == 40 { print $4 }' $OUT/wfull/metrics.csv)
b=$(awk -F, '$2 == 40 { print $4 }' $OUT/wres/metrics.csv)
check "default period: validation at step 40 after a resume at 20 = uninterrupted ($a)" \
    sh -c "[ -n '$a' ] && [ '$a' = '$b' ] && cmp -s $OUT/wfull/model.safetensors $OUT/wres/model.safetensors"

# ---- (b) determinism -------------------------------------------------------------------------
run $OUT/again $COMMON --log-every 1 --steps 40
check "same seed and threads twice: byte-identical model" cmp -s $OUT/full/model.safetensors $OUT/again/model.safetensors
check "same seed and threads twice: same metrics" sh -c "[ \"\$(cut -d, -f1-5 $OUT/full/metrics.csv)\" = \"\$(cut -d, -f1-5 $OUT/again/metrics.csv)\" ]"
run $OUT/seed1 $COMMON --steps 10 --seed 1
run $OUT/seed2 $COMMON --steps 10 --seed 2
check "another seed: a different model" sh -c "! cmp -s $OUT/seed1/model.safetensors $OUT/seed2/model.safetensors"

# ---- (c) translate ---------------------------------------------------------------------------
M=$OUT/full/model.safetensors
T="$ATTN translate --threads 1 --model $M"
INPUTS="march 3rd 2021|3/4/1999|Saturday, 3 March 2021|the 1st of May, 1960|x"
greedy=$(echo "$INPUTS" | tr '|' '\n' | $T 2> $OUT/t1.err)
rc1=$?
beam1=$(echo "$INPUTS" | tr '|' '\n' | $T --beam 1 2> $OUT/t2.err)
beam4=$(echo "$INPUTS" | tr '|' '\n' | $T --beam 4 2> $OUT/t3.err)
rc4=$?
check "translate: greedy = --beam 1 (5 lines)" sh -c "[ $rc1 = 0 ] && [ \"\$(echo '$greedy' | wc -l)\" = 5 ] && [ '$greedy' = '$beam1' ]"
check "translate: --beam 4 gives one line per input" sh -c "[ $rc4 = 0 ] && [ \"\$(echo '$beam4' | wc -l)\" = 5 ]"
echo "$INPUTS" | tr '|' '\n' > $OUT/inputs.txt
$T --beam 5 < $OUT/inputs.txt > $OUT/beam5.txt 2> /dev/null
check "examples/text/translate.c (installed libraries only) = attn translate --beam 5 on the date model" \
    scripts/example_translate.sh $M $OUT/inputs.txt $OUT/beam5.txt
one=$($T "march 3rd 2021" "3/4/1999")
check "translate: arguments = the same lines from stdin" sh -c "[ '$one' = \"\$(echo '$greedy' | head -2)\" ]"

# ---- (d) malformed input ---------------------------------------------------------------------
# expect_error NAME PATTERN COMMAND...: exit status 1 or 2 (not a signal), stderr matches
expect_error() {
    name=$1 pattern=$2
    shift 2
    "$@" > $OUT/err.out 2> $OUT/err.txt < /dev/null
    rc=$?
    if [ $rc -ge 1 ] && [ $rc -le 2 ] && grep -q -- "$pattern" $OUT/err.txt; then
        ok "$name (exit $rc: $(head -c 120 $OUT/err.txt | head -1))"
    else
        bad "$name (exit $rc, stderr: $(head -c 200 $OUT/err.txt))"
    fi
}
echo "not a checkpoint" > $OUT/text.safetensors
expect_error "translate: a text file as model" "text.safetensors" $T --model $OUT/text.safetensors "march 3rd 2021"
expect_error "translate: missing model file" "nope.safetensors" $ATTN translate --model $OUT/nope.safetensors "x"
expect_error "translate: a run state (not a model)" "training run.s state" \
    $ATTN translate --model $OUT/full/run.safetensors "x"
head -c 3000 $M > $OUT/truncated.safetensors
expect_error "translate: a truncated checkpoint" "truncated.safetensors" \
    $ATTN translate --model $OUT/truncated.safetensors "x"
# the same file with one metadata value changed (header rewritten in place)
edit_meta() { # edit_meta KEY VALUE OUTFILE
    "$PY" - "$M" "$1" "$2" "$3" <<'EOF'
import json, struct, sys
src, key, value, dst = sys.argv[1:]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
head["__metadata__"][key] = value
h = json.dumps(head).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(dst, "wb").write(struct.pack("<Q", len(h)) + h + raw[8 + n:])
EOF
}
edit_meta attn.arch gpt $OUT/gpt.safetensors
expect_error "translate: a checkpoint of another architecture" "attn.arch=gpt" \
    $ATTN translate --model $OUT/gpt.safetensors "x"
edit_meta attn.tokenizer sentencepiece $OUT/tok.safetensors
expect_error "translate: another tokenizer" "attn.tokenizer=sentencepiece" \
    $ATTN translate --model $OUT/tok.safetensors "x"
edit_meta attn.config.d_model 64 $OUT/dm.safetensors
expect_error "translate: configuration disagreeing with the tensors" "is \[" \
    $ATTN translate --model $OUT/dm.safetensors "x"
edit_meta attn.config.nhead three $OUT/nh.safetensors
expect_error "translate: unreadable configuration" "attn.config.nhead" \
    $ATTN translate --model $OUT/nh.safetensors "x"
edit_meta attn.config.max_len 2 $OUT/ml.safetensors
out=$($ATTN translate --model $OUT/ml.safetensors "x" 2> /dev/null)
check "translate: a model with max_len 2 decodes at most 1 character" sh -c "[ $? = 0 ] && [ \$(printf %s '$out' | wc -c) -le 1 ]"
expect_error "translate: input longer than a max_len of 2" "longer than the model's 2" \
    $ATTN translate --model $OUT/ml.safetensors "abc"
out=$($T "" 2> $OUT/empty.err)
rc=$?
check "translate: empty input gives an empty line" sh -c "[ $rc = 0 ] && [ -z '$out' ] && [ ! -s $OUT/empty.err ]"
out=$(printf '\n\nmarch 3rd 2021\n' | $T 2> /dev/null)
check "translate: empty stdin lines give empty lines" sh -c "[ \"\$(echo '$out' | head -2 | tr -d '\n')\" = '' ] && [ \"\$(echo '$out' | wc -l)\" = 3 ]"
long=$(printf '%0100d' 0)
expect_error "translate: input longer than max_len" "longer than" $T "$long"
out=$($T "mär 3 2021 ☃" 2> /dev/null)
check "translate: non-ASCII input decodes (unknown characters)" sh -c "[ $? = 0 ] && [ -n '$out' ]"
expect_error "translate: --beam 0" "--beam must be 1..64, got 0" $T --beam 0 "x"
expect_error "translate: no --model" "--model is required" $ATTN translate "x"
expect_error "demo: --resume with another seed" "other data" $ATTN demo --steps 41 --resume --seed 9 --out $OUT/full --eval 0 --threads 1 --batch 16
expect_error "demo: --resume without a saved run" "run.safetensors" $ATTN demo --steps 5 --resume --out $OUT/empty --eval 0 --threads 1
expect_error "demo: bad option" "--steps must be 1 or more, got 0" $ATTN demo --steps 0

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
