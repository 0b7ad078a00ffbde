"""Scaled dot-product attention: PyTorch's F.scaled_dot_product_attention on NumPy arrays.

    out = attn.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0,
                                            is_causal=False, scale=None, enable_gqa=False)

q: [B, Hq, Lq, E] (or [N, Lq, E], one head), k: [B, Hkv, Lk, E], v: [B, Hkv, Lk, Ev].
With layout="blhe" the arrays are [B, L, H, E] (batch first, heads interleaved) and are read
through strides, never copied; results come back in the same layout. Any non-negative strides
work (NumPy views, transposes, broadcast arrays). Float32 is used throughout: other dtypes are
converted (a copy).

Masks follow PyTorch: a bool attn_mask is True where a query may attend, a float one is added
to the scores; either broadcasts to the scores' shape ([Lq, Lk], [B|1, Lq, Lk], ...) through
zero strides, not copies. The extensions beyond PyTorch are keyword-only: causal alignment,
per-batch key lengths, sliding window, ALiBi slopes, soft-capping, the dropout stream, the
kernel, and returning the attention weights or the row log-sum-exp. Unlike PyTorch, an
explicit scale must be > 0, attn_mask and is_causal may be combined, and a query row with
nothing to attend gives 0 (and gradient 0) instead of NaN.
"""
import ctypes

import numpy as np

from ._lib import BoolTensor, Tensor, check, f32, lib, view, bool_view

_KERNELS = {"auto": 0, "reference": 1, "flash": 2}
_ALIGN = {"top_left": 0, "bottom_right": 1}


class SdpaOptions(ctypes.Structure):
    """attn_sdpa_options, field for field in the header's order."""
    _fields_ = [("scale", ctypes.c_float),
                ("causal", ctypes.c_int),
                ("align", ctypes.c_int),
                ("mask", ctypes.POINTER(BoolTensor)),
                ("bias", ctypes.POINTER(Tensor)),
                ("key_lengths", ctypes.POINTER(ctypes.c_int32)),
                ("window", ctypes.c_int),
                ("window_left", ctypes.c_int32),
                ("window_right", ctypes.c_int32),
                ("alibi_slopes", ctypes.POINTER(ctypes.c_float)),
                ("softcap", ctypes.c_float),
                ("dropout_p", ctypes.c_float),
                ("seed", ctypes.c_uint64),
                ("offset", ctypes.c_uint64),
                ("kernel", ctypes.c_int),
                ("num_threads", ctypes.c_int),
                ("weights_before_dropout", ctypes.c_int)]


_P = ctypes.POINTER
lib.attn_sdpa_forward.argtypes = [_P(Tensor), _P(Tensor), _P(Tensor), _P(SdpaOptions),
                                  _P(Tensor), _P(ctypes.c_float), _P(Tensor)]
lib.attn_sdpa_forward.restype = ctypes.c_int
lib.attn_sdpa_backward.argtypes = [_P(Tensor), _P(Tensor), _P(Tensor), _P(Tensor),
                                   _P(ctypes.c_float), _P(Tensor), _P(SdpaOptions),
                                   _P(Tensor), _P(Tensor), _P(Tensor), _P(Tensor)]
lib.attn_sdpa_backward.restype = ctypes.c_int
lib.attn_dropout_mask_fill.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64,
                                       ctypes.c_int64, ctypes.c_float, _P(ctypes.c_uint8)]
lib.attn_dropout_mask_fill.restype = ctypes.c_int


def _f32(a, name):
    """Float32 array with non-negative strides (copies only when that is not already so)."""
    a = f32(a, name)
    if any(s < 0 or s % 4 for s in a.strides):
        a = np.ascontiguousarray(a)
    return a


def _heads_view(a, nd, layout, name):
    """The [B, H, L, E] 4-d view of an input given as [N, L, E] (nd 3) or 4-d in `layout`."""
    if a.ndim != nd:
        raise ValueError(f"{name} has {a.ndim} dimensions but q has {nd}")
    if nd == 3:
        return a[:, None]
    return a.transpose(0, 2, 1, 3) if layout == "blhe" else a


def _empty_like_layout(B, H, L, E, nd, layout):
    """(array returned to the caller, its [B, H, L, E] view passed to C)."""
    if nd == 3:
        a = np.empty((B, L, E), np.float32)
        return a, a[:, None]
    if layout == "blhe":
        a = np.empty((B, L, H, E), np.float32)
        return a, a.transpose(0, 2, 1, 3)
    a = np.empty((B, H, L, E), np.float32)
    return a, a


def _mask_4d(m, nd):
    """PyTorch broadcasting of a mask against scores of rank nd (3: [N, Lq, Lk], 4: [B, H, Lq,
    Lk]) as a 4-d view [B|1, H|1, Lq|1, Lk|1]; the library checks each size."""
    if m.ndim < 1 or m.ndim > nd:
        raise ValueError(f"attn_mask has {m.ndim} dimensions; scores have {nd}")
    m = m[(None,) * (nd - m.ndim)]
    return m[:, None] if nd == 3 else m


class _Call:
    """Everything a forward or backward call needs, validated once; keeps arrays alive."""

    def __init__(self, q, k, v, attn_mask, dropout_p, is_causal, scale, enable_gqa, causal_align,
                 key_lengths, seed, offset, kernel, layout, window, alibi_slopes, softcap,
                 num_threads, weights_before_dropout=False):
        if layout not in ("bhle", "blhe"):
            raise ValueError(f"layout={layout!r} must be 'bhle' or 'blhe'")
        q, k, v = _f32(q, "q"), _f32(k, "k"), _f32(v, "v")
        if q.ndim not in (3, 4):
            raise ValueError(f"q must have 3 ([N, L, E]) or 4 dimensions, has {q.ndim}")
        if q.ndim == 3 and layout == "blhe":
            raise ValueError("layout='blhe' needs 4-d [B, L, H, E] arrays")
        self.nd, self.layout = q.ndim, layout
        self.q, self.k, self.v = q, k, v
        self.q4 = _heads_view(q, q.ndim, layout, "q")
        self.k4 = _heads_view(k, q.ndim, layout, "k")
        self.v4 = _heads_view(v, q.ndim, layout, "v")
        B, Hq, Lq, E = self.q4.shape
        Hkv, Lk, Ev = self.k4.shape[1], self.k4.shape[2], self.v4.shape[3]
        if Hq != Hkv and not enable_gqa:
            raise ValueError(f"q has {Hq} heads but k has {Hkv}: pass enable_gqa=True for "
                             "grouped-query attention")
        self.dims = (B, Hq, Hkv, Lq, Lk, E, Ev)
        o = SdpaOptions()
        if scale is not None:
            if not scale > 0 or not np.isfinite(scale):
                raise ValueError(f"scale={scale} must be finite and > 0 (None: 1/sqrt(E))")
            o.scale = float(scale)
        o.causal = 1 if is_causal else 0
        if causal_align not in _ALIGN:
            raise ValueError(f"causal_align={causal_align!r} must be 'top_left' or "
                             "'bottom_right'")
        o.align = _ALIGN[causal_align]
        self.keep = [q, k, v]
        self.mask_shape = None  # the additive mask's shape as given (for dbias)
        if attn_mask is not None:
            m = np.asarray(attn_mask)
            if m.dtype == np.bool_:
                if any(s < 0 for s in m.strides):
                    m = np.ascontiguousarray(m)
                m4 = _mask_4d(m, self.nd)
                self.mask_view = bool_view(m4, "attn_mask")
                o.mask = ctypes.pointer(self.mask_view)
            else:
                m = _f32(m, "attn_mask")
                m4 = _mask_4d(m, self.nd)
                self.bias_view = view(m4, "attn_mask")
                o.bias = ctypes.pointer(self.bias_view)
                self.mask_shape = m.shape
                self.bias4_shape = m4.shape
            self.keep.append(m4)
        if key_lengths is not None:
            kl = np.ascontiguousarray(np.asarray(key_lengths), dtype=np.int32)
            if kl.shape != (B,):
                raise ValueError(f"key_lengths has shape {kl.shape}, expected ({B},)")
            o.key_lengths = kl.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
            self.keep.append(kl)
        if window is not None:
            left, right = (window, window) if np.isscalar(window) else window
            o.window, o.window_left, o.window_right = 1, int(left), int(right)
        if alibi_slopes is not None:
            sl = np.ascontiguousarray(np.asarray(alibi_slopes), dtype=np.float32)
            if sl.shape != (Hq,):
                raise ValueError(f"alibi_slopes has shape {sl.shape}, expected ({Hq},)")
            o.alibi_slopes = sl.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            self.keep.append(sl)
        if softcap is not None:
            if not softcap > 0:
                raise ValueError(f"softcap={softcap} must be > 0 (None: off)")
            o.softcap = float(softcap)
        o.dropout_p = float(dropout_p)
        for n, x in (("seed", seed), ("offset", offset)):
            if not 0 <= int(x) < 1 << 64:
                raise ValueError(f"{n}={x} must be in [0, 2**64)")
        o.seed, o.offset = int(seed), int(offset)
        if kernel not in _KERNELS:
            raise ValueError(f"kernel={kernel!r} must be one of {sorted(_KERNELS)}")
        o.kernel = _KERNELS[kernel]
        o.num_threads = int(num_threads)
        o.weights_before_dropout = int(bool(weights_before_dropout))
        self.opt = o

    def out_array(self, H, L, E):
        B = self.dims[0]
        return _empty_like_layout(B, H, L, E, self.nd, self.layout)

    def lse_array(self):
        B, Hq, _, Lq = self.dims[:4]
        return np.empty((B, Lq) if self.nd == 3 else (B, Hq, Lq), np.float32)


def _options_args(kw):
    names = ("q", "k", "v", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa",
             "causal_align", "key_lengths", "seed", "offset", "kernel", "layout", "window", "alibi_slopes",
             "softcap", "num_threads")
    return {n: kw[n] for n in names}


def scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False, *, causal_align="top_left",
                                 key_lengths=None, seed=0, offset=0, return_weights=False,
                                 return_lse=False, kernel="auto", layout="bhle", window=None,
                                 alibi_slopes=None, softcap=None, num_threads=0,
                                 weights_before_dropout=False):
    """Attention output [..., Hq, Lq, Ev] (in the layout of the inputs); with return_weights
    and/or return_lse a tuple (out, weights [..., Hq, Lq, Lk], lse [..., Hq, Lq]).
    The weights are those that multiply v: after dropout, as torch.nn.MultiheadAttention and
    the tutorials' attention() return them; weights_before_dropout=True gives the softmax.

    window: int w (left = right = w) or (left, right); key_lengths: [B] ints; alibi_slopes:
    [Hq]; the dropout mask is drawn from the stream (seed, offset), see dropout_mask()."""
    c = _Call(**_options_args(locals()), weights_before_dropout=weights_before_dropout)
    B, Hq, Hkv, Lq, Lk, E, Ev = c.dims
    out, out4 = c.out_array(Hq, Lq, Ev)
    ot = view(out4, "out")
    lse = c.lse_array() if return_lse else None
    w = w4 = wt = None
    if return_weights:
        w = np.empty((B, Lq, Lk) if c.nd == 3 else (B, Hq, Lq, Lk), np.float32)
        w4 = w[:, None] if c.nd == 3 else w
        wt = view(w4, "weights")
    check(lib.attn_sdpa_forward(ctypes.byref(view(c.q4, "q")), ctypes.byref(view(c.k4, "k")),
                                ctypes.byref(view(c.v4, "v")), ctypes.byref(c.opt),
                                ctypes.byref(ot),
                                None if lse is None else lse.ctypes.data_as(_P(ctypes.c_float)),
                                None if wt is None else ctypes.byref(wt)))
    if not (return_weights or return_lse):
        return out
    res = (out,)
    if return_weights:
        res += (w,)
    if return_lse:
        res += (lse,)
    return res


def scaled_dot_product_attention_backward(q, k, v, dout, attn_mask=None, dropout_p=0.0,
                                          is_causal=False, scale=None, enable_gqa=False, *,
                                          causal_align="top_left", key_lengths=None, seed=0,
                                          offset=0, kernel="auto", layout="bhle", window=None,
                                          alibi_slopes=None, softcap=None, num_threads=0,
                                          out=None, lse=None, return_dbias=False):
    """(dq, dk, dv) — or (dq, dk, dv, dbias) with return_dbias — for the loss gradient dout
    (shaped like the output). The options must be those of the forward. out and lse of that
    forward may be given to save the fused kernel a recomputation. dbias has the shape of the
    float attn_mask and is summed over the dimensions it was broadcast along."""
    kw = dict(locals())
    c = _Call(**_options_args(kw))
    B, Hq, Hkv, Lq, Lk, E, Ev = c.dims
    dout = _f32(dout, "dout")
    dout4 = _heads_view(dout, c.nd, c.layout, "dout")
    dq, dq4 = c.out_array(Hq, Lq, E)
    dk, dk4 = c.out_array(Hkv, Lk, E)
    dv, dv4 = c.out_array(Hkv, Lk, Ev)
    views = [view(x, n) for x, n in ((dout4, "dout"), (dq4, "dq"), (dk4, "dk"), (dv4, "dv"))]
    ot = None
    if out is not None:
        out = _f32(out, "out")
        ot = view(_heads_view(out, c.nd, c.layout, "out"), "out")
    lp = None
    if lse is not None:
        lse = np.ascontiguousarray(lse, dtype=np.float32)
        want = (B, Lq) if c.nd == 3 else (B, Hq, Lq)
        if lse.shape != want:
            raise ValueError(f"lse has shape {lse.shape}, expected {want}")
        lp = lse.ctypes.data_as(_P(ctypes.c_float))
    dbias = dbt = None
    if return_dbias:
        if c.mask_shape is None:
            raise ValueError("return_dbias needs a float (additive) attn_mask")
        dbias = np.empty(c.mask_shape, np.float32)
        dbt = view(dbias.reshape(c.bias4_shape), "dbias")
    check(lib.attn_sdpa_backward(ctypes.byref(view(c.q4, "q")), ctypes.byref(view(c.k4, "k")),
                                 ctypes.byref(view(c.v4, "v")),
                                 None if ot is None else ctypes.byref(ot), lp,
                                 ctypes.byref(views[0]), ctypes.byref(c.opt),
                                 ctypes.byref(views[1]), ctypes.byref(views[2]),
                                 ctypes.byref(views[3]),
                                 None if dbt is None else ctypes.byref(dbt)))
    return (dq, dk, dv) if dbias is None else (dq, dk, dv, dbias)


def dropout_mask(B, H, Lq, Lk, p, seed=0, offset=0):
    """The keep-mask (True = kept) that attention with dropout_p=p and stream (seed, offset)
    applies to the weights of a [B, H, Lq, Lk] problem (H = query heads)."""
    n = int(B) * int(H) * int(Lq) * int(Lk)
    keep = np.empty((int(B), int(H), int(Lq), int(Lk)), np.uint8)
    check(lib.attn_dropout_mask_fill(int(seed), int(offset), 0, n, float(p),
                                     keep.ctypes.data_as(_P(ctypes.c_uint8))))
    return keep.view(np.bool_)
