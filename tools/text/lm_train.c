/* lm_train.c — a whole language-model training run (attn_lm_run, lm_spm.h): the text read and
 * split 90/10, its tokenizer (the characters, or a BPE learned by rank 0 or read from the run
 * state, shared with the other ranks), both parts encoded, the GPT, tape and task made,
 * attn_train_run, and under a communicator the check that every rank ends with the same
 * weights. */
#include "lm_spm.h"
#include "translator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every rank must run the same job: rank 0 names the first that differs. */
static int check_same_job(const attn_train_comm *comm, const attn_lm_run_config *c, int resume)
{
    char desc[600];
    int k = snprintf(desc, sizeof desc,
                     "tok=%d vocab=%d all=%d L=%lld H=%lld d=%lld T=%lld drop=%.9g batch=%lld steps=%lld warm=%lld "
                     "every=%lld eb=%lld lr=%.9g min=%.9g wd=%.9g clip=%.9g seed=%llu minutes=%.9g budget=%d resume=%d",
                     c->bpe, c->vocab, c->task.eval_all, (long long)c->model.n_layer, (long long)c->model.n_head,
                     (long long)c->model.d_model, (long long)c->model.context, (double)c->model.dropout,
                     (long long)c->task.batch, (long long)c->task.steps, (long long)c->warmup,
                     (long long)c->task.eval_every, (long long)c->task.eval_batches, (double)c->lr,
                     (double)c->min_lr_ratio, (double)c->weight_decay, (double)c->clip,
                     (unsigned long long)c->task.seed, c->minutes, c->budget, resume);
    k = k < 0 ? 0 : k >= (int)sizeof desc ? (int)sizeof desc - 1 : k;
    return attn_train_comm_check_same(comm, desc, (size_t)k, "the training configuration");
}

/* The tokenizer a run state names (attn.tokenizer): a BPE run resumes with a BPE only, and a
 * character run without one. A missing or unreadable state is the trainer's to report. */
static int check_run_tokenizer(const char *out_dir, int bpe, attn_spm **sp)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/run.safetensors", out_dir);
    attn_st_reader *r = NULL;
    int st = attn_st_open(path, &r);
    if (st && !bpe) return ATTN_OK;
    const char *kind = st ? NULL : attn_st_metadata(r, "attn.tokenizer");
    const int is_spm = kind && !strcmp(kind, "spm");
    if (st == ATTN_OK && bpe && !is_spm)
        st = attn_set_error(ATTN_E_ARG, "%s: the run was trained with the tokenizer \"%s\", not a BPE", path,
                            kind ? kind : "(none)");
    else if (st == ATTN_OK && !bpe && is_spm)
        st = attn_set_error(ATTN_E_ARG, "%s: the run was trained with a BPE: resume it with --tokenizer bpe", path);
    else if (st == ATTN_OK && bpe)
        st = attn_spm_from_reader(r, sp);
    attn_st_close(r);
    return st;
}

/* The BPE: rank 0 learns it from the training bytes (or, on resume, reads the run state's own),
 * the other ranks receive it. A rank that enters with an error (st) keeps it. */
static int bpe_tokenizer(int st, const attn_lm_run_config *c, const char *out_dir, int resume,
                         const attn_run_hooks *hooks, const char *text, attn_lm_run_result *res, attn_lm_spm **tok)
{
    const attn_train_comm *comm = hooks ? hooks->comm : NULL;
    attn_spm *sp = NULL;
    if (st || (comm && comm->rank > 0)) {
    } else if (resume) {
        st = check_run_tokenizer(out_dir, 1, &sp);
    } else {
        const double t0 = attn_now();
        const int threads = hooks && hooks->threads ? hooks->threads : 2;
        st = attn_run_hooks_stage(hooks, ATTN_RUN_TOKENIZER_BEGIN);
        if (st == ATTN_OK) st = attn_lm_spm_train(text, (size_t)res->train_bytes, c->vocab, (uint32_t)c->task.seed, threads, &sp);
        res->tokenizer_seconds = attn_now() - t0;
        if (st == ATTN_OK && attn_spm_vocab_size(sp, &res->vocab) == ATTN_OK)
            st = attn_run_hooks_stage(hooks, ATTN_RUN_TOKENIZER);
    }
    st = attn_spm_share(comm, st, &sp);
    if (st) {
        attn_spm_free(sp);
        return st;
    }
    return attn_lm_spm_wrap(sp, tok);
}

/* Both parts as ids [train | val] in *ids, the tokenizer's metadata value in *b64. */
static int encode(int st, const attn_lm_run_config *c, const char *out_dir, int resume, const attn_run_hooks *hooks,
                  const char *text, const char *data, attn_lm_run_result *res, attn_lm_spm **tok, int32_t **ids,
                  char **b64, int32_t *vocab)
{
    const size_t n = (size_t)(res->train_bytes + res->val_bytes), split = (size_t)res->train_bytes;
    if (c->bpe) { /* the two parts encoded apart: the validation tokens are those of the last 10% alone */
        int32_t *va = NULL;
        st = bpe_tokenizer(st, c, out_dir, resume, hooks, text, res, tok); /* every rank takes part */
        if (st == ATTN_OK) st = attn_lm_spm_encode(*tok, text, split, ids, &res->train_tokens);
        if (st == ATTN_OK) st = attn_lm_spm_encode(*tok, text + split, n - split, &va, &res->val_tokens);
        int32_t *all = st ? NULL : realloc(*ids, (size_t)(res->train_tokens + res->val_tokens + 1) * sizeof *all);
        if (st == ATTN_OK && !all) st = attn_set_error(ATTN_E_NOMEM, "out of memory");
        if (st == ATTN_OK) *ids = all, memcpy(all + res->train_tokens, va, (size_t)res->val_tokens * sizeof *all);
        free(va);
        if (st == ATTN_OK) *vocab = attn_lm_spm_vocab(*tok);
        if (st == ATTN_OK) st = attn_spm_to_base64(attn_lm_spm_model(*tok), b64);
        return st;
    }
    attn_chars chars;
    if (st == ATTN_OK && resume) st = check_run_tokenizer(out_dir, 0, NULL);
    attn_chars_of_text(text, n, &chars);
    *vocab = chars.V;
    res->train_tokens = (int64_t)split, res->val_tokens = (int64_t)(n - split);
    *ids = st ? NULL : malloc((n ? n : 1) * sizeof **ids);
    if (st == ATTN_OK) st = *ids ? attn_chars_encode(&chars, text, n, *ids, data) : attn_set_error(ATTN_E_NOMEM, "out of memory");
    if (st == ATTN_OK) st = attn_chars_to_meta(&chars, b64);
    return st;
}

int attn_lm_run(const attn_lm_run_config *cfg, const char *data, const char *out_dir, int resume,
                const attn_run_hooks *hooks, attn_lm_run_result *res)
{
    if (!cfg || !data || !out_dir || !res) return attn_set_error(ATTN_E_ARG, "attn_lm_run: an argument is NULL");
    memset(res, 0, sizeof *res);
    const attn_train_comm *comm = hooks ? hooks->comm : NULL;
    attn_lm_run_config c = *cfg;
    int st = check_same_job(comm, &c, resume);
    if (st) return st;
    char *text = NULL, *vocab_b64 = NULL, meta_buf[1024];
    size_t n = 0;
    int32_t *ids = NULL;
    attn_lm_spm *tok = NULL;
    attn_gpt *m = NULL;
    attn_tape *t = NULL;
    attn_lm_task *lt = NULL;
    if ((st = attn_data_read_file(data, &text, &n))) return st;
    const int64_t split = (int64_t)n * 9 / 10, T = c.model.context;
    res->train_bytes = split, res->val_bytes = (int64_t)n - split;
    if (comm && comm->size > 1) st = comm->same(comm->ctx, attn_hash64(ATTN_HASH64_INIT, text, n), "the training data");
    int32_t vocab = 0;
    st = encode(st, &c, out_dir, resume, hooks, text, data, res, &tok, &ids, &vocab_b64, &vocab);
    c.model.vocab = res->vocab = vocab;
    const int64_t n_tr = res->train_tokens, n_va = res->val_tokens;
    if (st == ATTN_OK && (n_tr - T < 1 || n_va - T < 1))
        st = attn_set_error(ATTN_E_ARG, "%lld training and %lld validation tokens (%zu bytes) leave no window of %lld in both parts",
                            (long long)n_tr, (long long)n_va, n, (long long)T);
    if (st == ATTN_OK) st = attn_run_hooks_stage(hooks, ATTN_RUN_DATA);
    if (st == ATTN_OK) st = attn_gpt_create(&c.model, c.task.seed, &m);
    attn_tape_config tc = {.num_threads = hooks ? hooks->threads : 0, .seed = c.task.seed ^ 0x5eedull};
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    if (st == ATTN_OK) st = attn_lm_task_create(m, ids, n_tr, ids + n_tr, n_va, &c.task, &lt);
    const char *kv[48];
    int nk = st ? 0 : attn_gpt_config_to_meta(&m->cfg, meta_buf, sizeof meta_buf, kv, 40);
    if (nk < 0) st = nk;
    if (st == ATTN_OK) {
        kv[nk++] = "attn.arch", kv[nk++] = "gpt";
        kv[nk++] = "attn.tokenizer", kv[nk++] = c.bpe ? "spm" : "chars";
        kv[nk++] = c.bpe ? "attn.spm.model" : "attn.chars.vocab", kv[nk++] = vocab_b64;
        kv[nk] = NULL;
        attn_train_task task = attn_lm_task_get(lt);
        task.meta = kv;
        const int rank0 = !comm || comm->rank == 0;
        attn_train_config tcfg = {
            .out_dir = out_dir, .resume = resume,
            .optim = {.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = c.weight_decay},
            .schedule = {.kind = ATTN_SCHEDULE_COSINE, .base_lr = c.lr, .warmup_steps = c.warmup,
                         .total_steps = c.task.steps, .min_ratio = c.min_lr_ratio},
            .max_seconds = c.minutes * 60, .budget = c.budget && c.minutes > 0,
            .clip = c.clip, .data_hash = attn_hash64(ATTN_HASH64_INIT, ids, (size_t)(n_tr + n_va) * sizeof *ids),
            .items_name = "tokens", .progress = rank0 && hooks ? hooks->progress : NULL,
            .progress_user = hooks ? hooks->user : NULL, .comm = comm};
        attn_lm_task_configure(lt, &tcfg);
        res->params = attn_params_numel(m->P);
        st = attn_run_hooks_stage(hooks, ATTN_RUN_MODEL);
        if (st == ATTN_OK) st = attn_train_run(&tcfg, &task, m->P, t, &res->train);
    }
    if (st == ATTN_OK && comm && comm->size > 1) { /* every rank ends with the same weights, bit for bit */
        uint64_t h = ATTN_HASH64_INIT;
        for (int i = 0; i < attn_params_count(m->P); i++) {
            const attn_param *p = attn_params_at(m->P, i);
            h = attn_hash64(h, p->data, (size_t)p->numel * sizeof *p->data);
        }
        st = comm->same(comm->ctx, h, "the trained weights");
        res->weights_hash = h;
    }
    attn_lm_task_free(lt);
    attn_tape_free(t);
    attn_gpt_free(m);
    attn_lm_spm_free(tok);
    free(ids), free(text), free(vocab_b64);
    return st;
}
