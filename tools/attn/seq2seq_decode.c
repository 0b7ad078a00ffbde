/* seq2seq_decode.c — decoding by re-running the decoder on the growing prefix.
 *
 * The encoder runs once; its output is kept outside the tape and fed back as an input at every
 * step. Greedy decoding takes the arg max; beam search keeps the `beam` best prefixes of each
 * sentence by total log-probability (length-normalised when finished). */
#include "seq2seq_decode.h"

#include "internal.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Encoder output of src into a malloc'ed copy [N, S, d]. */
static int encode_copy(attn_tape *t, const attn_seq2seq *m, const int32_t *src, int64_t N, int64_t S,
                       float **mem)
{
    ATTN_TRY_CLI(attn_tape_reset(t));
    attn_var *memory;
    ATTN_TRY_CLI(attn_seq2seq_encode(t, m, src, N, S, &memory));
    *mem = malloc((size_t)memory->numel * sizeof **mem);
    if (!*mem) return ATTN_E_NOMEM;
    memcpy(*mem, memory->data, (size_t)memory->numel * sizeof **mem);
    return ATTN_OK;
}

/* Log-softmax of the logits at position T-1 of each row: logp [R, V]. */
static int step_logprobs(attn_tape *t, const attn_seq2seq *m, const float *mem, const int32_t *src,
                         int64_t R, int64_t S, const int32_t *prefix, int64_t T, float *logp)
{
    const int64_t d = m->cfg.d_model, V = m->cfg.tgt_vocab;
    ATTN_TRY_CLI(attn_tape_reset(t));
    int64_t shape[3] = {R, S, d};
    attn_var *memory, *logits;
    ATTN_TRY_CLI(attn_tape_input(t, mem, 3, shape, 0, &memory));
    ATTN_TRY_CLI(attn_seq2seq_decode(t, m, memory, src, S, prefix, T, &logits));
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

static int greedy(attn_tape *t, const attn_seq2seq *m, const int32_t *src, int64_t N, int64_t S,
                  const decode_options *o, int32_t *out, int64_t *out_len)
{
    const int64_t V = m->cfg.tgt_vocab, L = o->max_len;
    float *mem = NULL, *logp = malloc((size_t)(N * V) * sizeof *logp);
    int32_t *prefix = malloc((size_t)(N * (L + 1)) * sizeof *prefix);
    int32_t *cur = malloc((size_t)(N * (L + 1)) * sizeof *cur);
    char *done = calloc((size_t)N, 1);
    int st = (!logp || !prefix || !cur || !done) ? ATTN_E_NOMEM : encode_copy(t, m, src, N, S, &mem);
    for (int64_t i = 0; i < N; i++) {
        out_len[i] = 0;
        for (int64_t j = 0; j <= L; j++) out[i * (L + 1) + j] = m->cfg.pad_id;
    }
    for (int64_t T = 1; st == ATTN_OK && T <= L + 1; T++) {
        /* decoder input: BOS + generated so far */
        for (int64_t i = 0; i < N; i++) {
            cur[i * T] = o->bos_id;
            for (int64_t j = 1; j < T; j++) {
                int32_t y = out[i * (L + 1) + j - 1];
                cur[i * T + j] = y == o->eos_id ? m->cfg.pad_id : y;
            }
        }
        st = step_logprobs(t, m, mem, src, N, S, cur, T, logp);
        int all = 1;
        for (int64_t i = 0; st == ATTN_OK && i < N; i++) {
            if (done[i]) continue;
            int64_t best = 0;
            for (int64_t v = 1; v < V; v++)
                if (logp[i * V + v] > logp[i * V + best]) best = v;
            if (T == L + 1) best = o->eos_id; /* length bound */
            out[i * (L + 1) + T - 1] = (int32_t)best;
            if (best == o->eos_id)
                done[i] = 1;
            else
                out_len[i] = T;
            all &= done[i];
        }
        if (all) break;
    }
    free(mem), free(logp), free(prefix), free(cur), free(done);
    return st;
}

/* The GNMT length normaliser of a hypothesis of len tokens (1 without a penalty: x / 1 = x). */
static double len_norm(const decode_options *o, int64_t len)
{
    return o->len_penalty == 0 ? 1.0 : pow((5.0 + (double)len + 1) / 6.0, o->len_penalty);
}

double decode_beam_score(const decode_options *o, const decode_hyp *h)
{
    return h->logp / len_norm(o, h->len);
}

void decode_beam_step(const decode_options *o, const decode_hyp *beam, const float *logp, int64_t K,
                      int64_t V, int64_t T, double *cand, decode_hyp *next, int64_t *parent)
{
    const int64_t L = o->max_len;
    /* candidates: finished hypotheses carry over once (as index k*V + eos), live ones extend */
    for (int64_t k = 0; k < K; k++)
        for (int64_t v = 0; v < V; v++) {
            double c = -INFINITY;
            if (beam[k].logp > -INFINITY) {
                if (beam[k].done)
                    c = v == o->eos_id ? beam[k].logp : -INFINITY;
                else if (T == L + 1)
                    c = v == o->eos_id ? beam[k].logp + logp[k * V + v] : -INFINITY;
                else
                    c = beam[k].logp + logp[k * V + v];
            }
            cand[k * V + v] = c;
        }
    /* the K best by length-normalised score, finished and live alike, ties by index: one pass
     * in index order keeps them sorted (score descending; an equal score goes after) */
    double *top_s = cand + K * V;
    int64_t *top_c = (int64_t *)(top_s + K), n_top = 0;
    for (int64_t k = 0; k < K; k++) {
        /* a candidate of hypothesis k either stops (finished, or EOS now) at its length or
         * grows by one token: two normalisers, not one pow per candidate */
        const double stop_norm = len_norm(o, beam[k].len), grow_norm = len_norm(o, beam[k].len + 1);
        const double *ck = cand + k * V;
        for (int64_t v = 0; v < V; v++) {
            if (ck[v] == -INFINITY) continue;
            const double sc = ck[v] / (beam[k].done || v == o->eos_id ? stop_norm : grow_norm);
            if (n_top == K && !(sc > top_s[K - 1])) continue;
            int64_t at = n_top < K ? n_top++ : K - 1;
            for (; at > 0 && top_s[at - 1] < sc; at--) top_s[at] = top_s[at - 1], top_c[at] = top_c[at - 1];
            top_s[at] = sc, top_c[at] = k * V + v;
        }
    }
    for (int64_t n = 0; n < K; n++) {
        decode_hyp *h = &next[n];
        if (parent) parent[n] = n;
        if (n >= n_top) {
            h->logp = -INFINITY, h->done = 1, h->len = 0;
            continue;
        }
        const int64_t best = top_c[n], k = best / V, v = best % V;
        if (parent) parent[n] = k;
        memcpy(h->ids, beam[k].ids, (size_t)(L + 1) * sizeof *h->ids);
        h->len = beam[k].len;
        h->done = beam[k].done || v == o->eos_id;
        if (!beam[k].done && v != o->eos_id) h->ids[h->len++] = (int32_t)v;
        h->logp = cand[best];
    }
}

/* One sentence at a time: K prefixes decoded as a batch of K rows. */
static int beam_one(attn_tape *t, const attn_seq2seq *m, const int32_t *src1, int64_t S,
                    const decode_options *o, int32_t *out, int64_t *out_len)
{
    const int64_t V = m->cfg.tgt_vocab, L = o->max_len, K = o->beam, d = m->cfg.d_model;
    float *mem1 = NULL;
    int st = encode_copy(t, m, src1, 1, S, &mem1);
    float *mem = malloc((size_t)(K * S * d) * sizeof *mem);
    int32_t *srcK = malloc((size_t)(K * S) * sizeof *srcK);
    float *logp = malloc((size_t)(K * V) * sizeof *logp);
    int32_t *cur = malloc((size_t)(K * (L + 1)) * sizeof *cur);
    decode_hyp *beam = calloc((size_t)K, sizeof *beam), *next = calloc((size_t)K, sizeof *next);
    int32_t *store = calloc((size_t)(2 * K * (L + 1)), sizeof *store);
    double *cand = malloc((size_t)(K * (V + 2)) * sizeof *cand);
    if (st == ATTN_OK && (!mem || !srcK || !logp || !cur || !beam || !next || !store || !cand))
        st = ATTN_E_NOMEM;
    if (st == ATTN_OK) {
        for (int64_t k = 0; k < K; k++) {
            memcpy(mem + k * S * d, mem1, (size_t)(S * d) * sizeof *mem);
            memcpy(srcK + k * S, src1, (size_t)S * sizeof *srcK);
            beam[k].ids = store + k * (L + 1), next[k].ids = store + (K + k) * (L + 1);
            beam[k].logp = k == 0 ? 0 : -INFINITY; /* start from one live prefix */
        }
    }
    for (int64_t T = 1; st == ATTN_OK && T <= L + 1; T++) {
        int live = 0;
        for (int64_t k = 0; k < K; k++) live |= !beam[k].done && beam[k].logp > -INFINITY;
        if (!live) break;
        for (int64_t k = 0; k < K; k++) {
            cur[k * T] = o->bos_id;
            for (int64_t j = 1; j < T; j++)
                cur[k * T + j] = j - 1 < beam[k].len ? beam[k].ids[j - 1] : m->cfg.pad_id;
        }
        st = step_logprobs(t, m, mem, srcK, K, S, cur, T, logp);
        if (st) break;
        decode_beam_step(o, beam, logp, K, V, T, cand, next, NULL);
        for (int64_t k = 0; k < K; k++) { /* swap storage */
            decode_hyp tmp = beam[k];
            beam[k] = next[k];
            next[k] = tmp;
        }
    }
    if (st == ATTN_OK) {
        int64_t best = 0;
        for (int64_t k = 1; k < K; k++)
            if (decode_beam_score(o, &beam[k]) > decode_beam_score(o, &beam[best])) best = k;
        for (int64_t j = 0; j <= L; j++) out[j] = m->cfg.pad_id;
        memcpy(out, beam[best].ids, (size_t)beam[best].len * sizeof *out);
        out[beam[best].len] = o->eos_id;
        *out_len = beam[best].len;
    }
    free(mem1), free(mem), free(srcK), free(logp), free(cur), free(beam), free(next), free(store),
        free(cand);
    return st;
}

int seq2seq_translate(attn_tape *t, const attn_seq2seq *m, const int32_t *src, int64_t N, int64_t S,
                      const decode_options *o, int32_t *out, int64_t *out_len)
{
    int was_training = attn_tape_training(t);
    attn_tape_set_training(t, 0);
    int st = ATTN_OK;
    if (o->beam <= 1)
        st = greedy(t, m, src, N, S, o, out, out_len);
    else
        for (int64_t i = 0; st == ATTN_OK && i < N; i++)
            st = beam_one(t, m, src + i * S, S, o, out + i * (o->max_len + 1), out_len + i);
    attn_tape_set_training(t, was_training);
    return st;
}

/* ---- greedy and beam search over rows decoded one position at a time ------------------------ */

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

void decode_log_softmax(float *logp, int64_t R, int64_t V)
{
#pragma omp parallel for schedule(static) num_threads(attn_get_num_threads()) if (R > 1)
    for (int64_t r = 0; r < R; r++) log_softmax_row(logp + r * V, V);
}

int decode_rows_greedy(const decode_stepper *d, int64_t N, const decode_options *o, int32_t *out,
                       int64_t *out_len)
{
    const int64_t V = d->vocab, L = o->max_len;
    float *logp = malloc((size_t)(N * V) * sizeof *logp);
    int32_t *y = calloc((size_t)N, sizeof *y);
    char *done = calloc((size_t)N, 1);
    int st = (!logp || !y || !done) ? ATTN_E_NOMEM : ATTN_OK;
    for (int64_t i = 0; i < N; i++) {
        out_len[i] = 0;
        for (int64_t j = 0; j <= L; j++) out[i * (L + 1) + j] = d->pad_id;
    }
    for (int64_t T = 1; st == ATTN_OK && T <= L + 1; T++) {
        for (int64_t i = 0; i < N; i++) {
            int32_t prev = T == 1 ? o->bos_id : out[i * (L + 1) + T - 2];
            y[i] = prev == o->eos_id ? d->pad_id : prev;
        }
        st = d->step(d->state, y, T - 1, logp);
        int all = 1;
        for (int64_t i = 0; st == ATTN_OK && i < N; i++) {
            if (done[i]) continue;
            int64_t best = 0;
            for (int64_t v = 1; v < V; v++)
                if (logp[i * V + v] > logp[i * V + best]) best = v;
            if (T == L + 1) best = o->eos_id;
            out[i * (L + 1) + T - 1] = (int32_t)best;
            if (best == o->eos_id)
                done[i] = 1;
            else
                out_len[i] = T;
            all &= done[i];
        }
        if (all) break;
    }
    free(logp), free(y), free(done);
    return st;
}

int decode_rows_beam(const decode_stepper *d, int64_t N, const decode_options *o, int32_t *out,
                     int64_t *out_len)
{
    const int64_t V = d->vocab, L = o->max_len, K = o->beam, R = N * K;
    float *logp = malloc((size_t)(R * V) * sizeof *logp);
    int32_t *y = calloc((size_t)R, sizeof *y);
    int64_t *parent = malloc((size_t)R * sizeof *parent);
    decode_hyp *bm = calloc((size_t)R, sizeof *bm), *next = calloc((size_t)R, sizeof *next);
    int32_t *store = calloc((size_t)(2 * R * (L + 1)), sizeof *store);
    const int nth = attn_get_num_threads(); /* sentences choose their beams side by side */
    double *cand = malloc((size_t)nth * (size_t)(K * (V + 2)) * sizeof *cand);
    int st = (!logp || !y || !parent || !bm || !next || !store || !cand) ? ATTN_E_NOMEM : ATTN_OK;
    for (int64_t r = 0; st == ATTN_OK && r < R; r++) {
        bm[r].ids = store + r * (L + 1), next[r].ids = store + (R + r) * (L + 1);
        bm[r].logp = r % K == 0 ? 0 : -INFINITY;
    }
    for (int64_t T = 1; st == ATTN_OK && T <= L + 1; T++) {
        int live = 0;
        for (int64_t r = 0; r < R; r++) live |= !bm[r].done && bm[r].logp > -INFINITY;
        if (!live) break;
        for (int64_t r = 0; r < R; r++)
            y[r] = T == 1 ? o->bos_id : T - 2 < bm[r].len ? bm[r].ids[T - 2] : d->pad_id;
        st = d->step(d->state, y, T - 1, logp);
        if (st == ATTN_OK) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(nth) if (N > 1)
            for (int64_t i = 0; i < N; i++) {
                double *ci = cand + (size_t)omp_get_thread_num() * (size_t)(K * (V + 2));
                decode_beam_step(o, bm + i * K, logp + i * K * V, K, V, T, ci, next + i * K, parent + i * K);
                for (int64_t n = 0; n < K; n++) parent[i * K + n] += i * K;
            }
        }
        for (int64_t r = 0; st == ATTN_OK && r < R; r++) {
            decode_hyp tmp = bm[r];
            bm[r] = next[r];
            next[r] = tmp;
        }
        if (st == ATTN_OK) st = d->reorder(d->state, parent, T - 1);
    }
    for (int64_t i = 0; st == ATTN_OK && i < N; i++) {
        decode_hyp *b = bm + i * K;
        int64_t best = 0;
        for (int64_t k = 1; k < K; k++)
            if (decode_beam_score(o, &b[k]) > decode_beam_score(o, &b[best])) best = k;
        int32_t *oi = out + i * (L + 1);
        for (int64_t j = 0; j <= L; j++) oi[j] = d->pad_id;
        memcpy(oi, b[best].ids, (size_t)b[best].len * sizeof *oi);
        oi[b[best].len] = o->eos_id;
        out_len[i] = b[best].len;
    }
    free(logp), free(y), free(parent), free(bm), free(next), free(store), free(cand);
    return st;
}

