"""Attention analysis (attn/analysis.h) against PyTorch and NumPy in float64.

The maps the recorder takes from an encoder-decoder Transformer are compared with the weights
torch.nn.Transformer (same parameters, float64) computes in each of its MultiheadAttention
modules; entropy, attended distance, alignment accuracy and rollout are recomputed with NumPy
in float64 from the recorded maps. Ends with "N passed, N failed".
"""
import sys

import numpy as np
import torch
import torch.nn as tnn

from attn.analysis import (AttentionRecord, alignment, distance, entropy, rollout,
                           rollout_scores)
from attn.models import GPT, Seq2SeqTransformer

torch.set_num_threads(1)
rng = np.random.default_rng(18)
results = []  # one bool per check


def report(name, ok, detail):
    results.append(bool(ok))
    print(("ok   " if ok else "FAIL ") + f"{name}: {detail}", flush=True)


# ---- NumPy references (float64) -----------------------------------------------------------------

def ref_rows(w):
    """Rows renormalised, and which rows attend anywhere."""
    w = np.asarray(w, np.float64)
    s = w.sum(-1, keepdims=True)
    return np.where(s > 0, w / np.where(s > 0, s, 1), 0), s[..., 0] > 0


def ref_entropy(w):
    p, _ = ref_rows(w)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = -np.where(p > 0, p * np.log(p), 0).sum(-1)
    return e.mean(-1)


def ref_distance(w):
    p, _ = ref_rows(w)
    L, S = p.shape[-2:]
    d = np.abs(np.arange(L)[:, None] - np.arange(S)[None, :])
    return (p * d).sum(-1).mean(-1)


def ref_alignment(w, spans):
    arg = np.asarray(w).argmax(-1)  # [H, L], the first maximum
    rows = [i for i, (lo, hi) in enumerate(spans) if lo < hi]
    hits = np.array([[spans[i][0] <= arg[h, i] < spans[i][1] for i in rows] for h in range(len(w))])
    return hits.mean(-1) if rows else np.full(len(w), np.nan), len(rows)


def ref_rollout(layers):
    n = layers[0].shape[-1]
    r = np.eye(n)
    for a in layers:
        a = np.asarray(a, np.float64).mean(0) + np.eye(n)
        r = (a / a.sum(-1, keepdims=True)) @ r
    return r


# ---- the maps of an encoder-decoder Transformer vs torch.nn.Transformer ---------------------------

def torch_maps(ours, src, tgt):
    """Per-head weights of every MultiheadAttention of torch.nn.Transformer with our parameters."""
    c = ours.config
    tr = tnn.Transformer(c.d_model, c.nhead, c.num_encoder_layers, c.num_decoder_layers,
                         c.dim_feedforward, dropout=0.0, batch_first=True).double()
    sd = ours.state_dict()
    with torch.no_grad():
        for k, p in tr.named_parameters():
            p.copy_(torch.tensor(sd[k], dtype=torch.float64))
    maps = {}
    for name, mod in tr.named_modules():
        if isinstance(mod, tnn.MultiheadAttention):
            def hooked(*a, _orig=mod.forward, _name=name, **k):
                k.update(need_weights=True, average_attn_weights=False)
                out, w = _orig(*a, **k)
                maps[_name] = w.detach().numpy()
                return out, w
            mod.forward = hooked
    emb_s, emb_t = (torch.tensor(sd[k], dtype=torch.float64) for k in ("src_embed.weight", "tgt_embed.weight"))
    S, T, d = src.shape[1], tgt.shape[1], c.d_model
    pos = np.arange(max(S, T))[:, None] / np.power(10000.0, np.arange(0, d, 2)[None, :] / d)
    pe = torch.tensor(np.stack([np.sin(pos), np.cos(pos)], -1).reshape(len(pos), d))
    pad = torch.tensor(src == c.pad_id)
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    tr(emb_s[torch.tensor(src, dtype=torch.long)] + pe[:S], emb_t[torch.tensor(tgt, dtype=torch.long)] + pe[:T],
       tgt_mask=causal, src_key_padding_mask=pad, memory_key_padding_mask=pad)
    return maps


ours = Seq2SeqTransformer(13, 11, d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                          dim_feedforward=24, max_len=16, pad_id=0, seed=5, num_threads=1).eval()
src = np.array([[3, 4, 5, 6, 7, 8], [9, 10, 11, 0, 0, 0]], np.int32)
tgt = np.array([[1, 2, 3, 4, 5], [1, 6, 7, 8, 0]], np.int32)
rec = AttentionRecord(ours.tape)
rec.watch(ours)
ours.forward(src, tgt)
rec.stop()
maps = rec.maps()
names = [m["name"] for m in maps]
want = ["encoder.layers.0.self_attn", "encoder.layers.1.self_attn", "decoder.layers.0.self_attn",
        "decoder.layers.0.multihead_attn", "decoder.layers.1.self_attn",
        "decoder.layers.1.multihead_attn"]
report("seq2seq: one map per attention module, in the order they run, named", names == want,
       f"{names}")
ours.forward(src, tgt)
report("a stopped record takes no more maps", len(rec.maps()) == 6, f"{len(rec.maps())} maps")
ref = torch_maps(ours, src, tgt)
errs = {m["name"]: float(np.abs(m["weights"] - ref[m["name"]]).max()) for m in maps}
shapes = {m["name"]: m["weights"].shape for m in maps}
report("recorded maps = torch.nn.Transformer's per-head weights (float64)",
       max(errs.values()) < 1e-5 and shapes["decoder.layers.1.multihead_attn"] == (2, 4, 5, 6),
       f"max abs err {max(errs.values()):.1e} over {len(errs)} modules")
kinds = [(m["kind"], m["layer"]) for m in maps]
report("kinds and layers", kinds == [("encoder-self", 0), ("encoder-self", 1), ("decoder-self", 0),
                                     ("cross", 0), ("decoder-self", 1), ("cross", 1)], f"{kinds}")

# ---- measures vs NumPy on the recorded maps (every map, both batch rows) -------------------------
e_err = d_err = 0.0
for m in maps:
    for n in range(2):
        w = m["weights"][n]
        e_err = max(e_err, float(np.abs(entropy(w) - ref_entropy(w)).max()))
        if m["kind"] != "cross":
            d_err = max(d_err, float(np.abs(distance(w) - ref_distance(w)).max()))
report("entropy = NumPy float64", e_err < 1e-12, f"max abs err {e_err:.1e}")
report("attended distance = NumPy float64", d_err < 1e-12, f"max abs err {d_err:.1e}")
# random maps with zero rows, exact ties and unnormalised rows
w = rng.random((3, 7, 9)).astype(np.float32)
w[0, 2] = 0
w[1, :, 4] = w[1].max() + 1  # every row of head 1 tied at keys 4 and 5
w[1, :, 5] = w[1, :, 4]
err = max(float(np.abs(entropy(w) - ref_entropy(w)).max()), float(np.abs(distance(w) - ref_distance(w)).max()))
report("entropy and distance on random unnormalised maps with an empty row", err < 1e-12,
       f"max abs err {err:.1e}")
spans = [(0, 0)] + [tuple(sorted(rng.integers(0, 10, 2))) for _ in range(6)]
acc, n = alignment(w, spans)
racc, rn = ref_alignment(w, spans)
report("alignment accuracy = NumPy argmax (first maximum on ties)",
       n == rn and np.allclose(acc, racc, rtol=0, atol=1e-15), f"{acc} vs {racc} over {n} rows")
cross = maps[3]["weights"][0]
diag = [(min(i, 5), min(i, 5) + 1) for i in range(5)]
acc, n = alignment(cross, diag)
racc, rn = ref_alignment(cross, diag)
report("alignment of a recorded cross-attention map", n == 5 and np.array_equal(acc, racc), f"{acc}")
acc, n = alignment(cross, [(0, 0)] * 5)
report("alignment with no aligned row is NaN", n == 0 and np.isnan(acc).all(), f"{acc}")

# ---- rollout vs NumPy ---------------------------------------------------------------------------
for n in range(2):
    layers = [maps[0]["weights"][n], maps[1]["weights"][n]]
    r = rollout(layers)
    err = float(np.abs(r - ref_rollout(layers)).max())
    s_mean, s0 = rollout_scores(r), rollout_scores(r, 0)
    ok = err < 1e-12 and np.allclose(r.sum(1), 1, atol=1e-12) and \
        np.allclose(s_mean, r.mean(0), rtol=0, atol=1e-15) and np.array_equal(s0, r[0])
    report(f"rollout of the encoder, batch row {n}", ok,
           f"max abs err {err:.1e}, scores sum {s_mean.sum():.12f}")
layers = [rng.random((4, 8, 8)).astype(np.float32) for _ in range(3)]
err = float(np.abs(rollout(layers) - ref_rollout(layers)).max())
report("rollout of 3 random layers x 4 heads", err < 1e-12, f"max abs err {err:.1e}")

# ---- GPT: causal maps named h.<i>.self_attn; errors reach Python ---------------------------------
gpt = GPT(10, 8, n_layer=2, n_head=2, d_model=16, seed=3, num_threads=1).eval()
rec = AttentionRecord(gpt.tape)
rec.watch(gpt)
gpt.forward(np.array([[1, 2, 3, 4, 5]], np.int32))
gm = rec.maps()
upper = max(float(np.triu(m["weights"][0, h], 1).max()) for m in gm for h in range(2))
rows = max(float(np.abs(m["weights"].sum(-1) - 1).max()) for m in gm)
report("gpt maps: causal, rows sum to 1, named", [m["name"] for m in gm] == ["h.0.self_attn", "h.1.self_attn"]
       and upper == 0 and rows < 1e-6, f"above the diagonal {upper}, row sums off by {rows:.1e}")
errors = []
for call in (lambda: entropy(-np.ones((1, 2, 2))), lambda: rollout_scores(np.eye(3), 3),
             lambda: rec.add(np.full((1, 1, 2, 2), np.nan), "x", "cross", 0),
             lambda: alignment(np.ones((1, 2, 2)), [(0, 3), (0, 1)])):
    try:
        call()
        errors.append("accepted")
    except ValueError as e:
        errors.append(str(e).split(":")[0])
report("bad arguments raise ValueError with the library's status",
       errors == ["ATTN_E_ARG"] * 4, f"{errors}")
rec.add(np.full((1, 1, 2, 3), 0.5), "gru.decoder", "cross", 0)
report("maps added by hand", rec.maps()[-1]["name"] == "gru.decoder" and rec.maps()[-1]["weights"].shape == (1, 1, 2, 3),
       f"{len(rec.maps())} maps")

print(f"{sum(results)} passed, {len(results) - sum(results)} failed")
sys.exit(0 if all(results) else 1)
