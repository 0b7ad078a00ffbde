"""attn.torch.MultiheadAttention and attn.torch.patch: torch.nn.MultiheadAttention on libattn.

MultiheadAttention is a subclass of torch.nn.MultiheadAttention: same constructor, same
parameters and state_dict (so weights move both ways unchanged), same forward signature
(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights,
is_causal). Only the attention itself changes: the projections run in PyTorch, and the heads,
seen as [B, H, L, E] through strides (no copies), go to attn's fused kernel through
attn.torch.scaled_dot_product_attention. What that kernel does not cover (add_bias_kv,
add_zero_attn, non-float32 or non-CPU tensors) runs torch's own forward unchanged.

Masks follow nn.MultiheadAttention: a bool attn_mask or key_padding_mask is True where a key
may NOT be attended (the opposite of scaled_dot_product_attention's), a float one is added. A
float or bool attn_mask that is exactly the causal mask (-inf / True above the diagonal, 0 /
False elsewhere) becomes the kernel's causal flag, as PyTorch 2 detects it, so masked tiles are
skipped rather than read. With dropout in training the returned weights are after dropout, as
torch's.

patch(model) turns every nn.MultiheadAttention inside model into this class in place (the
parameter objects stay, so optimizers and hooks keep working), and makes
nn.TransformerEncoderLayer / nn.TransformerEncoder skip PyTorch's fused inference fast path,
which would bypass the module. unpatch(model) undoes it.
"""
import weakref

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import torch as _at


_causal_seen = [None, None, False]  # (weakref to the mask last checked, its _version, verdict)
_upper = [None]  # the bool [L, L] upper triangle (triu(1)) of the last size checked


def _is_causal_mask(m, L, S):
    """True if attn_mask m ([L, S]) is the causal mask in nn.MultiheadAttention's convention.
    An nn.TransformerEncoder hands every layer the same mask tensor: the verdict on the last
    one is kept while that tensor lives and is not modified in place (its version counter).
    A model that builds its mask in every forward (as bench/torch_train.py's GPT) gets a new
    tensor each step, so the check itself is a few passes over m: a float mask is causal when
    its -inf entries are exactly the upper triangle and nothing else is nonzero (NaN counts
    as nonzero)."""
    if m is None or m.dim() != 2 or L != S or tuple(m.shape) != (L, S):
        return False
    ref, version, verdict = _causal_seen
    if ref is not None and ref() is m and version == m._version:
        return verdict
    upper = _upper[0]
    if upper is None or tuple(upper.shape) != (L, S):
        upper = _upper[0] = torch.ones(L, S, dtype=torch.bool).triu(1)
    if m.dtype == torch.bool:
        verdict = bool(torch.equal(m, upper))
    else:
        verdict = bool(torch.equal(torch.isneginf(m), upper)) and \
            int(torch.count_nonzero(m)) == L * (L - 1) // 2
    _causal_seen[:] = [weakref.ref(m), m._version, verdict]
    return verdict


def _heads(x, batch_first, H):
    """[L, N, D] (or [N, L, D] if batch_first) -> its [N, H, L, D/H] view (no copy)."""
    if batch_first:
        N, L, D = x.shape
        return x.view(N, L, H, D // H).transpose(1, 2)
    L, N, D = x.shape
    return x.view(L, N, H, D // H).permute(1, 2, 0, 3)


def _merge_heads(o, batch_first):
    """[N, H, L, E] -> [L, N, H·E] (or [N, L, H·E]); a view when o is in that memory order."""
    N, H, L, E = o.shape
    if batch_first:
        return o.transpose(1, 2).reshape(N, L, H * E)
    return o.permute(2, 0, 1, 3).reshape(L, N, H * E)


def _masks(attn_mask, key_padding_mask, N, H, L, S):
    """PyTorch MHA masks -> (sdpa attn_mask in its convention or None, is_causal)."""
    causal = attn_mask is not None and key_padding_mask is None and \
        _is_causal_mask(attn_mask, L, S)
    if causal:
        return None, True
    allow = bias = None  # bool: True = may attend; float: added
    if attn_mask is not None:
        if attn_mask.dim() == 3:
            attn_mask = attn_mask.reshape(N, H, L, S)
        if attn_mask.dtype in (torch.bool, torch.uint8):
            allow = ~attn_mask.bool()
        else:
            bias = attn_mask
    if key_padding_mask is not None:
        kp = key_padding_mask.reshape(N, 1, 1, S)
        if kp.dtype in (torch.bool, torch.uint8):
            a = ~kp.bool()
            allow = a if allow is None else allow & a
        else:
            bias = kp if bias is None else bias + kp
    if allow is not None and bias is not None:
        bias = bias.masked_fill(~allow, float("-inf"))
        allow = None
    return (allow if allow is not None else bias), False


class MultiheadAttention(nn.MultiheadAttention):
    """torch.nn.MultiheadAttention whose attention runs on libattn (see the module doc)."""

    def _attn_covers(self, query, key, value, attn_mask, key_padding_mask):
        if self.bias_k is not None or self.add_zero_attn:
            return False
        ts = [query, key, value] + [m for m in (attn_mask, key_padding_mask) if m is not None]
        return all(t.device.type == "cpu" for t in ts) and \
            all(t.dtype == torch.float32 for t in (query, key, value)) and \
            self.out_proj.weight.dtype == torch.float32

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """(attn_output, attn_weights or None), as torch.nn.MultiheadAttention.forward.
        is_causal (PyTorch 2) is a hint that attn_mask is the causal mask; with no attn_mask it
        applies causal attention. Returned weights are not differentiable."""
        if not self._attn_covers(query, key, value, attn_mask, key_padding_mask):
            if _at.get_fallback() == "error" and self.bias_k is None and not self.add_zero_attn:
                raise TypeError("attn.torch.MultiheadAttention: tensors must be float32 on the "
                                "CPU (attn.torch.set_fallback('torch') runs torch's own forward)")
            return super().forward(query, key, value, key_padding_mask=key_padding_mask,
                                   need_weights=need_weights, attn_mask=attn_mask,
                                   average_attn_weights=average_attn_weights)
        batched = query.dim() == 3
        bf = self.batch_first
        if not batched:  # [L, D] -> [L, 1, D]
            query, key, value = (t.unsqueeze(1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
            bf = False
        self_attn = key is query and value is query
        H, D = self.num_heads, self.embed_dim
        p = self.dropout if self.training else 0.0
        if self._qkv_same_embed_dim and self_attn:
            # one projection; the heads of q, k, v are strided views of it, and the backward
            # writes their gradients into one tensor (see attn.torch._SdpaPacked)
            qkv = F.linear(query, self.in_proj_weight, self.in_proj_bias)

            def split(t):
                return tuple(_heads(t[..., i * D:(i + 1) * D], bf, H) for i in range(3))
            N, L = (qkv.shape[0], qkv.shape[1]) if bf else (qkv.shape[1], qkv.shape[0])
            mask, causal = _masks(attn_mask, key_padding_mask, N, H, L, L)
            causal = causal or (is_causal and attn_mask is None)
            o4, w = _at._packed_attention(qkv, split, mask, p, causal, need_weights)
        else:
            if self._qkv_same_embed_dim:
                wq, wk, wv = self.in_proj_weight.chunk(3)
            else:
                wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
            bq = bk = bv = None
            if self.in_proj_bias is not None:
                bq, bk, bv = self.in_proj_bias.chunk(3)
            q, k, v = F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)
            q4, k4, v4 = (_heads(t, bf, H) for t in (q, k, v))
            N, _, L, _ = q4.shape
            mask, causal = _masks(attn_mask, key_padding_mask, N, H, L, k4.shape[2])
            causal = causal or (is_causal and attn_mask is None)
            res = _at.scaled_dot_product_attention(q4, k4, v4, attn_mask=mask, dropout_p=p,
                                                   is_causal=causal, return_weights=need_weights)
            o4, w = res if need_weights else (res, None)
        out = self.out_proj(_merge_heads(o4, bf))
        if w is not None and average_attn_weights:
            w = w.mean(dim=1)
        if not batched:
            out = out.squeeze(1)
            w = None if w is None else w.squeeze(0)
        return out, w


class _EncoderLayer(nn.TransformerEncoderLayer):
    """nn.TransformerEncoderLayer without the fused inference fast path (which calls
    torch._transformer_encoder_layer_fwd and would bypass self.self_attn)."""

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask))
            x = self.norm2(x + self._ff_block(x))
        return x


_SWAPS = {nn.MultiheadAttention: MultiheadAttention, nn.TransformerEncoderLayer: _EncoderLayer}


def patch(model):
    """Run every nn.MultiheadAttention in model (itself included) on attn, in place; returns
    model. Parameters, buffers and hooks stay as they are."""
    for m in model.modules():
        new = _SWAPS.get(type(m))
        if new is not None:
            m.__class__ = new
        if type(m) is nn.TransformerEncoder and getattr(m, "enable_nested_tensor", False):
            m.enable_nested_tensor = False  # nested tensors only serve the fast path
            m._attn_nested = True
    return model


def unpatch(model):
    """Undo patch(model); returns model."""
    back = {v: k for k, v in _SWAPS.items()}
    for m in model.modules():
        old = back.get(type(m))
        if old is not None:
            m.__class__ = old
        if getattr(m, "_attn_nested", False):
            m.enable_nested_tensor = True
            del m._attn_nested
    return model
