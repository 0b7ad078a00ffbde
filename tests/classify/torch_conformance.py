#!/usr/bin/python3
"""attn's classifier against PyTorch (float64) on the same weights: usage ATTN MODEL.

Loads MODEL (an `attn train classify` checkpoint) into bench/torch_imdb.py's Classifier (same
parameter names, torch.nn.TransformerEncoderLayer), runs a few texts tokenised by attn
(`attn classify --pieces` prints the ids), and compares the probability attn prints with
torch's. Also: extra padding changes nothing in torch either. Ends with "N passed, N failed"."""
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from torch_imdb import Classifier, read_safetensors  # noqa: E402

attn, model_path = sys.argv[1], sys.argv[2]
tensors, meta = read_safetensors(model_path)
g = lambda k: int(meta["attn.config." + k])
assert g("pooling") == 0 and g("norm_first") == 1 and g("activation") == 1, "bench model is pre-norm GELU mean"
m = Classifier(g("vocab"), g("d_model"), g("nhead"), g("num_layers"), g("dim_feedforward"), g("max_len"),
               0.0, g("pad_id"), g("num_classes")).double().eval()
state = {k: torch.from_numpy(v.astype(np.float64)) for k, v in tensors.items()}
missing = m.load_state_dict(state, strict=True)
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok  ", name)
    else:
        failed += 1
        print("FAIL", name, detail)


check("state_dict names and shapes match torch's", not missing.missing_keys and not missing.unexpected_keys)
texts = ["A wonderful, moving film with great acting.", "Terrible plot, awful dialogue; a waste.",
         "It was fine I guess, but the ending dragged on and on."]
for text in texts:
    pieces = subprocess.run([attn, "classify", "--model", model_path, "--pieces", text], capture_output=True,
                            text=True, check=True).stdout
    ids = [int(x) for x in next(l for l in pieces.splitlines() if l.startswith("ids\t"))[4:].split()]
    out = subprocess.run([attn, "classify", "--model", model_path, text], capture_output=True, text=True,
                         check=True).stdout.split("\t")
    label, prob = out[0], float(out[1])
    with torch.no_grad():
        z = m(torch.tensor([ids]))
        p = torch.softmax(z, -1)[0]
        zp = m(torch.tensor([ids + [g("pad_id")] * 7]))
    k = int(p.argmax())
    check(f"label and probability match torch: {text[:30]}",
          label == ["negative", "positive"][k] and abs(prob - float(p[k])) < 2e-4,
          f"attn {label} {prob}, torch {k} {float(p[k]):.6f}")
    check(f"torch: padding changes nothing: {text[:30]}", torch.allclose(z, zp, atol=1e-10))
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
