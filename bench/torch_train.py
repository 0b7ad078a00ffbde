"""The GPT-style model of `attn bench train`, trained in PyTorch for comparison.

Same configuration (vocabulary of the text's characters, context 256, 6 layers, 6 heads, width 384,
feed-forward 4x, pre-norm, GELU, tied output projection, no dropout), same batch, AdamW; prints
"result: tokens_per_s=..." from the median step time, leaving out the first step.
"""
import argparse
import time

import numpy as np
import torch
import torch.nn as nn


class GPT(nn.Module):
    def __init__(self, vocab, context=256, n_layer=6, n_head=6, d=384):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(context, d)
        layer = nn.TransformerEncoderLayer(d, n_head, 4 * d, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.h = nn.TransformerEncoder(layer, n_layer, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(d)
        nn.init.normal_(self.wte.weight, std=0.02)  # as attn_gpt (GPT-2's initialisation)
        nn.init.normal_(self.wpe.weight, std=0.02)

    def forward(self, x):
        T = x.shape[1]
        pos = torch.arange(T, device=x.device)
        h = self.wte(x) + self.wpe(pos)[None]
        mask = torch.triu(torch.full((T, T), float("-inf")), 1)
        h = self.h(h, mask=mask)
        return self.ln_f(h) @ self.wte.weight.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--data", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1337)
    T = 256
    if a.data:
        raw = open(a.data, "rb").read()
        chars = sorted(set(raw))
        lut = np.zeros(256, np.int64)
        for i, c in enumerate(chars):
            lut[c] = i
        text = torch.from_numpy(lut[np.frombuffer(raw, np.uint8)])
        vocab = len(chars)
    else:
        vocab = 65
        text = torch.randint(0, vocab, (100000,))
    model = GPT(vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    g = torch.Generator().manual_seed(7)
    times = []
    for s in range(a.steps):
        starts = torch.randint(0, len(text) - T - 1, (a.batch,), generator=g)
        x = torch.stack([text[i:i + T] for i in starts])
        y = torch.stack([text[i + 1:i + T + 1] for i in starts])
        t0 = time.perf_counter()
        logits = model(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
        print(f"torch step {s} loss {loss.item():.4f} ms {times[-1] * 1e3:.1f}")
    med = float(np.median(times[1:]))
    print(f"result: impl=torch tokens_per_s={a.batch * T / med:.0f} step_ms={med * 1e3:.1f} threads={a.threads}")


if __name__ == "__main__":
    main()
