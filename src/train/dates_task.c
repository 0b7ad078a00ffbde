/* dates_task.c — the date demo's training task (attn/train.h): batches of generated English
 * dates → ISO 8601 by step, a held-out loss for validation, exact match by greedy decoding. */
#include "internal.h"
#include "attn/generate.h"
#include "attn/text.h"
#include "attn/train.h"
#include "train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_OUT = ATTN_DATES_TGT_LEN + 1 }; /* decoder positions: BOS + target, target + EOS */

struct attn_dates_task {
    const attn_seq2seq *m;
    attn_dates_task_config c;
    attn_dates_example *ex;    /* [batch] */
    int32_t *src, *tin, *tout; /* [batch · SRC_MAX], [batch · T_OUT] ×2 */
    int64_t cap;               /* examples the buffers hold */
};

/* The held-out set is every date whose text hashes into one class of 16: training skips them,
 * so no held-out date (in any written form) is ever seen in training. */
static int heldout_date(const char *iso)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *c = iso; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return h % 16 == 0;
}

void attn_dates_example_of(uint64_t seed, int heldout, uint64_t index, attn_dates_example *ex)
{
    /* stream offset 2·index (+1 held-out) and a sub-counter until the split matches */
    for (uint64_t k = 0;; k++) {
        attn_dates_generate(seed, (index * 2 + (uint64_t)(heldout != 0)) * 64 + k, ex);
        if (heldout_date(ex->tgt) == (heldout != 0)) return;
    }
}

/* Examples first .. first + N of a split as src [N, S] (padded), decoder input and labels. */
static int64_t make_batch(attn_dates_task *dt, int heldout, uint64_t first, int64_t N)
{
    int64_t S = 1;
    for (int64_t i = 0; i < N; i++) {
        attn_dates_example_of(dt->c.seed, heldout, first + (uint64_t)i, &dt->ex[i]);
        const int64_t len = (int64_t)strlen(dt->ex[i].src);
        if (len > S) S = len;
    }
    for (int64_t i = 0; i < N; i++) {
        const attn_dates_example *e = &dt->ex[i];
        const int64_t len = (int64_t)strlen(e->src);
        for (int64_t j = 0; j < S; j++) dt->src[i * S + j] = j < len ? attn_ascii_id((unsigned char)e->src[j]) : ATTN_ASCII_PAD;
        dt->tin[i * T_OUT] = ATTN_ASCII_BOS;
        for (int64_t j = 0; j < ATTN_DATES_TGT_LEN; j++) {
            const int32_t y = attn_ascii_id((unsigned char)e->tgt[j]);
            dt->tin[i * T_OUT + j + 1] = y;
            dt->tout[i * T_OUT + j] = y;
        }
        dt->tout[i * T_OUT + ATTN_DATES_TGT_LEN] = ATTN_ASCII_EOS;
    }
    return S;
}

static int loss_of(attn_dates_task *dt, attn_tape *t, int64_t N, int64_t S, attn_var **loss)
{
    attn_var *memory, *logits;
    attn_ce_options ce = {.ignore_index = ATTN_ASCII_PAD};
    ATTN_TRY(attn_tape_reset(t));
    ATTN_TRY(attn_seq2seq_encode(t, dt->m, dt->src, N, S, &memory));
    ATTN_TRY(attn_seq2seq_decode(t, dt->m, memory, dt->src, S, dt->tin, T_OUT, &logits));
    return attn_op_cross_entropy(t, logits, dt->tout, &ce, loss);
}

static int begin_epoch(void *ctx, int64_t epoch, int64_t step, int64_t *batches)
{
    const attn_dates_task *dt = ctx;
    (void)epoch;
    *batches = attn_period_batches(step, dt->c.steps, dt->c.period);
    return ATTN_OK;
}

/* Rank r of R takes examples [r·B/R, (r+1)·B/R) of the step's global batch; every example has
 * the same number of target tokens, so the shares weigh by their counts. */
static int batch_loss(void *ctx, attn_tape *t, const attn_train_batch *b, attn_var **loss, double *weight,
                      double *total)
{
    attn_dates_task *dt = ctx;
    const int64_t B = dt->c.batch, lo = B * b->rank / b->ranks, hi = B * (b->rank + 1) / b->ranks;
    *total = (double)(B * T_OUT), *weight = (double)((hi - lo) * T_OUT), *loss = NULL;
    if (hi == lo) return ATTN_OK;
    const int64_t S = make_batch(dt, 0, (uint64_t)b->step * (uint64_t)B + (uint64_t)lo, hi - lo);
    return loss_of(dt, t, hi - lo, S, loss);
}

/* The mean loss of the first val_examples held-out dates (teacher forcing). */
static int validate(void *ctx, attn_tape *t, double *metric, double *vloss)
{
    attn_dates_task *dt = ctx;
    double sum = 0;
    for (int64_t first = 0; first < dt->c.val_examples; first += dt->cap) {
        const int64_t N = dt->c.val_examples - first < dt->cap ? dt->c.val_examples - first : dt->cap;
        const int64_t S = make_batch(dt, 1, (uint64_t)first, N);
        attn_var *loss;
        ATTN_TRY(loss_of(dt, t, N, S, &loss));
        sum += (double)loss->data[0] * (double)N;
    }
    *vloss = sum / (double)dt->c.val_examples;
    *metric = -*vloss;
    return ATTN_OK;
}

int attn_dates_task_create(const attn_seq2seq *m, const attn_dates_task_config *c, attn_dates_task **out)
{
    static const char fn[] = "attn_dates_task_create";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, c);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    if (c->batch < 1 || c->batch > 1 << 20 || c->steps < 1 || c->period < 1 || c->val_examples < 0)
        return attn_fail(ATTN_E_ARG, "%s: batch %lld, steps %lld, period %lld, val_examples %lld", fn,
                         (long long)c->batch, (long long)c->steps, (long long)c->period, (long long)c->val_examples);
    if (m->cfg.src_vocab != ATTN_ASCII_VOCAB || m->cfg.tgt_vocab != ATTN_ASCII_VOCAB ||
        m->cfg.max_len < ATTN_DATES_SRC_MAX)
        return attn_fail(ATTN_E_ARG, "%s: the model needs vocabularies of %d characters and max_len >= %d", fn,
                         ATTN_ASCII_VOCAB, ATTN_DATES_SRC_MAX);
    attn_dates_task *dt = calloc(1, sizeof *dt);
    const int64_t cap = c->batch > 256 ? c->batch : 256;
    if (dt) {
        dt->cap = cap;
        dt->ex = malloc((size_t)cap * sizeof *dt->ex);
        dt->src = malloc((size_t)(cap * ATTN_DATES_SRC_MAX) * sizeof *dt->src);
        dt->tin = malloc((size_t)(cap * T_OUT) * sizeof *dt->tin);
        dt->tout = malloc((size_t)(cap * T_OUT) * sizeof *dt->tout);
    }
    if (!dt || !dt->ex || !dt->src || !dt->tin || !dt->tout) {
        attn_dates_task_free(dt);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    dt->m = m, dt->c = *c;
    *out = dt;
    return ATTN_OK;
}

attn_train_task attn_dates_task_get(attn_dates_task *dt)
{
    return (attn_train_task){.ctx = dt, .begin_epoch = begin_epoch, .batch_loss = batch_loss,
                             .validate = dt && dt->c.val_examples > 0 ? validate : NULL};
}

void attn_dates_task_configure(const attn_dates_task *dt, attn_train_config *cfg)
{
    if (!dt || !cfg) return;
    cfg->max_steps = dt->c.steps;
    cfg->epochs = dt->c.steps;
}

void attn_dates_task_free(attn_dates_task *dt)
{
    if (!dt) return;
    free(dt->ex), free(dt->src), free(dt->tin), free(dt->tout);
    free(dt);
}

int attn_dates_exact_match(const attn_seq2seq *m, attn_tape *t, uint64_t seed, int64_t n, attn_dates_show_fn show,
                           void *user, double *exact)
{
    static const char fn[] = "attn_dates_exact_match";
    ATTN_REQUIRE_NONNULL(fn, exact);
    attn_dates_task *dt;
    attn_dates_task_config c = {.batch = 250, .steps = 1, .period = 1, .seed = seed};
    ATTN_TRY(attn_dates_task_create(m, &c, &dt));
    const int64_t L = ATTN_DATES_TGT_LEN + 2, chunk = dt->cap;
    int32_t *out = malloc((size_t)(chunk * (L + 1)) * sizeof *out);
    int64_t *len = malloc((size_t)chunk * sizeof *len);
    int st = out && len ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    int64_t right = 0;
    attn_generate_options o = {.bos_id = ATTN_ASCII_BOS, .eos_id = ATTN_ASCII_EOS, .max_new = L};
    for (int64_t first = 0; st == ATTN_OK && first < n; first += chunk) {
        const int64_t N = n - first < chunk ? n - first : chunk;
        const int64_t S = make_batch(dt, 1, (uint64_t)first, N);
        st = attn_seq2seq_generate(m, t, dt->src, N, S, &o, out, L + 1, len, NULL);
        for (int64_t i = 0; st == ATTN_OK && i < N; i++) {
            char hyp[64];
            int64_t k = 0;
            for (; k < len[i] && k < 63; k++) hyp[k] = attn_ascii_char(out[i * (L + 1) + k]);
            hyp[k] = '\0';
            const int ok = !strcmp(hyp, dt->ex[i].tgt);
            right += ok;
            if (show) show(user, first + i, &dt->ex[i], hyp, ok);
        }
    }
    *exact = n > 0 ? (double)right / (double)n : 0;
    free(out), free(len);
    attn_dates_task_free(dt);
    return st;
}

int attn_dates_model_meta(const attn_seq2seq *m, uint64_t seed, char *buf, size_t cap, const char **kv, int kv_cap)
{
    ATTN_REQUIRE_NONNULL("attn_dates_model_meta", m);
    ATTN_REQUIRE_NONNULL("attn_dates_model_meta", buf);
    ATTN_REQUIRE_NONNULL("attn_dates_model_meta", kv);
    const size_t seed_cap = 24;
    if (kv_cap < 16 || cap <= seed_cap)
        return attn_fail(ATTN_E_ARG, "attn_dates_model_meta: room for %d keys in %zu bytes", kv_cap / 2, cap);
    char *s = buf + cap - seed_cap;
    snprintf(s, seed_cap, "%llu", (unsigned long long)seed);
    int n = attn_seq2seq_config_to_meta(&m->cfg, buf, cap - seed_cap, kv, kv_cap - 8);
    if (n < 0) return n;
    kv[n++] = "attn.arch", kv[n++] = "transformer-seq2seq";
    kv[n++] = "attn.task", kv[n++] = "dates";
    kv[n++] = "attn.tokenizer", kv[n++] = "chars-ascii";
    kv[n++] = "attn.dates.seed", kv[n++] = s;
    kv[n] = NULL;
    return ATTN_OK;
}
