"""`attn train lm`'s run, in PyTorch, for a side-by-side on the same machine.

Trains the model of attn_gpt (token + position embeddings, pre-norm Transformer layers with biases,
exact GELU, feed-forward 4x, final layer norm, output projection tied to the token embedding) on
a text file at the character level with the recipe of tools/attn/lm.c, which is nanoGPT's
shakespeare-char recipe: vocabulary = the file's distinct bytes, first 90 % trains, last 10 %
validates; random windows of `context` + 1; AdamW (0.9, 0.99, eps 1e-8, weight decay on matrices
only), linear warm-up then cosine to lr * min_lr_ratio, gradient norm clipped to `clip`;
validation loss = mean over `eval_batches` batches of windows from the validation part, every
`eval_every` steps and at the end.

Defaults = nanoGPT's CPU configuration (4 layers, 4 heads, 128 wide, context 64, batch 12, 2,000
iterations, lr 1e-3, no dropout); --config takes the JSON of `attn train lm --config`.

    /usr/bin/python3 bench/torch_lm.py --data ../shared/data/tinyshakespeare/input.txt --threads 2

Prints a `step N: validation loss` line per evaluation and a final
`result: impl=torch val_loss=... best_val_loss=... full_val_loss=... wall_s=... cpu_s=...` line;
full_val_loss is the final model's loss over the whole validation part in consecutive windows
(what `attn eval lm --model M --data <the last 10 %>` prints for attn), computed after the timing.
"""
import argparse
import json
import math
import os
import time

# as attn does for itself (tools/attn/main.c): OpenMP threads that spin after each parallel
# region starve each other on a shared machine (measured here at load ~15: 1.2 CPU-s a step
# spinning against 0.15 passive)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn as nn

DEFAULTS = dict(n_layer=4, n_head=4, d_model=128, context=64, dropout=0.0, batch=12, steps=2000,
                lr=1e-3, min_lr_ratio=0.1, warmup=100, weight_decay=0.1, clip=1.0, eval_every=200,
                eval_batches=20, seed=1337)


class GPT(nn.Module):
    def __init__(self, vocab, c):
        super().__init__()
        d = c["d_model"]
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(c["context"], d)
        self.drop = nn.Dropout(c["dropout"])
        layer = nn.TransformerEncoderLayer(d, c["n_head"], 4 * d, dropout=c["dropout"], activation="gelu",
                                           batch_first=True, norm_first=True)
        self.h = nn.TransformerEncoder(layer, c["n_layer"], enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(d)
        nn.init.normal_(self.wte.weight, std=0.02)  # as attn_gpt (GPT-2's initialisation)
        nn.init.normal_(self.wpe.weight, std=0.02)

    def forward(self, x):
        T = x.shape[1]
        pos = torch.arange(T, device=x.device)
        h = self.drop(self.wte(x) + self.wpe(pos)[None])
        mask = torch.triu(torch.full((T, T), float("-inf")), 1)
        h = self.h(h, mask=mask)
        return self.ln_f(h) @ self.wte.weight.T


def lr_at(c, s):
    if c["warmup"] > 0 and s < c["warmup"]:
        return c["lr"] * s / c["warmup"]
    span = c["steps"] - c["warmup"]
    prog = min(1.0, (s - c["warmup"]) / span) if span > 0 else 1.0
    r = c["min_lr_ratio"]
    return c["lr"] * (r + (1 - r) * 0.5 * (1 + math.cos(math.pi * prog)))


@torch.no_grad()
def stream_loss(model, ids, T, V, batch=64):
    """Mean loss over the whole stream in consecutive windows of T (each token but the first
    predicted once), as attn_lm_stream_loss and `attn eval lm` compute it (after the timing)."""
    model.eval()
    tot, cnt = 0.0, 0
    starts = list(range(0, len(ids) - 1, T))
    for i in range(0, len(starts), batch):
        for s0 in starts[i:i + batch]:
            n = min(T, len(ids) - 1 - s0)
            x, y = ids[s0:s0 + n][None], ids[s0 + 1:s0 + n + 1]
            tot += nn.functional.cross_entropy(model(x)[0], y, reduction="sum").item()
            cnt += n
    return tot / cnt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--config", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=None, help="override the config's steps")
    a = ap.parse_args()
    c = dict(DEFAULTS)
    if a.config:
        with open(a.config) as f:
            c.update(json.load(f))
    if a.steps:
        c["steps"] = a.steps
    torch.set_num_threads(a.threads)
    torch.manual_seed(c["seed"])
    raw = open(a.data, "rb").read()
    chars = sorted(set(raw))
    lut = np.zeros(256, np.int64)
    for i, ch in enumerate(chars):
        lut[ch] = i
    ids = torch.from_numpy(lut[np.frombuffer(raw, np.uint8)])
    V, T, B = len(chars), c["context"], c["batch"]
    split = len(ids) * 9 // 10
    train, val = ids[:split], ids[split:]
    model = GPT(V, c)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": c["weight_decay"]},
                             {"params": rest, "weight_decay": 0.0}], lr=c["lr"], betas=(0.9, 0.99), eps=1e-8)
    nparam = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}: GPT {nparam} parameters ({c['n_layer']} layers, {c['n_head']} heads, "
          f"d {c['d_model']}, context {T}), vocabulary {V}, {a.threads} threads", flush=True)
    g = torch.Generator().manual_seed(c["seed"])
    gv = torch.Generator().manual_seed(c["seed"] + 1)
    val_starts = [torch.randint(0, len(val) - T - 1, (B,), generator=gv) for _ in range(c["eval_batches"])]

    def batch(src, starts):
        x = torch.stack([src[i:i + T] for i in starts])
        y = torch.stack([src[i + 1:i + T + 1] for i in starts])
        return x, y

    @torch.no_grad()
    def validate():
        model.eval()
        tot = 0.0
        for st in val_starts:
            x, y = batch(val, st)
            tot += nn.functional.cross_entropy(model(x).reshape(-1, V), y.reshape(-1)).item()
        model.train()
        return tot / len(val_starts)

    w0, c0 = time.perf_counter(), time.process_time()
    best, lsum, ln = math.inf, 0.0, 0
    for s in range(c["steps"]):
        x, y = batch(train, torch.randint(0, len(train) - T - 1, (B,), generator=g))
        for grp in opt.param_groups:
            grp["lr"] = lr_at(c, s)
        loss = nn.functional.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if c["clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), c["clip"])
        opt.step()
        lsum, ln = lsum + loss.item(), ln + 1
        if (s + 1) % c["eval_every"] and s + 1 != c["steps"]:
            continue
        v = validate()
        best = min(best, v)
        print(f"step {s + 1}: train loss {lsum / ln:.4f} validation loss {v:.4f} "
              f"({time.perf_counter() - w0:.1f} s)", flush=True)
        lsum, ln = 0.0, 0
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    full = stream_loss(model, val, T, V)
    print(f"result: impl=torch val_loss={v:.4f} best_val_loss={best:.4f} full_val_loss={full:.4f} steps={c['steps']} "
          f"wall_s={wall:.1f} cpu_s={cpu:.1f} threads={a.threads}")


if __name__ == "__main__":
    main()
