/* test_runs.c — what the task runs share (attn/train.h "task runs"): rank 0's bytes and the
 * configuration check through a communicator (two ranks simulated in one process: rank 0's
 * broadcasts recorded, replayed to rank 1), the stage hook's statuses, the language model's run
 * settings from a file, and the date demo's run: its stages, its files, and a run stopped by its
 * progress hook and resumed ending bit-identical to an uninterrupted one. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"
#include "test_tmp.h"

/* A simulated job of two ranks: rank 0's broadcasts are recorded; rank 1 replays them. */
typedef struct sim {
    int rank;
    unsigned char msg[8][256];
    size_t len[8];
    int n, next;
    uint64_t hash0; /* what rank 0 passed to same */
} sim;

static int sim_bcast(void *ctx, void *buf, size_t n)
{
    sim *s = ctx;
    if (n > sizeof s->msg[0]) return attn_set_error(ATTN_E_ARG, "sim: message of %zu bytes", n);
    if (s->rank == 0) {
        cr_assert_lt(s->n, 8);
        memcpy(s->msg[s->n], buf, n), s->len[s->n++] = n;
        return ATTN_OK;
    }
    if (s->next >= s->n || s->len[s->next] != n) return attn_set_error(ATTN_E_STATE, "sim: out of step");
    memcpy(buf, s->msg[s->next++], n);
    return ATTN_OK;
}

static int sim_same(void *ctx, uint64_t h, const char *what)
{
    sim *s = ctx;
    if (s->rank == 0) s->hash0 = h;
    else if (h != s->hash0) return attn_set_error(ATTN_E_STATE, "%s differs between rank 0 and rank 1", what);
    return ATTN_OK;
}

static attn_train_comm sim_comm(sim *s, int rank)
{
    s->rank = rank, s->next = 0;
    return (attn_train_comm){.ctx = s, .rank = rank, .size = 2, .bcast = sim_bcast, .same = sim_same};
}

Test(runs, share_bytes_reach_the_other_rank)
{
    sim s = {0};
    attn_train_comm c0 = sim_comm(&s, 0);
    char text[] = "the tokenizer's bytes";
    void *data = text;
    size_t n = sizeof text;
    cr_assert_eq(attn_train_comm_share(&c0, &data, &n), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(data, (void *)text, "rank 0 keeps its own buffer");
    attn_train_comm c1 = sim_comm(&s, 1);
    void *got = (void *)1;
    size_t m = 0;
    cr_assert_eq(attn_train_comm_share(&c1, &got, &m), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(m, sizeof text);
    cr_assert_arr_eq(got, text, sizeof text, "rank 1 receives rank 0's bytes");
    free(got);
    /* rank 0 sends nothing: rank 1 gets NULL and 0 */
    sim e = {0};
    c0 = sim_comm(&e, 0);
    n = 0, data = NULL;
    cr_assert_eq(attn_train_comm_share(&c0, &data, &n), ATTN_OK);
    c1 = sim_comm(&e, 1);
    got = (void *)1, m = 5;
    cr_assert_eq(attn_train_comm_share(&c1, &got, &m), ATTN_OK);
    cr_assert(got == NULL && m == 0);
    /* one process (NULL or size 1): nothing moves, nothing fails */
    cr_assert_eq(attn_train_comm_share(NULL, &data, &n), ATTN_OK);
    /* bad arguments and a broken broadcast are errors with a message, never an abort */
    cr_assert_eq(attn_train_comm_share(&c1, NULL, &m), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "attn_train_comm_share"));
    c1 = sim_comm(&e, 1); /* nothing left to replay */
    e.n = 0;
    cr_assert_eq(attn_train_comm_share(&c1, &got, &m), ATTN_E_STATE);
    attn_train_comm nob = {.rank = 1, .size = 2};
    cr_assert_eq(attn_train_comm_share(&nob, &got, &m), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "bcast"));
}

Test(runs, check_same_names_a_difference)
{
    sim s = {0};
    attn_train_comm c0 = sim_comm(&s, 0), c1 = sim_comm(&s, 1);
    c0.rank = 0, c0.ctx = &s;
    s.rank = 0;
    cr_assert_eq(attn_train_comm_check_same(&c0, "lr=0.001", 8, "the configuration"), ATTN_OK);
    s.rank = 1;
    cr_assert_eq(attn_train_comm_check_same(&c1, "lr=0.001", 8, "the configuration"), ATTN_OK);
    cr_assert_eq(attn_train_comm_check_same(&c1, "lr=0.002", 8, "the configuration"), ATTN_E_STATE);
    cr_assert(strstr(attn_last_error(), "the configuration differs"), "%s", attn_last_error());
    cr_assert_eq(attn_train_comm_check_same(NULL, "x", 1, "x"), ATTN_OK);
    cr_assert_eq(attn_train_comm_check_same(&c1, NULL, 3, "x"), ATTN_E_ARG);
}

static int stage_returns(void *user, attn_run_stage s)
{
    (void)s;
    return *(int *)user;
}

Test(runs, stage_hook_statuses)
{
    int r = 0;
    attn_run_hooks h = {.stage = stage_returns, .user = &r};
    cr_assert_eq(attn_run_hooks_stage(NULL, ATTN_RUN_DATA), ATTN_OK);
    cr_assert_eq(attn_run_hooks_stage(&h, ATTN_RUN_DATA), ATTN_OK);
    r = ATTN_E_IO;
    cr_assert_eq(attn_run_hooks_stage(&h, ATTN_RUN_DATA), ATTN_E_IO, "a status is passed on");
    r = 1;
    cr_assert_eq(attn_run_hooks_stage(&h, ATTN_RUN_MODEL), ATTN_E_STATE, "anything else stops the run");
    cr_assert(strstr(attn_last_error(), "stage"));
}

Test(runs, lm_config_file)
{
    attn_lm_run_config c;
    attn_lm_run_config_default(&c);
    cr_assert(c.model.n_layer == 4 && c.model.d_model == 192 && c.model.context == 128 && c.minutes == 30 &&
              c.budget == 1 && c.task.seed == 1337 && c.vocab == 1024 && !c.bpe, "configs/lm_shakespeare.json's values");
    const char *p = test_tmp_path("lm.json");
    FILE *f = fopen(p, "w");
    fputs("{\"tokenizer\": \"bpe\", \"vocab\": 300, \"n_layer\": 2, \"lr\": 0.003, \"budget\": true}\n", f);
    fclose(f);
    cr_assert_eq(attn_lm_run_config_load(p, &c, NULL), ATTN_OK, "%s", attn_last_error());
    cr_assert(c.bpe == 1 && c.vocab == 300 && c.model.n_layer == 2 && c.lr == 0.003f && c.budget == 1);
    cr_assert(c.model.n_head == 6, "keys not in the file keep their values");
    f = fopen(p, "w");
    fputs("{\"vocab\": 100}\n", f);
    fclose(f);
    cr_assert_eq(attn_lm_run_config_load(p, &c, NULL), ATTN_E_FORMAT, "a BPE of 100 pieces is out of range");
    cr_assert(strstr(attn_last_error(), "vocab"), "%s", attn_last_error());
    cr_assert_eq(attn_lm_run_config_load(p, NULL, NULL), ATTN_E_ARG);
}

/* The demo's run, small: stages seen, stop at a step, resume. */
typedef struct seen {
    int stages[8], n;
    int64_t stop_at;
} seen;

static int on_stage(void *user, attn_run_stage s)
{
    seen *w = user;
    if (w->n < 8) w->stages[w->n++] = (int)s;
    return 0;
}

static int on_event(void *user, const attn_train_event *e)
{
    const seen *w = user;
    return w->stop_at && e->kind == ATTN_TRAIN_STEP && e->step == w->stop_at;
}

static void dates_run(const char *dir, int resume, int64_t stop_at, attn_dates_run_result *res, seen *w)
{
    attn_dates_run_config c = {.model = {.src_vocab = ATTN_ASCII_VOCAB, .tgt_vocab = ATTN_ASCII_VOCAB, .d_model = 16,
                                         .nhead = 2, .num_encoder_layers = 1, .num_decoder_layers = 1,
                                         .dim_feedforward = 32, .max_len = 64, .dropout = 0.1f, .norm_first = 1,
                                         .share_embeddings = 1, .pad_id = ATTN_ASCII_PAD},
                               .task = {.batch = 4, .steps = 12, .period = 4, .val_examples = 8, .seed = 5},
                               .lr = 1e-3f};
    *w = (seen){.stop_at = stop_at};
    attn_run_hooks h = {.progress = on_event, .stage = on_stage, .user = w, .threads = 1};
    attn_seq2seq *m = NULL;
    attn_tape *t = NULL;
    cr_assert_eq(attn_dates_run(&c, dir, resume, &h, res, &m, &t), ATTN_OK, "%s", attn_last_error());
    cr_assert(m && t, "the model and the tape are handed back");
    attn_seq2seq_free(m);
    attn_tape_free(t);
}

Test(runs, dates_run_stops_and_resumes_bit_identical)
{
    char a[256], b[256], fa[300], fb[300];
    snprintf(a, sizeof a, "%s", test_tmp_path("a"));
    snprintf(b, sizeof b, "%s", test_tmp_path("b"));
    attn_dates_run_result r;
    seen w;
    dates_run(a, 0, 0, &r, &w);
    cr_assert(w.n == 1 && w.stages[0] == ATTN_RUN_MODEL, "the demo's run has a model stage only");
    cr_assert(r.params > 0 && r.train.state.step == 12, "params %lld, step %lld", (long long)r.params,
              (long long)r.train.state.step);
    dates_run(b, 0, 8, &r, &w);
    cr_assert_eq(r.train.state.step, 8, "stopped by its progress hook");
    dates_run(b, 1, 0, &r, &w);
    cr_assert_eq(r.train.state.step, 12);
    snprintf(fa, sizeof fa, "%s/run.safetensors", a);
    snprintf(fb, sizeof fb, "%s/run.safetensors", b);
    cr_assert(test_same_file(fa, fb), "the resumed run state is the uninterrupted one's, byte for byte");
    snprintf(fa, sizeof fa, "%s/model.safetensors", a);
    snprintf(fb, sizeof fb, "%s/model.safetensors", b);
    cr_assert(test_same_file(fa, fb), "and so is the model");
}

Test(runs, dates_run_bad_input)
{
    attn_dates_run_result r;
    attn_seq2seq *m = (attn_seq2seq *)1;
    cr_assert_eq(attn_dates_run(NULL, "x", 0, NULL, &r, &m, NULL), ATTN_E_ARG);
    cr_assert(m == NULL, "outputs cleared on failure");
    cr_assert(strstr(attn_last_error(), "attn_dates_run"));
    attn_dates_run_config c = {.model = {.src_vocab = ATTN_ASCII_VOCAB, .tgt_vocab = ATTN_ASCII_VOCAB, .d_model = 15,
                                         .nhead = 2, .num_encoder_layers = 1, .num_decoder_layers = 1,
                                         .dim_feedforward = 8, .max_len = 64, .pad_id = ATTN_ASCII_PAD},
                               .task = {.batch = 2, .steps = 2, .period = 1, .seed = 1}, .lr = 1e-3f};
    cr_assert_lt(attn_dates_run(&c, test_tmp_path("bad"), 0, NULL, &r, NULL, NULL), 0,
                 "d_model not a multiple of nhead is refused");
    cr_assert(attn_last_error()[0]);
    int stop = ATTN_E_IO;
    attn_run_hooks h = {.stage = stage_returns, .user = &stop};
    c.model.d_model = 16;
    cr_assert_eq(attn_dates_run(&c, test_tmp_path("stopped"), 0, &h, &r, NULL, NULL), ATTN_E_IO,
                 "the stage hook's status ends the run before training");
    cr_assert_eq(r.train.state.step, 0);
}
