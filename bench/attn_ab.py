"""Two libattn builds side by side on the attention of attn.torch's MultiheadAttention: causal
forward and backward over q, k, v that are strided views of one packed projection
[1, L, 3·H·E] (as patch(model) hands them over), alternating the builds call by call in one
process, so that the load of a shared machine falls on both. Prints the median process CPU
time and wall time of each phase per build, their ratios, every call's time, and whether the
two builds gave the same bits. A benchmark to read, not a test: it asserts nothing.

--blas-before runs a PyTorch matrix product (OpenBLAS here) just before each phase, as a
training step does (the in-projection before the forward, the out-projection's gradient before
the backward): OpenBLAS's idle workers then poll the cores with sched_yield for a while and
compete with the kernel's threads, which the kernel alone never sees.

    /usr/bin/python3 bench/attn_ab.py BEFORE.so AFTER.so [--len 4096] [--heads 6] [--dim 64]
                                      [--rounds 6] [--threads 2] [--layout packed|contiguous]
                                      [--blas-before]
"""
import argparse
import ctypes
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--len", type=int, default=4096)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layout", choices=("packed", "contiguous"), default="packed")
    ap.add_argument("--blas-before", action="store_true",
                    help="a PyTorch matrix product before each phase, as in training")
    a = ap.parse_args()
    os.environ.setdefault("ATTN_LIB", os.path.abspath(a.before))
    sys.path.insert(0, os.path.join(HERE, "..", "python"))
    import torch
    import attn.sdpa as sd
    import attn.torch as at
    libs = []
    for path in (a.before, a.after):
        lib = ctypes.CDLL(os.path.abspath(path))
        for n in ("attn_sdpa_forward", "attn_sdpa_backward"):
            getattr(lib, n).argtypes = getattr(sd.lib, n).argtypes
            getattr(lib, n).restype = ctypes.c_int
        libs.append(lib)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    L, H, E = a.len, a.heads, a.dim
    qkv = torch.randn(1, L, 3 * H * E) * 0.5

    def split(t):
        views = tuple(t[..., i * H * E:(i + 1) * H * E].view(1, L, H, E).transpose(1, 2)
                      for i in range(3))
        return views if a.layout == "packed" else tuple(v.contiguous() for v in views)

    flop = 2 * L * L * E * H  # causal forward: two products over half the L×L scores
    times = {(i, ph): [] for i in range(2) for ph in ("fwd", "bwd")}
    walls = {(i, ph): [] for i in range(2) for ph in ("fwd", "bwd")}
    first = [None, None]
    xs, ws = torch.randn(L, 384), torch.randn(384, 384)

    def blas():
        if a.blas_before:
            torch.mm(xs, ws)

    for r in range(a.rounds):
        for i in ((0, 1) if r % 2 == 0 else (1, 0)):
            at.lib = libs[i]  # attn.torch calls the library through this module global
            x = qkv.clone().requires_grad_(True)
            blas()
            c0, w0 = time.process_time(), time.perf_counter()
            if a.layout == "packed":
                o, _ = at._packed_attention(x, split, None, 0.0, True, False)
            else:
                o = at.scaled_dot_product_attention(*split(x), is_causal=True)
            c1, w1 = time.process_time(), time.perf_counter()
            g = torch.full_like(o, 0.01)
            blas()
            c2, w2 = time.process_time(), time.perf_counter()
            o.backward(g)
            c3, w3 = time.process_time(), time.perf_counter()
            times[(i, "fwd")].append(c1 - c0)
            times[(i, "bwd")].append(c3 - c2)
            walls[(i, "fwd")].append(w1 - w0)
            walls[(i, "bwd")].append(w3 - w2)
            if first[i] is None:
                first[i] = (o.detach().clone(), x.grad.clone())
    print(f"[1, {H}, {L}, {E}] causal, {a.layout} q|k|v, {a.threads} threads, {a.rounds} rounds"
          + (", a matrix product before each phase" if a.blas_before else ""))
    for ph, mult in (("fwd", 1.0), ("bwd", 2.5)):
        b, f = (statistics.median(times[(i, ph)]) for i in range(2))
        print(f"{ph}: before {b * 1e3:.0f} ms ({mult * flop / b / 1e9:.1f} GFLOP per CPU-s)  "
              f"after {f * 1e3:.0f} ms ({mult * flop / f / 1e9:.1f})  after/before {f / b:.3f}  "
              f"calls before {[round(t * 1e3) for t in times[(0, ph)]]} "
              f"after {[round(t * 1e3) for t in times[(1, ph)]]}")
        bw, fw = (statistics.median(walls[(i, ph)]) for i in range(2))
        bm, fm = (min(walls[(i, ph)]) for i in range(2))
        print(f"{ph} wall: before {bw * 1e3:.0f} ms  after {fw * 1e3:.0f} ms  after/before "
              f"{fw / bw:.3f}  (fastest calls: {bm * 1e3:.0f} / {fm * 1e3:.0f} ms, "
              f"{fm / bm:.3f})  calls before {[round(t * 1e3) for t in walls[(0, ph)]]} "
              f"after {[round(t * 1e3) for t in walls[(1, ph)]]}")
    do = (first[0][0] - first[1][0]).abs().max().item()
    dg = (first[0][1] - first[1][1]).abs().max().item()
    print(f"max |difference|: output {do:g}, gradient of qkv {dg:g}")


if __name__ == "__main__":
    main()
