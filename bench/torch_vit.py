"""The Vision Transformer of examples/vit_fashion.c, trained in PyTorch for comparison.

Same architecture (patch embedding, class token or mean pooling, learned or 2-D sinusoidal
positions, pre-norm GELU encoder layers, final LayerNorm, linear head), the same initial
weights (taken from attn's model of the same seed through the binding), the same batches
(attn's Fashion-MNIST loader, epoch orders and augmentation through python/attn, so the
data_hash printed matches the C example's), the same AdamW (weight decay 0.05, none on biases,
norms and the tokens), schedule (warm-up for a tenth of the steps, cosine to 5%) and clipping.
Prints the held-out accuracy and "result: impl=torch ... patches_per_s=...".

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=python python3 bench/torch_vit.py --steps 300
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import attn  # noqa: E402
from attn import data  # noqa: E402

MEAN, STD = 0.2860, 0.3530


def sincos_2d(grid, d):
    K = d // 4
    w = 10000.0 ** (-np.arange(K) / K)
    ys, xs = np.divmod(np.arange(grid * grid), grid)
    return np.concatenate([np.sin(ys[:, None] * w), np.cos(ys[:, None] * w),
                           np.sin(xs[:, None] * w), np.cos(xs[:, None] * w)], 1)


class ViT(nn.Module):
    def __init__(self, S, P, d, heads, layers, classes, cls, learned):
        super().__init__()
        self.P, self.G, self.cls, self.learned = P, S // P, cls, learned
        T = self.G * self.G + int(cls)
        self.patch_embed = nn.Linear(P * P, d)
        if cls:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        if learned:
            self.pos_embed = nn.Parameter(torch.zeros(1, T, d))
        else:
            table = sincos_2d(self.G, d)
            if cls:
                table = np.concatenate([np.zeros((1, d)), table])
            self.register_buffer("pos_table", torch.tensor(table, dtype=torch.float32)[None])
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d, heads, 2 * d, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        N, P, G = x.shape[0], self.P, self.G
        p = x.unfold(2, P, P).unfold(3, P, P).permute(0, 2, 3, 1, 4, 5).reshape(N, G * G, P * P)
        h = self.patch_embed(p)
        if self.cls:
            h = torch.cat([self.cls_token.expand(N, -1, -1), h], 1)
        h = h + (self.pos_embed if self.learned else self.pos_table)
        for layer in self.layers:
            h = layer(h)
        h = self.norm(h)
        return self.head(h[:, 0] if self.cls else h.mean(1))


def lr_at(step, base, warmup, total, floor=0.05):
    """attn_schedule_lr's cosine schedule (ATTN_SCHEDULE_COSINE)."""
    if step < warmup:
        return base * step / warmup
    if step >= total:
        return base * floor
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup))))


def batch_hash(h, aug, y):
    M = 2147483647
    flat = aug.reshape(-1).astype(np.int64)
    v = int(np.dot(flat, np.arange(1, flat.size + 1, dtype=np.int64)))
    v += int(np.dot(y.astype(np.int64), np.arange(1, y.size + 1, dtype=np.int64)))
    return (h * 1000003 + v % M) % M


def accuracy(model, pixels, labels):
    model.eval()
    right = 0
    with torch.no_grad():
        for at in range(0, len(labels), 250):
            x = torch.from_numpy(data.normalize(pixels[at:at + 250], MEAN, STD))
            right += int((model(x).argmax(1).numpy() == labels[at:at + 250]).sum())
    model.train()
    return right / len(labels)


def main():
    ap = argparse.ArgumentParser()
    for k, v in (("steps", 300), ("train", 2000), ("heldout", 1000), ("batch", 64), ("patch", 7),
                 ("d", 48), ("layers", 2), ("heads", 4), ("threads", 2), ("seed", 1)):
        ap.add_argument("--" + k, type=int, default=v)
    ap.add_argument("--pool", default="cls", choices=["cls", "mean"])
    ap.add_argument("--pos", default="learned", choices=["learned", "sincos"])
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--data", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    pixels, labels = data.fashion_mnist("train", a.data)
    n, B = a.train, a.batch
    held_px, held_y = pixels[-a.heldout:], labels[-a.heldout:]
    S = pixels.shape[2]
    ours = attn.ViT(image_size=S, patch_size=a.patch, d_model=a.d, nhead=a.heads,
                    num_layers=a.layers, dim_feedforward=2 * a.d, num_classes=10,
                    pooling=a.pool, pos=a.pos, seed=a.seed)
    model = ViT(S, a.patch, a.d, a.heads, a.layers, 10, a.pool == "cls", a.pos == "learned")
    sd = ours.state_dict()
    named = dict(model.named_parameters())
    assert set(sd) == set(named), sorted(set(sd) ^ set(named))
    with torch.no_grad():
        for k, p in named.items():
            p.copy_(torch.from_numpy(sd[k]))
    no_decay = [p for k, p in named.items() if p.ndim == 1 or k in ("cls_token", "pos_embed")]
    decay = [p for k, p in named.items() if not (p.ndim == 1 or k in ("cls_token", "pos_embed"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr)
    warmup = a.steps // 10
    tokens = (S // a.patch) ** 2
    print(f"torch_vit: {a.steps} steps of {B} images from {n} (held out {a.heldout}), patch "
          f"{a.patch} ({tokens + (a.pool == 'cls')} tokens), d {a.d}, {a.layers} layers, "
          f"{a.heads} heads, {a.pool} pooling, {a.pos} positions, "
          f"{sum(p.numel() for p in named.values())} parameters, {a.threads} threads, torch "
          f"{torch.__version__}")
    acc0 = accuracy(model, held_px, held_y)
    h, epoch, perm, loss_sum = 0, -1, None, 0.0
    t0 = time.perf_counter()
    for step in range(a.steps):
        idx = np.empty(B, np.int64)
        for j in range(B):
            p = step * B + j
            if p // n != epoch:
                epoch = p // n
                perm = data.permutation(n, a.seed, epoch)
            idx[j] = perm[p % n]
        y = labels[idx].astype(np.int64)
        aug = data.augment(pixels[idx], 2, True, a.seed + 1, step)
        h = batch_hash(h, aug, y)
        x = torch.from_numpy(data.normalize(aug, MEAN, STD))
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a.lr, warmup, a.steps)
        loss = F.cross_entropy(model(x), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_sum += float(loss)
        if (step + 1) % 50 == 0 or step + 1 == a.steps:
            print(f"step {step + 1:4d}  loss {loss_sum / 50:.4f}  {time.perf_counter() - t0:.1f} s",
                  flush=True)
            loss_sum = 0.0
    secs = time.perf_counter() - t0
    acc = accuracy(model, held_px, held_y)
    print(f"held-out accuracy {acc:.4f} ({acc0:.4f} before training, chance 0.1) after "
          f"{a.steps} steps in {secs:.1f} s")
    print(f"result: impl=torch steps={a.steps} batch={B} acc={acc:.4f} train_s={secs:.2f} "
          f"patches_per_s={a.steps * B * tokens / secs:.0f} images_per_s={a.steps * B / secs:.1f} "
          f"data_hash={h}")


if __name__ == "__main__":
    main()
