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

/* ---- averaging and the final model ------------------------------------------------------------ */

/* P = the mean of the parameters stored in n checkpoint files (each must hold every parameter of
 * P with its shape). */
ATTN_API int attn_params_average_files(attn_params *P, const char *const *paths, int n);

/* ---- a fingerprint of the run state ----------------------------------------------------------- */

/* attn_hash64 of the parameters (names, sizes, values), the optimiser's moments and step count
 * (o may be NULL) and every counter of s (may be NULL): equal states give equal values, bit for
 * bit. For checking that the ranks of a job resumed the same state (attn_mpi_check_same_u64);
 * reads every float once (about a second per GB). */
ATTN_API uint64_t attn_run_state_hash(const attn_params *P, attn_optim *o, const attn_run_state *s);

#ifdef __cplusplus
}
#endif
#endif /* ATTN_TRAIN_H */
