/*
 * attn.h — attention mechanisms in C: the public interface of libattn, one header per layer of
 * the library, each including the ones below it. Include this one, or only the layers you use:
 *
 *   attn/core.h      version, errors (attn_last_error), threads and SIMD paths, tensor views, RNG
 *   attn/kernels.h   scaled dot-product attention (fused), GEMM, additive attention, positional
 *                    encodings, GRU and the Bahdanau decoder — on tensor views, no tape
 *   attn/io.h        safetensors reader and atomic writer
 *   attn/nn.h        parameters, the autograd tape, ops, layers, optimisers, checkpoints
 *   attn/models.h    encoder–decoder Transformer, GRU encoder–decoder, GPT, text classifier
 *   attn/text.h      BLEU, chrF, UTF-8 checks, text cleaning
 *   attn/data.h      IMDb, parallel text, line files
 *   attn/generate.h  greedy, beam search and sampling over key/value-cached steppers
 *   attn/train.h     batches, schedules, the run state (atomic, resumable), metrics, averaging
 *   attn/analysis.h  attention maps recorded from a tape; entropy, distance, alignment, rollout
 *   attn/bench.h     timing loops (medians over alternating rounds), FLOP/byte counts, benchmark cases
 *
 * The conventions every call follows are at the top of attn/core.h.
 */
#ifndef ATTN_H
#define ATTN_H

#include "attn/core.h"
#include "attn/kernels.h"
#include "attn/io.h"
#include "attn/nn.h"
#include "attn/models.h"
#include "attn/text.h"
#include "attn/data.h"
#include "attn/generate.h"
#include "attn/train.h"
#include "attn/analysis.h"
#include "attn/image.h"
#include "attn/bench.h"

#endif /* ATTN_H */
