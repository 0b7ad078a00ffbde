#!/usr/bin/python3
"""The IMDb classifier of `attn train classify` in PyTorch, on the same tokens, for the same steps.

    attn train classify --data DATA --out DIR --export-tokens tokens.safetensors [--config F]
    /usr/bin/python3 bench/torch_imdb.py tokens.safetensors [--threads 2] [--steps N]

tokens.safetensors (written by attn) holds the token ids of the training, validation and test
reviews after attn's tokenizer and head+tail truncation (F32 tensors <set>.ids [n, max_len]
padded with pad_id, <set>.labels [n]) and the run's configuration in its metadata. The model is
the same architecture with the same parameter names (embed, pos, layers.<i> =
torch.nn.TransformerEncoderLayer(batch_first, norm_first, gelu), norm, head), masked mean
pooling, AdamW (β2 0.98, no decay on biases, norms and positions), warm-up + cosine, label
smoothing, gradient clipping; batches are cut the same way (shuffled, sorted by length within
chunks of 50 batches, batches shuffled) though not from the same random stream. Prints wall
time, tokens/s (real tokens, padding excluded) and test accuracy, and a `result:` line.
"""
import argparse
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", name
        lo, hi = e["data_offsets"]
        out[name] = np.frombuffer(data[lo:hi], dtype="<f4").reshape(e["shape"])
    return out, meta


class Classifier(nn.Module):
    def __init__(self, vocab, d, nhead, layers, ff, max_len, dropout, pad_id, classes=2):
        super().__init__()
        self.pad_id = pad_id
        self.embed = nn.Embedding(vocab, d, padding_idx=pad_id)
        self.pos = nn.Embedding(max_len, d)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d, nhead, ff, dropout, activation="gelu", batch_first=True,
                                       norm_first=True) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(d, classes)
        with torch.no_grad():
            self.embed.weight.normal_(0, 0.02)
            self.embed.weight[pad_id].zero_()
            self.pos.weight.normal_(0, 0.02)

    def forward(self, ids):
        N, T = ids.shape
        pad = ids == self.pad_id
        pos = torch.arange(T, device=ids.device).expand(N, T)
        x = self.drop(self.embed(ids) + self.pos(pos))
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        x = self.norm(x)
        w = (~pad).to(x.dtype)
        x = (x * w.unsqueeze(-1)).sum(1) / w.sum(1, keepdim=True).clamp(min=1)
        return self.head(self.drop(x))


def lengths(ids, pad_id):
    return (ids != pad_id).sum(1)


def epoch_batches(lens, bs, rng):
    n = len(lens)
    order = rng.permutation(n)
    chunk = bs * 50
    for c in range(0, n, chunk):
        part = order[c:c + chunk]
        order[c:c + chunk] = part[np.argsort(lens[part], kind="stable")]
    batches = [order[i:i + bs] for i in range(0, n, bs)]
    return [batches[i] for i in rng.permutation(len(batches))]


def predict(model, ids, lens, pad_id, bs=64):
    model.eval()
    order = np.argsort(lens, kind="stable")
    out = np.zeros(len(ids), dtype=np.int64)
    with torch.no_grad():
        for i in range(0, len(ids), bs):
            idx = order[i:i + bs]
            T = max(1, int(lens[idx].max()))
            z = model(torch.from_numpy(ids[idx, :T]))
            out[idx] = z.argmax(1).numpy()
    model.train()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tokens")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: the run's)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t, meta = read_safetensors(a.tokens)
    g = lambda k: int(meta[k])
    f = lambda k: float(meta[k])
    pad = g("pad_id")
    tr_ids = t["train.ids"].astype(np.int64)
    tr_y = t["train.labels"].astype(np.int64)
    tr_len = lengths(tr_ids, pad)
    model = Classifier(g("vocab"), g("d_model"), g("nhead"), g("num_layers"), g("dim_feedforward"),
                       g("max_len"), f("dropout"), pad)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim == 1 or name == "pos.weight" else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": f("weight_decay")},
                             {"params": no_decay, "weight_decay": 0.0}], lr=f("lr"), betas=(0.9, 0.98))
    bs = g("batch_size")
    per_epoch = (len(tr_ids) + bs - 1) // bs
    total = per_epoch * g("epochs")
    if g("max_steps"):
        total = min(total, g("max_steps"))
    if a.steps:
        total = min(total, a.steps)
    warm = int(f("warmup_fraction") * total)

    def lr_at(s):
        if s < warm:
            return s / warm
        return 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm)))

    loss_fn = nn.CrossEntropyLoss(label_smoothing=f("label_smoothing"))
    rng = np.random.default_rng(a.seed)
    params = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, {a.threads} threads; {params} parameters; {total} steps of {bs}")
    step, tokens, t0 = 0, 0, time.perf_counter()
    while step < total:
        for idx in epoch_batches(tr_len, bs, rng):
            if step >= total:
                break
            T = max(1, int(tr_len[idx].max()))
            for group in opt.param_groups:
                group["lr"] = f("lr") * lr_at(step)
            z = model(torch.from_numpy(tr_ids[idx, :T]))
            loss = loss_fn(z, torch.from_numpy(tr_y[idx]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), f("clip"))
            opt.step()
            step += 1
            tokens += int(tr_len[idx].sum())
            if step % 50 == 0 or step == total:
                el = time.perf_counter() - t0
                print(f"step {step}/{total} loss {loss.item():.4f} tokens/s {tokens / el:.0f} "
                      f"elapsed {el:.0f}s", flush=True)
    train_s = time.perf_counter() - t0
    res = {}
    for name in ("val", "test"):
        if f"{name}.ids" in t:
            ids = t[f"{name}.ids"].astype(np.int64)
            y = t[f"{name}.labels"].astype(np.int64)
            res[name] = float((predict(model, ids, lengths(ids, pad), pad) == y).mean())
            print(f"{name} accuracy {res[name]:.4f} ({len(y)} reviews)")
    acc = res.get("test", res.get("val", float("nan")))
    print(f"result: task=imdb impl=torch accuracy={acc:.4f} steps={total} train_seconds={train_s:.1f} "
          f"tokens_per_s={tokens / train_s:.0f}")


if __name__ == "__main__":
    sys.exit(main())
