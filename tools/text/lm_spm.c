/* lm_spm.c — a SentencePiece BPE for a language model on raw text (lm_spm.h). */
#include "lm_spm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BYTE0 4            /* the id of byte piece <0x00>: after <pad> <unk> <s> </s> */
#define MAX_SENTENCE 4096  /* training sentences are cut at this many bytes */

struct attn_lm_spm {
    attn_spm *sp;
    int32_t V;
    uint32_t *off; /* token id → its bytes: buf[off[id] .. off[id + 1]) */
    char *buf;
};

static int spm_status(int st, const char *what)
{
    return st ? attn_set_error(st, "%s: %s", what, attn_spm_last_error()) : ATTN_OK;
}

/* The length of the well-formed UTF-8 sequence at s[0..n) (RFC 3629), 0 when there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    const unsigned c = s[0];
    size_t k;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) k = 2;
    else if (c >= 0xE0 && c <= 0xEF) k = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) k = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return 0;
    if (n < k || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < k; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return k;
}

int attn_lm_spm_train(const char *text, size_t n, int vocab, uint32_t seed, int threads, attn_spm **out)
{
    if (!text || !out) return attn_set_error(ATTN_E_ARG, "attn_lm_spm_train: text or out is NULL");
    *out = NULL;
    /* the sentences: the lines, cut at MAX_SENTENCE bytes on a character boundary, NUL-terminated copies */
    size_t cap = 1024, count = 0;
    const char **s = malloc(cap * sizeof *s);
    char *copy = malloc(n + n / MAX_SENTENCE + 2);
    if (!s || !copy) {
        free(s), free(copy);
        return attn_set_error(ATTN_E_NOMEM, "attn_lm_spm_train: out of memory");
    }
    size_t w = 0, i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && j - i < MAX_SENTENCE && text[j] != '\n' && text[j] != '\0') j++;
        if (j < n && j - i == MAX_SENTENCE) /* cut: back to the start of a character */
            while (j > i + 1 && ((unsigned char)text[j] & 0xC0) == 0x80) j--;
        if (j > i) {
            if (count == cap) {
                const char **g = realloc(s, 2 * cap * sizeof *s);
                if (!g) {
                    free(s), free(copy);
                    return attn_set_error(ATTN_E_NOMEM, "attn_lm_spm_train: out of memory");
                }
                s = g, cap *= 2;
            }
            memcpy(copy + w, text + i, j - i);
            copy[w + (j - i)] = '\0';
            s[count++] = copy + w;
            w += j - i + 1;
        }
        i = j < n && (text[j] == '\n' || text[j] == '\0') ? j + 1 : j;
    }
    int st = ATTN_OK;
    if (count == 0) st = attn_set_error(ATTN_E_ARG, "attn_lm_spm_train: the text has no line to learn from");
    attn_spm_train_options o = {.model_type = ATTN_SPM_BPE, .vocab_size = vocab, .character_coverage = 1.0,
                                .normalization = ATTN_SPM_NORM_IDENTITY, .num_threads = threads, .seed = seed,
                                .keep_whitespace = 1};
    if (st == ATTN_OK) st = spm_status(attn_spm_train(s, (int64_t)count, &o, out), "learning the BPE");
    free(s), free(copy);
    return st;
}

void attn_lm_spm_free(attn_lm_spm *t)
{
    if (!t) return;
    attn_spm_free(t->sp);
    free(t->off), free(t->buf);
    free(t);
}

int attn_lm_spm_wrap(attn_spm *sp, attn_lm_spm **out)
{
    if (!out) return attn_spm_free(sp), attn_set_error(ATTN_E_ARG, "attn_lm_spm_wrap: out is NULL");
    *out = NULL;
    if (!sp) return attn_set_error(ATTN_E_ARG, "attn_lm_spm_wrap: no model");
    attn_lm_spm *t = calloc(1, sizeof *t);
    if (!t) return attn_spm_free(sp), attn_set_error(ATTN_E_NOMEM, "attn_lm_spm_wrap: out of memory");
    t->sp = sp;
    int st = spm_status(attn_spm_vocab_size(sp, &t->V), "tokenizer");
    if (st == ATTN_OK && t->V < BYTE0 + 256)
        st = attn_set_error(ATTN_E_FORMAT, "tokenizer: %d pieces, no room for the 256 byte pieces", (int)t->V);
    size_t total = 0;
    for (int32_t id = 0; st == ATTN_OK && id < t->V; id++) {
        const char *p;
        st = spm_status(attn_spm_id_to_piece(sp, id, &p), "tokenizer");
        if (st == ATTN_OK) total += strlen(p);
    }
    if (st == ATTN_OK) {
        t->off = malloc((size_t)(t->V + 1) * sizeof *t->off), t->buf = malloc(total + 1);
        if (!t->off || !t->buf || total > UINT32_MAX) st = attn_set_error(ATTN_E_NOMEM, "tokenizer: out of memory");
    }
    size_t w = 0;
    for (int32_t id = 0; st == ATTN_OK && id < t->V; id++) {
        const char *p;
        st = spm_status(attn_spm_id_to_piece(sp, id, &p), "tokenizer");
        t->off[id] = (uint32_t)w;
        if (st || id < BYTE0) continue; /* <pad> <unk> <s> </s>: nothing */
        if (id < BYTE0 + 256) {
            char want[8];
            snprintf(want, sizeof want, "<0x%02X>", (unsigned)(id - BYTE0));
            if (strcmp(p, want))
                st = attn_set_error(ATTN_E_FORMAT, "tokenizer: piece %d is \"%.16s\", not the byte piece %s", (int)id,
                                    p, want);
            t->buf[w++] = (char)(id - BYTE0);
            continue;
        }
        for (; *p; p++) /* "▁" (e2 96 81) is a space */
            if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x96 && (unsigned char)p[2] == 0x81)
                t->buf[w++] = ' ', p += 2;
            else
                t->buf[w++] = *p;
    }
    if (st == ATTN_OK) t->off[t->V] = (uint32_t)w;
    if (st) attn_lm_spm_free(t);
    else *out = t;
    return st;
}

const attn_spm *attn_lm_spm_model(const attn_lm_spm *t)
{
    return t ? t->sp : NULL;
}

int32_t attn_lm_spm_vocab(const attn_lm_spm *t)
{
    return t ? t->V : 0;
}

size_t attn_lm_spm_token(const attn_lm_spm *t, int32_t id, const char **bytes)
{
    if (!t || id < 0 || id >= t->V) return 0;
    *bytes = t->buf + t->off[id];
    return t->off[id + 1] - t->off[id];
}

/* Append the ids of the well-formed run s[0..n) (no newline, no NUL) to ids[*k..): SentencePiece's,
 * when their bytes spell the run, else the byte pieces. ids has room for n more. */
static int encode_run(const attn_lm_spm *t, char *s, size_t n, int32_t *ids, int64_t *k)
{
    const char save = s[n];
    s[n] = '\0';
    int64_t m = 0;
    int st = spm_status(attn_spm_encode(t->sp, s, NULL, 0, &m), "encode");
    int exact = st == ATTN_OK && m <= (int64_t)n;
    if (exact) st = spm_status(attn_spm_encode(t->sp, s, ids + *k, (int64_t)n, &m), "encode");
    s[n] = save;
    if (st) return st;
    size_t at = 0;
    for (int64_t i = 0; exact && i < m; i++) {
        const char *b;
        const size_t len = attn_lm_spm_token(t, ids[*k + i], &b);
        exact = at + len <= n && !memcmp(s + at, b, len);
        at += len;
    }
    if (exact && at == n) {
        *k += m;
        return ATTN_OK;
    }
    for (size_t i = 0; i < n; i++) ids[(*k)++] = BYTE0 + (unsigned char)s[i];
    return ATTN_OK;
}

int attn_lm_spm_encode(const attn_lm_spm *t, const char *text, size_t n, int32_t **ids, int64_t *n_ids)
{
    if (!t || (!text && n) || !ids || !n_ids) return attn_set_error(ATTN_E_ARG, "attn_lm_spm_encode: NULL argument");
    *ids = malloc((n ? n : 1) * sizeof **ids);
    char *line = malloc(MAX_SENTENCE + 1); /* runs are encoded in pieces of at most MAX_SENTENCE bytes */
    if (!*ids || !line) {
        free(*ids), free(line), *ids = NULL;
        return attn_set_error(ATTN_E_NOMEM, "attn_lm_spm_encode: out of memory");
    }
    int64_t k = 0;
    int st = ATTN_OK;
    size_t i = 0;
    const unsigned char *u = (const unsigned char *)text;
    while (st == ATTN_OK && i < n) {
        size_t j = i, c;
        while (j < n && j - i < MAX_SENTENCE && u[j] != '\n' && u[j] && (c = utf8_len(u + j, n - j)) &&
               j + c - i <= MAX_SENTENCE)
            j += c;
        if (j == i) { /* a newline, a NUL or a malformed byte: its byte piece */
            (*ids)[k++] = BYTE0 + u[i++];
            continue;
        }
        memcpy(line, text + i, j - i);
        st = encode_run(t, line, j - i, *ids, &k);
        i = j;
    }
    free(line);
    if (st) {
        free(*ids), *ids = NULL;
        return st;
    }
    *n_ids = k;
    return ATTN_OK;
}
