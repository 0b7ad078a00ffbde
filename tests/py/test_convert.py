"""test_convert.py — models both ways between attn and PyTorch (attn.convert, docs/format.md).

1. A tiny character-level translator (the date demo's "chars-ascii" vocabulary) trained in
   PyTorch, written with attn.convert.save_torch, decoded by `attn translate`: its greedy
   output equals PyTorch's greedy decoding on 100 sentences.
2. Models trained with attn (translator, classifier, GPT; a few AdamW steps) load into PyTorch
   with attn.convert.load_torch and give the same logits to 1e-5; PyTorch-initialised ones go
   the other way with the same result.
3. Plain PyTorch namings convert: bench/torch_train.py's GPT (nn.TransformerEncoder,
   "h.layers.<i>") and a translator holding a torch.nn.Transformer as `.transformer`.
4. Errors: a missing file is FileNotFoundError, a checkpoint of another architecture ValueError.

ATTN_CLI: the attn command (default build/attn of this checkout).
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn

import attn
from attn import convert
from attn.torch_models import GPT as TorchGPT, TransformerClassifier, TransformerTranslator

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "bench"))
CLI = os.environ.get("ATTN_CLI", os.path.join(here, "..", "..", "build", "attn"))
torch.set_num_threads(1)
passed = failed = 0
tmp = tempfile.mkdtemp(prefix="attn_convert_")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)

# the date demo's character vocabulary (attn_ascii_*, include/attn/text.h): pad 0, BOS 1, EOS 2, unk 3,
# printable ASCII 32..126 at 4..98
PAD, BOS, EOS, VOCAB = 0, 1, 2, 99


def report(ok, line):
    global passed, failed
    passed += bool(ok)
    failed += not ok
    print(("OK   " if ok else "FAIL ") + line, flush=True)


def chars(text):
    return [ord(c) - 32 + 4 for c in text]


def text_of(ids):
    return "".join(chr(i - 4 + 32) if 4 <= i < VOCAB else "?" for i in ids)


def word_pairs(rng, n):
    """Source: a few lowercase words; target: the words reversed, in upper case."""
    letters = np.array(list("abcdefghij"))
    out = []
    for _ in range(n):
        words = ["".join(rng.choice(letters, rng.integers(1, 4))) for _ in range(rng.integers(1, 4))]
        src = " ".join(words)
        out.append((src, " ".join(reversed(words)).upper()))
    return out


def batch(pairs):
    S = max(len(s) for s, _ in pairs)
    T = max(len(t) for _, t in pairs) + 1
    src = torch.full((len(pairs), S), PAD)
    tin = torch.full((len(pairs), T), PAD)
    lab = torch.full((len(pairs), T), -100)
    for i, (s, t) in enumerate(pairs):
        src[i, :len(s)] = torch.tensor(chars(s))
        ids = chars(t)
        tin[i, :len(ids) + 1] = torch.tensor([BOS] + ids)
        lab[i, :len(ids) + 1] = torch.tensor(ids + [EOS])
    return src, tin, lab


def check_torch_to_cli():
    if not os.access(CLI, os.X_OK):
        report(False, f"the attn command is not built ({CLI}); make cli")
        return
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    cfg = {"src_vocab": VOCAB, "tgt_vocab": VOCAB, "d_model": 32, "nhead": 4,
           "num_encoder_layers": 1, "num_decoder_layers": 1, "dim_feedforward": 64,
           "max_len": 32, "dropout": 0.0, "norm_first": 1, "share_embeddings": 1,
           "scale_embedding": 1}
    model = TransformerTranslator(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    t0 = time.time()
    for step in range(200):
        src, tin, lab = batch(word_pairs(rng, 32))
        loss = nn.functional.cross_entropy(model(src, tin).reshape(-1, VOCAB), lab.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    path = os.path.join(tmp, "torch_mt.safetensors")
    convert.save_torch(model, path, tokenizer="chars-ascii", metadata={"attn.task": "test"})
    t1 = time.time()
    tests = word_pairs(np.random.default_rng(1), 100)
    want = [text_of(model.greedy(chars(s), BOS, EOS)) for s, _ in tests]
    p = subprocess.run([CLI, "translate", "--model", path, "--threads", "1"],
                       input="".join(s + "\n" for s, _ in tests), capture_output=True, text=True,
                       env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    got = p.stdout.split("\n")[:-1]
    print(f"   (training {t1 - t0:.0f}s, decoding both ways {time.time() - t1:.0f}s)")
    same = sum(a == b for a, b in zip(got, want)) if p.returncode == 0 else 0
    right = sum(w == t for w, (_, t) in zip(want, tests))
    report(p.returncode == 0 and len(got) == 100 and same == 100,
           f"PyTorch-trained translator (loss {loss.item():.3f}) decoded by `attn translate`: "
           f"{same}/100 greedy outputs equal PyTorch's ({right}/100 correct translations; "
           f"{time.time() - t0:.0f}s){'' if p.returncode == 0 else ' :: ' + p.stderr[-200:]}")
    if same < 100 and p.returncode == 0:
        for (s, _), a, b in list(zip(tests, got, want))[:100]:
            if a != b:
                print(f"   {s!r}: attn {a!r}, torch {b!r}")
                break


def attn_train(model, make_batch, steps=5):
    opt = model.optimizer("adamw", lr=1e-2)
    for _ in range(steps):
        x, y = make_batch()
        model.forward(*x)
        model.loss(y)
        model.backward(None)
        opt.step()


def close(tag, ours, theirs, direction):
    err = float(np.abs(np.asarray(ours, np.float64) - np.asarray(theirs, np.float64)).max())
    report(err <= 1e-5, f"{tag} {direction}: logits differ by {err:.2e} (limit 1e-5)")


def check_attn_to_torch():
    rng = np.random.default_rng(2)
    # translator
    m = attn.Seq2SeqTransformer(40, 44, d_model=32, nhead=4, num_encoder_layers=2,
                                num_decoder_layers=2, dim_feedforward=64, max_len=24,
                                norm_first=True, activation="gelu", seed=5)
    src = rng.integers(3, 40, (4, 10)).astype(np.int32)
    src[1, 7:] = 0
    tgt = rng.integers(3, 44, (4, 8)).astype(np.int32)
    attn_train(m, lambda: ((src, tgt), np.roll(tgt, -1, 1)))
    m.eval()
    want = m(src, tgt)
    path = os.path.join(tmp, "mt.safetensors")
    m.save(path)
    t = convert.load_torch(path)
    close("translator", t(torch.tensor(src).long(), torch.tensor(tgt).long()).detach().numpy(),
          want, "attn-trained -> PyTorch")
    # classifier
    c = attn.Classifier(60, d_model=32, nhead=4, num_layers=2, dim_feedforward=64, max_len=16,
                        num_classes=3, seed=6)
    ids = rng.integers(1, 60, (6, 16)).astype(np.int32)
    ids[0, 9:] = 0
    ids[3, :4] = 0
    labels = rng.integers(0, 3, 6)
    attn_train(c, lambda: ((ids,), labels))
    c.eval()
    want = c(ids)
    path = os.path.join(tmp, "cls.safetensors")
    c.save(path, metadata={"attn.labels": "a,b,c"})
    t = convert.load_torch(path)
    close("classifier", t(torch.tensor(ids).long()).detach().numpy(), want,
          "attn-trained -> PyTorch")
    report(t.attn_metadata.get("attn.labels") == "a,b,c", "metadata travels with the model")
    # GPT
    g = attn.GPT(50, 20, n_layer=2, n_head=4, d_model=32, seed=7)
    ids = rng.integers(0, 50, (3, 20)).astype(np.int32)
    attn_train(g, lambda: ((ids,), np.roll(ids, -1, 1)))
    g.eval()
    want = g(ids)
    path = os.path.join(tmp, "gpt.safetensors")
    g.save(path)
    t = convert.load_torch(path)
    close("GPT", t(torch.tensor(ids).long()).detach().numpy(), want, "attn-trained -> PyTorch")


def check_torch_to_attn():
    rng = np.random.default_rng(3)
    torch.manual_seed(3)
    cases = [
        (TransformerTranslator({"src_vocab": 30, "tgt_vocab": 30, "d_model": 16, "nhead": 2,
                                "num_encoder_layers": 1, "num_decoder_layers": 2,
                                "dim_feedforward": 32, "max_len": 16, "activation": 2}),
         attn.Seq2SeqTransformer, lambda: (rng.integers(3, 30, (2, 9)), rng.integers(3, 30,
                                                                                     (2, 6)))),
        (TransformerClassifier({"vocab": 30, "d_model": 16, "nhead": 2, "num_layers": 1,
                                "dim_feedforward": 32, "max_len": 12, "pooling": 1,
                                "norm_first": 0}),
         attn.Classifier, lambda: (rng.integers(1, 30, (3, 12)),)),
        (TorchGPT({"vocab": 30, "context": 12, "n_layer": 2, "n_head": 2, "d_model": 16}),
         attn.GPT, lambda: (rng.integers(0, 30, (2, 12)),)),
    ]
    for model, cls, inputs in cases:
        model.eval()
        x = inputs()
        path = os.path.join(tmp, model.arch + "_t.safetensors")
        convert.save_torch(model, path)
        ours = cls.load(path)
        ours.eval()
        close(model.arch, ours(*x), model(*(torch.tensor(a).long() for a in x)).detach().numpy(),
              "PyTorch -> attn")


def check_plain_namings():
    from torch_train import GPT as BenchGPT
    torch.manual_seed(4)
    b = BenchGPT(40, context=16, n_layer=2, n_head=4, d=32).eval()
    path = os.path.join(tmp, "bench_gpt.safetensors")
    convert.save(path, convert.attn_names(b.state_dict(), "gpt"), "gpt",
                 {"vocab": 40, "context": 16, "n_layer": 2, "n_head": 4, "d_model": 32,
                  "dropout": 0.0})
    ids = np.random.default_rng(4).integers(0, 40, (2, 16))
    g = attn.GPT.load(path)
    g.eval()
    close("bench/torch_train.py GPT (h.layers.<i>)", g(ids),
          b(torch.tensor(ids)).detach().numpy(), "PyTorch -> attn")

    class Plain(nn.Module):  # the usual PyTorch translator: nn.Transformer + embeddings
        def __init__(self):
            super().__init__()
            self.transformer = nn.Transformer(16, 2, 1, 1, 32, dropout=0.0, batch_first=True)
            self.src_embed, self.tgt_embed = nn.Embedding(30, 16), nn.Embedding(30, 16)
            self.generator = nn.Linear(16, 30)
    p = Plain()
    cfg = {"src_vocab": 30, "tgt_vocab": 30, "d_model": 16, "nhead": 2, "num_encoder_layers": 1,
           "num_decoder_layers": 1, "dim_feedforward": 32, "max_len": 16, "dropout": 0.0}
    twin = TransformerTranslator(cfg)
    missing = twin.load_state_dict({k: torch.from_numpy(v) for k, v in
                                    convert.attn_names(p.state_dict(),
                                                       "transformer-seq2seq").items()})
    report(not missing.missing_keys and not missing.unexpected_keys,
           "a model holding nn.Transformer as .transformer converts name for name")


def check_errors():
    try:
        convert.read(os.path.join(tmp, "nope.safetensors"))
        report(False, "missing checkpoint: no FileNotFoundError")
    except FileNotFoundError as e:
        report(True, f"missing checkpoint: FileNotFoundError: {e}")
    try:
        attn.GPT.load(os.path.join(tmp, "cls.safetensors"))
        report(False, "a classifier loaded as a GPT without complaint")
    except ValueError as e:
        report("transformer-classifier" in str(e), f"wrong architecture: ValueError: {e}")


def main():
    t0 = time.time()
    check_torch_to_cli()
    check_attn_to_torch()
    check_torch_to_attn()
    check_plain_namings()
    check_errors()
    print(f"time {time.time() - t0:.1f}s")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
