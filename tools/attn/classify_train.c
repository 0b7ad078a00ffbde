/* classify_train.c — `attn train classify --data PATH --out DIR [--config F] [--threads N]
 * [--resume] [--export-tokens FILE]`: a SentencePiece tokenizer learned from the training text,
 * a validation split carved from train by movie, a Transformer-encoder classifier trained with
 * AdamW, warm-up + cosine, label smoothing; live progress, metrics.csv, validation each epoch,
 * the best model kept (atomic writes).
 *
 * Files in DIR: model.safetensors (the best by validation accuracy; config, tokenizer and
 * truncation in its metadata), last.safetensors + optim.safetensors (where --resume continues:
 * end of the last finished epoch), metrics.csv.
 *
 * Under `mpirun -np N` the run is data-parallel: every rank visits the same batches and takes a
 * contiguous share of each batch's reviews; gradients are summed weighted by each rank's share of
 * the batch, so the step is the whole batch's, as one process takes it. Rank 0 learns the
 * tokenizer and sends it to the others, prints and writes every file; all ranks validate (it
 * keeps them in step). --resume reads DIR on every rank (DIR shared). */
#include "classify.h"
#include "cli.h"
#include "bench_util.h"
#include "dist_train.h"
#include "progress.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void shuffle(int64_t *a, int64_t n, uint64_t *state)
{
    for (int64_t i = n - 1; i > 0; i--) {
        *state = mix64(*state);
        int64_t j = (int64_t)(*state % (uint64_t)(i + 1)), t = a[i];
        a[i] = a[j], a[j] = t;
    }
}

static const cls_set *sort_set; /* qsort by length within a chunk */
static int by_len(const void *a, const void *b)
{
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    int64_t li = sort_set->off[i + 1] - sort_set->off[i], lj = sort_set->off[j + 1] - sort_set->off[j];
    return li < lj ? -1 : li > lj ? 1 : (i > j) - (i < j);
}

/* The order of epoch e: shuffled, then sorted by length within chunks of 50 batches (so a
 * batch holds reviews of similar length), the batches shuffled. Depends only on seed and e. */
static void epoch_order(const cls_set *s, int64_t bs, uint64_t seed, int e, int64_t *order)
{
    uint64_t state = mix64(seed * 1000003u + (uint64_t)e);
    for (int64_t i = 0; i < s->n; i++) order[i] = i;
    shuffle(order, s->n, &state);
    int64_t chunk = bs * 50;
    sort_set = s;
    for (int64_t c = 0; c < s->n; c += chunk)
        qsort(order + c, (size_t)(s->n - c < chunk ? s->n - c : chunk), sizeof *order, by_len);
    int64_t nb = (s->n + bs - 1) / bs;
    int64_t *perm = malloc((size_t)nb * sizeof *perm), *tmp = malloc((size_t)s->n * sizeof *tmp);
    if (!perm || !tmp) {
        free(perm), free(tmp);
        return; /* keep the chunk order */
    }
    for (int64_t b = 0; b < nb; b++) perm[b] = b;
    shuffle(perm, nb, &state);
    int64_t k = 0;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = perm[b] * bs; i < s->n && i < (perm[b] + 1) * bs; i++) tmp[k++] = order[i];
    memcpy(order, tmp, (size_t)s->n * sizeof *order);
    free(perm), free(tmp);
}

static double accuracy(const float *probs, const cls_set *s, int64_t C)
{
    int64_t right = 0;
    for (int64_t i = 0; i < s->n; i++) {
        int64_t best = 0;
        for (int64_t c = 1; c < C; c++)
            if (probs[i * C + c] > probs[i * C + best]) best = c;
        right += best == s->label[i];
    }
    return s->n ? (double)right / (double)s->n : 0;
}

/* The tokenizer: SentencePiece BPE on (a sample of) the cleaned training reviews. */
static int train_tokenizer(const attn_imdb *d, const uint8_t *is_tr, const cls_run_config *c,
                           int threads, attn_spm **sp)
{
    int64_t n = 0;
    char **sent = malloc((size_t)d->n * sizeof *sent);
    if (!sent) return ATTN_E_NOMEM;
    for (int64_t i = 0; i < d->n; i++) {
        if (!is_tr[i]) continue;
        if (c->tokenizer_reviews && n >= c->tokenizer_reviews) break;
        if (!(sent[n] = cls_clean(d->text[i]))) break;
        n++;
    }
    attn_spm_train_options o = {.model_type = ATTN_SPM_BPE,
                                .vocab_size = c->vocab_size,
                                .character_coverage = 0.9995,
                                .normalization = ATTN_SPM_NORM_NMT_NFKC,
                                .num_threads = threads,
                                .seed = (uint32_t)c->seed + 1};
    int st = attn_spm_train((const char *const *)sent, n, &o, sp);
    if (st) fprintf(stderr, "attn train classify: tokenizer: %s\n", attn_spm_last_error());
    for (int64_t i = 0; i < n; i++) free(sent[i]);
    free(sent);
    return st;
}

/* The token ids for the PyTorch comparison (bench/torch_imdb.py): F32 tensors <set>.ids
 * [n, max_len] (pad_id-padded), <set>.labels [n], and the run's configuration. */
static int export_tokens(const char *path, const cls_set *sets, const char *const *names, int k,
                         const cls_run_config *c, const char *config_path)
{
    attn_st_writer *w;
    ATTN_TRY_CLI(attn_st_writer_create(&w));
    float *bufs[8] = {0};
    char nm[8][2][64];
    int st = ATTN_OK;
    int64_t L = c->model.max_len;
    for (int j = 0; j < k && st == ATTN_OK; j++) {
        const cls_set *s = &sets[j];
        float *b = bufs[j] = calloc((size_t)(s->n * (L + 1) + 1), sizeof *b);
        if (!b) {
            st = ATTN_E_NOMEM;
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
    snprintf(f[0], 32, "%.9g", (double)c->model.dropout);
    snprintf(f[1], 32, "%.9g", (double)c->lr);
    snprintf(f[2], 32, "%.9g", (double)c->weight_decay);
    snprintf(f[3], 32, "%.9g", (double)c->label_smoothing);
    snprintf(f[4], 32, "%.9g", c->warmup_fraction);
    snprintf(f[5], 32, "%.9g", (double)c->clip);
    const char *fk[] = {"dropout", "lr", "weight_decay", "label_smoothing", "warmup_fraction", "clip"};
    for (int j = 0; j < 6 && st == ATTN_OK; j++) st = attn_st_writer_set_metadata(w, fk[j], f[j]);
    if (st == ATTN_OK) st = attn_st_writer_set_metadata(w, "config", config_path ? config_path : "(defaults)");
    if (st == ATTN_OK) st = attn_st_writer_commit(w, path);
    attn_st_writer_free(w);
    for (int j = 0; j < 8; j++) free(bufs[j]);
    return st;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: attn train classify --data PATH --out DIR [--config F] [--threads N] [--resume]\n"
            "                           [--export-tokens FILE]\n"
            "PATH: a directory with train.tsv.gz (+ train.ids) or an aclImdb/ folder, or a .tsv(.gz).\n");
    return 2;
}

typedef struct run_state {
    int epoch;       /* epochs finished */
    long step;       /* optimiser steps taken */
    double best_val; /* best validation accuracy so far */
} run_state;

/* last.safetensors (the model, stamped with the step), then the run state in one atomic file
 * (run.safetensors: model, optimiser, counters, dropout stream, tokenizer) — a kill in between
 * leaves the previous state, and the epoch is redone. */
static int save_last(const char *dir, const attn_classifier *m, attn_optim *opt, attn_tape *t,
                     const char *tok, int64_t head, const run_state *rs)
{
    char path[4200], s[32];
    snprintf(s, sizeof s, "%ld", rs->step);
    const char *kv[] = {"run.step", s, NULL};
    snprintf(path, sizeof path, "%s/last.safetensors", dir);
    ATTN_TRY_CLI(cls_model_save(m, tok, head, path, kv));
    attn_run_state r = {.step = rs->step, .epoch = rs->epoch, .best_metric = rs->best_val};
    attn_tape_get_rng(t, &r.rng_seed, &r.rng_offset);
    const char *meta[] = {"attn.tokenizer.model", tok, NULL};
    snprintf(path, sizeof path, "%s/run.safetensors", dir);
    return attn_run_save(path, m->P, opt, &r, meta);
}

static int load_last(const char *dir, attn_classifier *m, attn_optim *opt, attn_tape *t, run_state *rs)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/run.safetensors", dir);
    attn_run_state r;
    ATTN_TRY_CLI(attn_run_load(path, m->P, opt, 0, &r, NULL));
    rs->epoch = (int)r.epoch, rs->step = (long)r.step, rs->best_val = r.best_metric;
    attn_tape_set_rng(t, r.rng_seed, r.rng_offset);
    return ATTN_OK;
}

int cls_train(int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *config = NULL, *export_path = NULL;
    int threads = 0, resume = 0;
    for (int a = 1; a < argc; a++) {
        int more = a + 1 < argc;
        if (!strcmp(argv[a], "--data") && more) data = argv[++a];
        else if (!strcmp(argv[a], "--out") && more) out = argv[++a];
        else if (!strcmp(argv[a], "--config") && more) config = argv[++a];
        else if (!strcmp(argv[a], "--threads") && more) threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--export-tokens") && more) export_path = argv[++a];
        else if (!strcmp(argv[a], "--resume")) resume = 1;
        else return usage();
    }
    if (!data || !out || threads < 0) return usage();
    setvbuf(stdout, NULL, _IOLBF, 0); /* a log file follows the run line by line */
    cls_run_config c;
    cls_config_default(&c);
    if (config && cls_config_load(config, &c)) return 1;
    if (threads > 0) attn_set_num_threads(threads);
    threads = attn_get_num_threads();
    if (attn_run_dir_prepare(out)) return cli_error("train classify", out, ATTN_E_IO);
    attn_mpi_ctx *dc = NULL;
    if (attn_mpi_init(&argc, &argv, &dc)) {
        fprintf(stderr, "attn train classify: %s\n", attn_last_error());
        return 1;
    }
    const int rank = attn_mpi_rank(dc), ranks = attn_mpi_size(dc);
    { /* every rank must run the same job; rank 0 names the first that differs */
        const attn_classifier_config *mc = &c.model;
        char desc[800];
        int n = snprintf(desc, sizeof desc,
                         "vocab=%d tokrev=%lld head=%lld len=%lld bs=%lld epochs=%d steps=%lld lr=%.9g min=%.9g "
                         "wd=%.9g ls=%.9g clip=%.9g warm=%.9g val=%.9g max_train=%lld seed=%llu d=%lld h=%lld "
                         "l=%lld ff=%lld drop=%.9g act=%d norm=%d pool=%d resume=%d",
                         c.vocab_size, (long long)c.tokenizer_reviews, (long long)c.head_tokens,
                         (long long)mc->max_len, (long long)c.batch_size, c.epochs, (long long)c.max_steps,
                         (double)c.lr, (double)c.min_lr_ratio, (double)c.weight_decay, (double)c.label_smoothing,
                         (double)c.clip, c.warmup_fraction, c.val_fraction, (long long)c.max_train,
                         (unsigned long long)c.seed, (long long)mc->d_model, (long long)mc->nhead,
                         (long long)mc->num_layers, (long long)mc->dim_feedforward, (double)mc->dropout,
                         (int)mc->activation, mc->norm_first, (int)mc->pooling, resume);
        if (attn_mpi_check_same(dc, desc, (size_t)n, "the training configuration")) {
            if (rank == 0) fprintf(stderr, "attn train classify: %s\n", attn_last_error());
            attn_mpi_finalize(dc);
            return 1;
        }
    }
    if (rank > 0 && !freopen("/dev/null", "w", stdout)) return 1; /* rank 0 alone prints */
    double t_start = bench_now();
    attn_imdb *d = NULL;
    if (cls_load_imdb("train classify", data, "train", &d)) {
        attn_mpi_finalize(dc);
        return 1;
    }
    int64_t n_all = c.max_train && c.max_train < d->n ? c.max_train : d->n;
    uint8_t *is_val = calloc((size_t)d->n, 1), *is_tr = calloc((size_t)d->n, 1);
    int64_t n_val = 0;
    int rc = 1, st = is_val && is_tr ? ATTN_OK : ATTN_E_NOMEM;
    if (st == ATTN_OK) st = attn_imdb_split_by_movie(d, c.val_fraction, c.seed, is_val, &n_val);
    for (int64_t i = 0; i < d->n; i++) {
        if (i >= n_all) is_val[i] = 0; /* left out */
        is_tr[i] = i < n_all && !is_val[i];
    }
    attn_spm *sp = NULL;
    char *tok = NULL;
    cls_set tr = {0}, va = {0}, te = {0};
    attn_classifier *m = NULL;
    attn_optim *opt = NULL;
    attn_tape *t = NULL;
    float *probs = NULL;
    int64_t *order = NULL;
    int32_t *ids = NULL, *lab = NULL;
    char path[4200];
    /* the tokenizer: from the run being resumed, else learned from the training reviews */
    if (st == ATTN_OK && resume && rank == 0) { /* the run state's own copy */
        attn_st_reader *r = NULL;
        snprintf(path, sizeof path, "%s/run.safetensors", out);
        st = attn_st_open(path, &r);
        if (st == ATTN_OK) st = attn_spm_from_reader(r, &sp);
        attn_st_close(r);
    } else if (st == ATTN_OK && rank == 0) {
        double t0 = bench_now();
        st = train_tokenizer(d, is_tr, &c, threads, &sp);
        if (st == ATTN_OK) printf("tokenizer: SentencePiece BPE, %d pieces, learned in %.1f s\n",
                                  c.vocab_size, bench_now() - t0);
    }
    if (ranks > 1) st = dist_share_tokenizer(dc, st, &sp, "attn train classify");
    int32_t vocab = 0;
    size_t nbytes = 0;
    if (st == ATTN_OK) st = attn_spm_vocab_size(sp, &vocab);
    if (st == ATTN_OK) st = attn_spm_serialize(sp, NULL, 0, &nbytes);
    if (st == ATTN_OK) {
        void *bytes = malloc(nbytes);
        st = bytes ? attn_spm_serialize(sp, bytes, nbytes, &nbytes) : ATTN_E_NOMEM;
        if (st == ATTN_OK) st = attn_base64_encode(bytes, nbytes, &tok);
        free(bytes);
    }
    c.model.vocab = vocab;
    if (st == ATTN_OK) {
        double t0 = bench_now();
        st = cls_encode_texts(sp, d->text, d->label, is_tr, d->n, c.model.max_len, c.head_tokens, &tr);
        if (st == ATTN_OK)
            st = cls_encode_texts(sp, d->text, d->label, is_val, d->n, c.model.max_len, c.head_tokens, &va);
        if (st == ATTN_OK)
            printf("data: %lld training reviews (%lld tokens), %lld validation (split by movie), "
                   "encoded in %.1f s\n", (long long)tr.n, (long long)tr.off[tr.n], (long long)va.n,
                   bench_now() - t0);
    }
    if (st == ATTN_OK && tr.n == 0) {
        fprintf(stderr, "attn train classify: no training reviews left after the validation split\n");
        st = ATTN_E_ARG;
    }
    if (st == ATTN_OK && export_path && rank == 0) {
        attn_imdb *dt = NULL;
        cls_set sets[3] = {tr, va, {0}};
        const char *names[3] = {"train", "val", "test"};
        int k = 2;
        if (cls_load_imdb("train classify", data, "test", &dt) == ATTN_OK) {
            st = cls_encode_texts(sp, dt->text, dt->label, NULL, dt->n, c.model.max_len, c.head_tokens, &te);
            sets[2] = te, k = 3;
        }
        attn_imdb_free(dt);
        if (st == ATTN_OK) st = export_tokens(export_path, sets, names, k, &c, config);
        if (st == ATTN_OK) printf("exported the token ids to %s\n", export_path);
    }
    attn_imdb_free(d);
    d = NULL;
    if (st == ATTN_OK) st = attn_classifier_create(&c.model, c.seed, &m);
    attn_optim_config oc = {.kind = ATTN_OPTIM_ADAMW, .weight_decay = c.weight_decay, .beta2 = 0.98f};
    attn_tape_config tc = {.seed = c.seed, .num_threads = threads};
    if (st == ATTN_OK) st = attn_optim_create(m->P, &oc, &opt);
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    int64_t bs = c.batch_size, per_epoch = (tr.n + bs - 1) / bs;
    long total = (long)(per_epoch * c.epochs);
    if (c.max_steps && c.max_steps < total) total = (long)c.max_steps;
    attn_schedule sched = {ATTN_SCHEDULE_COSINE, c.lr, (int64_t)(c.warmup_fraction * (double)total),
                           total, c.min_lr_ratio};
    run_state rs = {0, 0, -1};
    if (st == ATTN_OK && resume) {
        st = load_last(out, m, opt, t, &rs);
        if (st == ATTN_OK) printf("resumed %s after epoch %d (step %ld, best validation %.4f)\n", out,
                                  rs.epoch, rs.step, rs.best_val);
    }
    if (st == ATTN_OK) attn_mpi_rank_rng(dc, t);
    if (st == ATTN_OK) {
        order = malloc((size_t)tr.n * sizeof *order);
        ids = malloc((size_t)(bs * c.model.max_len) * sizeof *ids);
        lab = malloc((size_t)bs * sizeof *lab);
        probs = malloc((size_t)(va.n + 1) * 2 * sizeof *probs);
        if (!order || !ids || !lab || !probs) st = ATTN_E_NOMEM;
    }
    if (st == ATTN_OK)
        printf("model: %lld parameters; %ld steps of %lld reviews (%lld per epoch), %d threads\n",
               (long long)attn_params_numel(m->P), total, (long long)bs, (long long)per_epoch, threads);
    metrics_log mlog = {0};
    snprintf(path, sizeof path, "%s/metrics.csv", out);
    if (st == ATTN_OK && rank == 0 && metrics_open(&mlog, path, resume, rs.step))
        fprintf(stderr, "attn train classify: cannot write %s\n", path);
    progress pr;
    progress_init(&pr, NULL, total, "classify");
    attn_ce_options ce = {-100, c.label_smoothing};
    double tok_sum = 0, loss_sum = 0, t_log = bench_now();
    long right = 0, seen = 0, n_log = 0;
    double tokens_per_s = 0, train_tokens = 0, train_seconds = 0;
    for (int e = rs.epoch; st == ATTN_OK && e < c.epochs && rs.step < total; e++) {
        epoch_order(&tr, bs, c.seed, e, order);
        attn_tape_set_training(t, 1);
        for (int64_t b0 = 0; st == ATTN_OK && b0 < tr.n && rs.step < total; b0 += bs) {
            int64_t nb = tr.n - b0 < bs ? tr.n - b0 : bs, T;
            double t_step = bench_now();
            /* this rank's contiguous share [lo, hi) of the batch (all of it on one rank) */
            int64_t lo = nb * rank / ranks, hi = nb * (rank + 1) / ranks;
            double lstep = 0, right_step = 0;
            attn_params_zero_grad(m->P);
            if (hi > lo) {
                attn_var *logits, *loss;
                cls_batch(&tr, order + b0 + lo, hi - lo, c.model.pad_id, ids, lab, &T);
                st = attn_tape_reset(t);
                if (st == ATTN_OK) st = attn_classifier_forward(t, m, ids, hi - lo, T, &logits, NULL);
                if (st == ATTN_OK) st = attn_op_cross_entropy(t, logits, lab, &ce, &loss);
                if (st == ATTN_OK) st = attn_tape_backward(t, loss, NULL);
                if (st) break;
                lstep = loss->data[0] * (double)(hi - lo) / (double)nb;
                for (int64_t b = 0; b < hi - lo; b++)
                    right_step += (logits->data[2 * b + 1] > logits->data[2 * b]) == (lab[b] == 1);
            }
            if (ranks > 1) {
                st = attn_mpi_weighted_grads(dc, m->P, (double)(hi - lo) / (double)nb, 1 << 20, NULL);
                if (st == ATTN_OK) st = attn_mpi_allreduce_sum_double(dc, &lstep);
                if (st == ATTN_OK) st = attn_mpi_allreduce_sum_double(dc, &right_step);
                if (st) {
                    fprintf(stderr, "attn train classify (rank %d of %d): %s\n", rank, ranks, attn_last_error());
                    break;
                }
            }
            if (c.clip > 0) st = attn_clip_grad_norm(m->P, c.clip, NULL);
            float lr = attn_schedule_lr(&sched, rs.step);
            if (st == ATTN_OK) st = attn_optim_step(opt, lr);
            if (st) break;
            rs.step++;
            right += (long)right_step;
            for (int64_t b = 0; b < nb; b++) tok_sum += (double)(tr.off[order[b0 + b] + 1] - tr.off[order[b0 + b]]);
            seen += nb, loss_sum += lstep, n_log++;
            double now = bench_now();
            train_seconds += now - t_step;
            for (int64_t b = 0; b < nb; b++) train_tokens += (double)(tr.off[order[b0 + b] + 1] - tr.off[order[b0 + b]]);
            if (now > t_log) tokens_per_s = tok_sum / (now - t_log);
            char extra[64];
            snprintf(extra, sizeof extra, "acc %.3f  epoch %d", seen ? (double)right / seen : 0, e + 1);
            progress_update(&pr, rs.step, loss_sum / n_log, tokens_per_s, extra);
            if (rs.step % c.log_every == 0) {
                if (mlog.m) metrics_row(&mlog, rs.step, loss_sum / n_log, lr, tokens_per_s, NAN);
                loss_sum = 0, n_log = 0, right = 0, seen = 0, tok_sum = 0, t_log = now;
            }
        }
        if (st) break;
        /* validation, the best model, and the state --resume continues from */
        double acc = NAN;
        if (va.n > 0) {
            st = cls_predict(t, m, &va, 64, probs);
            if (st == ATTN_OK) acc = accuracy(probs, &va, 2);
        }
        rs.epoch = e + 1;
        if (st == ATTN_OK) {
            progress_done(&pr);
            printf("epoch %d: validation accuracy %.4f (%lld reviews), %.1f min so far\n", e + 1, acc,
                   (long long)va.n, (bench_now() - t_start) / 60);
            if (mlog.m) metrics_row(&mlog, rs.step, NAN, NAN, NAN, acc);
        }
        if (st == ATTN_OK && (va.n == 0 || acc > rs.best_val)) {
            rs.best_val = va.n ? acc : rs.best_val;
            snprintf(path, sizeof path, "%s/model.safetensors", out);
            st = rank == 0 ? cls_model_save(m, tok, c.head_tokens, path, NULL) : ATTN_OK;
            if (st == ATTN_OK) printf("saved %s\n", path);
        }
        if (st == ATTN_OK && rank == 0) st = save_last(out, m, opt, t, tok, c.head_tokens, &rs);
    }
    if (st == ATTN_OK) {
        progress_done(&pr);
        printf("done: %ld steps, best validation accuracy %.4f, %.1f min\n", rs.step, rs.best_val,
               (bench_now() - t_start) / 60);
        if (train_seconds > 0)
            printf("result: task=imdb impl=attn val_accuracy=%.4f steps=%ld train_seconds=%.1f tokens_per_s=%.0f "
                   "total_minutes=%.1f\n", rs.best_val, rs.step, train_seconds, train_tokens / train_seconds,
                   (bench_now() - t_start) / 60);
        rc = 0;
    } else if (st != ATTN_E_IO || attn_last_error()[0]) {
        cli_error("train classify", "failed", st);
    }
    if (rc && ranks > 1) { /* a peer may be gone: leave without MPI_Finalize, which would wait for it */
        fprintf(stderr, "attn train classify (rank %d of %d): stopped with an error\n", rank, ranks);
        fflush(stdout), fflush(stderr);
        _exit(1);
    }
    attn_mpi_finalize(dc);
    metrics_close(&mlog);
    free(order), free(ids), free(lab), free(probs), free(is_val), free(is_tr), free(tok);
    cls_set_free(&tr), cls_set_free(&va), cls_set_free(&te);
    attn_tape_free(t);
    attn_optim_free(opt);
    attn_classifier_free(m);
    attn_spm_free(sp);
    attn_imdb_free(d);
    return rc;
}
