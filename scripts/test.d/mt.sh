#!/bin/sh
# Translation commands (attn train/eval/translate with a SentencePiece model in the checkpoint):
# a tiny training on a synthetic word-by-word corpus whose loss must fall, cached decoding =
# uncached (greedy and beam), the checkpoint alone translates, --resume continues, bad input
# fails cleanly. Ends with "N passed, N failed".
cd "$(dirname "$0")/../.."
pass=0
fail=0
check() {
    if [ "$1" = 0 ]; then echo "ok   $2"; pass=$((pass + 1)); else echo "FAIL $2"; fail=$((fail + 1)); fi
}
A=${ATTN:-build/attn}
if [ ! -x "$A" ]; then
    echo "FAIL $A missing"
    echo "0 passed, 1 failed"
    exit 1
fi
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
# A toy language pair: random sentences over a small lexicon, translated word by word (German
# word order differs only in the adjective inflection, so the mapping is learnable fast).
awk -v out="$t" 'BEGIN {
    srand(7);
    split("the a", det); split("der ein", gdet);
    split("red big small old young green", adj); split("rote große kleine alte junge grüne", gadj);
    split("dog man woman child cat horse", noun); split("Hund Mann Frau Kind Katze Pferd", gnoun);
    split("runs sleeps eats sings plays waits", verb); split("läuft schläft isst singt spielt wartet", gverb);
    for (s = 0; s < 360; s++) {
        f = (s < 300) ? "train" : "val";
        d = int(rand() * 2) + 1; a = int(rand() * 6) + 1; n = int(rand() * 6) + 1; v = int(rand() * 6) + 1;
        e = det[d] " " adj[a] " " noun[n] " " verb[v] ".";
        g = gdet[d] " " gadj[a] " " gnoun[n] " " gverb[v] ".";
        e = toupper(substr(e, 1, 1)) substr(e, 2); g = toupper(substr(g, 1, 1)) substr(g, 2);
        print e > (out "/" f ".en"); print g > (out "/" f ".de");
    }
}'
cat >"$t/cfg" <<'CFG'
# tiny model for the test
vocab = 300
d_model = 32
nhead = 2
encoder_layers = 1
decoder_layers = 1
ff = 64
dropout = 0
max_len = 48
batch_tokens = 400
lr = 5e-3
warmup = 10
epochs = 15
avg_last = 2
val_bleu_sentences = 60
CFG
export OMP_WAIT_POLICY=passive
$A train translate --data "$t" --out "$t/run" --config "$t/cfg" --threads 1 >"$t/train.log" 2>&1
check $? "attn train translate exits 0"
rows=$(tail -n +2 "$t/run/metrics.csv" 2>/dev/null | wc -l)
[ "$rows" = 15 ]; check $? "metrics.csv has one row per epoch ($rows)"
awk -F, 'NR == 2 { l1 = $3; v1 = $4 } NR == 16 { l3 = $3; v3 = $4 } END { exit !(l3 < 0.8 * l1 && v3 < v1) }' "$t/run/metrics.csv"
check $? "training and validation loss fall"
for f in best model average; do
    [ -s "$t/run/$f.safetensors" ]; check $? "$f.safetensors written"
done
grep -q '^result: task=multi30k arch=transformer' "$t/train.log"; check $? "training prints its result line"

# The checkpoint alone translates (tokenizer inside it).
mkdir "$t/alone" && cp "$t/run/best.safetensors" "$t/alone/m.safetensors"
$A translate --model "$t/alone/m.safetensors" --threads 1 "The red dog runs." >"$t/one.txt" 2>&1
rc=$?
[ $rc = 0 ] && [ -s "$t/one.txt" ]; check $? "attn translate --model with only the checkpoint ($(cat "$t/one.txt"))"

# Cached = uncached decoding, greedy and beam; translate (stdin) = eval; BLEU above 0.
for beam in 1 3; do
    $A eval translate --model "$t/run/best.safetensors" --src "$t/val.en" --ref "$t/val.de" --beam $beam \
        --threads 1 --out "$t/c$beam" >"$t/ec$beam.log" 2>&1
    check $? "eval translate --beam $beam"
    $A eval translate --model "$t/run/best.safetensors" --src "$t/val.en" --ref "$t/val.de" --beam $beam \
        --threads 1 --out "$t/u$beam" --no-cache >"$t/eu$beam.log" 2>&1
    check $? "eval translate --beam $beam --no-cache"
    cmp -s "$t/c$beam" "$t/u$beam"; check $? "beam $beam: cached decoding gives the uncached tokens"
done
$A translate --model "$t/run/best.safetensors" --beam 3 --threads 1 <"$t/val.en" >"$t/tr3" 2>/dev/null
cmp -s "$t/tr3" "$t/c3"; check $? "attn translate (stdin) = attn eval translate"
$A translate --model "$t/run/best.safetensors" --beam 5 --threads 1 <"$t/val.en" >"$t/tr5" 2>/dev/null
scripts/example_translate.sh "$t/run/best.safetensors" "$t/val.en" "$t/tr5" >"$t/example.log" 2>&1
check $? "examples/text/translate.c (installed libraries only) = attn translate --beam 5"
bleu=$(sed -n 's/^result: .* bleu=\([0-9.]*\) .*/\1/p' "$t/ec3.log")
awk -v b="$bleu" 'BEGIN { exit !(b > 0) }'; check $? "BLEU > 0 after the tiny training ($bleu)"
grep -q 'sentences_per_s=' "$t/ec3.log"; check $? "eval prints sentences_per_s"

# --resume continues after the saved epoch.
$A train translate --data "$t" --out "$t/run" --config "$t/cfg" --threads 1 --resume --epochs 16 >"$t/resume.log" 2>&1
check $? "--resume exits 0"
grep -q 'resumed .* after epoch 15' "$t/resume.log"; check $? "--resume starts after epoch 15"
rows=$(tail -n +2 "$t/run/metrics.csv" | wc -l)
[ "$rows" = 16 ]; check $? "--resume appends epoch 16 to metrics.csv"

# Tied output projection (with the embedding scaled by sqrt(d), as tying wants): the checkpoint's
# generator.weight is the embedding, so the uncached decoder (tape, reading generator.weight) and
# the cached one (scaling the embedding itself) agree.
sed 's/^epochs = .*/epochs = 3/' "$t/cfg" >"$t/cfg_tie" && printf 'tie_output = 1\nscale_embedding = 1\n' >>"$t/cfg_tie"
$A train translate --data "$t" --out "$t/tie" --config "$t/cfg_tie" --threads 1 >"$t/tie.log" 2>&1
check $? "tie_output = 1 trains"
grep -q 'output projection tied' "$t/tie.log"; check $? "tie_output = 1 is reported"
grep -q '"attn.config.scale_embedding":"1"' "$t/tie/best.safetensors"; check $? "scale_embedding = 1 is in the checkpoint"
$A eval translate --model "$t/tie/best.safetensors" --src "$t/val.en" --ref "$t/val.de" --beam 2 \
    --threads 1 --out "$t/tc" >/dev/null 2>&1 &&
    $A eval translate --model "$t/tie/best.safetensors" --src "$t/val.en" --ref "$t/val.de" --beam 2 \
        --threads 1 --out "$t/tu" --no-cache >/dev/null 2>&1 && cmp -s "$t/tc" "$t/tu"
check $? "tied model: cached = uncached (beam 2)"

# schedule = budget: after the first epoch the learning rate falls linearly with the budget left
# (here the epochs: no run this small meets its time limit) and ends near 0; the plan is saved.
(sed 's/^epochs = .*/epochs = 6/' "$t/cfg"; echo "schedule = budget") >"$t/cfg_budget"
$A train translate --data "$t" --out "$t/budget" --config "$t/cfg_budget" --threads 1 >"$t/budget.log" 2>&1
check $? "schedule = budget trains"
awk -F, 'NR > 2 { if ($6 >= prev) bad = 1 } NR > 1 { prev = $6; if (NR == 2) first = $6; last = $6; l[NR] = $3 }
    END { exit bad || !(last < 0.05 * first) || !(l[NR] < 0.6 * l[2]) }' "$t/budget/metrics.csv"
check $? "schedule = budget: learning rate falls every epoch to < 5% of its peak, loss falls"
grep -q '"run.plan_span":"[1-9]' "$t/budget/run.safetensors"; check $? "schedule = budget: the plan is in the run state"
# config values are read strictly, in either format (JSON, or key = value with a warning)
printf '{"vocab": 300, "epochs": 1.5}\n' >"$t/cfg_frac.json"
$A train translate --data "$t" --out "$t/x" --config "$t/cfg_frac.json" >/dev/null 2>"$t/frac.err"
[ $? -eq 2 ] && grep -q '"epochs" must be a whole number' "$t/frac.err"; check $? "a fractional epoch count is refused"
printf 'dropout = 0.1x\n' >"$t/cfg_garbage"
$A train translate --data "$t" --out "$t/x" --config "$t/cfg_garbage" >/dev/null 2>"$t/garbage.err"
[ $? -eq 2 ] && grep -q 'not a number' "$t/garbage.err" && grep -q 'for compatibility' "$t/garbage.err"
check $? "trailing garbage after a number is refused (and the old format warned about)"
echo "schedule = cosine" >"$t/cfg_badsched"
$A train translate --data "$t" --out "$t/x" --config "$t/cfg_badsched" >/dev/null 2>&1
[ $? -ne 0 ]; check $? "an unknown schedule is refused"

# The GRU encoder-decoder with additive attention (--arch gru): trains (loss falls), its
# checkpoint alone translates, eval/translate agree, --resume continues.
cat >"$t/cfg_gru" <<'CFG'
vocab = 300
emb = 32
enc_hidden = 32
dec_hidden = 48
attn_size = 32
out_size = 48
dropout = 0
max_len = 48
batch_tokens = 400
lr = 5e-3
warmup = 10
epochs = 12
avg_last = 2
val_bleu_sentences = 60
CFG
$A train translate --arch gru --data "$t" --out "$t/gru" --config "$t/cfg_gru" --threads 1 >"$t/gru.log" 2>&1
check $? "attn train translate --arch gru exits 0"
grep -q 'GRU encoder-decoder with additive attention' "$t/gru.log"; check $? "--arch gru reports its model"
grep -q '^result: task=multi30k arch=gru' "$t/gru.log"; check $? "--arch gru prints its result line"
awk -F, 'NR == 2 { l1 = $3; v1 = $4 } NR == 13 { l3 = $3; v3 = $4 } END { exit !(l3 < 0.5 * l1 && v3 < 0.5 * v1) }' "$t/gru/metrics.csv"
check $? "GRU: training and validation loss halve in 12 epochs"
$A eval translate --model "$t/gru/best.safetensors" --src "$t/val.en" --ref "$t/val.de" --beam 1 \
    --threads 1 --out "$t/g1" >"$t/eg1.log" 2>&1
check $? "GRU: eval translate --beam 1"
gbleu=$(sed -n 's/^result: .*arch=gru bleu=\([0-9.]*\) .*/\1/p' "$t/eg1.log")
awk -v b="$gbleu" 'BEGIN { exit !(b > 5) }'; check $? "GRU: BLEU > 5 after the tiny training ($gbleu)"
$A eval translate --model "$t/gru/best.safetensors" --src "$t/val.en" --ref "$t/val.de" --beam 3 \
    --threads 1 --out "$t/g3" >/dev/null 2>&1
check $? "GRU: eval translate --beam 3"
$A translate --model "$t/gru/best.safetensors" --beam 3 --threads 1 <"$t/val.en" >"$t/gt3" 2>/dev/null
cmp -s "$t/gt3" "$t/g3"; check $? "GRU: attn translate (stdin) = attn eval translate"
mkdir "$t/galone" && cp "$t/gru/best.safetensors" "$t/galone/m.safetensors"
$A translate --model "$t/galone/m.safetensors" --threads 1 "The red dog runs." >"$t/gone.txt" 2>&1
[ $? = 0 ] && [ -s "$t/gone.txt" ]; check $? "GRU: the checkpoint alone translates ($(cat "$t/gone.txt"))"
$A train translate --arch gru --data "$t" --out "$t/gru" --config "$t/cfg_gru" --threads 1 --resume --epochs 13 >"$t/gresume.log" 2>&1
check $? "GRU: --resume exits 0"
rows=$(tail -n +2 "$t/gru/metrics.csv" | wc -l)
[ "$rows" = 13 ]; check $? "GRU: --resume appends epoch 13 to metrics.csv"
# attn viz on subword models: the GRU's additive attention and the Transformer's maps.
$A viz --model "$t/gru/best.safetensors" --input "The red dog runs." --out "$t/vg" --metrics >"$t/vg.log" 2>&1
check $? "GRU: attn viz exits 0"
[ -s "$t/vg/cross_L0_H0.png" ] && [ -s "$t/vg/attention.html" ] && grep -q '(gru model)' "$t/vg.log"
check $? "GRU: attn viz writes the additive attention map and the viewer"
$A viz --model "$t/run/best.safetensors" --input "The red dog runs." --target "Der rote Hund läuft." \
    --out "$t/vt" >"$t/vt.log" 2>&1
check $? "Transformer (subword): attn viz exits 0"
[ -s "$t/vt/cross_L0_H1.png" ] && [ -s "$t/vt/encoder-self_L0_H0.png" ] && [ -s "$t/vt/decoder-self_L0_H0.png" ]
check $? "Transformer (subword): cross, encoder and decoder self-attention maps per head"
/usr/bin/python3 - "$t/vt/attention.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
src, tgt = d.get("src") or d.get("source"), d.get("tgt") or d.get("target")
assert src[-1] == "</s>" and tgt[-1] == "</s>", (src, tgt)
assert "".join(tgt[:-1]).replace("\u2581", " ").strip() == "Der rote Hund läuft.", tgt
PY
check $? "Transformer (subword): viewer data has the pieces of source and target"
$A viz --model "$t/gru/best.safetensors" --input "" --out "$t/ve" >/dev/null 2>&1
[ $? = 1 ]; check $? "attn viz with an empty input: exit 1"
$A train translate --arch lstm --data "$t" --out "$t/x" >/dev/null 2>&1
[ $? = 2 ]; check $? "unknown --arch: usage error"

# Bad input fails with a message, no crash.
$A translate --model "$t/nonexistent" x >/dev/null 2>&1
[ $? = 1 ]; check $? "missing model: exit 1"
printf 'not a checkpoint' >"$t/bad.safetensors"
$A eval translate --model "$t/bad.safetensors" --src "$t/val.en" --ref "$t/val.de" >/dev/null 2>&1
[ $? = 1 ]; check $? "corrupt model: exit 1"
$A train translate --data "$t/none" --out "$t/x" >/dev/null 2>&1
[ $? = 1 ]; check $? "missing data: exit 1"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
