/* mt_task.c — the translation training task (attn/train.h): sentence pairs in batches of similar
 * lengths under a token budget, shuffled per epoch; label-smoothed cross-entropy; validation
 * loss and a caller's metric (BLEU by its tokenizer). */
#include "internal.h"
#include "attn/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct attn_mt_task {
    const attn_seq2seq *tf;
    const attn_gru_seq2seq *gru;
    const attn_mt_pair *train, *val;
    int64_t n_train, n_val, max_len;
    attn_mt_task_config c;
    attn_batches tb, vb; /* this epoch's training batches; the validation batches */
    int64_t *perm;       /* [tb.nb]: the order batches are taken in */
    int32_t *src, *tin, *tout;
};

/* Batches of similar lengths (the longer side, with EOS or BOS) under the token budget; with
 * jitter, batches differ between epochs (attn_batches_by_length). */
static int make_batches(const attn_mt_pair *p, int64_t n, int64_t batch_tokens, uint64_t seed, int jitter,
                        attn_batches *b)
{
    int64_t *len = malloc((size_t)(n > 0 ? n : 1) * sizeof *len);
    if (!len) return attn_fail(ATTN_E_NOMEM, "attn_mt_task: out of memory");
    for (int64_t i = 0; i < n; i++) len[i] = p[i].slen > p[i].tlen + 1 ? p[i].slen : p[i].tlen + 1;
    int st = attn_batches_by_length(len, n, batch_tokens, seed, jitter, b);
    free(len);
    return st;
}

/* Pairs idx[0..B) as src [B, S] padded, decoder input [B, T] (BOS + target) and labels (target +
 * EOS); *S, *T the longest lengths. */
static void fill(attn_mt_task *mt, const attn_mt_pair *p, const int64_t *idx, int64_t B, int64_t *Sp, int64_t *Tp)
{
    const int32_t pad = mt->c.pad;
    int64_t S = 1, T = 1;
    for (int64_t i = 0; i < B; i++) {
        const attn_mt_pair *q = &p[idx[i]];
        if (q->slen > S) S = q->slen;
        if (q->tlen + 1 > T) T = q->tlen + 1;
    }
    for (int64_t i = 0; i < B; i++) {
        const attn_mt_pair *q = &p[idx[i]];
        for (int64_t j = 0; j < S; j++) mt->src[i * S + j] = j < q->slen ? q->src[j] : pad;
        for (int64_t j = 0; j < T; j++) {
            mt->tin[i * T + j] = j == 0 ? mt->c.bos : j <= q->tlen ? q->tgt[j - 1] : pad;
            mt->tout[i * T + j] = j < q->tlen ? q->tgt[j] : j == q->tlen ? mt->c.eos : pad;
        }
    }
    *Sp = S, *Tp = T;
}

static int forward_loss(attn_mt_task *mt, attn_tape *t, int64_t B, int64_t S, int64_t T, float ls, attn_var **loss)
{
    attn_var *mem, *s0, *logits;
    attn_ce_options ce = {.ignore_index = mt->c.pad, .label_smoothing = ls};
    ATTN_TRY(attn_tape_reset(t));
    if (mt->gru) {
        ATTN_TRY(attn_gru_seq2seq_encode(t, mt->gru, mt->src, B, S, &mem, &s0));
        ATTN_TRY(attn_gru_seq2seq_decode(t, mt->gru, mem, s0, mt->src, S, mt->tin, T, &logits, NULL));
    } else {
        ATTN_TRY(attn_seq2seq_encode(t, mt->tf, mt->src, B, S, &mem));
        ATTN_TRY(attn_seq2seq_decode(t, mt->tf, mem, mt->src, S, mt->tin, T, &logits));
    }
    return attn_op_cross_entropy(t, logits, mt->tout, &ce, loss);
}

static int begin_epoch(void *ctx, int64_t epoch, int64_t step, int64_t *batches)
{
    attn_mt_task *mt = ctx;
    (void)step;
    attn_batches_free(&mt->tb);
    ATTN_TRY(make_batches(mt->train, mt->n_train, mt->c.batch_tokens, mt->c.seed * 1000003u + (uint64_t)epoch, 1,
                          &mt->tb));
    free(mt->perm);
    mt->perm = malloc((size_t)(mt->tb.nb > 0 ? mt->tb.nb : 1) * sizeof *mt->perm);
    if (!mt->perm) return attn_fail(ATTN_E_NOMEM, "attn_mt_task: out of memory");
    for (int64_t i = 0; i < mt->tb.nb; i++) mt->perm[i] = i;
    attn_shuffle(mt->perm, mt->tb.nb, mt->c.seed * 7919u + (uint64_t)epoch);
    *batches = mt->tb.nb;
    return ATTN_OK;
}

/* This rank's contiguous share [lo, hi) of the batch's pairs, weighed by target tokens. */
static int batch_loss(void *ctx, attn_tape *t, const attn_train_batch *b, attn_var **loss, double *weight,
                      double *total)
{
    attn_mt_task *mt = ctx;
    const int64_t k = mt->perm[b->index], B = mt->tb.start[k + 1] - mt->tb.start[k];
    const int64_t *pairs = mt->tb.order + mt->tb.start[k];
    const int64_t lo = B * b->rank / b->ranks, hi = B * (b->rank + 1) / b->ranks;
    double all = 0, mine = 0;
    for (int64_t i = 0; i < B; i++) {
        const double ki = (double)mt->train[pairs[i]].tlen + 1;
        all += ki;
        if (i >= lo && i < hi) mine += ki;
    }
    *total = all, *weight = mine, *loss = NULL;
    if (hi == lo) return ATTN_OK;
    int64_t S, T;
    fill(mt, mt->train, pairs + lo, hi - lo, &S, &T);
    return forward_loss(mt, t, hi - lo, S, T, mt->c.label_smoothing, loss);
}

/* Mean token cross-entropy (no smoothing) over the validation pairs; the caller's metric. */
static int validate(void *ctx, attn_tape *t, double *metric, double *vloss)
{
    attn_mt_task *mt = ctx;
    double sum = 0, ntok = 0;
    for (int64_t b = 0; b < mt->vb.nb; b++) {
        const int64_t B = mt->vb.start[b + 1] - mt->vb.start[b];
        const int64_t *pairs = mt->vb.order + mt->vb.start[b];
        int64_t S, T;
        fill(mt, mt->val, pairs, B, &S, &T);
        attn_var *loss;
        ATTN_TRY(forward_loss(mt, t, B, S, T, 0.0f, &loss));
        double k = 0;
        for (int64_t i = 0; i < B; i++) k += (double)mt->val[pairs[i]].tlen + 1;
        sum += loss->data[0] * k, ntok += k;
    }
    *vloss = ntok > 0 ? sum / ntok : NAN;
    if (mt->c.metric) return mt->c.metric(mt->c.metric_user, t, metric);
    *metric = -*vloss;
    return ATTN_OK;
}

static int before_save(void *ctx)
{
    attn_mt_task *mt = ctx;
    if (mt->c.tie_copy_to && mt->c.tie_copy_from)
        memcpy(mt->c.tie_copy_to->data, mt->c.tie_copy_from->data, (size_t)mt->c.tie_copy_from->numel * sizeof(float));
    return ATTN_OK;
}

static int check_pairs(const char *fn, const attn_mt_pair *p, int64_t n, int64_t max_len, int64_t vs, int64_t vt,
                       const char *which)
{
    for (int64_t i = 0; i < n; i++) {
        if (!p[i].src || !p[i].tgt || p[i].slen < 1 || p[i].tlen < 1 || p[i].slen > max_len || p[i].tlen + 1 > max_len)
            return attn_fail(ATTN_E_ARG, "%s: %s pair %lld: lengths %lld and %lld (1..%lld with EOS/BOS)", fn, which,
                             (long long)i, (long long)p[i].slen, (long long)p[i].tlen, (long long)max_len);
        for (int64_t j = 0; j < p[i].slen; j++)
            if (p[i].src[j] < 0 || p[i].src[j] >= vs)
                return attn_fail(ATTN_E_ARG, "%s: %s pair %lld: source id %d outside 0..%lld", fn, which, (long long)i,
                                 p[i].src[j], (long long)vs - 1);
        for (int64_t j = 0; j < p[i].tlen; j++)
            if (p[i].tgt[j] < 0 || p[i].tgt[j] >= vt)
                return attn_fail(ATTN_E_ARG, "%s: %s pair %lld: target id %d outside 0..%lld", fn, which, (long long)i,
                                 p[i].tgt[j], (long long)vt - 1);
    }
    return ATTN_OK;
}

int attn_mt_task_create(const attn_seq2seq *tf, const attn_gru_seq2seq *gru, const attn_mt_pair *train, int64_t n_train,
                        const attn_mt_pair *val, int64_t n_val, const attn_mt_task_config *c, attn_mt_task **out)
{
    static const char fn[] = "attn_mt_task_create";
    ATTN_REQUIRE_NONNULL(fn, c);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    if (!tf == !gru) return attn_fail(ATTN_E_ARG, "%s: give one model, a Transformer or a GRU", fn);
    if (n_train < 1 || n_val < 0 || !train || (n_val > 0 && !val))
        return attn_fail(ATTN_E_ARG, "%s: %lld training and %lld validation pairs", fn, (long long)n_train,
                         (long long)n_val);
    const int64_t max_len = tf ? tf->cfg.max_len : gru->cfg.max_len;
    const int64_t vs = tf ? tf->cfg.src_vocab : gru->cfg.src_vocab, vt = tf ? tf->cfg.tgt_vocab : gru->cfg.tgt_vocab;
    if (c->batch_tokens < max_len || c->batch_tokens > ((int64_t)1 << 30))
        return attn_fail(ATTN_E_ARG, "%s: batch_tokens %lld below the model's max_len %lld", fn,
                         (long long)c->batch_tokens, (long long)max_len);
    ATTN_TRY(check_pairs(fn, train, n_train, max_len, vs, vt, "training"));
    ATTN_TRY(check_pairs(fn, val, n_val, max_len, vs, vt, "validation"));
    attn_mt_task *mt = calloc(1, sizeof *mt);
    if (!mt) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    *mt = (attn_mt_task){.tf = tf, .gru = gru, .train = train, .val = val, .n_train = n_train, .n_val = n_val,
                         .max_len = max_len, .c = *c};
    const size_t cap = (size_t)(c->batch_tokens + max_len);
    mt->src = malloc(cap * sizeof *mt->src);
    mt->tin = malloc(cap * sizeof *mt->tin);
    mt->tout = malloc(cap * sizeof *mt->tout);
    int st = mt->src && mt->tin && mt->tout ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    if (st == ATTN_OK) st = make_batches(val, n_val, c->batch_tokens, 0, 0, &mt->vb);
    if (st) {
        attn_mt_task_free(mt);
        return st;
    }
    *out = mt;
    return ATTN_OK;
}

attn_train_task attn_mt_task_get(attn_mt_task *mt)
{
    return (attn_train_task){.ctx = mt, .begin_epoch = begin_epoch, .batch_loss = batch_loss,
                             .validate = mt && mt->n_val > 0 ? validate : NULL, .before_save = before_save};
}

void attn_mt_task_free(attn_mt_task *mt)
{
    if (!mt) return;
    attn_batches_free(&mt->tb), attn_batches_free(&mt->vb);
    free(mt->perm), free(mt->src), free(mt->tin), free(mt->tout);
    free(mt);
}
