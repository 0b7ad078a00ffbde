"""check_viz.py ATTN OUTDIR — test `attn viz` and `attn plot` through the command line.

Builds attention records with known synthetic weights, renders them, and checks what came out:
PNGs decode (our own zlib+struct decoder) at the expected size with the darkest cell where the
largest weight is and darkness following weight; SVGs are well-formed XML; attention.json
round-trips; metrics and rollout match a float64 NumPy reference; malformed input is refused
with a clear message and no crash; training curves draw what the CSV holds.
Prints one line per check and ends with "N passed, N failed".
"""
import json
import math
import os
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib

import numpy as np
from PIL import Image

ATTN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/attn")
OUT = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "out/viz-test/cli")
os.makedirs(OUT, exist_ok=True)
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(("ok   " if ok else "FAIL ") + name + (f" ({detail})" if detail else ""), flush=True)


def run(*args):
    return subprocess.run([ATTN, *args], capture_output=True, text=True, timeout=120)


# ---- PNG reading ------------------------------------------------------------------------------
def png_chunks(path):
    """Walk a PNG with struct + zlib: signature, chunk CRCs, IHDR, inflated size. Returns
    (header tuple, inflated IDAT bytes); raises AssertionError on anything malformed."""
    with open(path, "rb") as f:
        blob = f.read()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, idat, hdr, end = 8, b"", None, False
    while pos < len(blob):
        (n,) = struct.unpack(">I", blob[pos:pos + 4])
        kind = blob[pos + 4:pos + 8]
        body = blob[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", blob[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            end = True
            break
        pos += 12 + n
    assert hdr and end, "missing IHDR or IEND"
    w, h, depth, ctype, _, _, interlace = hdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, f"unsupported PNG {hdr}"
    raw = zlib.decompress(idat)
    assert len(raw) == h * (w * (3 if ctype == 2 else 4) + 1), "IDAT size does not match IHDR"
    return hdr, raw


def unfilter(hdr, raw):
    """Pixels [h, w, 3] from inflated IDAT bytes (all five PNG filters; slow, pure Python)."""
    w, h, _, ctype = hdr[:4]
    bpp = 3 if ctype == 2 else 4
    stride = w * bpp
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = [0] * stride
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
        cur = [0] * stride
        for i in range(stride):
            a = cur[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ft == 0:
                pr = 0
            elif ft == 1:
                pr = a
            elif ft == 2:
                pr = b
            elif ft == 3:
                pr = (a + b) >> 1
            elif ft == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            else:
                raise AssertionError(f"bad filter type {ft}")
            cur[i] = (line[i] + pr) & 255
        out[y] = cur
        prev = cur
    return out.reshape(h, w, bpp)[:, :, :3]


def read_png(path):
    """(width, height, pixels [h, w, 3] uint8): structure checked by png_chunks, pixels by PIL."""
    hdr, _ = png_chunks(path)
    with Image.open(path) as im:
        px = np.asarray(im.convert("RGB"))
    assert px.shape[:2] == (hdr[1], hdr[0])
    return hdr[0], hdr[1], px


def luminance(px):
    return 0.2126 * px[..., 0] + 0.7152 * px[..., 1] + 0.0722 * px[..., 2]


# ---- a record with known weights -------------------------------------------------------------
rng = np.random.default_rng(1234)
SRC = ["The", "café", "日本", 'say "hi"', "back\\slash", "</script>", "tab\there", "end " * 30]
TGT = ["Le", "café", "</b>", "fin", "<!--<script>"]
ALIGN = [[0, 1], [1, 2], [0, 0], [7, 8], [6, 8]]  # target 2 unaligned


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def diagonal_dominant(n):
    return f32(softmax(rng.normal(0, 0.3, (n, n)) + 4 * np.eye(n)))


def peak_at(r, c, i, j):
    z = rng.normal(0, 0.3, (r, c))
    z[i, j] += 6
    return f32(softmax(z))


ns, nt = len(SRC), len(TGT)
maps = []
for kind in ("encoder-self", "classifier-self"):
    for layer in range(2):
        for head in range(3):
            if (layer, head) == (0, 0):
                w = diagonal_dominant(ns)
            elif (layer, head) == (1, 2):
                w = peak_at(ns, ns, 5, 2)
            else:
                w = f32(softmax(rng.normal(0, 1.5, (ns, ns))))
            maps.append(dict(kind=kind, layer=layer, head=head, weights=w))
for layer in range(2):
    for head in range(2):
        z = rng.normal(0, 1.0, (nt, nt))
        z[np.triu_indices(nt, 1)] = -np.inf
        maps.append(dict(kind="decoder-self", layer=layer, head=head, weights=f32(softmax(z))))
# cross: layer 1 head 0 follows the alignment (argmax in the span for every aligned token);
# layer 0 head 1 hits 2 of the 4 aligned tokens; the rest are random.
for layer in range(2):
    for head in range(2):
        z = rng.normal(0, 0.5, (nt, ns))
        for t, (lo, hi) in enumerate(ALIGN):
            if (layer, head) == (1, 0) and hi > lo:
                z[t, lo:hi] += 5
            if (layer, head) == (0, 1) and hi > lo:
                z[t, lo if t < 2 else (hi % ns)] += 5  # t >= 2: just past the span (a miss)
        maps.append(dict(kind="cross", layer=layer, head=head, weights=f32(softmax(z))))

record = {
    "format": "attn-attention", "version": 1, "title": "test — known weights",
    "source": SRC, "target": TGT, "alignment": ALIGN,
    "maps": [dict(m, weights=m["weights"].tolist()) for m in maps],
}
src_json = os.path.join(OUT, "input.json")
with open(src_json, "w", encoding="utf-8") as f:
    json.dump(record, f, ensure_ascii=False)

render = os.path.join(OUT, "render")
p = run("viz", "--from-json", src_json, "--out", render, "--pool", "0", "--metrics")
check("attn viz --from-json renders", p.returncode == 0, p.stderr.strip())
index = json.load(open(os.path.join(render, "index.json"), encoding="utf-8"))
files = {f["path"]: f for f in index["files"]}

# ---- heatmap PNGs: size, darkest cell, darkness follows weight ---------------------------------
heat = [f for f in index["files"] if f["what"] == "heatmap"]
check("a PNG and an SVG per map", len(heat) == len(maps) and
      sum(f["what"] == "heatmap-svg" for f in index["files"]) == len(maps))
size_ok = dark_ok = order_ok = True
notes = []
for f in heat:
    m = maps[f["map"]]
    w = m["weights"]
    rows, cols = w.shape
    W, H, px = read_png(os.path.join(render, f["path"]))
    cell = min(32, max(1, 520 // max(rows, cols)))
    if (W, H) != (f["width"], f["height"]) or f["cell_w"] != cell or \
            W < f["x0"] + cols * cell + 30 or H < f["y0"] + rows * cell:
        size_ok = False
        notes.append(f"{f['path']} {W}x{H} cell {f['cell_w']}")
    ys = (f["y0"] + (np.arange(rows) + 0.5) * f["cell_h"]).astype(int)
    xs = (f["x0"] + (np.arange(cols) + 0.5) * f["cell_w"]).astype(int)
    lum = luminance(px[np.ix_(ys, xs)].astype(np.float64))
    if np.unravel_index(np.argmin(lum), lum.shape) != np.unravel_index(np.argmax(w), w.shape):
        dark_ok = False
        notes.append(f"{f['path']} darkest {np.unravel_index(np.argmin(lum), lum.shape)}")
    # Any two cells whose weights differ by more than 2% of the maximum are ordered by darkness.
    a, b = w.ravel(), lum.ravel()
    dw = a[:, None] - a[None, :]
    bad = (dw > 0.02 * a.max()) & (b[:, None] >= b[None, :])
    if bad.any():
        order_ok = False
        notes.append(f"{f['path']} {int(bad.sum())} cell pairs out of order")
check("heatmap PNGs decode at the expected size", size_ok, "; ".join(notes[:3]))
check("darkest cell is the largest weight (every map)", dark_ok, "; ".join(notes[:3]))
check("darker = larger weight across all cells", order_ok, "; ".join(notes[:3]))
diag = next(f for f in heat if f["kind"] == "encoder-self" and f["layer"] == 0 and f["head"] == 0)
W, H, px = read_png(os.path.join(render, diag["path"]))
ys = (diag["y0"] + (np.arange(ns) + 0.5) * diag["cell_h"]).astype(int)
xs = (diag["x0"] + (np.arange(ns) + 0.5) * diag["cell_w"]).astype(int)
lum = luminance(px[np.ix_(ys, xs)].astype(np.float64))
check("diagonal-dominant map: each row darkest on the diagonal",
      all(np.argmin(lum[i]) == i for i in range(ns)))
peak = next(f for f in heat if f["kind"] == "encoder-self" and f["layer"] == 1 and f["head"] == 2)
W, H, px = read_png(os.path.join(render, peak["path"]))
ys = (peak["y0"] + (np.arange(ns) + 0.5) * peak["cell_h"]).astype(int)
xs = (peak["x0"] + (np.arange(ns) + 0.5) * peak["cell_w"]).astype(int)
lum = luminance(px[np.ix_(ys, xs)].astype(np.float64))
check("peaked map: darkest pixel cell is (5, 2)", np.unravel_index(np.argmin(lum), lum.shape) == (5, 2))

# Sizes adapt: a record with many tokens gets smaller cells and a larger picture.
big_src = [f"t{i}" for i in range(60)]
big = {"source": big_src, "maps": [{"kind": "encoder-self", "layer": 0, "head": 0,
                                    "weights": softmax(rng.normal(0, 1, (60, 60))).tolist()}]}
big_json = os.path.join(OUT, "big.json")
json.dump(big, open(big_json, "w"))
p = run("viz", "--from-json", big_json, "--out", os.path.join(OUT, "big"))
bi = json.load(open(os.path.join(OUT, "big", "index.json")))
bf = next(f for f in bi["files"] if f["what"] == "heatmap")
bw, bh, _ = read_png(os.path.join(OUT, "big", bf["path"]))
check("sizes adapt to token counts (cells shrink, labels measured)", p.returncode == 0 and
      bf["cell_w"] == 8 and diag["cell_w"] == 32 and bw >= bf["x0"] + 60 * 8 and bh >= bf["y0"] + 60 * 8
      and diag["x0"] > bf["x0"],  # the long token label widens the left margin
      f"60 tokens: cell {bf['cell_w']}, {bw}x{bh}; 8 tokens: cell {diag['cell_w']}, {W}x{H}")
# Past 16384 cells a map is drawn as one scaled image: still exact cells, and a small SVG.
n = 200
hw = rng.random((n, n)).astype(np.float32) * 0.5
hw[137, 42] = 1.0
huge = {"source": [f"t{i}" for i in range(n)],
        "maps": [{"kind": "encoder-self", "layer": 0, "head": 0, "weights": hw.tolist()}]}
huge_json = os.path.join(OUT, "huge.json")
json.dump(huge, open(huge_json, "w"))
p = run("viz", "--from-json", huge_json, "--out", os.path.join(OUT, "huge"))
hi_ = json.load(open(os.path.join(OUT, "huge", "index.json")))
hf = next(f for f in hi_["files"] if f["what"] == "heatmap")
_, _, hpx = read_png(os.path.join(OUT, "huge", hf["path"]))
ys = (hf["y0"] + (np.arange(n) + 0.5) * hf["cell_h"]).astype(int)
xs = (hf["x0"] + (np.arange(n) + 0.5) * hf["cell_w"]).astype(int)
hl = luminance(hpx[np.ix_(ys, xs)].astype(np.float64))
svg_size = os.path.getsize(os.path.join(OUT, "huge", hf["path"][:-4] + ".svg"))
ET.parse(os.path.join(OUT, "huge", hf["path"][:-4] + ".svg"))
check("200×200 map (image path): darkest cell (137, 42), darkness follows weight, small SVG",
      p.returncode == 0 and np.unravel_index(np.argmin(hl), hl.shape) == (137, 42) and
      np.corrcoef(hl.ravel(), hw.ravel().astype(np.float64))[0, 1] < -0.95 and svg_size < 2_000_000,
      f"cell {hf['cell_w']}, svg {svg_size} bytes")

# Records of one kind only (decoder-only; a classifier with a [CLS] position): rendered for the
# browser smoke test, and the classifier's token scores are the rollout row of position 0.
dec = {"source": [], "target": ["a", "b", "c"], "maps": [
    {"kind": "decoder-self", "layer": 0, "head": 0, "weights": [[1, 0, 0], [0.5, 0.5, 0], [0.2, 0.3, 0.5]]}]}
cls_w = [[0.2, 0.5, 0.3], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]]
cls = {"source": ["[CLS]", "good", "movie"], "maps": [
    {"kind": "classifier-self", "layer": 0, "head": h, "weights": cls_w} for h in range(2)]}
ok = True
for name, rec, extra in (("decoder-only", dec, []), ("classifier", cls, ["--pool", "0"])):
    path = os.path.join(OUT, name + ".json")
    json.dump(rec, open(path, "w"))
    p = run("viz", "--from-json", path, "--out", os.path.join(OUT, name), *extra)
    ok = ok and p.returncode == 0
ci = json.load(open(os.path.join(OUT, "classifier", "index.json")))
a = f32(cls_w) + np.eye(3)  # the record holds float32 weights
a /= a.sum(axis=1, keepdims=True)
check("one-kind records render; classifier scores = rollout row of [CLS]", ok and
      np.abs(np.array(ci["rollout"][0]["scores"]) - a[0]).max() < 1e-9 and
      os.path.exists(os.path.join(OUT, "classifier", "classifier-self_tokens.png")))

# ---- other pictures ---------------------------------------------------------------------------
ok = True
for name, f in files.items():
    if name.endswith(".png"):
        try:
            read_png(os.path.join(render, name))
        except Exception as e:  # noqa: BLE001 — report any decode failure
            ok = False
            print("   ", name, e)
check("every PNG (grids, rollout, token scores) decodes", ok,
      f"{sum(n.endswith('.png') for n in files)} files")
hdr, raw = png_chunks(os.path.join(render, "classifier-self_tokens.png"))
mine = unfilter(hdr, raw)
check("our zlib+struct PNG decoder agrees with PIL pixel for pixel",
      np.array_equal(mine, read_png(os.path.join(render, "classifier-self_tokens.png"))[2]))
check("grid per kind and layer", sum(f["what"] == "grid" for f in index["files"]) == 8)
tw, th, tpx = read_png(os.path.join(render, "classifier-self_tokens.png"))
check("token-score picture drawn", tw == 760 and luminance(tpx.astype(float)).min() < 60)

ok, why = True, ""
for name in files:
    if name.endswith(".svg"):
        try:
            root = ET.parse(os.path.join(render, name)).getroot()
            f = files[name]
            if not root.tag.endswith("svg") or root.get("viewBox") != f"0 0 {f['width']} {f['height']}":
                ok, why = False, f"{name}: {root.tag} {root.get('viewBox')}"
        except ET.ParseError as e:
            ok, why = False, f"{name}: {e}"
check("SVGs are well-formed XML of the right size", ok, why)

# ---- JSON round trip --------------------------------------------------------------------------
out_rec = json.load(open(os.path.join(render, "attention.json"), encoding="utf-8"))
same_tokens = out_rec["source"] == SRC and out_rec["target"] == TGT and out_rec["alignment"] == ALIGN
err = max(np.abs(np.array(a["weights"], dtype=np.float32).astype(np.float64) - b["weights"]).max()
          for a, b in zip(out_rec["maps"], maps))
check("attention.json keeps tokens (UTF-8, quotes, </script>) and alignment", same_tokens)
check("attention.json weights exact in float32", err == 0, f"max error {err}")
again = os.path.join(OUT, "again")
p = run("viz", "--from-json", os.path.join(render, "attention.json"), "--out", again)
check("re-render from its own attention.json is a fixed point", p.returncode == 0 and
      open(os.path.join(again, "attention.json"), "rb").read() ==
      open(os.path.join(render, "attention.json"), "rb").read())

# ---- metrics and rollout vs NumPy (float64) ---------------------------------------------------
def ref_metrics(m):
    w = m["weights"] / m["weights"].sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(w > 0, w * np.log(w), 0).sum(axis=1).mean()
    dist = None
    if m["kind"] != "cross":
        i, j = np.indices(w.shape)
        dist = (w * np.abs(i - j)).sum(axis=1).mean()
    acc = None
    if m["kind"] == "cross":
        hits = [lo <= int(np.argmax(m["weights"][t])) < hi for t, (lo, hi) in enumerate(ALIGN) if hi > lo]
        acc = sum(hits) / len(hits)
    return ent, dist, acc


worst = 0.0
for got, m in zip(index["metrics"], maps):
    ent, dist, acc = ref_metrics(m)
    worst = max(worst, abs(got["entropy"] - ent))
    worst = max(worst, 0 if dist is None and got["distance"] is None else abs(got["distance"] - dist))
    worst = max(worst, 0 if acc is None and got["align_acc"] is None else abs(got["align_acc"] - acc))
check("entropy, distance, alignment accuracy match NumPy", worst < 1e-9, f"max error {worst:.2e}")
best = index["best_alignment"]
bm = index["metrics"][best]
check("best-aligned head found", (bm["kind"], bm["layer"], bm["head"], bm["align_acc"]) == ("cross", 1, 0, 1.0))
half = next(x for x in index["metrics"] if x["kind"] == "cross" and x["layer"] == 0 and x["head"] == 1)
check("partly aligned head scores 2 of 4", half["align_acc"] == 0.5 and half["n_aligned"] == 4)
table = [ln.split() for ln in p.stdout.splitlines()]
p = run("viz", "--from-json", src_json, "--metrics")
rows = [ln.split() for ln in p.stdout.splitlines() if ln.split() and ln.split()[0] in
        ("encoder-self", "decoder-self", "cross", "classifier-self")]
tab_err = max(abs(float(r[3]) - ref_metrics(m)[0]) for r, m in zip(rows, maps)) if rows else 1
check("--metrics prints a row per head matching the numbers", p.returncode == 0 and
      len(rows) == len(maps) and tab_err < 1e-4 and "best aligned head: cross layer 1 head 0" in p.stdout,
      f"{len(rows)} rows")


def ref_rollout(kind):
    R = np.eye(ns)
    for layer in range(2):
        a = np.mean([m["weights"] for m in maps if m["kind"] == kind and m["layer"] == layer], axis=0)
        a = a + np.eye(ns)
        a = a / a.sum(axis=1, keepdims=True)
        R = a @ R
    return R


ro = {r["kind"]: r for r in index["rollout"]}
err = max(np.abs(np.array(ro[k]["matrix"]) - ref_rollout(k)).max() for k in ("encoder-self", "classifier-self"))
check("rollout matrix matches NumPy (both self kinds)", err < 1e-9, f"max error {err:.2e}")
check("rollout rows sum to 1", np.allclose(np.array(ro["encoder-self"]["matrix"]).sum(axis=1), 1, atol=1e-12))
serr = np.abs(np.array(ro["classifier-self"]["scores"]) - ref_rollout("classifier-self")[0]).max()
check("classifier scores = rollout row of the pooled position", ro["classifier-self"]["pool"] == 0 and serr < 1e-9)
mean_dir = os.path.join(OUT, "mean")
p = run("viz", "--from-json", src_json, "--out", mean_dir, "--pool", "mean")
mi = json.load(open(os.path.join(mean_dir, "index.json")))
merr = np.abs(np.array(mi["rollout"][0]["scores"]) - ref_rollout(mi["rollout"][0]["kind"]).mean(axis=0)).max()
check("mean pooling scores = mean of rollout rows", mi["rollout"][0]["pool"] == -1 and merr < 1e-9)

# ---- the page is self-contained -----------------------------------------------------------------
html = open(os.path.join(render, "attention.html"), encoding="utf-8").read()
urls = [u for u in ("http://", "https://", "//cdn", "<link", "src=") if u in html.replace("http://www.w3.org/2000/svg", "")]
check("attention.html has no external references", not urls, " ".join(urls))
check("attention.html: data cannot close its script early", html.count("</script>") == 2 and
      html.count("<!--") == 0 and html.count("<script") == 2)
start = html.index('<script id="attn-data" type="application/json">') + len('<script id="attn-data" type="application/json">')
page = json.loads(html[start:html.index("</script>", start)])
check("attention.html data: every map, metrics, rollout with the chosen pool",
      len(page["maps"]) == len(maps) and len(page["metrics"]) == len(maps) and
      [r["pool"] for r in page["rollout"]] == [0, 0] and page["source"] == SRC)

# ---- an image record (a ViT's picture and patch maps) ------------------------------------------
# 4×4 pixels in 2×2 patches of 2, a class token: its patch maps and rollout round-trip exactly,
# the overlay grid PNG shows the picture, and every image field is checked on reading.
IMG_PX = [[0, 40, 80, 120], [160, 200, 240, 255], [255, 0, 255, 0], [10, 20, 30, 250]]
IMG_SRC = ["[cls]", "r0c0", "r0c1", "r1c0", "r1c1"]
img_cls = f32(softmax(np.arange(25, dtype=np.float64).reshape(5, 5) / 7))


def img_map(row):  # the class token's row over the patches, its own share taken out
    w = row[1:] / row[1:].sum()
    return [[float(np.float32(w[0])), float(np.float32(w[1]))], [float(np.float32(w[2])), float(np.float32(w[3]))]]


def image_record(**over):
    image = {"width": 4, "height": 4, "pixels": IMG_PX, "patch": 2, "rows": 2, "cols": 2, "pool": "cls",
             "layers": 1, "heads": 2,
             "attention": [{"layer": 0, "head": h, "weights": img_map(img_cls[0] if h == 0 else img_cls[0][::-1])}
                           for h in range(2)],
             "rollout": [[0.1, 0.2], [0.3, 0.4]]}
    image.update(over)
    return {"source": IMG_SRC, "maps": [{"kind": "classifier-self", "layer": 0, "head": h, "weights": img_cls.tolist()}
                                        for h in range(2)], "image": image}


img_json = os.path.join(OUT, "image.json")
json.dump(image_record(), open(img_json, "w"))
img_dir = os.path.join(OUT, "image")
p = run("viz", "--from-json", img_json, "--out", img_dir, "--pool", "0")
check("an image record renders", p.returncode == 0, p.stderr.strip())
got = json.load(open(os.path.join(img_dir, "attention.json"))).get("image", {}) if p.returncode == 0 else {}
want = image_record()["image"]
check("attention.json keeps the image: pixels, grid, pool and every patch map exactly",
      got.get("pixels") == IMG_PX and all(got.get(k) == want[k] for k in ("patch", "rows", "cols", "pool", "layers", "heads"))
      and np.array_equal(f32([a["weights"] for a in got.get("attention", [])]), f32([a["weights"] for a in want["attention"]]))
      and np.array_equal(f32(got.get("rollout")), f32(want["rollout"])))
p2 = run("viz", "--from-json", os.path.join(img_dir, "attention.json"), "--out", os.path.join(OUT, "image_again"))
check("an image record re-rendered from its attention.json is a fixed point", p2.returncode == 0 and
      open(os.path.join(OUT, "image_again", "attention.json"), "rb").read() ==
      open(os.path.join(img_dir, "attention.json"), "rb").read())
ok, why = False, "not drawn"
if os.path.exists(os.path.join(img_dir, "image_attention.png")):
    gw, gh, gpx = read_png(os.path.join(img_dir, "image_attention.png"))
    # tiles of 4·4 = 16 px: row 1 of the grid, last column (after 2 heads) is the bare picture
    x0, y0 = 8 + 2 * (16 + 8), 24 + (16 + 18 + 8)
    shown = [[int(gpx[y0 + 4 * y + 2, x0 + 4 * x + 2][:3].mean()) for x in range(4)] for y in range(4)]
    ok, why = shown == IMG_PX, f"{gw}x{gh}, bare tile {shown}"
check("image_attention.png: a tile per head, the rollout, and the bare picture pixel for pixel", ok, why)
html = open(os.path.join(img_dir, "attention.html"), encoding="utf-8").read() if p.returncode == 0 else ""
check("attention.html carries the image view and its data", 'id="image-view"' in html and '[0,40,80,120]' in html)


def bad_image(name, expect, **over):
    rec = image_record(**over)
    path = os.path.join(OUT, "bad_image.json")
    json.dump(rec, open(path, "w"))
    p = run("viz", "--from-json", path, "--out", os.path.join(OUT, "bad_out"))
    ok = p.returncode == 1 and expect in p.stderr and "attn viz:" in p.stderr
    check(f"rejects an image with {name}", ok, p.stderr.strip()[:160] if ok else f"rc={p.returncode} {p.stderr.strip()[:200]}")


good_att = image_record()["image"]["attention"]
bad_image("a pixel above 255", "image.pixels[1][3] must be an integer in [0, 255]", pixels=[IMG_PX[0], [1, 2, 3, 256]] + IMG_PX[2:])
bad_image("a fractional pixel", "image.pixels[0][1] must be an integer", pixels=[[0, 0.5, 0, 0]] + IMG_PX[1:])
bad_image("a missing pixel row", "image.pixels must be an array of 4 rows", pixels=IMG_PX[:3])
bad_image("patches that do not tile it", "do not tile", patch=3)
bad_image("a width that is not a number", "image.width must be a number", width="4")
bad_image("an unknown pool", 'image.pool must be "cls" or "mean"', pool="max")
bad_image("too few maps", "image.attention must be an array of 2 maps", attention=good_att[:1])
bad_image("maps out of order", "image.attention[0] must be the object of layer 0 head 0", attention=good_att[::-1])
bad_image("a negative weight", "image.attention[1].weights[0][1] must be a finite number >= 0",
          attention=[good_att[0], {"layer": 0, "head": 1, "weights": [[0.5, -0.1], [0.3, 0.3]]}])
bad_image("a map that does not sum to 1", "layer 0 head 1 sums to 2", attention=[good_att[0], {"layer": 0, "head": 1, "weights": [[0.5, 0.5], [0.5, 0.5]]}])
bad_image("a short rollout row", "image.rollout[1] must be an array of 2 numbers", rollout=[[0.5, 0.5], [0]])
bad_image("tokens that are not its patches", "5 source tokens, but 1 patches and a class token", pool="cls", rows=1, cols=1, patch=4,
          attention=[{"layer": 0, "head": h, "weights": [[1]]} for h in range(2)], rollout=[[1]])

# ---- malformed input --------------------------------------------------------------------------
def bad(name, text, expect):
    path = os.path.join(OUT, "bad_" + name + ".json")
    with open(path, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    p = run("viz", "--from-json", path, "--out", os.path.join(OUT, "bad_out"))
    ok = p.returncode == 1 and expect in p.stderr and "attn viz:" in p.stderr
    check(f"rejects {name}", ok, p.stderr.strip()[:150] if ok else f"rc={p.returncode} {p.stderr.strip()[:200]}")


good_map = '{"kind":"encoder-self","layer":0,"head":0,"weights":[[1,0],[0,1]]}'
bad("empty file", "", "empty input")
bad("whitespace", " \n\t\n", "empty input")
bad("truncated JSON", '{"source":["a","b"],"maps":[' + good_map[:30], "invalid JSON near byte 58")
bad("syntax error on line 3", '{\n"source":["a","b"],\n"maps": [}\n', "invalid JSON near byte 31")
bad("a top-level array", "[1,2,3]", "top level must be an object")
bad("missing source", '{"maps":[' + good_map + ']}', 'missing "source"')
bad("missing maps", '{"source":["a","b"]}', '"maps" must be a non-empty array')
bad("a non-string token", '{"source":["a",3],"maps":[' + good_map + ']}', "source[1] is not a string")
bad("an unknown kind", '{"source":["a","b"],"maps":[{"kind":"sideways","layer":0,"head":0,"weights":[[1]]}]}', "kind must be one of")
bad("wrong row count", '{"source":["a","b","c"],"maps":[' + good_map + ']}', "has 2 rows but the tokens make 3")
bad("a short row", '{"source":["a","b"],"maps":[{"kind":"encoder-self","layer":0,"head":0,"weights":[[1,0],[1]]}]}', "weights[1] must be an array of 2 numbers")
bad("a negative weight", '{"source":["a","b"],"maps":[{"kind":"encoder-self","layer":0,"head":0,"weights":[[1,0],[-0.5,1]]}]}', "weights[1][0] must be a finite number >= 0")
bad("an infinite weight", '{"source":["a","b"],"maps":[{"kind":"encoder-self","layer":0,"head":0,"weights":[[1e999,0],[0,1]]}]}', "weights[0][0] must be a finite number")
bad("a string weight", '{"source":["a","b"],"maps":[{"kind":"encoder-self","layer":0,"head":0,"weights":[["x",0],[0,1]]}]}', "weights[0][0] must be a finite number")
bad("a fractional layer", '{"source":["a","b"],"maps":[{"kind":"encoder-self","layer":0.5,"head":0,"weights":[[1,0],[0,1]]}]}', "layer=0.5 must be an integer")
bad("a duplicate head", '{"source":["a","b"],"maps":[' + good_map + "," + good_map + ']}', "given twice")
bad("invalid UTF-8", b'{"source":["a","\xff\xfe"],"maps":[' + good_map.encode() + b']}', "not valid UTF-8")
bad("overlong UTF-8", b'{"source":["a","\xc0\xaf"],"maps":[' + good_map.encode() + b']}', "not valid UTF-8")
bad("text after the value", '{"source":["a","b"],"maps":[' + good_map + ']} junk', "after the JSON value at byte 97")
bad("a NUL byte", b'{"source":["a","b"],\x00"maps":[' + good_map.encode() + b']}', "NUL byte")
bad("cross without target tokens", '{"source":["a","b"],"maps":[{"kind":"cross","layer":0,"head":0,"weights":[[1,0]]}]}', "has 1 rows but the tokens make 0")
bad("an alignment span out of range", '{"source":["a","b"],"target":["x"],"alignment":[[1,5]],"maps":[' + good_map + ']}', "alignment[0][1]=5 must be an integer in [1, 2]")
bad("an alignment of the wrong length", '{"source":["a","b"],"target":["x"],"alignment":[],"maps":[' + good_map + ']}', "one per target token")
bad("deep nesting", "[" * 100000, "invalid JSON")
bad("an image that is not an object", '{"source":["a","b"],"maps":[' + good_map + '],"image":[1]}', '"image" must be an object')
p = run("viz", "--from-json", os.path.join(OUT, "does_not_exist.json"))
check("rejects a missing file", p.returncode == 1 and "cannot read" in p.stderr, p.stderr.strip())
p = run("viz", "--model", "m.safetensors")
check("--model without --input: usage error", p.returncode == 2 and "--input" in p.stderr, p.stderr.strip())
p = run("viz")
check("no input: usage error", p.returncode == 2 and "exactly one of" in p.stderr)
p = run("viz", "--from-json", src_json, "--pool", "99", "--out", os.path.join(OUT, "bad_pool"))
check("pool position out of range rejected", p.returncode == 1 and "pool=99" in p.stderr, p.stderr.strip())

# ---- training curves --------------------------------------------------------------------------
csv = os.path.join(OUT, "metrics.csv")
with open(csv, "w") as f:
    f.write("step,loss,lr,tokens_per_s,val_metric\n")
    for s in range(0, 501, 25):
        val = f"{0.2 + 0.6 * (1 - math.exp(-s / 150)):.4f}" if s % 100 == 0 else ""
        f.write(f"{s},{3.5 * math.exp(-s / 120) + 0.4:.5f},0.001,12000,{val}\n")
png = os.path.join(OUT, "loss.png")
p = run("plot", csv, "--out", png)
pw, ph, ppx = read_png(png) if p.returncode == 0 else (0, 0, None)


def count_colour(px, rgb, tol=30):
    return int((np.abs(px.astype(int) - np.array(rgb)).sum(axis=2) < tol).sum()) if px is not None else 0


blue, orange = count_colour(ppx, (31, 89, 179)), count_colour(ppx, (217, 94, 13))
check("attn plot draws loss and the val metric", p.returncode == 0 and (pw, ph) == (820, 480) and
      blue > 300 and orange > 100, f"{pw}x{ph}, {blue} loss px, {orange} val px")
csv2 = os.path.join(OUT, "metrics_noval.csv")
with open(csv2, "w") as f:
    f.write("step,loss\n0,2.0\n1,1.5\n2,1.2\n")
p = run("plot", csv2, "--out", os.path.join(OUT, "loss2.png"))
_, _, ppx2 = read_png(os.path.join(OUT, "loss2.png")) if p.returncode == 0 else (0, 0, None)
check("attn plot without a val column: loss only", p.returncode == 0 and
      count_colour(ppx2, (31, 89, 179)) > 100 and count_colour(ppx2, (217, 94, 13)) == 0)
csv3 = os.path.join(OUT, "metrics_live.csv")
with open(csv3, "w") as f:  # a diverged step and a cut-off last line, as a live log may have
    f.write("step,loss,lr,tokens_per_s,val_metric\n0,2.0,0.001,10,\n1,nan,0.001,10,\n2,1.2,0.001,10,0.5\n3,1.")
p = run("plot", csv3, "--out", os.path.join(OUT, "loss3.png"))
check("attn plot skips nan and a cut-off last line", p.returncode == 0 and "3 rows" not in p.stderr, p.stderr.strip())
for name, text, expect in [("no loss column", "step,acc\n1,2\n", 'no loss column'),
                           ("a bad number", "step,loss\n1,abc\n", "line 2 column loss: 'abc' is not a number"),
                           ("a ragged row", "step,loss\n1,2,3\n", "line 2: 3 fields"),
                           ("an empty file", "", "empty file")]:
    path = os.path.join(OUT, "bad.csv")
    open(path, "w").write(text)
    p = run("plot", path, "--out", os.path.join(OUT, "bad.png"))
    check(f"attn plot rejects {name}", p.returncode == 1 and expect in p.stderr, p.stderr.strip())

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
