"""Loading libattn through ctypes, and the small helpers every binding module shares.

The library is found through the ATTN_LIB environment variable (a path to libattn.so) or
next to this package in ../../build/libattn.so.
"""
import ctypes
import os

import numpy as np

_MAX_DIMS = 4


class Tensor(ctypes.Structure):
    """attn_tensor: float32 view with shape and strides in elements."""
    _fields_ = [("data", ctypes.POINTER(ctypes.c_float)),
                ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int64 * _MAX_DIMS),
                ("stride", ctypes.c_int64 * _MAX_DIMS)]


class BoolTensor(ctypes.Structure):
    """attn_bool_tensor: uint8 view (nonzero = attend)."""
    _fields_ = [("data", ctypes.POINTER(ctypes.c_uint8)),
                ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int64 * _MAX_DIMS),
                ("stride", ctypes.c_int64 * _MAX_DIMS)]


def _find_library():
    path = os.environ.get("ATTN_LIB")
    if path:
        return path
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "build", "libattn.so")


lib = ctypes.CDLL(_find_library())
lib.attn_last_error.restype = ctypes.c_char_p
lib.attn_status_string.restype = ctypes.c_char_p
lib.attn_status_string.argtypes = [ctypes.c_int]
lib.attn_version.restype = ctypes.c_char_p
lib.attn_isa_name.restype = ctypes.c_char_p
lib.attn_philox_uniform.restype = ctypes.c_float
lib.attn_philox_uniform.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64]

ISA = {"auto": 0, "portable": 1, "avx2": 2, "avx512": 3}


def check(status):
    """Raise ValueError carrying the library's message when status is an error."""
    if status < 0:
        msg = lib.attn_last_error().decode("utf-8", "replace")
        name = lib.attn_status_string(status).decode()
        raise ValueError(f"{name}: {msg}" if msg else name)
    return status


def as_f32(a, name="array"):
    """A float32 NumPy array (no copy when it already is one; any strides kept)."""
    a = np.asarray(a)
    if a.dtype != np.float32:
        a = a.astype(np.float32)
    if a.ndim < 1 or a.ndim > _MAX_DIMS:
        raise ValueError(f"{name} must have 1..{_MAX_DIMS} dimensions, has {a.ndim}")
    return a


def view(a, name="array"):
    """attn_tensor over a float32 NumPy array, strides in elements. Keep `a` alive."""
    if a.dtype != np.float32:
        raise ValueError(f"{name} must be float32")
    if any(s % 4 for s in a.strides):
        raise ValueError(f"{name} strides are not whole float32 elements")
    t = Tensor()
    t.data = a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    t.ndim = a.ndim
    for i in range(a.ndim):
        t.shape[i] = a.shape[i]
        t.stride[i] = a.strides[i] // 4 if a.shape[i] > 1 else 0
    return t


def bool_view(a, name="mask"):
    """attn_bool_tensor over a bool/uint8 NumPy array. Keep `a` alive."""
    if a.dtype not in (np.uint8, np.bool_):
        raise ValueError(f"{name} must be bool or uint8")
    t = BoolTensor()
    t.data = a.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
    t.ndim = a.ndim
    for i in range(a.ndim):
        t.shape[i] = a.shape[i]
        t.stride[i] = a.strides[i] if a.shape[i] > 1 else 0
    return t


def fptr(a):
    """float* of a float32 array or None."""
    return None if a is None else a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def set_isa(name):
    """Force a SIMD path ('auto', 'portable', 'avx2', 'avx512') for every kernel."""
    check(lib.attn_set_isa(ISA[name]))


def isa_supported(name):
    return bool(lib.attn_isa_supported(ISA[name]))


def set_num_threads(n):
    check(lib.attn_set_num_threads(int(n)))
