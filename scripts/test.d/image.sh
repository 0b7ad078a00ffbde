#!/bin/sh
# attn train image / eval image / classify-image / viz --image: a small ViT on 2,000
# Fashion-MNIST images learns (test accuracy well above chance), a run killed with SIGKILL and
# resumed ends byte-identical to an uninterrupted one, eval and classify-image print what they
# promise, and malformed inputs (IDX files, PNGs, models) fail with a message.
# Skipped, and said so, without Debian's dataset-fashion-mnist. Ends with "N passed, N failed".
cd "$(dirname "$0")/../.."
. scripts/test.d/lib/resume.sh
ATTN=${ATTN:-build/attn}
DATA=${ATTN_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
[ -x "$ATTN" ] || { echo "FAIL $ATTN missing"; echo "0 passed, 1 failed"; exit 1; }
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ] && [ ! -f "$DATA/train-images-idx3-ubyte" ]; then
    echo "skipped: no Fashion-MNIST in $DATA (scripts/deps.sh installs dataset-fashion-mnist)"
    echo "0 passed, 0 failed"
    exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# 2,000 images (1,800 train, 200 validate), 2 layers, d 32, dropout on (its stream is resumed too)
printf '{"train_images": 2000, "val_size": 200, "epochs": 3, "batch": 50, "layers": 2, "d_model": 32, "ff": 64, "heads": 2, "warmup": 10, "eval_every": 12, "dropout": 0.05, "lr": 0.003}\n' > "$T/cfg.json"
"$ATTN" train image --data "$DATA" --out "$T/a" --config "$T/cfg.json" --threads 1 > "$T/a.log" 2>&1
check "train image finishes with a result line" grep -q '^result: task=image val_acc=' "$T/a.log"
check "train image writes best, model, run state and metrics.csv" \
    sh -c "[ -s '$T/a/best.safetensors' ] && [ -s '$T/a/model.safetensors' ] && [ -s '$T/a/run.safetensors' ] && [ \$(wc -l < '$T/a/metrics.csv') -eq 10 ]"
check "validation accuracy rises above 0.5 (chance 0.1)" awk -F, 'NR > 1 && $5 > m { m = $5 } END { exit !(m > 0.5) }' "$T/a/metrics.csv"
# the same run, killed once it has validated twice, then resumed
kill_after_saves 9 "$T/b" 3 "$T/b.log" "$ATTN" train image --data "$DATA" --out "$T/b" --config "$T/cfg.json" --threads 1
"$ATTN" train image --data "$DATA" --out "$T/b" --config "$T/cfg.json" --threads 1 --resume > "$T/b2.log" 2>&1
check "the killed run resumes from its saved state" grep -q '^resumed .* after epoch [1-9]' "$T/b2.log"
check "resumed run: model byte-identical to the uninterrupted one" cmp -s "$T/a/model.safetensors" "$T/b/model.safetensors"
check "resumed run: best checkpoint byte-identical" cmp -s "$T/a/best.safetensors" "$T/b/best.safetensors"
check "resumed run: run state byte-identical (weights, moments, step, RNG)" cmp -s "$T/a/run.safetensors" "$T/b/run.safetensors"
check "resumed run: metrics.csv has each validation once, with the same figures" \
    sh -c "[ \$(cut -d, -f1-6 '$T/a/metrics.csv' | md5sum | cut -c1-32) = \$(cut -d, -f1-6 '$T/b/metrics.csv' | md5sum | cut -c1-32) ]"
sed 's/"lr": 0.003/"lr": 0.002/' "$T/cfg.json" > "$T/cfg2.json"
"$ATTN" train image --data "$DATA" --out "$T/b" --config "$T/cfg2.json" --resume > /dev/null 2> "$T/e0"
check "resume under another configuration is refused" sh -c "[ $? -eq 1 ] && grep -q 'other data' '$T/e0'"
M=$T/a/best.safetensors
"$ATTN" eval image --model "$M" --data "$DATA" --threads 1 > "$T/eval.log" 2>&1
check "eval image: a result line with test accuracy above 0.5 on 10,000 images" \
    awk '/^result: task=image split=test n=10000 / { split($5, a, "="); ok = a[2] > 0.5 } END { exit !ok }' "$T/eval.log"
check "eval image: per-class precision and recall for the 10 named classes" \
    sh -c "grep -q '^Ankle boot ' '$T/eval.log' && [ \$(grep -cE '^(T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot) +[0-9.]+ +[0-9.]+ +[0-9]+\$' '$T/eval.log') -eq 10 ]"
check "eval image: the confusion matrix's rows add up to 10,000 and its diagonal to the hits" \
    awk '/^confusion matrix/ { on = 1; getline; next } on && NF >= 11 { for (i = NF - 9; i <= NF; i++) t += $i; d += $(NF - 9 + r); r++ }
         /^[0-9]+ images .*\(([0-9]+) right\)/ { match($0, /\(([0-9]+) right/); hits = substr($0, RSTART + 1, RLENGTH - 7) }
         END { exit !(t == 10000 && d == hits) }' "$T/eval.log"
timg=$DATA/t10k-images-idx3-ubyte.gz
[ -f "$timg" ] || timg=$DATA/t10k-images-idx3-ubyte
"$ATTN" classify-image --model "$M" "$timg[0]" > "$T/c0.log" 2>&1
check "classify-image IDX[i]: a label line and a result line" \
    sh -c "grep -q '^result: label=[0-9] name=' '$T/c0.log' && [ \$(grep -c '^  ' '$T/c0.log') -eq 3 ]"
# the test set's first 200 images: classify-image agrees with eval's predictions on most of them
right=0
for i in 0 1 2 3 4 5 6 7 8 9 10 11; do
    "$ATTN" classify-image --model "$M" "$timg[$i]" | sed -n 's/^result: label=\([0-9]\).*/\1/p' >> "$T/labels"
done
check "classify-image: 12 test images labelled" [ "$(wc -l < "$T/labels")" -eq 12 ]
# a PNG of the same image (python3 writes it with zlib, no imaging library) gives the same label
python3 - "$timg" "$T/img.png" "$T/big.png" <<'EOF'
import gzip, struct, sys, zlib
raw = open(sys.argv[1], 'rb').read()
if raw[:2] == b'\x1f\x8b': raw = gzip.decompress(raw)
px = raw[16:16 + 784]
def png(path, w, h, rows):
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    data = b''.join(b'\0' + r for r in rows)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0))
                           + chunk(b'IDAT', zlib.compress(data)) + chunk(b'IEND', b''))
png(sys.argv[2], 28, 28, [px[28 * y:28 * y + 28] for y in range(28)])
png(sys.argv[3], 56, 28, [px[28 * y:28 * y + 28] * 2 for y in range(28)])
EOF
"$ATTN" classify-image --model "$M" "$T/img.png" > "$T/c1.log" 2>&1
check "classify-image FILE.png: the same label and probability as the IDX image" \
    sh -c "[ \"\$(sed -n 2,4p '$T/c1.log')\" = \"\$(sed -n 2,4p '$T/c0.log')\" ]"
"$ATTN" classify-image --model "$M" "$T/big.png" > /dev/null 2> "$T/e1"
check "classify-image: a 56×28 PNG is refused, naming both sizes" sh -c "[ $? -eq 1 ] && grep -q '56×28.*28×28' '$T/e1'"
printf 'not a png' > "$T/bad.png"
"$ATTN" classify-image --model "$M" "$T/bad.png" > /dev/null 2> "$T/e2"
check "classify-image: a file that is not a PNG is refused" sh -c "[ $? -eq 1 ] && grep -q 'not a PNG' '$T/e2'"
"$ATTN" classify-image --model "$M" "$timg[10000]" > /dev/null 2> "$T/e3"
check "classify-image: an index past the end is refused" sh -c "[ $? -eq 1 ] && grep -q 'past the end' '$T/e3'"
printf '\001\002\010\003\000\000\000\001' > "$T/bad.idx"
"$ATTN" classify-image --model "$M" "$T/bad.idx[0]" > /dev/null 2> "$T/e4"
check "classify-image: an IDX file with a wrong magic is refused" sh -c "[ $? -eq 1 ] && grep -qi 'magic' '$T/e4'"
head -c 1000 "$T/img.png" > /dev/null
printf '\000\000\010\003\000\000\000\002\000\000\000\034\000\000\000\034abc' > "$T/short.idx"
"$ATTN" classify-image --model "$M" "$T/short.idx[1]" > /dev/null 2> "$T/e5"
check "classify-image: a truncated IDX file is refused" sh -c "[ $? -eq 1 ] && [ -s '$T/e5' ]"
"$ATTN" eval image --model "$T/a/metrics.csv" --data "$DATA" > /dev/null 2> "$T/e6"
check "eval image: a file that is not a checkpoint is refused" sh -c "[ $? -eq 1 ] && [ -s '$T/e6' ]"
mkdir -p "$T/nodata"
"$ATTN" eval image --model "$M" --data "$T/nodata" > /dev/null 2> "$T/e7"
check "eval image: a directory without the IDX files is refused, naming it" sh -c "[ $? -eq 1 ] && grep -q nodata '$T/e7'"
"$ATTN" viz --model "$M" --image "$timg[0]" --out "$T/viz" > "$T/v.log" 2>&1
check "viz --image: the overlay grid is a PNG" sh -c "head -c 8 '$T/viz/image_attention.png' | od -c | grep -q 'P   N   G'"
check "viz --image: attention.html, and attention.json with the class token and 16 patch tokens" \
    sh -c "[ -s '$T/viz/attention.html' ] && grep -q '\[cls\]' '$T/viz/attention.json' && grep -q 'r3c3' '$T/viz/attention.json' && ! grep -q 'r4c0' '$T/viz/attention.json'"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
