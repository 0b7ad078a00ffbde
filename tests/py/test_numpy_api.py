"""test_numpy_api.py — the NumPy binding's conventions (issue 20): float32 in, a TypeError for
other dtypes unless conversion is asked for, FileNotFoundError for missing files, modules
callable like their PyTorch namesakes, the classifier beside the translators.
Ends with "N passed, N failed"."""
import os
import sys
import tempfile

import numpy as np
import torch

import attn

passed = failed = 0


def report(ok, line):
    global passed, failed
    passed += bool(ok)
    failed += not ok
    print(("OK   " if ok else "FAIL ") + line, flush=True)


def raises(fn, exc, what):
    try:
        fn()
    except exc as e:
        report(True, f"{what}: {exc.__name__}: {str(e)[:100]}")
        return
    except Exception as e:  # noqa: BLE001
        report(False, f"{what}: {type(e).__name__} ({e}), expected {exc.__name__}")
        return
    report(False, f"{what}: no {exc.__name__}")


rng = np.random.default_rng(0)
q64 = rng.standard_normal((2, 3, 7, 8))
q32 = q64.astype(np.float32)
raises(lambda: attn.scaled_dot_product_attention(q64, q64, q64), TypeError,
       "float64 arrays to scaled_dot_product_attention")
raises(lambda: attn.scaled_dot_product_attention(q32.astype(np.float16), q32, q32), TypeError,
       "a float16 query")
m = attn.MultiheadAttention(8, 2, batch_first=True)
x64 = rng.standard_normal((2, 5, 8))
raises(lambda: m(x64, x64, x64), TypeError, "float64 input to MultiheadAttention")
old = attn.set_dtype_conversion(True)
try:
    a = attn.scaled_dot_product_attention(q64, q64, q64, is_causal=True)
    b = attn.scaled_dot_product_attention(q32, q32, q32, is_causal=True)
    report(old is False and np.array_equal(a, b),
           "set_dtype_conversion(True): float64 converted, same result as float32 input")
finally:
    attn.set_dtype_conversion(False)
b2 = attn.scaled_dot_product_attention([[[[1.0, 0.0]]]], [[[[1.0, 0.0]]]], [[[[2.0, 3.0]]]])
report(b2.dtype == np.float32 and np.allclose(b2, [[[[2, 3]]]]),
       "Python lists are taken as float32 (no dtype to respect)")
x = x64.astype(np.float32)
o1, w1 = m(x, x, x)
o2, w2 = m.forward(x, x, x)
report(np.array_equal(o1, o2) and np.array_equal(w1, w2), "MultiheadAttention(...)(q, k, v) "
       "is its forward, as in PyTorch")
tm = torch.nn.MultiheadAttention(8, 2, batch_first=True)
tm.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
to, tw = tm(*(torch.from_numpy(x),) * 3)
report(np.abs(o1 - to.detach().numpy()).max() < 1e-5, "…and equals torch.nn.MultiheadAttention")
c = attn.Classifier(20, d_model=16, nhead=2, num_layers=1, dim_feedforward=32, max_len=8)
ids = rng.integers(1, 20, (3, 8))
report(c(ids).shape == (3, 2), "attn.Classifier(...)(ids) gives [N, num_classes] logits")
missing = os.path.join(tempfile.mkdtemp(), "missing.safetensors")
raises(lambda: attn.safetensors.load(missing), FileNotFoundError, "safetensors.load of a "
       "missing file")
raises(lambda: attn.Classifier.load(missing), FileNotFoundError, "Classifier.load of a "
       "missing file")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
