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
    # keys projected by the caller (w_k None): same output; dk is the gradient w.r.t. k·W_kᵀ
    kp = np.ascontiguousarray(k) @ w_k.T
    out3, w3, c3 = A.additive_attention(q, kp, vals, w_q, None, v, return_context=True)
    report("additive preprojected out", out3, out2, atol=1e-5)
    dout = rand(*out3.shape)
    g3 = A.additive_attention_backward(c3, dout)
    _, _, c2 = A.additive_attention(q, k, vals, w_q, w_k, v, return_context=True)
    g2 = A.additive_attention_backward(c2, dout)
    report("additive preprojected dk", g3["dk"] @ w_k, g2["dk"], rtol=1e-5)
    report("additive preprojected dq", g3["dq"], g2["dq"], rtol=1e-5)
    expect_error("additive bad-shape", lambda: A.additive_attention(q, k, vals[:, :4], w_q, w_k, v))
    expect_error("additive bad-mask", lambda: A.additive_attention(
        q, k, vals, w_q, w_k, v, mask=np.ones((2, 3, 5), bool)))


# ---------------------------------------------------------------- positional encodings
def test_posenc():
    for L, d, off in [(7, 8, 0), (5, 7, 3), (1, 1, 0), (50, 33, 1000)]:
        pos = torch.arange(off, off + L)[:, None].double()
        i2 = torch.arange(0, d, 2).double()
        ang = pos / torch.pow(10000.0, i2 / d)
        ref = torch.zeros(L, d)
        ref[:, 0::2] = torch.sin(ang)
        ref[:, 1::2] = torch.cos(ang)[:, : d // 2]
        report(f"sinusoidal L={L} d={d} off={off}", A.sinusoidal(L, d, off), ref.numpy(), atol=2e-6)
    # learned absolute embedding
    x, table = rand(3, 4, 5), rand(10, 5)
    tx, tt = (torch.tensor(a.astype(np.float64), requires_grad=True) for a in (x, table))
    y = tx + tt[2:6][None]
    dy = rand(3, 4, 5)
    (y * torch.tensor(dy.astype(np.float64))).sum().backward()
    report("learned forward", A.learned_positions(x, table, 2), y.detach().numpy(), atol=1e-6)
    dx, dtab = A.learned_positions_backward(dy, table.shape, 2)
    report("learned dx", dx, tx.grad.numpy(), atol=1e-6)
    report("learned dtable", dtab, tt.grad.numpy(), atol=1e-5)
    expect_error("learned past-table", lambda: A.learned_positions(x, table, 7))
    # RoPE, both pairings, offsets, partial rotary, BLHE layout
    for pairing in ("half", "interleaved"):
        for (B, H, L, E, off, R, bo) in [(2, 3, 5, 8, 0, 0, None), (1, 2, 4, 6, 17, 0, None),
                                         (2, 1, 3, 10, 5, 4, [0, 9])]:
            x = rand(B, H, L, E)
            Rr = R or E
            pos = off + torch.arange(L)[None, :].double().expand(B, L)
            if bo is not None:
                pos = pos + torch.tensor(bo)[:, None].double()
            inv = torch.pow(10000.0, -torch.arange(0, Rr, 2).double() / Rr)
            ang = pos[:, None, :, None] * inv  # [B, 1, L, R/2]
            tx = torch.tensor(x.astype(np.float64), requires_grad=True)
            if pairing == "half":
                a, b = tx[..., : Rr // 2], tx[..., Rr // 2: Rr]
            else:
                a, b = tx[..., 0:Rr:2], tx[..., 1:Rr:2]
            ra = a * torch.cos(ang) - b * torch.sin(ang)
            rb = a * torch.sin(ang) + b * torch.cos(ang)
            if pairing == "half":
                rot = torch.cat([ra, rb], -1)
            else:
                rot = torch.stack([ra, rb], -1).flatten(-2)
            y = torch.cat([rot, tx[..., Rr:]], -1)
            dy = rand(B, H, L, E)
            (y * torch.tensor(dy.astype(np.float64))).sum().backward()
            label = f"rope {pairing} B={B} H={H} L={L} E={E} off={off} R={Rr} bo={bo}"
            got = A.rope(x, pairing, offset=off, batch_offsets=bo, rotary_dim=R)
            report(label + " fwd", got, y.detach().numpy(), atol=1e-5)
            report(label + " grad", A.rope(dy, pairing, offset=off, batch_offsets=bo, rotary_dim=R,
                                           backward=True), tx.grad.numpy(), atol=1e-5)
    # [B, L, H, E] memory seen as [B, H, L, E]
    xb = rand(2, 5, 3, 8)
    got = A.rope(xb.transpose(0, 2, 1, 3), "half", offset=4)
    want = A.rope(np.ascontiguousarray(xb.transpose(0, 2, 1, 3)), "half", offset=4)
    report("rope blhe-view fwd", got, want, atol=0)
    expect_error("rope odd-rotary", lambda: A.rope(rand(1, 1, 2, 6), rotary_dim=3))
    # ALiBi slopes vs Press et al.
    import math

    def slopes(n):
        def p2(n):
            start = 2 ** (-2 ** -(math.log2(n) - 3))
            return [start * start ** i for i in range(n)]
        if math.log2(n).is_integer():
            return p2(n)
        c = 2 ** math.floor(math.log2(n))
        return p2(c) + slopes(2 * c)[0::2][: n - c]
    for H in (1, 2, 6, 8, 12, 16, 20):
        report(f"alibi H={H}", A.alibi_slopes(H), np.array(slopes(H)), atol=1e-7)


# ---------------------------------------------------------------- GRU vs torch.nn.GRU
def check_gru(label, In, H, layers, bidir, batch_first, L, B, lengths=None, use_h0=True,
              bias=True):
    tg = torch.nn.GRU(In, H, num_layers=layers, bidirectional=bidir, batch_first=batch_first,
                      bias=bias).double()
    g = A.GRU(In, H, layers, bias=bias, batch_first=batch_first, bidirectional=bidir)
    sd = {k: v.detach().numpy() for k, v in tg.state_dict().items()}
    if [n for n, _, _ in g.table] != list(sd.keys()):
        print(f"FAIL gru {label} names: {[n for n, _, _ in g.table]} vs {list(sd.keys())}")
        results["fail"] += 1
        return
    g.load_state_dict(sd)
    # the C side holds float32 weights: give torch exactly those values
    with torch.no_grad():
        for k, v in tg.state_dict().items():
            v.copy_(torch.tensor(sd[k].astype(np.float32).astype(np.float64)))
    D = 2 if bidir else 1
    x = rand(*((B, L, In) if batch_first else (L, B, In)))
    h0 = rand(layers * D, B, H) if use_h0 else None
    y, h_n = g.forward(x, h0, lengths)
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    th0 = torch.tensor(h0.astype(np.float64), requires_grad=True) if use_h0 else None
    if lengths is not None:
        packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths),
                                                         batch_first=batch_first,
                                                         enforce_sorted=False)
        tyo, th_n = tg(packed, th0)
        ty, _ = torch.nn.utils.rnn.pad_packed_sequence(tyo, batch_first=batch_first,
                                                       total_length=L)
    else:
        ty, th_n = tg(tx, th0)
    dy, dh_n = rand(*y.shape), rand(*h_n.shape)
    # dy is nonzero at padding too: both sides must ignore it there
    ((ty * torch.tensor(dy.astype(np.float64))).sum() +
     (th_n * torch.tensor(dh_n.astype(np.float64))).sum()).backward()
    dx, dh0, dp = g.backward(dy, dh_n)
    report(f"gru {label} y", y, ty.detach().numpy(), atol=1e-5)
    report(f"gru {label} h_n", h_n, th_n.detach().numpy(), atol=1e-5)
    report(f"gru {label} dx", dx, tx.grad.numpy(), rtol=1e-4)
    if use_h0:
        report(f"gru {label} dh0", dh0, th0.grad.numpy(), rtol=1e-4)
    grads = g.unflatten(dp)
    for name, p in tg.named_parameters():
        report(f"gru {label} d{name}", grads[name], p.grad.numpy(), rtol=1e-4)


def test_gru():
    check_gru("1layer", 4, 5, 1, False, False, 6, 3)
    check_gru("2layer-bidir", 3, 4, 2, True, False, 5, 2)
    check_gru("bidir-batchfirst-noh0", 5, 3, 1, True, True, 4, 3, use_h0=False)
    check_gru("3layer-bidir-varlen", 3, 4, 3, True, False, 7, 4, lengths=[7, 3, 5, 1])
    check_gru("2layer-varlen-batchfirst", 6, 5, 2, False, True, 5, 3, lengths=[2, 5, 4])
    check_gru("nobias-bidir", 3, 3, 1, True, False, 4, 2, bias=False)
    # the one-shot helper from a state_dict, at the package level
    tg = torch.nn.GRU(4, 3, num_layers=2, bidirectional=True)
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in tg.state_dict().items()}
    with torch.no_grad():
        for k, v in tg.state_dict().items():
            v.copy_(torch.tensor(sd[k].astype(np.float64)))
    x = rand(5, 2, 4)
    y, h_n = attn.gru(x, sd)
    ty, th = tg(torch.tensor(x.astype(np.float64)))
    report("gru attn.gru(state_dict) y", y, ty.detach().numpy(), atol=1e-5)
    report("gru attn.gru(state_dict) h_n", h_n, th.detach().numpy(), atol=1e-5)
    # a sequence of length 0: y zero, h_n = h0, gradients pass straight from dh_n to dh0
    g = A.GRU(3, 4, 2, bidirectional=True)
    g.params[:] = rand(g.params.size)
    x, h0 = rand(5, 2, 3), rand(4, 2, 4)
    y, h_n = g.forward(x, h0, lengths=[0, 5])
    dh_n = rand(4, 2, 4)
    dx, dh0, _ = g.backward(rand(*y.shape), dh_n)
    report("gru zero-length y", y[:, 0], np.zeros_like(y[:, 0]), atol=0)
    report("gru zero-length h_n", h_n[:, 0], h0[:, 0], atol=0)
    report("gru zero-length dh0", dh0[:, 0], dh_n[:, 0], atol=0)
    report("gru zero-length dx", dx[:, 0], np.zeros_like(dx[:, 0]), atol=0)
    g = A.GRU(3, 4)
    expect_error("gru bad-input-width", lambda: g.forward(rand(5, 2, 4)))
    expect_error("gru bad-length", lambda: g.forward(rand(5, 2, 3), lengths=[6, 1]))


# ---------------------------------------------------------------- Bahdanau decoder step
def test_bahdanau():
    B, Lk, H, De, Dm, Ad, Do = 3, 6, 5, 4, 3, 7, 6
    prm = {"attn_w_q": rand(Ad, H, scale=0.5), "attn_w_k": rand(Ad, De, scale=0.5),
           "attn_b": rand(Ad), "attn_v": rand(Ad), "weight_ih": rand(3 * H, Dm + De, scale=0.5),
           "weight_hh": rand(3 * H, H, scale=0.5), "bias_ih": rand(3 * H), "bias_hh": rand(3 * H),
           "w_out": rand(Do, H + De + Dm, scale=0.5), "b_out": rand(Do)}
    step = A.BahdanauStep(H, De, Dm, Ad, Do, prm)
    s_prev, enc, emb = rand(B, H), rand(B, Lk, De), rand(B, Dm)
    lens = [6, 2, 4]
    s, ctx, w, out = step.forward(s_prev, enc, emb, key_lengths=lens)
    dout, ds = rand(B, Do), rand(B, H)
    ds_prev, denc, demb, grads = step.backward(dout, ds)
    T = {n: torch.tensor(v.astype(np.float64), requires_grad=True) for n, v in prm.items()}
    ts, tenc, temb = (torch.tensor(a.astype(np.float64), requires_grad=True)
                      for a in (s_prev, enc, emb))
    allowed = torch.tensor(np.arange(Lk)[None, None, :] < np.array(lens)[:, None, None])
    tctx, tw = torch_additive(ts[:, None, :], tenc, tenc, T["attn_w_q"], T["attn_w_k"],
                              T["attn_v"], T["attn_b"], allowed)
    tctx, tw = tctx[:, 0], tw[:, 0]
    cell = torch.nn.GRUCell(Dm + De, H).double()
    with torch.no_grad():
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, n).copy_(T[n])
    # use the functional form so gradients reach T
    x = torch.cat([temb, tctx], 1)
    gi = x @ T["weight_ih"].T + T["bias_ih"]
    gh = ts @ T["weight_hh"].T + T["bias_hh"]
    r = torch.sigmoid(gi[:, :H] + gh[:, :H])
    z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    tsn = (1 - z) * n + z * ts
    report("bahdanau gru-cell-vs-torch.nn.GRUCell", tsn.detach().numpy(),
           cell(x, ts).detach().numpy(), atol=1e-12)
    tout = torch.cat([tsn, tctx, temb], 1) @ T["w_out"].T + T["b_out"]
    ((tout * torch.tensor(dout.astype(np.float64))).sum() +
     (tsn * torch.tensor(ds.astype(np.float64))).sum()).backward()
    report("bahdanau s", s, tsn.detach().numpy(), atol=1e-5)
    report("bahdanau ctx", ctx, tctx.detach().numpy(), atol=1e-5)
    report("bahdanau weights", w, tw.detach().numpy(), atol=1e-5)
    report("bahdanau out", out, tout.detach().numpy(), atol=1e-5)
    report("bahdanau ds_prev", ds_prev, ts.grad.numpy(), rtol=1e-4)
    report("bahdanau denc", denc, tenc.grad.numpy(), rtol=1e-4)
    report("bahdanau demb", demb, temb.grad.numpy(), rtol=1e-4)
    for name in A.BAHDANAU_FIELDS:
        report(f"bahdanau d{name}", grads[name], T[name].grad.numpy(), rtol=1e-4)


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
