"""attn.MultiheadAttention against torch.nn.MultiheadAttention in float64.

Weights are copied both ways (torch → attn and attn → torch); forward outputs and weights must
agree within 1e-5 (abs), gradients of inputs and parameters within 1e-4 (relative to the
largest reference value). One line per case; ends with "N passed, N failed".
"""
import ctypes
import itertools
import sys

import numpy as np
import torch

import attn

# these tests feed float64 arrays straight from the generator: opt in to the conversion
attn.set_dtype_conversion(True)

torch.manual_seed(0)
torch.set_num_threads(1)
rng = np.random.default_rng(1234)
passed = failed = 0
worst = {"fwd": 0.0, "grad": 0.0}


def report(name, ok, detail):
    global passed, failed
    passed += ok
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")


def rel(a, b):
    b = np.asarray(b, np.float64)
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / max(np.max(np.abs(b)), 1e-6))


def torch_mha(E, H, o):
    m = torch.nn.MultiheadAttention(E, H, dropout=o.get("dropout", 0.0), bias=o["bias"],
                                    add_bias_kv=o["bias_kv"], add_zero_attn=o["zero_attn"],
                                    kdim=o.get("kdim"), vdim=o.get("vdim"),
                                    batch_first=o["batch_first"]).double()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn_like(p) * 0.4)
    return m


def make_masks(o, N, H, L, S):
    """(key_padding_mask, attn_mask) as NumPy, and the attn_mask torch 1.13 should see."""
    kpm = am = None
    if o["kpm"] == "bool":
        kpm = np.zeros((N, S), bool)
        for n in range(N):
            kpm[n, S - rng.integers(0, S // 2 + 1):] = True
    elif o["kpm"] == "float":
        kpm = rng.standard_normal((N, S))
    shape = (L, S) if o["am_dim"] == 2 else (N * H, L, S)
    if o["am"] == "bool":
        am = rng.random(shape) < 0.3
        am[..., 0] = False  # every row keeps a key (torch gives NaN for an empty row)
    elif o["am"] == "float":
        am = rng.standard_normal(shape)
        am[rng.random(shape) < 0.1] = -np.inf
        am[..., 0] = 0.0
    torch_am = am
    if o.get("causal"):
        causal = np.triu(np.ones((L, S), bool), 1)
        torch_am = causal if am is None else (am | causal if am.dtype == bool else
                                              np.where(causal, -np.inf, am))
    return kpm, am, torch_am


def run_case(name, E, H, N, L, S, o, direction="torch->attn"):
    tm = torch_mha(E, H, o)
    m = attn.MultiheadAttention(E, H, bias=o["bias"], add_bias_kv=o["bias_kv"],
                                add_zero_attn=o["zero_attn"], kdim=o.get("kdim"), vdim=o.get("vdim"),
                                batch_first=o["batch_first"], dropout=o.get("dropout", 0.0), seed=7)
    if direction == "torch->attn":
        m.load_state_dict(tm.state_dict())
    else:
        with torch.no_grad():
            tm.load_state_dict({k: torch.tensor(v, dtype=torch.float64) for k, v in m.state_dict().items()})
    if o.get("eval"):
        tm.eval()
        m.eval()
    names_ok = list(tm.state_dict().keys()) == m.params.names()
    kd, vd = o.get("kdim") or E, o.get("vdim") or E
    bf = o["batch_first"]
    shp = (lambda l, d: (N, l, d)) if bf else (lambda l, d: (l, N, d))
    if o.get("unbatched"):
        shp = lambda l, d: (l, d)  # noqa: E731
    q = rng.standard_normal(shp(L, E))
    if o["self"]:
        k = v = q
    else:
        k, v = rng.standard_normal(shp(S, kd)), rng.standard_normal(shp(S, vd))
    kpm, am, torch_am = make_masks(o, N, H, L, S)
    if o.get("unbatched") and kpm is not None:
        kpm = kpm[0]
    tq = torch.tensor(q, requires_grad=True)
    tk, tv = (tq, tq) if o["self"] else (torch.tensor(k, requires_grad=True),
                                         torch.tensor(v, requires_grad=True))
    tkpm = None if kpm is None else torch.tensor(kpm)
    tam = None if torch_am is None else torch.tensor(torch_am)
    if o["kpm"] == "float" and tam is not None:
        # torch 1.13 cannot add a float key_padding_mask to an attn_mask (it fails for a float
        # one, ORs nonzero floats into a bool one); we add them, as torch >= 2.0: give it the sum
        if tam.dtype == torch.bool:
            tam = torch.zeros(tam.shape, dtype=torch.float64).masked_fill(tam, -np.inf)
        full = tam.reshape(-1, H, L, S) if tam.dim() == 3 else tam.expand(N, H, L, S)
        tam = (full + tkpm[:, None, None, :]).reshape(N * H, L, S)
        tkpm = None
    need_w, avg = o.get("need_weights", True), o.get("average", True)
    tout, tw = tm(tq, tk, tv, key_padding_mask=tkpm, need_weights=need_w, attn_mask=tam,
                  average_attn_weights=avg)
    out, w = m.forward(q, k, v, key_padding_mask=kpm, need_weights=need_w, attn_mask=am,
                       average_attn_weights=avg, is_causal=o.get("causal", False))
    ferr = float(np.max(np.abs(out - tout.detach().numpy())))
    werr = 0.0 if not need_w else float(np.max(np.abs(w - tw.detach().numpy())))
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.tensor(dout))
    g = m.backward(dout)
    gerr = {}
    gerr["query"] = rel(g["query"], tq.grad.numpy())
    if not o["self"]:
        gerr["key"] = rel(g["key"], tk.grad.numpy())
        gerr["value"] = rel(g["value"], tv.grad.numpy())
    for pname, p in tm.named_parameters():
        gerr[pname] = rel(g[pname], p.grad.numpy())
    gmax = max(gerr.values())
    worst["fwd"] = max(worst["fwd"], ferr, werr)
    worst["grad"] = max(worst["grad"], gmax)
    ok = names_ok and ferr <= 1e-5 and werr <= 1e-5 and gmax <= 1e-4
    report(name, ok, f"out {ferr:.1e} weights {werr:.1e} grads {gmax:.1e} "
           f"({max(gerr, key=gerr.get)}){'' if names_ok else ' NAMES DIFFER'}")


BASE = dict(bias=True, bias_kv=False, zero_attn=False, batch_first=False, self=True, kpm=None,
            am=None, am_dim=2)
cases = []
# every structural option, self and cross, both layouts
for bf, selfa, bias, bkv, za in itertools.product([False, True], [True, False], [True, False],
                                                  [False, True], [False, True]):
    o = dict(BASE, batch_first=bf, self=selfa, bias=bias, bias_kv=bkv, zero_attn=za)
    cases.append((f"bf={int(bf)} self={int(selfa)} bias={int(bias)} bias_kv={int(bkv)} zero_attn={int(za)}", o))
# masks of every kind, with and without the extra key rows
for kpm, am, amd, bkv, bf in itertools.product([None, "bool", "float"], [None, "bool", "float"], [2, 3],
                                               [False, True], [False, True]):
    if am is None and amd == 3:
        continue
    o = dict(BASE, kpm=kpm, am=am, am_dim=amd, bias_kv=bkv, zero_attn=bkv, batch_first=bf, self=not bf)
    cases.append((f"kpm={kpm} attn_mask={am}/{amd}d extra={int(bkv)} bf={int(bf)}", o))
# kdim/vdim (separate projection weights), causal, weights per head, no weights, unbatched
cases.append(("kdim=6 vdim=10 cross", dict(BASE, self=False, kdim=6, vdim=10)))
cases.append(("kdim=6 vdim=10 cross bf bias_kv zero_attn kpm", dict(BASE, self=False, kdim=6, vdim=10,
             batch_first=True, bias_kv=True, zero_attn=True, kpm="bool")))
for extra, am in itertools.product([False, True], [None, "bool", "float"]):
    cases.append((f"is_causal extra={int(extra)} attn_mask={am}",
                  dict(BASE, causal=True, bias_kv=extra, zero_attn=extra, am=am, kpm="bool")))
cases.append(("per-head weights", dict(BASE, average=False, am="float", am_dim=3)))
cases.append(("need_weights=False", dict(BASE, need_weights=False, kpm="bool")))
cases.append(("unbatched self", dict(BASE, unbatched=True)))
cases.append(("unbatched cross kpm", dict(BASE, unbatched=True, self=False, kpm="bool", bias_kv=True)))
cases.append(("eval with dropout=0.3 configured", dict(BASE, dropout=0.3, eval=True, kpm="bool")))

for name, o in cases:
    E, H = (16, 4) if "kdim" not in o else (12, 3)
    N = 1 if o.get("unbatched") else 3
    L, S = (5, 5) if o["self"] else (5, 7)
    run_case(name, E, H, N, L, S, o)
# without weights, so that ATTN_KERNEL_AUTO may pick the fused kernel (with lse from forward)
for name, o in cases:
    if o.get("need_weights", True):
        E, H = (16, 4) if "kdim" not in o else (12, 3)
        N = 1 if o.get("unbatched") else 3
        L, S = (5, 5) if o["self"] else (5, 7)
        run_case("no weights: " + name, E, H, N, L, S, dict(o, need_weights=False))
# the other direction: our initialisation loaded into torch
for name, o in cases[:4] + cases[-6:-3]:
    E, H = (16, 4) if "kdim" not in o else (12, 3)
    N = 1 if o.get("unbatched") else 3
    L, S = (5, 5) if o["self"] else (5, 7)
    run_case("attn->torch " + name, E, H, N, L, S, o, direction="attn->torch")


def dropout_case():
    """Training with dropout: torch's formula with our keep mask (Philox stream, seed 7, offset 0)."""
    E, H, N, L, S, p = 8, 2, 2, 4, 6, 0.25
    tm = torch_mha(E, H, dict(BASE, dropout=p))
    m = attn.MultiheadAttention(E, H, dropout=p, seed=7)
    m.load_state_dict(tm.state_dict())
    q, k, v = (rng.standard_normal((n, N, E)) for n in (L, S, S))
    keep_fn = attn.lib.attn_dropout_keep
    keep_fn.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_float]
    keep = np.array([keep_fn(7, 0, i, p) for i in range(N * H * L * S)], np.float64).reshape(N, H, L, S)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    W, b, hd = tm.in_proj_weight, tm.in_proj_bias, E // H

    def heads(x, i, n):
        return (x @ W[i * E:(i + 1) * E].T + b[i * E:(i + 1) * E]).reshape(n, N, H, hd).permute(1, 2, 0, 3)

    qp, kp, vp = heads(tq, 0, L), heads(tk, 1, S), heads(tv, 2, S)
    P = torch.softmax(qp @ kp.transpose(-1, -2) / np.sqrt(hd), -1) * torch.tensor(keep) / (1 - p)
    tout = (P @ vp).permute(2, 0, 1, 3).reshape(L, N, E) @ tm.out_proj.weight.T + tm.out_proj.bias
    out, _ = m.forward(q, k, v, need_weights=False)
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.tensor(dout))
    g = m.backward(dout)
    ferr = float(np.max(np.abs(out - tout.detach().numpy())))
    gmax = max(rel(g["query"], tq.grad.numpy()), rel(g["key"], tk.grad.numpy()),
               rel(g["value"], tv.grad.numpy()), rel(g["in_proj_weight"], W.grad.numpy()))
    dropped = 1 - keep.mean()
    # the weights returned are torch's: after dropout (P ⊙ keep / (1 − p)), head-averaged
    m2 = attn.MultiheadAttention(E, H, dropout=p, seed=7)
    m2.load_state_dict(tm.state_dict())
    _, w = m2.forward(q, k, v, need_weights=True)
    werr = float(np.max(np.abs(w - P.detach().numpy().mean(1))))
    report("dropout 0.25: returned weights are after dropout, as torch's", werr <= 1e-6,
           f"max error {werr:.1e}")
    report("dropout 0.25 (our keep mask in torch's formula)",
           ferr <= 1e-5 and gmax <= 1e-4 and 0.05 < dropped < 0.5,
           f"out {ferr:.1e} grads {gmax:.1e} dropped {dropped:.2f}")


dropout_case()


def errors_case():
    m = attn.MultiheadAttention(8, 2)
    bad = [lambda: m.forward(np.zeros((3, 2, 7)), np.zeros((3, 2, 7)), np.zeros((3, 2, 7))),
           lambda: m.forward(np.zeros((3, 2, 8)), np.zeros((4, 2, 8)), np.zeros((5, 2, 8))),
           lambda: attn.MultiheadAttention(10, 3)]
    n = 0
    for f in bad:
        try:
            f()
        except ValueError:
            n += 1
    report("bad shapes raise ValueError", n == len(bad), f"{n}/{len(bad)}")


errors_case()
print(f"max forward error {worst['fwd']:.2e}, max relative gradient error {worst['grad']:.2e}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
