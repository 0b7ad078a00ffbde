#!/bin/sh
# attn viz --model on a (briefly trained) demo model: every attention map of every layer and
# head is recorded and rendered; malformed inputs give clear errors, never a crash.
set -u
cd "$(dirname "$0")/../.."
ATTN=${ATTN:-build/attn}
PY=${PY:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

if ! "$ATTN" demo --steps 4 --batch 8 --eval 10 --threads 2 --heads 4 --out "$tmp/m" > "$tmp/train.log" 2>&1; then
    bad "training a tiny demo model"; cat "$tmp/train.log"
    echo "$pass passed, $fail failed"; exit 1
fi
M="$tmp/m/model.safetensors"
for f in viz/example1/attention.html viz/example5/attention.json loss.png; do
    [ -s "$tmp/m/$f" ] && ok "demo wrote $f" || bad "demo did not write $f"
done
grep -q "^alignment: best_head=L[0-9]*H[0-9]* align_acc=" "$tmp/train.log" && ok "demo reports the best-aligned cross-attention head" || bad "demo alignment line"

if "$ATTN" viz --model "$M" --input "march 3rd 2021" --target "2021-03-03" --out "$tmp/v" --metrics > "$tmp/viz.log" 2>&1; then
    ok "attn viz --model --target runs"
else
    bad "attn viz --model --target"; cat "$tmp/viz.log"
fi
# every (kind, layer, head) of the model, with the shapes of its tokens
if "$PY" - "$tmp/v/attention.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
src, tgt = d["source"], d["target"]
assert "".join(src) == "march 3rd 2021" and "".join(tgt) == "2021-03-03", (src, tgt)
kinds = {}
for m in d["maps"]:
    kinds.setdefault(m["kind"], set()).add((m["layer"], m["head"]))
    rows = len(src) if m["kind"] == "encoder-self" else len(tgt)
    cols = len(tgt) if m["kind"] == "decoder-self" else len(src)
    assert (m["rows"], m["cols"]) == (rows, cols), m["kind"]
    for r in m["weights"]:
        assert abs(sum(r) - 1) < 1e-4, sum(r)  # each query's weights sum to 1
assert set(kinds) == {"encoder-self", "decoder-self", "cross"}, kinds
assert all(len(v) == 2 * 4 for v in kinds.values()), {k: len(v) for k, v in kinds.items()}
PYEOF
then ok "attention.json: 2 layers x 4 heads of each kind, shapes match the tokens, rows sum to 1"; else bad "attention.json content"; fi
[ -s "$tmp/v/cross_L1_H3.png" ] && [ -s "$tmp/v/encoder-self_L0_grid.png" ] && ok "heatmaps and grids written" || bad "heatmaps missing"
grep -q "cross" "$tmp/viz.log" && ok "--metrics prints the per-head table" || bad "--metrics table"
"$ATTN" viz --model "$M" --input "3/3/2021" --out "$tmp/g" > /dev/null 2>&1 && [ -s "$tmp/g/attention.html" ] && ok "viz on the model's own greedy output" || bad "viz without --target"

expect_error() { # name, expected message fragment, command...
    name=$1; frag=$2; shift 2
    "$@" > "$tmp/err.log" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && grep -q "$frag" "$tmp/err.log"; then ok "$name: clear error"; else bad "$name (exit $rc)"; cat "$tmp/err.log"; fi
}
expect_error "a file that is not a checkpoint" "ATTN_E_FORMAT" "$ATTN" viz --model README.md --input x --out "$tmp/e1"
expect_error "a missing model" "ATTN_E_IO" "$ATTN" viz --model "$tmp/none.safetensors" --input x --out "$tmp/e2"
expect_error "an empty input" "empty" "$ATTN" viz --model "$M" --input "" --out "$tmp/e3"
expect_error "a character the vocabulary lacks" "not in the model's vocabulary" "$ATTN" viz --model "$M" --input "día 3" --out "$tmp/e4"
expect_error "an optimiser file as model" "not a model" "$ATTN" viz --model "$tmp/m/run.safetensors" --input x --out "$tmp/e5"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
