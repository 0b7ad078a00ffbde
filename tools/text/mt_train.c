/* mt_train.c — a whole translation training run (attn_mt_run, translator.h): the parallel
 * corpus read, the joint BPE learned (or the run state's), shared with the other ranks, the
 * pairs encoded, the model (Transformer or GRU), tape and task made, attn_train_run. */
#include "translator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every rank must run the same job: rank 0 names the first that differs. */
static int check_same_job(const attn_train_comm *comm, const attn_mt_run_config *c, int gru, int resume)
{
    char desc[800];
    int n = snprintf(desc, sizeof desc,
                     "arch=%s vocab=%d epochs=%d batch_tokens=%ld lr=%.9g warmup=%ld ls=%.9g clip=%.9g "
                     "wd=%.9g minutes=%.9g avg=%d tie=%d scale=%d sched=%d resume=%d seed=%llu d=%lld ff=%lld l=%lld+%lld "
                     "h=%lld emb=%lld enc=%lldx%lld dec=%lld att=%lld out=%lld drop=%.9g/%.9g len=%lld/%lld",
                     gru ? "gru" : "transformer", c->vocab, c->epochs, c->batch_tokens, (double)c->lr, c->warmup,
                     (double)c->label_smoothing, (double)c->clip, (double)c->weight_decay, c->max_minutes,
                     c->avg_last, c->tie_output, c->model.scale_embedding, c->budget_schedule, resume,
                     (unsigned long long)c->seed, (long long)c->model.d_model, (long long)c->model.dim_feedforward,
                     (long long)c->model.num_encoder_layers, (long long)c->model.num_decoder_layers,
                     (long long)c->model.nhead, (long long)c->gru.emb_size, (long long)c->gru.enc_layers,
                     (long long)c->gru.enc_hidden, (long long)c->gru.dec_hidden, (long long)c->gru.attn_size,
                     (long long)c->gru.out_size, (double)c->model.dropout, (double)c->gru.dropout,
                     (long long)c->model.max_len, (long long)c->gru.max_len);
    n = n < 0 ? 0 : n >= (int)sizeof desc ? (int)sizeof desc - 1 : n; /* what was written */
    return attn_train_comm_check_same(comm, desc, (size_t)n, "the training configuration");
}

static int load_pair(const char *dir, const char *split, attn_parallel **out)
{
    char s[4200], t[4200];
    snprintf(s, sizeof s, "%s/%s.en", dir, split);
    snprintf(t, sizeof t, "%s/%s.de", dir, split);
    return attn_parallel_load(s, t, out);
}

/* The tokenizer: rank 0 reads the run state's own (resume) or learns it from the training pairs
 * (and writes it beside the run); the other ranks receive it. A rank that enters with an error
 * (st) keeps it. */
static int tokenizer(int st, const attn_mt_run_config *c, const attn_parallel *train, const char *out_dir,
                     int resume, const attn_run_hooks *hooks, attn_spm **sp)
{
    const attn_train_comm *comm = hooks ? hooks->comm : NULL;
    char path[4200];
    if (st || (comm && comm->rank > 0)) {
    } else if (resume) { /* the tokenizer the run state holds, not a file beside it */
        snprintf(path, sizeof path, "%s/run.safetensors", out_dir);
        st = attn_spm_from_checkpoint(path, sp);
    } else {
        st = attn_run_hooks_stage(hooks, ATTN_RUN_TOKENIZER_BEGIN);
        if (st == ATTN_OK) st = attn_spm_train_joint(train, c->vocab, (uint32_t)c->seed, sp);
        snprintf(path, sizeof path, "%s/spm.model", out_dir);
        if (st == ATTN_OK) st = attn_spm_save_atomic(*sp, path);
        if (st == ATTN_OK) st = attn_run_hooks_stage(hooks, ATTN_RUN_TOKENIZER);
    }
    return attn_spm_share(comm, st, sp);
}

int attn_mt_run(const attn_mt_run_config *cfg, int gru, const char *data, const char *out_dir, int resume,
                const attn_run_hooks *hooks, attn_mt_run_result *res)
{
    if (!cfg || !data || !out_dir || !res) return attn_set_error(ATTN_E_ARG, "attn_mt_run: an argument is NULL");
    memset(res, 0, sizeof *res);
    const double t0 = attn_now();
    const attn_train_comm *comm = hooks ? hooks->comm : NULL;
    attn_mt_run_config c = *cfg;
    const int64_t max_len = gru ? c.gru.max_len : c.model.max_len;
    if (gru && c.tie_output)
        return attn_set_error(ATTN_E_ARG, "tie_output is a Transformer option (the GRU's output layer is not "
                                          "embedding-sized)");
    if (c.batch_tokens < max_len)
        return attn_set_error(ATTN_E_ARG, "batch_tokens %ld is below max_len %lld", c.batch_tokens, (long long)max_len);
    if (!(c.lr > 0)) return attn_set_error(ATTN_E_ARG, "lr must be above 0");
    int st = check_same_job(comm, &c, gru, resume);
    if (st) return st;
    attn_parallel *train = NULL, *val = NULL;
    attn_spm *sp = NULL;
    char *b64 = NULL;
    attn_mt_pair *tr = NULL, *va = NULL;
    attn_seq2seq *tf = NULL;
    attn_gru_seq2seq *gm = NULL;
    attn_tape *t = NULL;
    attn_mt_task *mt = NULL;
    st = load_pair(data, "train", &train);
    if (st == ATTN_OK) st = load_pair(data, "val", &val);
    if (st == ATTN_OK && (!comm || comm->rank == 0)) st = attn_run_dir_prepare(out_dir); /* once the data is there */
    if (st == ATTN_OK) res->n_pairs = train->n;
    st = tokenizer(st, &c, train, out_dir, resume, hooks, &sp); /* every rank takes part */
    if (st == ATTN_OK) st = attn_spm_vocab_size(sp, &res->vocab);
    if (st == ATTN_OK) st = attn_spm_to_base64(sp, &b64);
    if (st == ATTN_OK) st = attn_mt_encode_pairs(train, sp, max_len, &tr, &res->n_train, &res->dropped_train);
    if (st == ATTN_OK) st = attn_mt_encode_pairs(val, sp, max_len, &va, &res->n_val, &res->dropped_val);
    if (st == ATTN_OK) st = attn_run_hooks_stage(hooks, ATTN_RUN_DATA);
    c.model.src_vocab = c.model.tgt_vocab = c.gru.src_vocab = c.gru.tgt_vocab = res->vocab;
    if (st == ATTN_OK) st = gru ? attn_gru_seq2seq_create(&c.gru, c.seed, &gm) : attn_seq2seq_create(&c.model, c.seed, &tf);
    attn_param *untied = NULL; /* generator.weight left out of the graph when tied */
    if (st == ATTN_OK && c.tie_output && tf) { /* output projection = target embedding (shared param) */
        untied = tf->generator.weight;
        tf->generator.weight = tf->tgt_embed.weight;
    }
    attn_tape_config tc = {.num_threads = hooks ? hooks->threads : 0, .seed = c.seed ^ 0x5eedull};
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    attn_mt_bleu_hook bh = {tf, gm, sp, val, c.val_bleu_n};
    attn_mt_task_config mc = {.batch_tokens = c.batch_tokens, .seed = c.seed, .label_smoothing = c.label_smoothing,
                              .bos = ATTN_SPM_BOS_ID, .eos = ATTN_SPM_EOS_ID, .pad = tf ? tf->cfg.pad_id : gm ? gm->cfg.pad_id : 0,
                              .metric = attn_mt_val_bleu, .metric_user = &bh, .tie_copy_to = untied,
                              .tie_copy_from = untied ? tf->tgt_embed.weight : NULL};
    if (st == ATTN_OK) st = attn_mt_task_create(tf, gm, tr, res->n_train, va, res->n_val, &mc, &mt);
    char meta_buf[2048];
    const char *meta_kv[64];
    if (st == ATTN_OK) st = attn_mt_model_meta(tf, gm, b64, untied != NULL, meta_buf, sizeof meta_buf, meta_kv, 64);
    if (st == ATTN_OK) {
        attn_params *P = tf ? tf->P : gm->P;
        res->params = attn_params_numel(P) - (untied ? untied->numel : 0), res->tied = untied != NULL;
        attn_train_task task = attn_mt_task_get(mt);
        task.meta = meta_kv;
        /* the time limit covers the whole call: what the tokenizer and the data took is spent */
        const double spent = attn_now() - t0;
        attn_train_config tcfg = {
            .out_dir = out_dir, .resume = resume, .epochs = c.epochs,
            .max_seconds = c.max_minutes > 0 ? (c.max_minutes * 60 - spent > 1 ? c.max_minutes * 60 - spent : 1) : 0,
            .optim = {.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.98f, .eps = 1e-9f, .weight_decay = c.weight_decay},
            .schedule = {.kind = ATTN_SCHEDULE_INVSQRT, .base_lr = c.lr, .warmup_steps = c.warmup},
            .budget = c.budget_schedule, .clip = c.clip, .average_last = c.avg_last, .data_hash = attn_parallel_hash(train),
            .metric_name = "val_bleu", .items_name = "tokens", .progress = hooks ? hooks->progress : NULL,
            .progress_user = hooks ? hooks->user : NULL, .comm = comm};
        st = attn_run_hooks_stage(hooks, ATTN_RUN_MODEL);
        if (st == ATTN_OK) st = attn_train_run(&tcfg, &task, P, t, &res->train);
    }
    if (untied) tf->generator.weight = untied; /* its own tensor again, so that it is freed */
    free(b64);
    attn_mt_pairs_free(tr, res->n_train), attn_mt_pairs_free(va, res->n_val);
    attn_mt_task_free(mt);
    attn_tape_free(t);
    attn_seq2seq_free(tf), attn_gru_seq2seq_free(gm);
    attn_spm_free(sp);
    attn_parallel_free(train), attn_parallel_free(val);
    return st;
}
