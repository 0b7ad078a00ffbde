"""Checkpoints in the safetensors format, through libattn's validating reader and writer.

    from attn import safetensors
    safetensors.save("model.safetensors", {"w": w, "b": b}, metadata={"step": "10"})
    tensors, meta = safetensors.load("model.safetensors")   # or load(bytes_of_a_file)

load returns float32 arrays for F32/F16/BF16/F64 tensors and arrays of the stored dtype for
the others (the FP8 kinds have no NumPy dtype and come back as raw uint8). save writes
float32 only, atomically. A missing file raises FileNotFoundError; malformed files ValueError
with the library's message.
"""
import ctypes
import os

import numpy as np

from ._lib import check, lib


class Entry(ctypes.Structure):
    """attn_st_entry."""
    _fields_ = [("name", ctypes.c_char_p),
                ("dtype", ctypes.c_char_p),
                ("ndim", ctypes.c_int),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("numel", ctypes.c_int64),
                ("nbytes", ctypes.c_int64)]


_vp = ctypes.c_void_p
lib.attn_st_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(_vp)]
lib.attn_st_open_memory.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_vp)]
lib.attn_st_close.argtypes = [_vp]
lib.attn_st_close.restype = None
lib.attn_st_count.argtypes = [_vp]
lib.attn_st_count.restype = ctypes.c_int64
lib.attn_st_info.argtypes = [_vp, ctypes.c_int64, ctypes.POINTER(Entry)]
lib.attn_st_read_f32.argtypes = [_vp, ctypes.c_char_p, _vp, ctypes.c_int64]
lib.attn_st_read_raw.argtypes = [_vp, ctypes.c_char_p, _vp, ctypes.c_int64]
lib.attn_st_metadata_count.argtypes = [_vp]
lib.attn_st_metadata_count.restype = ctypes.c_int64
lib.attn_st_metadata_at.argtypes = [_vp, ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p),
                                    ctypes.POINTER(ctypes.c_char_p)]
lib.attn_st_writer_create.argtypes = [ctypes.POINTER(_vp)]
lib.attn_st_writer_free.argtypes = [_vp]
lib.attn_st_writer_free.restype = None
lib.attn_st_writer_add.argtypes = [_vp, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int64),
                                   _vp]
lib.attn_st_writer_set_metadata.argtypes = [_vp, ctypes.c_char_p, ctypes.c_char_p]
lib.attn_st_writer_commit.argtypes = [_vp, ctypes.c_char_p]
lib.attn_st_writer_size.argtypes = [_vp, ctypes.POINTER(ctypes.c_int64)]
lib.attn_st_writer_serialize.argtypes = [_vp, _vp, ctypes.c_int64]

_CONVERTED = {"F32", "F16", "BF16", "F64"}
_RAW = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": "<i2", "U16": "<u2", "I32": "<i4",
        "U32": "<u4", "I64": "<i8", "U64": "<u8", "C64": "<c8",
        "F8_E5M2": np.uint8, "F8_E4M3": np.uint8, "F8_E8M0": np.uint8}


def _open(source):
    st = _vp()
    if isinstance(source, (bytes, bytearray, memoryview)):
        buf = bytes(source)
        check(lib.attn_st_open_memory(buf, len(buf), ctypes.byref(st)))
        return st, buf  # keep buf alive while the reader lives
    path = os.fspath(source)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    check(lib.attn_st_open(path.encode(), ctypes.byref(st)))
    return st, None


def entries(source):
    """[(name, dtype, shape)] of a file (path or bytes), in name order."""
    st, keep = _open(source)
    try:
        return [(e.name.decode(), e.dtype.decode(), tuple(e.shape[d] for d in range(e.ndim)))
                for e in _entries(st)]
    finally:
        lib.attn_st_close(st)
        del keep


def _entries(st):
    out = []
    for i in range(lib.attn_st_count(st)):
        e = Entry()
        check(lib.attn_st_info(st, i, ctypes.byref(e)))
        out.append(e)
    return out


def load(source):
    """(tensors, metadata) of a file given by path or as bytes."""
    st, keep = _open(source)
    try:
        tensors = {}
        for e in _entries(st):
            shape = tuple(e.shape[d] for d in range(e.ndim))
            dtype = e.dtype.decode()
            if dtype in _CONVERTED:
                a = np.empty(shape, np.float32)
                check(lib.attn_st_read_f32(st, e.name, a.ctypes.data, e.numel))
            else:
                a = np.empty(shape, _RAW[dtype])
                check(lib.attn_st_read_raw(st, e.name, a.ctypes.data, e.nbytes))
            tensors[e.name.decode()] = a
        meta = {}
        for i in range(lib.attn_st_metadata_count(st)):
            k, v = ctypes.c_char_p(), ctypes.c_char_p()
            check(lib.attn_st_metadata_at(st, i, ctypes.byref(k), ctypes.byref(v)))
            meta[k.value.decode()] = v.value.decode()
        return tensors, meta
    finally:
        lib.attn_st_close(st)
        del keep


def _writer(tensors, metadata):
    w = _vp()
    check(lib.attn_st_writer_create(ctypes.byref(w)))
    keep = []
    try:
        for name, a in tensors.items():
            a = np.asarray(a, dtype=np.float32, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
            keep.append(a)
            shape = (ctypes.c_int64 * max(a.ndim, 1))(*a.shape)
            check(lib.attn_st_writer_add(w, name.encode(), a.ndim, shape, a.ctypes.data if a.size else None))
        for k, v in (metadata or {}).items():
            check(lib.attn_st_writer_set_metadata(w, k.encode(), v.encode()))
    except Exception:
        lib.attn_st_writer_free(w)
        raise
    return w, keep


def save(path, tensors, metadata=None):
    """Write {name: array} as float32 to path, atomically, with optional {str: str} metadata."""
    w, keep = _writer(tensors, metadata)
    try:
        check(lib.attn_st_writer_commit(w, str(path).encode()))
    finally:
        lib.attn_st_writer_free(w)
        del keep


def dumps(tensors, metadata=None):
    """The bytes save would write."""
    w, keep = _writer(tensors, metadata)
    try:
        n = ctypes.c_int64()
        check(lib.attn_st_writer_size(w, ctypes.byref(n)))
        buf = ctypes.create_string_buffer(max(n.value, 1))
        check(lib.attn_st_writer_serialize(w, buf, n.value))
        return buf.raw[:n.value]
    finally:
        lib.attn_st_writer_free(w)
        del keep
