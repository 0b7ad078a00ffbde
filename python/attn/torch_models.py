"""PyTorch twins of attn's models: the same architecture, the same state_dict names as attn's
checkpoints, so weights move between the two unchanged (see attn.convert and docs/format.md).

    TransformerTranslator(cfg)  attn_seq2seq: torch.nn.Transformer's encoder and decoder
                                ("encoder.layers.<i>.*", "encoder.norm.*", "decoder.*"), token
                                embeddings ("embed.weight" shared, or "src_embed.weight" and
                                "tgt_embed.weight"), sinusoidal positions, "generator.*".
    TransformerClassifier(cfg)  attn_classifier: "embed.weight", learned "pos.weight",
                                "layers.<i>.*" (nn.TransformerEncoderLayer), "norm.*" (pre-norm
                                only), mean or first-token pooling, "head.*".
    GPT(cfg)                    attn_gpt: "wte.weight", "wpe.weight", "h.<i>.*"
                                (nn.TransformerEncoderLayer, pre-norm, GELU, FF 4d), "ln_f.*",
                                output tied to wte.

cfg is a dict with the fields of the C configuration (attn_seq2seq_config, ...); missing
fields take the C defaults listed in each class's DEFAULTS. Padding (pad_id) is masked as keys
everywhere and left out of the classifier's pooling, as in the C models. All three run on
PyTorch's own attention; attn.torch.patch(model) moves them onto attn's kernel.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .additive import sinusoidal

_ACTIVATIONS = {0: "relu", 1: "gelu"}


def _activation(code):
    if int(code) == 2:  # attn's "gelu_tanh"
        return lambda x: F.gelu(x, approximate="tanh")
    return _ACTIVATIONS[int(code)]


def _config(defaults, cfg):
    unknown = set(cfg) - set(defaults)
    if unknown:
        raise ValueError(f"unknown configuration fields {sorted(unknown)}")
    out = dict(defaults)
    out.update(cfg)
    return out


class TransformerTranslator(nn.Module):
    """attn_seq2seq in PyTorch: forward(src [N, S], tgt [N, T]) -> logits [N, T, tgt_vocab]."""
    DEFAULTS = {"src_vocab": 0, "tgt_vocab": 0, "d_model": 256, "nhead": 8,
                "num_encoder_layers": 3, "num_decoder_layers": 3, "dim_feedforward": 1024,
                "max_len": 128, "dropout": 0.1, "activation": 0, "norm_first": 0,
                "share_embeddings": 0, "pad_id": 0, "scale_embedding": 0}
    arch = "transformer-seq2seq"

    def __init__(self, cfg):
        super().__init__()
        c = self.config = _config(self.DEFAULTS, cfg)
        d = c["d_model"]
        t = nn.Transformer(d, c["nhead"], c["num_encoder_layers"], c["num_decoder_layers"],
                           c["dim_feedforward"], dropout=c["dropout"],
                           activation=_activation(c["activation"]), batch_first=True,
                           norm_first=bool(c["norm_first"]))
        self.encoder, self.decoder = t.encoder, t.decoder
        if c["share_embeddings"]:
            if c["src_vocab"] != c["tgt_vocab"]:
                raise ValueError("share_embeddings needs src_vocab == tgt_vocab")
            self.embed = nn.Embedding(c["src_vocab"], d)
        else:
            self.src_embed = nn.Embedding(c["src_vocab"], d)
            self.tgt_embed = nn.Embedding(c["tgt_vocab"], d)
        self.generator = nn.Linear(d, c["tgt_vocab"])
        self.drop = nn.Dropout(c["dropout"])
        # the positions attn_seq2seq adds (libattn's own table, so both sides add the same)
        self.register_buffer("pe", torch.from_numpy(sinusoidal(c["max_len"], d)),
                             persistent=False)
        with torch.no_grad():  # attn_seq2seq's initialisation of the tables
            std = d ** -0.5 if c["scale_embedding"] else 1.0
            for e in self._embeddings():
                e.weight.normal_(0.0, std)

    def _embeddings(self):
        return [self.embed] if self.config["share_embeddings"] else [self.src_embed,
                                                                     self.tgt_embed]

    def _embed(self, table, ids):
        s = math.sqrt(self.config["d_model"]) if self.config["scale_embedding"] else 1.0
        return self.drop(table(ids) * s + self.pe[:ids.shape[1]])

    def encode(self, src):
        """Encoder output [N, S, d] for source ids [N, S]."""
        table = self.embed if self.config["share_embeddings"] else self.src_embed
        pad = src == self.config["pad_id"]
        return self.encoder(self._embed(table, src), src_key_padding_mask=pad)

    def decode(self, memory, src, tgt):
        table = self.embed if self.config["share_embeddings"] else self.tgt_embed
        T = tgt.shape[1]
        causal = torch.ones(T, T, dtype=torch.bool, device=tgt.device).triu(1)
        h = self.decoder(self._embed(table, tgt), memory, tgt_mask=causal,
                         memory_key_padding_mask=src == self.config["pad_id"])
        return self.generator(h)

    def forward(self, src, tgt):
        return self.decode(self.encode(src), src, tgt)

    @torch.no_grad()
    def greedy(self, src, bos_id, eos_id, max_len=None):
        """Greedy decoding as attn's (`attn translate`, beam 1): one source row [S] at a time,
        BOS first, the arg-max (lowest id on ties) each step, stop at EOS or after max_len
        (default max_len of the model − 1) tokens. Returns the generated ids without EOS."""
        L = self.config["max_len"] - 1 if max_len is None else max_len
        src = torch.as_tensor(src, dtype=torch.long).view(1, -1)
        memory = self.encode(src)
        out = []
        for _ in range(L):
            tgt = torch.tensor([[bos_id] + out], dtype=torch.long)
            nxt = int(torch.argmax(self.decode(memory, src, tgt)[0, -1]))
            if nxt == eos_id:
                break
            out.append(nxt)
        return out


class TransformerClassifier(nn.Module):
    """attn_classifier in PyTorch: forward(ids [N, T]) -> logits [N, num_classes]."""
    DEFAULTS = {"vocab": 0, "d_model": 128, "nhead": 4, "num_layers": 2, "dim_feedforward": 512,
                "max_len": 512, "num_classes": 2, "dropout": 0.1, "activation": 1,
                "norm_first": 1, "pooling": 0, "pad_id": 0}
    arch = "transformer-classifier"

    def __init__(self, cfg):
        super().__init__()
        c = self.config = _config(self.DEFAULTS, cfg)
        d = c["d_model"]
        self.embed = nn.Embedding(c["vocab"], d)
        self.pos = nn.Embedding(c["max_len"], d)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d, c["nhead"], c["dim_feedforward"], c["dropout"],
                                       activation=_activation(c["activation"]), batch_first=True,
                                       norm_first=bool(c["norm_first"]))
            for _ in range(c["num_layers"]))
        if c["norm_first"]:
            self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, c["num_classes"])
        self.drop = nn.Dropout(c["dropout"])

    def forward(self, ids):
        N, T = ids.shape
        pad = ids == self.config["pad_id"]
        x = self.drop(self.embed(ids) + self.pos(torch.arange(T, device=ids.device)))
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=pad)
        if self.config["norm_first"]:
            x = self.norm(x)
        real = (~pad).to(x.dtype)
        if self.config["pooling"] == 0:  # mean over the real tokens (a row of padding: zeros)
            w = real / real.sum(1, keepdim=True).clamp(min=1)
        else:  # the first position, when it is a real token
            w = torch.zeros_like(real)
            w[:, 0] = real[:, 0]
        h = (x * w.unsqueeze(-1)).sum(1)
        return self.head(self.drop(h))


class GPT(nn.Module):
    """attn_gpt in PyTorch: forward(ids [N, T]) -> logits [N, T, vocab] (causal)."""
    DEFAULTS = {"vocab": 0, "context": 256, "n_layer": 6, "n_head": 6, "d_model": 384,
                "dropout": 0.0, "layer_norm_eps": 0.0, "gelu_tanh": 0, "d_ff": 0}
    arch = "gpt"

    def __init__(self, cfg):
        super().__init__()
        c = self.config = _config(self.DEFAULTS, cfg)
        d = c["d_model"]
        eps = c["layer_norm_eps"] or 1e-5  # attn_gpt_config: 0 means the default
        act = _activation(2 if c["gelu_tanh"] else 1)
        self.wte = nn.Embedding(c["vocab"], d)
        self.wpe = nn.Embedding(c["context"], d)
        self.h = nn.ModuleList(
            nn.TransformerEncoderLayer(d, c["n_head"], c["d_ff"] or 4 * d, c["dropout"],
                                       activation=act, layer_norm_eps=eps, batch_first=True,
                                       norm_first=True)
            for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(d, eps=eps)
        self.drop = nn.Dropout(c["dropout"])

    def forward(self, ids):
        T = ids.shape[1]
        x = self.drop(self.wte(ids) + self.wpe(torch.arange(T, device=ids.device)))
        causal = torch.ones(T, T, dtype=torch.bool, device=ids.device).triu(1)
        for layer in self.h:
            x = layer(x, src_mask=causal)
        return self.ln_f(x) @ self.wte.weight.t()


ARCHS = {m.arch: m for m in (TransformerTranslator, TransformerClassifier, GPT)}
