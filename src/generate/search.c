/* search.c — greedy decoding, beam search and sampling over any stepper (attn/generate.h).
 *
 * Every search runs the same loop: feed each row its token at position pos, read the next-token
 * log-probabilities, choose. Greedy takes the arg max, sampling draws from the tempered,
 * truncated distribution, beam search keeps the `beam` best hypotheses of each sequence by
 * length-normalised log-probability and reorders the stepper's rows to follow them. Memory is
 * allocated once per call, before the first step. */
#include "generate_internal.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- stepper object -------------------------------------------------------------------------- */

int attn_stepper_wrap(const attn_stepper_ops *ops, void *state, int64_t rows, int64_t vocab,
                      int64_t max_pos, int32_t pad_id, attn_stepper **out)
{
    attn_stepper *s = calloc(1, sizeof *s);
    if (!s) {
        ops->free(state);
        return attn_fail(ATTN_E_NOMEM, "attn_stepper: out of memory");
    }
    s->ops = ops, s->state = state, s->rows = rows, s->vocab = vocab, s->max_pos = max_pos;
    s->pad_id = pad_id;
    *out = s;
    return ATTN_OK;
}

int attn_stepper_step(attn_stepper *s, const int32_t *y, int64_t pos, float *logp)
{
    static const char fn[] = "attn_stepper_step";
    ATTN_REQUIRE_NONNULL(fn, s);
    ATTN_REQUIRE_NONNULL(fn, y);
    if (pos < 0 || pos >= s->max_pos)
        return attn_fail(ATTN_E_ARG, "%s: position %lld outside the stepper's %lld", fn, (long long)pos,
                         (long long)s->max_pos);
    return s->ops->step(s->state, y, pos, logp);
}

int attn_stepper_reorder(attn_stepper *s, const int64_t *parent, int64_t pos)
{
    static const char fn[] = "attn_stepper_reorder";
    ATTN_REQUIRE_NONNULL(fn, s);
    ATTN_REQUIRE_NONNULL(fn, parent);
    for (int64_t r = 0; r < s->rows; r++)
        if (parent[r] < 0 || parent[r] >= s->rows)
            return attn_fail(ATTN_E_ARG, "%s: parent[%lld]=%lld outside [0, %lld)", fn, (long long)r,
                             (long long)parent[r], (long long)s->rows);
    if (pos < 0 || pos >= s->max_pos)
        return attn_fail(ATTN_E_ARG, "%s: position %lld outside the stepper's %lld", fn, (long long)pos,
                         (long long)s->max_pos);
    return s->ops->reorder(s->state, parent, pos);
}

int64_t attn_stepper_rows(const attn_stepper *s) { return s ? s->rows : 0; }
int64_t attn_stepper_vocab(const attn_stepper *s) { return s ? s->vocab : 0; }
int64_t attn_stepper_max_positions(const attn_stepper *s) { return s ? s->max_pos : 0; }

void attn_stepper_free(attn_stepper *s)
{
    if (!s) return;
    s->ops->free(s->state);
    free(s);
}

/* ---- the prefix of the uncached steppers ------------------------------------------------------ */

int attn_prefix_init(attn_prefix *p, int64_t R, int64_t cap)
{
    p->R = R, p->cap = cap;
    p->rows = calloc((size_t)(R * cap), sizeof *p->rows);
    p->spare = calloc((size_t)(R * cap), sizeof *p->spare);
    p->packed = calloc((size_t)(R * cap), sizeof *p->packed);
    if (p->rows && p->spare && p->packed) return ATTN_OK;
    attn_prefix_free(p);
    return attn_fail(ATTN_E_NOMEM, "attn_stepper: out of memory for a prefix of %lld × %lld", (long long)R,
                     (long long)cap);
}

void attn_prefix_free(attn_prefix *p)
{
    free(p->rows), free(p->spare), free(p->packed);
    p->rows = p->spare = p->packed = NULL;
}

const int32_t *attn_prefix_push(attn_prefix *p, const int32_t *y, int64_t pos)
{
    const int64_t T = pos + 1;
    for (int64_t r = 0; r < p->R; r++) p->rows[r * p->cap + pos] = y[r];
    for (int64_t r = 0; r < p->R; r++) memcpy(p->packed + r * T, p->rows + r * p->cap, (size_t)T * sizeof *p->packed);
    return p->packed;
}

void attn_prefix_reorder(attn_prefix *p, const int64_t *parent, int64_t pos)
{
    for (int64_t r = 0; r < p->R; r++)
        memcpy(p->spare + r * p->cap, p->rows + parent[r] * p->cap, (size_t)(pos + 1) * sizeof *p->rows);
    int32_t *t = p->rows;
    p->rows = p->spare, p->spare = t;
}

/* ---- log-softmax ----------------------------------------------------------------------------- */

/* One row in place: z − log Σ e^z, the sum in double over float terms e^{z − max} (eight
 * partial sums in a fixed order, so it vectorizes and is the same on every run); libm's
 * double exp here was 14 % of a beam-5 decode in perf. */
ATTN_SIMD_CLONES
static void log_softmax_row(float *z, int64_t V)
{
    float mx = -INFINITY;
    for (int64_t v = 0; v < V; v++) mx = z[v] > mx ? z[v] : mx;
    double s[8] = {0};
    int64_t v = 0;
    for (; v + 8 <= V; v += 8)
        for (int k = 0; k < 8; k++) s[k] += attn_expf(z[v + k] - mx);
    for (; v < V; v++) s[0] += attn_expf(z[v] - mx);
    double sum = 0;
    for (int k = 0; k < 8; k++) sum += s[k];
    const float lse = mx + (float)log(sum);
    for (v = 0; v < V; v++) z[v] -= lse;
}

void attn_log_softmax_rows(float *z, int64_t R, int64_t V)
{
    if (!z || R < 1 || V < 1) return;
#pragma omp parallel for schedule(static) num_threads(attn_get_num_threads()) if (R > 1)
    for (int64_t r = 0; r < R; r++) log_softmax_row(z + r * V, V);
}

/* ---- beam search ------------------------------------------------------------------------------ */

/* A hypothesis: generated ids, total log-probability, finished. */
typedef struct hyp {
    int32_t *ids;
    int64_t len;
    double logp;
    int done;
} hyp;

/* The GNMT length normaliser of a hypothesis of len tokens (1 without a penalty). */
static double len_norm(const attn_generate_options *o, int64_t len)
{
    return o->len_penalty == 0 ? 1.0 : pow((5.0 + (double)len + 1) / 6.0, o->len_penalty);
}

static double beam_score(const attn_generate_options *o, const hyp *h)
{
    return h->logp / len_norm(o, h->len);
}

/* One step for one sequence: from its K hypotheses and their next-token log-probabilities logp
 * [K, V] at step T (1-based; T = L + 1 forces EOS), the K best continuations into next. Finished
 * hypotheses carry over once; finished and live ones are ranked by the same length-normalised
 * score (as tensor2tensor does: ranking live ones by raw log-probability let short finished
 * ones crowd them out, the more so the larger α — the GRU on Multi30k validation: brevity
 * penalty 0.80, BLEU 31.7; ranked alike, 0.96 and 33.7). Ties go to the lower index.
 * cand: K·(V + 2) doubles. parent[n]: the row hypothesis n extends. stride: ids' length. */
static void beam_step(const attn_generate_options *o, int64_t L, int64_t stride, const hyp *beam,
                      const float *logp, int64_t K, int64_t V, int64_t T, double *cand, hyp *next,
                      int64_t *parent)
{
    const int32_t eos = o->eos_id;
    for (int64_t k = 0; k < K; k++)
        for (int64_t v = 0; v < V; v++) {
            double c = -INFINITY;
            if (beam[k].logp > -INFINITY) {
                if (beam[k].done)
                    c = v == eos ? beam[k].logp : -INFINITY;
                else if (T == L + 1)
                    c = v == eos ? beam[k].logp + logp[k * V + v] : -INFINITY;
                else
                    c = beam[k].logp + logp[k * V + v];
            }
            cand[k * V + v] = c;
        }
    /* the K best by normalised score, one pass in index order keeps them sorted */
    double *top_s = cand + K * V;
    int64_t *top_c = (int64_t *)(top_s + K), n_top = 0;
    for (int64_t k = 0; k < K; k++) {
        /* a candidate either stops (finished, or EOS now) at its length or grows by one token:
         * two normalisers, not one pow per candidate */
        const double stop_norm = len_norm(o, beam[k].len), grow_norm = len_norm(o, beam[k].len + 1);
        const double *ck = cand + k * V;
        for (int64_t v = 0; v < V; v++) {
            if (ck[v] == -INFINITY) continue;
            const double sc = ck[v] / (beam[k].done || v == eos ? stop_norm : grow_norm);
            if (n_top == K && !(sc > top_s[K - 1])) continue;
            int64_t at = n_top < K ? n_top++ : K - 1;
            for (; at > 0 && top_s[at - 1] < sc; at--) top_s[at] = top_s[at - 1], top_c[at] = top_c[at - 1];
            top_s[at] = sc, top_c[at] = k * V + v;
        }
    }
    for (int64_t n = 0; n < K; n++) {
        hyp *h = &next[n];
        parent[n] = n;
        if (n >= n_top) {
            h->logp = -INFINITY, h->done = 1, h->len = 0;
            continue;
        }
        const int64_t best = top_c[n], k = best / V, v = best % V;
        parent[n] = k;
        memcpy(h->ids, beam[k].ids, (size_t)stride * sizeof *h->ids);
        h->len = beam[k].len;
        h->done = beam[k].done || v == eos;
        if (!beam[k].done && v != eos) h->ids[h->len++] = (int32_t)v;
        h->logp = cand[best];
    }
}

/* ---- sampling ----------------------------------------------------------------------------------- */

typedef struct pv {
    float p;
    int32_t v;
} pv;

static int pv_desc(const void *a, const void *b)
{
    const pv *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->v < y->v ? -1 : x->v > y->v;
}

/* Draw a token from log-probabilities lp [V] with temperature, top-k and top-p, using the
 * uniform u ∈ [0, 1). work: V pairs. Deterministic for the same inputs. */
static int32_t sample_row(const attn_generate_options *o, const float *lp, int64_t V, float u, pv *work)
{
    const float temp = o->temperature > 0 ? o->temperature : 1.0f;
    float mx = -INFINITY;
    for (int64_t v = 0; v < V; v++) mx = lp[v] > mx ? lp[v] : mx;
    double sum = 0;
    for (int64_t v = 0; v < V; v++) {
        work[v].v = (int32_t)v;
        work[v].p = lp[v] == -INFINITY ? 0.0f : expf((lp[v] - mx) / temp);
        sum += work[v].p;
    }
    int64_t n = V;
    const int truncate = (o->top_k > 0 && o->top_k < V) || (o->top_p > 0 && o->top_p < 1);
    if (truncate) {
        qsort(work, (size_t)V, sizeof *work, pv_desc);
        if (o->top_k > 0 && o->top_k < n) n = o->top_k;
        if (o->top_p > 0 && o->top_p < 1) {
            double mass = 0, tot = 0;
            for (int64_t i = 0; i < n; i++) tot += work[i].p;
            for (int64_t i = 0; i < n; i++) {
                mass += work[i].p;
                if (mass >= o->top_p * tot) {
                    n = i + 1;
                    break;
                }
            }
        }
        sum = 0;
        for (int64_t i = 0; i < n; i++) sum += work[i].p;
    }
    const double target = (double)u * sum;
    double acc = 0;
    int64_t last = 0;
    for (int64_t i = 0; i < n; i++) {
        if (work[i].p <= 0) continue;
        last = i;
        acc += work[i].p;
        if (acc > target) return work[i].v;
    }
    return work[last].v;
}

/* ---- the loop ------------------------------------------------------------------------------------ */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct search {
    attn_stepper *s;
    const attn_generate_options *o;
    int64_t N, K, R, V, L, P, cap;
    int32_t pad;
    const int32_t *prompt;
    const int64_t *row_max; /* [N] each sequence's own bound (≤ L), or NULL */
    float *logp;
    int32_t *y;
    double t0;
    attn_generate_info *info;
} search;

/* Feed positions 0..P−2 of the prompt (no scoring); the last prompt token is fed by the
 * search's first step. */
static int prefill(search *q)
{
    for (int64_t p = 0; p + 1 < q->P; p++) {
        for (int64_t r = 0; r < q->R; r++) q->y[r] = q->prompt[(r / q->K) * q->P + p];
        ATTN_TRY(q->s->ops->step(q->s->state, q->y, p, NULL));
    }
    return ATTN_OK;
}

/* Sequence i's length bound. */
static int64_t bound(const search *q, int64_t i)
{
    return q->row_max && q->row_max[i] < q->L ? q->row_max[i] : q->L;
}

static int out_of_time(search *q)
{
    if (q->o->max_seconds > 0 && now_seconds() - q->t0 > q->o->max_seconds) {
        q->info->timed_out = 1;
        return 1;
    }
    return 0;
}

/* Greedy or sampled: one row per sequence. */
static int run_single(search *q, int32_t *out, int64_t *out_len)
{
    const attn_generate_options *o = q->o;
    const int64_t N = q->N, V = q->V, L = q->L, cap = q->cap;
    char *done = calloc((size_t)N, 1);
    int32_t *tok = malloc((size_t)N * sizeof *tok);
    pv *work = o->sample ? malloc((size_t)V * sizeof *work) : NULL;
    if (!done || !tok || (o->sample && !work)) {
        free(done), free(tok), free(work);
        return attn_fail(ATTN_E_NOMEM, "attn_generate: out of memory");
    }
    int st = prefill(q);
    /* with an EOS, step L + 1 forces it (a row cut at the bound still ends with EOS) */
    const int64_t last = o->eos_id >= 0 ? L + 1 : L;
    for (int64_t T = 1; st == ATTN_OK && T <= last; T++) {
        const int64_t pos = q->P - 1 + T - 1;
        for (int64_t i = 0; i < N; i++) { /* a finished row reads pad after its EOS */
            const int32_t prev = T == 1 ? q->prompt[i * q->P + q->P - 1] : out[i * cap + T - 2];
            q->y[i] = T > 1 && prev == o->eos_id ? q->pad : prev;
        }
        st = q->s->ops->step(q->s->state, q->y, pos, q->logp);
        q->info->steps++;
        int all = 1;
        for (int64_t i = 0; st == ATTN_OK && i < N; i++) {
            tok[i] = -1;
            if (done[i]) continue;
            const float *lp = q->logp + i * V;
            int32_t best = 0;
            if (o->sample) {
                best = sample_row(o, lp, V, attn_philox_uniform(o->seed, (uint64_t)i, (uint64_t)(T - 1)), work);
            } else {
                for (int64_t v = 1; v < V; v++)
                    if (lp[v] > lp[best]) best = (int32_t)v;
            }
            if (T == bound(q, i) + 1) { /* the length bound */
                if (o->eos_id < 0) {
                    done[i] = 1;
                    continue;
                }
                best = o->eos_id;
            }
            tok[i] = best;
            out[i * cap + T - 1] = best;
            if (best == o->eos_id) {
                done[i] = 1;
            } else {
                out_len[i] = T;
            }
            all &= done[i];
        }
        if (st == ATTN_OK && o->on_token && o->on_token(o->ctx, T - 1, tok, N)) {
            q->info->stopped = 1;
            break;
        }
        if (all || (st == ATTN_OK && out_of_time(q))) break;
    }
    free(done), free(tok), free(work);
    return st;
}

static int run_beam(search *q, int32_t *out, int64_t *out_len)
{
    const attn_generate_options *o = q->o;
    const int64_t N = q->N, K = q->K, R = q->R, V = q->V, L = q->L, cap = q->cap;
    int64_t *parent = malloc((size_t)R * sizeof *parent);
    hyp *bm = calloc((size_t)R, sizeof *bm), *next = calloc((size_t)R, sizeof *next);
    int32_t *store = calloc((size_t)(2 * R * (L + 1)), sizeof *store);
    const int nth = attn_get_num_threads(); /* sequences choose their beams side by side */
    double *cand = malloc((size_t)nth * (size_t)(K * (V + 2)) * sizeof *cand);
    int st = (!parent || !bm || !next || !store || !cand) ? attn_fail(ATTN_E_NOMEM, "attn_generate: out of memory")
                                                          : ATTN_OK;
    for (int64_t r = 0; st == ATTN_OK && r < R; r++) {
        bm[r].ids = store + r * (L + 1), next[r].ids = store + (R + r) * (L + 1);
        bm[r].logp = r % K == 0 ? 0 : -INFINITY; /* start from one live prefix */
    }
    if (st == ATTN_OK) st = prefill(q);
    for (int64_t T = 1; st == ATTN_OK && T <= L + 1; T++) {
        int live = 0;
        for (int64_t r = 0; r < R; r++) live |= !bm[r].done && bm[r].logp > -INFINITY;
        if (!live) break;
        const int64_t pos = q->P - 1 + T - 1;
        for (int64_t r = 0; r < R; r++)
            q->y[r] = T == 1 ? q->prompt[(r / K) * q->P + q->P - 1]
                             : T - 2 < bm[r].len ? bm[r].ids[T - 2] : q->pad;
        st = q->s->ops->step(q->s->state, q->y, pos, q->logp);
        q->info->steps++;
        if (st == ATTN_OK) {
            const int late = out_of_time(q); /* out of time: every row ends now */
#pragma omp parallel for schedule(dynamic, 1) num_threads(nth) if (N > 1)
            for (int64_t i = 0; i < N; i++) {
                double *ci = cand + (size_t)omp_get_thread_num() * (size_t)(K * (V + 2));
                const int64_t Li = late ? T - 1 : bound(q, i);
                beam_step(o, Li, L + 1, bm + i * K, q->logp + i * K * V, K, V, T, ci, next + i * K, parent + i * K);
                for (int64_t n = 0; n < K; n++) parent[i * K + n] += i * K;
            }
        }
        for (int64_t r = 0; st == ATTN_OK && r < R; r++) {
            hyp tmp = bm[r];
            bm[r] = next[r];
            next[r] = tmp;
        }
        if (st == ATTN_OK) st = q->s->ops->reorder(q->s->state, parent, pos);
    }
    for (int64_t i = 0; st == ATTN_OK && i < N; i++) {
        hyp *b = bm + i * K;
        int64_t best = 0;
        for (int64_t k = 1; k < K; k++)
            if (beam_score(o, &b[k]) > beam_score(o, &b[best])) best = k;
        memcpy(out + i * cap, b[best].ids, (size_t)b[best].len * sizeof *out);
        if (b[best].done) out[i * cap + b[best].len] = o->eos_id;
        out_len[i] = b[best].len;
    }
    free(parent), free(bm), free(next), free(store), free(cand);
    return st;
}

int attn_generate(attn_stepper *s, int64_t N, const int32_t *prompt, int64_t P,
                  const attn_generate_options *o, int32_t *out, int64_t cap, int64_t *out_len,
                  attn_generate_info *info)
{
    return attn_generate_bounded(s, N, prompt, P, NULL, o, out, cap, out_len, info);
}

attn_generate_info *attn_generate_start(const attn_stepper *s, int64_t N, int64_t cap, int64_t L, int32_t *out,
                                        int64_t *out_len, attn_generate_info *info, attn_generate_info *local)
{
    if (!info) info = local;
    memset(info, 0, sizeof *info);
    info->max_new = L;
    for (int64_t i = 0; i < N * cap; i++) out[i] = s->pad_id;
    for (int64_t i = 0; i < N; i++) out_len[i] = 0;
    return info;
}

int attn_generate_bounded(attn_stepper *s, int64_t N, const int32_t *prompt, int64_t P, const int64_t *row_max,
                          const attn_generate_options *o, int32_t *out, int64_t cap, int64_t *out_len,
                          attn_generate_info *info)
{
    static const char fn[] = "attn_generate";
    ATTN_REQUIRE_NONNULL(fn, s);
    ATTN_REQUIRE_NONNULL(fn, prompt);
    ATTN_REQUIRE_NONNULL(fn, o);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_REQUIRE_NONNULL(fn, out_len);
    const int64_t K = o->beam > 1 ? o->beam : 1;
    if (o->beam < 0 || o->beam > ATTN_MAX_BEAM)
        return attn_fail(ATTN_E_ARG, "%s: beam=%d must be 1..%d", fn, o->beam, ATTN_MAX_BEAM);
    if (K > 1 && o->sample) return attn_fail(ATTN_E_ARG, "%s: sampling takes beam 1, not %d", fn, o->beam);
    if (K > 1 && o->eos_id < 0) return attn_fail(ATTN_E_ARG, "%s: beam search needs an eos_id", fn);
    if (N < 1 || N * K != s->rows)
        return attn_fail(ATTN_E_ARG, "%s: N=%lld × beam %lld rows but the stepper has %lld", fn, (long long)N,
                         (long long)K, (long long)s->rows);
    if (P < 1 || P >= s->max_pos)
        return attn_fail(ATTN_E_ARG, "%s: prompt of %lld tokens for a stepper of %lld positions", fn,
                         (long long)P, (long long)s->max_pos);
    if (cap < 2) return attn_fail(ATTN_E_ARG, "%s: cap=%lld leaves no room (≥ 2)", fn, (long long)cap);
    if (o->max_new < 0 || !(o->temperature >= 0) || !(o->top_p >= 0 && o->top_p <= 1) || o->top_k < 0 ||
        !(o->max_seconds >= 0))
        return attn_fail(ATTN_E_ARG, "%s: max_new %lld, temperature %g, top_k %d, top_p %g, max_seconds %g out of range",
                         fn, (long long)o->max_new, (double)o->temperature, o->top_k, (double)o->top_p,
                         o->max_seconds);
    for (int64_t i = 0; i < N * P; i++)
        if (prompt[i] < 0 || prompt[i] >= s->vocab)
            return attn_fail(ATTN_E_ARG, "%s: prompt token %d outside [0, %lld)", fn, prompt[i], (long long)s->vocab);
    /* the bound: the caller's, the output's room, the stepper's positions */
    int64_t L = s->max_pos - P;
    if (cap - 1 < L) L = cap - 1;
    if (o->max_new > 0 && o->max_new < L) L = o->max_new;
    attn_generate_info local;
    info = attn_generate_start(s, N, cap, L, out, out_len, info, &local);
    search q = {.s = s, .o = o, .N = N, .K = K, .R = N * K, .V = s->vocab, .L = L, .P = P, .cap = cap,
                .pad = s->pad_id, .prompt = prompt, .row_max = row_max, .info = info, .t0 = now_seconds()};
    q.logp = malloc((size_t)(q.R * q.V) * sizeof *q.logp);
    q.y = malloc((size_t)q.R * sizeof *q.y);
    int st = q.logp && q.y ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s: out of memory for %lld × %lld scores", fn,
                                                 (long long)q.R, (long long)q.V);
    if (st == ATTN_OK) st = K > 1 ? run_beam(&q, out, out_len) : run_single(&q, out, out_len);
    free(q.logp), free(q.y);
    return st;
}
