"""attn: attention mechanisms in C — the Python package (ctypes over libattn).

    import attn          NumPy: scaled_dot_product_attention, MultiheadAttention, GRU, additive
                         attention, the models (Seq2SeqTransformer, GruSeq2Seq, GPT,
                         Classifier), safetensors, text metrics
    import attn.torch    PyTorch: scaled_dot_product_attention as an autograd Function on the
                         fused kernel, MultiheadAttention, patch(model)
    attn.convert         checkpoints <-> PyTorch (docs/format.md); attn.torch_models: the twins

Float32 NumPy arrays in and out: other dtypes raise TypeError unless
set_dtype_conversion(True); missing files FileNotFoundError; bad arguments ValueError with the
library's message. The library is found without configuration (see attn._lib).
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
from .models import Seq2SeqTransformer, GPT, GruSeq2Seq, Classifier, ViT  # noqa: F401,E402
from . import convert, data, machine  # noqa: F401,E402
