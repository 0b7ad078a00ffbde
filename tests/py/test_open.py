"""Models opened from files through the library's checked loaders (Model.open → attn_<model>_open).

Checks, one line each, ending with "N passed, N failed":
  * a GPT, a Transformer encoder–decoder and a GRU encoder–decoder saved with their configuration
    as metadata reopen with identical weights, identical logits and identical gradients (the
    gradient buffers of an opened model appear on its first backward);
  * a file whose metadata disagrees with its tensors (one more layer, a wider model, a number
    with trailing garbage) raises ValueError naming what does not match, before allocating.
"""
import os
import sys
import tempfile

import numpy as np

from attn import safetensors
from attn.models import GPT, GruSeq2Seq, Seq2SeqTransformer

passed = failed = 0


def report(ok, what):
    global passed, failed
    passed += ok
    failed += not ok
    print(("ok   " if ok else "FAIL ") + what)


def meta(cfg):
    out = {}
    for name, _ in cfg._fields_:
        v = getattr(cfg, name)
        out["attn.config." + name] = repr(float(v)) if isinstance(v, float) else str(int(v))
    return out


def round_trip(label, model, run, d):
    path = os.path.join(d, label + ".safetensors")
    m = meta(model.config)
    safetensors.save(path, model.state_dict(), m)
    other = type(model).open(path)
    same_w = all(np.array_equal(a, other.state_dict()[k]) for k, a in model.state_dict().items())
    za, zb = run(model), run(other)
    ga, gb = model.backward(np.ones_like(za)), other.backward(np.ones_like(zb))
    report(same_w and np.array_equal(za, zb) and all(np.array_equal(ga[k], gb[k]) for k in ga),
           "%s: reopened with the same weights, logits and gradients" % label)
    return path, m


def refused(label, model, path, m, key, value, needle):
    bad = dict(m)
    bad[key] = value
    safetensors.save(path, model.state_dict(), bad)
    try:
        type(model).open(path)
        report(False, "%s: %s=%s accepted" % (label, key, value))
    except ValueError as e:
        report(needle in str(e), "%s: %s=%s refused: %s" % (label, key, value, e))


def main():
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as d:
        g = GPT(13, 6, n_layer=2, n_head=2, d_model=8, seed=1)
        ids = rng.integers(0, 13, (2, 5))
        path, m = round_trip("gpt", g, lambda x: x(ids), d)
        refused("gpt", g, path, m, "attn.config.n_layer", "3", "h.2.")
        refused("gpt", g, path, m, "attn.config.d_model", "16", "wte.weight")
        refused("gpt", g, path, m, "attn.config.vocab", "13 ", "attn.config.vocab")
        t = Seq2SeqTransformer(11, 9, d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=12, max_len=8, seed=2)
        src, tgt = rng.integers(1, 11, (2, 4)), rng.integers(1, 9, (2, 3))
        path, m = round_trip("transformer", t, lambda x: x(src, tgt), d)
        refused("transformer", t, path, m, "attn.config.tgt_vocab", "10", "tgt_embed.weight")
        r = GruSeq2Seq(11, 9, emb_size=6, enc_hidden=5, dec_hidden=7, seed=3)
        round_trip("gru", r, lambda x: x(src, tgt), d)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
