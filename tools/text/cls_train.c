/* cls_train.c — a whole text-classification training run (attn_cls_run, text_classifier.h): the
 * reviews split by movie, the tokenizer learned (or the run state's), shared with the other
 * ranks, the sets encoded, the model, tape and task made, attn_train_run; and the export of the
 * encoded sets for the PyTorch comparison. */
#include "text_classifier.h"
#include "translator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every rank must run the same job: rank 0 names the first that differs. */
static int check_same_job(const attn_train_comm *comm, const attn_cls_run_config *c, int resume)
{
    const attn_classifier_config *mc = &c->model;
    char desc[800];
    int n = snprintf(desc, sizeof desc,
                     "vocab=%d tokrev=%lld head=%lld len=%lld bs=%lld epochs=%d steps=%lld lr=%.9g min=%.9g "
                     "wd=%.9g ls=%.9g clip=%.9g warm=%.9g val=%.9g max_train=%lld seed=%llu d=%lld h=%lld "
                     "l=%lld ff=%lld drop=%.9g act=%d norm=%d pool=%d resume=%d",
                     c->vocab_size, (long long)c->tokenizer_reviews, (long long)c->head_tokens,
                     (long long)mc->max_len, (long long)c->batch_size, c->epochs, (long long)c->max_steps,
                     (double)c->lr, (double)c->min_lr_ratio, (double)c->weight_decay, (double)c->label_smoothing,
                     (double)c->clip, c->warmup_fraction, c->val_fraction, (long long)c->max_train,
                     (unsigned long long)c->seed, (long long)mc->d_model, (long long)mc->nhead,
                     (long long)mc->num_layers, (long long)mc->dim_feedforward, (double)mc->dropout,
                     (int)mc->activation, mc->norm_first, (int)mc->pooling, resume);
    n = n < 0 ? 0 : n >= (int)sizeof desc ? (int)sizeof desc - 1 : n; /* what was written */
    return attn_train_comm_check_same(comm, desc, (size_t)n, "the training configuration");
}

/* The tokenizer: rank 0 reads the run state's own (resume) or learns it from the training
 * reviews; the other ranks receive it. A rank that enters with an error (st) keeps it. */
static int tokenizer(int st, const attn_cls_run_config *c, const attn_imdb *d, const uint8_t *is_tr,
                     const char *out_dir, int resume, const attn_run_hooks *hooks, attn_cls_run_result *res,
                     attn_spm **sp)
{
    const attn_train_comm *comm = hooks ? hooks->comm : NULL;
    if (st || (comm && comm->rank > 0)) {
    } else if (resume) {
        char path[4200];
        snprintf(path, sizeof path, "%s/run.safetensors", out_dir);
        st = attn_spm_from_checkpoint(path, sp);
    } else {
        double t0 = attn_now();
        st = attn_run_hooks_stage(hooks, ATTN_RUN_TOKENIZER_BEGIN);
        if (st == ATTN_OK)
            st = attn_cls_train_tokenizer(d->text, is_tr, d->n, c->tokenizer_reviews, c->vocab_size,
                                          attn_get_num_threads(), c->seed, sp);
        res->tokenizer_seconds = attn_now() - t0;
        if (st == ATTN_OK) st = attn_run_hooks_stage(hooks, ATTN_RUN_TOKENIZER);
    }
    return attn_spm_share(comm, st, sp);
}

int attn_cls_run(const attn_cls_run_config *cfg, const char *data, const char *out_dir, int resume,
                 const attn_run_hooks *hooks, attn_cls_run_result *res)
{
    if (!cfg || !data || !out_dir || !res) return attn_set_error(ATTN_E_ARG, "attn_cls_run: an argument is NULL");
    memset(res, 0, sizeof *res);
    const attn_train_comm *comm = hooks ? hooks->comm : NULL;
    const int rank = comm ? comm->rank : 0;
    attn_cls_run_config c = *cfg;
    int st = check_same_job(comm, &c, resume);
    if (st) return st;
    attn_imdb *d = NULL;
    if ((st = attn_imdb_open(data, "train", &d))) return st;
    if (rank == 0 && (st = attn_run_dir_prepare(out_dir))) { /* once the data is there: a failed start leaves none */
        attn_imdb_free(d);
        return st;
    }
    int64_t n_all = c.max_train && c.max_train < d->n ? c.max_train : d->n, n_val = 0;
    uint8_t *is_val = calloc((size_t)d->n + 1, 1), *is_tr = calloc((size_t)d->n + 1, 1);
    st = is_val && is_tr ? ATTN_OK : attn_set_error(ATTN_E_NOMEM, "attn_cls_run: out of memory");
    if (st == ATTN_OK) st = attn_imdb_split_by_movie(d, c.val_fraction, c.seed, is_val, &n_val);
    for (int64_t i = 0; st == ATTN_OK && i < d->n; i++) {
        if (i >= n_all) is_val[i] = 0; /* left out */
        is_tr[i] = i < n_all && !is_val[i];
    }
    attn_spm *sp = NULL;
    char *tok = NULL;
    attn_cls_data tr = {0}, va = {0};
    attn_classifier *m = NULL;
    attn_tape *t = NULL;
    attn_cls_task *ct = NULL;
    st = tokenizer(st, &c, d, is_tr, out_dir, resume, hooks, res, &sp); /* every rank takes part */
    int32_t vocab = 0;
    if (st == ATTN_OK) st = attn_spm_vocab_size(sp, &vocab);
    if (st == ATTN_OK) st = attn_spm_to_base64(sp, &tok);
    c.model.vocab = vocab;
    double t0 = attn_now();
    if (st == ATTN_OK)
        st = attn_cls_encode_texts(sp, d->text, d->label, is_tr, d->n, c.model.max_len, c.head_tokens, &tr);
    if (st == ATTN_OK)
        st = attn_cls_encode_texts(sp, d->text, d->label, is_val, d->n, c.model.max_len, c.head_tokens, &va);
    if (st == ATTN_OK && tr.n == 0)
        st = attn_set_error(ATTN_E_ARG, "no training reviews left after the validation split");
    attn_imdb_free(d);
    res->n_train = tr.n, res->n_val = va.n, res->train_tokens = tr.n ? tr.off[tr.n] : 0;
    res->encode_seconds = attn_now() - t0;
    res->sp = sp, res->train_set = &tr, res->val_set = &va;
    if (st == ATTN_OK) st = attn_run_hooks_stage(hooks, ATTN_RUN_DATA);
    if (st == ATTN_OK) st = attn_classifier_create(&c.model, c.seed, &m);
    attn_tape_config tc = {.seed = c.seed, .num_threads = attn_get_num_threads()};
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    attn_cls_task_config kc = {.batch = c.batch_size, .label_smoothing = c.label_smoothing, .seed = c.seed};
    if (st == ATTN_OK) st = attn_cls_task_create(m, &tr, &va, &kc, &ct);
    const char *kv[96];
    char meta_buf[2048];
    if (st == ATTN_OK) st = attn_cls_model_meta(m, tok, c.head_tokens, meta_buf, sizeof meta_buf, kv, 96);
    if (st == ATTN_OK) {
        const int64_t per_epoch = attn_cls_task_batches(ct);
        int64_t total = per_epoch * c.epochs;
        if (c.max_steps && c.max_steps < total) total = c.max_steps;
        attn_train_task task = attn_cls_task_get(ct);
        task.meta = kv;
        attn_train_config tcfg = {
            .out_dir = out_dir, .resume = resume, .epochs = c.epochs, .max_steps = total,
            .optim = {.kind = ATTN_OPTIM_ADAMW, .weight_decay = c.weight_decay, .beta2 = 0.98f},
            .schedule = {ATTN_SCHEDULE_COSINE, c.lr, (int64_t)(c.warmup_fraction * (double)total), total, c.min_lr_ratio},
            .clip = c.clip, .data_hash = attn_cls_data_hash(&tr), .metric_name = "val_acc", .items_name = "reviews",
            .progress = hooks ? hooks->progress : NULL, .progress_user = hooks ? hooks->user : NULL, .comm = comm};
        res->params = attn_params_numel(m->P), res->steps = total, res->steps_per_epoch = per_epoch;
        st = attn_run_hooks_stage(hooks, ATTN_RUN_MODEL);
        if (st == ATTN_OK) st = attn_train_run(&tcfg, &task, m->P, t, &res->train);
    }
    res->sp = NULL, res->train_set = res->val_set = NULL;
    free(is_val), free(is_tr), free(tok);
    attn_cls_data_free(&tr), attn_cls_data_free(&va);
    attn_cls_task_free(ct);
    attn_tape_free(t);
    attn_classifier_free(m);
    attn_spm_free(sp);
    return st;
}

int attn_cls_export_tokens(const char *path, const attn_spm *sp, const attn_cls_data *train, const attn_cls_data *val,
                           const char *data, const attn_cls_run_config *c, const char *config_name)
{
    if (!path || !sp || !train || !val || !c)
        return attn_set_error(ATTN_E_ARG, "attn_cls_export_tokens: an argument is NULL");
    attn_cls_data te = {0};
    attn_cls_data sets[3] = {*train, *val, {0}};
    const char *names[3] = {"train", "val", "test"};
    int k = 2;
    attn_imdb *dt = NULL;
    int st = ATTN_OK;
    if (data && attn_imdb_open(data, "test", &dt) == ATTN_OK) { /* no test split: train and val only */
        st = attn_cls_encode_texts(sp, dt->text, dt->label, NULL, dt->n, c->model.max_len, c->head_tokens, &te);
        sets[2] = te, k = 3;
    }
    attn_imdb_free(dt);
    attn_st_writer *w = NULL;
    if (st == ATTN_OK) st = attn_st_writer_create(&w);
    float *bufs[3] = {0};
    char nm[3][2][64];
    const int64_t L = c->model.max_len;
    for (int j = 0; j < k && st == ATTN_OK; j++) {
        const attn_cls_data *s = &sets[j];
        float *b = bufs[j] = calloc((size_t)(s->n * (L + 1) + 1), sizeof *b);
        if (!b) {
            st = attn_set_error(ATTN_E_NOMEM, "attn_cls_export_tokens: out of memory");
            break;
        }
        for (int64_t i = 0; i < s->n; i++) {
            for (int64_t t = 0; t < L; t++) {
                int64_t p = s->off[i] + t;
                b[i * L + t] = (float)(p < s->off[i + 1] ? s->ids[p] : c->model.pad_id);
            }
            b[s->n * L + i] = (float)s->label[i];
        }
        snprintf(nm[j][0], 64, "%s.ids", names[j]);
        snprintf(nm[j][1], 64, "%s.labels", names[j]);
        int64_t sh[2] = {s->n, L};
        st = attn_st_writer_add(w, nm[j][0], 2, sh, b);
        if (st == ATTN_OK) st = attn_st_writer_add(w, nm[j][1], 1, sh, b + s->n * L);
    }
    char v[16][32];
    const char *keys[] = {"vocab", "d_model", "nhead", "num_layers", "dim_feedforward", "max_len",
                          "batch_size", "epochs", "max_steps", "pad_id"};
    long long vals[] = {c->model.vocab, c->model.d_model, c->model.nhead, c->model.num_layers,
                        c->model.dim_feedforward, c->model.max_len, c->batch_size, c->epochs,
                        c->max_steps, c->model.pad_id};
    for (int j = 0; j < 10 && st == ATTN_OK; j++) {
        snprintf(v[j], 32, "%lld", vals[j]);
        st = attn_st_writer_set_metadata(w, keys[j], v[j]);
    }
    char f[6][32];
    const double fv[6] = {c->model.dropout, c->lr, c->weight_decay, c->label_smoothing, c->warmup_fraction, c->clip};
    const char *fk[] = {"dropout", "lr", "weight_decay", "label_smoothing", "warmup_fraction", "clip"};
    for (int j = 0; j < 6 && st == ATTN_OK; j++) {
        snprintf(f[j], 32, "%.9g", fv[j]);
        st = attn_st_writer_set_metadata(w, fk[j], f[j]);
    }
    if (st == ATTN_OK) st = attn_st_writer_set_metadata(w, "config", config_name ? config_name : "(defaults)");
    if (st == ATTN_OK) st = attn_st_writer_commit(w, path);
    attn_st_writer_free(w);
    for (int j = 0; j < 3; j++) free(bufs[j]);
    attn_cls_data_free(&te);
    return st;
}
