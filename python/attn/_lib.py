"""Loading libattn through ctypes, and the small helpers every binding module shares.

The library is the first of (see library_candidates()):
  1. $ATTN_LIB, when set (a path to libattn.so; an explicit choice, so an error if missing);
  2. the copy built into the package (attn/_libs/libattn.so, put there by `pip install`);
  3. the build tree of the checkout this package sits in (../../build/libattn.so);
  4. the installed library: pkg-config's libdir for attn, then the loader's own search
     (ldconfig cache, LD_LIBRARY_PATH) for libattn.so.0 / libattn.so.
"""
import ctypes
import ctypes.util
import os
import subprocess

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


def _pkg_config_libdir():
    try:
        r = subprocess.run(["pkg-config", "--variable=libdir", "attn"], capture_output=True,
                           text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


def library_candidates():
    """(where, path or loader name) in the order they are tried (the module doc's order);
    a generator, so pkg-config only runs when the earlier places have nothing."""
    env = os.environ.get("ATTN_LIB")
    if env:
        yield "ATTN_LIB", env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    yield "package", os.path.join(here, "_libs", "libattn.so")
    yield "checkout", os.path.normpath(os.path.join(here, "..", "..", "build", "libattn.so"))
    libdir = _pkg_config_libdir()
    if libdir:
        for n in ("libattn.so.0", "libattn.so"):
            yield "pkg-config", os.path.join(libdir, n)
    found = ctypes.util.find_library("attn")
    for n in ([found] if found else []) + ["libattn.so.0"]:
        yield "loader", n


def _load_library():
    tried = []
    for where, path in library_candidates():
        if os.sep in path and not os.path.exists(path):
            if where == "ATTN_LIB":
                raise FileNotFoundError(f"ATTN_LIB={path}: no such file")
            tried.append(f"{where}: {path} (missing)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            if where == "ATTN_LIB":
                raise
            tried.append(f"{where}: {path} ({e})")
    raise ImportError("libattn not found; tried\n  " + "\n  ".join(tried) +
                      "\nInstall it (make install), build the checkout (make lib), reinstall "
                      "the package from a checkout (pip install ./python), or set ATTN_LIB.")


lib, library_path = _load_library()
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


_convert_dtypes = False


def set_dtype_conversion(on):
    """Opt in (True) to converting arrays of other dtypes to float32 (a copy) wherever attn
    takes float data; by default such arrays raise TypeError. Returns the previous setting."""
    global _convert_dtypes
    old, _convert_dtypes = _convert_dtypes, bool(on)
    return old


def f32(a, name="array"):
    """a as a float32 NumPy array: float32 arrays as they are (any strides, no copy); Python
    numbers and lists converted; arrays (or tensors) of another dtype raise TypeError unless
    set_dtype_conversion(True)."""
    if hasattr(a, "detach") and hasattr(a, "dtype"):  # a torch tensor
        a = a.detach().cpu().numpy()
    if isinstance(a, np.ndarray):
        if a.dtype == np.float32:
            return a
        if not _convert_dtypes:
            raise TypeError(f"{name} is {a.dtype}; attn computes in float32: pass "
                            f"{name}.astype(np.float32), or call "
                            "attn.set_dtype_conversion(True) to convert automatically")
    return np.asarray(a, dtype=np.float32)


def as_f32(a, name="array"):
    """A float32 NumPy array (see f32) of 1..4 dimensions."""
    a = f32(a, name)
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
