"""attn.torch: libattn's fused attention inside PyTorch autograd.

    import attn.torch as at
    out = at.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0,
                                          is_causal=False, scale=None, enable_gqa=False)
    mha = at.MultiheadAttention(embed_dim, num_heads, batch_first=True)   # torch's state_dict
    at.patch(model)   # every nn.MultiheadAttention in model now runs on libattn

scaled_dot_product_attention has PyTorch 2's signature and semantics (code written for
torch.nn.functional.scaled_dot_product_attention moves unchanged): q [..., Hq, Lq, E] (3-d or
4-d), k [..., Hkv, Lk, E], v [..., Hkv, Lk, Ev]; a bool attn_mask is True where a query may
attend, a float one is added to the scores, either broadcasting to [B, Hq, Lq, Lk]; dropout
is applied whenever dropout_p > 0 (as PyTorch's functional form does), drawn from torch's
global generator, so torch.manual_seed makes runs repeatable. Forward and backward are one
torch.autograd.Function whose two halves call the fused kernel on the tensors' memory: strides
are honoured, nothing is copied; the output comes back in q's memory order (a q that is a
[B, L, H, E] tensor seen as [B, H, L, E] gives an output laid out the same way, so the output
projection reads it without a copy). Gradients flow to q, k, v and a float attn_mask.

Differences from PyTorch, all documented in the functions: a query row with nothing to attend
gives 0 (and gradient 0) instead of NaN; attn_mask and is_causal may be combined; scale must be
> 0. Tensors attn does not compute on (not float32, not on the CPU, more than 4 dimensions)
raise TypeError, or, with fallback="torch" (per call, or set_fallback("torch") for all), run
PyTorch's own arithmetic instead.
"""
import ctypes
import math

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from ._lib import BoolTensor, Tensor, check, lib
from .sdpa import SdpaOptions, _ALIGN

__all__ = ["scaled_dot_product_attention", "MultiheadAttention", "patch", "unpatch",
           "set_fallback", "get_fallback"]

_P = ctypes.POINTER
_FALLBACKS = ("error", "torch")
_fallback = "error"


def set_fallback(mode):
    """What attn.torch does with tensors it does not compute on (not float32 CPU): "error"
    (default: TypeError) or "torch" (PyTorch's own arithmetic, any device and dtype)."""
    global _fallback
    if mode not in _FALLBACKS:
        raise ValueError(f"fallback={mode!r} must be one of {_FALLBACKS}")
    _fallback = mode


def get_fallback():
    return _fallback


# ------------------------------------------------------------------------------------------
# Views of torch tensors as attn_tensor (no copies)
# ------------------------------------------------------------------------------------------

def _fill(view, t, ctype):
    view.data = ctypes.cast(t.data_ptr(), _P(ctype)) if t.numel() else None
    view.ndim = t.dim()
    for i in range(t.dim()):
        view.shape[i] = t.shape[i]
        view.stride[i] = t.stride(i) if t.shape[i] > 1 else 0
    return view


def _tview(t):
    """attn_tensor over a float32 CPU tensor of ≤ 4 dimensions (caller keeps t alive)."""
    return _fill(Tensor(), t, ctypes.c_float)


def _bview(t):
    """attn_bool_tensor over a bool/uint8 CPU tensor (caller keeps t alive)."""
    return _fill(BoolTensor(), t, ctypes.c_uint8)


def _empty_like_order(t, shape):
    """An uninitialised, dense float32 tensor of `shape` (4-d) whose dimensions lie in memory
    in the order of t's strides (outermost first), the last dimension always innermost."""
    order = sorted(range(4), key=lambda d: (-t.stride(d) if t.shape[d] > 1 else 0, d))
    if order[-1] != 3:
        order = [d for d in order if d != 3] + [3]
    base = torch.empty([shape[d] for d in order], dtype=torch.float32)
    inv = [order.index(d) for d in range(4)]
    return base.permute(inv)


def _mask4(m, nd):
    """attn_mask broadcast (PyTorch rules) to the rank of the 4-d problem, as a view."""
    if m.dim() < 1 or m.dim() > nd:
        raise ValueError(f"attn_mask has {m.dim()} dimensions; the scores have {nd}")
    m = m[(None,) * (nd - m.dim())]
    return m.unsqueeze(1) if nd == 3 else m


# ------------------------------------------------------------------------------------------
# The autograd function
# ------------------------------------------------------------------------------------------

def _options(cfg, mask4, bias4):
    """attn_sdpa_options for one call; returns (options, views to keep alive)."""
    o = SdpaOptions()
    keep = []
    if cfg["scale"] is not None:
        o.scale = cfg["scale"]
    o.causal = int(cfg["is_causal"])
    o.align = _ALIGN[cfg["causal_align"]]
    if mask4 is not None:
        mv = _bview(mask4)
        keep.append(mv)
        o.mask = ctypes.pointer(mv)
    if bias4 is not None:
        bv = _tview(bias4)
        keep.append(bv)
        o.bias = ctypes.pointer(bv)
    if cfg["key_lengths"] is not None:
        kl = cfg["key_lengths"]
        keep.append(kl)
        o.key_lengths = ctypes.cast(kl.data_ptr(), _P(ctypes.c_int32))
    if cfg["window"] is not None:
        o.window, o.window_left, o.window_right = 1, cfg["window"][0], cfg["window"][1]
    if cfg["alibi_slopes"] is not None:
        sl = cfg["alibi_slopes"]
        keep.append(sl)
        o.alibi_slopes = ctypes.cast(sl.data_ptr(), _P(ctypes.c_float))
    if cfg["softcap"] is not None:
        o.softcap = cfg["softcap"]
    o.dropout_p = cfg["dropout_p"]
    o.seed, o.offset = cfg["seed"], cfg["offset"]
    o.num_threads = torch.get_num_threads()
    o.weights_before_dropout = int(cfg["weights_before_dropout"])
    return o, keep


lib.attn_sdpa_weights.argtypes = [_P(Tensor), _P(Tensor), _P(SdpaOptions), _P(ctypes.c_float),
                                  ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                  _P(Tensor)]
lib.attn_sdpa_weights.restype = ctypes.c_int
_FUSED_MAX_E = 256  # the fused kernel's widest head (larger ones run the reference kernel)


def _run_forward(q, k, v, bias, mask, cfg, need_weights):
    """(out4 in q's memory order, weights4 or an empty tensor, lse [B, Hq, Lq]).
    Weights without dropout (or before it) come from the fused kernel's log-sum-exp, head by
    head (attn_sdpa_weights); only weights after dropout need the reference kernel."""
    B, Hq, Lq, E = q.shape
    Lk, Ev = k.shape[2], v.shape[3]
    out = _empty_like_order(q, (B, Hq, Lq, Ev))
    lse = torch.empty((B, Hq, Lq), dtype=torch.float32)
    w = torch.empty((B, Hq, Lq, Lk) if need_weights else (0,), dtype=torch.float32)
    on_demand = need_weights and max(E, Ev) <= _FUSED_MAX_E and \
        (cfg["dropout_p"] == 0 or cfg["weights_before_dropout"])
    o, keep = _options(cfg, mask, bias)
    ov = _tview(out)
    wv = _tview(w) if need_weights and not on_demand else None
    qv, kv = _tview(q), _tview(k)
    lp = ctypes.cast(lse.data_ptr(), _P(ctypes.c_float))
    check(lib.attn_sdpa_forward(ctypes.byref(qv), ctypes.byref(kv), ctypes.byref(_tview(v)),
                                ctypes.byref(o), ctypes.byref(ov), lp,
                                None if wv is None else ctypes.byref(wv)))
    if on_demand and Lq > 0 and Lk > 0:
        for b in range(B):
            for h in range(Hq):
                check(lib.attn_sdpa_weights(ctypes.byref(qv), ctypes.byref(kv),
                                            ctypes.byref(o), lp, b, h, 0, Lq,
                                            ctypes.byref(_tview(w[b, h]))))
    del keep
    return out, w, lse


def _run_backward(q, k, v, bias, mask, out, lse, dout, cfg, dq, dk, dv, want_dbias):
    """Fills dq, dk, dv (any views, overwritten); returns dbias (bias's shape) or None."""
    if dout.dtype != torch.float32 or dout.device.type != "cpu":
        dout = dout.to(torch.float32).cpu()
    dbias = torch.empty(bias.shape, dtype=torch.float32) if want_dbias else None
    o, keep = _options(cfg, mask, bias)
    views = [_tview(x) for x in (out, dout, dq, dk, dv)]
    dbv = _tview(dbias) if want_dbias else None
    check(lib.attn_sdpa_backward(ctypes.byref(_tview(q)), ctypes.byref(_tview(k)),
                                 ctypes.byref(_tview(v)), ctypes.byref(views[0]),
                                 ctypes.cast(lse.data_ptr(), _P(ctypes.c_float)),
                                 ctypes.byref(views[1]), ctypes.byref(o),
                                 ctypes.byref(views[2]), ctypes.byref(views[3]),
                                 ctypes.byref(views[4]),
                                 None if dbv is None else ctypes.byref(dbv)))
    del keep
    return dbias


class _Sdpa(torch.autograd.Function):
    """forward(q4, k4, v4, bias4, mask4, cfg, need_weights) -> (out4, weights4 or empty).
    All 4-d float32 CPU views; bias4 is the float attn_mask (differentiable), mask4 the bool."""

    @staticmethod
    def forward(ctx, q, k, v, bias, mask, cfg, need_weights):
        out, w, lse = _run_forward(q, k, v, bias, mask, cfg, need_weights)
        ctx.cfg = cfg
        ctx.save_for_backward(q, k, v, bias, mask, out, lse)
        ctx.mark_non_differentiable(w)
        return out, w

    @staticmethod
    @once_differentiable
    def backward(ctx, dout, _dw):
        q, k, v, bias, mask, out, lse = ctx.saved_tensors
        dq, dk, dv = (_empty_like_order(t, t.shape) for t in (q, k, v))
        dbias = _run_backward(q, k, v, bias, mask, out, lse, dout, ctx.cfg, dq, dk, dv,
                              bias is not None and ctx.needs_input_grad[3])
        return dq, dk, dv, dbias, None, None, None


class _SdpaPacked(torch.autograd.Function):
    """Attention over q, k, v that are views of one tensor qkv (an in-projection's output):
    forward(qkv, split, bias4, mask4, cfg, need_weights), split(t) giving the (q4, k4, v4)
    views of any tensor shaped like qkv. The backward writes dq, dk, dv straight into one
    gradient of qkv, instead of autograd assembling three slices into a zeroed tensor."""

    @staticmethod
    def forward(ctx, qkv, split, bias, mask, cfg, need_weights):
        q, k, v = split(qkv)
        out, w, lse = _run_forward(q, k, v, bias, mask, cfg, need_weights)
        ctx.cfg, ctx.split = cfg, split
        ctx.save_for_backward(qkv, bias, mask, out, lse)
        ctx.mark_non_differentiable(w)
        return out, w

    @staticmethod
    @once_differentiable
    def backward(ctx, dout, _dw):
        qkv, bias, mask, out, lse = ctx.saved_tensors
        dqkv = torch.empty(qkv.shape, dtype=torch.float32)
        q, k, v = ctx.split(qkv)
        dq, dk, dv = ctx.split(dqkv)
        dbias = _run_backward(q, k, v, bias, mask, out, lse, dout, ctx.cfg, dq, dk, dv,
                              bias is not None and ctx.needs_input_grad[2])
        return dqkv, None, dbias, None, None, None


def _packed_attention(qkv, split, attn_mask, dropout_p, is_causal, need_weights):
    """(out4, weights4 or None) of attention over split(qkv) (4-d [B, H, L, E] views; see
    _SdpaPacked), PyTorch's scale, attn_mask in scaled_dot_product_attention's convention."""
    mask4 = bias4 = None
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            mask4 = _mask4(attn_mask, 4)
        else:
            bias4 = _mask4(attn_mask, 4)
    seed = int(torch.randint(0, 1 << 62, (), dtype=torch.int64)) if dropout_p > 0 else 0
    cfg = {"scale": None, "is_causal": bool(is_causal), "causal_align": "top_left",
           "key_lengths": None, "window": None, "alibi_slopes": None, "softcap": None,
           "dropout_p": float(dropout_p), "seed": seed, "offset": 0,
           "weights_before_dropout": False}
    out, w = _SdpaPacked.apply(qkv, split, bias4, mask4, cfg, bool(need_weights))
    return out, (w if need_weights else None)


# ------------------------------------------------------------------------------------------
# PyTorch's arithmetic, for the tensors attn does not compute on (fallback="torch")
# ------------------------------------------------------------------------------------------

def _torch_sdpa(q, k, v, attn_mask, dropout_p, is_causal, scale, enable_gqa):
    """PyTorch 2's documented reference implementation of scaled_dot_product_attention, in
    torch ops (any device or dtype; autograd as usual)."""
    Lq, Lk, E = q.shape[-2], k.shape[-2], q.shape[-1]
    s = 1.0 / math.sqrt(E) if scale is None else scale
    bias = torch.zeros(Lq, Lk, dtype=q.dtype, device=q.device)
    if is_causal:
        keep = torch.ones(Lq, Lk, dtype=torch.bool, device=q.device).tril()
        bias = bias.masked_fill(~keep, float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            bias = bias.masked_fill(~attn_mask, float("-inf"))
        else:
            bias = bias + attn_mask
    if enable_gqa and q.dim() == 4 and k.shape[-3] != q.shape[-3]:
        g = q.shape[-3] // k.shape[-3]
        k, v = k.repeat_interleave(g, -3), v.repeat_interleave(g, -3)
    w = torch.softmax(q @ k.transpose(-2, -1) * s + bias, dim=-1)
    if dropout_p > 0:
        w = F.dropout(w, dropout_p, training=True)
    return w @ v


# ------------------------------------------------------------------------------------------
# The public function
# ------------------------------------------------------------------------------------------

def _unsupported(q, k, v, attn_mask):
    """Why attn cannot compute this call on its own kernel ('' when it can)."""
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, torch.Tensor):
            return f"{name} is a {type(t).__name__}, not a torch.Tensor"
        if t.device.type != "cpu":
            return f"{name} is on {t.device}; attn computes on the CPU"
        if t.dtype != torch.float32:
            return f"{name} is {t.dtype}; attn computes in float32"
        if t.dim() not in (3, 4):
            return f"{name} has {t.dim()} dimensions; attn takes 3 ([N, L, E]) or 4"
        if t.is_sparse or t.is_nested:
            return f"{name} is not a strided tensor"
    if attn_mask is not None:
        if attn_mask.device.type != "cpu":
            return f"attn_mask is on {attn_mask.device}"
        if attn_mask.dtype not in (torch.bool, torch.float32):
            return f"attn_mask is {attn_mask.dtype}; attn takes bool or float32 masks"
    return ""


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False, *,
                                 causal_align="top_left", key_lengths=None, window=None,
                                 alibi_slopes=None, softcap=None, seed=None, offset=0,
                                 fallback=None, return_weights=False,
                                 weights_before_dropout=False):
    """torch.nn.functional.scaled_dot_product_attention on libattn's kernel (see the module
    doc). Returns the attention output [..., Hq, Lq, Ev].

    Keyword-only extensions: causal_align ("top_left" as PyTorch, or "bottom_right" for
    decoding with a cache), key_lengths ([B] ints: keys ≥ length are padding), window (w or
    (left, right)), alibi_slopes ([Hq]), softcap (> 0), seed/offset (the dropout stream; None:
    drawn from torch's generator), fallback ("error" | "torch"; None: get_fallback()),
    return_weights (also return the [B, Hq, Lq, Lk] weights, not differentiable, Lq×Lk memory;
    after dropout, as PyTorch's MultiheadAttention returns them, which takes the reference
    kernel, or before it with weights_before_dropout=True, recomputed from the fused kernel's
    log-sum-exp)."""
    why = _unsupported(query, key, value, attn_mask)
    if why:
        mode = _fallback if fallback is None else fallback
        if mode not in _FALLBACKS:
            raise ValueError(f"fallback={mode!r} must be one of {_FALLBACKS}")
        extras = (key_lengths, window, alibi_slopes, softcap)
        if mode == "torch" and causal_align == "top_left" and all(e is None for e in extras) \
                and not return_weights:
            return _torch_sdpa(query, key, value, attn_mask, dropout_p, is_causal, scale,
                               enable_gqa)
        raise TypeError(f"attn.torch: {why} (pass fallback='torch' to run PyTorch's own "
                        "attention for such tensors)")
    nd = query.dim()
    if key.dim() != nd or value.dim() != nd:
        raise ValueError(f"query, key, value have {nd}, {key.dim()}, {value.dim()} dimensions")
    q4, k4, v4 = (t.unsqueeze(1) if nd == 3 else t for t in (query, key, value))
    if q4.shape[1] != k4.shape[1] and not enable_gqa:
        raise ValueError(f"query has {q4.shape[1]} heads but key has {k4.shape[1]}: pass "
                         "enable_gqa=True for grouped-query attention")
    if scale is not None and not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale={scale} must be finite and > 0 (None: 1/sqrt(E))")
    if causal_align not in _ALIGN:
        raise ValueError(f"causal_align={causal_align!r} must be 'top_left' or 'bottom_right'")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p={dropout_p} must be in [0, 1)")
    mask4 = bias4 = None
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            mask4 = _mask4(attn_mask, nd)
        else:
            bias4 = _mask4(attn_mask, nd)
    B, Hq = q4.shape[0], q4.shape[1]
    if key_lengths is not None:
        key_lengths = torch.as_tensor(key_lengths, dtype=torch.int32).contiguous()
        if tuple(key_lengths.shape) != (B,):
            raise ValueError(f"key_lengths has shape {tuple(key_lengths.shape)}, expected ({B},)")
    if window is not None:
        window = (int(window), int(window)) if isinstance(window, int) else \
            (int(window[0]), int(window[1]))
    if alibi_slopes is not None:
        alibi_slopes = torch.as_tensor(alibi_slopes, dtype=torch.float32).contiguous()
        if tuple(alibi_slopes.shape) != (Hq,):
            raise ValueError(f"alibi_slopes has shape {tuple(alibi_slopes.shape)}, "
                             f"expected ({Hq},)")
    if softcap is not None and not softcap > 0:
        raise ValueError(f"softcap={softcap} must be > 0 (None: off)")
    if dropout_p > 0 and seed is None:
        seed = int(torch.randint(0, 1 << 62, (), dtype=torch.int64))
    cfg = {"scale": None if scale is None else float(scale), "is_causal": bool(is_causal),
           "causal_align": causal_align, "key_lengths": key_lengths, "window": window,
           "alibi_slopes": alibi_slopes, "softcap": None if softcap is None else float(softcap),
           "dropout_p": float(dropout_p), "seed": int(seed or 0), "offset": int(offset),
           "weights_before_dropout": bool(weights_before_dropout)}
    out4, w = _Sdpa.apply(q4, k4, v4, bias4, mask4, cfg, bool(return_weights))
    out = out4.squeeze(1) if nd == 3 else out4
    if return_weights:
        return out, (w.squeeze(1) if nd == 3 else w)
    return out


from .torch_mha import MultiheadAttention, patch, unpatch  # noqa: E402,F401
