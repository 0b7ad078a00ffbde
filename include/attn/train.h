/*
 * attn/train.h — what a training run needs beyond the tape and the optimiser, the same for every
 * task: batches of similar lengths under a token budget, shuffled orders, the budget schedule,
 * one run state written atomically and resumed exactly, metrics that survive a resume, checkpoint
 * averaging, and the final model chosen on validation.
 *
 * The run state is ONE file (run.safetensors): the model's parameters ("model/<name>"), the
 * optimiser's moments ("optim/<name>.state1|2") and the run's counters, RNG stream, best metric
 * and data checksum as metadata, plus the caller's own metadata (tokenizer, model config, a
 * schedule's plan). A save is one atomic rename, so a kill leaves either the old state or the
 * new one, never a mix; every file a run exports (model.safetensors, best.safetensors …) carries
 * the step it was written at (metadata "run.step").
 */
#ifndef ATTN_TRAIN_H
#define ATTN_TRAIN_H

#include "attn/data.h"
#include "attn/models.h"
#include "attn/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- random streams and checksums ------------------------------------------------------------- */

/* SplitMix64 (Steele, Lea, Flood 2014): the next value of the stream whose state is *s. The one
 * sequential generator of the library (Philox, attn_philox_uniform, is the counter-based one). */
ATTN_API uint64_t attn_splitmix64(uint64_t *s);
/* A uniform double in [0, 1) from the stream. */
ATTN_API double attn_splitmix64_double(uint64_t *s);
/* 64-bit FNV-1a of n bytes continued from h (start with ATTN_HASH64_INIT), for checksums of
 * training data: equal data gives equal sums; a change is caught with overwhelming odds. */
#define ATTN_HASH64_INIT 0xcbf29ce484222325ull
ATTN_API uint64_t attn_hash64(uint64_t h, const void *data, size_t n);
/* Fisher–Yates shuffle of perm [n] with the SplitMix64 stream seeded by seed. */
ATTN_API void attn_shuffle(int64_t *perm, int64_t n, uint64_t seed);

/* ---- batches ---------------------------------------------------------------------------------- */

/* Examples grouped into batches of similar length: sorted by len[i] (+ a jitter in [0, 2) from
 * seed when jitter is set, so batches differ between epochs), cut so that a batch's count times
 * its longest length stays within max_tokens (a longer example alone makes its own batch).
 * Batch b holds examples order[start[b] .. start[b + 1]). */
typedef struct attn_batches {
    int64_t n, nb;
    int64_t *order; /* [n] example indices */
    int64_t *start; /* [nb + 1] */
} attn_batches;
ATTN_API int attn_batches_by_length(const int64_t *len, int64_t n, int64_t max_tokens,
                                    uint64_t seed, int jitter, attn_batches *out);
ATTN_API void attn_batches_free(attn_batches *b);

/* ---- the budget schedule ---------------------------------------------------------------------- */

/* The learning rate is lr · warm-up(s) · D(s), D the share of the budget (time or epochs) still
 * ahead: 1 until a plan is made, then, through each epoch, a line from d0 to d1 over steps
 * [anchor, anchor + span), never below 0 (Li et al., 2020, "Budgeted training"). Replanned at
 * epoch ends from the clock, saved with the run, so a resumed run repeats each step's rate. */
typedef struct attn_budget_plan {
    int64_t anchor, span; /* span 0: not planned (D = 1) */
    double d0, d1;
} attn_budget_plan;
ATTN_API double attn_budget_factor(const attn_budget_plan *b, int64_t step);
/* The plan for the next epoch, after epoch `epoch` (0-based) of `epochs` ended at `step` with
 * `steps_per_epoch` steps: the smaller of the epochs left and, when budget_s > 0, the time left
 * (used_s spent so far, epoch_s the last epoch's length). */
ATTN_API attn_budget_plan attn_budget_replan(int64_t step, int64_t steps_per_epoch, int64_t epoch,
                                             int64_t epochs, double budget_s, double used_s,
                                             double epoch_s);

/* ---- run state -------------------------------------------------------------------------------- */

typedef struct attn_run_state {
    int64_t step;          /* optimiser steps taken */
    int64_t epoch;         /* epochs finished */
    int64_t batch;         /* batches of the current epoch finished (0 at an epoch's end) */
    uint64_t rng_seed, rng_offset; /* the tape's dropout stream (attn_tape_get_rng) */
    double best_metric;    /* best validation figure so far (higher is better); −inf: none */
    int64_t best_epoch;
    uint64_t data_hash;    /* checksum of the training data the run was started on */
    attn_budget_plan plan; /* the budget schedule's current line (span 0: none) */
} attn_run_state;

/* Write the run state to path atomically: P's parameters, o's moments (o may be NULL), s, and
 * meta (NULL-terminated key, value list; NULL: none; keys "run.*" are the library's). */
ATTN_API int attn_run_save(const char *path, const attn_params *P, attn_optim *o,
                           const attn_run_state *s, const char *const *meta);
/* Read it back into P, o and s after checking that every tensor is there with the model's shape
 * (nothing is changed if anything is missing), and, when data_hash is nonzero, that the run was
 * started on the same data (ATTN_E_STATE naming both sums otherwise). meta (may be NULL)
 * receives the open file, for the caller's own metadata: close it with attn_st_close. */
ATTN_API int attn_run_load(const char *path, attn_params *P, attn_optim *o, uint64_t data_hash,
                           attn_run_state *s, attn_st_reader **meta);
/* Export P as a plain checkpoint (what attn translate, Python and PyTorch read) with meta plus
 * "run.step" = step, atomically. */
ATTN_API int attn_run_export(const char *path, const attn_params *P, int64_t step,
                             const char *const *meta);

/* A run's directory: created with its parents if missing (a failure says which part and why),
 * and cleared of the temporary files an interrupted atomic write leaves (*.tmp.*). */
ATTN_API int attn_run_dir_prepare(const char *dir);

/* ---- metrics ---------------------------------------------------------------------------------- */

/* metrics.csv: a header line naming a "step" column, then one row per report. Opened for a new
 * run it is rewritten; for a resumed one, rows whose step is after resume_step are cut (a killed
 * run's later rows are written again, once). Every write is flushed and checked. */
typedef struct attn_metrics attn_metrics;
ATTN_API int attn_metrics_open(const char *path, const char *header, int resume,
                               int64_t resume_step, attn_metrics **out);
/* One row: the text of its columns (no newline). */
ATTN_API int attn_metrics_row(attn_metrics *m, const char *row);
ATTN_API int attn_metrics_close(attn_metrics *m);

/* ---- metrics.csv read back (what `attn plot` draws) ---------------------------------------------
 * Any metrics CSV attn writes: a header row naming the columns, then rows of numbers separated
 * by plain commas (no quoting), spaces around a field ignored, blank lines skipped. An empty
 * cell, "nan" or "inf" reads as NaN; a last line without its newline and with another number of
 * fields (a log still being written) is left out. ATTN_E_FORMAT naming the file, line and column
 * for a cell that is not a number, a row with another number of fields, more than
 * ATTN_METRICS_MAX_COLS columns, a NUL byte or no header row; ATTN_E_IO naming the file when it
 * cannot be read (gzip is read too). On failure *out is empty. */
#define ATTN_METRICS_MAX_COLS 64
typedef struct attn_metrics_table {
    int ncols, nrows;
    char **names; /* [ncols] */
    double *v;    /* [nrows, ncols], row-major */
} attn_metrics_table;
ATTN_API int attn_metrics_load(const char *path, attn_metrics_table *out);
/* Frees what the table holds and empties it; NULL is ignored. */
ATTN_API void attn_metrics_table_free(attn_metrics_table *t);
/* Index of the column called name, or −1. */
ATTN_API int attn_metrics_column(const attn_metrics_table *t, const char *name);

/* ---- averaging and the final model ------------------------------------------------------------ */

/* P = the mean of the parameters stored in n checkpoint files (each must hold every parameter of
 * P with its shape). */
ATTN_API int attn_params_average_files(attn_params *P, const char *const *paths, int n);


/* ---- the training loop ------------------------------------------------------------------------ */

/* attn_train_run drives one training run for any task: epochs of batches, each batch's loss from
 * the task, backward, (with a communicator) the gradients of every rank's share summed, clipping,
 * the learning-rate schedule, the optimiser; after each epoch the task's validation, a row of
 * metrics.csv, the last and best models, and the run state — the same files and the same resume
 * for every task. The caller owns the model (its parameter table) and the tape; the trainer owns
 * the optimiser. A task whose data is drawn by step (a language model's random windows) uses an
 * "epoch" as the period between validations.
 *
 * Files in out_dir (rank 0 writes them; every file a save writes carries run.step):
 *   run.safetensors     the run state (attn_run_save), written last at each epoch end: --resume
 *                       continues from it, bit for bit;
 *   model.safetensors   the last epoch's model;    best.safetensors   the best by the metric;
 *   epoch<N>.safetensors the last average_last epochs' models (when average_last > 1), then
 *   average.safetensors  their mean; the run's final model is best or average, whichever
 *                       validates better (attn_train_result.final_name);
 *   metrics.csv         epoch,step,train_loss,val_loss[,<metric_name>],lr,<items>_per_s,elapsed_s.
 */

/* Where a batch stands: the trainer passes it to the task's batch_loss. */
typedef struct attn_train_batch {
    int64_t step;    /* optimiser steps taken before this batch */
    int64_t epoch;   /* 0-based */
    int64_t index;   /* position of the batch in its epoch */
    int64_t count;   /* batches in the epoch */
    int rank, ranks; /* under a communicator: this process takes its share (1 of 1 alone) */
} attn_train_batch;

typedef struct attn_train_task {
    void *ctx; /* passed to every callback */
    /* Epoch `epoch` (0-based) begins after `step` optimiser steps: *batches = how many it has
     * (>= 1). Called again with the same arguments after a resume, so an epoch's batches must be
     * a function of them. */
    int (*begin_epoch)(void *ctx, int64_t epoch, int64_t step, int64_t *batches);
    /* This rank's share of batch b on tape t (the task resets the tape): *loss its mean loss,
     * *weight its weight (tokens, examples: what the mean is over) and *total the weight of the
     * whole batch over all ranks. An empty share sets *weight = 0 and may leave *loss NULL. */
    int (*batch_loss)(void *ctx, attn_tape *t, const attn_train_batch *b, attn_var **loss,
                      double *weight, double *total);
    /* Validation on t (training mode off meanwhile): *metric, higher is better (BLEU, accuracy,
     * minus a loss), *loss the validation loss or NAN. NULL: none (the last model is the best). */
    int (*validate)(void *ctx, attn_tape *t, double *metric, double *loss);
    /* Before a model or run state is written (e.g. to copy tied weights into their own
     * tensor); may be NULL. */
    int (*before_save)(void *ctx);
    /* Metadata of every model file and of the run state (tokenizer, config): NULL-terminated
     * key, value list; may be NULL. */
    const char *const *meta;
} attn_train_task;

/* More than one process (libattn_mpi provides one: attn_mpi_train_comm): every rank calls
 * attn_train_run with the same configuration and data; rank 0 writes the files. */
typedef struct attn_train_comm {
    void *ctx;
    int rank, size;
    /* every parameter's gradient <- the sum over ranks of weight_r · grad_r */
    int (*reduce_grads)(void *ctx, attn_params *P, double weight);
    int (*sum)(void *ctx, double *value);          /* *value <- the sum over ranks */
    int (*agree)(void *ctx, int flag);             /* rank 0's flag (0/1) on every rank, < 0 on error */
    int (*bcast)(void *ctx, void *buf, size_t n);  /* rank 0's n bytes to every rank */
    int (*same)(void *ctx, uint64_t h, const char *what); /* an error unless every rank has h */
    /* optional (NULL: none): begin 1 before rank 0 works alone (writing the run's files), 0 after;
     * meanwhile the others, waiting for it, must not time out (attn_mpi_busy_begin / _end) */
    int (*busy)(void *ctx, int begin, const char *what);
    /* optional (NULL: `same` on a hash of the bytes): an error naming the first rank whose n
     * bytes of desc differ from rank 0's (attn_mpi_check_same) */
    int (*same_bytes)(void *ctx, const void *desc, size_t n, const char *what);
} attn_train_comm;

typedef enum attn_train_event_kind {
    ATTN_TRAIN_BEGIN = 0, /* before the first step (state: where the run starts; resumed or not) */
    ATTN_TRAIN_STEP = 1,  /* after each optimiser step */
    ATTN_TRAIN_EPOCH = 2, /* after an epoch's validation (files written) */
    ATTN_TRAIN_AVERAGE = 3, /* after the average of the last epochs was validated */
    ATTN_TRAIN_END = 4    /* the run is over (final_name set) */
} attn_train_event_kind;

typedef struct attn_train_event {
    attn_train_event_kind kind;
    int64_t step, epoch;      /* steps taken; epoch (0-based) the event belongs to */
    int64_t batch, batches;   /* STEP: batches done in this epoch, of */
    double loss;              /* STEP: the batch's loss; EPOCH: the epoch's mean training loss */
    double val_loss, metric;  /* EPOCH, AVERAGE: validation figures (NAN: none) */
    int best;                 /* EPOCH, AVERAGE: the best so far */
    int resumed;              /* BEGIN: continued from out_dir's run state */
    float lr;                 /* the last step's learning rate */
    double items_per_s;       /* training weight (tokens, examples) per second in this call */
    double elapsed_s;         /* since attn_train_run was called */
    const char *final_name;   /* END: "best.safetensors" or "average.safetensors" (or "model…") */
} attn_train_event;

/* Called on every event; a nonzero return stops the run at the end of that step, as a time limit
 * does (validated and saved). */
typedef int (*attn_train_progress_fn)(void *user, const attn_train_event *e);

typedef struct attn_train_config {
    const char *out_dir;       /* where the files go (created); NULL: nothing is written */
    int resume;                /* continue from out_dir/run.safetensors */
    int64_t epochs;            /* >= 1 */
    int64_t max_steps;         /* 0: no limit */
    double max_seconds;        /* 0: no limit; validation time is kept in reserve */
    attn_optim_config optim;
    attn_schedule schedule;    /* base_lr > 0 */
    int budget;                /* 1: lr = base_lr · linear warm-up · attn_budget_factor, the plan
                                * remade after each epoch from the clock and max_seconds */
    float clip;                /* gradient norm clip (0: none) */
    int average_last;          /* > 1: average the last N epochs' models (rank 0) */
    uint64_t data_hash;        /* of the training data: a resume on other data is refused */
    const char *metric_name;   /* its metrics.csv column ("val_bleu", "val_acc"); NULL: none */
    const char *items_name;    /* what the weights count ("tokens", "examples"); NULL: "items" */
    attn_train_progress_fn progress; /* may be NULL */
    void *progress_user;
    const attn_train_comm *comm;     /* NULL: one process */
} attn_train_config;

typedef struct attn_train_result {
    attn_run_state state;      /* at the end */
    double best_metric;        /* of the best epoch (or NAN without validation) */
    double final_metric;       /* of the final model */
    const char *final_name;    /* its file in out_dir */
    double seconds, items;     /* this call's time and training weight */
} attn_train_result;

/* Run (or resume) the training: see above. P is the model's table, t a tape (its RNG is saved
 * and restored with the run). res may be NULL. On return P holds the last epoch's model, or the
 * average when one was made. On an error nothing before the last complete save is lost: resume
 * continues from it. */
ATTN_API int attn_train_run(const attn_train_config *cfg, const attn_train_task *task, attn_params *P,
                            attn_tape *t, attn_train_result *res);

/* ---- tasks: a language model ------------------------------------------------------------------ */

/* A GPT trained on a token stream (characters or subwords) the way nanoGPT does it: each step
 * takes `batch` windows of context + 1 tokens at random places of the training stream, drawn
 * from (seed, step) — so a resumed run draws what an uninterrupted one would; each "epoch" is
 * eval_every steps, ending with the mean loss over eval_batches · batch fixed windows of the
 * validation stream (metric = minus that loss), or with eval_all the loss of the whole
 * validation stream as attn_lm_stream_loss gives it (every token once: what `attn eval lm`
 * prints on the same text). Under a communicator every rank takes a share of each step's windows. */
typedef struct attn_lm_task_config {
    int64_t batch, steps, eval_every, eval_batches;
    uint64_t seed;
    int eval_all; /* nonzero: validate on the whole stream, batch windows at a time */
} attn_lm_task_config;

typedef struct attn_lm_task attn_lm_task;
/* The streams are borrowed (alive as long as the task); each must be longer than the model's
 * context. */
ATTN_API int attn_lm_task_create(const attn_gpt *m, const int32_t *train, int64_t n_train,
                                 const int32_t *val, int64_t n_val, const attn_lm_task_config *c,
                                 attn_lm_task **out);
/* The task for attn_train_run (meta left NULL: set the tokenizer's and the model's), and its
 * length in cfg: max_steps = steps, and epochs enough for them. A period cut short (a time limit)
 * is validated where it stopped; the next one ends at the next multiple of eval_every. */
ATTN_API attn_train_task attn_lm_task_get(attn_lm_task *lt);
ATTN_API void attn_lm_task_configure(const attn_lm_task *lt, attn_train_config *cfg);
ATTN_API void attn_lm_task_free(attn_lm_task *lt);
/* The mean cross-entropy (nats per token) of a GPT over a whole stream, in consecutive windows
 * of the model's context (each token predicted once, from the window's earlier tokens), batch
 * windows at a time. */
ATTN_API int attn_lm_stream_loss(const attn_gpt *m, attn_tape *t, const int32_t *ids, int64_t n,
                                 int64_t batch, double *loss, int64_t *tokens);

/* ---- tasks: the date demo --------------------------------------------------------------------- */

/* The demo's task (attn/data.h's generated dates → ISO 8601) for an encoder–decoder Transformer
 * over the "chars-ascii" vocabulary (attn/text.h): step s takes examples s·batch .. (s+1)·batch
 * of the training split (dates outside the held-out class); every `period` steps the loss of the
 * first val_examples held-out dates is the validation (metric = minus it; 0 examples: none).
 * Under a communicator each rank takes a contiguous share of every batch. */
typedef struct attn_dates_task_config {
    int64_t batch, steps, period, val_examples;
    uint64_t seed; /* of the data stream */
} attn_dates_task_config;

typedef struct attn_dates_task attn_dates_task;
ATTN_API int attn_dates_task_create(const attn_seq2seq *m, const attn_dates_task_config *c,
                                    attn_dates_task **out);
/* The task for attn_train_run, and its length in cfg (max_steps = steps, epochs enough). */
ATTN_API attn_train_task attn_dates_task_get(attn_dates_task *dt);
ATTN_API void attn_dates_task_configure(const attn_dates_task *dt, attn_train_config *cfg);
ATTN_API void attn_dates_task_free(attn_dates_task *dt);
/* The metadata of a saved date model (NULL-terminated pairs in kv, strings in buf or constant):
 * the model's configuration, attn.arch = transformer-seq2seq, attn.task = dates,
 * attn.tokenizer = chars-ascii, attn.dates.seed = seed (the held-out dates are a function of
 * it). kv_cap ≥ 16 and cap > 24, else ATTN_E_ARG. */
ATTN_API int attn_dates_model_meta(const attn_seq2seq *m, uint64_t seed, char *buf, size_t cap, const char **kv,
                                   int kv_cap);
/* Example `index` of the training (heldout 0) or held-out (1) split of the stream `seed`. */
ATTN_API void attn_dates_example_of(uint64_t seed, int heldout, uint64_t index, attn_dates_example *ex);
/* Exact match of greedy translations of the first n held-out examples; show (may be NULL) sees
 * each one: its index, the example, the model's output and whether it is right. */
typedef void (*attn_dates_show_fn)(void *user, int64_t i, const attn_dates_example *ex, const char *hyp,
                                   int ok);
ATTN_API int attn_dates_exact_match(const attn_seq2seq *m, attn_tape *t, uint64_t seed, int64_t n,
                                    attn_dates_show_fn show, void *user, double *exact);

/* ---- tasks: translation ----------------------------------------------------------------------- */

/* An encoder–decoder (Transformer or GRU) on sentence pairs already turned into ids: each epoch
 * the pairs are cut into batches of similar lengths under batch_tokens (attn_batches_by_length,
 * jittered by seed and epoch) taken in a shuffled order; the loss is label-smoothed token
 * cross-entropy; validation is the plain cross-entropy over the validation pairs, and the metric
 * the caller's (BLEU through its tokenizer) or minus that loss. Under a communicator each rank
 * takes a contiguous share of every batch's pairs, weighed by target tokens. */
typedef struct attn_mt_pair {
    const int32_t *src, *tgt; /* src ends with EOS; tgt has neither BOS nor EOS */
    int64_t slen, tlen;
} attn_mt_pair;

typedef struct attn_mt_task_config {
    int64_t batch_tokens;
    uint64_t seed;
    float label_smoothing;
    int32_t bos, eos, pad;
    /* the validation metric (higher is better); NULL: minus the validation loss */
    int (*metric)(void *user, attn_tape *t, double *value);
    void *metric_user;
    /* a tied output layer: before every save, from's values are copied into to (its own tensor
     * in the file, so loaders need not know about tying); both NULL: none */
    attn_param *tie_copy_to;
    const attn_param *tie_copy_from;
} attn_mt_task_config;

typedef struct attn_mt_task attn_mt_task;
/* One of tf, gru; the pairs are borrowed and checked (ids within the vocabularies, lengths
 * within the model's max_len). */
ATTN_API int attn_mt_task_create(const attn_seq2seq *tf, const attn_gru_seq2seq *gru,
                                 const attn_mt_pair *train, int64_t n_train, const attn_mt_pair *val,
                                 int64_t n_val, const attn_mt_task_config *c, attn_mt_task **out);
ATTN_API attn_train_task attn_mt_task_get(attn_mt_task *mt);
ATTN_API void attn_mt_task_free(attn_mt_task *mt);
/* Free n pairs whose src and tgt were malloc'ed one by one (attn_mt_encode_pairs's), and the
 * array; NULL is a no-op. */
ATTN_API void attn_mt_pairs_free(attn_mt_pair *p, int64_t n);

/* A translation training run's settings (attn train translate): the model's (both
 * architectures'), the tokenizer's size and the optimiser's. */
typedef struct attn_mt_run_config {
    attn_seq2seq_config model;   /* the Transformer (vocabularies: the tokenizer's) */
    attn_gru_seq2seq_config gru; /* the GRU encoder–decoder */
    int vocab;                   /* SentencePiece pieces asked for */
    int epochs, avg_last;        /* avg_last: checkpoints averaged at the end (0: none) */
    int val_bleu_n;              /* validation sentences scored by greedy BLEU each epoch */
    int tie_output;              /* Transformer: output projection = target embedding */
    int budget_schedule;         /* linear decay to 0 when the time runs out (else inverse sqrt) */
    long batch_tokens, warmup;
    float lr, label_smoothing, clip, weight_decay;
    double max_minutes;          /* of the whole run (0: none) */
    uint64_t seed;
} attn_mt_run_config;

/* The defaults of attn train translate for the architecture (gru nonzero: the GRU; else the
 * Transformer: budget schedule, embedding scaled by √d, 60 minutes; the GRU: warm-up 200,
 * inverse square root, 90 minutes). */
ATTN_API void attn_mt_run_config_default(attn_mt_run_config *c, int gru);
/* Read the config file at path over c (attn_config_load). Keys: vocab dropout max_len (both
 * architectures) batch_tokens lr warmup epochs label_smoothing clip weight_decay max_minutes
 * avg_last val_bleu_sentences seed schedule (invsqrt|budget); the Transformer's d_model nhead
 * encoder_layers decoder_layers ff tie_output scale_embedding; the GRU's emb enc_hidden
 * enc_layers dec_hidden attn_size out_size. */
ATTN_API int attn_mt_run_config_load(const char *path, attn_mt_run_config *c, int *legacy);
/* The metadata that makes a translation checkpoint self-contained (NULL-terminated pairs in
 * kv, strings in buf or borrowed): one model's configuration (tf or gru), attn.arch, attn.task
 * = multi30k, attn.tokenizer = spm, attn.spm.model = tok_b64 (borrowed), and
 * attn.mt.tie_output = 1 when tied. kv_cap ≥ 18. */
ATTN_API int attn_mt_model_meta(const attn_seq2seq *tf, const attn_gru_seq2seq *gru, const char *tok_b64, int tied,
                                char *buf, size_t cap, const char **kv, int kv_cap);

/* ---- tasks: classification ------------------------------------------------------------------- */

/* Labelled token-id sequences (the caller tokenizes: reviews through SentencePiece, say):
 * sequence i is ids[off[i] .. off[i + 1]), already cut to the model's max_len, its class
 * label[i] in [0, num_classes). */
typedef struct attn_cls_data {
    int64_t n;
    int64_t *off;   /* [n + 1], off[0] = 0 */
    int32_t *ids;
    int32_t *label; /* [n] */
} attn_cls_data;

/* Release the arrays of a set built by its owner with malloc (off, ids, label) and zero it;
 * NULL is a no-op. */
ATTN_API void attn_cls_data_free(attn_cls_data *d);
/* A checksum of the set (attn_hash64 over off, ids and label, in that order, as stored): a
 * resumed run refuses other data by it. NULL or an empty struct: ATTN_HASH64_INIT. */
ATTN_API uint64_t attn_cls_data_hash(const attn_cls_data *d);

/* The order of epoch `epoch` (0-based) for batches of `batch` sequences: shuffled, sorted by
 * length (then index) within chunks of 50 batches so that a batch holds sequences of similar
 * length, then the batches shuffled (batch b is order[b · batch ..], the last one may be short).
 * A function of (seed, epoch) only. The draws: SplitMix64's output fed back as its state,
 * started from seed · 1000003 + epoch (the orders attn train classify has always used). */
ATTN_API int attn_cls_epoch_order(const attn_cls_data *d, int64_t batch, uint64_t seed, int64_t epoch,
                                  int64_t *order);

typedef struct attn_cls_task_config {
    int64_t batch;         /* sequences per optimiser step */
    float label_smoothing; /* of the training and the validation loss, in [0, 1] */
    uint64_t seed;         /* of the epoch orders */
    int64_t eval_batch;    /* sequences per validation forward (0: 64) */
} attn_cls_task_config;

/* A Transformer-encoder classifier trained on labelled sequences: each epoch is
 * attn_cls_epoch_order's batches; a batch's loss is the mean label-smoothed cross-entropy over
 * its sequences (weight: sequences), under a communicator each rank taking a contiguous share of
 * every batch; validation gives metric = accuracy (the most probable class, the first of equals)
 * and loss = the mean label-smoothed cross-entropy. Without validation sequences (val NULL or
 * empty) the task has no validate: the last model is the run's final one. */
typedef struct attn_cls_task attn_cls_task;
/* The model and both sets are borrowed (alive as long as the task); every sequence is checked
 * (lengths, tokens, labels) here. */
ATTN_API int attn_cls_task_create(const attn_classifier *m, const attn_cls_data *train, const attn_cls_data *val,
                                  const attn_cls_task_config *c, attn_cls_task **out);
/* The task for attn_train_run (meta left NULL: set the tokenizer's and the model's). */
ATTN_API attn_train_task attn_cls_task_get(attn_cls_task *ct);
/* Batches (optimiser steps) per epoch: ceil(training sequences / batch). */
ATTN_API int64_t attn_cls_task_batches(const attn_cls_task *ct);
ATTN_API void attn_cls_task_free(attn_cls_task *ct);

/* Class probabilities probs [d->n, num_classes] (softmax of the logits, training mode off
 * meanwhile) of every sequence of d, batch sequences of similar length at a time; labels are not
 * read. */
ATTN_API int attn_classifier_predict(const attn_classifier *m, attn_tape *t, const attn_cls_data *d,
                                     int64_t batch, float *probs);

/* How predictions score against labels: the predicted class is the most probable (the first of
 * equals). Precision, recall and F1 of a class are 0 where undefined (no prediction, no example). */
typedef struct attn_cls_report {
    int64_t n, classes;
    double accuracy;
    int64_t *confusion;              /* [classes · classes]: row = true class, column = predicted */
    int64_t *support;                /* [classes]: examples of each true class */
    double *precision, *recall, *f1; /* [classes] */
} attn_cls_report;
/* probs [n, classes] (attn_classifier_predict's), label [n] in [0, classes). Free the report
 * with attn_cls_report_free. */
ATTN_API int attn_cls_evaluate(const float *probs, const int32_t *label, int64_t n, int64_t classes,
                               attn_cls_report *r);
ATTN_API void attn_cls_report_free(attn_cls_report *r);

/* ---- a text-classification run: settings and the saved model's metadata ------------------ */

/* A training run's settings (attn train classify): the model's and the optimiser's. The JSON
 * config file names them by these field names (configs/imdb.json), the model's as
 * d_model nhead num_layers dim_feedforward max_len dropout activation (relu|gelu)
 * pooling (mean|first) norm (post|pre). */
typedef struct attn_cls_run_config {
    attn_classifier_config model; /* vocab: the tokenizer's, set when it is trained */
    int vocab_size;               /* tokenizer pieces asked for */
    int64_t tokenizer_reviews;    /* reviews the tokenizer is trained on (0: all) */
    int64_t head_tokens;          /* kept from the start of a long review; the rest from its end */
    int64_t batch_size;
    int epochs;
    int64_t max_steps;            /* stop after this many steps (0: epochs decide) */
    float lr, min_lr_ratio, weight_decay, label_smoothing, clip;
    double warmup_fraction;
    double val_fraction;
    int64_t max_train;            /* use the first n training reviews only (0: all) */
    uint64_t seed;
    int log_every;                /* of old config files: read, not used (warn when nonzero) */
} attn_cls_run_config;

/* The defaults of attn train classify (a 2-layer, 128-wide pre-norm encoder, mean pooling,
 * a 16,000-piece tokenizer, 2 epochs of batches of 32 at lr 1e-3). */
ATTN_API void attn_cls_run_config_default(attn_cls_run_config *c);
/* Read the config file at path over c (attn_config_load: unknown keys, wrong types and values
 * out of range are ATTN_E_FORMAT naming the key); also ATTN_E_FORMAT when d_model is not a
 * multiple of nhead or head_tokens > max_len. *legacy as attn_config_load's. */
ATTN_API int attn_cls_run_config_load(const char *path, attn_cls_run_config *c, int *legacy);

/* The metadata a saved text classifier carries, NULL-terminated key/value pairs in kv (strings
 * in buf or borrowed): the model's configuration, attn.arch = transformer-classifier,
 * attn.task = imdb, attn.labels, attn.tokenizer = sentencepiece, attn.tokenizer.model =
 * tok_b64 (the SentencePiece model in base64, borrowed), attn.truncate.head = head_tokens.
 * kv_cap ≥ 16 and cap > 32, else ATTN_E_ARG. */
ATTN_API int attn_cls_model_meta(const attn_classifier *m, const char *tok_b64, int64_t head_tokens, char *buf,
                                 size_t cap, const char **kv, int kv_cap);

/* ---- a fingerprint of the run state ----------------------------------------------------------- */

/* attn_hash64 of the parameters (names, sizes, values), the optimiser's moments and step count
 * (o may be NULL) and every counter of s (may be NULL): equal states give equal values, bit for
 * bit. For checking that the ranks of a job resumed the same state (attn_mpi_check_same_u64);
 * reads every float once (about a second per GB). */
ATTN_API uint64_t attn_run_state_hash(const attn_params *P, attn_optim *o, const attn_run_state *s);


/* ---- task runs: from a data path to the final model in one call (runs) ----------------------- */

/* A task's run entry point (attn_cls_run, attn_mt_run, attn_lm_run in libattn_text, attn_dates_run
 * here) loads the data, learns or resumes the tokenizer, encodes, creates the model, tape and task
 * and calls attn_train_run. Before the training starts it reports its stages through hooks->stage
 * in this order (each at most once), with the run's result struct filled up to that stage, so a
 * caller can print what it did while the run goes on. */
typedef enum attn_run_stage {
    ATTN_RUN_TOKENIZER_BEGIN = 0, /* a tokenizer is about to be learned (not on a resume) */
    ATTN_RUN_TOKENIZER = 1,       /* it is learned */
    ATTN_RUN_DATA = 2,            /* the data is encoded (the result's counts are set) */
    ATTN_RUN_MODEL = 3            /* model, tape and task are made: attn_train_run comes next */
} attn_run_stage;

typedef struct attn_run_hooks {
    attn_train_progress_fn progress; /* the trainer's events (attn_train_config.progress); may be NULL */
    /* may be NULL; a nonzero return stops the run before training with that status (a negative
     * ATTN_E_* code; anything else becomes ATTN_E_STATE) */
    int (*stage)(void *user, attn_run_stage stage);
    void *user;                  /* passed to both */
    const attn_train_comm *comm; /* NULL: one process; else every rank calls with the same arguments,
                                  * rank 0 alone learns the tokenizer (then sent to the others) and
                                  * writes the files */
    int threads;                 /* the tape's threads (0: the library's default) */
} attn_run_hooks;

/* Rank 0's bytes to every rank through c (NULL or one rank: nothing to do): on rank 0 *data and
 * *n are read; on the others *data receives a malloc'ed copy (the caller frees it; NULL after a
 * failure, and when rank 0 sent 0 bytes) and *n its length. */
ATTN_API int attn_train_comm_share(const attn_train_comm *c, void **data, size_t *n);
/* An error (ATTN_E_STATE, naming the first rank that differs) unless every rank passes the same
 * n bytes of desc (its configuration written out); c NULL or one rank: ATTN_OK. */
ATTN_API int attn_train_comm_check_same(const attn_train_comm *c, const void *desc, size_t n, const char *what);
/* hooks->stage(hooks->user, s) when there is one, its nonzero return turned into a status as
 * attn_run_hooks says; hooks NULL: ATTN_OK. */
ATTN_API int attn_run_hooks_stage(const attn_run_hooks *hooks, attn_run_stage s);

/* A language-model run's settings (attn train lm): the GPT's (vocab: the tokenizer's), the
 * task's (attn_lm_task_config) and the optimiser's. */
typedef struct attn_lm_run_config {
    attn_gpt_config model;
    attn_lm_task_config task;
    int64_t warmup;
    float lr, min_lr_ratio, weight_decay, clip;
    double minutes; /* wall-time limit (0: none) */
    int budget;     /* the learning rate falls linearly to 0 over the minutes (attn_budget_factor) */
    int bpe;        /* tokenizer: 0 characters (the text's distinct bytes), 1 a SentencePiece BPE */
    int vocab;      /* BPE pieces at most (> 260) */
} attn_lm_run_config;
/* 30 minutes of wall time (configs/lm_shakespeare.json): 4 layers, 6 heads, 192 wide, context
 * 128, batch 16, validation every 250 steps of 20 batches, lr 1.5e-3 (warm-up 100, then the
 * budget schedule: linear to 0 over the minutes), weight decay 0.1, no dropout, seed 1337; a BPE
 * would have 1,024 pieces. nanoGPT's CPU configuration is configs/lm_nanogpt_cpu.json. */
ATTN_API void attn_lm_run_config_default(attn_lm_run_config *c);
/* Read the config file at path over c (attn_config_load). Keys: tokenizer (chars|bpe) vocab
 * eval_all n_layer n_head d_model context dropout batch steps warmup eval_every eval_batches lr
 * min_lr_ratio weight_decay clip seed minutes budget. */
ATTN_API int attn_lm_run_config_load(const char *path, attn_lm_run_config *c, int *legacy);

/* The date demo's run (attn demo): an encoder–decoder Transformer c->model (vocabularies:
 * chars-ascii) on attn_dates_task with AdamW (0.9, 0.98, 1e-9, decay 0.01), warm-up 100 steps
 * then cosine to 2 % over `steps`, clip 1, a validation, a metrics.csv row and a save every
 * `period` steps in out_dir. Everything is a function of the seed: the same seed and threads give
 * the same run, bit for bit, resumed or not. */
typedef struct attn_dates_run_config {
    attn_seq2seq_config model;
    attn_dates_task_config task; /* batch, steps, period, val_examples, seed (also the weights') */
    float lr;
} attn_dates_run_config;
typedef struct attn_dates_run_result {
    int64_t params;           /* ATTN_RUN_MODEL */
    attn_train_result train;
} attn_dates_run_result;
/* The model is returned in *model (the caller frees it with attn_seq2seq_free; may be NULL: freed
 * here) and the tape, with the run's dropout stream, in *tape (may be NULL likewise). */
ATTN_API int attn_dates_run(const attn_dates_run_config *c, const char *out_dir, int resume,
                            const attn_run_hooks *hooks, attn_dates_run_result *res, attn_seq2seq **model,
                            attn_tape **tape);

#ifdef __cplusplus
}
#endif
#endif /* ATTN_TRAIN_H */
