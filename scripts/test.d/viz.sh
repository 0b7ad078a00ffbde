#!/bin/sh
# Test stage for the visualisation layer (tools/attn/viz_*.c), run by `make test`:
#   1. tests/viz/check_viz.py drives `attn viz` / `attn plot` on records with known weights and
#      checks the PNG/SVG/JSON/metrics/rollout output and the refusal of malformed input;
#   2. tests/browser/viz_page.test.js opens attention.html in Debian's chromium (playwright-core)
#      and checks the head view, model view, rollout and metrics table; screenshots go to
#      out/viz-test/. Missing chromium or node is a failure, not a skip (scripts/deps.sh installs
#      chromium). With Fashion-MNIST installed it also trains a tiny ViT for a few seconds and
#      checks the image overlay of `attn viz --image` (picture, per-head overlay, keys, hover).
#   3. when build-san/attn exists (make SAN=1 tests builds it), step 1 again under ASan+UBSan;
#   4. test_text_view (beside $ATTN, and in build-san/): the tokenizer module's attention views;
# The view itself (attention.json's reader and writer, rollout, metrics) is libattn's and is
# tested by build/test_attn (tests/c/test_view.c).
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
PY=${PY:-/usr/bin/python3}
ATTN=${ATTN:-build/attn}
OUT=out/viz-test
pass=0
fail=0
mkdir -p "$OUT"

# add_counts LOG: add the "N passed, N failed" line of LOG (count 1 failure if there is none).
add_counts() {
    line=$(grep -a -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
    if [ -z "$line" ]; then
        fail=$((fail + 1))
        return
    fi
    pass=$((pass + $(echo "$line" | sed 's/^\([0-9]*\) passed.*/\1/')))
    fail=$((fail + $(echo "$line" | sed 's/.* \([0-9]*\) failed.*/\1/')))
}

if [ ! -x "$ATTN" ]; then
    echo "FAIL $ATTN not built (run make)"
    echo "0 passed, 1 failed"
    exit 1
fi

"$PY" tests/viz/check_viz.py "$ATTN" "$OUT/cli" > "$OUT/check_viz.log" 2>&1
cat "$OUT/check_viz.log"
add_counts "$OUT/check_viz.log"

# The same checks under AddressSanitizer + UBSan (leaks included) when the sanitizer build exists.
if [ -x build-san/attn ]; then
    echo "== under ASan+UBSan: build-san/attn"
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$PY" tests/viz/check_viz.py build-san/attn "$OUT/san" > "$OUT/check_viz_san.log" 2>&1
    grep -v '^ok' "$OUT/check_viz_san.log"
    add_counts "$OUT/check_viz_san.log"
fi

# The tokenizer module's attention views (tools/text/text_view.c): their own test program, also
# under ASan+UBSan when the sanitizer build has it.
for tv in "$(dirname "$ATTN")/test_text_view" build-san/test_text_view; do
    if [ -x "$tv" ]; then
        echo "== $tv"
        "$tv" > "$OUT/text_view.log" 2>&1
        grep -v '^ok' "$OUT/text_view.log"
        add_counts "$OUT/text_view.log"
    elif [ "$tv" != build-san/test_text_view ]; then
        echo "FAIL $tv not built (make tests)"
        fail=$((fail + 1))
    fi
done

browser_ok=1
if [ ! -x /usr/bin/chromium ]; then
    echo "FAIL /usr/bin/chromium missing (scripts/deps.sh installs the Debian package chromium)"
    browser_ok=0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "FAIL node and npm are needed for the browser test"
    browser_ok=0
fi
if [ "$browser_ok" -eq 1 ] && [ ! -d tests/browser/node_modules/playwright-core ]; then
    if ! npm ci --prefix tests/browser --no-audit --no-fund > "$OUT/npm.log" 2>&1; then
        cat "$OUT/npm.log"
        echo "FAIL npm ci --prefix tests/browser"
        browser_ok=0
    fi
fi
if [ "$browser_ok" -eq 1 ]; then
    # The synthetic date example (every kind), then the record with awkward tokens.
    if "$ATTN" viz --synthetic --out "$OUT/synthetic" > "$OUT/synthetic.log" 2>&1; then
        for case in synthetic:"$OUT/synthetic/attention.html":"$OUT/screenshot.png" \
                    known:"$OUT/cli/render/attention.html":"$OUT/screenshot-known.png"; do
            name=${case%%:*}
            rest=${case#*:}
            echo "== browser: $name"
            node tests/browser/viz_page.test.js "${rest%%:*}" "${rest#*:}" > "$OUT/browser-$name.log" 2>&1
            cat "$OUT/browser-$name.log"
            add_counts "$OUT/browser-$name.log"
        done
        # Records of a single kind: the page must still load and draw without errors.
        for name in decoder-only classifier; do
            echo "== browser smoke: $name"
            node tests/browser/viz_page.test.js "$OUT/cli/$name/attention.html" "$OUT/screenshot-$name.png" smoke \
                > "$OUT/browser-$name.log" 2>&1
            cat "$OUT/browser-$name.log"
            add_counts "$OUT/browser-$name.log"
        done
    else
        cat "$OUT/synthetic.log"
        echo "FAIL attn viz --synthetic"
        fail=$((fail + 1))
    fi
    # An image model's page: a small ViT (2 layers, 2 heads, 4×4 patches of 7 pixels and a class
    # token) trained for a few seconds on Fashion-MNIST, then `attn viz --image` on test image 0;
    # the page's overlay is checked against the IDX file itself.
    DATA=${ATTN_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
    timg=$DATA/t10k-images-idx3-ubyte.gz
    [ -f "$timg" ] || timg=$DATA/t10k-images-idx3-ubyte
    if [ -f "$timg" ]; then
        echo "== browser: image overlay"
        rm -rf "$OUT/vit"
        printf '{"train_images": 2000, "val_size": 200, "epochs": 2, "batch": 50, "layers": 2, "d_model": 32, "ff": 64, "heads": 2, "warmup": 5, "lr": 0.003}\n' > "$OUT/vit.json"
        if "$ATTN" train image --data "$DATA" --out "$OUT/vit" --config "$OUT/vit.json" --threads 1 > "$OUT/vit-train.log" 2>&1 &&
           "$ATTN" viz --model "$OUT/vit/best.safetensors" --image "$timg[0]" --out "$OUT/image" > "$OUT/vit-viz.log" 2>&1; then
            node tests/browser/viz_page.test.js "$OUT/image/attention.html" "$OUT/screenshot-image.png" image "$timg" 0 \
                > "$OUT/browser-image.log" 2>&1
            cat "$OUT/browser-image.log"
            add_counts "$OUT/browser-image.log"
        else
            tail -5 "$OUT/vit-train.log" "$OUT/vit-viz.log"
            echo "FAIL training the small ViT or attn viz --image"
            fail=$((fail + 1))
        fi
    else
        echo "skipped: the image overlay test (no Fashion-MNIST in $DATA; scripts/deps.sh installs dataset-fashion-mnist)"
    fi
else
    fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
