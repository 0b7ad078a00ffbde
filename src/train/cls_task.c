/* cls_task.c — sequence classification as a training task (attn/train.h): the epoch orders,
 * each batch's label-smoothed loss, validation accuracy and loss, prediction and the evaluation
 * report (accuracy, per-class precision and recall, confusion matrix). */
#include "internal.h"
#include "attn/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct attn_cls_task {
    const attn_classifier *m;
    attn_cls_data tr, va;
    attn_cls_task_config c;
    int64_t nb;                /* batches per epoch */
    int64_t *order, *scratch;  /* [tr.n] */
    int64_t *perm;             /* [nb] */
    int64_t (*keys)[2];        /* [batch · 50]: (length, index) of a chunk */
    int32_t *ids, *lab;        /* [batch · max_len], [batch] */
};

enum { CHUNK_BATCHES = 50 };

/* The stream of the epoch orders: each draw is SplitMix64's output with the previous draw as its
 * state (the draws attn train classify has always used, so runs keep their batches). */
static uint64_t next_draw(uint64_t *state)
{
    uint64_t s = *state;
    return *state = attn_splitmix64(&s);
}

static void shuffle_stream(int64_t *a, int64_t n, uint64_t *state)
{
    for (int64_t i = n - 1; i > 0; i--) {
        const int64_t j = (int64_t)(next_draw(state) % (uint64_t)(i + 1)), t = a[i];
        a[i] = a[j], a[j] = t;
    }
}

static int by_len_then_index(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : (x[1] > y[1]) - (x[1] < y[1]);
}

static int64_t len_of(const attn_cls_data *d, int64_t i) { return d->off[i + 1] - d->off[i]; }

/* The epoch order with caller-provided scratch: keys [batch · 50], perm [nb], tmp [n]. */
static void epoch_order(const attn_cls_data *d, int64_t bs, uint64_t seed, int64_t epoch, int64_t *order,
                        int64_t (*keys)[2], int64_t *perm, int64_t *tmp)
{
    const int64_t n = d->n, chunk = bs * CHUNK_BATCHES, nb = (n + bs - 1) / bs;
    uint64_t state = seed * 1000003u + (uint64_t)epoch;
    next_draw(&state);
    for (int64_t i = 0; i < n; i++) order[i] = i;
    shuffle_stream(order, n, &state);
    for (int64_t c = 0; c < n; c += chunk) {
        const int64_t k = n - c < chunk ? n - c : chunk;
        for (int64_t i = 0; i < k; i++) keys[i][0] = len_of(d, order[c + i]), keys[i][1] = order[c + i];
        qsort(keys, (size_t)k, sizeof *keys, by_len_then_index);
        for (int64_t i = 0; i < k; i++) order[c + i] = keys[i][1];
    }
    for (int64_t b = 0; b < nb; b++) perm[b] = b;
    shuffle_stream(perm, nb, &state);
    int64_t k = 0;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = perm[b] * bs; i < n && i < (perm[b] + 1) * bs; i++) tmp[k++] = order[i];
    memcpy(order, tmp, (size_t)n * sizeof *order);
}

static int check_data(const char *fn, const char *what, const attn_cls_data *d, const attn_classifier *m)
{
    if (!d->n) return ATTN_OK;
    if (d->n < 0 || !d->off || !d->ids || !d->label || d->off[0] != 0)
        return attn_fail(ATTN_E_ARG, "%s: %s set: %lld sequences, offsets, ids or labels missing", fn, what,
                         (long long)d->n);
    for (int64_t i = 0; i < d->n; i++) {
        const int64_t L = len_of(d, i);
        if (L < 0 || L > m->cfg.max_len)
            return attn_fail(ATTN_E_ARG, "%s: %s sequence %lld has %lld tokens (the model takes 0 to %lld)", fn, what,
                             (long long)i, (long long)L, (long long)m->cfg.max_len);
        if (d->label[i] < 0 || d->label[i] >= m->cfg.num_classes)
            return attn_fail(ATTN_E_ARG, "%s: %s sequence %lld has label %d (the model has %lld classes)", fn, what,
                             (long long)i, d->label[i], (long long)m->cfg.num_classes);
        for (int64_t p = d->off[i]; p < d->off[i + 1]; p++)
            if (d->ids[p] < 0 || d->ids[p] >= m->cfg.vocab)
                return attn_fail(ATTN_E_ARG, "%s: %s sequence %lld: token %d outside the vocabulary of %lld", fn,
                                 what, (long long)i, d->ids[p], (long long)m->cfg.vocab);
    }
    return ATTN_OK;
}

int attn_cls_epoch_order(const attn_cls_data *d, int64_t batch, uint64_t seed, int64_t epoch, int64_t *order)
{
    static const char fn[] = "attn_cls_epoch_order";
    ATTN_REQUIRE_NONNULL(fn, d);
    ATTN_REQUIRE_NONNULL(fn, order);
    if (d->n < 0 || batch < 1 || batch > INT64_MAX / (4 * CHUNK_BATCHES) || (d->n && !d->off))
        return attn_fail(ATTN_E_ARG, "%s: %lld sequences, batch %lld", fn, (long long)d->n, (long long)batch);
    const int64_t n = d->n, nb = (n + batch - 1) / batch, chunk = batch * CHUNK_BATCHES;
    int64_t(*keys)[2] = malloc((size_t)((chunk < n ? chunk : n) + 1) * sizeof *keys);
    int64_t *perm = malloc((size_t)(nb + 1) * sizeof *perm), *tmp = malloc((size_t)(n + 1) * sizeof *tmp);
    if (!keys || !perm || !tmp) {
        free(keys), free(perm), free(tmp);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    epoch_order(d, batch, seed, epoch, order, keys, perm, tmp);
    free(keys), free(perm), free(tmp);
    return ATTN_OK;
}

/* Rows idx[0..nb) of d into ids [nb, T] (T the longest, at least 1, padded with pad) and labels. */
static int64_t gather(const attn_cls_data *d, const int64_t *idx, int64_t nb, int32_t pad, int32_t *ids,
                      int32_t *labels)
{
    int64_t T = 1;
    for (int64_t b = 0; b < nb; b++) T = len_of(d, idx[b]) > T ? len_of(d, idx[b]) : T;
    for (int64_t b = 0; b < nb; b++) {
        const int64_t i = idx[b], L = len_of(d, i);
        memcpy(ids + b * T, d->ids + d->off[i], (size_t)L * sizeof *ids);
        for (int64_t k = L; k < T; k++) ids[b * T + k] = pad;
        if (labels) labels[b] = d->label[i];
    }
    return T;
}

/* Probabilities [n, C] of d's sequences, sorted by length and taken batch at a time with training
 * off; with ce, also the sum over sequences of their loss (*loss_sum). */
static int predict(const attn_classifier *m, attn_tape *t, const attn_cls_data *d, int64_t batch, float *probs,
                   const attn_ce_options *ce, double *loss_sum)
{
    const int64_t C = m->cfg.num_classes, n = d->n, L = m->cfg.max_len;
    int32_t *ids = malloc((size_t)(batch * L) * sizeof *ids), *lab = malloc((size_t)batch * sizeof *lab);
    int64_t *cnt = calloc((size_t)L + 2, sizeof *cnt), *sorted = malloc((size_t)(n + 1) * sizeof *sorted);
    if (!ids || !lab || !cnt || !sorted) {
        free(ids), free(lab), free(cnt), free(sorted);
        return attn_fail(ATTN_E_NOMEM, "attn_classifier_predict: out of memory");
    }
    /* counting sort by length: batches hold little padding */
    for (int64_t i = 0; i < n; i++) cnt[len_of(d, i) + 1]++;
    for (int64_t k = 1; k <= L + 1; k++) cnt[k] += cnt[k - 1];
    for (int64_t i = 0; i < n; i++) sorted[cnt[len_of(d, i)]++] = i;
    const int was = attn_tape_training(t);
    int st = ATTN_OK;
    attn_tape_set_training(t, 0);
    if (loss_sum) *loss_sum = 0;
    for (int64_t b0 = 0; b0 < n && st == ATTN_OK; b0 += batch) {
        const int64_t nb = n - b0 < batch ? n - b0 : batch;
        const int64_t T = gather(d, sorted + b0, nb, m->cfg.pad_id, ids, lab);
        attn_var *logits, *loss;
        st = attn_tape_reset(t);
        if (st == ATTN_OK) st = attn_classifier_forward(t, m, ids, nb, T, &logits, NULL);
        for (int64_t b = 0; st == ATTN_OK && b < nb; b++) {
            const float *z = logits->data + b * C;
            float mx = z[0], sum = 0;
            for (int64_t c = 1; c < C; c++) mx = z[c] > mx ? z[c] : mx;
            for (int64_t c = 0; c < C; c++) sum += expf(z[c] - mx);
            for (int64_t c = 0; c < C; c++) probs[sorted[b0 + b] * C + c] = expf(z[c] - mx) / sum;
        }
        if (st == ATTN_OK && ce) {
            st = attn_op_cross_entropy(t, logits, lab, ce, &loss);
            if (st == ATTN_OK) *loss_sum += (double)loss->data[0] * (double)nb;
        }
    }
    attn_tape_set_training(t, was);
    free(ids), free(lab), free(cnt), free(sorted);
    return st;
}

int attn_classifier_predict(const attn_classifier *m, attn_tape *t, const attn_cls_data *d, int64_t batch,
                            float *probs)
{
    static const char fn[] = "attn_classifier_predict";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, d);
    ATTN_REQUIRE_NONNULL(fn, probs);
    if (batch < 1 || batch > (INT64_MAX / 4) / m->cfg.max_len)
        return attn_fail(ATTN_E_ARG, "%s: batch %lld", fn, (long long)batch);
    /* labels are not read: check lengths and tokens only */
    for (int64_t i = 0; i < d->n; i++) {
        if (len_of(d, i) < 0 || len_of(d, i) > m->cfg.max_len)
            return attn_fail(ATTN_E_ARG, "%s: sequence %lld has %lld tokens (the model takes 0 to %lld)", fn,
                             (long long)i, (long long)len_of(d, i), (long long)m->cfg.max_len);
        for (int64_t p = d->off[i]; p < d->off[i + 1]; p++)
            if (d->ids[p] < 0 || d->ids[p] >= m->cfg.vocab)
                return attn_fail(ATTN_E_ARG, "%s: sequence %lld: token %d outside the vocabulary of %lld", fn,
                                 (long long)i, d->ids[p], (long long)m->cfg.vocab);
    }
    return predict(m, t, d, batch, probs, NULL, NULL);
}

/* The most probable class (the first of equals). */
static int64_t argmax(const float *p, int64_t C)
{
    int64_t k = 0;
    for (int64_t c = 1; c < C; c++)
        if (p[c] > p[k]) k = c;
    return k;
}

static int begin_epoch(void *ctx, int64_t epoch, int64_t step, int64_t *batches)
{
    attn_cls_task *ct = ctx;
    (void)step;
    epoch_order(&ct->tr, ct->c.batch, ct->c.seed, epoch, ct->order, ct->keys, ct->perm, ct->scratch);
    *batches = ct->nb;
    return ATTN_OK;
}

static int batch_loss(void *ctx, attn_tape *t, const attn_train_batch *b, attn_var **loss, double *weight,
                      double *total)
{
    attn_cls_task *ct = ctx;
    const int64_t bs = ct->c.batch, b0 = b->index * bs, nb = ct->tr.n - b0 < bs ? ct->tr.n - b0 : bs;
    /* this rank's contiguous share [lo, hi) of the batch */
    const int64_t lo = nb * b->rank / b->ranks, hi = nb * (b->rank + 1) / b->ranks;
    *total = (double)nb, *weight = (double)(hi - lo), *loss = NULL;
    if (hi == lo) return ATTN_OK;
    const int64_t T = gather(&ct->tr, ct->order + b0 + lo, hi - lo, ct->m->cfg.pad_id, ct->ids, ct->lab);
    const attn_ce_options ce = {-100, ct->c.label_smoothing};
    attn_var *logits;
    ATTN_TRY(attn_tape_reset(t));
    ATTN_TRY(attn_classifier_forward(t, ct->m, ct->ids, hi - lo, T, &logits, NULL));
    return attn_op_cross_entropy(t, logits, ct->lab, &ce, loss);
}

static int validate(void *ctx, attn_tape *t, double *metric, double *vloss)
{
    attn_cls_task *ct = ctx;
    const int64_t C = ct->m->cfg.num_classes, n = ct->va.n;
    float *probs = malloc((size_t)(n * C) * sizeof *probs);
    if (!probs) return attn_fail(ATTN_E_NOMEM, "attn_cls_task: out of memory");
    const attn_ce_options ce = {-100, ct->c.label_smoothing};
    double sum = 0;
    const int st = predict(ct->m, t, &ct->va, ct->c.eval_batch, probs, &ce, &sum);
    int64_t right = 0;
    for (int64_t i = 0; st == ATTN_OK && i < n; i++) right += argmax(probs + i * C, C) == ct->va.label[i];
    free(probs);
    *metric = (double)right / (double)n, *vloss = sum / (double)n;
    return st;
}

int attn_cls_task_create(const attn_classifier *m, const attn_cls_data *train, const attn_cls_data *val,
                         const attn_cls_task_config *c, attn_cls_task **out)
{
    static const char fn[] = "attn_cls_task_create";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, train);
    ATTN_REQUIRE_NONNULL(fn, c);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    const int64_t L = m->cfg.max_len, eb = c->eval_batch ? c->eval_batch : 64;
    if (c->batch < 1 || c->batch > (INT64_MAX / 4) / (L * CHUNK_BATCHES) || eb < 1 || eb > (INT64_MAX / 4) / L ||
        !(c->label_smoothing >= 0 && c->label_smoothing <= 1))
        return attn_fail(ATTN_E_ARG, "%s: batch %lld, eval_batch %lld, label smoothing %g", fn, (long long)c->batch,
                         (long long)c->eval_batch, (double)c->label_smoothing);
    if (train->n < 1) return attn_fail(ATTN_E_ARG, "%s: no training sequences", fn);
    ATTN_TRY(check_data(fn, "training", train, m));
    if (val) ATTN_TRY(check_data(fn, "validation", val, m));
    attn_cls_task *ct = calloc(1, sizeof *ct);
    if (!ct) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    const int64_t n = train->n, nb = (n + c->batch - 1) / c->batch, chunk = c->batch * CHUNK_BATCHES;
    *ct = (attn_cls_task){.m = m, .tr = *train, .c = *c, .nb = nb};
    if (val) ct->va = *val;
    ct->c.eval_batch = eb;
    ct->order = malloc((size_t)n * sizeof *ct->order);
    ct->scratch = malloc((size_t)n * sizeof *ct->scratch);
    ct->perm = malloc((size_t)nb * sizeof *ct->perm);
    ct->keys = malloc((size_t)(chunk < n ? chunk : n) * sizeof *ct->keys);
    ct->ids = malloc((size_t)(c->batch * L) * sizeof *ct->ids);
    ct->lab = malloc((size_t)c->batch * sizeof *ct->lab);
    if (!ct->order || !ct->scratch || !ct->perm || !ct->keys || !ct->ids || !ct->lab) {
        attn_cls_task_free(ct);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    *out = ct;
    return ATTN_OK;
}

attn_train_task attn_cls_task_get(attn_cls_task *ct)
{
    return (attn_train_task){.ctx = ct, .begin_epoch = begin_epoch, .batch_loss = batch_loss,
                             .validate = ct && ct->va.n > 0 ? validate : NULL};
}

int64_t attn_cls_task_batches(const attn_cls_task *ct) { return ct ? ct->nb : 0; }

void attn_cls_task_free(attn_cls_task *ct)
{
    if (!ct) return;
    free(ct->order), free(ct->scratch), free(ct->perm), free(ct->keys), free(ct->ids), free(ct->lab);
    free(ct);
}

void attn_cls_report_free(attn_cls_report *r)
{
    if (!r) return;
    free(r->confusion), free(r->support), free(r->precision), free(r->recall), free(r->f1);
    memset(r, 0, sizeof *r);
}

int attn_cls_evaluate(const float *probs, const int32_t *label, int64_t n, int64_t classes, attn_cls_report *r)
{
    static const char fn[] = "attn_cls_evaluate";
    ATTN_REQUIRE_NONNULL(fn, r);
    memset(r, 0, sizeof *r);
    if (n < 1 || classes < 2 || classes > (1 << 20) || !probs || !label)
        return attn_fail(ATTN_E_ARG, "%s: %lld examples of %lld classes", fn, (long long)n, (long long)classes);
    for (int64_t i = 0; i < n; i++)
        if (label[i] < 0 || label[i] >= classes)
            return attn_fail(ATTN_E_ARG, "%s: example %lld has label %d, outside 0..%lld", fn, (long long)i, label[i],
                             (long long)classes - 1);
    const size_t C = (size_t)classes;
    r->confusion = calloc(C * C, sizeof *r->confusion);
    r->support = calloc(C, sizeof *r->support);
    r->precision = calloc(C, sizeof *r->precision);
    r->recall = calloc(C, sizeof *r->recall);
    r->f1 = calloc(C, sizeof *r->f1);
    if (!r->confusion || !r->support || !r->precision || !r->recall || !r->f1) {
        attn_cls_report_free(r);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    r->n = n, r->classes = classes;
    int64_t right = 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t k = argmax(probs + i * classes, classes);
        r->confusion[label[i] * classes + k]++;
        right += k == label[i];
    }
    r->accuracy = (double)right / (double)n;
    for (int64_t k = 0; k < classes; k++) {
        int64_t tp = r->confusion[k * classes + k], predicted = 0, actual = 0;
        for (int64_t j = 0; j < classes; j++) predicted += r->confusion[j * classes + k], actual += r->confusion[k * classes + j];
        r->support[k] = actual;
        r->precision[k] = predicted ? (double)tp / (double)predicted : 0;
        r->recall[k] = actual ? (double)tp / (double)actual : 0;
        const double p = r->precision[k], q = r->recall[k];
        r->f1[k] = p + q > 0 ? 2 * p * q / (p + q) : 0;
    }
    return ATTN_OK;
}
