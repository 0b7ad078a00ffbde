"""attn: attention mechanisms in C — the Python binding (ctypes + NumPy).

Float32 NumPy arrays in and out. Bad arguments raise ValueError with the library's message.
"""
from ._lib import check, set_isa, isa_supported, set_num_threads, lib  # noqa: F401
from . import safetensors  # noqa: F401


def version():
    return lib.attn_version().decode()
