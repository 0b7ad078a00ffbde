/* fuzz_spm.c — libFuzzer target for attn_spm_load_bytes: a tokenizer may arrive inside an
 * untrusted checkpoint, so loading arbitrary bytes must fail cleanly or give a model that
 * encodes and decodes. The first byte picks the mode:
 *   even: the rest is a whole serialized model (seed with real .model files);
 *   odd:  the rest becomes the normalizer's precompiled_charsmap of a real model (trained at
 *         start-up), so the fuzzer works on the charsmap directly: anything but SentencePiece's
 *         own charsmap must be refused, since libsentencepiece walks it without bounds checks.
 *   make fuzz-spm && build/fuzz_spm -max_total_time=60 CORPUS_DIR */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spm.h"

static unsigned char *base;  /* a trained model's serialized bytes */
static size_t base_n;

static size_t put_varint(unsigned char *o, uint64_t v)
{
    size_t k = 0;
    do {
        o[k++] = (unsigned char)((v & 127) | (v > 127 ? 128 : 0));
        v >>= 7;
    } while (v);
    return k;
}

static size_t get_varint(const unsigned char *b, size_t i, size_t end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; i < end && shift < 64; shift += 7) {
        unsigned char c = b[i++];
        *v |= (uint64_t)(c & 127) << shift;
        if (!(c & 128)) return i;
    }
    return 0;
}

static void train_base(void)
{
    static const char *text[] = {"A dog runs in the park.", "Two men play football.",
                                 "A woman reads a book.", "Children swim in the lake."};
    const char *lines[64];
    for (int i = 0; i < 64; i++) lines[i] = text[i % 4];
    attn_spm_train_options o = {.model_type = ATTN_SPM_BPE, .normalization = ATTN_SPM_NORM_NMT_NFKC,
                                .vocab_size = 300, .seed = 1};
    attn_spm *sp;
    if (attn_spm_train(lines, 64, &o, &sp) || attn_spm_serialize(sp, NULL, 0, &base_n)) abort();
    base = malloc(base_n);
    if (!base || attn_spm_serialize(sp, base, base_n, &base_n)) abort();
    attn_spm_free(sp);
}

/* base with its normalizer spec's charsmap (field 3 → field 2) replaced by d[n]; *out_n. */
static unsigned char *with_charsmap(const uint8_t *d, size_t n, size_t *out_n)
{
    unsigned char *o = malloc(base_n + n + 32);
    if (!o) abort();
    size_t i = 0, k = 0;
    while (i < base_n) {
        size_t start = i;
        uint64_t key, len = 0;
        i = get_varint(base, i, base_n, &key);
        if ((key & 7) == 0) i = get_varint(base, i, base_n, &len);
        else if ((key & 7) == 2) {
            i = get_varint(base, i, base_n, &len);
            if (key >> 3 == 3) { /* rebuild the spec: its fields but the charsmap, then ours */
                unsigned char *spec = malloc(len + n + 16);
                size_t j = i, m = 0;
                while (j < i + len) {
                    size_t s2 = j;
                    uint64_t k2, l2 = 0;
                    j = get_varint(base, j, i + len, &k2);
                    if ((k2 & 7) == 0) j = get_varint(base, j, i + len, &l2);
                    else if ((k2 & 7) == 2) j = get_varint(base, j, i + len, &l2) + l2;
                    if (k2 >> 3 != 2) memcpy(spec + m, base + s2, j - s2), m += j - s2;
                }
                spec[m++] = 2 << 3 | 2;
                m += put_varint(spec + m, n);
                memcpy(spec + m, d, n), m += n;
                o[k++] = 3 << 3 | 2;
                k += put_varint(o + k, m);
                memcpy(o + k, spec, m), k += m;
                free(spec);
                i += len;
                continue;
            }
            i += len;
        } else abort(); /* a trained model has no other wire types */
        memcpy(o + k, base + start, i - start), k += i - start;
    }
    *out_n = k;
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (!base) train_base();
    unsigned char *own = NULL;
    const uint8_t *model = data + 1;
    size_t n = size - 1;
    if (data[0] & 1) model = own = with_charsmap(data + 1, size - 1, &n);
    attn_spm *sp = NULL;
    if (attn_spm_load_bytes(model, n, &sp) != ATTN_OK) {
        free(own);
        return 0;
    }
    int32_t ids[256];
    int64_t k = 0;
    if (attn_spm_encode(sp, "A dog runs, 🐕 über 3.14 trees. ＡⅠ", ids, 256, &k) == ATTN_OK) {
        char out[1024];
        size_t len;
        attn_spm_decode(sp, ids, k, out, sizeof out, &len);
    }
    int32_t v = 0;
    attn_spm_vocab_size(sp, &v);
    for (int32_t i = 0; i < v && i < 64; i++) {
        const char *piece;
        if (attn_spm_id_to_piece(sp, i, &piece) != ATTN_OK) abort();
    }
    attn_spm_free(sp);
    free(own);
    return 0;
}
