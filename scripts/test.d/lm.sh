#!/bin/sh
# attn train lm / attn generate: a tiny character-level GPT on tiny shakespeare (or a synthetic
# text when the data folder is absent) — validation loss falls, a run killed with SIGKILL and
# resumed ends byte-identical to an uninterrupted one, sampling is seeded (same seed, same text;
# another seed, other text), greedy decoding is deterministic, bad input fails cleanly.
# Ends with "N passed, N failed".
cd "$(dirname "$0")/../.."
ATTN=${ATTN:-build/attn}
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
[ -x "$ATTN" ] || { echo "FAIL $ATTN missing"; echo "0 passed, 1 failed"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
src=../shared/data/tinyshakespeare/input.txt
if [ -f "$src" ]; then head -c 300000 "$src" > "$T/text.txt"; else
    awk 'BEGIN { srand(3); split("to be or not that is the question whether tis nobler in mind", w);
                 for (i = 0; i < 40000; i++) printf "%s%s", w[int(rand() * 14) + 1], (i % 12 == 11) ? ".\n" : " " }' > "$T/text.txt"
fi
printf '{"n_layer": 2, "n_head": 2, "d_model": 32, "context": 32, "batch": 8, "steps": 240, "eval_every": 40, "eval_batches": 4, "lr": 0.003}\n' > "$T/cfg.json"
"$ATTN" train lm --data "$T/text.txt" --out "$T/a" --config "$T/cfg.json" --threads 1 > "$T/a.log" 2>&1
check "train lm finishes with a result line" grep -q '^result: task=lm' "$T/a.log"
check "validation loss falls below 85% of its first value" awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "val_loss") c = i } NR == 2 { f = $c } END { exit !(c && $c < 0.85 * f) }' "$T/a/metrics.csv"
# the same run, killed once training has saved twice, then resumed
"$ATTN" train lm --data "$T/text.txt" --out "$T/b" --config "$T/cfg.json" --threads 1 > "$T/b.log" 2>&1 &
pid=$!
rows() { if [ -f "$T/b/metrics.csv" ]; then wc -l < "$T/b/metrics.csv"; else echo 0; fi; }
while kill -0 $pid 2>/dev/null && [ "$(rows)" -lt 3 ]; do sleep 0.01; done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
"$ATTN" train lm --data "$T/text.txt" --out "$T/b" --config "$T/cfg.json" --threads 1 --resume > "$T/b2.log" 2>&1
check "the killed run resumes from its saved state" grep -q '^resumed .* at step [1-9]' "$T/b2.log"
check "resumed run: model byte-identical to the uninterrupted one" cmp -s "$T/a/model.safetensors" "$T/b/model.safetensors"
check "resumed run: run state byte-identical (weights, optimiser, step, RNG)" cmp -s "$T/a/run.safetensors" "$T/b/run.safetensors"
check "resumed run: metrics.csv has each evaluation once" sh -c "[ \$(cut -d, -f1-3 '$T/a/metrics.csv' | md5sum | cut -c1-32) = \$(cut -d, -f1-3 '$T/b/metrics.csv' | md5sum | cut -c1-32) ]"
head -c 200000 "$T/text.txt" > "$T/other.txt"
"$ATTN" train lm --data "$T/other.txt" --out "$T/b" --config "$T/cfg.json" --resume > /dev/null 2> "$T/e0"
check "resume on other data is refused, naming it" sh -c "[ $? -eq 1 ] && grep -q 'other data' '$T/e0'"
M=$T/a/best.safetensors
g() { "$ATTN" generate --model "$M" --threads 1 "$@" 2>&1; }
s1=$(g --prompt "The " --max-new 24 --seed 7)
s2=$(g --prompt "The " --max-new 24 --seed 7)
s3=$(g --prompt "The " --max-new 24 --seed 8)
check "generate: the same seed gives the same text" [ "$s1" = "$s2" ]
check "generate: another seed, another text" [ "$s1" != "$s3" ]
check "generate: the prompt, then 24 characters at most (context 32)" sh -c "[ \$(printf %s '$s1' | head -c 100 | wc -c) -le 28 ] && printf %s '$s1' | grep -q '^The '"
check "generate --greedy is deterministic" [ "$(g --prompt "The " --greedy --max-new 20 --seed 1)" = "$(g --prompt "The " --greedy --max-new 20 --seed 2)" ]
"$ATTN" generate --model "$M" --prompt "$(printf '\001')" > /dev/null 2> "$T/e1"
check "generate: a prompt byte outside the vocabulary is refused" sh -c "[ $? -eq 1 ] && grep -q 'not in the model' '$T/e1'"
"$ATTN" generate --model "$T/a/run.safetensors" > /dev/null 2> "$T/e2"
check "generate: a run state is not a language model" sh -c "[ $? -eq 1 ] && grep -q 'training run.s state' '$T/e2'"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
