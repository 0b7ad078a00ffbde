/* mt_train.c — `attn train translate --arch transformer|gru --data DIR --out DIR [--config F]
 * [--resume]`: an encoder–decoder Transformer, or the GRU encoder–decoder with additive
 * attention, on a parallel corpus (Multi30k layout:
 * DIR/train.en, train.de, val.en, val.de) with a joint SentencePiece BPE vocabulary learned
 * from the training text, label smoothing, warm-up + inverse-square-root learning rate and
 * token-based batches of similar lengths. Each epoch: validation loss and BLEU (greedy) in
 * DIR/metrics.csv; run.safetensors (the whole run state in one atomic file: --resume reads it
 * alone), model.safetensors (last) and best.safetensors (best validation BLEU), self-contained
 * (the tokenizer is in their metadata). Optionally the last N epochs' weights are averaged and
 * the run names its final model: the best epoch or the average, whichever validates better.
 *
 * Under `mpirun -np N` the run is data-parallel: every rank cuts the same batches, takes its
 * contiguous share of each batch's sentence pairs, and the gradients are summed weighted by each
 * rank's share of the batch's target tokens — the gradient of the whole batch's mean loss, as
 * one process computes it. Rank 0 learns the tokenizer and sends it to the others, decides when
 * the time limit stops the run, prints and writes every file; all ranks validate (it keeps them
 * in step). --resume reads DIR on every rank (DIR shared, as the demo's). */
#include "cli.h"
#include "config.h"

#include "bench_util.h"
#include "dist_train.h"
#include "mt.h"
#include "progress.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct mt_cfg {
    attn_seq2seq_config model;   /* --arch transformer */
    attn_gru_seq2seq_config gru; /* --arch gru */
    int is_gru;
    int vocab, epochs, avg_last, val_bleu_n, threads, resume, tie_output;
    int budget_schedule; /* schedule = budget: linear decay to 0 when the time runs out (else invsqrt) */
    long batch_tokens, warmup;
    float lr, label_smoothing, clip, weight_decay;
    double max_minutes;
    uint64_t seed;
    const char *data, *out;
} mt_cfg;

typedef struct pair {
    int32_t *src, *tgt; /* src ends with EOS; tgt without BOS/EOS */
    int64_t slen, tlen;
} pair;

typedef struct corpus {
    pair *p;
    int64_t n;
} corpus;

static int usage(void)
{
    fprintf(stderr,
            "usage: attn train translate --arch transformer|gru --data DIR --out DIR [--config F]\n"
            "                            [--resume] [--threads N] [--epochs N] [--max-minutes M]\n"
            "DIR holds train.en/.de and val.en/.de. Config file: a JSON object with the keys\n"
            "  vocab dropout max_len batch_tokens lr warmup epochs label_smoothing clip\n"
            "  weight_decay max_minutes avg_last val_bleu_sentences seed schedule (invsqrt|budget)\n"
            "  transformer: d_model nhead encoder_layers decoder_layers ff tie_output scale_embedding\n"
            "  gru: emb enc_hidden enc_layers dec_hidden attn_size out_size\n"
            "Defaults: transformer warmup 400, schedule budget, scale_embedding 1, 60 minutes;\n"
            "  gru warmup 200, schedule invsqrt, 90 minutes.\n");
    return 2;
}

/* The configuration file (config.h: JSON, or the older `key = value` lines with a warning). */
static int read_config(mt_cfg *c, const char *path)
{
    static const char *const schedules[] = {"invsqrt", "budget", NULL};
    attn_seq2seq_config *m = &c->model;
    attn_gru_seq2seq_config *g = &c->gru;
    float dropout = -1;   /* both architectures' fields: set after reading, when given */
    int64_t max_len = -1;
    const cfg_field f[] = {
        {"vocab", CFG_INT, &c->vocab, 300, 1 << 20, NULL, NULL},
        {"emb", CFG_I64, &g->emb_size, 1, 1 << 16, NULL, NULL},
        {"enc_hidden", CFG_I64, &g->enc_hidden, 1, 1 << 16, NULL, NULL},
        {"enc_layers", CFG_I64, &g->enc_layers, 1, 8, NULL, NULL},
        {"dec_hidden", CFG_I64, &g->dec_hidden, 1, 1 << 16, NULL, NULL},
        {"attn_size", CFG_I64, &g->attn_size, 1, 1 << 16, NULL, NULL},
        {"out_size", CFG_I64, &g->out_size, 1, 1 << 16, NULL, NULL},
        {"d_model", CFG_I64, &m->d_model, 1, 1 << 16, NULL, NULL},
        {"nhead", CFG_I64, &m->nhead, 1, 1024, NULL, NULL},
        {"encoder_layers", CFG_I64, &m->num_encoder_layers, 0, 64, NULL, NULL},
        {"decoder_layers", CFG_I64, &m->num_decoder_layers, 1, 64, NULL, NULL},
        {"ff", CFG_I64, &m->dim_feedforward, 1, 1 << 18, NULL, NULL},
        {"dropout", CFG_FLOAT, &dropout, 0, 0.99, NULL, NULL},
        {"max_len", CFG_I64, &max_len, 4, 1 << 16, NULL, NULL},
        {"batch_tokens", CFG_LONG, &c->batch_tokens, 1, 1 << 24, NULL, NULL},
        {"lr", CFG_FLOAT, &c->lr, 0, 10, NULL, NULL},
        {"warmup", CFG_LONG, &c->warmup, 0, 1e9, NULL, NULL},
        {"epochs", CFG_INT, &c->epochs, 1, 100000, NULL, NULL},
        {"label_smoothing", CFG_FLOAT, &c->label_smoothing, 0, 1, NULL, NULL},
        {"clip", CFG_FLOAT, &c->clip, 0, 1e9, NULL, NULL},
        {"weight_decay", CFG_FLOAT, &c->weight_decay, 0, 10, NULL, NULL},
        {"max_minutes", CFG_DOUBLE, &c->max_minutes, 0, 1e7, NULL, NULL},
        {"avg_last", CFG_INT, &c->avg_last, 0, 1000, NULL, NULL},
        {"val_bleu_sentences", CFG_INT, &c->val_bleu_n, 0, 1e9, NULL, NULL},
        {"seed", CFG_U64, &c->seed, 0, 9007199254740992.0, NULL, NULL},
        {"tie_output", CFG_BOOL, &c->tie_output, 0, 1, NULL, NULL},
        {"scale_embedding", CFG_BOOL, &m->scale_embedding, 0, 1, NULL, NULL},
        {"schedule", CFG_CHOICE, &c->budget_schedule, 0, 0, schedules, NULL},
    };
    int st = cfg_load("train translate", path, f, (int)(sizeof f / sizeof f[0]));
    if (dropout >= 0) m->dropout = g->dropout = dropout;
    if (max_len >= 0) m->max_len = g->max_len = max_len;
    return st;
}

static void corpus_free(corpus *c)
{
    for (int64_t i = 0; c->p && i < c->n; i++) free(c->p[i].src), free(c->p[i].tgt);
    free(c->p);
    c->p = NULL, c->n = 0;
}

/* Encode the pairs; pairs longer than the model's max_len (with EOS / BOS) are dropped
 * (*dropped counts them). */
static int corpus_encode(const attn_parallel *d, const attn_spm *sp, int64_t max_len, corpus *c,
                         int64_t *dropped)
{
    c->p = calloc((size_t)d->n, sizeof *c->p);
    c->n = 0;
    *dropped = 0;
    if (!c->p) return ATTN_E_NOMEM;
    for (int64_t i = 0; i < d->n; i++) {
        pair p = {0};
        int32_t *s;
        int64_t sn;
        ATTN_TRY_CLI(attn_spm_encode_alloc(sp, d->src[i], &s, &sn));
        int st = attn_spm_encode_alloc(sp, d->tgt[i], &p.tgt, &p.tlen);
        if (st) {
            free(s);
            return st;
        }
        if (sn + 1 > max_len || p.tlen + 1 > max_len || sn == 0 || p.tlen == 0) {
            free(s), free(p.tgt);
            ++*dropped;
            continue;
        }
        p.src = realloc(s, (size_t)(sn + 1) * sizeof *s);
        if (!p.src) {
            free(s), free(p.tgt);
            return ATTN_E_NOMEM;
        }
        p.src[sn] = ATTN_SPM_EOS_ID;
        p.slen = sn + 1;
        c->p[c->n++] = p;
    }
    return ATTN_OK;
}

/* Batches of similar lengths (the longer side, with EOS or BOS) under the token budget; with
 * jitter, batches differ between epochs (attn_batches_by_length). */
static int make_batches(const corpus *c, long batch_tokens, uint64_t seed, int jitter, attn_batches *b)
{
    int64_t *len = malloc((size_t)(c->n > 0 ? c->n : 1) * sizeof *len);
    if (!len) return ATTN_E_NOMEM;
    for (int64_t i = 0; i < c->n; i++) len[i] = c->p[i].slen > c->p[i].tlen + 1 ? c->p[i].slen : c->p[i].tlen + 1;
    int st = attn_batches_by_length(len, c->n, batch_tokens, seed, jitter, b);
    free(len);
    return st;
}

/* The training data's checksum: a resume on other data is refused. */
static uint64_t corpus_hash(const attn_parallel *d)
{
    uint64_t h = ATTN_HASH64_INIT;
    for (int64_t i = 0; i < d->n; i++) {
        h = attn_hash64(h, d->src[i], strlen(d->src[i]) + 1);
        h = attn_hash64(h, d->tgt[i], strlen(d->tgt[i]) + 1);
    }
    return h;
}

typedef struct tensors {
    int32_t *src, *tin, *tout;
    int64_t B, S, T;
} tensors;

static void fill(const corpus *c, const int64_t *idx, int64_t B, int32_t pad, tensors *x)
{
    int64_t S = 1, T = 1;
    for (int64_t i = 0; i < B; i++) {
        const pair *p = &c->p[idx[i]];
        if (p->slen > S) S = p->slen;
        if (p->tlen + 1 > T) T = p->tlen + 1;
    }
    x->B = B, x->S = S, x->T = T;
    for (int64_t i = 0; i < B; i++) {
        const pair *p = &c->p[idx[i]];
        for (int64_t j = 0; j < S; j++) x->src[i * S + j] = j < p->slen ? p->src[j] : pad;
        for (int64_t j = 0; j < T; j++) {
            x->tin[i * T + j] = j == 0 ? ATTN_SPM_BOS_ID : j <= p->tlen ? p->tgt[j - 1] : pad;
            x->tout[i * T + j] = j < p->tlen ? p->tgt[j] : j == p->tlen ? ATTN_SPM_EOS_ID : pad;
        }
    }
}

static int forward_loss(attn_tape *t, const mt_model *m, const tensors *x, float ls, attn_var **loss)
{
    attn_var *mem, *s0, *logits;
    attn_ce_options ce = {.ignore_index = mt_model_pad(m), .label_smoothing = ls};
    ATTN_TRY_CLI(attn_tape_reset(t));
    if (m->gru) {
        ATTN_TRY_CLI(attn_gru_seq2seq_encode(t, m->gru, x->src, x->B, x->S, &mem, &s0));
        ATTN_TRY_CLI(attn_gru_seq2seq_decode(t, m->gru, mem, s0, x->src, x->S, x->tin, x->T, &logits, NULL));
    } else {
        ATTN_TRY_CLI(attn_seq2seq_encode(t, m->tf, x->src, x->B, x->S, &mem));
        ATTN_TRY_CLI(attn_seq2seq_decode(t, m->tf, mem, x->src, x->S, x->tin, x->T, &logits));
    }
    return attn_op_cross_entropy(t, logits, x->tout, &ce, loss);
}

/* Validation: mean token cross-entropy (no smoothing, no dropout) and greedy BLEU of the first
 * n_bleu sentences. */
static int validate(attn_tape *t, const mt_model *m, const attn_spm *sp, const corpus *val,
                    const attn_batches *vb, tensors *x, const attn_parallel *vtext, int n_bleu,
                    double *vloss, double *bleu)
{
    attn_tape_set_training(t, 0);
    double sum = 0, ntok = 0;
    int st = ATTN_OK;
    for (int64_t b = 0; st == ATTN_OK && b < vb->nb; b++) {
        int64_t B = vb->start[b + 1] - vb->start[b];
        fill(val, vb->order + vb->start[b], B, mt_model_pad(m), x);
        attn_var *loss;
        st = forward_loss(t, m, x, 0.0f, &loss);
        double k = 0;
        for (int64_t i = 0; i < B; i++) k += (double)val->p[vb->order[vb->start[b] + i]].tlen + 1;
        if (st == ATTN_OK) sum += loss->data[0] * k, ntok += k;
    }
    *vloss = ntok > 0 ? sum / ntok : NAN;
    *bleu = NAN;
    int64_t n = n_bleu < vtext->n ? n_bleu : vtext->n;
    if (st == ATTN_OK && n > 0) {
        char **hyp = NULL;
        attn_generate_options o = {.beam = 1};
        st = attn_translate_texts(t, m->tf, m->gru, sp, (const char *const *)vtext->src, n, &o, 64, &hyp);
        attn_bleu_result r;
        if (st == ATTN_OK) st = attn_bleu_corpus((const char *const *)hyp, (const char *const *)vtext->tgt, n, 1, NULL, &r);
        if (st == ATTN_OK) *bleu = r.score;
        if (hyp) attn_translator_free_strings(hyp, n);
    }
    attn_tape_set_training(t, 1);
    return st;
}

/* ---- schedule = budget ----------------------------------------------------------------------
 * The learning rate is lr · warm-up(s) · D(s), where D is the share of the budget still ahead:
 * 1 until the first epoch ends, then, through each epoch, a line from 1 − t/B (t the time used
 * when the epoch starts, B the budget) to 1 − (t + p)/B (p the last epoch's length), never
 * below 0. It follows the clock only at epoch boundaries, so a step's learning rate is fixed by
 * the (saved) plan and a resumed run repeats it; and it reaches about 0 when the time runs out,
 * which ends a run better converged than a schedule cut off midway (Li et al., 2020, "Budgeted
 * training"). Epochs count as a budget too: D is the smaller of the time and the epochs left. */
static float lr_at(const mt_cfg *c, const attn_budget_plan *b, int64_t s)
{
    if (!c->budget_schedule) {
        attn_schedule sc = {.kind = ATTN_SCHEDULE_INVSQRT, .base_lr = c->lr, .warmup_steps = c->warmup};
        return attn_schedule_lr(&sc, s);
    }
    const double w = c->warmup > 0 && s < c->warmup ? (double)s / (double)c->warmup : 1;
    return (float)(c->lr * w * attn_budget_factor(b, s));
}

/* ---- checkpoints ---------------------------------------------------------------------------- */

/* A self-contained translation checkpoint: config, arch, tokenizer (base64 in the metadata). */
static attn_param *g_untied_generator; /* generator.weight left out of the graph when tied */
static const attn_param *g_tied_embedding;

/* The metadata that makes a checkpoint self-contained: config, arch, task, tokenizer. */
typedef struct model_meta {
    char buf[2048];
    const char *kv[64];
} model_meta;

static int make_meta(const mt_model *m, const char *b64, model_meta *mm)
{
    int n = m->gru ? attn_gru_seq2seq_config_to_meta(&m->gru->cfg, mm->buf, sizeof mm->buf, mm->kv, 56)
                   : attn_seq2seq_config_to_meta(&m->tf->cfg, mm->buf, sizeof mm->buf, mm->kv, 56);
    if (n < 0) return n;
    mm->kv[n++] = "attn.arch", mm->kv[n++] = m->gru ? "gru-seq2seq" : "transformer-seq2seq";
    mm->kv[n++] = "attn.task", mm->kv[n++] = "multi30k";
    mm->kv[n++] = "attn.tokenizer", mm->kv[n++] = "spm";
    mm->kv[n++] = MT_META_SPM, mm->kv[n++] = b64;
    if (g_untied_generator) mm->kv[n++] = "attn.mt.tie_output", mm->kv[n++] = "1";
    mm->kv[n] = NULL;
    return ATTN_OK;
}

/* tied: the file's generator.weight is a copy of the embedding, so any loader (attn translate,
 * attn viz, Python) sees the model as trained without knowing about tying */
static void untie_for_saving(void)
{
    if (g_untied_generator)
        memcpy(g_untied_generator->data, g_tied_embedding->data, (size_t)g_tied_embedding->numel * sizeof(float));
}

static int save_model(const mt_model *m, const char *b64, const char *path, int64_t step)
{
    untie_for_saving();
    model_meta mm;
    ATTN_TRY_CLI(make_meta(m, b64, &mm));
    return attn_run_export(path, mt_model_params(m), step, mm.kv);
}

/* The run state: the model's weights (untied copy included), the optimiser, the counters and
 * the tokenizer, in one atomic file. */
static int save_run(const char *dir, const mt_model *m, attn_optim *opt, const attn_run_state *rs,
                    const char *b64)
{
    char path[600];
    snprintf(path, sizeof path, "%s/run.safetensors", dir);
    untie_for_saving();
    model_meta mm;
    ATTN_TRY_CLI(make_meta(m, b64, &mm));
    return attn_run_save(path, mt_model_params(m), opt, rs, mm.kv);
}

/* The tokenizer as a file beside the run, for other tools (bench/torch_mt.py); never read back:
 * the run state holds its own copy. Written atomically. */
static int save_spm_file(const attn_spm *sp, const char *path)
{
    char tmp[640];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (attn_spm_save_file(sp, tmp)) return attn_set_error(ATTN_E_IO, "%s: %s", tmp, attn_spm_last_error());
    if (rename(tmp, path)) {
        remove(tmp);
        return attn_set_error(ATTN_E_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    }
    return ATTN_OK;
}

/* ---- the command ------------------------------------------------------------------------------ */

static int load_pair(const char *dir, const char *split, attn_parallel **out)
{
    char s[600], t[600];
    snprintf(s, sizeof s, "%s/%s.en", dir, split);
    snprintf(t, sizeof t, "%s/%s.de", dir, split);
    return attn_parallel_load(s, t, out);
}

int cli_train_translate(int argc, char **argv)
{
    mt_cfg c = {.tie_output = 0, .vocab = 8000, .epochs = 30, .avg_last = 5, .val_bleu_n = 1014, .batch_tokens = 4096,
                .warmup = 400, .lr = 1e-3f, .label_smoothing = 0.1f, .clip = 1.0f, .weight_decay = 0.0f,
                .max_minutes = 60, .seed = 1};
    c.model = (attn_seq2seq_config){.d_model = 256, .nhead = 8, .num_encoder_layers = 3,
                                    .num_decoder_layers = 3, .dim_feedforward = 1024, .max_len = 128,
                                    .dropout = 0.1f, .activation = ATTN_ACT_RELU, .norm_first = 1,
                                    .share_embeddings = 1, .pad_id = ATTN_SPM_PAD_ID};
    c.gru = (attn_gru_seq2seq_config){.emb_size = 256, .enc_hidden = 256, .enc_layers = 1, .dec_hidden = 512,
                                      .attn_size = 256, .out_size = 512, .max_len = 128, .dropout = 0.3f,
                                      .share_embeddings = 1, .pad_id = ATTN_SPM_PAD_ID};
    const char *arch = "transformer", *config = NULL;
    int epochs_cli = 0;
    double minutes_cli = 0;
    for (int a = 1; a < argc; a++) {
        const char *s = argv[a];
        int more = a + 1 < argc;
        if (!strcmp(s, "--arch") && more) arch = argv[++a];
        else if (!strcmp(s, "--data") && more) c.data = argv[++a];
        else if (!strcmp(s, "--out") && more) c.out = argv[++a];
        else if (!strcmp(s, "--config") && more) config = argv[++a];
        else if (!strcmp(s, "--threads") && more) c.threads = atoi(argv[++a]);
        else if (!strcmp(s, "--epochs") && more) epochs_cli = atoi(argv[++a]);
        else if (!strcmp(s, "--max-minutes") && more) minutes_cli = atof(argv[++a]);
        else if (!strcmp(s, "--resume")) c.resume = 1;
        else return usage();
    }
    if (!c.data || !c.out || c.threads < 0) return usage();
    if (strcmp(arch, "transformer") && strcmp(arch, "gru")) {
        fprintf(stderr, "attn train translate: --arch must be transformer or gru, not %s\n", arch);
        return 2;
    }
    c.is_gru = !strcmp(arch, "gru");
    if (!c.is_gru) {
        /* Measured on Multi30k (60 minutes, 2 threads): the inverse square root gave 34.02 BLEU
         * on test2016 (beam 5); the budget schedule with the embedding scaled by √d, 36.16. */
        c.budget_schedule = 1;
        c.model.scale_embedding = 1;
    } else {
        /* The recurrent model learns well from the first steps at Adam's usual 1e-3: a short warm-up,
         * and the 90 minutes its slower steps need for ~25 epochs. */
        c.warmup = 200;
        c.max_minutes = 90;
    }
    if (config && read_config(&c, config)) return 2;
    if (epochs_cli > 0) c.epochs = epochs_cli;
    if (minutes_cli > 0) c.max_minutes = minutes_cli;
    if (c.is_gru && c.tie_output) {
        fprintf(stderr, "attn train translate: tie_output is a Transformer option (the GRU's output layer is not "
                        "embedding-sized)\n");
        return 2;
    }
    const int64_t max_len = c.is_gru ? c.gru.max_len : c.model.max_len;
    if (c.epochs < 1 || c.batch_tokens < max_len || !(c.lr > 0) || c.vocab < 300 || c.avg_last < 0 || max_len < 4)
        return usage();
    if (c.threads) attn_set_num_threads(c.threads);
    if (attn_run_dir_prepare(c.out)) return cli_error("train translate", c.out, ATTN_E_IO);
    double t0 = bench_now(), reserve = 0; /* seconds kept for the validations after training */
    attn_parallel *train = NULL, *val = NULL;
    attn_spm *sp = NULL;
    char *b64 = NULL, path[600], best_path[600];
    corpus tr = {0}, va = {0};
    attn_batches tb = {0}, vb = {0};
    tensors x = {0};
    mt_model mm = {0};
    attn_params *P = NULL;
    attn_tape *t = NULL;
    attn_optim *opt = NULL;
    int64_t *perm = NULL;
    attn_metrics *csv = NULL;
    attn_run_state rs = {.best_metric = -1};
    attn_mpi_ctx *dc = NULL;
    if (attn_mpi_init(&argc, &argv, &dc)) {
        fprintf(stderr, "attn train translate: %s\n", attn_last_error());
        return 1;
    }
    const int rank = attn_mpi_rank(dc), ranks = attn_mpi_size(dc);
    { /* every rank must run the same job; rank 0 names the first that differs */
        char desc[800];
        int n = snprintf(desc, sizeof desc,
                         "arch=%s vocab=%d epochs=%d batch_tokens=%ld lr=%.9g warmup=%ld ls=%.9g clip=%.9g "
                         "wd=%.9g minutes=%.9g avg=%d tie=%d scale=%d sched=%d resume=%d seed=%llu d=%lld ff=%lld l=%lld+%lld "
                         "h=%lld emb=%lld enc=%lldx%lld dec=%lld att=%lld out=%lld drop=%.9g/%.9g len=%lld/%lld",
                         arch, c.vocab, c.epochs, c.batch_tokens, (double)c.lr, c.warmup,
                         (double)c.label_smoothing, (double)c.clip, (double)c.weight_decay, c.max_minutes,
                         c.avg_last, c.tie_output, c.model.scale_embedding, c.budget_schedule, c.resume,
                         (unsigned long long)c.seed,
                         (long long)c.model.d_model, (long long)c.model.dim_feedforward,
                         (long long)c.model.num_encoder_layers, (long long)c.model.num_decoder_layers,
                         (long long)c.model.nhead, (long long)c.gru.emb_size, (long long)c.gru.enc_layers,
                         (long long)c.gru.enc_hidden, (long long)c.gru.dec_hidden, (long long)c.gru.attn_size,
                         (long long)c.gru.out_size, (double)c.model.dropout, (double)c.gru.dropout,
                         (long long)c.model.max_len, (long long)c.gru.max_len);
        if (n >= (int)sizeof desc) n = (int)sizeof desc - 1; /* snprintf says what it would have written */
        if (attn_mpi_check_same(dc, desc, n > 0 ? (size_t)n : 0, "the training configuration")) {
            if (rank == 0) fprintf(stderr, "attn train translate: %s\n", attn_last_error());
            attn_mpi_finalize(dc);
            return 1;
        }
    }
    if (rank > 0 && !freopen("/dev/null", "w", stdout)) return 1; /* rank 0 alone prints */
    int st = load_pair(c.data, "train", &train);
    if (st == ATTN_OK) st = load_pair(c.data, "val", &val);
    if (st) {
        cli_error("train translate", c.data, st);
        goto done;
    }
    const uint64_t data_hash = corpus_hash(train);
    if (rank == 0 && c.resume) { /* the tokenizer the run state holds, not a file beside it */
        attn_st_reader *r = NULL;
        snprintf(path, sizeof path, "%s/run.safetensors", c.out);
        st = attn_st_open(path, &r);
        if (st == ATTN_OK) st = attn_spm_from_reader(r, &sp);
        attn_st_close(r);
    } else if (rank == 0) {
        printf("learning a joint BPE vocabulary of %d pieces from %lld training pairs\n", c.vocab,
               (long long)train->n);
        fflush(stdout);
        st = mt_spm_train_joint(train, c.vocab, (uint32_t)c.seed, &sp);
        snprintf(path, sizeof path, "%s/spm.model", c.out);
        if (st == ATTN_OK) st = save_spm_file(sp, path);
    }
    if (ranks > 1) st = dist_share_tokenizer(dc, st, &sp, "attn train translate");
    int32_t V = 0;
    if (st == ATTN_OK) st = attn_spm_vocab_size(sp, &V);
    if (st == ATTN_OK) st = mt_spm_to_b64(sp, &b64);
    int64_t drop_tr = 0, drop_va = 0;
    if (st == ATTN_OK) st = corpus_encode(train, sp, max_len, &tr, &drop_tr);
    if (st == ATTN_OK) st = corpus_encode(val, sp, max_len, &va, &drop_va);
    if (st == ATTN_OK) st = make_batches(&va, c.batch_tokens, 0, 0, &vb);
    if (st) {
        cli_error("train translate", "tokenizer and data", st);
        goto done;
    }
    c.model.src_vocab = c.model.tgt_vocab = c.gru.src_vocab = c.gru.tgt_vocab = V;
    int64_t cap = c.batch_tokens + max_len;
    x.src = malloc((size_t)cap * sizeof *x.src);
    x.tin = malloc((size_t)cap * sizeof *x.tin);
    x.tout = malloc((size_t)cap * sizeof *x.tout);
    st = c.is_gru ? attn_gru_seq2seq_create(&c.gru, c.seed, &mm.gru) : attn_seq2seq_create(&c.model, c.seed, &mm.tf);
    if (st == ATTN_OK) P = mt_model_params(&mm);
    g_untied_generator = NULL, g_tied_embedding = NULL;
    if (st == ATTN_OK && c.tie_output && mm.tf) { /* output projection = target embedding (shared param) */
        g_untied_generator = mm.tf->generator.weight;
        g_tied_embedding = mm.tf->tgt_embed.weight;
        mm.tf->generator.weight = mm.tf->tgt_embed.weight;
    }
    attn_tape_config tc = {.num_threads = c.threads, .seed = c.seed ^ 0x5eedull};
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    attn_optim_config oc = {.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.98f, .eps = 1e-9f,
                            .weight_decay = c.weight_decay};
    if (st == ATTN_OK) st = attn_optim_create(P, &oc, &opt);
    if (st == ATTN_OK && (!x.src || !x.tin || !x.tout)) st = ATTN_E_NOMEM;
    if (st == ATTN_OK && c.resume) {
        snprintf(path, sizeof path, "%s/run.safetensors", c.out);
        st = attn_run_load(path, P, opt, data_hash, &rs, NULL);
        if (st == ATTN_OK) attn_tape_set_rng(t, rs.rng_seed, rs.rng_offset);
        if (st == ATTN_OK)
            printf("resumed %s after epoch %lld (step %lld, best BLEU %.2f)\n", c.out, (long long)rs.epoch,
                   (long long)rs.step, rs.best_metric);
    }
    long step = (long)rs.step;
    int epoch = (int)rs.epoch;
    double best = rs.best_metric;
    attn_budget_plan bu = rs.plan;
    if (st == ATTN_OK) attn_mpi_rank_rng(dc, t);
    if (st) {
        cli_error("train translate", "setup", st);
        goto done;
    }
    if (mm.gru)
        printf("attn train translate: GRU encoder-decoder with additive attention, %lld parameters (embedding "
               "%lld, bidirectional encoder %lldx%lld, decoder %lld, attention %lld, output %lld)",
               (long long)attn_params_numel(P), (long long)c.gru.emb_size, (long long)c.gru.enc_layers,
               (long long)c.gru.enc_hidden, (long long)c.gru.dec_hidden, (long long)c.gru.attn_size,
               (long long)c.gru.out_size);
    else
        printf("attn train translate: Transformer %lld parameters%s (d_model %lld, %lld+%lld layers, %lld heads, "
               "FF %lld)",
               (long long)(attn_params_numel(P) - (g_untied_generator ? g_untied_generator->numel : 0)),
               g_untied_generator ? ", output projection tied to the embedding" : "", (long long)c.model.d_model,
               (long long)c.model.num_encoder_layers, (long long)c.model.num_decoder_layers,
               (long long)c.model.nhead, (long long)c.model.dim_feedforward);
    printf(", vocabulary %d, %lld training pairs (%lld too long dropped), %lld validation, %d threads\n", (int)V,
           (long long)tr.n, (long long)drop_tr, (long long)va.n, attn_get_num_threads());
    snprintf(path, sizeof path, "%s/metrics.csv", c.out);
    if (rank == 0) /* a resumed run's later rows (written before a kill) are cut, then written again */
        st = attn_metrics_open(path, "epoch,step,train_loss,val_loss,val_bleu,lr,tokens_per_s,elapsed_s", c.resume,
                               step, &csv);
    if (st) {
        cli_error("train translate", path, st);
        goto done;
    }
    snprintf(best_path, sizeof best_path, "%s/best.safetensors", c.out);
    double tokens = 0, t_train = bench_now();
    int stop = 0;
    for (; st == ATTN_OK && epoch < c.epochs && !stop; epoch++) {
        const double t_epoch = bench_now();
        attn_batches_free(&tb);
        st = make_batches(&tr, c.batch_tokens, c.seed * 1000003u + (uint64_t)epoch, 1, &tb);
        free(perm);
        perm = malloc((size_t)(tb.nb > 0 ? tb.nb : 1) * sizeof *perm);
        if (st == ATTN_OK && !perm) st = ATTN_E_NOMEM;
        if (st) break;
        for (int64_t i = 0; i < tb.nb; i++) perm[i] = i;
        attn_shuffle(perm, tb.nb, c.seed * 7919u + (uint64_t)epoch);
        char label[32];
        snprintf(label, sizeof label, "epoch %d/%d", epoch + 1, c.epochs);
        progress prog;
        progress_init(&prog, stdout, tb.nb, label);
        double lsum = 0, ltok = 0;
        float lr = 0;
        for (int64_t bi = 0; bi < tb.nb; bi++) {
            int64_t b = perm[bi], B = tb.start[b + 1] - tb.start[b];
            const int64_t *pairs = tb.order + tb.start[b];
            /* this rank's contiguous share [lo, hi) of the batch's pairs; k its target tokens */
            int64_t lo = B * rank / ranks, hi = B * (rank + 1) / ranks;
            double k = 0, k_mine = 0;
            for (int64_t i = 0; i < B; i++) {
                double ki = (double)tr.p[pairs[i]].tlen + 1;
                k += ki;
                if (i >= lo && i < hi) k_mine += ki;
            }
            double lstep = 0;
            attn_params_zero_grad(P);
            if (hi > lo) {
                attn_var *loss;
                fill(&tr, pairs + lo, hi - lo, mt_model_pad(&mm), &x);
                st = forward_loss(t, &mm, &x, c.label_smoothing, &loss);
                if (st == ATTN_OK) st = attn_tape_backward(t, loss, NULL);
                if (st == ATTN_OK) lstep = loss->data[0] * k_mine / k;
            }
            if (st == ATTN_OK && ranks > 1) {
                st = attn_mpi_weighted_grads(dc, P, k_mine / k, 1 << 20, NULL);
                if (st == ATTN_OK) st = attn_mpi_allreduce_sum_double(dc, &lstep);
                if (st) fprintf(stderr, "attn train translate (rank %d of %d): %s\n", rank, ranks, attn_last_error());
            }
            if (st == ATTN_OK && c.clip > 0) st = attn_clip_grad_norm(P, c.clip, NULL);
            lr = lr_at(&c, &bu, step);
            if (st == ATTN_OK) st = attn_optim_step(opt, lr);
            if (st) {
                cli_error("train translate", "training step", st);
                break;
            }
            step++;
            lsum += lstep * k, ltok += k;
            tokens += k;
            progress_update(&prog, bi + 1, lstep, tokens / (bench_now() - t_train), NULL);
            stop = attn_mpi_agree(dc, c.max_minutes > 0 && bench_now() - t0 + reserve > c.max_minutes * 60);
            if (stop < 0) {
                fprintf(stderr, "attn train translate (rank %d of %d): %s\n", rank, ranks, attn_last_error());
                st = ATTN_E_IO;
            }
            if (stop) break;
        }
        progress_done(&prog);
        if (st) break;
        double vloss, bleu;
        int is_best = 0;
        const double t_val = bench_now();
        st = validate(t, &mm, sp, &va, &vb, &x, val, c.val_bleu_n, &vloss, &bleu);
        if (st) {
            cli_error("train translate", "validation", st);
            break;
        }
        /* the time limit covers the whole command: keep room for the last validation and the
         * averaged weights' one */
        reserve = (bench_now() - t_val) * (c.avg_last > 1 ? 2 : 1);
        if (c.budget_schedule && !stop) {
            /* the next epoch's line, from the time used and this epoch's length (rank 0's clock) */
            bu = attn_budget_replan(step, tb.nb, epoch, c.epochs, c.max_minutes > 0 ? c.max_minutes * 60 - reserve : 0,
                                    bench_now() - t0, bench_now() - t_epoch);
            if (ranks > 1 && attn_mpi_bcast(dc, &bu, sizeof bu, 0)) {
                fprintf(stderr, "attn train translate (rank %d of %d): %s\n", rank, ranks, attn_last_error());
                st = ATTN_E_IO;
                break;
            }
        }
        double tps = tokens / (bench_now() - t_train);
        printf("epoch %d: train loss %.4f  val loss %.4f  val BLEU %.2f  (%.0f target tok/s, %.1f min)%s\n",
               epoch + 1, lsum / (ltok > 0 ? ltok : 1), vloss, bleu, tps, (bench_now() - t0) / 60,
               bleu > best ? "  best" : "");
        if (bleu > best) best = bleu, is_best = 1;
        if (rank > 0) continue; /* rank 0 alone writes */
        /* the row and the exported models first, the run state last: a kill in between redoes
         * this epoch, bit for bit, and rewrites them (metrics.csv is cut back on resume) */
        char row[256];
        snprintf(row, sizeof row, "%d,%ld,%.6g,%.6g,%.4f,%.6g,%.1f,%.1f", epoch + 1, step, lsum / (ltok > 0 ? ltok : 1),
                 vloss, bleu, lr, tps, bench_now() - t0);
        st = attn_metrics_row(csv, row);
        snprintf(path, sizeof path, "%s/model.safetensors", c.out);
        if (st == ATTN_OK) st = save_model(&mm, b64, path, step);
        if (st == ATTN_OK && is_best) st = save_model(&mm, b64, best_path, step);
        if (st == ATTN_OK && c.avg_last > 1) {
            snprintf(path, sizeof path, "%s/epoch%d.safetensors", c.out, epoch + 1);
            st = save_model(&mm, b64, path, step);
            snprintf(path, sizeof path, "%s/epoch%d.safetensors", c.out, epoch + 1 - c.avg_last);
            if (epoch + 1 - c.avg_last >= 1) remove(path);
        }
        uint64_t rseed, roff;
        attn_tape_get_rng(t, &rseed, &roff);
        rs = (attn_run_state){.step = step, .epoch = epoch + 1, .rng_seed = rseed, .rng_offset = roff,
                              .best_metric = best, .best_epoch = is_best ? epoch + 1 : rs.best_epoch,
                              .data_hash = data_hash, .plan = bu};
        if (st == ATTN_OK) st = save_run(c.out, &mm, opt, &rs, b64);
        if (st) cli_error("train translate", "saving", st);
    }
    /* average the last epochs' weights; the run's final model is the best epoch or the average,
     * whichever validates better (chosen on validation only) */
    char final_path[600];
    snprintf(final_path, sizeof final_path, "%s", best_path);
    if (st == ATTN_OK && rank == 0 && c.avg_last > 1 && epoch >= c.avg_last) {
        char (*paths)[600] = malloc((size_t)c.avg_last * sizeof *paths);
        const char **names = malloc((size_t)c.avg_last * sizeof *names);
        if (!paths || !names) st = ATTN_E_NOMEM;
        for (int i = 0; st == ATTN_OK && i < c.avg_last; i++) {
            snprintf(paths[i], sizeof paths[i], "%s/epoch%d.safetensors", c.out, epoch - c.avg_last + 1 + i);
            names[i] = paths[i];
        }
        if (st == ATTN_OK) st = attn_params_average_files(P, names, c.avg_last);
        free(paths), free(names);
        double vloss, bleu;
        if (st == ATTN_OK) st = validate(t, &mm, sp, &va, &vb, &x, val, c.val_bleu_n, &vloss, &bleu);
        if (st == ATTN_OK) {
            printf("average of the last %d epochs: val loss %.4f  val BLEU %.2f%s\n", c.avg_last, vloss, bleu,
                   bleu > best ? "  best" : "");
            snprintf(path, sizeof path, "%s/average.safetensors", c.out);
            st = save_model(&mm, b64, path, step);
            if (st == ATTN_OK && bleu > best) best = bleu, snprintf(final_path, sizeof final_path, "%s", path);
        }
        if (st) cli_error("train translate", "averaging", st);
    }
    if (st == ATTN_OK)
        printf("result: task=multi30k arch=%s val_bleu=%.2f epochs=%d steps=%ld minutes=%.1f "
               "tokens_per_s=%.0f best=%s final=%s\n",
               arch, best, epoch, step, (bench_now() - t0) / 60, tokens / (bench_now() - t_train + 1e-9), best_path,
               final_path);
done:
    if (st && ranks > 1) { /* a peer may be gone: leave without MPI_Finalize, which would wait for it */
        fprintf(stderr, "attn train translate (rank %d of %d): stopped with an error\n", rank, ranks);
        fflush(stdout), fflush(stderr);
        _exit(1);
    }
    attn_mpi_finalize(dc);
    if (attn_metrics_close(csv) && st == ATTN_OK) st = cli_error("train translate", "metrics.csv", ATTN_E_IO);
    free(perm), free(b64), free(x.src), free(x.tin), free(x.tout);
    attn_batches_free(&tb), attn_batches_free(&vb);
    corpus_free(&tr), corpus_free(&va);
    attn_optim_free(opt);
    attn_tape_free(t);
    mt_model_free(&mm);
    attn_spm_free(sp);
    attn_parallel_free(train), attn_parallel_free(val);
    return st ? 1 : 0;
}
