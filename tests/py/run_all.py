"""Run every tests/py/test_*.py as its own process and add up their results.

Each test script prints one line per check and ends with "N passed, N failed"; this runner
prints the same line for the whole suite and exits non-zero on any failure.
"""
import glob
import os
import re
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
env = dict(os.environ)
env["PYTHONPATH"] = os.path.join(here, "..", "..", "python") + os.pathsep + env.get("PYTHONPATH", "")
env.setdefault("ATTN_LIB", os.path.join(here, "..", "..", "build", "libattn.so"))

total_p = total_f = 0
only = sys.argv[1:]
for path in sorted(glob.glob(os.path.join(here, "test_*.py"))):
    name = os.path.basename(path)
    if only and not any(o in name for o in only):
        continue
    t0 = time.time()
    proc = subprocess.run([sys.executable, path], env=env, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    sys.stdout.write(out)
    m = re.findall(r"^(\d+) passed, (\d+) failed", out, re.M)
    p, f = (int(m[-1][0]), int(m[-1][1])) if m else (0, 0)
    if proc.returncode != 0 and f == 0:
        f = 1
    print(f"-- {name}: {p} passed, {f} failed in {time.time() - t0:.1f}s")
    total_p += p
    total_f += f
print(f"{total_p} passed, {total_f} failed")
sys.exit(1 if total_f else 0)
