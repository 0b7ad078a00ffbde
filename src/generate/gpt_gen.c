/* gpt_gen.c — the GPT as a stepper, with and without a key/value cache, and attn_gpt_generate.
 *
 * Cached: token + position embedding of the newest position, each block stepped by kv.c (causal
 * self-attention over the cached positions, then the MLP), the final norm and the tied head.
 * Uncached: attn_gpt_forward on the whole prefix at every step, its last position scored. */
#include "generate_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct gpt_full {
    const attn_gpt *m;
    attn_tape *t;
    int64_t R;
    attn_prefix prefix;
} gpt_full;

static void full_free(void *p)
{
    gpt_full *f = p;
    if (!f) return;
    attn_tape_free(f->t);
    attn_prefix_free(&f->prefix);
    free(f);
}

static int full_step(void *p, const int32_t *y, int64_t pos, float *logp)
{
    gpt_full *f = p;
    const int64_t R = f->R, T = pos + 1, V = f->m->cfg.vocab;
    const int32_t *cur = attn_prefix_push(&f->prefix, y, pos);
    if (!logp) return ATTN_OK;
    ATTN_TRY(attn_tape_reset(f->t));
    attn_var *logits;
    ATTN_TRY(attn_gpt_forward(f->t, f->m, cur, R, T, &logits));
    for (int64_t r = 0; r < R; r++) memcpy(logp + r * V, logits->data + (r * T + T - 1) * V, (size_t)V * sizeof *logp);
    attn_log_softmax_rows(logp, R, V);
    return ATTN_OK;
}

static int full_reorder(void *p, const int64_t *parent, int64_t pos)
{
    attn_prefix_reorder(&((gpt_full *)p)->prefix, parent, pos);
    return ATTN_OK;
}

static const attn_stepper_ops full_ops = {full_step, full_reorder, full_free};

typedef struct gpt_cached {
    const attn_gpt *m;
    attn_kv kv;
} gpt_cached;

static void cached_free(void *p)
{
    gpt_cached *c = p;
    if (!c) return;
    attn_kv_free(&c->kv);
    free(c);
}

static int cached_step(void *p, const int32_t *y, int64_t pos, float *logp)
{
    gpt_cached *c = p;
    const attn_gpt *m = c->m;
    attn_kv *kv = &c->kv;
    const int64_t R = kv->R, d = kv->d;
    const float *wte = m->wte.weight->data, *wpe = m->wpe.weight->data + pos * d;
    for (int64_t r = 0; r < R; r++) {
        if (y[r] < 0 || y[r] >= m->cfg.vocab)
            return attn_fail(ATTN_E_ARG, "attn_gpt stepper: token id %d outside [0, %lld)", y[r], (long long)m->cfg.vocab);
        for (int64_t j = 0; j < d; j++) kv->x[r * d + j] = wte[(int64_t)y[r] * d + j] + wpe[j];
    }
    for (int64_t l = 0; l < kv->nl; l++) {
        const attn_encoder_layer *L = &m->h[l];
        ATTN_TRY(attn_kv_self(kv, &L->self_attn, &L->norm1, L->cfg.norm_first, l, pos));
        ATTN_TRY(attn_kv_ffn(kv, &L->ffn, &L->norm2, L->cfg.norm_first));
    }
    if (!logp) return ATTN_OK;
    ATTN_TRY(attn_layernorm_rows(&m->ln_f, kv->x, R, kv->h, kv->threads));
    ATTN_TRY(attn_linear_rows(&m->head, kv->h, R, logp, kv->threads));
    attn_log_softmax_rows(logp, R, m->cfg.vocab);
    return ATTN_OK;
}

static int cached_reorder(void *p, const int64_t *parent, int64_t pos)
{
    attn_kv_reorder(&((gpt_cached *)p)->kv, parent, pos);
    return ATTN_OK;
}

static const attn_stepper_ops cached_ops = {cached_step, cached_reorder, cached_free};

int attn_gpt_stepper_create(const attn_gpt *m, int64_t R, int64_t max_pos, int use_cache, int threads,
                            attn_stepper **out)
{
    static const char fn[] = "attn_gpt_stepper_create";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    if (R < 1 || max_pos < 1 || max_pos > m->cfg.context)
        return attn_fail(ATTN_E_ARG, "%s: R=%lld, max_pos=%lld (context %lld)", fn, (long long)R, (long long)max_pos,
                         (long long)m->cfg.context);
    threads = threads > 0 ? threads : attn_get_num_threads();
    if (!use_cache) {
        gpt_full *f = calloc(1, sizeof *f);
        if (!f) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
        f->m = m, f->R = R;
        attn_tape_config tc = {.num_threads = threads};
        int st = attn_tape_create(&tc, &f->t);
        if (st == ATTN_OK) attn_tape_set_training(f->t, 0);
        if (st == ATTN_OK) st = attn_prefix_init(&f->prefix, R, max_pos);
        if (st != ATTN_OK) {
            full_free(f);
            return st;
        }
        return attn_stepper_wrap(&full_ops, f, R, m->cfg.vocab, max_pos, 0, out);
    }
    gpt_cached *c = calloc(1, sizeof *c);
    if (!c) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    c->m = m;
    int st = ATTN_OK;
    for (int64_t l = 0; st == ATTN_OK && l < m->cfg.n_layer; l++) st = attn_kv_check_mha(fn, &m->h[l].self_attn, m->cfg.d_model);
    if (st == ATTN_OK)
        st = attn_kv_init(&c->kv, R, m->cfg.d_model, m->cfg.n_head, m->cfg.n_layer, max_pos,
                          m->h[0].ffn.linear1.out_features, threads);
    if (st != ATTN_OK) {
        cached_free(c);
        return st;
    }
    return attn_stepper_wrap(&cached_ops, c, R, m->cfg.vocab, max_pos, 0, out);
}

/* ---- beyond the context: a sliding window ------------------------------------------------------ */

typedef struct window {
    const attn_generate_options *o; /* the caller's */
    int64_t offset;                 /* tokens generated in earlier rounds */
    char *done;                     /* [N] rows that produced their EOS */
    int32_t *tok;                   /* [N] what the caller's callback sees */
    int user_stopped, all_done;
} window;

/* A round's callback: rows already finished read −1; a row's EOS finishes it; the caller's
 * callback sees one step count across rounds. */
static int window_on_token(void *ctx, int64_t step, const int32_t *tokens, int64_t N)
{
    window *w = ctx;
    int all = 1;
    for (int64_t i = 0; i < N; i++) {
        w->tok[i] = w->done[i] ? -1 : tokens[i];
        if (w->tok[i] >= 0 && w->tok[i] == w->o->eos_id) w->done[i] = 1;
        all &= w->done[i];
    }
    if (w->o->on_token && w->o->on_token(w->o->ctx, w->offset + step, w->tok, N)) w->user_stopped = 1;
    w->all_done = all;
    return w->user_stopped || all;
}

/* L > context − P new tokens: rounds of at most a context each. A round generates until the
 * context is full; the next one starts from the last ⌊context/2⌋ tokens of each row (prompt and
 * generated text together), run again through the same stepper. Sampling draws of round r use
 * the seed seed + r·0x9E3779B97F4A7C15. EOS handling as attn_generate's (a row ends at its EOS;
 * a row cut by the bound ends with one). */
static int gpt_generate_windowed(const attn_gpt *m, const int32_t *prompt, int64_t N, int64_t P,
                                 const attn_generate_options *o, int64_t L, int32_t *out, int64_t cap,
                                 int64_t *out_len, attn_generate_info *info)
{
    static const char fn[] = "attn_gpt_generate";
    const int64_t C = m->cfg.context, keep = C / 2 > 0 ? C / 2 : 1;
    if (o->beam > 1) return attn_fail(ATTN_E_ARG, "%s: beam search over more than the context (%lld new tokens after "
                                      "a prompt of %lld, context %lld) is not supported", fn, (long long)L,
                                      (long long)P, (long long)C);
    attn_stepper *s = NULL;
    ATTN_TRY(attn_gpt_stepper_create(m, N, C, !o->no_cache, 0, &s));
    const int64_t rcap = C + 1, width = P > keep ? P : keep;
    int32_t *rout = malloc((size_t)(N * rcap) * sizeof *rout), *rprompt = malloc((size_t)(N * width) * sizeof *rprompt);
    int64_t *rlen = malloc((size_t)N * sizeof *rlen);
    char *was = malloc((size_t)N); /* rows finished before the round */
    window w = {.o = o, .done = calloc((size_t)N, 1), .tok = malloc((size_t)N * sizeof(int32_t))};
    int st = rout && rprompt && rlen && was && w.done && w.tok ? ATTN_OK
                                                              : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    attn_generate_info local;
    info = attn_generate_start(s, N, cap, L, out, out_len, info, &local);
    if (st == ATTN_OK) memcpy(rprompt, prompt, (size_t)(N * P) * sizeof *rprompt);
    const double t0 = attn_now();
    int64_t Pr = P, made = 0; /* the round's prompt length; tokens per row so far */
    for (int64_t r = 0; st == ATTN_OK && made < L; r++) {
        attn_generate_options ro = *o;
        ro.eos_id = -1; /* ends are tracked here: a round's bound must not force an EOS */
        ro.max_new = C - Pr < L - made ? C - Pr : L - made;
        ro.seed = o->seed + (uint64_t)r * 0x9E3779B97F4A7C15ull;
        ro.on_token = window_on_token, ro.ctx = &w;
        if (o->max_seconds > 0) {
            ro.max_seconds = o->max_seconds - (attn_now() - t0);
            if (ro.max_seconds <= 0) {
                info->timed_out = 1;
                break;
            }
        }
        w.offset = made;
        memcpy(was, w.done, (size_t)N);
        attn_generate_info ri;
        st = attn_generate(s, N, rprompt, Pr, &ro, rout, rcap, rlen, &ri);
        int64_t got = 0;
        for (int64_t i = 0; st == ATTN_OK && i < N; i++) {
            got = rlen[i] > got ? rlen[i] : got;
            for (int64_t t = 0; !was[i] && t < rlen[i]; t++) {
                const int32_t y = rout[i * rcap + t];
                if (y == o->eos_id) { /* written after the row's length, as attn_generate does */
                    out[i * cap + out_len[i]] = y;
                    break;
                }
                out[i * cap + out_len[i]++] = y;
            }
        }
        info->steps += ri.steps;
        info->timed_out |= ri.timed_out;
        info->stopped |= w.user_stopped;
        made += got;
        if (st != ATTN_OK || ri.timed_out || w.user_stopped || w.all_done || got < ro.max_new) break;
        /* the next round's prompt: each row's last `keep` tokens (its text so far) */
        Pr = keep;
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < keep; j++) {
                const int64_t k = P + made - keep + j; /* index into prompt ++ generated */
                rprompt[i * keep + j] = k < P ? prompt[i * P + k] : out[i * cap + (k - P)];
            }
    }
    /* rows cut by the bound end with an EOS, as attn_generate's */
    for (int64_t i = 0; st == ATTN_OK && o->eos_id >= 0 && i < N; i++)
        if (!w.done[i]) out[i * cap + out_len[i]] = o->eos_id;
    free(rout), free(rprompt), free(rlen), free(was), free(w.done), free(w.tok);
    attn_stepper_free(s);
    return st;
}

int attn_gpt_generate(const attn_gpt *m, const int32_t *prompt, int64_t N, int64_t P,
                      const attn_generate_options *o, int32_t *out, int64_t cap, int64_t *out_len,
                      attn_generate_info *info)
{
    static const char fn[] = "attn_gpt_generate";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, o);
    ATTN_REQUIRE_NONNULL(fn, prompt);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_REQUIRE_NONNULL(fn, out_len);
    if (N < 1 || P < 1 || P >= m->cfg.context)
        return attn_fail(ATTN_E_ARG, "%s: N=%lld, prompt of %lld tokens (context %lld leaves no room)", fn,
                         (long long)N, (long long)P, (long long)m->cfg.context);
    if (o->beam < 0 || o->beam > ATTN_MAX_BEAM)
        return attn_fail(ATTN_E_ARG, "%s: beam=%d must be 1..%d", fn, o->beam, ATTN_MAX_BEAM);
    if (o->max_new < 0 || cap < 2)
        return attn_fail(ATTN_E_ARG, "%s: max_new=%lld, cap=%lld", fn, (long long)o->max_new, (long long)cap);
    int64_t L = o->max_new > 0 ? o->max_new : m->cfg.context - P;
    if (L > cap - 1) L = cap - 1;
    if (L > m->cfg.context - P) {
        for (int64_t i = 0; i < N * P; i++) /* checked here: a later round's prompt comes from the output */
            if (prompt[i] < 0 || prompt[i] >= m->cfg.vocab)
                return attn_fail(ATTN_E_ARG, "%s: prompt token %d outside [0, %lld)", fn, prompt[i],
                                 (long long)m->cfg.vocab);
        return gpt_generate_windowed(m, prompt, N, P, o, L, out, cap, out_len, info);
    }
    const int64_t K = o->beam > 1 ? o->beam : 1;
    const int64_t positions = P + L + (o->eos_id >= 0 ? 1 : 0) <= m->cfg.context ? P + L + (o->eos_id >= 0 ? 1 : 0)
                                                                                  : m->cfg.context;
    attn_stepper *s = NULL;
    ATTN_TRY(attn_gpt_stepper_create(m, N * K, positions, !o->no_cache, 0, &s));
    attn_generate_options oo = *o;
    oo.max_new = L;
    int st = attn_generate(s, N, prompt, P, &oo, out, cap, out_len, info);
    attn_stepper_free(s);
    return st;
}
