/* seq2seq_gen.c — the encoder–decoder Transformer as a stepper, with and without a key/value
 * cache, and attn_seq2seq_generate.
 *
 * Uncached: the decoder re-runs on the whole prefix at every step (attn_seq2seq_decode, the
 * training forward itself) and the last position's logits are scored: the reference.
 * Cached: each decoder layer steps one position (kv.c), the cross-attention keys and values of
 * the encoder output projected once. Both start from one run of the encoder. */
#include "generate_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The encoder output of src [N, S] repeated for rps rows each → mem [N·rps, S, d], srcR. */
static int encode_rows(attn_tape *t, const attn_seq2seq *m, const int32_t *src, int64_t N, int64_t S,
                       int64_t rps, float *mem, int32_t *srcR)
{
    const int64_t d = m->cfg.d_model;
    ATTN_TRY(attn_tape_reset(t));
    attn_var *memory;
    ATTN_TRY(attn_seq2seq_encode(t, m, src, N, S, &memory));
    for (int64_t i = 0; i < N; i++)
        for (int64_t k = 0; k < rps; k++) {
            memcpy(mem + (i * rps + k) * S * d, memory->data + i * S * d, (size_t)(S * d) * sizeof *mem);
            memcpy(srcR + (i * rps + k) * S, src + i * S, (size_t)S * sizeof *srcR);
        }
    return ATTN_OK;
}

/* ---- uncached ------------------------------------------------------------------------------------ */

typedef struct full {
    const attn_seq2seq *m;
    attn_tape *t;
    int64_t R, S;
    float *mem;                 /* [R, S, d] */
    int32_t *src;               /* [R, S] */
    attn_prefix prefix;
} full;

static void full_free(void *p)
{
    full *f = p;
    if (!f) return;
    free(f->mem), free(f->src);
    attn_prefix_free(&f->prefix);
    free(f);
}

static int full_step(void *p, const int32_t *y, int64_t pos, float *logp)
{
    full *f = p;
    const attn_seq2seq *m = f->m;
    const int64_t R = f->R, T = pos + 1, d = m->cfg.d_model, V = m->cfg.tgt_vocab;
    const int32_t *cur = attn_prefix_push(&f->prefix, y, pos);
    if (!logp) return ATTN_OK;
    int64_t shape[3] = {R, f->S, d};
    attn_var *memory, *logits = NULL;
    const int was_training = attn_tape_training(f->t);
    attn_tape_set_training(f->t, 0); /* inference: no dropout */
    int st = attn_tape_reset(f->t);
    if (st == ATTN_OK) st = attn_tape_input(f->t, f->mem, 3, shape, 0, &memory);
    if (st == ATTN_OK) st = attn_seq2seq_decode(f->t, m, memory, f->src, f->S, cur, T, &logits);
    attn_tape_set_training(f->t, was_training);
    ATTN_TRY(st);
    /* log-softmax of the last position, in double (the reference's own arithmetic) */
    for (int64_t r = 0; r < R; r++) {
        const float *z = logits->data + (r * T + T - 1) * V;
        float mx = -INFINITY;
        for (int64_t v = 0; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        double sum = 0;
        for (int64_t v = 0; v < V; v++) sum += exp((double)z[v] - mx);
        float lse = mx + (float)log(sum);
        for (int64_t v = 0; v < V; v++) logp[r * V + v] = z[v] - lse;
    }
    return ATTN_OK;
}

static int full_reorder(void *p, const int64_t *parent, int64_t pos)
{
    attn_prefix_reorder(&((full *)p)->prefix, parent, pos);
    return ATTN_OK;
}

static const attn_stepper_ops full_ops = {full_step, full_reorder, full_free};

/* ---- cached -------------------------------------------------------------------------------------- */

typedef struct cached {
    const attn_seq2seq *m;
    attn_kv kv;
    int64_t S;
    float *ck, *cv;   /* [nl][R, H, S, hd] */
    uint8_t *keep;    /* [R, S] real source positions */
} cached;

static void cached_free(void *p)
{
    cached *c = p;
    if (!c) return;
    attn_kv_free(&c->kv);
    free(c->ck), free(c->cv), free(c->keep);
    free(c);
}

static int cached_step(void *p, const int32_t *y, int64_t pos, float *logp)
{
    cached *c = p;
    const attn_seq2seq *m = c->m;
    attn_kv *kv = &c->kv;
    const int64_t R = kv->R, d = kv->d, V = m->cfg.tgt_vocab;
    const float *E = m->tgt_embed.weight->data, es = m->cfg.scale_embedding ? sqrtf((float)d) : 1.0f;
    for (int64_t r = 0; r < R; r++) {
        if (y[r] < 0 || y[r] >= m->tgt_embed.num_embeddings)
            return attn_fail(ATTN_E_ARG, "attn_seq2seq stepper: token id %d outside [0, %lld)", y[r],
                             (long long)m->tgt_embed.num_embeddings);
        for (int64_t j = 0; j < d; j++) {
            float e = E[(int64_t)y[r] * d + j];
            if (m->cfg.scale_embedding) e *= es; /* as attn_op_scale, then attn_op_add */
            kv->x[r * d + j] = e + m->pos[pos * d + j];
        }
    }
    const int64_t cross = R * c->S * d;
    for (int64_t l = 0; l < kv->nl; l++) {
        const attn_decoder_layer *L = &m->dec[l];
        ATTN_TRY(attn_kv_self(kv, &L->self_attn, &L->norm1, L->cfg.norm_first, l, pos));
        ATTN_TRY(attn_kv_cross(kv, &L->multihead_attn, &L->norm2, L->cfg.norm_first, c->ck + l * cross,
                               c->cv + l * cross, c->keep, c->S));
        ATTN_TRY(attn_kv_ffn(kv, &L->ffn, &L->norm3, L->cfg.norm_first));
    }
    if (!logp) return ATTN_OK;
    ATTN_TRY(attn_layernorm_rows(&m->dec_norm, kv->x, R, kv->h, kv->threads));
    ATTN_TRY(attn_linear_rows(&m->generator, kv->h, R, logp, kv->threads));
    attn_log_softmax_rows(logp, R, V);
    return ATTN_OK;
}

static int cached_reorder(void *p, const int64_t *parent, int64_t pos)
{
    attn_kv_reorder(&((cached *)p)->kv, parent, pos);
    return ATTN_OK;
}

static const attn_stepper_ops cached_ops = {cached_step, cached_reorder, cached_free};

int attn_seq2seq_stepper_create(const attn_seq2seq *m, attn_tape *t, const int32_t *src, int64_t N,
                                int64_t S, int64_t rows_per_src, int64_t max_pos, int use_cache,
                                attn_stepper **out)
{
    static const char fn[] = "attn_seq2seq_stepper_create";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, src);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    if (N < 1 || S < 1 || rows_per_src < 1 || rows_per_src > ATTN_MAX_BEAM || max_pos < 1 ||
        max_pos > m->cfg.max_len || S > m->cfg.max_len)
        return attn_fail(ATTN_E_ARG, "%s: N=%lld, S=%lld, rows_per_src=%lld, max_pos=%lld (model max_len %lld)", fn,
                         (long long)N, (long long)S, (long long)rows_per_src, (long long)max_pos,
                         (long long)m->cfg.max_len);
    const int64_t R = N * rows_per_src, d = m->cfg.d_model;
    int64_t memn;
    const int64_t dims[3] = {R, S, d};
    ATTN_TRY(attn_checked_numel(fn, dims, 3, &memn));
    float *mem = malloc((size_t)memn * sizeof *mem);
    int32_t *srcR = malloc((size_t)(R * S) * sizeof *srcR);
    int st = mem && srcR ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    const int was_training = attn_tape_training(t);
    attn_tape_set_training(t, 0);
    if (st == ATTN_OK) st = encode_rows(t, m, src, N, S, rows_per_src, mem, srcR);
    attn_tape_set_training(t, was_training);
    if (st != ATTN_OK) {
        free(mem), free(srcR);
        return st;
    }
    if (!use_cache) {
        full *f = calloc(1, sizeof *f);
        if (!f) {
            free(mem), free(srcR);
            return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
        }
        f->m = m, f->t = t, f->R = R, f->S = S, f->mem = mem, f->src = srcR;
        if ((st = attn_prefix_init(&f->prefix, R, max_pos)) != ATTN_OK) {
            full_free(f);
            return st;
        }
        return attn_stepper_wrap(&full_ops, f, R, m->cfg.tgt_vocab, max_pos, m->cfg.pad_id, out);
    }
    cached *c = calloc(1, sizeof *c);
    st = c ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    for (int64_t l = 0; st == ATTN_OK && l < m->cfg.num_decoder_layers; l++) {
        st = attn_kv_check_mha(fn, &m->dec[l].self_attn, d);
        if (st == ATTN_OK) st = attn_kv_check_mha(fn, &m->dec[l].multihead_attn, d);
    }
    if (st == ATTN_OK)
        st = attn_kv_init(&c->kv, R, d, m->cfg.nhead, m->cfg.num_decoder_layers, max_pos,
                          m->cfg.dim_feedforward, attn_tape_num_threads(t));
    if (st == ATTN_OK) {
        const size_t cross = (size_t)(m->cfg.num_decoder_layers * memn);
        c->m = m, c->S = S;
        c->ck = malloc(cross * sizeof *c->ck), c->cv = malloc(cross * sizeof *c->cv);
        c->keep = malloc((size_t)(R * S));
        if (!c->ck || !c->cv || !c->keep) st = attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    float *tmp = st == ATTN_OK ? malloc((size_t)memn * sizeof *tmp) : NULL;
    if (st == ATTN_OK && !tmp) st = attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    for (int64_t i = 0; st == ATTN_OK && i < R * S; i++) c->keep[i] = srcR[i] != m->cfg.pad_id;
    for (int64_t l = 0; st == ATTN_OK && l < m->cfg.num_decoder_layers; l++)
        st = attn_kv_project_memory(&c->kv, &m->dec[l].multihead_attn, mem, S, tmp, c->ck + l * memn,
                                    c->cv + l * memn);
    free(tmp), free(mem), free(srcR);
    if (st != ATTN_OK) {
        cached_free(c);
        return st;
    }
    return attn_stepper_wrap(&cached_ops, c, R, m->cfg.tgt_vocab, max_pos, m->cfg.pad_id, out);
}

/* ---- model-level call -------------------------------------------------------------------------- */

/* The default length bound of each source: twice its real tokens plus 10 (so a sentence's
 * translation does not depend on the batch it is decoded in). */
int64_t attn_gen_source_bounds(const int32_t *src, int64_t N, int64_t S, int32_t pad, int64_t *bound)
{
    int64_t most = 0;
    for (int64_t i = 0; i < N; i++) {
        int64_t n = 0;
        for (int64_t j = 0; j < S; j++) n += src[i * S + j] != pad;
        bound[i] = 2 * n + 10;
        most = bound[i] > most ? bound[i] : most;
    }
    return most;
}

/* Shared by the two encoder–decoders: a tape if none was given, the bounds, one stepper per call
 * (the uncached reference with a beam runs sentence by sentence, so a sentence's result does
 * not depend on the batch around it). */
int attn_gen_seq2seq_like(const void *model, int gru, attn_tape *t, const int32_t *src, int64_t N,
                          int64_t S, const attn_generate_options *o, int32_t *out, int64_t cap,
                          int64_t *out_len, attn_generate_info *info)
{
    const char *fn = gru ? "attn_gru_seq2seq_generate" : "attn_seq2seq_generate";
    ATTN_REQUIRE_NONNULL(fn, model);
    ATTN_REQUIRE_NONNULL(fn, src);
    ATTN_REQUIRE_NONNULL(fn, o);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_REQUIRE_NONNULL(fn, out_len);
    const attn_seq2seq *tf = gru ? NULL : model;
    const attn_gru_seq2seq *g = gru ? model : NULL;
    const int64_t max_len = gru ? g->cfg.max_len : tf->cfg.max_len;
    const int32_t pad = gru ? g->cfg.pad_id : tf->cfg.pad_id;
    if (N < 1 || S < 1 || cap < 2)
        return attn_fail(ATTN_E_ARG, "%s: N=%lld, S=%lld, cap=%lld", fn, (long long)N, (long long)S, (long long)cap);
    if (o->beam < 0 || o->beam > ATTN_MAX_BEAM)
        return attn_fail(ATTN_E_ARG, "%s: beam=%d must be 1..%d", fn, o->beam, ATTN_MAX_BEAM);
    if (o->max_new > max_len - 1)
        return attn_fail(ATTN_E_ARG, "%s: max_new=%lld but the model decodes at most %lld tokens", fn,
                         (long long)o->max_new, (long long)(max_len - 1));
    int64_t *row_max = malloc((size_t)N * sizeof *row_max);
    if (!row_max) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    int64_t L = attn_gen_source_bounds(src, N, S, pad, row_max);
    if (o->max_new > 0) /* the caller's bound, the same for every row */
        for (int64_t i = 0; i < N; i++) row_max[i] = L = o->max_new;
    if (L > max_len - 1) L = max_len - 1;
    if (L > cap - 1) L = cap - 1;
    attn_generate_options oo = *o;
    oo.max_new = L;
    attn_tape *own = NULL;
    if (!t) {
        attn_tape_config tc = {0};
        int s0 = attn_tape_create(&tc, &own);
        if (s0) {
            free(row_max);
            return s0;
        }
        t = own;
    }
    const int64_t K = o->beam > 1 ? o->beam : 1;
    const int per_sentence = !gru && o->no_cache && K > 1;
    const int32_t bos = o->bos_id;
    int32_t *prompt = malloc((size_t)N * sizeof *prompt);
    int st = prompt ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    for (int64_t i = 0; st == ATTN_OK && i < N; i++) prompt[i] = bos;
    attn_generate_info sum = {0}, one = {0};
    for (int64_t i0 = 0; st == ATTN_OK && i0 < N;) {
        const int64_t n = per_sentence ? 1 : N;
        attn_stepper *s = NULL;
        st = gru ? attn_gru_seq2seq_stepper_create(g, t, src + i0 * S, n, S, K, L + 1, &s)
                 : attn_seq2seq_stepper_create(tf, t, src + i0 * S, n, S, K, L + 1, !o->no_cache, &s);
        if (st == ATTN_OK)
            st = attn_generate_bounded(s, n, prompt, 1, row_max + i0, &oo, out + i0 * cap, cap, out_len + i0, &one);
        attn_stepper_free(s);
        sum.steps += one.steps, sum.timed_out |= one.timed_out, sum.stopped |= one.stopped;
        i0 += n;
    }
    sum.max_new = L;
    if (info) *info = sum;
    free(prompt), free(row_max);
    attn_tape_free(own);
    return st;
}

int attn_seq2seq_generate(const attn_seq2seq *m, attn_tape *t, const int32_t *src, int64_t N, int64_t S,
                          const attn_generate_options *o, int32_t *out, int64_t cap, int64_t *out_len,
                          attn_generate_info *info)
{
    return attn_gen_seq2seq_like(m, 0, t, src, N, S, o, out, cap, out_len, info);
}
