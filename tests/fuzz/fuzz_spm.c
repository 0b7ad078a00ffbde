/* fuzz_spm.c — libFuzzer target for attn_spm_load_bytes: a tokenizer may arrive inside an
 * untrusted checkpoint, so loading arbitrary bytes must fail cleanly or give a model that
 * encodes and decodes. Seed it with real .model files.
 *   make fuzz-spm && build/fuzz_spm -max_total_time=60 CORPUS_DIR */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    attn_spm *sp = NULL;
    if (attn_spm_load_bytes(data, size, &sp) != ATTN_OK) return 0;
    int32_t ids[256];
    int64_t n = 0;
    if (attn_spm_encode(sp, "A dog runs, 🐕 über 3.14 trees.", ids, 256, &n) == ATTN_OK) {
        char out[1024];
        size_t len;
        attn_spm_decode(sp, ids, n, out, sizeof out, &len);
    }
    int32_t v = 0;
    attn_spm_vocab_size(sp, &v);
    for (int32_t i = 0; i < v && i < 64; i++) {
        const char *piece;
        if (attn_spm_id_to_piece(sp, i, &piece) != ATTN_OK) abort();
    }
    attn_spm_free(sp);
    return 0;
}
