"""attn.MultiheadAttention: torch.nn.MultiheadAttention's interface over libattn.

Parameters are named as in torch's state_dict; load_state_dict takes a dict of NumPy arrays
(or torch tensors). forward records on a tape; backward(dout) returns the gradients of the
inputs ('query', 'key', 'value') and of each parameter by state_dict name. When key and value
are the query object itself (self-attention) the three entries hold the same total gradient,
as torch's query.grad does.
"""
import ctypes

import numpy as np

from ._lib import lib, check, f32
from .nn import Module, MhaConfig, VarP, mha_args, var_data, var_grad


class MultiheadAttention(Module):
    struct_name = "attn_mha"

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, seed=0,
                 num_threads=0):
        super().__init__(seed, num_threads)
        self.batch_first = batch_first
        cfg = MhaConfig(embed_dim, num_heads, kdim or 0, vdim or 0, int(not bias),
                        int(add_bias_kv), int(add_zero_attn), dropout, int(batch_first))
        check(lib.attn_mha_init(self.struct, self.params.ptr, b"", ctypes.byref(cfg)))

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """(out, weights or None). 2-d inputs are unbatched, as in torch."""
        self._begin()
        self_attn = key is query and value is query
        query, key, value = (f32(a, n) for a, n in ((query, "query"), (key, "key"),
                                                     (value, "value")))
        unbatched = query.ndim == 2
        if unbatched:
            ax = 0 if self.batch_first else 1
            query, key, value = (np.expand_dims(a, ax) for a in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = np.asarray(key_padding_mask)[None]
        self._unbatched = unbatched
        q = self._input("query", query)
        if self_attn:
            k = v = q
            self._inputs["key"] = self._inputs["value"] = q
        else:
            k = self._input("key", key)
            v = self._input("value", value)
        args, keep = mha_args(key_padding_mask, attn_mask, need_weights, average_attn_weights,
                              is_causal)
        y, w = VarP(), VarP()
        check(lib.attn_mha_forward(self.tape.ptr, self.struct, q, k, v, ctypes.byref(args),
                                   ctypes.byref(y), ctypes.byref(w)))
        del keep
        self._out = y
        out = var_data(y)
        weights = var_data(w) if need_weights else None
        if unbatched:
            out = out[0] if self.batch_first else out[:, 0]
            if weights is not None:
                weights = weights[0]
        return out, weights

    def backward(self, dout, accumulate=False):
        dout = f32(dout, "dout")
        if self._unbatched:
            dout = np.expand_dims(dout, 0 if self.batch_first else 1)
        g = super().backward(dout, accumulate)
        if self._unbatched:
            for name in ("query", "key", "value"):
                g[name] = g[name][0] if self.batch_first else g[name][:, 0]
        return g
