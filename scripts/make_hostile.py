#!/usr/bin/python3
"""make_hostile.py — the regression corpus of hostile model files (issue 19), made from scratch.

    scripts/make_hostile.py --attn build/attn --out build/hostile

Writes OUT/<name>.safetensors, OUT/MANIFEST (one line per hostile file: name, the kind of
model it claims to be, and a regular expression the loading command's stderr must match),
OUT/good-<C>classes.safetensors (valid classifiers of 3, 64 and 4096 classes, which must load
and classify), and the small inputs the commands need (OUT/in/). The safetensors files are
written here byte by byte (no library of ours), so a bug in our writer cannot hide one in the
reader; the tokenizers are trained by `attn spm train` (Debian's libsentencepiece).
"""
import argparse
import base64
import json
import os
import random
import struct
import subprocess
import sys

# ---- safetensors, by hand ------------------------------------------------------------------


def st_bytes(tensors, meta, dtype="F32"):
    """tensors: {name: (shape, values or None for a seeded fill)}; sorted by name, tiled."""
    rng = random.Random(7)
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        shape, vals = tensors[name]
        n = 1
        for d in shape:
            n *= d
        if vals is None:
            vals = [rng.uniform(-0.1, 0.1) for _ in range(n)]
        blob = struct.pack("<%df" % n, *vals)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


# ---- protobuf wire format (to reach the tokenizer's normalizer charsmap) --------------------


def varint(b, i):
    v = shift = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 127) << shift
        shift += 7
        if not c & 128:
            return v, i


def fields(b):
    """(field, wire type, start of payload, end of payload) of each top-level field."""
    i, out = 0, []
    while i < len(b):
        key, i = varint(b, i)
        f, t = key >> 3, key & 7
        if t == 0:
            _, j = varint(b, i)
            out.append((f, t, i, j))
        elif t == 2:
            n, i = varint(b, i)
            out.append((f, t, i, i + n))
            j = i + n
        elif t == 1:
            j = i + 8
        elif t == 5:
            j = i + 4
        else:
            raise ValueError("wire type %d" % t)
        i = j
    return out


def charsmap_span(model):
    """(start, end) of normalizer_spec.precompiled_charsmap inside the serialized model."""
    for f, t, s, e in fields(model):
        if f == 3 and t == 2:
            for g, u, s2, e2 in fields(model[s:e]):
                if g == 2 and u == 2:
                    return s + s2, s + e2
    raise ValueError("no charsmap")


def crafted_charsmap(model):
    """Same length, so no length prefix changes: the trie's units all point far outside."""
    s, e = charsmap_span(model)
    blob = bytearray(model[s:e])
    trie = struct.unpack("<I", blob[:4])[0]
    for k in range(4, min(4 + trie, len(blob))):
        blob[k] = 0xFF if k % 4 != 3 else 0x7F
    return model[:s] + bytes(blob) + model[e:]


# ---- the models ---------------------------------------------------------------------------

def layer_names(prefix, d, ff, cross=False):
    t = {}
    blocks = ["self_attn"] + (["multihead_attn"] if cross else [])
    for a in blocks:
        t[prefix + a + ".in_proj_weight"] = ([3 * d, d], None)
        t[prefix + a + ".in_proj_bias"] = ([3 * d], None)
        t[prefix + a + ".out_proj.weight"] = ([d, d], None)
        t[prefix + a + ".out_proj.bias"] = ([d], None)
    t[prefix + "linear1.weight"] = ([ff, d], None)
    t[prefix + "linear1.bias"] = ([ff], None)
    t[prefix + "linear2.weight"] = ([d, ff], None)
    t[prefix + "linear2.bias"] = ([d], None)
    for k in range(1, 4 if cross else 3):
        t[prefix + "norm%d.weight" % k] = ([d], [1.0] * d)
        t[prefix + "norm%d.bias" % k] = ([d], [0.0] * d)
    return t


def classifier(vocab, classes, tok_b64, d=8, ff=16, max_len=32, cfg_over=None, drop=(), extra=None):
    cfg = {"vocab": vocab, "d_model": d, "nhead": 2, "num_layers": 1, "dim_feedforward": ff,
           "max_len": max_len, "num_classes": classes, "dropout": 0, "activation": 1,
           "norm_first": 1, "pooling": 0, "pad_id": 0}
    meta = {"attn.config." + k: str(v) for k, v in cfg.items()}
    meta.update({"attn.arch": "transformer-classifier", "attn.task": "imdb",
                 "attn.labels": "negative,positive", "attn.tokenizer": "sentencepiece",
                 "attn.tokenizer.model": tok_b64, "attn.truncate.head": "8"})
    for k, v in (cfg_over or {}).items():
        meta["attn.config." + k] = v
    t = {"embed.weight": ([vocab, d], None), "pos.weight": ([max_len, d], None),
         "norm.weight": ([d], [1.0] * d), "norm.bias": ([d], [0.0] * d),
         "head.weight": ([classes, d], None), "head.bias": ([classes], None)}
    t.update(layer_names("layers.0.", d, ff))
    for k in drop:
        del t[k]
    t.update(extra or {})
    return st_bytes(t, meta)


def seq2seq(vocab, tokenizer, d=8, ff=16, max_len=64, cfg_over=None, spm_b64=None, arch="transformer-seq2seq"):
    cfg = {"src_vocab": vocab, "tgt_vocab": vocab, "d_model": d, "nhead": 2, "num_encoder_layers": 1,
           "num_decoder_layers": 1, "dim_feedforward": ff, "max_len": max_len, "dropout": 0,
           "activation": 0, "norm_first": 0, "share_embeddings": 0, "pad_id": 0}
    meta = {"attn.config." + k: str(v) for k, v in cfg.items()}
    meta.update({"attn.arch": arch, "attn.tokenizer": tokenizer})
    if spm_b64 is not None:
        meta["attn.spm.model"] = spm_b64
    for k, v in (cfg_over or {}).items():
        meta["attn.config." + k] = v
    t = {"src_embed.weight": ([vocab, d], None), "tgt_embed.weight": ([vocab, d], None),
         "encoder.norm.weight": ([d], [1.0] * d), "encoder.norm.bias": ([d], [0.0] * d),
         "decoder.norm.weight": ([d], [1.0] * d), "decoder.norm.bias": ([d], [0.0] * d),
         "generator.weight": ([vocab, d], None), "generator.bias": ([vocab], None)}
    t.update(layer_names("encoder.layers.0.", d, ff))
    t.update(layer_names("decoder.layers.0.", d, ff, cross=True))
    return st_bytes(t, meta)


def gpt(vocab, tokenizer="chars", chars=None, spm_b64=None, d=8, ff=16, context=16, cfg_over=None, chars_b64=None):
    """A GPT language model as `attn train lm` saves it (attn generate, attn eval lm, attn viz)."""
    cfg = {"vocab": vocab, "d_model": d, "n_head": 2, "n_layer": 1, "d_ff": ff, "context": context,
           "dropout": 0, "gelu_tanh": 0, "layer_norm_eps": "1e-05"}
    meta = {"attn.config." + k: str(v) for k, v in cfg.items()}
    meta.update({"attn.arch": "gpt", "attn.tokenizer": tokenizer})
    if tokenizer == "chars":
        chars = chars if chars is not None else bytes(range(97, 97 + vocab))
        meta["attn.chars.vocab"] = chars_b64 or base64.b64encode(chars).decode()
    if spm_b64 is not None:
        meta["attn.spm.model"] = spm_b64
    for k, v in (cfg_over or {}).items():
        meta["attn.config." + k] = v
    t = {"wte.weight": ([vocab, d], None), "wpe.weight": ([context, d], None),
         "ln_f.weight": ([d], [1.0] * d), "ln_f.bias": ([d], [0.0] * d)}
    t.update(layer_names("h.0.", d, ff))
    return st_bytes(t, meta)


def nonzero_padding_bits(b64):
    """The same text with bits set that its padding drops (lenient decoders ignore them)."""
    alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    t = list(b64)
    if b64.endswith("=="):
        t[-3] = alpha[alpha.index(t[-3]) | 1]
    elif b64.endswith("="):
        t[-2] = alpha[alpha.index(t[-2]) | 1]
    else:
        t += list("AB==")
    return "".join(t)


def tiny(meta):
    """A small, well-formed file whose metadata claims anything: two 4-float tensors."""
    return st_bytes({"a": ([2, 2], None), "b": ([4], None)}, meta)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--attn", required=True, help="the attn command (to train the tokenizers)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    out = a.out
    os.makedirs(os.path.join(out, "in"), exist_ok=True)
    # inputs for the commands
    text = ["the film was good and the actors were fine",
            "a bad film with a bad plot and bad actors",
            "the dog runs in the park with the ball"] * 40
    with open(os.path.join(out, "in", "corpus.txt"), "w") as f:
        f.write("\n".join(text) + "\n")
    with open(os.path.join(out, "in", "test.tsv"), "w") as f:
        f.write("1\tthe film was good\n0\ta bad film\n1\tfine actors\n")
    for name, line in (("src.txt", "the dog runs"), ("ref.txt", "der hund rennt")):
        with open(os.path.join(out, "in", name), "w") as f:
            f.write(line + "\n")
    spm = os.path.join(out, "in", "tok.model")
    subprocess.run([a.attn, "spm", "train", "--input", os.path.join(out, "in", "corpus.txt"),
                    "--model", spm, "--vocab", "320"], check=True, stdout=subprocess.DEVNULL)
    model = open(spm, "rb").read()
    V = sum(1 for f, t, _, _ in fields(model) if f == 1 and t == 2)  # pieces
    b64 = base64.b64encode(model).decode()
    bad_b64 = base64.b64encode(crafted_charsmap(model)).decode()

    files = []  # (name, kind, stderr pattern, bytes)

    def add(name, kind, pattern, data):
        files.append((name, kind, pattern, data))

    # classifiers (attn classify, attn eval classify, attn viz --model)
    add("cls-too-many-classes", "classify", "num_classes|classes", classifier(V, 1 << 21, b64))
    add("cls-classes-vs-head", "classify", "head.weight", classifier(V, 2, b64, cfg_over={"num_classes": "4096"}))
    add("cls-bad-charsmap", "classify", "charsmap", classifier(V, 2, bad_b64))
    add("cls-bad-base64", "classify", "base64", classifier(V, 2, b64[:-4] + "!!!!"))
    add("cls-base64-padding-bits", "classify", "base64", classifier(V, 2, nonzero_padding_bits(b64)))
    add("cls-1gib-config", "classify", "embed.weight|layers|tensor",
        tiny({"attn.arch": "transformer-classifier", "attn.tokenizer": "sentencepiece",
              "attn.tokenizer.model": "AAAA", "attn.truncate.head": "8",
              **{"attn.config." + k: v for k, v in {
                  "vocab": "16384", "d_model": "16384", "nhead": "16", "num_layers": "1",
                  "dim_feedforward": "16384", "max_len": "512", "num_classes": "2", "dropout": "0",
                  "activation": "1", "norm_first": "1", "pooling": "0", "pad_id": "0"}.items()}}))
    add("cls-many-layers", "classify", "layers",
        classifier(V, 2, b64, cfg_over={"num_layers": "1000"}))
    add("cls-trailing-garbage", "classify", "d_model", classifier(V, 2, b64, cfg_over={"d_model": "8abc"}))
    add("cls-hex-number", "classify", "d_model", classifier(V, 2, b64, cfg_over={"d_model": "0x8"}))
    add("cls-huge-double", "classify", "num_classes", classifier(V, 2, b64, cfg_over={"num_classes": "1e300"}))
    add("cls-nan-dropout", "classify", "dropout", classifier(V, 2, b64, cfg_over={"dropout": "nan"}))
    add("cls-vocab-vs-tokenizer", "classify", "embed.weight",
        classifier(V, 2, b64, cfg_over={"vocab": str(V + 1)}))
    add("cls-int-tensor", "classify", "head.bias",
        classifier(V, 2, b64).replace(b'"head.bias":{"dtype":"F32"', b'"head.bias":{"dtype":"I32"'))
    # character translation models (attn translate, attn viz --model)
    add("mt-huge-max-len", "translate", "max_len", seq2seq(99, "chars-ascii", cfg_over={"max_len": "1048577"}))
    add("mt-max-len-beyond-range", "translate", "max_len", seq2seq(99, "chars-ascii", cfg_over={"max_len": "4000000000"}))
    add("mt-1gib-config", "translate", "src_embed.weight|tensor|layers",
        tiny({"attn.arch": "transformer-seq2seq", "attn.tokenizer": "chars-ascii",
              **{"attn.config." + k: v for k, v in {
                  "src_vocab": "99", "tgt_vocab": "99", "d_model": "8192", "nhead": "8",
                  "num_encoder_layers": "1", "num_decoder_layers": "1", "dim_feedforward": "8192",
                  "max_len": "64", "dropout": "0", "activation": "0", "norm_first": "0",
                  "share_embeddings": "0", "pad_id": "0"}.items()}}))
    add("mt-billion-layers", "translate", "layers", seq2seq(99, "chars-ascii", cfg_over={"num_decoder_layers": "1000000000"}))
    add("mt-shape-mismatch", "translate", "generator.weight|tensor", seq2seq(99, "chars-ascii", d=8).replace(
        b'"generator.weight":{"dtype":"F32","shape":[99,8]', b'"generator.weight":{"dtype":"F32","shape":[8,99]'))
    # subword translation models (attn translate, attn eval translate, attn viz --model)
    add("spm-bad-charsmap", "translate", "charsmap", seq2seq(V, "spm", spm_b64=bad_b64))
    add("spm-bad-base64", "translate", "base64", seq2seq(V, "spm", spm_b64="@@@@" + b64[4:]))
    add("spm-garbage-tokenizer", "translate", "SentencePiece|tokenizer",
        seq2seq(V, "spm", spm_b64=base64.b64encode(b"\x0a\xff\xff\xff\xff\x0f" + b"x" * 30).decode()))
    add("gru-mismatch", "translate", "emb_size", seq2seq(V, "spm", spm_b64=b64, arch="gru-seq2seq"))
    # language models (attn generate, attn eval lm, attn viz --model)
    add("gpt-huge-context", "lm", "context|wpe", gpt(20, cfg_over={"context": "1048577"}))
    add("gpt-heads-vs-width", "lm", "n_head|d_model|head", gpt(20, cfg_over={"n_head": "3"}))
    add("gpt-billion-layers", "lm", "n_layer|layers", gpt(20, cfg_over={"n_layer": "1000000000"}))
    add("gpt-vocab-vs-chars", "lm", "vocab|characters|chars", gpt(20, chars=bytes(range(97, 97 + 19))))
    add("gpt-repeated-chars", "lm", "repeats", gpt(20, chars=b"a" * 20))
    add("gpt-bad-chars-base64", "lm", "base64|chars", gpt(20, chars_b64="@@" + base64.b64encode(bytes(range(97, 117))).decode()))
    add("gpt-garbage-spm", "lm", "SentencePiece|tokenizer|spm",
        gpt(300, tokenizer="spm", spm_b64=base64.b64encode(b"\x0a\xff\xff\xff\xff\x0f" + b"x" * 30).decode()))
    add("gpt-vocab-vs-spm", "lm", "vocab", gpt(V + 5, tokenizer="spm", spm_b64=b64))
    add("gpt-1gib-config", "lm", "wte|tensor|layers|n_layer",
        tiny({"attn.arch": "gpt", "attn.tokenizer": "chars", "attn.chars.vocab": "YWJj",
              **{"attn.config." + k: v for k, v in {
                  "vocab": "3", "d_model": "16384", "n_head": "16", "n_layer": "1", "d_ff": "16384",
                  "context": "16384", "dropout": "0", "gelu_tanh": "0", "layer_norm_eps": "1e-05"}.items()}}))
    # not model files at all
    good = classifier(V, 2, b64)
    add("truncated", "any", "safetensors|header|file|size|short", good[: len(good) // 2])
    add("truncated-header", "any", "safetensors|header|file|size|short", good[:12])
    add("garbage", "any", "safetensors|header|file|size|short", bytes(random.Random(3).randrange(256) for _ in range(672)))
    add("empty", "any", "safetensors|header|file|size|short|empty", b"")

    with open(os.path.join(out, "MANIFEST"), "w") as m:
        for name, kind, pattern, data in files:
            with open(os.path.join(out, name + ".safetensors"), "wb") as f:
                f.write(data)
            m.write("%s\t%s\t%s\n" % (name, kind, pattern))
    for c in (3, 64, 4096):
        with open(os.path.join(out, "good-%dclasses.safetensors" % c), "wb") as f:
            f.write(classifier(V, c, b64))
    # a model the loader accepts whose max_len is half a million positions: decoding must still
    # stop by the input's bound (twice its tokens plus 10), not run to the model's length
    with open(os.path.join(out, "good-long-max-len.safetensors"), "wb") as f:
        f.write(seq2seq(99, "chars-ascii", cfg_over={"max_len": "524288"}))
    print("wrote %d hostile files, 3 good classifiers and a long-max_len translator to %s" % (len(files), out))


if __name__ == "__main__":
    sys.exit(main())
