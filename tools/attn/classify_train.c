/* classify_train.c — `attn train classify --data PATH --out DIR [--config F] [--threads N]
 * [--resume] [--export-tokens FILE]`: a SentencePiece tokenizer learned from the training text,
 * a validation split carved from train by movie, then the library's classification task
 * (attn_cls_task: AdamW, warm-up + cosine, label smoothing) on attn_train_run, whose files are
 * the run's: model.safetensors (the last epoch), best.safetensors (the best validation accuracy:
 * the final model, named by the result: line), run.safetensors (--resume), metrics.csv; every
 * model carries the config, the tokenizer and the truncation in its metadata.
 *
 * Under `mpirun -np N` the run is data-parallel (attn_mpi_train_comm): every rank visits the
 * same batches and takes a contiguous share of each; the gradients are summed weighted by the
 * shares, so a step is the whole batch's. Rank 0 learns the tokenizer and sends it to the
 * others, prints and writes every file. --resume reads DIR on every rank (DIR shared). */
#include "classify.h"
#include "args.h"
#include "cli.h"
#include "bench_util.h"
#include "dist_train.h"
#include "train_view.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The token ids for the PyTorch comparison (bench/torch_imdb.py): F32 tensors <set>.ids
 * [n, max_len] (pad_id-padded), <set>.labels [n], and the run's configuration. */
static int export_tokens(const char *path, const attn_cls_data *sets, const char *const *names, int k,
                         const attn_cls_run_config *c, const char *config_path)
{
    attn_st_writer *w;
    ATTN_TRY_CLI(attn_st_writer_create(&w));
    float *bufs[8] = {0};
    char nm[8][2][64];
    int st = ATTN_OK;
    int64_t L = c->model.max_len;
    for (int j = 0; j < k && st == ATTN_OK; j++) {
        const attn_cls_data *s = &sets[j];
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

int cli_train_classify(int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *config = NULL, *export_path = NULL;
    int threads = 0, resume = 0;
    const arg_opt opts[] = {
        ARGS_TRAIN_OPTS(&data, &out, &config, &threads, &resume),
        {"export-tokens", 0, ARG_STR, &export_path, .meta = "FILE", .help = "write the tokenized splits (for bench/torch_imdb.py)"},
        {0}};
    const arg_spec spec = {.cmd = "train classify", .synopsis = "--data PATH --out DIR [options]", .opts = opts,
                           .about = "A Transformer-encoder classifier with a SentencePiece tokenizer learned from the training\n"
                                    "text; the validation split is carved from the training set by movie.",
                           .epilog = "PATH: a directory with train.tsv.gz (+ train.ids) or an aclImdb/ folder, or a .tsv(.gz).\n"
                                     "Configuration: see configs/imdb.json.\n"};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    if (!data || !out) return args_usage_error(&spec, "--data and --out are required");
    setvbuf(stdout, NULL, _IOLBF, 0); /* a log file follows the run line by line */
    attn_cls_run_config c;
    attn_cls_run_config_default(&c);
    if (config && cls_config_load(config, &c)) return 1;
    if (threads > 0) attn_set_num_threads(threads);
    threads = attn_get_num_threads();
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
        if (n >= (int)sizeof desc) n = (int)sizeof desc - 1; /* snprintf says what it would have written */
        if (attn_mpi_check_same(dc, desc, n > 0 ? (size_t)n : 0, "the training configuration")) {
            if (rank == 0) fprintf(stderr, "attn train classify: %s\n", attn_last_error());
            attn_mpi_finalize(dc);
            return 1;
        }
    }
    if (rank > 0 && !freopen("/dev/null", "w", stdout)) return 1; /* rank 0 alone prints */
    double t_start = attn_now();
    attn_imdb *d = NULL;
    if (cls_load_imdb("train classify", data, "train", &d)) {
        attn_mpi_finalize(dc);
        return 1;
    }
    if (rank == 0 && attn_run_dir_prepare(out)) { /* made once the data is there: a failed start leaves no directory */
        cli_error("train classify", out, ATTN_E_IO);
        attn_imdb_free(d);
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
    attn_cls_data tr = {0}, va = {0}, te = {0};
    attn_classifier *m = NULL;
    attn_tape *t = NULL;
    attn_cls_task *ct = NULL;
    char path[4200];
    /* the tokenizer: from the run being resumed, else learned from the training reviews */
    if (st == ATTN_OK && resume && rank == 0) { /* the run state's own copy */
        snprintf(path, sizeof path, "%s/run.safetensors", out);
        st = attn_spm_from_checkpoint(path, &sp);
    } else if (st == ATTN_OK && rank == 0) {
        double t0 = attn_now();
        if ((st = attn_cls_train_tokenizer(d->text, is_tr, d->n, c.tokenizer_reviews, c.vocab_size, threads, c.seed, &sp)))
            fprintf(stderr, "attn train classify: %s\n", attn_last_error());
        if (st == ATTN_OK) printf("tokenizer: SentencePiece BPE, %d pieces, learned in %.1f s\n",
                                  c.vocab_size, attn_now() - t0);
    }
    if (ranks > 1) st = dist_share_tokenizer(dc, st, &sp, "attn train classify");
    int32_t vocab = 0;
    if (st == ATTN_OK) st = attn_spm_vocab_size(sp, &vocab);
    if (st == ATTN_OK) st = attn_spm_to_base64(sp, &tok);
    c.model.vocab = vocab;
    if (st == ATTN_OK) {
        double t0 = attn_now();
        st = attn_cls_encode_texts(sp, d->text, d->label, is_tr, d->n, c.model.max_len, c.head_tokens, &tr);
        if (st == ATTN_OK)
            st = attn_cls_encode_texts(sp, d->text, d->label, is_val, d->n, c.model.max_len, c.head_tokens, &va);
        if (st == ATTN_OK)
            printf("data: %lld training reviews (%lld tokens), %lld validation (split by movie), "
                   "encoded in %.1f s\n", (long long)tr.n, (long long)tr.off[tr.n], (long long)va.n,
                   attn_now() - t0);
    }
    if (st == ATTN_OK && tr.n == 0) {
        fprintf(stderr, "attn train classify: no training reviews left after the validation split\n");
        st = ATTN_E_ARG;
    }
    if (st == ATTN_OK && export_path && rank == 0) {
        attn_imdb *dt = NULL;
        attn_cls_data sets[3] = {tr, va, {0}};
        const char *names[3] = {"train", "val", "test"};
        int k = 2;
        if (cls_load_imdb("train classify", data, "test", &dt) == ATTN_OK) {
            st = attn_cls_encode_texts(sp, dt->text, dt->label, NULL, dt->n, c.model.max_len, c.head_tokens, &te);
            sets[2] = te, k = 3;
        }
        attn_imdb_free(dt);
        if (st == ATTN_OK) st = export_tokens(export_path, sets, names, k, &c, config);
        if (st == ATTN_OK) printf("exported the token ids to %s\n", export_path);
    }
    attn_imdb_free(d);
    d = NULL;
    if (st == ATTN_OK) st = attn_classifier_create(&c.model, c.seed, &m);
    attn_tape_config tc = {.seed = c.seed, .num_threads = threads};
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    attn_cls_task_config kc = {.batch = c.batch_size, .label_smoothing = c.label_smoothing, .seed = c.seed};
    if (st == ATTN_OK) st = attn_cls_task_create(m, &tr, &va, &kc, &ct);
    const char *kv[96];
    char meta_buf[2048];
    if (st == ATTN_OK) st = attn_cls_model_meta(m, tok, c.head_tokens, meta_buf, sizeof meta_buf, kv, 96);
    attn_train_comm comm;
    if (st == ATTN_OK && ranks > 1) st = attn_mpi_train_comm(dc, &comm);
    if (st) {
        cli_error("train classify", "setup", st);
        goto done;
    }
    const int64_t per_epoch = attn_cls_task_batches(ct);
    int64_t total = per_epoch * c.epochs;
    if (c.max_steps && c.max_steps < total) total = c.max_steps;
    attn_train_task task = attn_cls_task_get(ct);
    task.meta = kv;
    train_view view = {.cmd = "train classify", .out = out, .metric_label = "val acc", .metric_scale = 100, .epochs = c.epochs,
                       .items = "reviews"};
    attn_train_config tcfg = {
        .out_dir = out, .resume = resume, .epochs = c.epochs, .max_steps = total,
        .optim = {.kind = ATTN_OPTIM_ADAMW, .weight_decay = c.weight_decay, .beta2 = 0.98f},
        .schedule = {ATTN_SCHEDULE_COSINE, c.lr, (int64_t)(c.warmup_fraction * (double)total), total, c.min_lr_ratio},
        .clip = c.clip, .data_hash = attn_cls_data_hash(&tr), .metric_name = "val_acc", .items_name = "reviews",
        .progress = train_view_event, .progress_user = &view, .comm = ranks > 1 ? &comm : NULL};
    printf("model: %lld parameters; %lld steps of %lld reviews (%lld per epoch), %d threads%s\n",
           (long long)attn_params_numel(m->P), (long long)total, (long long)c.batch_size, (long long)per_epoch,
           threads, ranks > 1 ? ", data-parallel" : "");
    attn_train_result r;
    st = attn_train_run(&tcfg, &task, m->P, t, &r);
    if (st == ATTN_OK) {
        printf("done: %lld steps, best validation accuracy %.4f, %.1f min\n", (long long)r.state.step, r.best_metric,
               (attn_now() - t_start) / 60);
        printf("result: task=imdb impl=attn val_accuracy=%.4f steps=%lld reviews_per_s=%.1f total_minutes=%.1f "
               "model=%s/%s\n", r.final_metric, (long long)r.state.step, r.seconds > 0 ? r.items / r.seconds : 0,
               (attn_now() - t_start) / 60, out, r.final_name);
        rc = 0;
    } else {
        cli_error("train classify", "training", st);
    }
done:
    if (rc && ranks > 1) { /* a peer may be gone: leave without MPI_Finalize, which would wait for it */
        fprintf(stderr, "attn train classify (rank %d of %d): stopped with an error\n", rank, ranks);
        fflush(stdout), fflush(stderr);
        _exit(1);
    }
    attn_mpi_finalize(dc);
    free(is_val), free(is_tr), free(tok);
    attn_cls_data_free(&tr), attn_cls_data_free(&va), attn_cls_data_free(&te);
    attn_cls_task_free(ct);
    attn_tape_free(t);
    attn_classifier_free(m);
    attn_spm_free(sp);
    attn_imdb_free(d);
    return rc;
}
