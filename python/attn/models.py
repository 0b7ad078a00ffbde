"""Whole models through ctypes: the encoder–decoder Transformer (attn_seq2seq_*), the GRU
encoder–decoder, the GPT-style language model (attn_gpt_*) and the Transformer text classifier
(attn_classifier_*).

Each object owns the C model (its parameter table, names = PyTorch state_dict names) and a tape.
forward(...) records on the tape and returns the logits; backward(dlogits) runs the tape in
reverse and returns the gradient of every parameter by name. loss(...) adds torch's
cross-entropy on the same recording, and optimizer(...) builds an attn_optim over the table.
save(path) writes an attn checkpoint (docs/format.md) and Class.load(path) reads one back; the
same files load into PyTorch with attn.convert.load_torch. Calling a model is its forward.
"""
import ctypes
import os

import numpy as np

from ._lib import lib, check
from .nn import (ACT, CeOptions, Optimizer, Params, Tape, VarP, var_data)

_i32p = ctypes.POINTER(ctypes.c_int32)


class Seq2SeqConfig(ctypes.Structure):
    _fields_ = [("src_vocab", ctypes.c_int64), ("tgt_vocab", ctypes.c_int64),
                ("d_model", ctypes.c_int64), ("nhead", ctypes.c_int64),
                ("num_encoder_layers", ctypes.c_int64), ("num_decoder_layers", ctypes.c_int64),
                ("dim_feedforward", ctypes.c_int64), ("max_len", ctypes.c_int64),
                ("dropout", ctypes.c_float), ("activation", ctypes.c_int),
                ("norm_first", ctypes.c_int), ("share_embeddings", ctypes.c_int),
                ("pad_id", ctypes.c_int32), ("scale_embedding", ctypes.c_int)]


class _Seq2SeqHead(ctypes.Structure):
    """The leading fields of attn_seq2seq (the rest is not read from Python)."""
    _fields_ = [("cfg", Seq2SeqConfig), ("P", ctypes.c_void_p)]


class GruSeq2SeqConfig(ctypes.Structure):
    _fields_ = [("src_vocab", ctypes.c_int64), ("tgt_vocab", ctypes.c_int64),
                ("emb_size", ctypes.c_int64), ("enc_hidden", ctypes.c_int64),
                ("enc_layers", ctypes.c_int64), ("dec_hidden", ctypes.c_int64),
                ("attn_size", ctypes.c_int64), ("out_size", ctypes.c_int64),
                ("max_len", ctypes.c_int64), ("dropout", ctypes.c_float),
                ("share_embeddings", ctypes.c_int), ("pad_id", ctypes.c_int32)]


class _GruSeq2SeqHead(ctypes.Structure):
    _fields_ = [("cfg", GruSeq2SeqConfig), ("P", ctypes.c_void_p)]


class GPTConfig(ctypes.Structure):
    _fields_ = [("vocab", ctypes.c_int64), ("context", ctypes.c_int64),
                ("n_layer", ctypes.c_int64), ("n_head", ctypes.c_int64),
                ("d_model", ctypes.c_int64), ("dropout", ctypes.c_float),
                ("layer_norm_eps", ctypes.c_float), ("gelu_tanh", ctypes.c_int),
                ("d_ff", ctypes.c_int64)]


class _GPTHead(ctypes.Structure):
    _fields_ = [("cfg", GPTConfig), ("P", ctypes.c_void_p)]


def _head(ptr):
    return ctypes.cast(ptr, ctypes.POINTER(_GPTHead)).contents


class ClassifierConfig(ctypes.Structure):
    _fields_ = [("vocab", ctypes.c_int64), ("d_model", ctypes.c_int64),
                ("nhead", ctypes.c_int64), ("num_layers", ctypes.c_int64),
                ("dim_feedforward", ctypes.c_int64), ("max_len", ctypes.c_int64),
                ("num_classes", ctypes.c_int64), ("dropout", ctypes.c_float),
                ("activation", ctypes.c_int), ("norm_first", ctypes.c_int),
                ("pooling", ctypes.c_int), ("pad_id", ctypes.c_int32)]


class _ClassifierHead(ctypes.Structure):
    _fields_ = [("cfg", ClassifierConfig), ("P", ctypes.c_void_p)]


lib.attn_seq2seq_free.argtypes = [ctypes.c_void_p]
lib.attn_gpt_free.argtypes = [ctypes.c_void_p]
lib.attn_gpt_load_hf.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
for _f in (lib.attn_seq2seq_open, lib.attn_gru_seq2seq_open, lib.attn_gpt_open, lib.attn_classifier_open):
    _f.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
lib.attn_st_close.argtypes = [ctypes.c_void_p]
lib.attn_gru_seq2seq_free.argtypes = [ctypes.c_void_p]
lib.attn_classifier_free.argtypes = [ctypes.c_void_p]


class _BorrowedParams(Params):
    """A Params view of a table owned by a model (never freed here)."""

    def __init__(self, ptr, owner):
        self.ptr = ctypes.c_void_p(ptr)
        self._owner = owner

    def __del__(self):
        pass


def _ids(a):
    a = np.ascontiguousarray(np.asarray(a, dtype=np.int32))
    if a.ndim != 2:
        raise ValueError(f"ids must be [N, L], got shape {a.shape}")
    return a


class _Model:
    _free = None
    arch = None  # the checkpoint's attn.arch (docs/format.md)

    def _setup(self, ptr, head_type, seed, num_threads):
        self.ptr = ptr
        head = ctypes.cast(ptr, ctypes.POINTER(head_type)).contents
        self.params = _BorrowedParams(head.P, self)
        self.tape = Tape(seed ^ 0x5eed, num_threads)
        self._out = None
        self._keep = []

    def __del__(self):
        if getattr(self, "ptr", None):
            self.tape = None
            type(self)._free(self.ptr)
            self.ptr = None

    def train(self, mode=True):
        self.tape.set_training(mode)
        return self

    def eval(self):
        return self.train(False)

    def state_dict(self):
        return self.params.state_dict()

    def load_state_dict(self, d, strict=True):
        self.params.load_state_dict({k: (v.detach().cpu().numpy() if hasattr(v, "detach") else v)
                                     for k, v in d.items()}, strict)

    def names(self):
        return self.params.names()

    def backward(self, dlogits, accumulate=False):
        """Parameter gradients (by name) of sum(logits · dlogits) for the last forward."""
        if not accumulate:
            self.params.zero_grad()
        self.tape.backward(self._out, dlogits)
        return self.params.grads()

    def loss(self, targets, ignore_index=-100, label_smoothing=0.0):
        """torch's cross_entropy (mean) of the last forward's logits; sets it as the output, so
        backward(None) then gives the loss gradients."""
        tg = np.ascontiguousarray(np.asarray(targets, dtype=np.int32)).reshape(-1)
        self._keep.append(tg)
        opt = CeOptions(ignore_index, label_smoothing)
        out = VarP()
        check(lib.attn_op_cross_entropy(self.tape.ptr, self._out, tg.ctypes.data_as(_i32p),
                                        ctypes.byref(opt), ctypes.byref(out)))
        self._out = out
        return float(var_data(out)[0])

    def optimizer(self, kind="adamw", lr=1e-3, **kw):
        return Optimizer(self.params, kind, lr, **kw)

    @classmethod
    def open(cls, path, seed=0, num_threads=0):
        """The model saved at path (configuration in its metadata), through attn_<model>_open:
        the configuration is checked against the file's tensors before anything is allocated,
        a mismatch raises ValueError naming it; no gradient buffer until a backward."""
        st, ptr = ctypes.c_void_p(), ctypes.c_void_p()
        check(lib.attn_st_open(str(path).encode(), ctypes.byref(st)))
        try:
            check(cls._open_fn(st, ctypes.byref(ptr)))
        finally:
            lib.attn_st_close(st)
        self = cls.__new__(cls)
        head = ctypes.cast(ptr, ctypes.POINTER(cls._head)).contents
        self.config = type(head.cfg).from_buffer_copy(head.cfg)
        self._setup(ptr.value, cls._head, seed, num_threads)
        return self

    def config_dict(self):
        return {name: getattr(self.config, name) for name, _ in self.config._fields_}

    def save(self, path, tokenizer=None, metadata=None):
        """Write the model as an attn checkpoint (see attn.convert.save for tokenizer)."""
        from . import convert
        convert.save(path, self.state_dict(), self.arch, self.config_dict(), tokenizer, metadata)

    @classmethod
    def load(cls, path, seed=0, num_threads=0):
        """The model stored in an attn checkpoint of this class's architecture; the file's
        metadata is kept as .metadata."""
        from . import convert
        tensors, meta = convert.read(path)
        if meta.get("attn.arch") != cls.arch:
            raise ValueError(f"{path}: attn.arch={meta.get('attn.arch')!r}, not {cls.arch!r}")
        cfg = convert.config_from_metadata(meta, cls.arch)
        m = cls.__new__(cls)
        m._create(cls._config_type(**cfg), seed, num_threads)
        m.load_state_dict(tensors)
        m.metadata = meta
        return m


class Seq2SeqTransformer(_Model):
    _free = lib.attn_seq2seq_free
    _open_fn = lib.attn_seq2seq_open
    _head = _Seq2SeqHead
    _config_type = Seq2SeqConfig
    arch = "transformer-seq2seq"

    def __init__(self, src_vocab, tgt_vocab, d_model=32, nhead=4, num_encoder_layers=2,
                 num_decoder_layers=2, dim_feedforward=64, max_len=64, dropout=0.0,
                 activation="relu", norm_first=False, share_embeddings=False, pad_id=0, seed=0,
                 num_threads=0, scale_embedding=False):
        cfg = Seq2SeqConfig(src_vocab, tgt_vocab, d_model, nhead, num_encoder_layers,
                            num_decoder_layers, dim_feedforward, max_len, dropout, ACT[activation],
                            int(norm_first), int(share_embeddings), pad_id, int(scale_embedding))
        self._create(cfg, seed, num_threads)

    def _create(self, cfg, seed, num_threads):
        self.config = cfg
        ptr = ctypes.c_void_p()
        check(lib.attn_seq2seq_create(ctypes.byref(cfg), ctypes.c_uint64(seed), ctypes.byref(ptr)))
        self._setup(ptr.value, _Seq2SeqHead, seed, num_threads)

    def forward(self, src, tgt):
        """logits [N, T, tgt_vocab] for source ids [N, S] and decoder input ids [N, T]."""
        src, tgt = _ids(src), _ids(tgt)
        if src.shape[0] != tgt.shape[0]:
            raise ValueError("src and tgt batch sizes differ")
        self.tape.reset()
        self._keep = [src, tgt]
        memory, logits = VarP(), VarP()
        N, S = src.shape
        check(lib.attn_seq2seq_encode(self.tape.ptr, ctypes.c_void_p(self.ptr),
                                      src.ctypes.data_as(_i32p), ctypes.c_int64(N),
                                      ctypes.c_int64(S), ctypes.byref(memory)))
        check(lib.attn_seq2seq_decode(self.tape.ptr, ctypes.c_void_p(self.ptr), memory,
                                      src.ctypes.data_as(_i32p), ctypes.c_int64(S),
                                      tgt.ctypes.data_as(_i32p), ctypes.c_int64(tgt.shape[1]),
                                      ctypes.byref(logits)))
        self._out = logits
        return var_data(logits)

    __call__ = forward


class GruSeq2Seq(_Model):
    """The GRU encoder–decoder with additive attention (attn_gru_seq2seq_*)."""
    _free = lib.attn_gru_seq2seq_free
    _open_fn = lib.attn_gru_seq2seq_open
    _head = _GruSeq2SeqHead

    def __init__(self, src_vocab, tgt_vocab, emb_size=16, enc_hidden=16, enc_layers=1,
                 dec_hidden=16, attn_size=16, out_size=16, max_len=64, dropout=0.0,
                 share_embeddings=False, pad_id=0, seed=0, num_threads=0):
        cfg = GruSeq2SeqConfig(src_vocab, tgt_vocab, emb_size, enc_hidden, enc_layers, dec_hidden,
                               attn_size, out_size, max_len, dropout, int(share_embeddings), pad_id)
        self.config = cfg
        ptr = ctypes.c_void_p()
        check(lib.attn_gru_seq2seq_create(ctypes.byref(cfg), ctypes.c_uint64(seed),
                                          ctypes.byref(ptr)))
        self._setup(ptr.value, _GruSeq2SeqHead, seed, num_threads)

    def forward(self, src, tgt, weights=False):
        """logits [N, T, tgt_vocab] (and the attention weights [N, T, S] if asked) for source
        ids [N, S] (pad_id after each row's tokens) and decoder input ids [N, T]."""
        src, tgt = _ids(src), _ids(tgt)
        if src.shape[0] != tgt.shape[0]:
            raise ValueError("src and tgt batch sizes differ")
        self.tape.reset()
        self._keep = [src, tgt]
        enc, s0, logits, w = VarP(), VarP(), VarP(), VarP()
        N, S = src.shape
        m = ctypes.c_void_p(self.ptr)
        check(lib.attn_gru_seq2seq_encode(self.tape.ptr, m, src.ctypes.data_as(_i32p),
                                          ctypes.c_int64(N), ctypes.c_int64(S),
                                          ctypes.byref(enc), ctypes.byref(s0)))
        check(lib.attn_gru_seq2seq_decode(self.tape.ptr, m, enc, s0, src.ctypes.data_as(_i32p),
                                          ctypes.c_int64(S), tgt.ctypes.data_as(_i32p),
                                          ctypes.c_int64(tgt.shape[1]), ctypes.byref(logits),
                                          ctypes.byref(w)))
        self._out = logits
        self._enc = enc
        return (var_data(logits), var_data(w)) if weights else var_data(logits)

    def step(self, src, s_prev, tokens):
        """One decoding step outside the tape: (s, logits [N, V], weights [N, S]) for source
        ids src [N, S], state s_prev [N, dec_hidden] and input tokens [N] (encodes src on the
        tape first, in evaluation mode)."""
        src = _ids(src)
        N, S = src.shape
        tok = np.ascontiguousarray(np.asarray(tokens, dtype=np.int32)).reshape(-1)
        if tok.shape != (N,):
            raise ValueError(f"tokens must hold {N} ids, got shape {np.shape(tokens)}")
        if s_prev is not None and np.shape(s_prev) != (N, self.config.dec_hidden):
            raise ValueError(f"s_prev must be [{N}, {self.config.dec_hidden}], got {np.shape(s_prev)}")
        was_training = self.tape.training()
        self.eval()
        self.tape.reset()
        enc, s0 = VarP(), VarP()
        m = ctypes.c_void_p(self.ptr)
        check(lib.attn_gru_seq2seq_encode(self.tape.ptr, m, src.ctypes.data_as(_i32p),
                                          ctypes.c_int64(N), ctypes.c_int64(S),
                                          ctypes.byref(enc), ctypes.byref(s0)))
        e = np.ascontiguousarray(var_data(enc), dtype=np.float32)
        if s_prev is None:
            s_prev = var_data(s0)
        s_prev = np.ascontiguousarray(s_prev, dtype=np.float32)
        lens = np.zeros(N, dtype=np.int32)
        check(lib.attn_gru_seq2seq_lengths(m, src.ctypes.data_as(_i32p), ctypes.c_int64(N),
                                           ctypes.c_int64(S), lens.ctypes.data_as(_i32p)))
        proj = np.zeros((N, S, self.config.attn_size), dtype=np.float32)
        f32p = ctypes.POINTER(ctypes.c_float)
        check(lib.attn_gru_seq2seq_project_keys(m, e.ctypes.data_as(f32p), ctypes.c_int64(N),
                                                ctypes.c_int64(S), proj.ctypes.data_as(f32p)))
        s = np.zeros((N, self.config.dec_hidden), dtype=np.float32)
        logits = np.zeros((N, self.config.tgt_vocab), dtype=np.float32)
        w = np.zeros((N, S), dtype=np.float32)
        check(lib.attn_gru_seq2seq_step(m, e.ctypes.data_as(f32p), proj.ctypes.data_as(f32p),
                                        lens.ctypes.data_as(_i32p), ctypes.c_int64(N),
                                        ctypes.c_int64(S), s_prev.ctypes.data_as(f32p),
                                        tok.ctypes.data_as(_i32p), s.ctypes.data_as(f32p),
                                        logits.ctypes.data_as(f32p), w.ctypes.data_as(f32p)))
        self.train(was_training)
        return s, logits, w

    __call__ = forward


class GPT(_Model):
    _free = lib.attn_gpt_free
    _open_fn = lib.attn_gpt_open
    _head = _GPTHead
    _config_type = GPTConfig
    arch = "gpt"

    def __init__(self, vocab, context, n_layer=2, n_head=4, d_model=32, dropout=0.0, seed=0,
                 num_threads=0, layer_norm_eps=0.0, gelu_tanh=False, d_ff=0):
        self._create(GPTConfig(vocab, context, n_layer, n_head, d_model, dropout, layer_norm_eps,
                               int(gelu_tanh), d_ff), seed, num_threads)

    def _create(self, cfg, seed, num_threads):
        self.config = cfg
        ptr = ctypes.c_void_p()
        check(lib.attn_gpt_create(ctypes.byref(cfg), ctypes.c_uint64(seed), ctypes.byref(ptr)))
        self._setup(ptr.value, _GPTHead, seed, num_threads)
        self.config = GPTConfig.from_buffer_copy(_head(ptr).cfg)  # defaults filled in

    @classmethod
    def load_hf(cls, directory, num_threads=0):
        """A Hugging Face GPT-2 checkpoint directory (config.json + model.safetensors)."""
        self = cls.__new__(cls)
        ptr = ctypes.c_void_p()
        check(lib.attn_gpt_load_hf(os.fsencode(directory), ctypes.byref(ptr)))
        self._setup(ptr.value, _GPTHead, 0, num_threads)
        self.config = GPTConfig.from_buffer_copy(_head(ptr).cfg)
        return self

    def forward(self, ids):
        """logits [N, T, vocab] for ids [N, T]."""
        ids = _ids(ids)
        self.tape.reset()
        self._keep = [ids]
        logits = VarP()
        check(lib.attn_gpt_forward(self.tape.ptr, ctypes.c_void_p(self.ptr),
                                   ids.ctypes.data_as(_i32p), ctypes.c_int64(ids.shape[0]),
                                   ctypes.c_int64(ids.shape[1]), ctypes.byref(logits)))
        self._out = logits
        return var_data(logits)

    __call__ = forward


class ViTConfig(ctypes.Structure):
    _fields_ = [("image_size", ctypes.c_int64), ("channels", ctypes.c_int64),
                ("patch_size", ctypes.c_int64), ("d_model", ctypes.c_int64),
                ("nhead", ctypes.c_int64), ("num_layers", ctypes.c_int64),
                ("dim_feedforward", ctypes.c_int64), ("num_classes", ctypes.c_int64),
                ("dropout", ctypes.c_float), ("activation", ctypes.c_int),
                ("pooling", ctypes.c_int), ("pos", ctypes.c_int)]


class _ViTHead(ctypes.Structure):
    _fields_ = [("cfg", ViTConfig), ("P", ctypes.c_void_p)]


lib.attn_vit_free.argtypes = [ctypes.c_void_p]
POOL = {"mean": 0, "cls": 1}
VIT_POS = {"learned": 0, "sincos": 1}


class ViT(_Model):
    """The Vision Transformer (attn_vit_*): pooling "cls" (class token) or "mean", positions
    "learned" or "sincos" (the fixed 2-D table)."""
    _free = lib.attn_vit_free

    def __init__(self, image_size=28, channels=1, patch_size=7, d_model=32, nhead=4,
                 num_layers=2, dim_feedforward=64, num_classes=10, dropout=0.0,
                 activation="gelu", pooling="cls", pos="learned", seed=0, num_threads=0):
        cfg = ViTConfig(image_size, channels, patch_size, d_model, nhead, num_layers,
                        dim_feedforward, num_classes, dropout, ACT[activation], POOL[pooling],
                        VIT_POS[pos])
        self.config = cfg
        ptr = ctypes.c_void_p()
        check(lib.attn_vit_create(ctypes.byref(cfg), ctypes.c_uint64(seed), ctypes.byref(ptr)))
        self._setup(ptr.value, _ViTHead, seed, num_threads)

    def forward(self, images):
        """logits [N, num_classes] for float images [N, C, S, S]."""
        c = self.config
        x = np.ascontiguousarray(np.asarray(images, dtype=np.float32))
        if x.ndim != 4 or x.shape[1:] != (c.channels, c.image_size, c.image_size):
            raise ValueError(f"images must be [N, {c.channels}, {c.image_size}, "
                             f"{c.image_size}], got {x.shape}")
        self.tape.reset()
        self._keep = [x]
        logits = VarP()
        check(lib.attn_vit_forward(self.tape.ptr, ctypes.c_void_p(self.ptr),
                                   x.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                   ctypes.c_int64(x.shape[0]), ctypes.byref(logits), None))
        self._out = logits
        return var_data(logits)

    __call__ = forward


class Classifier(_Model):
    """The Transformer-encoder text classifier (attn_classifier_*): logits [N, num_classes]
    for ids [N, T] (pad_id marks padding anywhere; T ≤ max_len). pooling "mean" over the real
    tokens or "first" (a [CLS]-style first token)."""
    _free = lib.attn_classifier_free
    _open_fn = lib.attn_classifier_open
    _head = _ClassifierHead
    _config_type = ClassifierConfig
    arch = "transformer-classifier"
    _POOL = {"mean": 0, "first": 1}

    def __init__(self, vocab, d_model=32, nhead=4, num_layers=2, dim_feedforward=64, max_len=64,
                 num_classes=2, dropout=0.0, activation="gelu", norm_first=True, pooling="mean",
                 pad_id=0, seed=0, num_threads=0):
        if pooling not in self._POOL:
            raise ValueError(f"pooling={pooling!r} must be 'mean' or 'first'")
        cfg = ClassifierConfig(vocab, d_model, nhead, num_layers, dim_feedforward, max_len,
                               num_classes, dropout, ACT[activation], int(norm_first),
                               self._POOL[pooling], pad_id)
        self._create(cfg, seed, num_threads)

    def _create(self, cfg, seed, num_threads):
        self.config = cfg
        ptr = ctypes.c_void_p()
        check(lib.attn_classifier_create(ctypes.byref(cfg), ctypes.c_uint64(seed),
                                         ctypes.byref(ptr)))
        self._setup(ptr.value, _ClassifierHead, seed, num_threads)

    def forward(self, ids):
        ids = _ids(ids)
        self.tape.reset()
        self._keep = [ids]
        logits, pooled = VarP(), VarP()
        check(lib.attn_classifier_forward(self.tape.ptr, ctypes.c_void_p(self.ptr),
                                          ids.ctypes.data_as(_i32p), ctypes.c_int64(ids.shape[0]),
                                          ctypes.c_int64(ids.shape[1]), ctypes.byref(logits),
                                          ctypes.byref(pooled)))
        self._out = logits
        return var_data(logits)

    __call__ = forward
