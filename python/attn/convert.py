"""attn.convert: models between attn checkpoints and PyTorch (the format: docs/format.md).

An attn checkpoint is a safetensors file: float32 tensors named as PyTorch's state_dict of the
model's twin in attn.torch_models, and string metadata — "attn.arch", the configuration as
"attn.config.<field>", the tokenizer ("attn.tokenizer" and, for subword models, the
SentencePiece model base64-encoded).

    from attn import convert
    model = convert.load_torch("best.safetensors")          # a torch.nn.Module, eval mode
    convert.save_torch(model, "out.safetensors", tokenizer="chars-ascii")
    tensors, meta = convert.read("best.safetensors")        # NumPy arrays + metadata
    sd = convert.attn_names(torch_state_dict, "gpt")        # torch naming -> attn naming

attn_names() also takes the naming of plain PyTorch modules: a translator holding a
torch.nn.Transformer as `.transformer` ("transformer.encoder.…"), a GPT built on
nn.TransformerEncoder ("h.layers.<i>.…", as bench/torch_train.py); non-persistent buffers
and tied copies are dropped. Missing files raise FileNotFoundError; malformed ones
ValueError with the library's message.
"""
import base64
import ctypes
import os

import numpy as np

from . import safetensors
from .models import GPT, Classifier, Seq2SeqTransformer

# Each architecture's configuration is its C struct (the ctypes mirrors in attn.models).
CONFIG_STRUCTS = {m.arch: m._config_type for m in (Seq2SeqTransformer, Classifier, GPT)}
OPTIONAL_FIELDS = {"scale_embedding", "layer_norm_eps", "gelu_tanh", "d_ff"}  # older checkpoints lack them: 0


def _fields(arch):
    """[(field, "f" for float or "i")] of arch's configuration, in the struct's order."""
    if arch not in CONFIG_STRUCTS:
        raise ValueError(f"unknown architecture {arch!r}; known: {sorted(CONFIG_STRUCTS)}")
    return [(name, "f" if t is ctypes.c_float else "i")
            for name, t in CONFIG_STRUCTS[arch]._fields_]


def read(path):
    """(tensors {name: float32 array}, metadata {key: str}) of a checkpoint file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such checkpoint")
    return safetensors.load(path)


def config_from_metadata(meta, arch=None):
    """The configuration dict stored in a checkpoint's metadata."""
    arch = arch or meta.get("attn.arch")
    cfg = {}
    for name, kind in _fields(arch):
        v = meta.get("attn.config." + name)
        if v is None:
            if name in OPTIONAL_FIELDS:
                cfg[name] = 0
                continue
            raise ValueError(f"checkpoint metadata has no attn.config.{name} (arch {arch})")
        cfg[name] = float(v) if kind == "f" else int(float(v))
    return cfg


def metadata_from_config(cfg, arch):
    """"attn.arch" and "attn.config.<field>" entries (the strings attn's C code writes)."""
    meta = {"attn.arch": arch}
    for name, kind in _fields(arch):
        if name not in cfg and name in OPTIONAL_FIELDS:
            continue  # optional fields absent: the library's default (0)
        if name not in cfg:
            raise ValueError(f"configuration lacks {name!r} (arch {arch})")
        v = cfg[name]
        meta["attn.config." + name] = f"{float(v):.9g}" if kind == "f" else str(int(v))
    return meta


def tokenizer_metadata(arch, tokenizer):
    """Metadata of the embedded tokenizer: tokenizer is "chars-ascii" (the character
    vocabulary of the date demo), ("spm", model_bytes) for a SentencePiece model, or None."""
    if tokenizer is None:
        return {}
    if isinstance(tokenizer, str):
        return {"attn.tokenizer": tokenizer}
    kind, blob = tokenizer
    if isinstance(blob, (str, os.PathLike)):
        with open(blob, "rb") as f:
            blob = f.read()
    b64 = base64.b64encode(blob).decode("ascii")
    if arch == "transformer-classifier":
        return {"attn.tokenizer": "sentencepiece", "attn.tokenizer.model": b64}
    return {"attn.tokenizer": "spm", "attn.spm.model": b64}


def tokenizer_model(meta):
    """The embedded SentencePiece model (bytes), or None."""
    b64 = meta.get("attn.spm.model") or meta.get("attn.tokenizer.model")
    return None if b64 is None else base64.b64decode(b64)


def _numpy(t):
    if hasattr(t, "detach"):
        t = t.detach().cpu()
        if t.dtype.is_floating_point:
            t = t.float()
        return t.numpy()
    return np.asarray(t)


def attn_names(state_dict, arch):
    """A PyTorch state_dict (this package's twins or the plain-PyTorch namings in the module
    doc) as attn's tensors: {attn name: float32 array}."""
    out = {}
    for k, v in state_dict.items():
        if arch == "transformer-seq2seq" and k.startswith("transformer."):
            k = k[len("transformer."):]
        if arch == "gpt" and k.startswith("h.layers."):
            k = "h." + k[len("h.layers."):]
        if k in ("pe",) or (arch == "gpt" and k in ("head.weight", "lm_head.weight")):
            continue  # positions are recomputed; the GPT's output is tied to wte
        if arch == "transformer-seq2seq" and k in ("src_embed.weight", "tgt_embed.weight") and \
                "embed.weight" in state_dict:
            continue  # shared table exposed under three names
        out[k] = np.ascontiguousarray(_numpy(v), dtype=np.float32)
    return out


def save(path, tensors, arch, config, tokenizer=None, metadata=None):
    """Write an attn checkpoint from attn-named tensors (arrays or torch tensors)."""
    meta = metadata_from_config(config, arch)
    meta.update(tokenizer_metadata(arch, tokenizer))
    meta.update(metadata or {})
    arrays = {k: np.ascontiguousarray(_numpy(v), dtype=np.float32) for k, v in tensors.items()}
    safetensors.save(os.fspath(path), arrays, metadata=meta)


def save_torch(model, path, tokenizer=None, metadata=None):
    """Write a PyTorch twin (attn.torch_models) as an attn checkpoint. The translator's
    generator.weight is written even when tied to the embedding (attn reads it)."""
    arch = model.arch
    save(path, attn_names(model.state_dict(), arch), arch, model.config, tokenizer, metadata)


def load_torch(path, strict=True):
    """The PyTorch twin of the model in an attn checkpoint, weights loaded, in eval mode;
    .attn_metadata holds the file's metadata."""
    import torch
    from .torch_models import ARCHS
    tensors, meta = read(path)
    arch = meta.get("attn.arch")
    if arch not in ARCHS:
        raise ValueError(f"{path}: attn.arch={arch!r} has no PyTorch twin "
                         f"(known: {sorted(ARCHS)})")
    model = ARCHS[arch](config_from_metadata(meta, arch))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=strict)
    model.attn_metadata = meta
    return model.eval()
