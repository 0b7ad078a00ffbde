"""attn.machine against what Python measures itself: the peak RSS against resource.getrusage,
the CPU time against time.process_time, the clock against time.monotonic; the FMA peak and the
triad bandwidth in a plausible range with their run counts; bad thread counts refused with the
library's message. Ends with "N passed, N failed"."""
import resource
import time

import numpy as np

import attn
import attn.machine as m

results = []  # one bool per check


def report(ok, what):
    results.append(bool(ok))
    print(("ok   " if ok else "FAIL ") + what)


rss = m.peak_rss_mb()
py_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
report(abs(rss - py_rss) < 5, f"peak RSS {rss:.1f} MB = getrusage's {py_rss:.1f} MB")
big = np.ones(64 << 18, dtype=np.float32)  # 64 MB touched
report(m.peak_rss_mb() >= rss + 60 or rss > 500, f"peak RSS rises by the 64 MB touched ({m.peak_rss_mb():.1f} MB)")
del big
c0, p0, w0, t0 = m.cpu_seconds(), time.process_time(), m.now(), time.monotonic()
x = 0.0
for i in range(2_000_000):
    x += i * 1e-9
c1, p1, w1, t1 = m.cpu_seconds(), time.process_time(), m.now(), time.monotonic()
report(abs((c1 - c0) - (p1 - p0)) < 0.05 + 0.1 * (p1 - p0), f"CPU time {c1 - c0:.3f} s = process_time's {p1 - p0:.3f} s")
report(abs((w1 - w0) - (t1 - t0)) < 0.01, f"clock {w1 - w0:.4f} s = monotonic's {t1 - t0:.4f} s")
pk = m.peak(threads=1, samples=2, bandwidth_runs=1)
report(pk["threads"] == 1 and pk["fma_runs"] == 45 + 2 * 5 and pk["bw_runs"] == 1,
       f"run counts: {pk['fma_runs']} FMA, {pk['bw_runs']} triad")
report(0.04 < pk["gflops"] < 1e4 and 0.04 < pk["core_gflops"] < 1e4 and 0.1 < pk["gbs"] < 1e4,
       f"{pk['gflops']:.1f} GFLOP/s, {pk['core_gflops']:.1f} per core CPU second, {pk['gbs']:.1f} GB/s")
try:
    m.peak(threads=-3)
    report(False, "threads=-3 refused")
except ValueError as e:
    report("threads = -3" in str(e), f"threads=-3 refused: {e}")
print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
raise SystemExit(0 if all(results) else 1)
