"""Attention analysis through libattn (attn/analysis.h): record every attention map a model
computes, and measure the maps (entropy, attended distance, alignment accuracy, rollout).

    rec = AttentionRecord(model.tape)   # records from now on
    rec.watch(model)                    # names the maps after the model's state_dict prefixes
    model.forward(src, tgt)
    for m in rec.maps():                # dicts: name, kind, layer, weights [N, H, L, S]
        entropy(m["weights"][0])        # per head
"""
import ctypes

import numpy as np

from ._lib import lib, check

KINDS = {0: "encoder-self", 1: "decoder-self", 2: "cross", 3: "other", 4: "classifier-self"}
ROLLOUT_MEAN = -1

_f32p = ctypes.POINTER(ctypes.c_float)
_f64p = ctypes.POINTER(ctypes.c_double)
_i64 = ctypes.c_int64


class _Map(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("kind", ctypes.c_int), ("layer", ctypes.c_int),
                ("N", _i64), ("H", _i64), ("L", _i64), ("S", _i64), ("w", _f32p)]


class _Span(ctypes.Structure):
    _fields_ = [("lo", _i64), ("hi", _i64)]


lib.attn_attention_record_create.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
for _fn in ("stop", "free", "clear"):
    getattr(lib, "attn_attention_record_" + _fn).argtypes = [ctypes.c_void_p]
    getattr(lib, "attn_attention_record_" + _fn).restype = None
for _fn in ("seq2seq", "classifier", "gpt"):
    getattr(lib, "attn_attention_record_watch_" + _fn).argtypes = [ctypes.c_void_p, ctypes.c_void_p]
lib.attn_attention_record_count.argtypes = [ctypes.c_void_p]
lib.attn_attention_record_status.argtypes = [ctypes.c_void_p]
lib.attn_attention_record_map.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(_Map)]
lib.attn_attention_record_add.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                          ctypes.c_int, _f32p, _i64, _i64, _i64, _i64]
for _fn in ("entropy", "distance"):
    getattr(lib, "attn_attention_" + _fn).argtypes = [_f32p, _i64, _i64, _i64, _f64p]
lib.attn_attention_alignment.argtypes = [_f32p, _i64, _i64, _i64, ctypes.POINTER(_Span), _f64p,
                                         ctypes.POINTER(_i64)]
lib.attn_attention_rollout.argtypes = [ctypes.POINTER(_f32p), _i64, _i64, _i64, _f64p]
lib.attn_attention_rollout_scores.argtypes = [_f64p, _i64, _i64, _f64p]


class AttentionRecord:
    """attn_attention_record on a tape (an attn.nn.Tape); keeps the tape alive."""

    def __init__(self, tape):
        self.tape = tape
        self.ptr = ctypes.c_void_p()
        check(lib.attn_attention_record_create(tape.ptr, ctypes.byref(self.ptr)))

    def __del__(self):
        if getattr(self, "ptr", None):
            lib.attn_attention_record_free(self.ptr)
            self.ptr = None

    def watch(self, model):
        """Name the attention modules of an attn.models Seq2SeqTransformer or GPT."""
        kind = {"Seq2SeqTransformer": "seq2seq", "GPT": "gpt"}[type(model).__name__]
        check(getattr(lib, "attn_attention_record_watch_" + kind)(self.ptr,
                                                                   ctypes.c_void_p(model.ptr)))

    def stop(self):
        lib.attn_attention_record_stop(self.ptr)

    def clear(self):
        lib.attn_attention_record_clear(self.ptr)

    def add(self, weights, name="", kind="other", layer=-1):
        w = np.ascontiguousarray(weights, dtype=np.float32)
        if w.ndim != 4:
            raise ValueError(f"weights must be [N, H, L, S], got shape {w.shape}")
        k = {v: k for k, v in KINDS.items()}[kind]
        check(lib.attn_attention_record_add(self.ptr, name.encode(), k, layer,
                                            w.ctypes.data_as(_f32p), *w.shape))

    def maps(self):
        """Every map so far: dicts with name, kind, layer and a copy of the weights."""
        check(lib.attn_attention_record_status(self.ptr))
        out = []
        for i in range(lib.attn_attention_record_count(self.ptr)):
            m = _Map()
            check(lib.attn_attention_record_map(self.ptr, i, ctypes.byref(m)))
            shape = (m.N, m.H, m.L, m.S)
            w = np.ctypeslib.as_array(m.w, shape=shape).copy()
            out.append({"name": m.name.decode(), "kind": KINDS[m.kind], "layer": m.layer,
                        "weights": w})
        return out


def _heads(w):
    w = np.ascontiguousarray(w, dtype=np.float32)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3:
        raise ValueError(f"maps must be [H, L, S] or [L, S], got shape {w.shape}")
    return w


def _per_head(fn, w):
    w = _heads(w)
    out = np.zeros(w.shape[0])
    check(fn(w.ctypes.data_as(_f32p), *w.shape, out.ctypes.data_as(_f64p)))
    return out


def entropy(w):
    """Per head: mean over rows of the entropy (nats) of each renormalised row. w: [H, L, S]."""
    return _per_head(lib.attn_attention_entropy, w)


def distance(w):
    """Per head: mean over rows i of sum_j p_ij |i - j|. w: [H, L, S]."""
    return _per_head(lib.attn_attention_distance, w)


def alignment(w, spans):
    """(accuracy per head, rows counted): argmax of row i inside the gold span [lo, hi)."""
    w = _heads(w)
    if len(spans) != w.shape[1]:
        raise ValueError(f"{len(spans)} spans for {w.shape[1]} rows")
    sp = (_Span * w.shape[1])(*[_Span(lo, hi) for lo, hi in spans])
    acc, n = np.zeros(w.shape[0]), _i64()
    check(lib.attn_attention_alignment(w.ctypes.data_as(_f32p), *w.shape, sp,
                                       acc.ctypes.data_as(_f64p), ctypes.byref(n)))
    return acc, n.value


def rollout(layers):
    """Attention rollout of self-attention layers, each [H, n, n]: the [n, n] matrix."""
    layers = [_heads(a) for a in layers]
    H, n = layers[0].shape[0], layers[0].shape[1]
    if any(a.shape != (H, n, n) for a in layers):
        raise ValueError("every layer must be [H, n, n] with the same H and n")
    ptrs = (_f32p * (len(layers) * H))(*[a[h].ctypes.data_as(_f32p) for a in layers
                                         for h in range(H)])
    out = np.zeros((n, n))
    check(lib.attn_attention_rollout(ptrs, len(layers), H, n, out.ctypes.data_as(_f64p)))
    return out


def rollout_scores(r, pool=ROLLOUT_MEAN):
    """Row `pool` of a rollout matrix, or the mean of its rows (pool = ROLLOUT_MEAN)."""
    r = np.ascontiguousarray(r, dtype=np.float64)
    out = np.zeros(r.shape[0])
    check(lib.attn_attention_rollout_scores(r.ctypes.data_as(_f64p), r.shape[0], pool,
                                            out.ctypes.data_as(_f64p)))
    return out
