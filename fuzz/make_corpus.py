#!/usr/bin/python3
"""Write the seed corpus of the safetensors fuzzer: valid files of every convertible dtype,
scalars, empty tensors and metadata, and a few invalid ones. Run from the repository root:
/usr/bin/python3 fuzz/make_corpus.py (rewrites fuzz/corpus/safetensors/)."""
import json
import os
import struct

import numpy as np

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "safetensors")
os.makedirs(out, exist_ok=True)


def pack(header_obj, buf, pad=True):
    h = json.dumps(header_obj, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + buf


def pack_text(text, buf):
    """A header given as raw JSON text (for what json.dumps cannot produce), padded."""
    h = text.encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + buf


def layout(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, bytes) -> file bytes, laid out in list order."""
    header, buf, off = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(data)]}
        buf += data
        off += len(data)
    return pack(header, buf)


rng = np.random.default_rng(0)
f32 = rng.standard_normal(6).astype("<f4")
seeds = {
    "empty": layout([]),
    "meta_only": layout([], {"format": "pt", "step": "10"}),
    "f32_2x3": layout([("w", "F32", (2, 3), f32.tobytes())], {"format": "pt"}),
    "scalar": layout([("s", "F32", (), np.float32(3.5).tobytes())]),
    "zero_size": layout([("z", "F32", (0, 4), b""), ("a", "F32", (1,), np.float32(1).tobytes())]),
    "f16": layout([("h", "F16", (4,), np.array([1, -2, 65504, 6e-8], "<f2").tobytes())]),
    "bf16": layout([("b", "BF16", (2,), np.array([0x3F80, 0xFF80], "<u2").tobytes())]),
    "f64": layout([("d", "F64", (3,), np.array([1e300, -0.0, 1 / 3], "<f8").tobytes())]),
    "mixed": layout([("x.weight", "F32", (2, 2), f32[:4].tobytes()), ("x.bias", "F16", (2,), b"\x00\x3c\x00\xbc"),
                     ("ids", "I64", (1,), struct.pack("<q", 7)), ("mask", "BOOL", (3,), b"\x01\x00\x01")],
                    {"a": "1", "é": "ü"}),
    "4d": layout([("q", "F32", (1, 2, 1, 1), f32[:2].tobytes())]),
    "offsets_unsorted": layout([("b", "F32", (1,), f32[:1].tobytes()), ("a", "F32", (2,), f32[1:3].tobytes())]),
    "escapes": layout([("q\"\\\n\u00e9", "F32", (1, 1, 1), f32[:1].tobytes())], {"k\t": "v\u2028"}),
    "many_dims": layout([("m", "F32", (1,) * 64, f32[:1].tobytes())]),
    "i_dtypes": layout([("u", "U16", (2,), b"\1\2\3\4"), ("c", "C64", (1,), b"\0" * 8), ("e", "F8_E4M3", (1,), b"\x38")]),
    # invalid
    "bad_leading_zero": pack_text('{"a":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}', b"\0" * 4),
    "bad_gap": pack({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8),
    "bad_meta_value": pack({"__metadata__": {"k": 1}}, b""),
    "bad_dup_name": pack_text('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                              '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8),
    "bad_header_len": struct.pack("<Q", 1 << 40) + b"{}",
    "bad_json": pack({}, b"")[:8] + b"{\"a\":",
    "bad_overlap": pack({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                         "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
    "bad_dtype": pack({"a": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
}
for name, data in seeds.items():
    with open(os.path.join(out, name + ".safetensors"), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds to {out}")
