"""Additive attention, positional encodings and the GRU against PyTorch in float64.

One line per check; ends with "N passed, N failed"; exit status 1 on any failure."""
import sys

import numpy as np
import torch

import attn
from attn import additive as A

torch.set_default_dtype(torch.float64)
results = {"pass": 0, "fail": 0}
worst = {}


def report(name, got, want, atol=None, rtol=None):
    """Compare arrays: OK if max abs ≤ atol, or max abs ≤ rtol·max|want| (relative to scale)."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        print(f"FAIL {name}: shape {got.shape} vs {want.shape}")
        results["fail"] += 1
        return
    err = float(np.max(np.abs(got - want))) if got.size else 0.0
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    rel = err / scale if scale > 0 else err
    ok = (atol is not None and err <= atol) or (rtol is not None and rel <= rtol)
    ok = ok and bool(np.all(np.isfinite(got)))
    kind = name.split()[0]
    worst[kind] = max(worst.get(kind, (0, 0)), (err, rel))
    print(f"{'OK  ' if ok else 'FAIL'} {name}: max abs {err:.2e} max rel {rel:.2e}")
    results["pass" if ok else "fail"] += 1


def expect_error(name, fn):
    try:
        fn()
    except ValueError as e:
        print(f"OK   {name}: raised ({str(e)[:70]})")
        results["pass"] += 1
        return
    print(f"FAIL {name}: no error")
    results["fail"] += 1


rng = np.random.default_rng(1234)


def rand(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# ---------------------------------------------------------------- additive attention
def torch_additive(q, k, values, w_q, w_k, v, b, allowed):
    pre = (q @ w_q.T)[:, :, None, :] + (k @ w_k.T)[:, None, :, :]
    if b is not None:
        pre = pre + b
    e = torch.tanh(pre) @ v  # [B, Lq, Lk]
    e = e.masked_fill(~allowed, float("-inf"))
    w = torch.softmax(e, dim=-1)
    w = torch.nan_to_num(w, nan=0.0)  # rows with nothing to attend: 0
    return w @ values, w


def check_additive(label, B, Lq, Lk, Dq, Dk, Dv, Adim, bias=True, mask_shape=None, lengths=None,
                   empty_row=False):
    q, k, vals = rand(B, Lq, Dq), rand(B, Lk, Dk), rand(B, Lk, Dv)
    w_q, w_k = rand(Adim, Dq, scale=0.5), rand(Adim, Dk, scale=0.5)
    v, b = rand(Adim), (rand(Adim) if bias else None)
    allowed = np.ones((B, Lq, Lk), bool)
    mask = None
    if mask_shape is not None:
        mask = rng.random(mask_shape) > 0.3
        if empty_row:
            mask[..., 0, :] = False
        allowed &= np.broadcast_to(mask, allowed.shape)
    if lengths is not None:
        lengths = np.asarray(lengths, np.int32)
        allowed &= (np.arange(Lk)[None, None, :] < np.clip(lengths, 0, Lk)[:, None, None])
    out, w, ctx = A.additive_attention(q, k, vals, w_q, w_k, v, b, mask=mask, key_lengths=lengths,
                                       return_context=True)
    dout = rand(B, Lq, Dv)
    g = A.additive_attention_backward(ctx, dout)
    T = {n: torch.tensor(x.astype(np.float64), requires_grad=True)
         for n, x in dict(q=q, k=k, values=vals, w_q=w_q, w_k=w_k, v=v,
                          b=b if bias else np.zeros(Adim, np.float32)).items()}
    to, tw = torch_additive(T["q"], T["k"], T["values"], T["w_q"], T["w_k"], T["v"], T["b"],
                            torch.tensor(allowed))
    (to * torch.tensor(dout.astype(np.float64))).sum().backward()
    report(f"additive {label} out", out, to.detach().numpy(), atol=1e-5)
    report(f"additive {label} weights", w, tw.detach().numpy(), atol=1e-5)
    for gname, tname in [("dq", "q"), ("dk", "k"), ("dvalues", "values"), ("dw_q", "w_q"),
                         ("dw_k", "w_k"), ("dv", "v"), ("db", "b")]:
        report(f"additive {label} {gname}", g[gname], T[tname].grad.numpy(), rtol=1e-4)


def test_additive():
    check_additive("plain", 2, 3, 5, 4, 6, 3, 7)
    check_additive("nobias", 1, 1, 17, 8, 8, 5, 16, bias=False)
    check_additive("mask-full", 2, 4, 6, 3, 5, 2, 4, mask_shape=(2, 4, 6))
    check_additive("mask-bcast", 3, 4, 6, 3, 5, 2, 4, mask_shape=(1, 1, 6))
    check_additive("mask-empty-row", 2, 3, 5, 3, 3, 2, 4, mask_shape=(2, 3, 5), empty_row=True)
    check_additive("lengths", 3, 4, 7, 5, 3, 4, 6, lengths=[7, 3, 0])
    check_additive("mask+lengths", 2, 5, 9, 4, 4, 3, 8, mask_shape=(2, 5, 9), lengths=[9, 4])
    # strided views: q as a transposed array, k as a slice
    qb = rand(4, 2, 3)
    q = qb.transpose(1, 0, 2)  # [2, 4, 3] non-contiguous
    kb = rand(2, 5, 8)
    k = kb[:, :, ::2]  # [2, 5, 4] with stride 2 along features
    vals, w_q, w_k, v = rand(2, 5, 3), rand(6, 3), rand(6, 4), rand(6)
    out, w = A.additive_attention(q, k, vals, w_q, w_k, v)
    out2, w2 = A.additive_attention(np.ascontiguousarray(q), np.ascontiguousarray(k), vals, w_q,
                                    w_k, v)
    report("additive strided-views out", out, out2, atol=1e-6)
    expect_error("additive bad-shape", lambda: A.additive_attention(q, k, vals[:, :4], w_q, w_k, v))
    expect_error("additive bad-mask", lambda: A.additive_attention(
        q, k, vals, w_q, w_k, v, mask=np.ones((2, 3, 5), bool)))


def main():
    torch.manual_seed(0)
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            fn()
    print("worst errors: " + ", ".join(f"{k} abs {a:.1e} rel {r:.1e}" for k, (a, r) in worst.items()))
    print(f"{results['pass']} passed, {results['fail']} failed")
    sys.exit(1 if results["fail"] else 0)


if __name__ == "__main__":
    main()
