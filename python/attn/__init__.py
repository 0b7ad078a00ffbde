"""attn: attention mechanisms in C — the Python binding (ctypes + NumPy).

Float32 NumPy arrays in and out. Bad arguments raise ValueError with the library's message.
"""
from ._lib import check, set_isa, isa_supported, set_num_threads, lib, set_dtype_conversion  # noqa: F401,E501
from .sdpa import (scaled_dot_product_attention, scaled_dot_product_attention_backward,  # noqa: F401
                   dropout_mask)
from . import safetensors  # noqa: F401


def version():
    return lib.attn_version().decode()
from . import text  # noqa: F401,E402
from .additive import (additive_attention, additive_attention_backward, sinusoidal, learned_positions, learned_positions_backward, rope, alibi_slopes, GRU, gru, BahdanauStep, BahdanauDecoder)  # noqa: F401,E501
from .mha import MultiheadAttention  # noqa: F401,E402  (also loads attn.nn)
from .models import Seq2SeqTransformer, GPT, GruSeq2Seq, Classifier  # noqa: F401,E402
