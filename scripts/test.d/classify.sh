#!/bin/sh
# Test stage for text classification (attn train|eval classify, attn classify, attn viz on a
# classifier), run by `make test`. A short training on 1,000 IMDb reviews must clearly beat
# chance on 400 held-out test reviews; eval's report, classify on arguments/stdin/empty text,
# the tokenizer round trip inside the checkpoint, --resume, viz, and every loader error path
# through the CLI, and the forward against PyTorch on the same weights. IMDb is looked for in $IMDB_DATA, ../shared/data/imdb and
# ../../shared/data/imdb; without it the training checks are skipped (error paths still run).
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
ATTN=${ATTN:-build/attn}
OUT=out/classify-test
pass=0
fail=0
rm -rf "$OUT"
mkdir -p "$OUT"

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
# expect_err NAME PATTERN CMD...: CMD must exit 1 and print PATTERN (grep -E) on stderr.
expect_err() {
    name=$1 pat=$2
    shift 2
    "$@" >"$OUT/err.out" 2>"$OUT/err.txt"
    rc=$?
    if [ $rc -eq 1 ] && grep -q -E "$pat" "$OUT/err.txt"; then ok "$name"; else
        bad "$name (exit $rc): $(head -c 300 "$OUT/err.txt")"
    fi
}

if [ ! -x "$ATTN" ]; then
    echo "FAIL $ATTN not built (run make)"
    echo "0 passed, 1 failed"
    exit 1
fi

DATA=""
for d in "${IMDB_DATA:-}" ../shared/data/imdb ../../shared/data/imdb; do
    if [ -n "$d" ] && [ -f "$d/train.tsv.gz" ] && [ -f "$d/test.tsv.gz" ]; then DATA=$d; break; fi
done

# ---- loader and input errors (hand-made files) ----
E="$OUT/bad"
mkdir -p "$E/notab" "$E/label" "$E/utf8" "$E/ids" "$E/empty"
printf '1\tfine review\n0 no tab here\n' > "$E/notab/test.tsv"
printf '1\tfine\n2\tlabel two\n' > "$E/label/test.tsv"
printf '1\tfine\n0\tbad \377 byte\n' > "$E/utf8/test.tsv"
printf '1\tfine\n0\talso fine\n' > "$E/ids/test.tsv"
printf 'pos/0_9\ttt1\n' > "$E/ids/test.ids"
: > "$E/empty/test.tsv"
printf '{"d_model": 64, "no_such_key": 1}\n' > "$E/cfg_unknown.json"
printf '{"dropout": 2}\n' > "$E/cfg_range.json"
printf '{not json\n' > "$E/cfg_syntax.json"

expect_err "train: missing data path named" "nope/missing" "$ATTN" train classify --data "$OUT/nope/missing.tsv.gz" --out "$OUT/x"
expect_err "train: directory without data" "no train.tsv.gz" "$ATTN" train classify --data "$E/empty" --out "$OUT/x"
expect_err "config: unknown key named" "no_such_key" "$ATTN" train classify --data "$E/notab" --out "$OUT/x" --config "$E/cfg_unknown.json"
expect_err "config: value out of range" "dropout" "$ATTN" train classify --data "$E/notab" --out "$OUT/x" --config "$E/cfg_range.json"
expect_err "config: not JSON" "cfg_syntax.json" "$ATTN" train classify --data "$E/notab" --out "$OUT/x" --config "$E/cfg_syntax.json"
expect_err "config: missing file" "cfg_none.json" "$ATTN" train classify --data "$E/notab" --out "$OUT/x" --config "$E/cfg_none.json"

# ---- training, evaluation, classification (needs IMDb) ----
if [ -z "$DATA" ]; then
    echo "skip: IMDb not found (set IMDB_DATA): training, eval and classify checks not run"
else
    S="$OUT/small"
    mkdir -p "$S/test"
    gzip -dc "$DATA/train.tsv.gz" | head -1000 | gzip > "$S/train.tsv.gz"
    head -1000 "$DATA/train.ids" > "$S/train.ids"
    gzip -dc "$DATA/test.tsv.gz" | head -400 > "$S/test/test.tsv"
    cat > "$S/cfg.json" <<'CFG'
{"_comment": "a tiny run for make test", "vocab_size": 1000, "tokenizer_reviews": 1000,
 "max_len": 128, "head_tokens": 32, "d_model": 32, "nhead": 4, "num_layers": 1,
 "dim_feedforward": 64, "epochs": 5, "batch_size": 32, "lr": 3e-3, "val_fraction": 0.1}
CFG
    M="$S/run/best.safetensors" # the run's final model: the best by validation accuracy
    if "$ATTN" train classify --data "$S" --out "$S/run" --config "$S/cfg.json" --threads 2 > "$S/train.log" 2>&1 && [ -f "$M" ] &&
        [ -f "$S/run/model.safetensors" ] && tail -1 "$S/train.log" | grep -q -E "^result: task=imdb .* model=$S/run/best\.safetensors\$"; then
        ok "train classify: best and last models written, result names the final one ($(tail -1 "$S/train.log"))"
    else
        bad "train classify: $(tail -5 "$S/train.log")"
    fi
    if ls "$S/run" | grep -q -v -E '^(model|best|run)\.safetensors$|^metrics\.csv$'; then
        bad "train: stray files left in the run directory: $(ls "$S/run")"
    else ok "train: no temporary files left"; fi
    if head -1 "$S/run/metrics.csv" | grep -q '^epoch,step,train_loss,val_loss,val_acc,' && [ "$(wc -l < "$S/run/metrics.csv")" -eq 6 ]; then
        ok "metrics.csv has a row per epoch"; else bad "metrics.csv: $(head -3 "$S/run/metrics.csv")"; fi
    if grep -q -E '^epoch 5: train loss [0-9.]+  val loss [0-9.]+  val acc [0-9.]+' "$S/train.log"; then ok "validation each epoch"; else bad "validation lines"; fi
    # the best epoch's accuracy (metrics.csv) is the one the result line reports
    best=$(awk -F, 'NR > 1 && $5 > b { b = $5 } END { printf "%.4f", b }' "$S/run/metrics.csv")
    if tail -1 "$S/train.log" | grep -q "val_accuracy=$best "; then ok "result: the best epoch's accuracy ($best)"
    else bad "result accuracy vs metrics.csv best $best"; fi

    "$ATTN" eval classify --model "$M" --data "$S/test" --threads 2 > "$S/eval.txt" 2>&1
    last=$(tail -1 "$S/eval.txt")
    if echo "$last" | grep -q -E '^result: task=imdb accuracy=0\.[0-9]{4} n=400 seconds=[0-9.]+$'; then
        ok "eval: result line ($last)"; else bad "eval: last line '$last'"; fi
    acc=$(echo "$last" | sed -n 's/.*accuracy=\([0-9.]*\).*/\1/p')
    if awk -v a="${acc:-0}" 'BEGIN { exit !(a > 0.65) }'; then ok "beats chance: accuracy $acc > 0.65 on 400 held-out reviews"
    else bad "accuracy ${acc:-?} not above 0.65"; fi
    if grep -q 'confusion matrix' "$S/eval.txt" && grep -q -E '^positive +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9]+' "$S/eval.txt"; then
        ok "eval: per-class table and confusion matrix"; else bad "eval report"; fi
    # a run directory stands for its final model
    if [ "$("$ATTN" eval classify --model "$S/run" --data "$S/test" --threads 2 | tail -1 | cut -d' ' -f1-4)" = "$(echo "$last" | cut -d' ' -f1-4)" ]; then
        ok "eval: --model DIR evaluates DIR/best.safetensors"; else bad "eval: --model DIR"; fi
    # the same held-out reviews as an aclImdb-style split folder (pos/ and neg/)
    A="$S/acl/test"
    mkdir -p "$A/pos" "$A/neg"
    printf 'A great, wonderful film. Loved it.' > "$A/pos/0_10.txt"
    printf 'Awful, boring, a waste of time.' > "$A/neg/0_1.txt"
    if "$ATTN" eval classify --model "$M" --data "$S/acl" | tail -1 | grep -q 'n=2 '; then ok "eval: aclImdb layout"; else bad "eval: aclImdb layout"; fi

    out=$("$ATTN" classify --model "$M" "An excellent, beautiful and moving film." "")
    if [ "$(echo "$out" | wc -l)" -eq 2 ] && echo "$out" | head -1 | grep -q -E '^(positive|negative)	0\.[0-9]{4}	An excellent'; then
        ok "classify: arguments and an empty review answered"; else bad "classify: '$out'"; fi
    out=$(printf 'dull\n\nsuperb\n' | "$ATTN" classify --model "$M")
    if [ "$(echo "$out" | grep -c -E '^(positive|negative)	')" -eq 3 ]; then ok "classify: stdin lines"; else bad "classify stdin: '$out'"; fi
    expect_err "classify: invalid UTF-8 names the line" "<stdin>:2: invalid UTF-8" sh -c "printf 'ok\nbad \377\n' | '$ATTN' classify --model '$M'"

    # the tokenizer travels inside the checkpoint: round trips
    for text in "It was great fun, wasn't it?" "Ünïcödé and emoji 😀 survive" "\$%^&*()[]{} <x> 12345"; do
        dec=$("$ATTN" classify --model "$M" --pieces "$text" | sed -n 's/^decoded	//p')
        if [ "$dec" = "$text" ]; then ok "tokenizer round trip: $text"; else bad "round trip: '$text' -> '$dec'"; fi
    done
    cleaned=$("$ATTN" classify --model "$M" --pieces "a<br /><br />b &amp; c" | sed -n 's/^cleaned	//p')
    if [ "$cleaned" = "a b & c" ]; then ok "text normalised (<br />, entities)"; else bad "cleaned '$cleaned'"; fi

    if "$ATTN" train classify --data "$S" --out "$S/run" --config "$S/cfg.json" --resume > "$S/resume.log" 2>&1 && grep -q 'resumed .*after epoch 5' "$S/resume.log"; then
        ok "train --resume continues a finished run"; else bad "resume: $(tail -3 "$S/resume.log")"; fi

    if "$ATTN" viz --model "$M" --input "A wonderful film, but the ending was terrible." --out "$S/viz" > "$S/viz.log" 2>&1 &&
        [ -s "$S/viz/attention.html" ] && [ -s "$S/viz/classifier-self_tokens.png" ] && [ -s "$S/viz/classifier-self_L0_H0.png" ]; then
        ok "viz on a classifier: maps, html and token shading"; else bad "viz: $(tail -3 "$S/viz.log")"; fi

    # the same weights in PyTorch (float64) give the same probabilities
    "${PY:-/usr/bin/python3}" tests/classify/torch_conformance.py "$ATTN" "$M" > "$S/torch.log" 2>&1
    cat "$S/torch.log"
    line=$(grep -a -E '^[0-9]+ passed, [0-9]+ failed' "$S/torch.log" | tail -1)
    if [ -n "$line" ]; then
        pass=$((pass + ${line%% passed*}))
        f=${line#*passed, }
        fail=$((fail + ${f%% failed*}))
    else bad "torch conformance did not run: $(tail -3 "$S/torch.log")"; fi

    expect_err "eval: line without TAB named" "notab/test.tsv:2: no TAB" "$ATTN" eval classify --model "$M" --data "$E/notab"
    expect_err "eval: bad label named" "label/test.tsv:2: label" "$ATTN" eval classify --model "$M" --data "$E/label"
    expect_err "eval: invalid UTF-8 named" "utf8/test.tsv:2: invalid UTF-8" "$ATTN" eval classify --model "$M" --data "$E/utf8"
    expect_err "eval: ids file disagreeing" "test.ids" "$ATTN" eval classify --model "$M" --data "$E/ids"
    expect_err "eval: empty data" "no reviews|empty" "$ATTN" eval classify --model "$M" --data "$E/empty"
    expect_err "eval: missing model named" "none.safetensors" "$ATTN" eval classify --model "$S/none.safetensors" --data "$S/test"
    expect_err "eval: a run state is not a model" "run.safetensors.*not a model" "$ATTN" eval classify --model "$S/run/run.safetensors" --data "$S/test"
    "${PY:-/usr/bin/python3}" -c 'import json, struct, sys
h = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + bytes(8))' "$OUT/notcls.safetensors"
    expect_err "eval: not a classifier" "not a text classifier" "$ATTN" eval classify --model "$OUT/notcls.safetensors" --data "$S/test"
    head -c 1000 "$M" > "$S/cut.safetensors"
    expect_err "classify: truncated model file" "cut.safetensors" "$ATTN" classify --model "$S/cut.safetensors" "text"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
