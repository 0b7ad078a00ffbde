/* lm.c — `attn train lm --data FILE --out DIR [--config F] [--threads N] [--resume]
 * [--tokenizer chars|bpe] [--vocab N]`: a GPT on a text file (the first 90 % of its bytes trains,
 * the last 10 % validates), at the character level (nanoGPT's shakespeare-char convention: the
 * vocabulary is the file's distinct bytes) or on a SentencePiece BPE learned from the training
 * part (lm_spm.h: every byte kept, newlines included), through the library's language-model task
 * and trainer (attn/train.h): random windows drawn from (seed, step), validation every eval_every
 * steps, metrics.csv, best.safetensors, run.safetensors for --resume. The tokenizer travels in
 * every checkpoint (attn.tokenizer = "chars" + attn.chars.vocab, or "spm" + attn.spm.model).
 * Losses are per token; the result line adds bits per byte, comparable across tokenizers.
 *
 * Under `mpirun -np N` the run is data-parallel (attn_mpi_train_comm): every rank draws the same
 * windows and takes its contiguous share of each batch; the gradients are summed weighted by the
 * shares, so the losses are one process's. Rank 0 learns the BPE (or reads it from the run state
 * on --resume) and sends it to the others, prints and writes every file. */
#include "args.h"
#include "cli.h"

#include "bench_util.h"
#include "config.h"
#include "dist_train.h"
#include "lm.h"
#include "mt.h"
#include "train_view.h"
#include "../text/translator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct lm_cfg {
    attn_gpt_config model; /* vocab from the data */
    attn_lm_task_config task;
    int64_t warmup;
    float lr, min_lr_ratio, weight_decay, clip;
    double minutes; /* wall-time limit (0: none) */
    int budget;     /* lr decays linearly to 0 over the time limit (attn_budget_factor) */
    int bpe;        /* tokenizer: 0 characters, 1 SentencePiece BPE */
    int vocab;      /* BPE pieces at most */
} lm_cfg;

static int read_config(lm_cfg *c, const char *path)
{
    static const char *const tokenizers[] = {"chars", "bpe", NULL};
    const attn_config_field f[] = {
        {"tokenizer", ATTN_CONFIG_CHOICE, &c->bpe, 0, 0, tokenizers, NULL},
        {"vocab", ATTN_CONFIG_INT, &c->vocab, 261, 1 << 20, NULL, NULL},
        {"eval_all", ATTN_CONFIG_BOOL, &c->task.eval_all, 0, 1, NULL, NULL},
        {"n_layer", ATTN_CONFIG_I64, &c->model.n_layer, 1, 64, NULL, NULL},
        {"n_head", ATTN_CONFIG_I64, &c->model.n_head, 1, 64, NULL, NULL},
        {"d_model", ATTN_CONFIG_I64, &c->model.d_model, 1, 4096, NULL, NULL},
        {"context", ATTN_CONFIG_I64, &c->model.context, 2, 8192, NULL, NULL},
        {"dropout", ATTN_CONFIG_FLOAT, &c->model.dropout, 0, 0.9, NULL, NULL},
        {"batch", ATTN_CONFIG_I64, &c->task.batch, 1, 4096, NULL, NULL},
        {"steps", ATTN_CONFIG_I64, &c->task.steps, 1, 1e9, NULL, NULL},
        {"warmup", ATTN_CONFIG_I64, &c->warmup, 0, 1e9, NULL, NULL},
        {"eval_every", ATTN_CONFIG_I64, &c->task.eval_every, 1, 1e9, NULL, NULL},
        {"eval_batches", ATTN_CONFIG_I64, &c->task.eval_batches, 1, 1e6, NULL, NULL},
        {"lr", ATTN_CONFIG_FLOAT, &c->lr, 0, 10, NULL, NULL},
        {"min_lr_ratio", ATTN_CONFIG_FLOAT, &c->min_lr_ratio, 0, 1, NULL, NULL},
        {"weight_decay", ATTN_CONFIG_FLOAT, &c->weight_decay, 0, 10, NULL, NULL},
        {"clip", ATTN_CONFIG_FLOAT, &c->clip, 0, 1e9, NULL, NULL},
        {"seed", ATTN_CONFIG_U64, &c->task.seed, 0, 9007199254740992.0, NULL, NULL},
        {"minutes", ATTN_CONFIG_DOUBLE, &c->minutes, 0, 1e7, NULL, NULL},
        {"budget", ATTN_CONFIG_BOOL, &c->budget, 0, 1, NULL, NULL},
    };
    return cfg_load("train lm", path, f, (int)(sizeof f / sizeof f[0]));
}

/* The BPE: rank 0 learns it from the training bytes (or, on --resume, reads the run state's own),
 * the other ranks receive it. */
static int bpe_tokenizer(attn_mpi_ctx *dc, const lm_cfg *c, const char *out, int resume, int threads,
                         const char *text, size_t split, attn_lm_spm **tok)
{
    attn_spm *sp = NULL;
    int st = ATTN_OK;
    if (attn_mpi_rank(dc) == 0 && resume) {
        char path[4200];
        snprintf(path, sizeof path, "%s/run.safetensors", out);
        attn_st_reader *r = NULL;
        st = attn_st_open(path, &r);
        const char *kind = st ? NULL : attn_st_metadata(r, "attn.tokenizer");
        if (st == ATTN_OK && (!kind || strcmp(kind, "spm")))
            st = attn_set_error(ATTN_E_ARG, "%s: the run was trained with the tokenizer \"%s\", not a BPE", path,
                                kind ? kind : "(none)");
        if (st == ATTN_OK) st = attn_spm_from_reader(r, &sp);
        attn_st_close(r);
    } else if (attn_mpi_rank(dc) == 0) {
        const double t0 = attn_now();
        st = attn_lm_spm_train(text, split, c->vocab, (uint32_t)c->task.seed, threads ? threads : 2, &sp);
        int32_t V = 0;
        if (st == ATTN_OK && attn_spm_vocab_size(sp, &V) == ATTN_OK)
            printf("tokenizer: SentencePiece BPE of %d pieces (%d asked) learned from the %zu training bytes in %.1f s\n",
                   (int)V, c->vocab, split, attn_now() - t0);
    }
    if (attn_mpi_size(dc) > 1) st = dist_share_tokenizer(dc, st, &sp, "attn train lm");
    if (st) {
        attn_spm_free(sp);
        return st;
    }
    return attn_lm_spm_wrap(sp, tok);
}

/* --resume without --tokenizer bpe: the run state must not be a BPE run's. */
static int check_run_is_chars(const char *out)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/run.safetensors", out);
    attn_st_reader *r = NULL;
    if (attn_st_open(path, &r)) return ATTN_OK; /* the trainer says what is wrong with it */
    const char *kind = attn_st_metadata(r, "attn.tokenizer");
    const int st = kind && !strcmp(kind, "spm")
                       ? attn_set_error(ATTN_E_ARG, "%s: the run was trained with a BPE: resume it with --tokenizer bpe", path)
                       : ATTN_OK;
    attn_st_close(r);
    return st;
}

int cli_train_lm(int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *config = NULL;
    int threads = 0, resume = 0, tok_cli = -1, vocab_cli = 0;
    const arg_opt opts[] = {
        ARGS_TRAIN_OPTS(&data, &out, &config, &threads, &resume),
        {"tokenizer", 0, ARG_CHOICE, &tok_cli, .choices = "chars|bpe",
         .help = "characters (the file's bytes), or a SentencePiece BPE learned from the training part"},
        {"vocab", 0, ARG_INT, &vocab_cli, .lo = 0, .hi = 1 << 20,
         .help = "BPE pieces at most, above 260 (0: the configuration's vocab, else 1024)"},
        {0}};
    const arg_spec spec = {.cmd = "train lm", .synopsis = "--data PATH --out DIR [options]", .opts = opts,
                           .about = "A GPT on a text file, character by character (nanoGPT's shakespeare-char convention: the\n"
                                    "file's distinct bytes are the vocabulary) or on a SentencePiece BPE learned from the\n"
                                    "training part; the first 90% of the bytes trains, the last 10% validates.",
                           .epilog = "Configuration keys: n_layer n_head d_model context dropout batch steps lr min_lr_ratio warmup\n"
                                     "  weight_decay clip eval_every eval_batches seed minutes (a wall-time limit) budget (true: the\n"
                                     "  learning rate falls linearly to 0 over the minutes) tokenizer (chars|bpe) vocab eval_all\n"
                                     "  (true: validate on the whole validation part, as attn eval lm does). Defaults: nanoGPT's\n"
                                     "  CPU shakespeare-char (4 layers, 4 heads, 128 wide, context 64, batch 12, 2,000 steps,\n"
                                     "  lr 1e-3, no dropout). Losses are per token; the result line adds bits per byte\n"
                                     "  (loss x tokens / bytes / ln 2 on the validation part), comparable across tokenizers.\n"
                                     "Under mpirun -np N the batches are split over the ranks (same losses as one process).\n"};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    if (!data || !out) return args_usage_error(&spec, "--data and --out are required");
    lm_cfg c = {.model = {.context = 64, .n_layer = 4, .n_head = 4, .d_model = 128},
                .task = {.batch = 12, .steps = 2000, .eval_every = 200, .eval_batches = 20, .seed = 1337},
                .warmup = 100, .lr = 1e-3f, .min_lr_ratio = 0.1f, .weight_decay = 0.1f, .clip = 1.0f, .vocab = 1024};
    if (config && read_config(&c, config)) return 2;
    if (tok_cli >= 0) c.bpe = tok_cli;
    if (vocab_cli) c.vocab = vocab_cli;
    if (c.vocab < 261) return args_usage_error(&spec, "a BPE needs more than 260 pieces (256 bytes and 4 specials)");
    if (c.model.d_model % c.model.n_head) {
        fprintf(stderr, "attn train lm: d_model %lld is not a multiple of n_head %lld\n", (long long)c.model.d_model,
                (long long)c.model.n_head);
        return 2;
    }
    if (threads) attn_set_num_threads(threads);
    attn_mpi_ctx *dc = NULL;
    if (attn_mpi_init(&argc, &argv, &dc)) {
        fprintf(stderr, "attn train lm: %s\n", attn_last_error());
        return 1;
    }
    const int rank = attn_mpi_rank(dc), ranks = attn_mpi_size(dc);
    { /* every rank must run the same job; rank 0 names the first that differs */
        char desc[600];
        int k = snprintf(desc, sizeof desc,
                         "tok=%d vocab=%d all=%d L=%lld H=%lld d=%lld T=%lld drop=%.9g batch=%lld steps=%lld warm=%lld "
                         "every=%lld eb=%lld lr=%.9g min=%.9g wd=%.9g clip=%.9g seed=%llu minutes=%.9g budget=%d resume=%d",
                         c.bpe, c.vocab, c.task.eval_all, (long long)c.model.n_layer, (long long)c.model.n_head,
                         (long long)c.model.d_model, (long long)c.model.context, (double)c.model.dropout,
                         (long long)c.task.batch, (long long)c.task.steps, (long long)c.warmup,
                         (long long)c.task.eval_every, (long long)c.task.eval_batches, (double)c.lr,
                         (double)c.min_lr_ratio, (double)c.weight_decay, (double)c.clip,
                         (unsigned long long)c.task.seed, c.minutes, c.budget, resume);
        k = k < 0 ? 0 : k >= (int)sizeof desc ? (int)sizeof desc - 1 : k;
        if (attn_mpi_check_same(dc, desc, (size_t)k, "the training configuration")) {
            if (rank == 0) fprintf(stderr, "attn train lm: %s\n", attn_last_error());
            attn_mpi_finalize(dc);
            return 1;
        }
    }
    if (rank > 0 && !freopen("/dev/null", "w", stdout)) return 1; /* rank 0 alone prints */
    char *text = NULL, *vocab_b64 = NULL, meta_buf[1024];
    size_t n = 0;
    int32_t *ids = NULL, *ids_va = NULL;
    int64_t n_tr = 0, n_va = 0;
    attn_chars chars;
    attn_lm_spm *tok = NULL;
    attn_gpt *m = NULL;
    attn_tape *t = NULL;
    attn_lm_task *lt = NULL;
    attn_train_comm comm;
    int st = attn_data_read_file(data, &text, &n);
    if (st) {
        cli_error("train lm", data, st);
        goto done;
    }
    const int64_t split = (int64_t)n * 9 / 10, T = c.model.context;
    if (ranks > 1 && (st = attn_mpi_check_same_u64(dc, attn_hash64(ATTN_HASH64_INIT, text, n), "the training data"))) {
        if (rank == 0) fprintf(stderr, "attn train lm: %s\n", attn_last_error());
        goto done;
    }
    if (c.bpe) { /* the two parts encoded apart: the validation tokens are those of the last 10% alone */
        st = bpe_tokenizer(dc, &c, out, resume, threads, text, (size_t)split, &tok);
        if (st == ATTN_OK) st = attn_lm_spm_encode(tok, text, (size_t)split, &ids, &n_tr);
        if (st == ATTN_OK) st = attn_lm_spm_encode(tok, text + split, n - (size_t)split, &ids_va, &n_va);
        int32_t *all = st ? NULL : realloc(ids, (size_t)(n_tr + n_va + 1) * sizeof *ids);
        if (st == ATTN_OK && !all) st = attn_set_error(ATTN_E_NOMEM, "out of memory");
        if (st == ATTN_OK) ids = all, memcpy(ids + n_tr, ids_va, (size_t)n_va * sizeof *ids);
        if (st == ATTN_OK) c.model.vocab = attn_lm_spm_vocab(tok);
        if (st == ATTN_OK) st = attn_spm_to_base64(attn_lm_spm_model(tok), &vocab_b64);
    } else {
        if (resume) st = check_run_is_chars(out);
        attn_chars_of_text(text, n, &chars);
        c.model.vocab = chars.V;
        n_tr = split, n_va = (int64_t)n - split;
        ids = st ? NULL : malloc((n ? n : 1) * sizeof *ids);
        if (st == ATTN_OK) st = ids ? attn_chars_encode(&chars, text, n, ids, data) : attn_set_error(ATTN_E_NOMEM, "out of memory");
        if (st == ATTN_OK) st = attn_chars_to_meta(&chars, &vocab_b64);
    }
    if (st == ATTN_OK && (n_tr - T < 1 || n_va - T < 1))
        st = attn_set_error(ATTN_E_ARG, "%lld training and %lld validation tokens (%zu bytes) leave no window of %lld in both parts",
                            (long long)n_tr, (long long)n_va, n, (long long)T);
    if (st == ATTN_OK) st = attn_gpt_create(&c.model, c.task.seed, &m);
    attn_tape_config tc = {.num_threads = threads, .seed = c.task.seed ^ 0x5eedull};
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    if (st == ATTN_OK) st = attn_lm_task_create(m, ids, n_tr, ids + n_tr, n_va, &c.task, &lt);
    if (st == ATTN_OK && ranks > 1) st = attn_mpi_train_comm(dc, &comm);
    const char *kv[48];
    int nk = st ? 0 : attn_gpt_config_to_meta(&m->cfg, meta_buf, sizeof meta_buf, kv, 40);
    if (nk < 0) st = nk;
    if (st) {
        cli_error("train lm", data, st);
        goto done;
    }
    kv[nk++] = "attn.arch", kv[nk++] = "gpt";
    kv[nk++] = "attn.tokenizer", kv[nk++] = c.bpe ? "spm" : "chars";
    kv[nk++] = c.bpe ? "attn.spm.model" : "attn.chars.vocab", kv[nk++] = vocab_b64;
    kv[nk] = NULL;
    attn_train_task task = attn_lm_task_get(lt);
    task.meta = kv;
    train_view view = {.cmd = "train lm", .out = out, .by_step = 1, .items = "tokens"};
    attn_train_config tcfg = {
        .out_dir = out, .resume = resume,
        .optim = {.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = c.weight_decay},
        .schedule = {.kind = ATTN_SCHEDULE_COSINE, .base_lr = c.lr, .warmup_steps = c.warmup,
                     .total_steps = c.task.steps, .min_ratio = c.min_lr_ratio},
        .max_seconds = c.minutes * 60, .budget = c.budget && c.minutes > 0,
        .clip = c.clip, .data_hash = attn_hash64(ATTN_HASH64_INIT, ids, (size_t)(n_tr + n_va) * sizeof *ids),
        .items_name = "tokens", .progress = rank == 0 ? train_view_event : NULL, .progress_user = &view, .comm = ranks > 1 ? &comm : NULL};
    attn_lm_task_configure(lt, &tcfg);
    const double bytes_per_token = (double)((int64_t)n - split) / (double)n_va;
    printf("attn train lm: GPT %lld parameters (%lld layers, %lld heads, d %lld, context %lld), vocabulary %lld %s, "
           "%lld training / %lld validation bytes (%lld / %lld tokens, %.2f bytes per validation token), %d threads%s\n",
           (long long)attn_params_numel(m->P), (long long)c.model.n_layer, (long long)c.model.n_head,
           (long long)c.model.d_model, (long long)T, (long long)c.model.vocab, c.bpe ? "BPE pieces" : "characters",
           (long long)split, (long long)((int64_t)n - split), (long long)n_tr, (long long)n_va, bytes_per_token,
           attn_get_num_threads(), ranks > 1 ? ", data-parallel" : "");
    attn_train_result r;
    st = attn_train_run(&tcfg, &task, m->P, t, &r);
    if (st == ATTN_OK && ranks > 1) { /* every rank ends with the same weights, bit for bit */
        uint64_t h = ATTN_HASH64_INIT;
        for (int i = 0; i < attn_params_count(m->P); i++) {
            const attn_param *p = attn_params_at(m->P, i);
            h = attn_hash64(h, p->data, (size_t)p->numel * sizeof *p->data);
        }
        st = attn_mpi_check_same_u64(dc, h, "the trained weights");
        if (st == ATTN_OK) printf("weights: the same on all %d ranks (checksum %016llx)\n", ranks, (unsigned long long)h);
    }
    if (st) cli_error("train lm", "training", st);
    else
        printf("result: task=lm tokenizer=%s val_loss=%.4f val_bits_per_byte=%.4f steps=%lld minutes=%.1f "
               "best=%s/best.safetensors\n", c.bpe ? "bpe" : "chars", -r.best_metric,
               -r.best_metric / (bytes_per_token * log(2.0)), (long long)r.state.step, r.seconds / 60, out);
done:
    if (st && ranks > 1) { /* a peer may be gone: leave without MPI_Finalize, which would wait for it */
        fprintf(stderr, "attn train lm (rank %d of %d): stopped with an error\n", rank, ranks);
        fflush(stdout), fflush(stderr);
        _exit(1);
    }
    attn_mpi_finalize(dc);
    attn_lm_task_free(lt);
    attn_tape_free(t);
    attn_gpt_free(m);
    attn_lm_spm_free(tok);
    free(ids), free(ids_va), free(text), free(vocab_b64);
    return st ? 1 : 0;
}
