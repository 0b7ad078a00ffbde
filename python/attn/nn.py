"""The training stack through ctypes: parameter tables, the tape, layers, optimisers.

A Python module here owns a parameter table (names = PyTorch state_dict names) and a tape.
forward(...) records on the tape; backward(dout) runs the tape in reverse and returns the
gradients of the inputs and of every parameter, by name.
"""
import ctypes

import numpy as np

from ._lib import lib, check, f32

_MAX_DIMS = 4
c_f32p = ctypes.POINTER(ctypes.c_float)


class Param(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 128), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int64 * _MAX_DIMS), ("numel", ctypes.c_int64),
                ("data", c_f32p), ("grad", c_f32p), ("no_weight_decay", ctypes.c_int)]


class Var(ctypes.Structure):
    _fields_ = [("data", c_f32p), ("grad", c_f32p), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int64 * _MAX_DIMS), ("numel", ctypes.c_int64),
                ("requires_grad", ctypes.c_int), ("param", ctypes.POINTER(Param))]


class TapeConfig(ctypes.Structure):
    _fields_ = [("arena_bytes", ctypes.c_size_t), ("num_threads", ctypes.c_int),
                ("seed", ctypes.c_uint64)]


class MhaConfig(ctypes.Structure):
    _fields_ = [("embed_dim", ctypes.c_int64), ("num_heads", ctypes.c_int64),
                ("kdim", ctypes.c_int64), ("vdim", ctypes.c_int64), ("no_bias", ctypes.c_int),
                ("add_bias_kv", ctypes.c_int), ("add_zero_attn", ctypes.c_int),
                ("dropout", ctypes.c_float), ("batch_first", ctypes.c_int)]


class MhaArgs(ctypes.Structure):
    _fields_ = [("key_padding_mask", ctypes.POINTER(ctypes.c_uint8)),
                ("key_padding_bias", c_f32p),
                ("attn_mask", ctypes.POINTER(ctypes.c_uint8)), ("attn_bias", c_f32p),
                ("attn_mask_3d", ctypes.c_int), ("is_causal", ctypes.c_int),
                ("need_weights", ctypes.c_int), ("per_head_weights", ctypes.c_int)]


class TransformerConfig(ctypes.Structure):
    _fields_ = [("d_model", ctypes.c_int64), ("nhead", ctypes.c_int64),
                ("dim_feedforward", ctypes.c_int64), ("dropout", ctypes.c_float),
                ("activation", ctypes.c_int), ("layer_norm_eps", ctypes.c_float),
                ("batch_first", ctypes.c_int), ("norm_first", ctypes.c_int)]


class CeOptions(ctypes.Structure):
    _fields_ = [("ignore_index", ctypes.c_int32), ("label_smoothing", ctypes.c_float)]


class OptimConfig(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("momentum", ctypes.c_float),
                ("dampening", ctypes.c_float), ("weight_decay", ctypes.c_float),
                ("nesterov", ctypes.c_int), ("beta1", ctypes.c_float), ("beta2", ctypes.c_float),
                ("eps", ctypes.c_float)]


class Schedule(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("base_lr", ctypes.c_float),
                ("warmup_steps", ctypes.c_int64), ("total_steps", ctypes.c_int64),
                ("min_ratio", ctypes.c_float)]


VarP = ctypes.POINTER(Var)
lib.attn_params_at.restype = ctypes.POINTER(Param)
lib.attn_params_find.restype = ctypes.POINTER(Param)
lib.attn_params_numel.restype = ctypes.c_int64
lib.attn_nn_sizeof.restype = ctypes.c_size_t
lib.attn_nn_sizeof.argtypes = [ctypes.c_char_p]
lib.attn_params_create.argtypes = [ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p)]
lib.attn_params_free.argtypes = [ctypes.c_void_p]
lib.attn_tape_free.argtypes = [ctypes.c_void_p]
lib.attn_optim_free.argtypes = [ctypes.c_void_p]
lib.attn_optim_step.argtypes = [ctypes.c_void_p, ctypes.c_float]
lib.attn_clip_grad_norm.argtypes = [ctypes.c_void_p, ctypes.c_float, ctypes.POINTER(ctypes.c_float)]
lib.attn_schedule_lr.restype = ctypes.c_float
lib.attn_schedule_lr.argtypes = [ctypes.POINTER(Schedule), ctypes.c_int64]
lib.attn_op_dropout.argtypes = [ctypes.c_void_p, VarP, ctypes.c_float, ctypes.POINTER(VarP)]

_vp, _i64, _f = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
lib.attn_linear_init.argtypes = [_vp, _vp, ctypes.c_char_p, _i64, _i64, ctypes.c_int]
lib.attn_embedding_init.argtypes = [_vp, _vp, ctypes.c_char_p, _i64, _i64, _i64]
lib.attn_layernorm_init.argtypes = [_vp, _vp, ctypes.c_char_p, _i64, _f, ctypes.c_int]
lib.attn_mha_init.argtypes = [_vp, _vp, ctypes.c_char_p, ctypes.POINTER(MhaConfig)]
lib.attn_tape_set_training.argtypes = [_vp, ctypes.c_int]

ACT = {"relu": 0, "gelu": 1, "gelu_tanh": 2}


def _array(ptr, shape):
    n = int(np.prod(shape))
    return np.ctypeslib.as_array(ptr, shape=(n,)).reshape(shape).copy()


def var_data(v):
    v = v.contents
    return _array(v.data, tuple(v.shape[:v.ndim]))


def var_grad(v):
    v = v.contents
    shape = tuple(v.shape[:v.ndim])
    return np.zeros(shape, np.float32) if not v.grad else _array(v.grad, shape)


class Params:
    """attn_params: the table of (name, shape, data, grad)."""

    def __init__(self, seed=0):
        self.ptr = ctypes.c_void_p()
        check(lib.attn_params_create(seed, ctypes.byref(self.ptr)))

    def __del__(self):
        if getattr(self, "ptr", None):
            lib.attn_params_free(self.ptr)
            self.ptr = None

    def __len__(self):
        return lib.attn_params_count(self.ptr)

    def items(self):
        for i in range(len(self)):
            yield lib.attn_params_at(self.ptr, i).contents

    def names(self):
        return [p.name.decode() for p in self.items()]

    def state_dict(self):
        return {p.name.decode(): _array(p.data, tuple(p.shape[:p.ndim])) for p in self.items()}

    def grads(self):
        # a parameter no backward reached has no gradient buffer yet: its gradient is 0
        return {p.name.decode(): _array(p.grad, tuple(p.shape[:p.ndim])) if p.grad
                else np.zeros(tuple(p.shape[:p.ndim]), np.float32) for p in self.items()}

    def load_state_dict(self, d, strict=True):
        names = set(self.names())
        if strict and set(d) != names:
            raise ValueError(f"missing {sorted(names - set(d))}, unexpected {sorted(set(d) - names)}")
        for p in self.items():
            name = p.name.decode()
            if name not in d:
                continue
            a = np.ascontiguousarray(np.asarray(d[name], dtype=np.float32))
            if a.shape != tuple(p.shape[:p.ndim]):
                raise ValueError(f"{name}: shape {a.shape}, expected {tuple(p.shape[:p.ndim])}")
            ctypes.memmove(p.data, a.ctypes.data, a.nbytes)

    def zero_grad(self):
        lib.attn_params_zero_grad(self.ptr)

    def set_no_weight_decay(self, names):
        """The optimisers apply no weight decay to these parameters."""
        names = set(names)
        for i in range(len(self)):
            p = lib.attn_params_at(self.ptr, i)
            if p.contents.name.decode() in names:
                p.contents.no_weight_decay = 1

    def numel(self):
        return lib.attn_params_numel(self.ptr)


class Tape:
    def __init__(self, seed=0, num_threads=0):
        self.ptr = ctypes.c_void_p()
        cfg = TapeConfig(0, num_threads, seed)
        check(lib.attn_tape_create(ctypes.byref(cfg), ctypes.byref(self.ptr)))

    def __del__(self):
        if getattr(self, "ptr", None):
            lib.attn_tape_free(self.ptr)
            self.ptr = None

    def reset(self):
        check(lib.attn_tape_reset(self.ptr))

    def set_training(self, on):
        lib.attn_tape_set_training(self.ptr, int(bool(on)))

    def training(self):
        return bool(lib.attn_tape_training(self.ptr))

    def input(self, a, requires_grad=True):
        a = np.ascontiguousarray(f32(a, "input"))
        shape = (ctypes.c_int64 * _MAX_DIMS)(*a.shape)
        v = VarP()
        check(lib.attn_tape_input(self.ptr, a.ctypes.data_as(c_f32p), a.ndim, shape,
                                  int(requires_grad), ctypes.byref(v)))
        return v

    def backward(self, y, dy=None):
        if dy is not None:
            dy = np.ascontiguousarray(f32(dy, "dy"))
            if dy.size != y.contents.numel:
                raise ValueError("dy has the wrong size")
        check(lib.attn_tape_backward(self.ptr, y, None if dy is None else dy.ctypes.data_as(c_f32p)))


class Module:
    """Owns a parameter table, a tape and the C struct of one layer."""
    struct_name = None

    def __init__(self, seed=0, num_threads=0):
        self.params = Params(seed)
        self.tape = Tape(seed, num_threads)
        self.struct = ctypes.create_string_buffer(max(lib.attn_nn_sizeof(self.struct_name.encode()), 8))
        self.training = True
        self._inputs = {}
        self._out = None

    def train(self, mode=True):
        self.training = mode
        self.tape.set_training(mode)
        return self

    def eval(self):
        return self.train(False)

    def __call__(self, *args, **kwargs):
        """module(...) is module.forward(...), as in PyTorch."""
        return self.forward(*args, **kwargs)

    def state_dict(self):
        return self.params.state_dict()

    def load_state_dict(self, d, strict=True):
        self.params.load_state_dict({k: (v.detach().cpu().numpy() if hasattr(v, "detach") else v)
                                     for k, v in d.items()}, strict)

    def _begin(self):
        self.tape.reset()
        self._inputs = {}

    def _input(self, name, a, requires_grad=True):
        v = self.tape.input(a, requires_grad)
        self._inputs[name] = v
        return v

    def backward(self, dout, accumulate=False):
        """Gradients: inputs by name (overwritten) and parameters by state_dict name."""
        if not accumulate:
            self.params.zero_grad()
        self.tape.backward(self._out, dout)
        g = {k: var_grad(v) for k, v in self._inputs.items()}
        g.update(self.params.grads())
        return g


class Linear(Module):
    struct_name = "attn_linear"

    def __init__(self, in_features, out_features, bias=True, seed=0):
        super().__init__(seed)
        check(lib.attn_linear_init(self.struct, self.params.ptr, b"", in_features, out_features,
                                   int(bias)))

    def forward(self, x):
        self._begin()
        y = VarP()
        check(lib.attn_linear_forward(self.tape.ptr, self.struct, self._input("input", x),
                                      ctypes.byref(y)))
        self._out = y
        return var_data(y)


class Embedding(Module):
    struct_name = "attn_embedding"

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, seed=0):
        super().__init__(seed)
        pi = -1 if padding_idx is None else padding_idx
        check(lib.attn_embedding_init(self.struct, self.params.ptr, b"", ctypes.c_int64(num_embeddings),
                                      ctypes.c_int64(embedding_dim), ctypes.c_int64(pi)))

    def forward(self, ids):
        self._begin()
        ids = np.ascontiguousarray(np.asarray(ids, dtype=np.int32))
        shape = (ctypes.c_int64 * _MAX_DIMS)(*ids.shape)
        y = VarP()
        check(lib.attn_embedding_forward(self.tape.ptr, self.struct,
                                         ids.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                                         ids.ndim, shape, ctypes.byref(y)))
        self._out = y
        return var_data(y)


class LayerNorm(Module):
    struct_name = "attn_layernorm"

    def __init__(self, dim, eps=1e-5, elementwise_affine=True, seed=0):
        super().__init__(seed)
        check(lib.attn_layernorm_init(self.struct, self.params.ptr, b"", ctypes.c_int64(dim),
                                      ctypes.c_float(eps), int(elementwise_affine)))

    def forward(self, x):
        self._begin()
        y = VarP()
        check(lib.attn_layernorm_forward(self.tape.ptr, self.struct, self._input("input", x),
                                         ctypes.byref(y)))
        self._out = y
        return var_data(y)


class FeedForward(Module):
    """linear2(dropout(act(linear1(x)))), parameters linear1.*, linear2.*."""
    struct_name = "attn_ffn"

    def __init__(self, d_model, dim_feedforward, activation="relu", dropout=0.0, seed=0):
        super().__init__(seed)
        check(lib.attn_ffn_init(self.struct, self.params.ptr, b"", ctypes.c_int64(d_model),
                                ctypes.c_int64(dim_feedforward), ACT[activation],
                                ctypes.c_float(dropout)))

    def forward(self, x):
        self._begin()
        y = VarP()
        check(lib.attn_ffn_forward(self.tape.ptr, self.struct, self._input("input", x),
                                   ctypes.byref(y)))
        self._out = y
        return var_data(y)


class Op(Module):
    """A stateless op: name in relu, tanh, gelu, gelu_tanh, softmax, dropout (p), narrow
    (args = (dim, start, length)), cat (forward takes a list; args = (dim,)), expand (args = the
    shape), mean (args = (dim,))."""
    struct_name = "attn_linear"

    def __init__(self, name, p=0.0, seed=0, args=()):
        super().__init__(seed)
        self.name, self.p, self.args = name, p, args

    def forward(self, x):
        self._begin()
        t = self.tape.ptr
        if self.name == "cat":  # x: a list of arrays (inputs "input0", "input1", ...); args = (dim,)
            vs = [self._input(f"input{i}", a) for i, a in enumerate(x)]
            arr, y = (VarP * len(vs))(*vs), VarP()
            check(lib.attn_op_cat(t, len(vs), arr, self.args[0], ctypes.byref(y)))
            self._out = y
            return var_data(y)
        xv, y = self._input("input", x), VarP()
        if self.name == "expand":  # args = the shape
            shape = (ctypes.c_int64 * _MAX_DIMS)(*self.args)
            check(lib.attn_op_expand(t, xv, len(self.args), shape, ctypes.byref(y)))
        elif self.name == "mean":  # args = (dim,)
            check(lib.attn_op_mean(t, xv, self.args[0], ctypes.byref(y)))
        elif self.name == "relu":
            check(lib.attn_op_relu(t, xv, ctypes.byref(y)))
        elif self.name == "tanh":
            check(lib.attn_op_tanh(t, xv, ctypes.byref(y)))
        elif self.name == "narrow":
            dim, start, length = self.args
            check(lib.attn_op_narrow(t, xv, dim, ctypes.c_int64(start), ctypes.c_int64(length),
                                     ctypes.byref(y)))
        elif self.name in ("gelu", "gelu_tanh"):
            check(lib.attn_op_gelu(t, xv, int(self.name == "gelu_tanh"), ctypes.byref(y)))
        elif self.name == "softmax":
            check(lib.attn_op_softmax(t, xv, ctypes.byref(y)))
        elif self.name == "dropout":
            check(lib.attn_op_dropout(t, xv, self.p, ctypes.byref(y)))
        else:
            raise ValueError(self.name)
        self._out = y
        return var_data(y)


def cross_entropy(logits, targets, ignore_index=-100, label_smoothing=0.0):
    """(loss, dlogits) of F.cross_entropy(reduction='mean')."""
    tape = Tape()
    x = tape.input(logits, True)
    tg = np.ascontiguousarray(np.asarray(targets, dtype=np.int32))
    opt = CeOptions(ignore_index, label_smoothing)
    loss = VarP()
    check(lib.attn_op_cross_entropy(tape.ptr, x, tg.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                                    ctypes.byref(opt), ctypes.byref(loss)))
    value = float(var_data(loss)[0])
    tape.backward(loss)
    return value, var_grad(x)


def _mask_args(args, prefix, mask, is_attn, keep):
    """Fill MhaArgs fields from a NumPy bool/float mask (torch MHA conventions)."""
    if mask is None:
        return
    m = np.asarray(mask)
    if m.dtype == np.bool_ or m.dtype == np.uint8:
        m = np.ascontiguousarray(m.astype(np.uint8))
        keep.append(m)
        setattr(args, "attn_mask" if is_attn else "key_padding_mask",
                m.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)))
    else:
        m = np.ascontiguousarray(m.astype(np.float32))
        keep.append(m)
        setattr(args, "attn_bias" if is_attn else "key_padding_bias", m.ctypes.data_as(c_f32p))
    if is_attn:
        args.attn_mask_3d = int(m.ndim == 3)


def mha_args(key_padding_mask=None, attn_mask=None, need_weights=False, average_attn_weights=True,
             is_causal=False):
    """(MhaArgs, arrays to keep alive)."""
    keep = []
    a = MhaArgs()
    _mask_args(a, "", key_padding_mask, False, keep)
    _mask_args(a, "", attn_mask, True, keep)
    a.is_causal = int(bool(is_causal))
    a.need_weights = int(bool(need_weights))
    a.per_head_weights = int(not average_attn_weights)
    return a, keep


class TransformerEncoderLayer(Module):
    struct_name = "attn_encoder_layer"

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, seed=0):
        super().__init__(seed)
        cfg = TransformerConfig(d_model, nhead, dim_feedforward, dropout, ACT[activation],
                                layer_norm_eps, int(batch_first), int(norm_first))
        check(lib.attn_encoder_layer_init(self.struct, self.params.ptr, b"", ctypes.byref(cfg)))

    def forward(self, src, src_mask=None, src_key_padding_mask=None):
        self._begin()
        a, keep = mha_args(src_key_padding_mask, src_mask)
        y = VarP()
        check(lib.attn_encoder_layer_forward(self.tape.ptr, self.struct, self._input("src", src),
                                             ctypes.byref(a), ctypes.byref(y)))
        self._out = y
        return var_data(y)


class TransformerDecoderLayer(Module):
    struct_name = "attn_decoder_layer"

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, seed=0):
        super().__init__(seed)
        cfg = TransformerConfig(d_model, nhead, dim_feedforward, dropout, ACT[activation],
                                layer_norm_eps, int(batch_first), int(norm_first))
        check(lib.attn_decoder_layer_init(self.struct, self.params.ptr, b"", ctypes.byref(cfg)))

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None):
        self._begin()
        ta, k1 = mha_args(tgt_key_padding_mask, tgt_mask)
        ma, k2 = mha_args(memory_key_padding_mask, memory_mask)
        y = VarP()
        check(lib.attn_decoder_layer_forward(self.tape.ptr, self.struct, self._input("tgt", tgt),
                                             self._input("memory", memory), ctypes.byref(ta),
                                             ctypes.byref(ma), ctypes.byref(y)))
        self._out = y
        return var_data(y)


class Optimizer:
    """SGD / Adam / AdamW over a Params table (torch.optim semantics)."""
    KINDS = {"sgd": 0, "adam": 1, "adamw": 2}

    def __init__(self, params, kind, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr = params, lr
        cfg = OptimConfig(self.KINDS[kind], momentum, dampening, weight_decay, int(nesterov),
                          betas[0], betas[1], eps)
        self.ptr = ctypes.c_void_p()
        check(lib.attn_optim_create(params.ptr, ctypes.byref(cfg), ctypes.byref(self.ptr)))

    def __del__(self):
        if getattr(self, "ptr", None):
            lib.attn_optim_free(self.ptr)
            self.ptr = None

    def step(self, lr=None):
        check(lib.attn_optim_step(self.ptr, self.lr if lr is None else lr))


def clip_grad_norm(params, max_norm):
    total = ctypes.c_float()
    check(lib.attn_clip_grad_norm(params.ptr, max_norm, ctypes.byref(total)))
    return total.value


def schedule_lr(kind, base_lr, step, warmup_steps=0, total_steps=0, min_ratio=0.0):
    kinds = {"constant": 0, "invsqrt": 1, "cosine": 2}
    s = Schedule(kinds[kind], base_lr, warmup_steps, total_steps, min_ratio)
    return lib.attn_schedule_lr(ctypes.byref(s), step)


class TransformerEncoder(Module):
    """num_layers TransformerEncoderLayers named layers.0., layers.1., ... (as torch's
    nn.TransformerEncoder without a final norm)."""
    struct_name = "attn_encoder_layer"

    def __init__(self, num_layers, d_model, nhead, dim_feedforward=2048, dropout=0.1,
                 activation="relu", layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 seed=0):
        super().__init__(seed)
        size = lib.attn_nn_sizeof(b"attn_encoder_layer")
        self.struct = ctypes.create_string_buffer(size * num_layers)
        self.layers = [ctypes.byref(self.struct, i * size) for i in range(num_layers)]
        cfg = TransformerConfig(d_model, nhead, dim_feedforward, dropout, ACT[activation],
                                layer_norm_eps, int(batch_first), int(norm_first))
        for i, layer in enumerate(self.layers):
            check(lib.attn_encoder_layer_init(layer, self.params.ptr, f"layers.{i}.".encode(),
                                              ctypes.byref(cfg)))

    def forward(self, src, mask=None, src_key_padding_mask=None):
        self._begin()
        a, keep = mha_args(src_key_padding_mask, mask)
        x = self._input("src", src)
        for layer in self.layers:
            y = VarP()
            check(lib.attn_encoder_layer_forward(self.tape.ptr, layer, x, ctypes.byref(a),
                                                 ctypes.byref(y)))
            x = y
        self._out = x
        return var_data(x)
