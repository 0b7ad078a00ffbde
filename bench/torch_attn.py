"""PyTorch GPT training with PyTorch's own attention against the same model patched with
attn.torch, at several context lengths: tokens/s and peak RSS side by side.

The model is bench/torch_train.py's GPT (6 layers, 6 heads, width 384, pre-norm, causal mask
given as a float -inf/0 matrix, nn.TransformerEncoderLayer), trained with AdamW on random
tokens; every context trains on about --tokens tokens per step (batch = tokens // context,
at least 1). Each (implementation, context) runs in its own process, so its peak RSS
(ru_maxrss) is its own; both start from the same initialisation and data, and the first
step's loss of each is printed to show they compute the same thing.

    /usr/bin/python3 bench/torch_attn.py [--contexts 256,1024,4096] [--steps 4] [--threads 2]
                                         [--rounds R]

--rounds R alternates the two implementations R times per context (PyTorch, attn, PyTorch, …)
and reports each one's median over the rounds, with the ratio of every round: on a shared
machine the load moves between runs, and alternation spreads it over both sides.

Prints one key=value line per run, then a table (markdown) with the speed-up and the memory
ratio. A benchmark to read, not a test: it asserts nothing.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def child(impl, T, steps, threads, tokens):
    import numpy as np
    import torch
    import torch.nn as nn
    sys.path.insert(0, HERE)
    from torch_train import GPT
    torch.set_num_threads(threads)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if impl == "attn":
        sys.path.insert(0, os.path.join(HERE, "..", "python"))
        import attn.torch as at
    torch.manual_seed(1337)
    vocab, batch = 65, max(1, tokens // T)
    model = GPT(vocab, context=T)
    if impl == "attn":
        at.patch(model)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    g = torch.Generator().manual_seed(7)
    text = torch.randint(0, vocab, (max(100000, 4 * T),), generator=g)
    times, cpus, losses = [], [], []
    for _ in range(steps + 1):
        starts = torch.randint(0, len(text) - T - 1, (batch,), generator=g)
        x = torch.stack([text[i:i + T] for i in starts])
        y = torch.stack([text[i + 1:i + T + 1] for i in starts])
        t0, c0 = time.perf_counter(), time.process_time()
        loss = nn.functional.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        losses.append(loss.item())
    med = float(np.median(times[1:]))  # the first step (allocation, warm-up) left out
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"impl": impl, "context": T, "batch": batch, "steps": steps,
                      "threads": threads, "step_ms": round(med * 1e3, 1),
                      "cpu_s_per_step": round(float(np.median(cpus[1:])), 2),
                      "tokens_per_s": round(batch * T / med), "peak_rss_mb": round(rss / 1024),
                      "base_rss_mb": round(base_rss / 1024), "loss0": round(losses[0], 5),
                      "loss_last": round(losses[-1], 5)}))


def _median_run(runs):
    """The run with the median tokens/s (the lower middle one for an even count)."""
    return sorted(runs, key=lambda r: r["tokens_per_s"])[(len(runs) - 1) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--contexts", default="256,1024,4096")
    ap.add_argument("--steps", type=int, default=4, help="timed steps (after one warm-up)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=2048, help="tokens per step")
    ap.add_argument("--rounds", type=int, default=1, help="alternations per context")
    ap.add_argument("--child", nargs=2, metavar=("IMPL", "CONTEXT"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], int(a.child[1]), a.steps, a.threads, a.tokens)
        return
    rows = []
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
    for T in (int(c) for c in a.contexts.split(",")):
        runs = {"torch": [], "attn": []}
        for _ in range(a.rounds):
            for impl in ("torch", "attn"):
                cmd = [sys.executable, os.path.abspath(__file__), "--child", impl, str(T),
                       "--steps", str(a.steps), "--threads", str(a.threads), "--tokens",
                       str(a.tokens)]
                p = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if p.returncode != 0:
                    print(f"impl={impl} context={T} failed (exit {p.returncode}): "
                          f"{p.stderr.strip()[-300:]}")
                    continue
                r = json.loads(p.stdout.strip().splitlines()[-1])
                print(" ".join(f"{k}={v}" for k, v in r.items()), flush=True)
                runs[impl].append(r)
        n = min(len(runs["torch"]), len(runs["attn"]))
        if n:
            ratios = [m["tokens_per_s"] / t["tokens_per_s"]
                      for t, m in zip(runs["torch"], runs["attn"])]
            print(f"context={T} round ratios: " + " ".join(f"{x:.2f}" for x in ratios))
            rows.append((T, _median_run(runs["torch"]), _median_run(runs["attn"])))
    print()
    print("| context | batch | PyTorch tokens/s | attn.torch tokens/s | speed-up | CPU-s/step "
          "PyTorch / attn | PyTorch peak RSS | attn.torch peak RSS | first loss (both) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for T, t, m in rows:
        print(f"| {T} | {t['batch']} | {t['tokens_per_s']:,} | {m['tokens_per_s']:,} | "
              f"{m['tokens_per_s'] / t['tokens_per_s']:.2f}× | {t['cpu_s_per_step']} / "
              f"{m['cpu_s_per_step']} | {t['peak_rss_mb']:,} MB | {m['peak_rss_mb']:,} MB | "
              f"{t['loss0']:.5f} / {m['loss0']:.5f} |")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
