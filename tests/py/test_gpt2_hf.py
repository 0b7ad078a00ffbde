"""Hugging Face GPT-2 checkpoints into attn (attn_gpt_load_hf) against GPT-2 written in PyTorch.

Debian has no `transformers`, so GPT-2 is written here in float64 from its definition (Radford
et al. 2019 / Hugging Face's modeling_gpt2.py): Conv1D layers with weight [in, out], c_attn giving
q, k, v side by side, heads split from each, scores / sqrt(head_dim), causal mask, gelu_new
(tanh approximation), pre-LayerNorm blocks, ln_f, logits tied to wte. Random weights (rounded
to float32, the checkpoint's dtype, so both sides use the same values) are saved under
Hugging Face's names with a safetensors file written here byte by byte and a config.json.
attn's logits must be within 1e-5 of PyTorch's, relative to the largest logit, and a greedy
continuation of 20 tokens (the full forward re-run at each step in both) must be the same.
Variants: names with and without "transformer.", a tied lm_head and the causal-mask buffers
stored, exact GELU + a non-default layer_norm_epsilon + n_inner; a control that the comparison
tells gelu_new from exact GELU. Then the loader's refusals.
Ends with "N passed, N failed".
"""
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np
import torch

import attn
from attn.models import GPT

torch.manual_seed(0)
torch.set_num_threads(1)
passed = failed = 0


def report(name, ok, detail):
    global passed, failed
    passed += bool(ok)
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)


# ---- GPT-2 in PyTorch, float64 ------------------------------------------------------------

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_exact(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gpt2_forward(W, cfg, ids):
    """logits [N, T, V] for ids [N, T] (a LongTensor); W: HF names → float64 tensors."""
    d, H = cfg["n_embd"], cfg["n_head"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    act = gelu_exact if cfg.get("activation_function", "gelu_new") == "gelu" else gelu_new
    N, T = ids.shape
    x = W["wte.weight"][ids] + W["wpe.weight"][torch.arange(T)]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        a = layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = a @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]  # Conv1D: x·W + b
        q, k, v = qkv.split(d, dim=2)
        q, k, v = (t.view(N, T, H, d // H).transpose(1, 2) for t in (q, k, v))
        s = q @ k.transpose(-1, -2) / math.sqrt(d // H)
        s = s.masked_fill(~causal, float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(N, T, d)
        x = x + o @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        m = layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        m = act(m @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        x = x + m @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = layer_norm(x, W["ln_f.weight"], W["ln_f.bias"], eps)
    return x @ W["wte.weight"].T


def random_weights(cfg, gen):
    d, V, P, L = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], cfg["n_layer"]
    ff = cfg.get("n_inner") or 4 * d

    def r(*shape, std=0.1, mean=0.0):
        # rounded to float32: the values the checkpoint holds, so both sides see the same
        return (mean + std * torch.randn(*shape, generator=gen, dtype=torch.float64)).float().double()

    # projections into the residual stream larger than the embeddings, so that the greedy
    # continuation is not the input token repeated (tied logits favour it)
    W = {"wte.weight": r(V, d, std=0.1), "wpe.weight": r(P, d, std=0.5),
         "ln_f.weight": r(d, mean=1.0), "ln_f.bias": r(d)}
    for i in range(L):
        p = f"h.{i}."
        W.update({p + "ln_1.weight": r(d, mean=1.0), p + "ln_1.bias": r(d),
                  p + "attn.c_attn.weight": r(d, 3 * d, std=0.15), p + "attn.c_attn.bias": r(3 * d),
                  p + "attn.c_proj.weight": r(d, d, std=0.5), p + "attn.c_proj.bias": r(d),
                  p + "ln_2.weight": r(d, mean=1.0), p + "ln_2.bias": r(d),
                  p + "mlp.c_fc.weight": r(d, ff), p + "mlp.c_fc.bias": r(ff),
                  p + "mlp.c_proj.weight": r(ff, d, std=0.5), p + "mlp.c_proj.bias": r(d)})
    return W


# ---- a safetensors file, written from the format's definition ------------------------------

def write_safetensors(path, tensors, dtype="F32"):
    """8-byte little-endian header size, the JSON header, the tensors' bytes (C order)."""
    np_dtype = {"F32": "<f4", "F64": "<f8", "F16": "<f2"}[dtype]
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(np.asarray(tensors[name], dtype=np_dtype))
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def save_hf(directory, cfg, W, prefix="", extra=None, dtype="F32"):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    tensors = {prefix + k: v.numpy() for k, v in W.items()}
    tensors.update(extra or {})
    write_safetensors(os.path.join(directory, "model.safetensors"), tensors, dtype)


BASE = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 64, "n_head": 4,
        "n_layer": 2, "n_positions": 64, "n_ctx": 64, "vocab_size": 300, "n_inner": None,
        "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "resid_pdrop": 0.1,
        "embd_pdrop": 0.1, "attn_pdrop": 0.1, "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
        "bos_token_id": 0, "eos_token_id": 0, "tie_word_embeddings": True}


def conformance(tmp, label, cfg, prefix="", extra_fn=None, seed=1):
    gen = torch.Generator().manual_seed(seed)
    W = random_weights(cfg, gen)
    d = os.path.join(tmp, label.replace(" ", "_"))
    extra = extra_fn(W) if extra_fn else None
    save_hf(d, cfg, W, prefix, extra)
    model = GPT.load_hf(d)
    c = model.config
    report(f"{label}: config", c.vocab == cfg["vocab_size"] and c.n_layer == cfg["n_layer"] and
           c.d_ff == (cfg.get("n_inner") or 4 * cfg["n_embd"]) and
           c.gelu_tanh == (cfg.get("activation_function") != "gelu") and
           abs(c.layer_norm_eps - cfg["layer_norm_epsilon"]) < 1e-9 * max(1.0, cfg["layer_norm_epsilon"]) + 1e-12,
           f"vocab {c.vocab} context {c.context} layers {c.n_layer} heads {c.n_head} d {c.d_model} "
           f"d_ff {c.d_ff} eps {c.layer_norm_eps:g} gelu_tanh {c.gelu_tanh}")
    # logits for a batch of 3 full-context rows of random tokens
    ids = torch.randint(0, cfg["vocab_size"], (3, cfg["n_positions"]), generator=gen)
    want = gpt2_forward(W, cfg, ids).numpy()
    got = model(ids.numpy().astype(np.int32))
    scale = float(np.max(np.abs(want)))
    err = float(np.max(np.abs(got.astype(np.float64) - want)))
    report(f"{label}: logits [3, {cfg['n_positions']}, {cfg['vocab_size']}] vs torch float64",
           err <= 1e-5 * scale, f"max abs err {err:.3e}, max |logit| {scale:.3f}, relative {err / scale:.2e} (≤ 1e-5)")
    # greedy continuation: 20 tokens, full forward each step on both sides
    seq_t = [int(t) for t in torch.randint(0, cfg["vocab_size"], (8,), generator=gen)]
    seq_a = list(seq_t)
    margin = float("inf")
    for _ in range(20):
        lt = gpt2_forward(W, cfg, torch.tensor([seq_t]))[0, -1].numpy()
        top2 = np.sort(lt)[-2:]
        margin = min(margin, float(top2[1] - top2[0]))
        seq_t.append(int(np.argmax(lt)))
        la = model(np.array([seq_a], dtype=np.int32))[0, -1]
        seq_a.append(int(np.argmax(la)))
    distinct = len(set(seq_t[8:]))
    report(f"{label}: greedy continuation of 20 tokens", seq_t == seq_a and distinct >= 5,
           f"{'same' if seq_t == seq_a else 'differs'}: {seq_a[8:]} ({distinct} distinct tokens, "
           f"≥ 5 wanted; smallest top-2 logit gap {margin:.2e})")
    return d, W


def expect_error(label, directory, status, needle):
    try:
        GPT.load_hf(directory)
    except Exception as e:  # attn raises with the status name and attn_last_error()
        msg = str(e)
        ok = status in msg and needle in msg
        report(f"refused: {label}", ok, msg[:160])
        return
    report(f"refused: {label}", False, "loaded without error")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        d0, W = conformance(tmp, "gpt2 names", dict(BASE))
        conformance(tmp, "transformer. prefix, tied lm_head, mask buffers", dict(BASE), "transformer.",
                    lambda W: {"lm_head.weight": W["wte.weight"].numpy(),
                               **{f"transformer.h.{i}.attn.bias": np.tril(np.ones((1, 1, 64, 64)))
                                  for i in range(2)}}, seed=2)
        conformance(tmp, "exact gelu, eps 1e-3, n_inner 96, 3 layers",
                    dict(BASE, activation_function="gelu", layer_norm_epsilon=1e-3, n_inner=96,
                         n_layer=3, n_head=8), seed=3)

        # refusals, each on a copy of the first checkpoint with one thing wrong
        def variant(name, cfg=None, tensors=None, drop=None):
            d = os.path.join(tmp, "bad_" + name)
            c = dict(BASE, **(cfg or {}))
            Wv = {k: v for k, v in W.items() if k != drop}
            save_hf(d, c, Wv, extra=tensors)
            return d

        # the comparison can tell the activations apart: the same weights loaded as exact GELU
        # must miss torch's gelu_new logits by far more than the tolerance
        dg = variant("exact", {"activation_function": "gelu"})
        ids = torch.randint(0, 300, (1, 64), generator=torch.Generator().manual_seed(9))
        want = gpt2_forward(W, BASE, ids).numpy()
        got = GPT.load_hf(dg)(ids.numpy().astype(np.int32))
        rel = float(np.max(np.abs(got - want)) / np.max(np.abs(want)))
        report("control: exact GELU against gelu_new logits is caught", rel > 1e-4,
               f"relative error {rel:.2e} (> 1e-4)")
        expect_error("missing directory", os.path.join(tmp, "nope"), "ATTN_E_IO", "config.json")
        expect_error("a layer more in config.json", variant("layers", {"n_layer": 3}),
                     "ATTN_E_FORMAT", 'no tensor "h.2.ln_1.weight"')
        expect_error("wrong vocab_size", variant("vocab", {"vocab_size": 301}), "ATTN_E_FORMAT",
                     '"wte.weight"')
        expect_error("missing c_proj bias", variant("drop", drop="h.1.mlp.c_proj.bias"),
                     "ATTN_E_FORMAT", 'no tensor "h.1.mlp.c_proj.bias"')
        expect_error("unknown tensor", variant("extra", tensors={"h.0.crossattention.c_attn.weight":
                                                                  np.zeros((64, 192), np.float32)}),
                     "ATTN_E_FORMAT", "unexpected tensor")
        expect_error("untied lm_head", variant("untied", tensors={"lm_head.weight":
                                                                  np.ones((300, 64), np.float32)}),
                     "ATTN_E_UNSUPPORTED", "untied")
        expect_error("activation relu", variant("relu", {"activation_function": "relu"}),
                     "ATTN_E_UNSUPPORTED", "relu")
        expect_error("scale_attn_by_inverse_layer_idx", variant("inv", {"scale_attn_by_inverse_layer_idx": True}),
                     "ATTN_E_UNSUPPORTED", "scale_attn_by_inverse_layer_idx")
        expect_error("n_embd not a multiple of n_head", variant("heads", {"n_head": 5}),
                     "ATTN_E_FORMAT", "multiple")
        expect_error("huge n_embd", variant("huge", {"n_embd": 1 << 40}), "ATTN_E_FORMAT", "n_embd")
        expect_error("n_layer a string", variant("str", {"n_layer": "2"}), "ATTN_E_FORMAT", "n_layer")
        bad_json = variant("json")
        with open(os.path.join(bad_json, "config.json"), "w") as f:
            f.write('{"n_embd": 64,')
        expect_error("truncated config.json", bad_json, "ATTN_E_FORMAT", "invalid JSON")
        trunc = variant("trunc")
        p = os.path.join(trunc, "model.safetensors")
        with open(p, "r+b") as f:
            f.truncate(os.path.getsize(p) - 100)
        expect_error("truncated model.safetensors", trunc, "ATTN_E_FORMAT", "model.safetensors")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
