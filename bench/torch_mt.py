#!/usr/bin/python3
"""torch_mt.py — the Transformer of `attn train translate` in PyTorch 1.13, side by side.

Same tokens (the run's own SentencePiece model, through `attn spm encode/decode`), same
configuration (d 256, 8 heads, 3+3 pre-norm layers, FF 1024, dropout 0.1, one embedding for
source and target (--tie: and the output projection),
sinusoidal positions added to the embedding scaled by √d (--no-scale-embedding: unscaled),
label smoothing 0.1, AdamW 0.9/0.98/1e-9, clip 1.0; learning rate: warm-up, then attn's
`schedule = budget` as it plays out in steps — 1 through the first epoch, then the share of
the steps still ahead, down to 0 at the last step (--schedule invsqrt: the inverse square
root); same batching (≤ batch_tokens of max(S, T+1) per batch, sorted by length with jitter,
shuffled), for the same number of steps; then greedy decoding of the
test set and BLEU with `attn bleu`. Prints wall time, tokens/s and BLEU.

  /usr/bin/python3 bench/torch_mt.py --run OUT --data DIR --steps N [--threads 2]
OUT is an `attn train translate` output directory (its spm.model and vocabulary size are used).
"""
import argparse, math, os, random, subprocess, sys, tempfile, time

import torch
import torch.nn as nn

ATTN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "attn")
PAD, BOS, EOS = 0, 2, 3


def encode(spm, path):
    out = subprocess.run([ATTN, "spm", "encode", "--model", spm], stdin=open(path, "rb"),
                         capture_output=True, check=True).stdout.decode()
    return [[int(x) for x in line.split()] for line in out.split("\n")[:-1]]


def decode(spm, ids):
    text = "\n".join(" ".join(map(str, s)) for s in ids) + "\n"
    out = subprocess.run([ATTN, "spm", "decode", "--model", spm], input=text.encode(),
                         capture_output=True, check=True).stdout.decode()
    return out.split("\n")[:-1]


def vocab_size(run):
    """Rows of embed.weight in the run's model.safetensors (its header is JSON)."""
    import json, struct
    with open(os.path.join(run, "model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))["embed.weight"]["shape"][0]


class Model(nn.Module):
    def __init__(self, V, d, h, ne, nd, ff, drop, max_len, tie, scale):
        super().__init__()
        self.scale = math.sqrt(d) if scale else 1.0
        self.embed = nn.Embedding(V, d, padding_idx=PAD)
        if scale:  # as attn_seq2seq with scale_embedding: N(0, 1/d), so that ·√d is N(0, 1)
            with torch.no_grad():
                nn.init.normal_(self.embed.weight, 0.0, d ** -0.5)
                self.embed.weight[PAD].zero_()
        self.tf = nn.Transformer(d, h, ne, nd, ff, drop, batch_first=True, norm_first=True)
        self.gen = nn.Linear(d, V)
        if tie:  # attn's tie_output = 1
            self.gen.weight = self.embed.weight
        self.drop = nn.Dropout(drop)
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
        pe = torch.zeros(max_len, d)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        self.register_buffer("pe", pe)

    def emb(self, x):
        return self.drop(self.embed(x) * self.scale + self.pe[: x.shape[1]])

    def forward(self, src, tin):
        pad = src == PAD
        causal = torch.triu(torch.full((tin.shape[1], tin.shape[1]), float("-inf")), 1)
        y = self.tf(self.emb(src), self.emb(tin), tgt_mask=causal, src_key_padding_mask=pad,
                    memory_key_padding_mask=pad)
        return self.gen(y)


def batches(pairs, batch_tokens, rng, jitter):
    keyed = sorted(range(len(pairs)), key=lambda i: max(len(pairs[i][0]), len(pairs[i][1]) + 1)
                   + (rng.random() * 2 if jitter else 0))
    out, cur, mS, mT = [], [], 0, 0
    for i in keyed:
        S, T = max(mS, len(pairs[i][0])), max(mT, len(pairs[i][1]) + 1)
        if cur and (len(cur) + 1) * max(S, T) > batch_tokens:
            out.append(cur)
            cur, S, T = [], len(pairs[i][0]), len(pairs[i][1]) + 1
        cur.append(i)
        mS, mT = S, T
    if cur:
        out.append(cur)
    return out


def tensors(pairs, idx):
    S = max(len(pairs[i][0]) for i in idx)
    T = max(len(pairs[i][1]) for i in idx) + 1
    src = torch.full((len(idx), S), PAD, dtype=torch.long)
    tin = torch.full((len(idx), T), PAD, dtype=torch.long)
    tout = torch.full((len(idx), T), PAD, dtype=torch.long)
    for r, i in enumerate(idx):
        s, t = pairs[i]
        src[r, : len(s)] = torch.tensor(s)
        tin[r, 0], tin[r, 1: len(t) + 1] = BOS, torch.tensor(t, dtype=torch.long)
        tout[r, : len(t)] = torch.tensor(t, dtype=torch.long)
        tout[r, len(t)] = EOS
    return src, tin, tout


@torch.no_grad()
def greedy(model, srcs, max_len):
    model.eval()
    hyps = [None] * len(srcs)
    order = sorted(range(len(srcs)), key=lambda i: len(srcs[i]))
    for b in range(0, len(order), 64):
        idx = order[b: b + 64]
        S = max(len(srcs[i]) for i in idx)
        src = torch.full((len(idx), S), PAD, dtype=torch.long)
        for r, i in enumerate(idx):
            src[r, : len(srcs[i])] = torch.tensor(srcs[i])
        L = min(max_len - 1, 2 * S + 10)
        ys = torch.full((len(idx), 1), BOS, dtype=torch.long)
        done = torch.zeros(len(idx), dtype=torch.bool)
        for _ in range(L):
            nxt = model(src, ys)[:, -1].argmax(-1)
            nxt[done] = PAD
            ys = torch.cat([ys, nxt[:, None]], 1)
            done |= nxt == EOS
            if done.all():
                break
        for r, i in enumerate(idx):
            out = []
            for v in ys[r, 1:].tolist():
                if v in (EOS, PAD):
                    break
                out.append(v)
            hyps[i] = out
    return hyps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-tokens", type=int, default=4096)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=400)
    ap.add_argument("--schedule", choices=("budget", "invsqrt"), default="budget")
    ap.add_argument("--no-scale-embedding", action="store_true")
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--test", default="test2016")
    ap.add_argument("--tie", action="store_true", help="output projection = embedding (tie_output = 1)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    spm = os.path.join(a.run, "spm.model")
    V = vocab_size(a.run)
    src, tgt = encode(spm, f"{a.data}/train.en"), encode(spm, f"{a.data}/train.de")
    pairs = [(s + [EOS], t) for s, t in zip(src, tgt)
             if 0 < len(s) and len(s) + 1 <= a.max_len and 0 < len(t) and len(t) + 1 <= a.max_len]
    model = Model(V, 256, 8, 3, 3, 1024, 0.1, a.max_len, a.tie, not a.no_scale_embedding)
    print(f"torch_mt: {sum(p.numel() for p in model.parameters())} parameters, vocabulary {V}, "
          f"{len(pairs)} pairs, {a.threads} threads", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.98), eps=1e-9, weight_decay=0)
    rng, step, tokens, epoch = random.Random(1), 0, 0, 0
    first_epoch = len(batches(pairs, a.batch_tokens, random.Random(1), True))

    def factor(s):  # the learning rate of step s + 1, as attn_schedule / lr_at
        s += 1
        w = s / a.warmup if s < a.warmup else 1.0
        if a.schedule == "invsqrt":
            return w if s < a.warmup else math.sqrt(a.warmup / s)
        if s <= first_epoch or a.steps <= first_epoch:
            return w
        return w * max(0.0, (a.steps - s) / a.steps)  # the share of the budget still ahead

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD, label_smoothing=0.1)
    t0 = time.time()
    while step < a.steps:
        bs = batches(pairs, a.batch_tokens, rng, True)
        rng.shuffle(bs)
        model.train()
        for idx in bs:
            s, ti, to = tensors(pairs, idx)
            loss = loss_fn(model(s, ti).reshape(-1, V), to.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            tokens += int((to != PAD).sum())
            if step % 50 == 0:
                print(f"step {step} loss {loss.item():.4f} tokens/s {tokens / (time.time() - t0):.0f}",
                      flush=True)
            if step >= a.steps:
                break
        epoch += 1
    train_s = time.time() - t0
    t1 = time.time()
    test_src = encode(spm, f"{a.data}/{a.test}.en")
    hyps = decode(spm, greedy(model, [s[: a.max_len - 1] + [EOS] for s in test_src], a.max_len))
    dec_s = time.time() - t1
    with tempfile.NamedTemporaryFile("w", suffix=".de", delete=False) as f:
        f.write("\n".join(hyps) + "\n")
    bleu = subprocess.run([ATTN, "bleu", f.name, f"{a.data}/{a.test}.de"], capture_output=True).stdout.decode()
    os.unlink(f.name)
    print(bleu.strip())
    score = bleu.split("=")[1].split()[0] if "=" in bleu else "nan"
    print(f"result: impl=torch steps={step} epochs={epoch} train_s={train_s:.1f} tokens_per_s={tokens / train_s:.0f} "
          f"decode_s={dec_s:.1f} bleu_greedy={score}")


if __name__ == "__main__":
    sys.exit(main())
