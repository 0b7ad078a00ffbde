"""Write the seed inputs of tests/fuzz/fuzz_idx.c into fuzz/corpus/idx/.

Input layout: byte 0 picks the path (0 parse from memory, 1 plain file, 2 gzip file, 3 image
set), the rest is the IDX file (for 3: a byte giving the split point, then images + labels).
Valid files of each kind, and one of each malformed class the loader must reject.
"""
import os
import struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "idx")
os.makedirs(here, exist_ok=True)


def idx(dims, dtype=0x08, data=None):
    n = 1
    for d in dims:
        n *= d
    body = bytes((i * 37 + 11) % 256 for i in range(n)) if data is None else data
    return bytes([0, 0, dtype, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + body


def write(name, mode, payload):
    with open(os.path.join(here, name), "wb") as f:
        f.write(bytes([mode]) + payload)


img = idx([3, 4, 5])
lab = idx([3], data=bytes([0, 9, 4]))
for mode, tag in ((0, "mem"), (1, "file"), (2, "gz")):
    write(f"{tag}_images.idx", mode, img)
    write(f"{tag}_labels.idx", mode, lab)
write("mem_4d.idx", 0, idx([2, 1, 3, 2]))
write("mem_empty_dim.idx", 0, idx([0, 28, 28]))
write("bad_magic.idx", 0, b"\x1f\x8b" + img[2:])
write("bad_dtype.idx", 0, idx([2, 2], dtype=0x0A))
write("float32.idx", 1, idx([2], dtype=0x0D, data=b"\0" * 8))
write("bad_ndim0.idx", 0, bytes([0, 0, 8, 0]))
write("bad_ndim5.idx", 1, idx([1, 1, 1, 1, 1]))
write("bad_truncated.idx", 1, img[:-3])
write("bad_trailing.idx", 2, img + b"\x00")
write("bad_header_cut.idx", 0, img[:9])
write("bad_huge.idx", 1, bytes([0, 0, 8, 3]) + struct.pack(">III", 60000, 60000, 60000))
write("bad_lie.idx", 2, bytes([0, 0, 8, 1]) + struct.pack(">I", 1 << 30) + b"\1\2\3")
# image sets: byte 1 = split point (as a fraction of 256 of the rest)
pair = img + lab
cut = len(img) + 1
write("set_ok.idx", 3, bytes([(cut - 1) * 256 // (len(pair) - 0) + 1]) + pair)
write("set_count_mismatch.idx", 3, bytes([128]) + img + idx([2], data=b"\1\2"))
write("set_labels_2d.idx", 3, bytes([128]) + img + idx([3, 1]))
print(len(os.listdir(here)), "seeds in", here)
