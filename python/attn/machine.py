"""attn.machine — the yardsticks benchmarks state their figures against, from libattn
(attn/core.h), so a Python benchmark and `attn bench` measure the machine the same way:

    attn.machine.peak(threads=2, bandwidth_runs=3)
        {'threads': 2, 'gflops': ..., 'core_gflops': ..., 'gbs': ..., 'fma_runs': 45, 'bw_runs': 3}
    attn.machine.peak_rss_mb(), attn.machine.cpu_seconds(), attn.machine.now()

gflops: the best FP32 FMA GFLOP/s on `threads` threads (the SIMD path in use, attn.set_isa);
core_gflops: one core's per second of its CPU time; gbs: the best triad bandwidth (0 without
bandwidth runs). Bad arguments raise ValueError with the library's message.
"""
import ctypes

from ._lib import check, lib


class _Peak(ctypes.Structure):
    _fields_ = [("threads", ctypes.c_int), ("gflops", ctypes.c_double), ("core_gflops", ctypes.c_double),
                ("gbs", ctypes.c_double), ("fma_runs", ctypes.c_int), ("bw_runs", ctypes.c_int)]


for _name in ("attn_now", "attn_peak_rss_mb", "attn_cpu_seconds"):
    getattr(lib, _name).restype = ctypes.c_double
    getattr(lib, _name).argtypes = []
lib.attn_machine_peak_init.argtypes = [ctypes.POINTER(_Peak), ctypes.c_int]
lib.attn_machine_peak_sample.argtypes = [ctypes.POINTER(_Peak)]
lib.attn_machine_bandwidth.argtypes = [ctypes.POINTER(_Peak), ctypes.c_int]


def peak(threads=1, samples=0, bandwidth_runs=0):
    """The machine's peaks: FMA runs on `threads` threads (plus `samples` more bursts), and
    `bandwidth_runs` triad passes over 3 x 64 MB."""
    p = _Peak()
    check(lib.attn_machine_peak_init(ctypes.byref(p), int(threads)))
    for _ in range(int(samples)):
        check(lib.attn_machine_peak_sample(ctypes.byref(p)))
    if bandwidth_runs:
        check(lib.attn_machine_bandwidth(ctypes.byref(p), int(bandwidth_runs)))
    return {name: getattr(p, name) for name, _ in _Peak._fields_}


def now():
    """Monotonic wall clock, seconds."""
    return lib.attn_now()


def peak_rss_mb():
    """Peak resident set of this process so far, MB."""
    return lib.attn_peak_rss_mb()


def cpu_seconds():
    """CPU time of this process (all threads) so far, seconds."""
    return lib.attn_cpu_seconds()
