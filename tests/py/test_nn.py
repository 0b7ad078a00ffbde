"""attn.nn layers, losses, optimisers, schedules and clipping against PyTorch in float64.

Weights are copied from torch; forward ≤ 1e-5 abs, gradients ≤ 1e-4 relative (to the largest
reference value), optimiser trajectories ≤ 1e-5 abs. Ends with "N passed, N failed".
"""
import copy
import itertools
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

import attn

# these tests feed float64 arrays straight from the generator: opt in to the conversion
attn.set_dtype_conversion(True)
from attn import nn

torch.manual_seed(0)
torch.set_num_threads(1)
rng = np.random.default_rng(99)
passed = failed = 0
worst = {"fwd": 0.0, "grad": 0.0}


def report(name, ok, detail):
    global passed, failed
    passed += bool(ok)
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")


def rel(a, b):
    b = np.asarray(b, np.float64)
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / max(np.max(np.abs(b)), 1e-6))


def randomize(tm, scale=0.3):
    with torch.no_grad():
        for p in tm.parameters():
            p.copy_(torch.randn_like(p) * scale)
    return tm


def compare_module(name, tm, am, inputs, torch_call, attn_call, grad_inputs):
    """Copy tm's weights into am, run both, compare outputs and all gradients."""
    am.load_state_dict(tm.state_dict())
    names_ok = list(tm.state_dict().keys()) == am.params.names()
    tin = {k: torch.tensor(v, requires_grad=k in grad_inputs) for k, v in inputs.items()}
    tout = torch_call(tm, tin)
    out = attn_call(am, inputs)
    ferr = float(np.max(np.abs(out - tout.detach().numpy())))
    dout = rng.standard_normal(out.shape)
    tout.backward(torch.tensor(dout))
    g = am.backward(dout)
    errs = {k: rel(g[k], tin[k].grad.numpy()) for k in grad_inputs}
    for pname, p in tm.named_parameters():
        errs[pname] = rel(g[pname], p.grad.numpy())
    gmax = max(errs.values()) if errs else 0.0
    worst["fwd"] = max(worst["fwd"], ferr)
    worst["grad"] = max(worst["grad"], gmax)
    ok = names_ok and ferr <= 1e-5 and gmax <= 1e-4
    report(name, ok, f"out {ferr:.1e} grads {gmax:.1e}"
           + (f" ({max(errs, key=errs.get)})" if errs else "") + ("" if names_ok else " NAMES DIFFER"))


# ---- layers -----------------------------------------------------------------------------------
for bias, shape in itertools.product([True, False], [(7, 5), (3, 4, 5)]):
    compare_module(f"Linear bias={bias} x{shape}", randomize(torch.nn.Linear(5, 6, bias=bias).double()),
                   nn.Linear(5, 6, bias=bias), {"input": rng.standard_normal(shape)},
                   lambda m, t: m(t["input"]), lambda m, i: m.forward(i["input"]), ["input"])

for pad in [None, 2]:
    tm = torch.nn.Embedding(9, 6, padding_idx=pad).double()
    ids = rng.integers(0, 9, (4, 5))
    ids[0, :3] = 2
    compare_module(f"Embedding padding_idx={pad}", tm, nn.Embedding(9, 6, padding_idx=pad),
                   {}, lambda m, t: m(torch.tensor(ids)), lambda m, i: m.forward(ids), [])
am = nn.Embedding(9, 6, padding_idx=2)
report("Embedding init: padding row zero", np.all(am.state_dict()["weight"][2] == 0), "")

for affine, eps in [(True, 1e-5), (False, 1e-5), (True, 1e-3)]:
    tm = torch.nn.LayerNorm(12, eps=eps, elementwise_affine=affine).double()
    if affine:
        with torch.no_grad():
            tm.weight.copy_(1 + 0.3 * torch.randn(12, dtype=torch.float64))
            tm.bias.copy_(0.3 * torch.randn(12, dtype=torch.float64))
    compare_module(f"LayerNorm affine={affine} eps={eps}", tm, nn.LayerNorm(12, eps, affine),
                   {"input": 2 * rng.standard_normal((3, 4, 12)) + 0.5},
                   lambda m, t: m(t["input"]), lambda m, i: m.forward(i["input"]), ["input"])

for opname, tf in [("relu", F.relu), ("tanh", torch.tanh), ("gelu", F.gelu), ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh")),
                   ("softmax", lambda x: F.softmax(x, -1))]:
    compare_module(f"op {opname}", torch.nn.Identity(), nn.Op(opname),
                   {"input": 2 * rng.standard_normal((5, 7))},
                   lambda m, t, tf=tf: tf(t["input"]), lambda m, i: m.forward(i["input"]), ["input"])

for dim, start, length in [(0, 1, 2), (1, 0, 4), (2, 3, 4), (1, 2, 1)]:
    compare_module(f"op narrow dim={dim} start={start} length={length}", torch.nn.Identity(),
                   nn.Op("narrow", args=(dim, start, length)),
                   {"input": rng.standard_normal((3, 5, 7))},
                   lambda m, t, a=(dim, start, length): torch.narrow(t["input"], *a),
                   lambda m, i: m.forward(i["input"]), ["input"])

# cat / expand / mean: the class token and the pooling of a Vision Transformer
for dim, sizes in [(1, (1, 4)), (0, (2, 3, 1)), (2, (5, 2))]:
    shapes = [tuple(k if d == dim else s for d, s in enumerate((3, 4, 6))) for k in sizes]
    arrs = [rng.standard_normal(sh) for sh in shapes]
    names = [f"input{i}" for i in range(len(arrs))]
    compare_module(f"op cat dim={dim} sizes={sizes}", torch.nn.Identity(), nn.Op("cat", args=(dim,)),
                   dict(zip(names, arrs)),
                   lambda m, t, dim=dim, names=names: torch.cat([t[k] for k in names], dim),
                   lambda m, i, names=names: m.forward([i[k] for k in names]), names)
for src, dst in [((1, 1, 6), (5, 1, 6)), ((4, 1), (3, 4, 7)), ((6,), (2, 3, 6)), ((2, 1, 3), (2, 4, 3))]:
    compare_module(f"op expand {src} -> {dst}", torch.nn.Identity(), nn.Op("expand", args=dst),
                   {"input": rng.standard_normal(src)},
                   lambda m, t, dst=dst: t["input"].expand(*dst),
                   lambda m, i: m.forward(i["input"]), ["input"])
for dim in (0, 1, 2):
    compare_module(f"op mean dim={dim}", torch.nn.Identity(), nn.Op("mean", args=(dim,)),
                   {"input": rng.standard_normal((3, 5, 7))},
                   lambda m, t, dim=dim: t["input"].mean(dim),
                   lambda m, i: m.forward(i["input"]), ["input"])

class TorchFFN(torch.nn.Module):
    def __init__(self, act):
        super().__init__()
        self.linear1, self.linear2 = torch.nn.Linear(8, 20), torch.nn.Linear(20, 8)
        self.act = F.relu if act == "relu" else (lambda x: F.gelu(x, approximate="tanh")
                                                 if act == "gelu_tanh" else F.gelu(x))

    def forward(self, x):
        return self.linear2(self.act(self.linear1(x)))


for act in ["relu", "gelu", "gelu_tanh"]:
    compare_module(f"FeedForward {act}", randomize(TorchFFN(act).double()), nn.FeedForward(8, 20, act),
                   {"input": rng.standard_normal((3, 4, 8))},
                   lambda m, t: m(t["input"]), lambda m, i: m.forward(i["input"]), ["input"])

# dropout: statistics, scaling, backward uses the forward's mask, identity in eval
d = nn.Op("dropout", p=0.3, seed=5)
x = rng.standard_normal((200, 100)) + 3
y = d.forward(x)
kept = y != 0
g = d.backward(np.ones_like(y))["input"]
frac = 1 - kept.mean()
scale_ok = np.allclose(y[kept], x[kept] / 0.7, rtol=1e-6)
grad_ok = np.allclose(g, kept / 0.7, rtol=1e-6)
report("dropout p=0.3 train", abs(frac - 0.3) < 0.02 and scale_ok and grad_ok,
       f"dropped {frac:.3f}, kept scaled 1/(1-p) {scale_ok}, grad mask = forward mask {grad_ok}")
d.eval()
report("dropout eval is identity", np.array_equal(d.forward(x), x.astype(np.float32)), "")

# ---- cross-entropy -----------------------------------------------------------------------------
for ignore, smooth in itertools.product([-100, 3], [0.0, 0.1, 0.5]):
    logits = 2 * rng.standard_normal((11, 7))
    tg = rng.integers(0, 7, 11)
    tg[[1, 4]] = ignore if ignore >= 0 else -100
    if ignore >= 0:
        tg[[2]] = 3
    tl = torch.tensor(logits, requires_grad=True)
    tloss = F.cross_entropy(tl, torch.tensor(tg), ignore_index=ignore, label_smoothing=smooth)
    tloss.backward()
    loss, dl = nn.cross_entropy(logits, tg, ignore, smooth)
    lerr, gerr = abs(loss - tloss.item()), rel(dl, tl.grad.numpy())
    worst["fwd"] = max(worst["fwd"], lerr)
    worst["grad"] = max(worst["grad"], gerr)
    report(f"cross_entropy ignore_index={ignore} label_smoothing={smooth}", lerr <= 1e-5 and gerr <= 1e-4,
           f"loss {lerr:.1e} grad {gerr:.1e}")

# ---- Transformer layers -------------------------------------------------------------------------
E, H, FF, S, T, N = 16, 4, 24, 6, 5, 3


def seq(L, bf):
    return rng.standard_normal((N, L, E) if bf else (L, N, E))


for norm_first, act, bf, masks in itertools.product([False, True], ["relu", "gelu"], [False, True],
                                                    [None, "bool", "float"]):
    if masks is not None and act == "gelu":
        continue
    kw = dict(dim_feedforward=FF, dropout=0.0, activation=act, batch_first=bf, norm_first=norm_first)
    tm = randomize(torch.nn.TransformerEncoderLayer(E, H, **kw).double())
    am = nn.TransformerEncoderLayer(E, H, **kw)
    src_mask = kpm = None
    if masks == "bool":
        src_mask = np.triu(np.ones((S, S), bool), 1)
        kpm = np.zeros((N, S), bool)
        kpm[1, -2:] = True
    elif masks == "float":
        src_mask = rng.standard_normal((S, S))
    compare_module(f"TransformerEncoderLayer norm_first={norm_first} {act} batch_first={bf} masks={masks}",
                   tm, am, {"src": seq(S, bf)},
                   lambda m, t: m(t["src"], src_mask=None if src_mask is None else torch.tensor(src_mask),
                                  src_key_padding_mask=None if kpm is None else torch.tensor(kpm)),
                   lambda m, i: m.forward(i["src"], src_mask, kpm), ["src"])

for norm_first, act, bf, masks in itertools.product([False, True], ["relu", "gelu"], [False, True],
                                                    [None, "bool"]):
    if masks is not None and act == "gelu":
        continue
    kw = dict(dim_feedforward=FF, dropout=0.0, activation=act, batch_first=bf, norm_first=norm_first)
    tm = randomize(torch.nn.TransformerDecoderLayer(E, H, **kw).double())
    am = nn.TransformerDecoderLayer(E, H, **kw)
    tmask = mkpm = tkpm = None
    if masks == "bool":
        tmask = np.triu(np.ones((T, T), bool), 1)
        mkpm = np.zeros((N, S), bool)
        mkpm[0, -3:] = True
        tkpm = np.zeros((N, T), bool)
        tkpm[2, -1] = True

    def tcall(m, t):
        tt = lambda a: None if a is None else torch.tensor(a)  # noqa: E731
        return m(t["tgt"], t["memory"], tgt_mask=tt(tmask), tgt_key_padding_mask=tt(tkpm),
                 memory_key_padding_mask=tt(mkpm))

    compare_module(f"TransformerDecoderLayer norm_first={norm_first} {act} batch_first={bf} masks={masks}",
                   tm, am, {"tgt": seq(T, bf), "memory": seq(S, bf)}, tcall,
                   lambda m, i: m.forward(i["tgt"], i["memory"], tmask, None, tkpm, mkpm),
                   ["tgt", "memory"])

# eval mode with dropout configured equals torch eval
tm = randomize(torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.2).double()).eval()
am = nn.TransformerEncoderLayer(E, H, FF, dropout=0.2).eval()
compare_module("TransformerEncoderLayer dropout=0.2 eval", tm, am, {"src": seq(S, False)},
               lambda m, t: m(t["src"]), lambda m, i: m.forward(i["src"]), ["src"])


# ---- optimisers -------------------------------------------------------------------------------
def torch_run(tm, x, D, make_torch_opt, steps, no_decay_1d, name):
    """torch's trajectory; returns the smallest nonzero |effective gradient| an Adam update saw."""
    if no_decay_1d:  # two groups: weight decay on matrices only
        topt = make_torch_opt([{"params": [p for p in tm.parameters() if p.dim() > 1]},
                               {"params": [p for p in tm.parameters() if p.dim() <= 1], "weight_decay": 0.0}])
    else:
        topt = make_torch_opt(tm.parameters())
    wd = topt.param_groups[0]["weight_decay"] if name.startswith("Adam ") else 0.0  # L2 form
    smallest = np.inf
    for _ in range(steps):
        topt.zero_grad()
        (tm(torch.tensor(x)) * torch.tensor(D)).sum().backward()
        for p in tm.parameters():
            g = np.abs(p.grad.numpy() + wd * p.detach().numpy())
            g = g[g > 1e-12]  # exact zeros (dead ReLU units, the key bias) stay exact on both sides
            smallest = min(smallest, g.min() if g.size else np.inf)
        topt.step()
    return smallest


def trajectory(name, make_torch_opt, make_attn_opt, steps=3, layers=2, norm_first=False,
               no_decay_1d=False):
    """steps optimiser steps of a small encoder stack on loss = Σ out·D, both sides.

    Adam divides by √v + eps, so an element whose gradient happens to be ~1e-7 moves by an amount
    that float32 roundoff decides (and the difference then spreads to every parameter). Such a
    draw (an update whose |gradient| < 5e-7) tests nothing but rounding: it is replaced by a
    new one, and the count reported."""
    redraws = 0
    while True:
        tl = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, norm_first=norm_first)
        tm = randomize(torch.nn.TransformerEncoder(tl, layers, enable_nested_tensor=False).double())
        am = nn.TransformerEncoder(layers, E, H, FF, dropout=0.0, norm_first=norm_first)
        am.load_state_dict(tm.state_dict())
        x = seq(S, False)
        D = rng.standard_normal((S, N, E))
        if "Adam" not in name or torch_run(copy.deepcopy(tm), x, D, make_torch_opt, steps, no_decay_1d,
                                           name) > 5e-7 or redraws == 10:
            break
        redraws += 1
    torch_run(tm, x, D, make_torch_opt, steps, no_decay_1d, name)
    if no_decay_1d:
        am.params.set_no_weight_decay([n for n, p in tm.named_parameters() if p.dim() <= 1])
    aopt = make_attn_opt(am.params)
    for _ in range(steps):
        am.forward(x)
        am.backward(D)
        aopt.step()
    sd = am.state_dict()
    errs = {k: float(np.max(np.abs(sd[k] - v.detach().numpy()))) for k, v in tm.state_dict().items()}
    err = max(errs.values())
    report(name, err <= 1e-5, f"max |param - torch| after {steps} steps {err:.1e} ({max(errs, key=errs.get)})"
           + (f", {redraws} ill-conditioned draw(s) replaced" if redraws else ""))


trajectory("AdamW x3 (lr 1e-2, wd 0.05) on a 2-layer encoder stack",
           lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.05),
           lambda P: nn.Optimizer(P, "adamw", 1e-2, weight_decay=0.05))
trajectory("AdamW x3 (betas 0.8/0.99, eps 1e-6) pre-norm stack",
           lambda p: torch.optim.AdamW(p, lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01),
           lambda P: nn.Optimizer(P, "adamw", 3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01),
           norm_first=True)
trajectory("AdamW x3, no weight decay on biases and norms (param groups)",
           lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
           lambda P: nn.Optimizer(P, "adamw", 1e-2, weight_decay=0.1), no_decay_1d=True)
trajectory("Adam x3 (lr 1e-2, L2 wd 0.01)",
           lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=0.01),
           lambda P: nn.Optimizer(P, "adam", 1e-2, weight_decay=0.01))
for mom, damp, nest, wd in [(0.0, 0.0, False, 0.0), (0.9, 0.0, False, 1e-3), (0.9, 0.1, False, 0.0),
                            (0.9, 0.0, True, 1e-2)]:
    trajectory(f"SGD x3 momentum={mom} dampening={damp} nesterov={nest} wd={wd}",
               lambda p, a=(mom, damp, nest, wd): torch.optim.SGD(p, lr=0.05, momentum=a[0], dampening=a[1],
                                                                  nesterov=a[2], weight_decay=a[3]),
               lambda P, a=(mom, damp, nest, wd): nn.Optimizer(P, "sgd", 0.05, momentum=a[0], dampening=a[1],
                                                               nesterov=a[2], weight_decay=a[3]))

# ---- schedules --------------------------------------------------------------------------------
base, W, T_ = 0.1, 10, 50
ok = True
worst_s = 0.0
# invsqrt: s/W during warm-up, sqrt(W/s) after
for s in range(0, 80):
    ref = base * (s / W if s < W else math.sqrt(W / s))
    worst_s = max(worst_s, abs(nn.schedule_lr("invsqrt", base, s, W) - ref))
report("schedule warm-up + inverse sqrt", worst_s <= 1e-7, f"max error {worst_s:.1e}")
# cosine after warm-up = torch's CosineAnnealingLR(T_max = T - W, eta_min = min_ratio·base)
p = torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.SGD([p], lr=base)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T_ - W, eta_min=0.1 * base)
worst_s = 0.0
for s in range(W, T_ + 1):
    worst_s = max(worst_s, abs(nn.schedule_lr("cosine", base, s, W, T_, 0.1) - opt.param_groups[0]["lr"]))
    opt.step()
    sched.step()
for s in range(0, W):
    worst_s = max(worst_s, abs(nn.schedule_lr("cosine", base, s, W, T_, 0.1) - base * s / W))
worst_s = max(worst_s, abs(nn.schedule_lr("cosine", base, T_ + 20, W, T_, 0.1) - 0.1 * base))
report("schedule warm-up + cosine (vs CosineAnnealingLR)", worst_s <= 1e-7, f"max error {worst_s:.1e}")

# ---- clipping ---------------------------------------------------------------------------------
for max_norm in [0.5, 1e3]:
    lin = nn.Linear(6, 5)
    lin.forward(rng.standard_normal((4, 6)))
    lin.backward(rng.standard_normal((4, 5)))
    grads = lin.params.grads()
    tps = [torch.nn.Parameter(torch.zeros(v.shape, dtype=torch.float64)) for v in grads.values()]
    for tp, v in zip(tps, grads.values()):
        tp.grad = torch.tensor(v, dtype=torch.float64)
    tnorm = torch.nn.utils.clip_grad_norm_(tps, max_norm).item()
    norm = nn.clip_grad_norm(lin.params, max_norm)
    after = lin.params.grads()
    err = max(rel(after[k], tp.grad.numpy()) for k, tp in zip(grads, tps))
    report(f"clip_grad_norm max_norm={max_norm}", abs(norm - tnorm) <= 1e-5 * tnorm and err <= 1e-6,
           f"norm {norm:.6f} vs {tnorm:.6f}, grads {err:.1e}")

print(f"max forward error {worst['fwd']:.2e}, max relative gradient error {worst['grad']:.2e}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
