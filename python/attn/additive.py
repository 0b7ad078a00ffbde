"""Additive (Bahdanau) attention, positional encodings (sinusoidal, learned, RoPE, ALiBi) and the
GRU (torch.nn.GRU layout), over NumPy float32 arrays."""
import ctypes

import numpy as np

from ._lib import lib, check, view, bool_view, as_f32, fptr, Tensor

_p = ctypes.POINTER
_f = _p(ctypes.c_float)
_i32p = _p(ctypes.c_int32)


class AdditiveParams(ctypes.Structure):
    _fields_ = [("A", ctypes.c_int64), ("w_q", _f), ("w_k", _f), ("b", _f), ("v", _f)]


class AdditiveOptions(ctypes.Structure):
    _fields_ = [("mask", ctypes.c_void_p), ("key_lengths", _i32p), ("num_threads", ctypes.c_int)]


lib.attn_additive_cache_create.argtypes = [ctypes.c_int64] * 4 + [_p(ctypes.c_void_p)]
lib.attn_additive_cache_free.argtypes = [ctypes.c_void_p]
lib.attn_additive_cache_free.restype = None
lib.attn_additive_forward.argtypes = [_p(Tensor)] * 3 + [_p(AdditiveParams), _p(AdditiveOptions),
                                                        _p(Tensor), _p(Tensor), ctypes.c_void_p]
lib.attn_additive_backward.argtypes = [_p(Tensor)] * 3 + [_p(AdditiveParams), _p(AdditiveOptions),
                                                         ctypes.c_void_p] + [_p(Tensor)] * 4 + \
    [_p(AdditiveParams)]


def _ref(t):
    return None if t is None else ctypes.byref(t)


def _i32(a):
    return None if a is None else np.ascontiguousarray(a, dtype=np.int32)


class AdditiveContext:
    """What additive_attention_backward needs: the inputs and the library's cache."""

    def __init__(self):
        self.handle = ctypes.c_void_p()

    def __del__(self):
        if self.handle:
            lib.attn_additive_cache_free(self.handle)
            self.handle = ctypes.c_void_p()


def _additive_setup(ctx):
    q, k, values = ctx.q, ctx.k, ctx.values
    prm = AdditiveParams(ctx.w_q.shape[0], fptr(ctx.w_q), fptr(ctx.w_k), fptr(ctx.b), fptr(ctx.v))
    opt = AdditiveOptions()
    ctx._keep = []
    if ctx.mask is not None:
        mv = bool_view(ctx.mask, "mask")
        ctx._keep.append(mv)
        opt.mask = ctypes.cast(ctypes.pointer(mv), ctypes.c_void_p)
    if ctx.key_lengths is not None:
        opt.key_lengths = ctx.key_lengths.ctypes.data_as(_i32p)
    return view(q, "q"), view(k, "k"), view(values, "values"), prm, opt


def additive_attention(q, k, values, w_q, w_k, v, b=None, mask=None, key_lengths=None,
                       return_context=False):
    """out [B, Lq, Dv], weights [B, Lq, Lk] (and a context for backward if asked).

    q [B, Lq, Dq], k [B, Lk, Dk], values [B, Lk, Dv], w_q [A, Dq], w_k [A, Dk], v [A], b [A];
    w_k None: k holds projected keys [B, Lk, A] (then dk is the gradient w.r.t. them);
    mask bool [B|1, Lq|1, Lk] (True = attend); key_lengths int [B]."""
    ctx = AdditiveContext()
    ctx.q, ctx.k, ctx.values = as_f32(q, "q"), as_f32(k, "k"), as_f32(values, "values")
    ctx.w_q = np.ascontiguousarray(w_q, dtype=np.float32)
    ctx.w_k = None if w_k is None else np.ascontiguousarray(w_k, dtype=np.float32)
    ctx.v = np.ascontiguousarray(v, dtype=np.float32)
    ctx.b = None if b is None else np.ascontiguousarray(b, dtype=np.float32)
    ctx.mask = None if mask is None else np.asarray(mask, dtype=np.bool_)
    ctx.key_lengths = _i32(key_lengths)
    B, Lq, Lk = ctx.q.shape[0], ctx.q.shape[1], ctx.k.shape[1]
    Dv = ctx.values.shape[2]
    out = np.empty((B, Lq, Dv), np.float32)
    weights = np.empty((B, Lq, Lk), np.float32)
    tq, tk, tv, prm, opt = _additive_setup(ctx)
    check(lib.attn_additive_cache_create(B, Lq, Lk, ctx.w_q.shape[0], ctypes.byref(ctx.handle)))
    check(lib.attn_additive_forward(tq, tk, tv, prm, opt, view(out), view(weights), ctx.handle))
    return (out, weights, ctx) if return_context else (out, weights)


def additive_attention_backward(ctx, dout):
    """Gradients as a dict: dq, dk, dvalues, dw_q, dw_k, db, dv."""
    dout = as_f32(dout, "dout")
    g = {"dq": np.empty(ctx.q.shape, np.float32), "dk": np.empty(ctx.k.shape, np.float32),
         "dvalues": np.empty(ctx.values.shape, np.float32),
         "dw_q": np.zeros_like(ctx.w_q),
         "dw_k": None if ctx.w_k is None else np.zeros_like(ctx.w_k),
         "db": np.zeros(ctx.w_q.shape[0], np.float32), "dv": np.zeros_like(ctx.v)}
    tq, tk, tv, prm, opt = _additive_setup(ctx)
    grads = AdditiveParams(ctx.w_q.shape[0], fptr(g["dw_q"]), fptr(g["dw_k"]), fptr(g["db"]),
                           fptr(g["dv"]))
    check(lib.attn_additive_backward(tq, tk, tv, prm, opt, ctx.handle, view(dout), view(g["dq"]),
                                     view(g["dk"]), view(g["dvalues"]), grads))
    return g


# ---------------------------------------------------------------- positional encodings
class RopeOptions(ctypes.Structure):
    _fields_ = [("pairing", ctypes.c_int), ("base", ctypes.c_float), ("offset", ctypes.c_int64),
                ("batch_offsets", _i32p), ("rotary_dim", ctypes.c_int64),
                ("num_threads", ctypes.c_int)]


lib.attn_posenc_sinusoidal.argtypes = [_f, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                       ctypes.c_float]
lib.attn_posenc_learned_forward.argtypes = [_p(Tensor), _f, ctypes.c_int64, ctypes.c_int64,
                                            _p(Tensor)]
lib.attn_posenc_learned_backward.argtypes = [_p(Tensor), ctypes.c_int64, ctypes.c_int64,
                                             _p(Tensor), _f]
lib.attn_rope_forward.argtypes = [_p(Tensor), _p(RopeOptions), _p(Tensor)]
lib.attn_rope_backward.argtypes = [_p(Tensor), _p(RopeOptions), _p(Tensor)]
lib.attn_alibi_slopes.argtypes = [_f, ctypes.c_int64]

ROPE_PAIRING = {"half": 0, "neox": 0, "interleaved": 1, "gptj": 1}


def sinusoidal(L, d, offset=0, base=0.0):
    """The [L, d] sinusoidal table of "Attention is all you need" (base 0 = 10000)."""
    out = np.empty((L, d), np.float32)
    check(lib.attn_posenc_sinusoidal(fptr(out), L, d, offset, base))
    return out


def learned_positions(x, table, offset=0):
    """x [B, L, D] + table[offset:offset+L]."""
    x = as_f32(x, "x")
    table = np.ascontiguousarray(table, dtype=np.float32)
    y = np.empty(x.shape, np.float32)
    check(lib.attn_posenc_learned_forward(view(x), fptr(table), table.shape[0], offset, view(y)))
    return y


def learned_positions_backward(dy, table_shape, offset=0):
    """(dx, dtable) for learned_positions."""
    dy = as_f32(dy, "dy")
    dx = np.empty(dy.shape, np.float32)
    dtable = np.zeros(table_shape, np.float32)
    check(lib.attn_posenc_learned_backward(view(dy), table_shape[0], offset, view(dx),
                                           fptr(dtable)))
    return dx, dtable


def _rope_opts(pairing, base, offset, batch_offsets, rotary_dim):
    opt = RopeOptions(ROPE_PAIRING[pairing], base, offset, None, rotary_dim, 0)
    bo = _i32(batch_offsets)
    if bo is not None:
        opt.batch_offsets = bo.ctypes.data_as(_i32p)
    return opt, bo


def rope(x, pairing="half", base=0.0, offset=0, batch_offsets=None, rotary_dim=0, backward=False):
    """Rotary embedding of x [B, H, L, E] ("half" = GPT-NeoX/LLaMA, "interleaved" = GPT-J);
    backward=True applies the inverse rotation (the gradient)."""
    x = as_f32(x, "x")
    y = np.empty(x.shape, np.float32)
    opt, _keep = _rope_opts(pairing, base, offset, batch_offsets, rotary_dim)
    f = lib.attn_rope_backward if backward else lib.attn_rope_forward
    check(f(view(x), ctypes.byref(opt), view(y)))
    return y


def alibi_slopes(H):
    s = np.empty(H, np.float32)
    check(lib.attn_alibi_slopes(fptr(s), H))
    return s


# ---------------------------------------------------------------- GRU (torch.nn.GRU layout)
class GruConfig(ctypes.Structure):
    _fields_ = [("input_size", ctypes.c_int64), ("hidden_size", ctypes.c_int64),
                ("num_layers", ctypes.c_int), ("bidirectional", ctypes.c_int),
                ("batch_first", ctypes.c_int), ("no_bias", ctypes.c_int),
                ("num_threads", ctypes.c_int)]


class TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 48), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int64 * 2), ("offset", ctypes.c_int64),
                ("numel", ctypes.c_int64)]


lib.attn_gru_num_params.argtypes = [_p(GruConfig), _p(ctypes.c_int), _p(ctypes.c_int64)]
lib.attn_gru_param_info.argtypes = [_p(GruConfig), ctypes.c_int, _p(TensorInfo)]
lib.attn_gru_cache_create.argtypes = [_p(GruConfig), ctypes.c_int64, ctypes.c_int64,
                                      _p(ctypes.c_void_p)]
lib.attn_gru_cache_free.argtypes = [ctypes.c_void_p]
lib.attn_gru_cache_free.restype = None
lib.attn_gru_forward.argtypes = [_p(GruConfig), _p(_f), _p(Tensor), _p(Tensor), _i32p,
                                 _p(Tensor), _p(Tensor), ctypes.c_void_p]
lib.attn_gru_backward.argtypes = [_p(GruConfig), _p(_f), ctypes.c_void_p, _p(Tensor), _p(Tensor),
                                  _p(Tensor), _p(Tensor), _p(_f)]


class GRU:
    """torch.nn.GRU over NumPy: parameters in one flat float32 array laid out as the
    state_dict (see .table); forward(x, h0, lengths) and backward(dy, dh_n)."""

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 bidirectional=False):
        self.cfg = GruConfig(input_size, hidden_size, num_layers, int(bidirectional),
                             int(batch_first), int(not bias), 0)
        self.D = 2 if bidirectional else 1
        nt, nf = ctypes.c_int(), ctypes.c_int64()
        check(lib.attn_gru_num_params(self.cfg, ctypes.byref(nt), ctypes.byref(nf)))
        self.table = []
        for i in range(nt.value):
            info = TensorInfo()
            check(lib.attn_gru_param_info(self.cfg, i, ctypes.byref(info)))
            shape = tuple(info.shape[: info.ndim])
            self.table.append((info.name.decode(), shape, info.offset))
        self.params = np.zeros(nf.value, np.float32)
        self._cache = ctypes.c_void_p()
        self._cache_key = None

    def __del__(self):
        if self._cache:
            lib.attn_gru_cache_free(self._cache)

    def _table(self, flat):
        """C array of float* to each tensor of a flat array (keep flat alive)."""
        base = flat.ctypes.data
        return (_f * len(self.table))(*[ctypes.cast(base + 4 * off, _f)
                                        for _, _, off in self.table])

    def load_state_dict(self, sd):
        for name, shape, off in self.table:
            a = np.asarray(sd[name], np.float32)
            if a.shape != shape:
                raise ValueError(f"{name}: shape {a.shape}, expected {shape}")
            self.params[off: off + a.size] = a.ravel()

    def unflatten(self, flat):
        """dict name -> array view of a flat array (parameters or gradients)."""
        return {n: flat[o: o + int(np.prod(s))].reshape(s) for n, s, o in self.table}

    def forward(self, x, h0=None, lengths=None):
        x = as_f32(x, "x")
        L, B = (x.shape[1], x.shape[0]) if self.cfg.batch_first else (x.shape[0], x.shape[1])
        H = self.cfg.hidden_size
        y = np.empty((B, L, self.D * H) if self.cfg.batch_first else (L, B, self.D * H),
                     np.float32)
        h_n = np.empty((self.cfg.num_layers * self.D, B, H), np.float32)
        if self._cache_key != (L, B):
            if self._cache:
                lib.attn_gru_cache_free(self._cache)
                self._cache = ctypes.c_void_p()
            check(lib.attn_gru_cache_create(self.cfg, L, B, ctypes.byref(self._cache)))
            self._cache_key = (L, B)
        lens = _i32(lengths)
        self._h0 = None if h0 is None else as_f32(h0, "h0")
        check(lib.attn_gru_forward(self.cfg, self._table(self.params), view(x),
                                   None if h0 is None else view(self._h0),
                                   None if lens is None else lens.ctypes.data_as(_i32p),
                                   view(y), view(h_n), self._cache))
        self._x_shape = x.shape
        return y, h_n

    def backward(self, dy=None, dh_n=None):
        """(dx, dh0, dparams flat) for the last forward."""
        dx = np.empty(self._x_shape, np.float32)
        B = self._cache_key[1]
        dh0 = np.empty((self.cfg.num_layers * self.D, B, self.cfg.hidden_size), np.float32)
        dparams = np.zeros_like(self.params)
        dy = None if dy is None else as_f32(dy, "dy")
        dh_n = None if dh_n is None else as_f32(dh_n, "dh_n")
        check(lib.attn_gru_backward(self.cfg, self._table(self.params), self._cache,
                                    None if dy is None else view(dy),
                                    None if dh_n is None else view(dh_n), view(dx), view(dh0),
                                    self._table(dparams)))
        return dx, dh0, dparams


# ---------------------------------------------------------------- Bahdanau decoder step
class BahdanauConfig(ctypes.Structure):
    _fields_ = [("hidden_size", ctypes.c_int64), ("enc_size", ctypes.c_int64),
                ("emb_size", ctypes.c_int64), ("attn_size", ctypes.c_int64),
                ("out_size", ctypes.c_int64), ("num_threads", ctypes.c_int)]


BAHDANAU_FIELDS = ["attn_w_q", "attn_w_k", "attn_b", "attn_v", "weight_ih", "weight_hh",
                   "bias_ih", "bias_hh", "w_out", "b_out"]


class BahdanauParams(ctypes.Structure):
    _fields_ = [(n, _f) for n in BAHDANAU_FIELDS]


lib.attn_bahdanau_cache_create.argtypes = [_p(BahdanauConfig), ctypes.c_int64, ctypes.c_int64,
                                           _p(ctypes.c_void_p)]
lib.attn_bahdanau_cache_free.argtypes = [ctypes.c_void_p]
lib.attn_bahdanau_cache_free.restype = None
lib.attn_bahdanau_step_forward.argtypes = [_p(BahdanauConfig), _p(BahdanauParams),
                                           _p(AdditiveOptions), _f, _p(Tensor), _p(Tensor), _f, _f,
                                           _f, _f, _f, ctypes.c_void_p]
lib.attn_bahdanau_step_backward.argtypes = [_p(BahdanauConfig), _p(BahdanauParams),
                                            _p(AdditiveOptions), _f, _p(Tensor), _p(Tensor), _f,
                                            ctypes.c_void_p, _f, _f, _f, _p(Tensor), _p(Tensor),
                                            _f, _p(BahdanauParams)]


class BahdanauStep:
    """One decoder step; params: dict of the BAHDANAU_FIELDS arrays (biases may be None)."""

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __init__(self, hidden_size, enc_size, emb_size, attn_size, out_size, params):
        self.cfg = BahdanauConfig(hidden_size, enc_size, emb_size, attn_size, out_size, 0)
        self.params = {n: None if params.get(n) is None else
                       np.ascontiguousarray(params[n], dtype=np.float32) for n in BAHDANAU_FIELDS}
        self._cache = ctypes.c_void_p()
        self._key = None

    def __del__(self):
        if self._cache:
            lib.attn_bahdanau_cache_free(self._cache)

    def _struct(self, d):
        return BahdanauParams(*[fptr(d[n]) if d.get(n) is not None else None
                                for n in BAHDANAU_FIELDS])

    def _opt(self, key_lengths):
        opt = AdditiveOptions()
        self._lens = _i32(key_lengths)
        if self._lens is not None:
            opt.key_lengths = self._lens.ctypes.data_as(_i32p)
        return opt

    def forward(self, s_prev, enc, emb, key_lengths=None):
        """(s, ctx, weights, out)."""
        self.s_prev = np.ascontiguousarray(s_prev, dtype=np.float32)
        self.enc = as_f32(enc, "enc")
        self.emb = np.ascontiguousarray(emb, dtype=np.float32)
        B, Lk = self.enc.shape[0], self.enc.shape[1]
        c = self.cfg
        if self._key != (B, Lk):
            if self._cache:
                lib.attn_bahdanau_cache_free(self._cache)
                self._cache = ctypes.c_void_p()
            check(lib.attn_bahdanau_cache_create(c, B, Lk, ctypes.byref(self._cache)))
            self._key = (B, Lk)
        s = np.empty((B, c.hidden_size), np.float32)
        ctx = np.empty((B, c.enc_size), np.float32)
        w = np.empty((B, Lk), np.float32)
        out = np.empty((B, c.out_size), np.float32)
        self.key_lengths = key_lengths
        check(lib.attn_bahdanau_step_forward(c, self._struct(self.params), self._opt(key_lengths),
                                             fptr(self.s_prev), view(self.enc), None,
                                             fptr(self.emb),
                                             fptr(s), fptr(ctx), fptr(w), fptr(out), self._cache))
        return s, ctx, w, out

    def backward(self, dout, ds=None):
        """(ds_prev, denc, demb, grads dict) for the last forward."""
        dout = np.ascontiguousarray(dout, dtype=np.float32)
        ds = None if ds is None else np.ascontiguousarray(ds, dtype=np.float32)
        ds_prev = np.empty_like(self.s_prev)
        denc = np.zeros(self.enc.shape, np.float32)
        demb = np.empty_like(self.emb)
        grads = {n: np.zeros_like(v) for n, v in self.params.items() if v is not None}
        check(lib.attn_bahdanau_step_backward(self.cfg, self._struct(self.params),
                                              self._opt(self.key_lengths), fptr(self.s_prev),
                                              view(self.enc), None, fptr(self.emb), self._cache,
                                              fptr(dout), fptr(ds), fptr(ds_prev), view(denc),
                                              None, fptr(demb), self._struct(grads)))
        return ds_prev, denc, demb, grads


def gru(x, state_dict, h0=None, lengths=None, batch_first=False):
    """One-shot torch.nn.GRU forward from a state_dict (sizes read from its shapes):
    returns (y, h_n). For training keep a GRU object (forward + backward)."""
    names = list(state_dict)
    layers = 1 + max(int(n.split("_l")[1].split("_")[0]) for n in names)
    bidir = any(n.endswith("_reverse") for n in names)
    w = np.asarray(state_dict["weight_ih_l0"])
    g = GRU(w.shape[1], w.shape[0] // 3, layers, bias="bias_ih_l0" in state_dict,
            batch_first=batch_first, bidirectional=bidir)
    g.load_state_dict(state_dict)
    return g.forward(x, h0, lengths)


lib.attn_bahdanau_decoder_cache_create.argtypes = [_p(BahdanauConfig), ctypes.c_int64,
                                                   ctypes.c_int64, ctypes.c_int64,
                                                   _p(ctypes.c_void_p)]
lib.attn_bahdanau_decoder_cache_free.argtypes = [ctypes.c_void_p]
lib.attn_bahdanau_decoder_cache_free.restype = None
lib.attn_bahdanau_decoder_forward.argtypes = [_p(BahdanauConfig), _p(BahdanauParams),
                                              _p(AdditiveOptions), _p(Tensor), _f, _p(Tensor),
                                              _p(Tensor), _p(Tensor), _f, ctypes.c_void_p]
lib.attn_bahdanau_decoder_backward.argtypes = [_p(BahdanauConfig), _p(BahdanauParams),
                                               _p(AdditiveOptions), _p(Tensor), _f, _p(Tensor),
                                               ctypes.c_void_p, _p(Tensor), _f, _p(Tensor), _f,
                                               _p(Tensor), _p(BahdanauParams)]


class BahdanauDecoder(BahdanauStep):
    """T teacher-forced steps: forward(enc, s0, emb [B, T, Dm]) -> (out [B, T, Do],
    weights [B, T, Lk], s_last); backward(dout, ds_last) -> (denc, ds0, demb, grads)."""

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def __del__(self):
        if self._cache:
            lib.attn_bahdanau_decoder_cache_free(self._cache)
            self._cache = ctypes.c_void_p()

    def forward(self, enc, s0, emb, key_lengths=None):
        self.enc = as_f32(enc, "enc")
        self.s0 = np.ascontiguousarray(s0, dtype=np.float32)
        self.emb = as_f32(emb, "emb")
        B, Lk = self.enc.shape[0], self.enc.shape[1]
        T = self.emb.shape[1]
        c = self.cfg
        if self._key != (B, T, Lk):
            if self._cache:
                lib.attn_bahdanau_decoder_cache_free(self._cache)
                self._cache = ctypes.c_void_p()
            check(lib.attn_bahdanau_decoder_cache_create(c, B, T, Lk, ctypes.byref(self._cache)))
            self._key = (B, T, Lk)
        out = np.empty((B, T, c.out_size), np.float32)
        w = np.empty((B, T, Lk), np.float32)
        s_last = np.empty((B, c.hidden_size), np.float32)
        self.key_lengths = key_lengths
        check(lib.attn_bahdanau_decoder_forward(c, self._struct(self.params),
                                                self._opt(key_lengths), view(self.enc),
                                                fptr(self.s0), view(self.emb), view(out), view(w),
                                                fptr(s_last), self._cache))
        return out, w, s_last

    def backward(self, dout, ds_last=None):
        dout = as_f32(dout, "dout")
        ds_last = None if ds_last is None else np.ascontiguousarray(ds_last, dtype=np.float32)
        denc = np.empty(self.enc.shape, np.float32)
        ds0 = np.empty_like(self.s0)
        demb = np.empty(self.emb.shape, np.float32)
        grads = {n: np.zeros_like(v) for n, v in self.params.items() if v is not None}
        check(lib.attn_bahdanau_decoder_backward(self.cfg, self._struct(self.params),
                                                 self._opt(self.key_lengths), view(self.enc),
                                                 fptr(self.s0), view(self.emb), self._cache,
                                                 view(dout), fptr(ds_last), view(denc),
                                                 fptr(ds0), view(demb), self._struct(grads)))
        return denc, ds0, demb, grads
