"""attn.models.ViT (the C Vision Transformer) against the same model written in PyTorch float64.

The torch module below is written from the architecture's description (patches by
Tensor.unfold, nn.Linear embedding, class token or mean pooling, learned or 2-D sinusoidal
positions computed here in NumPy, nn.TransformerEncoderLayer pre-norm, LayerNorm, nn.Linear
head), with our initial weights copied in. For both poolings, both kinds of position and
P = 4 and 7 on 28×28 images (and a 3-channel case): logits ≤ 1e-5 abs; cross-entropy loss
≤ 1e-5; every parameter's gradient ≤ 1e-4 relative to the tensor's largest value. The patch
order is also checked against Conv2d(C, d, P, stride=P) with the same weights.
Ends with "N passed, N failed".
"""
import sys

import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as F

from attn.models import ViT

torch.manual_seed(0)
torch.set_num_threads(1)
rng = np.random.default_rng(22)
passed = failed = 0
worst = {"logits": 0.0, "loss": 0.0, "grad": 0.0}


def report(name, ok, detail):
    global passed, failed
    passed += bool(ok)
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def sincos_2d(grid, d):
    """First half of the channels: the patch's row y; second half: its column x; each half
    [sin(p·w_k)..., cos(p·w_k)...] with w_k = 10000^(-k/K), K = d/4."""
    K = d // 4
    w = 10000.0 ** (-np.arange(K) / K)
    out = np.zeros((grid * grid, d))
    for y in range(grid):
        for x in range(grid):
            out[y * grid + x] = np.concatenate([np.sin(y * w), np.cos(y * w),
                                                np.sin(x * w), np.cos(x * w)])
    return out


class TorchViT(tnn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        S, P, C, d = c.image_size, c.patch_size, c.channels, c.d_model
        self.G = S // P
        T = self.G * self.G
        self.cls = c.pooling == 1
        self.patch_embed = tnn.Linear(C * P * P, d)
        if self.cls:
            self.cls_token = tnn.Parameter(torch.zeros(1, 1, d))
        if c.pos == 0:
            self.pos_embed = tnn.Parameter(torch.zeros(1, T + self.cls, d))
        else:
            table = sincos_2d(self.G, d)
            if self.cls:
                table = np.concatenate([np.zeros((1, d)), table])
            self.register_buffer("pos_table", torch.tensor(table)[None])
        act = {0: "relu", 1: "gelu"}[c.activation]
        self.layers = tnn.ModuleList(
            tnn.TransformerEncoderLayer(d, c.nhead, c.dim_feedforward, dropout=0.0, activation=act,
                                        batch_first=True, norm_first=True)
            for _ in range(c.num_layers))
        self.norm = tnn.LayerNorm(d)
        self.head = tnn.Linear(d, c.num_classes)
        self.double()

    def patches(self, x):
        N, C, P, G = x.shape[0], self.c.channels, self.c.patch_size, self.G
        p = x.unfold(2, P, P).unfold(3, P, P)            # [N, C, G, G, P, P]
        return p.permute(0, 2, 3, 1, 4, 5).reshape(N, G * G, C * P * P)

    def forward(self, x):
        h = self.patch_embed(self.patches(x))
        if self.cls:
            h = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), h], 1)
        h = h + (self.pos_embed if self.c.pos == 0 else self.pos_table)
        for layer in self.layers:
            h = layer(h)
        h = self.norm(h)
        h = h[:, 0] if self.cls else h.mean(1)
        return self.head(h)


def images(N, C, S):
    # pixel-like inputs: normalised uint8 values
    return ((rng.integers(0, 256, size=(N, C, S, S)) / 255.0 - 0.286) / 0.353).astype(np.float32)


def check(tag, **kw):
    ours = ViT(seed=5, num_threads=1, **kw)
    theirs = TorchViT(ours.config)
    sd = ours.state_dict()
    named = dict(theirs.named_parameters())
    names_ok = set(sd) == set(named)
    with torch.no_grad():
        for k, p in named.items():
            p.copy_(torch.tensor(sd[k], dtype=torch.float64))
    c = ours.config
    x = images(3, c.channels, c.image_size)
    logits = ours.forward(x)
    xt = torch.tensor(x, dtype=torch.float64)
    ref = theirs(xt)
    err = max_abs(logits, ref.detach().numpy())
    worst["logits"] = max(worst["logits"], err)
    report(f"{tag} logits", err <= 1e-5 and names_ok,
           f"max abs err {err:.2e} (|logits| ≤ {float(ref.abs().max()):.2f}, {len(sd)} tensors"
           + ("" if names_ok else f", NAMES DIFFER {sorted(set(sd) ^ set(named))}") + ")")
    targets = rng.integers(0, c.num_classes, size=3)
    loss = ours.loss(targets)
    grads = ours.backward(None)
    theirs.zero_grad()
    tl = F.cross_entropy(ref, torch.tensor(targets, dtype=torch.long))
    tl.backward()
    lerr = abs(loss - float(tl))
    worst["loss"] = max(worst["loss"], lerr)
    gw, gname, bad = 0.0, "", []
    for k, p in named.items():
        g_ref = p.grad.numpy()
        e = max_abs(grads[k], g_ref) / max(float(np.max(np.abs(g_ref))), 1e-6)
        if e > gw:
            gw, gname = e, k
        if e > 1e-4:
            bad.append(f"{k} {e:.1e}")
    worst["grad"] = max(worst["grad"], gw)
    report(f"{tag} cross-entropy gradients ({len(named)} tensors)", not bad and lerr <= 1e-5,
           f"loss {loss:.6f} err {lerr:.1e}; worst rel err {gw:.2e} ({gname})"
           + (f"; over 1e-4: {bad[:6]}" if bad else ""))
    return ours, theirs, xt


for pooling in ("cls", "mean"):
    for pos in ("learned", "sincos"):
        for P in (4, 7):
            check(f"vit pool={pooling} pos={pos} P={P}", image_size=28, patch_size=P, d_model=32,
                  nhead=4, num_layers=2, dim_feedforward=48, pooling=pooling, pos=pos)
ours, theirs, xt = check("vit 3 channels 12x12 P=4 relu", image_size=12, channels=3, patch_size=4,
                         d_model=24, nhead=3, num_layers=1, dim_feedforward=40, num_classes=5,
                         activation="relu", pooling="cls", pos="sincos")

# the patch order is Conv2d's: embedding by a strided convolution with the same weights agrees
c = ours.config
W = theirs.patch_embed.weight.detach().reshape(c.d_model, c.channels, c.patch_size, c.patch_size)
conv = F.conv2d(xt, W, theirs.patch_embed.bias.detach(), stride=c.patch_size)
conv = conv.flatten(2).transpose(1, 2)
err = max_abs(conv.numpy(), theirs.patch_embed(theirs.patches(xt)).detach().numpy())
report("patch order = Conv2d(C, d, P, stride=P)", err <= 1e-12, f"max abs err {err:.1e}")

# the sinusoidal positions differ between patches and are not learned
m = ViT(image_size=28, patch_size=7, d_model=32, nhead=4, pooling="mean", pos="sincos")
report("sincos positions are no parameter", "pos_embed" not in m.state_dict(),
       f"{len(m.state_dict())} tensors")

# attn.data: the batches bench/torch_vit.py feeds PyTorch are attn's
from attn import data  # noqa: E402
imgs = rng.integers(0, 256, size=(16, 1, 6, 5)).astype(np.uint8)
a1 = data.augment(imgs, 2, True, seed=3, counter=7)
a2 = data.augment(imgs[:4], 2, True, seed=3, counter=7)
flips = sum(bool(np.array_equal(a, b[..., ::-1])) for a, b in zip(data.augment(imgs, 0, True, 3, 7), imgs))
perm = data.permutation(100, 5, 0)
norm = data.normalize(np.array([0, 255], np.uint8), 0.5, 0.5)
report("attn.data augment / permutation / normalize",
       np.array_equal(a1[:4], a2) and 0 < flips < 16 and sorted(perm) == list(range(100))
       and np.allclose(norm, [-1, 1]),
       f"{flips} of 16 flipped, permutation of 100 valid, normalize {norm.tolist()}")
try:
    px, lab = data.fashion_mnist("test")
    report("attn.data.fashion_mnist('test')", px.shape == (10000, 1, 28, 28) and lab.max() == 9,
           f"{px.shape}, labels {lab.min()}..{lab.max()}")
except ValueError as e:
    print(f"skipped Fashion-MNIST through the binding: {e}")

print(f"worst: logits {worst['logits']:.2e}, loss {worst['loss']:.2e}, "
      f"relative gradient {worst['grad']:.2e}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
