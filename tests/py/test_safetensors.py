#!/usr/bin/python3
"""Interoperability of libattn's safetensors reader and writer with an independent Python
implementation of the format (Debian has no python3-safetensors; this one is written from the
format's description with struct + json + NumPy) and with PyTorch state_dicts.

- files written by C read back in Python equal the arrays, bit for bit;
- files written in Python (any layout order, several dtypes, a torch state_dict) read by C
  equal, with F16/BF16/F64 converted exactly as NumPy/torch convert them to float32;
- on hundreds of mutated files C and the Python reader agree on accept/reject, and on the
  values when both accept.
Prints one line per check and ends with "N passed, N failed".
"""
import json
import os
import random
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from attn import safetensors as st  # noqa: E402

passed = failed = 0


def report(ok, what):
    global passed, failed
    print(f"{'OK  ' if ok else 'FAIL'} {what}")
    if ok:
        passed += 1
    else:
        failed += 1


# ------------------------------------------------------------------------------------------
# The independent implementation
# ------------------------------------------------------------------------------------------
SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2,
         "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8}
MAX_EXACT = 1 << 53


class Bad(Exception):
    pass


def _no_float(s):
    raise Bad(f"non-integer number {s}")


def _int(s):
    if s.lstrip("-").startswith("0") and len(s.lstrip("-")) > 1 or s == "-0":
        raise Bad(f"bad integer {s}")
    return int(s)


def _pairs(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise Bad("duplicate key")
    return dict(pairs)


def ref_read(data):
    """Validate a whole file; return ({name: (dtype, shape, bytes)}, metadata) or raise Bad."""
    if len(data) < 8:
        raise Bad("short")
    (n,) = struct.unpack("<Q", data[:8])
    if n < 2 or n > 100_000_000 or n > len(data) - 8:
        raise Bad("header length")
    raw = data[8:8 + n]
    if raw[:1] != b"{":
        raise Bad("start")
    try:
        text = raw.decode("utf-8")
        if "\x00" in text:
            raise Bad("nul")
        hdr = json.loads(text, object_pairs_hook=_pairs, parse_float=_no_float, parse_int=_int,
                         parse_constant=_no_float)
    except (UnicodeDecodeError, ValueError) as e:
        raise Bad(f"json: {e}")
    if not isinstance(hdr, dict):
        raise Bad("not an object")
    meta = hdr.pop("__metadata__", None)
    if meta is not None:
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise Bad("metadata")
        if any("\x00" in k or "\x00" in v for k, v in meta.items()):
            raise Bad("nul")
    buf = data[8 + n:]
    out, spans = {}, []
    for name, e in hdr.items():
        if "\x00" in name:
            raise Bad("nul")
        if not isinstance(e, dict) or not {"dtype", "shape", "data_offsets"} <= e.keys():
            raise Bad(f"{name}: entry")
        dt, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
        if not isinstance(dt, str) or dt not in SIZES:
            raise Bad(f"{name}: dtype")

        def uint(v):
            return type(v) is int and 0 <= v <= MAX_EXACT
        if not isinstance(shape, list) or len(shape) > 64 or not all(uint(d) for d in shape):
            raise Bad(f"{name}: shape")
        if not isinstance(offs, list) or len(offs) != 2 or not all(uint(o) for o in offs):
            raise Bad(f"{name}: offsets")
        numel = 1
        for d in shape:
            numel *= d
        if numel >= 1 << 63 or numel * SIZES[dt] >= 1 << 63:
            raise Bad(f"{name}: overflow")
        b, en = offs
        if b > en or en - b != numel * SIZES[dt] or en > len(buf):
            raise Bad(f"{name}: span")
        spans.append((b, en, name))
        out[name] = (dt, tuple(shape), buf[b:en])
    pos = 0
    for b, en, name in sorted(spans):
        if b != pos:
            raise Bad(f"{name}: overlap or gap")
        pos = en
    if pos != len(buf):
        raise Bad("trailing bytes")
    return out, meta or {}


def ref_write(items, metadata=None, order=None, pad=True):
    """items: [(name, dtype, shape, bytes)] → file bytes, the buffer laid out in `order`
    (a permutation of item indices; default as given). The header lists entries as given."""
    order = list(range(len(items))) if order is None else order
    offs, pos = {}, 0
    for i in order:
        offs[i] = (pos, pos + len(items[i][3]))
        pos += len(items[i][3])
    hdr = {}
    if metadata is not None:
        hdr["__metadata__"] = metadata
    for i, (name, dt, shape, _) in enumerate(items):
        hdr[name] = {"dtype": dt, "shape": list(shape), "data_offsets": list(offs[i])}
    h = json.dumps(hdr, ensure_ascii=False).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(items[i][3] for i in order)


def c_reads(data):
    try:
        return st.load(data)
    except ValueError as e:
        return str(e)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


# ------------------------------------------------------------------------------------------
# C writes, Python reads
# ------------------------------------------------------------------------------------------
rng = np.random.default_rng(7)
arrays = {
    "scalar": np.float32(-2.5).reshape(()),
    "v": rng.standard_normal(7).astype(np.float32),
    "m": rng.standard_normal((3, 5)).astype(np.float32),
    "t3": rng.standard_normal((2, 3, 4)).astype(np.float32),
    "t4": rng.standard_normal((2, 1, 3, 5)).astype(np.float32),
    "empty": np.zeros((0, 3), np.float32),
    "special": np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3.4028235e38], np.float32),
    "é/ünïcode.weight": np.arange(4, dtype=np.float32),
}
meta = {"format": "pt", "step": "1200", "quote\"back\\slash": "line\nbreak é"}
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "c.safetensors")
    st.save(path, arrays, meta)
    data = open(path, "rb").read()
    report(os.listdir(d) == ["c.safetensors"], "C commit leaves only the target file")
    report(data == st.dumps(arrays, meta), "C commit bytes == C serialize bytes")
    try:
        got, gmeta = ref_read(data)
        report(True, "Python reader accepts the C file")
    except Bad as e:
        got, gmeta = {}, {}
        report(False, f"Python reader accepts the C file ({e})")
    for name, a in arrays.items():
        dt, shape, b = got.get(name, (None, None, b""))
        ok = dt == "F32" and shape == a.shape and same_bits(np.frombuffer(b, "<f4").reshape(shape or ()), a)
        report(ok, f"C→Python {name} {a.shape} equal bit for bit")
    report(gmeta == meta, "C→Python metadata equal")
    (hn,) = struct.unpack("<Q", data[:8])
    hdr = json.loads(data[8:8 + hn])
    names = [k for k in hdr if k != "__metadata__"]
    starts = [hdr[k]["data_offsets"][0] for k in names]
    report(hn % 8 == 0 and names == sorted(names, key=lambda s: s.encode()) and starts == sorted(starts),
           "C layout: header padded to 8, tensors sorted by name, offsets ascending")
    # C reads its own file from disk and from memory alike
    a1, m1 = st.load(path)
    a2, m2 = st.load(data)
    report(all(same_bits(a1[k], arrays[k]) and same_bits(a2[k], arrays[k]) for k in arrays) and m1 == m2 == meta,
           "C file: load(path) == load(bytes) == arrays")

# ------------------------------------------------------------------------------------------
# Python writes, C reads
# ------------------------------------------------------------------------------------------
f32 = rng.standard_normal((4, 3)).astype(np.float32)
f16 = (rng.standard_normal(10) * 1000).astype(np.float16)
bf16_bits = rng.integers(0, 1 << 16, 33, dtype=np.uint16)
f64 = np.concatenate([rng.standard_normal(20) * 10.0 ** rng.integers(-60, 60, 20),
                      [1e300, -1e300, 1e-300, 3.4028235677973366e38, 16777217.0, -0.0, np.inf, np.nan]])
i64 = rng.integers(-2**62, 2**62, (2, 5), dtype=np.int64)
u8 = rng.integers(0, 256, 9, dtype=np.uint8)
bools = rng.integers(0, 2, (3, 3)).astype(np.bool_)
i32 = rng.integers(-2**31, 2**31, 6, dtype=np.int64).astype(np.int32)
items = [("z.f32", "F32", f32.shape, f32.astype("<f4").tobytes()),
         ("f16", "F16", f16.shape, f16.astype("<f2").tobytes()),
         ("bf16", "BF16", (3, 11), bf16_bits.astype("<u2").tobytes()),
         ("f64", "F64", f64.shape, f64.astype("<f8").tobytes()),
         ("a.i64", "I64", i64.shape, i64.astype("<i8").tobytes()),
         ("u8", "U8", u8.shape, u8.tobytes()),
         ("mask", "BOOL", bools.shape, bools.tobytes()),
         ("i32", "I32", i32.shape, i32.astype("<i4").tobytes()),
         ("none", "F32", (2, 0), b"")]
for order_name, order, pad in [("given", None, True), ("reversed", list(range(len(items)))[::-1], False),
                               ("shuffled", random.Random(3).sample(range(len(items)), len(items)), True)]:
    data = ref_write(items, {"who": "python"}, order, pad)
    res = c_reads(data)
    if isinstance(res, str):
        report(False, f"Python→C ({order_name} layout) opens: {res}")
        continue
    t, m = res
    with np.errstate(over="ignore"):
        f64_as_f32 = f64.astype(np.float32)
    bf16_as_f32 = (bf16_bits.astype(np.uint32) << 16).view(np.float32).reshape(3, 11)
    checks = [same_bits(t["z.f32"], f32), same_bits(t["f16"], f16.astype(np.float32)),
              same_bits(t["bf16"], bf16_as_f32), same_bits(t["f64"], f64_as_f32),
              np.array_equal(t["a.i64"], i64), np.array_equal(t["u8"], u8), np.array_equal(t["mask"], bools),
              np.array_equal(t["i32"], i32), t["none"].shape == (2, 0), m == {"who": "python"}]
    report(all(checks), f"Python→C ({order_name} layout, pad={pad}): F32 F16 BF16 F64 I64 U8 BOOL I32 empty "
           f"and metadata equal [{''.join('1' if c else '0' for c in checks)}]")

# every binary16 value: C's conversion == NumPy's, bit for bit
allh = np.arange(1 << 16, dtype=np.uint16)
t, _ = st.load(ref_write([("h", "F16", (1 << 16,), allh.astype("<u2").tobytes())]))
want = allh.view(np.float16).astype(np.float32)
report(same_bits(t["h"], want), "all 65536 F16 values convert like NumPy's float16→float32")

# ------------------------------------------------------------------------------------------
# PyTorch state_dict
# ------------------------------------------------------------------------------------------
try:
    import torch
    have_torch = True
except ImportError:
    have_torch = False
report(have_torch, "torch importable (/usr/bin/python3 with python3-torch)")
if have_torch:
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(11, 16)
            self.attn = torch.nn.MultiheadAttention(16, 4, batch_first=True)
            self.norm = torch.nn.LayerNorm(16)
            self.bn = torch.nn.BatchNorm1d(16)
            self.head = torch.nn.Linear(16, 5)

        def forward(self, ids):
            x = self.emb(ids)
            x = self.norm(x + self.attn(x, x, x, need_weights=False)[0])
            return self.head(self.bn(x.transpose(1, 2)).transpose(1, 2))

    net = Net()
    net.train()
    net(torch.randint(0, 11, (2, 6)))  # moves BatchNorm running stats and its counter
    net.eval()
    sd = net.state_dict()
    items, expect = [], {}
    for k, v in sd.items():
        if v.dtype == torch.float32:
            items.append((k, "F32", tuple(v.shape), v.contiguous().numpy().astype("<f4").tobytes()))
            expect[k] = v.numpy()
        else:  # num_batches_tracked
            items.append((k, "I64", tuple(v.shape), v.contiguous().numpy().astype("<i8").tobytes()))
            expect[k] = v.numpy()
    w = sd["attn.in_proj_weight"]
    items.append(("bf16.in_proj", "BF16", tuple(w.shape),
                  w.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()))
    expect["bf16.in_proj"] = w.to(torch.bfloat16).float().numpy()
    items.append(("f16.in_proj", "F16", tuple(w.shape), w.half().numpy().astype("<f2").tobytes()))
    expect["f16.in_proj"] = w.half().float().numpy()
    items.append(("f64.in_proj", "F64", tuple(w.shape), w.double().mul(1 / 3).numpy().astype("<f8").tobytes()))
    expect["f64.in_proj"] = w.double().mul(1 / 3).float().numpy()
    data = ref_write(items, {"format": "pt"}, order=random.Random(5).sample(range(len(items)), len(items)))
    res = c_reads(data)
    if isinstance(res, str):
        report(False, f"torch state_dict written in Python opens in C: {res}")
    else:
        t, _ = res
        bad = [k for k in expect if not (t[k].shape == expect[k].shape and
                                         (same_bits(t[k], expect[k]) if t[k].dtype == np.float32
                                          else np.array_equal(t[k], expect[k])))]
        report(not bad and len(t) == len(expect),
               f"torch state_dict ({len(sd)} tensors, + BF16/F16/F64 copies) written in Python, read by C, "
               f"equal to torch's own conversions{': ' + ', '.join(bad) if bad else ''}")

    # C writes the float tensors; torch reads them back through the Python reader and runs
    floats = {k: v.numpy() for k, v in sd.items() if v.dtype == torch.float32}
    data = st.dumps(floats, {"format": "pt"})
    got, _ = ref_read(data)
    back = {k: torch.frombuffer(bytearray(b), dtype=torch.float32).reshape(shape) for k, (dt, shape, b) in got.items()}
    back["bn.num_batches_tracked"] = sd["bn.num_batches_tracked"]
    net2 = Net()
    net2.load_state_dict(back)
    net2.eval()
    ids = torch.randint(0, 11, (3, 7))
    with torch.no_grad():
        same = torch.equal(net(ids), net2(ids))
    report(same and all(torch.equal(back[k], sd[k]) for k in sd),
           "state_dict written by C loads into a fresh torch model with identical outputs")

# ------------------------------------------------------------------------------------------
# Malformed files: C and the Python reader both refuse, C says ATTN_E_FORMAT
# ------------------------------------------------------------------------------------------
F = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}


def raw_file(header_text, buf=b"\0" * 4, n=None):
    h = header_text.encode() if isinstance(header_text, str) else header_text
    return struct.pack("<Q", len(h) if n is None else n) + h + buf


bad_files = {
    "truncated header": raw_file('{"a":' + json.dumps(F) + "}")[:20],
    "huge header length": raw_file("{}", b"", n=1 << 62),
    "header length > file": raw_file("{}", b"", n=3),
    "invalid JSON": raw_file('{"a":{'),
    "non-object JSON": raw_file("[1, 2]", b""),
    "unknown dtype": raw_file(json.dumps({"a": dict(F, dtype="F128")})),
    "negative shape": raw_file(json.dumps({"a": dict(F, shape=[-1])})),
    "float shape": raw_file(json.dumps({"a": dict(F, shape=[1.0])})),
    "shape×dtype ≠ bytes": raw_file(json.dumps({"a": dict(F, shape=[2])})),
    "offsets out of bounds": raw_file(json.dumps({"a": dict(F, data_offsets=[4, 8])})),
    "overlapping": raw_file(json.dumps({"a": F, "b": F})),
    "duplicate names": raw_file('{"a":' + json.dumps(F) + ',"a":' + json.dumps(dict(F, data_offsets=[4, 8])) + "}",
                                b"\0" * 8),
    "non-string metadata": raw_file(json.dumps({"__metadata__": {"k": 1}, "a": F})),
    "gap": raw_file(json.dumps({"a": dict(F, data_offsets=[4, 8])}), b"\0" * 8),
    "invalid UTF-8": raw_file(b'{"\xff":1}', b""),
}
for what, data in bad_files.items():
    c = c_reads(data)
    try:
        ref_read(data)
        py_ok = False
    except Bad:
        py_ok = True
    report(isinstance(c, str) and c.startswith("ATTN_E_FORMAT") and py_ok,
           f"malformed ({what}) refused by C and Python: {c if isinstance(c, str) else 'C ACCEPTED'}"[:160])

# ------------------------------------------------------------------------------------------
# Differential: mutated files, C and the Python reader agree
# ------------------------------------------------------------------------------------------
r = random.Random(11)
base = [ref_write([("a", "F32", (2,), f32.tobytes()[:8]), ("bb", "F16", (1, 2), f16.tobytes()[:4]),
                   ("c", "I64", (), i64.tobytes()[:8])], {"k": "v"}, order=[2, 0, 1]),
        ref_write([("w", "F32", (3,), f32.tobytes()[:12])])]
alphabet = b'{}[]",:0123456789-.eE \\u"aFI3216BOLn_'
agree = disagree = both_accept = 0
examples = []
for trial in range(600):
    d = bytearray(r.choice(base))
    (hn,) = struct.unpack("<Q", bytes(d[:8]))
    mode = r.random()
    in_header = mode < 0.7  # substitutions inside the header keep the length field right
    for _ in range(r.randint(1, 3)):
        kind = 0 if in_header else r.randrange(5)
        i = r.randrange(8, 8 + hn) if in_header else r.randrange(len(d))
        if mode < 0.3:  # letters for letters: names and dtypes change, the structure stays
            if chr(d[i]).isalnum():
                d[i] = r.choice(b"abcFIUB0123456789")
        elif kind == 0:
            d[i] = r.choice(alphabet)
        elif kind == 1 and len(d) > 9:
            del d[i]
        elif kind == 2:
            d.insert(i, r.choice(alphabet))
        elif kind == 3:
            d[i] ^= 1 << r.randrange(8)
        else:
            j = r.randrange(len(d))
            d[min(i, j):max(i, j)] = d[min(i, j):max(i, j)][::-1]
    data = bytes(d)
    c = c_reads(data)
    try:
        ref = ref_read(data)
    except Bad as e:
        ref = f"Bad: {e}"
    if isinstance(c, str) and isinstance(ref, str):
        ok = c.startswith("ATTN_E_FORMAT")
    elif not isinstance(c, str) and not isinstance(ref, str):
        t, m = c
        rt, rm = ref
        both_accept += 1
        ok = m == rm and t.keys() == rt.keys()
        for k in t:
            dt, shape, b = rt[k]
            if dt == "F32":
                ok = ok and same_bits(t[k], np.frombuffer(b, "<f4").reshape(shape))
            elif dt == "F16":
                ok = ok and same_bits(t[k], np.frombuffer(b, "<f2").reshape(shape).astype(np.float32))
            elif dt == "I64":
                ok = ok and np.array_equal(t[k], np.frombuffer(b, "<i8").reshape(shape))
            else:
                ok = ok and t[k].tobytes() == b
    else:
        ok = False
    if ok:
        agree += 1
    else:
        disagree += 1
        if len(examples) < 3:
            examples.append((data, c if isinstance(c, str) else "accepted", ref if isinstance(ref, str) else "accepted"))
report(disagree == 0 and both_accept > 0,
       f"600 mutated files: C and Python reader agree on {agree} ({both_accept} accepted by both, values equal), "
       f"disagree on {disagree}")
for data, c, ref in examples:
    print(f"     {data!r}\n     C: {c}\n     Python: {ref}")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
