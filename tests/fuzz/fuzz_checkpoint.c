/* fuzz_checkpoint.c — libFuzzer target for the path a downloaded model file takes: safetensors
 * bytes → metadata → configuration (strict numbers, ranges) → each model's _open (checked
 * against the tensors before allocating) → loaded weights → one small forward. Every failure
 * must be a status with a message; anything opened must run. Allocation is bounded by the
 * input: -rss_limit_mb and -malloc_limit_mb catch a loader that trusts a number.
 *   make fuzz-loaders && build/fuzz/fuzz_checkpoint -max_total_time=600 fuzz/corpus/checkpoint */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"

#define CHECK(c)                                                                               \
    do {                                                                                       \
        if (!(c)) abort();                                                                     \
    } while (0)

static void failed_cleanly(int st)
{
    CHECK(st < 0);
    CHECK(attn_last_error()[0] != '\0');
}

static attn_tape *tape(void)
{
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1};
    CHECK(attn_tape_create(&tc, &t) == ATTN_OK);
    attn_tape_set_training(t, 0);
    return t;
}

/* ids 0..vocab-1, cycling: every token the model accepts */
static void ids(int32_t *x, int n, int64_t vocab)
{
    for (int i = 0; i < n; i++) x[i] = (int32_t)(i % vocab);
}

static void run(const attn_st_reader *st)
{
    int32_t a[4], b[4];
    attn_classifier *c = NULL;
    int s = attn_classifier_open(st, &c);
    if (s == ATTN_OK) {
        attn_tape *t = tape();
        attn_var *z;
        int64_t T = c->cfg.max_len < 4 ? c->cfg.max_len : 4;
        ids(a, (int)T, c->cfg.vocab);
        a[0] = c->cfg.pad_id == 0 && c->cfg.vocab > 1 ? 1 : 0;
        CHECK(attn_classifier_forward(t, c, a, 1, T, &z, NULL) == ATTN_OK);
        CHECK(z->numel == c->cfg.num_classes);
        attn_tape_free(t);
        attn_classifier_free(c);
    } else {
        failed_cleanly(s);
        CHECK(c == NULL);
    }
    attn_seq2seq *m = NULL;
    s = attn_seq2seq_open(st, &m);
    if (s == ATTN_OK) {
        attn_tape *t = tape();
        attn_var *mem, *z;
        ids(a, 2, m->cfg.src_vocab), ids(b, 2, m->cfg.tgt_vocab);
        int64_t L = m->cfg.max_len < 2 ? 1 : 2;
        CHECK(attn_seq2seq_encode(t, m, a, 1, L, &mem) == ATTN_OK);
        CHECK(attn_seq2seq_decode(t, m, mem, a, L, b, L, &z) == ATTN_OK);
        attn_tape_free(t);
        attn_seq2seq_free(m);
    } else {
        failed_cleanly(s);
        CHECK(m == NULL);
    }
    attn_gru_seq2seq *g = NULL;
    s = attn_gru_seq2seq_open(st, &g);
    if (s == ATTN_OK) {
        attn_tape *t = tape();
        attn_var *enc, *s0, *z;
        for (int i = 0; i < 2; i++) a[i] = b[i] = (int32_t)((g->cfg.pad_id + 1 + i) % g->cfg.src_vocab);
        int64_t L = g->cfg.max_len < 2 || a[0] == g->cfg.pad_id || a[1] == g->cfg.pad_id ? 1 : 2;
        if (a[0] != g->cfg.pad_id && b[0] < g->cfg.tgt_vocab && (L == 1 || b[1] < g->cfg.tgt_vocab)) {
            CHECK(attn_gru_seq2seq_encode(t, g, a, 1, L, &enc, &s0) == ATTN_OK);
            CHECK(attn_gru_seq2seq_decode(t, g, enc, s0, a, L, b, L, &z, NULL) == ATTN_OK);
        }
        attn_tape_free(t);
        attn_gru_seq2seq_free(g);
    } else {
        failed_cleanly(s);
        CHECK(g == NULL);
    }
    attn_gpt *p = NULL;
    s = attn_gpt_open(st, &p);
    if (s == ATTN_OK) {
        attn_tape *t = tape();
        attn_var *z;
        int64_t T = p->cfg.context < 3 ? p->cfg.context : 3;
        ids(a, (int)T, p->cfg.vocab);
        CHECK(attn_gpt_forward(t, p, a, 1, T, &z) == ATTN_OK);
        attn_tape_free(t);
        attn_gpt_free(p);
    } else {
        failed_cleanly(s);
        CHECK(p == NULL);
    }
    /* the embedded tokenizers' text */
    const char *keys[] = {"attn.tokenizer.model", "attn.spm.model"};
    for (int k = 0; k < 2; k++) {
        const char *v = attn_st_metadata(st, keys[k]);
        unsigned char *bytes;
        size_t n;
        if (v && attn_base64_decode(v, strlen(v), &bytes, &n) == ATTN_OK) free(bytes);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    attn_st_reader *st = NULL;
    if (attn_st_open_memory(data, size, &st) != ATTN_OK) return 0;
    run(st);
    attn_st_close(st);
    return 0;
}
