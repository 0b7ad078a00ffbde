/*
 * attn/image.h — image classification with a Vision Transformer (attn_vit, attn/models.h) on an
 * image set (attn_image_set, attn/data.h): the training task (validation split, augmentation,
 * batches, loss, validation accuracy), a whole training run (run state and exact resume, best
 * checkpoint, metrics.csv, data-parallel through a caller's communicator), checkpoints that
 * carry the model and its pixel normalisation, evaluation (accuracy, per-class precision and
 * recall, confusion matrix), prediction and the class token's attention for pictures.
 *
 * A C program trains a ViT on Fashion-MNIST with:
 *   attn_image_set *s;  attn_fashion_mnist_load(NULL, "train", &s);
 *   attn_image_train_config c;  attn_image_train_defaults(&c);
 *   attn_image_train_run(&c, s, "runs/vit", 0, NULL, NULL, NULL, &result);
 * or, step by step, attn_image_task_create + attn_image_task_get/configure + attn_train_run.
 */
#ifndef ATTN_IMAGE_H
#define ATTN_IMAGE_H

#include "attn/analysis.h"
#include "attn/data.h"
#include "attn/models.h"
#include "attn/nn.h"
#include "attn/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the training configuration ------------------------------------------------------------- */

typedef struct attn_image_train_config {
    attn_vit_config model; /* image_size, channels and num_classes must match the data */
    int64_t batch;         /* images per optimiser step (global, over all ranks) */
    int64_t epochs;        /* passes over the training part (the last partial batch dropped) */
    int64_t val_size;      /* images carved from the END of the training set for validation */
    int64_t warmup_steps;  /* linear warm-up, then cosine decay to lr · min_lr_ratio */
    int64_t eval_every;    /* steps between validations (0: at each epoch's end) */
    float lr, min_lr_ratio, weight_decay, clip, label_smoothing;
    int pad;               /* random crop from the image padded by pad pixels (0: none) */
    int hflip;             /* random horizontal flips */
    uint64_t seed;         /* model initialisation, epoch orders, augmentation, dropout */
    int average_last;      /* > 1: also average the last N epochs' models; the final model is
                            * the better of the best epoch and the average on validation */
    double minutes;        /* > 0: a wall-time budget: training stops when it is spent, and the
                            * learning rate, after warm-up, falls linearly to 0 over it (the
                            * trainer's budget schedule) instead of the cosine over the epochs */
} attn_image_train_config;

/* The default configuration: 28×28×1 images, 10 classes, patch 7 (16 patches), a class token,
 * learned positions, d 64, 6 layers, 4 heads, feed-forward 128, GELU, no dropout; batch 128,
 * 36 epochs (15,444 steps on 55,000 images), validation 5,000 images, AdamW lr 2e-3 (warm-up
 * 500 steps, cosine to 1 %), weight decay 0.05, clipping at 1, label smoothing 0.1, crop
 * padding 2 and flips. Chosen on the validation split (README: the measurements and what is
 * still unmeasured). */
ATTN_API void attn_image_train_defaults(attn_image_train_config *c);
/* Read the config file at path over c (attn_config_load; *legacy as its). Keys: patch d_model
 * heads layers ff dropout pool (cls|mean) pos (learned|sincos) batch epochs val_size warmup
 * eval_every lr min_lr_ratio weight_decay clip label_smoothing pad hflip seed, and
 * train_images (the first n training images only; 0: all) into *train_images when that is not
 * NULL (else the key is unknown). */
ATTN_API int attn_image_train_config_load(const char *path, attn_image_train_config *c, int64_t *train_images,
                                          int *legacy);
/* ATTN_E_ARG naming the first field out of range (or not matching the data when s is given). */
ATTN_API int attn_image_train_check(const attn_image_train_config *c, const attn_image_set *s);

/* ---- the task for attn_train_run (attn/train.h) ---------------------------------------------- */

typedef struct attn_image_task attn_image_task;
/* Split s (not copied: it must outlive the task) into a training part, images
 * [0, n − val_size), and a validation part, the last val_size; the normalisation (mean and std
 * of the training part's pixels, scaled to [0, 1]) is measured here. m is the model trained
 * (borrowed). */
ATTN_API int attn_image_task_create(const attn_image_train_config *c, const attn_image_set *s,
                                    const attn_vit *m, attn_image_task **out);
ATTN_API void attn_image_task_free(attn_image_task *t);
ATTN_API int64_t attn_image_task_steps_per_epoch(const attn_image_task *t);
ATTN_API void attn_image_task_normalization(const attn_image_task *t, float *mean, float *std);
/* The images of global step `step`, slice [first, first + count) of its batch, augmented and
 * normalised, into x [count, C, H, W] and labels y [count]. Batch b of data epoch e is positions
 * b·B .. (b+1)·B − 1 of attn_permutation(n_train, seed, e), step = e · steps_per_epoch + b; the
 * augmentation draws from (seed + 1, step), image by image, so a batch does not depend on how it
 * is split between ranks, and a resumed run sees exactly the batches of an uninterrupted one. */
ATTN_API int attn_image_task_batch(const attn_image_task *t, int64_t step, int64_t first,
                                   int64_t count, float *x, int32_t *y);
/* Mean cross-entropy (with the configured label smoothing) of the model on that slice, on tape
 * tp (reset first). */
ATTN_API int attn_image_task_loss(attn_image_task *t, attn_tape *tp, int64_t step, int64_t first,
                                  int64_t count, attn_var **loss);
/* Accuracy and mean cross-entropy (loss may be NULL; no label smoothing) of the model on the
 * validation part (evaluation mode, the tape's mode restored). */
ATTN_API int attn_image_task_validate(attn_image_task *t, attn_tape *tp, double *accuracy,
                                      double *loss);
/* The task's callbacks for attn_train_run: a trainer "epoch" is eval_every steps (or one pass
 * over the training part when eval_every is 0), each batch this rank's equal share of the
 * global batch (weight = its images), validation = accuracy on the validation part; meta: the
 * image model's metadata (attn_image_model_meta), so that every file written is an image
 * model. */
ATTN_API attn_train_task attn_image_task_get(attn_image_task *t);
/* cfg's epochs, optimiser (AdamW), schedule (warm-up, cosine), clip, data hash (of the images,
 * the labels and every field of the configuration, so a resume under another configuration is
 * refused), metric name ("val_acc") and items name ("images"). */
ATTN_API void attn_image_task_configure(const attn_image_task *t, attn_train_config *cfg);

/* ---- the whole run ---------------------------------------------------------------------------- */

/* Create the model (seed), the tape and the task, and run attn_train_run in out_dir (created if
 * missing): run.safetensors (the run state, at every validation), model.safetensors (the
 * latest), best.safetensors (the best validation accuracy), metrics.csv. resume: continue from
 * run.safetensors, bit-identical to an uninterrupted run. comm NULL: one process (libattn_mpi's
 * attn_mpi_train_comm for mpirun; batch divisible by the ranks). progress may be NULL. */
ATTN_API int attn_image_train_run(const attn_image_train_config *c, const attn_image_set *s,
                                  const char *out_dir, int resume, const attn_train_comm *comm,
                                  attn_train_progress_fn progress, void *progress_user,
                                  attn_train_result *result);

/* ---- trained models --------------------------------------------------------------------------- */

/* A ViT with the normalisation it was trained with and its class names (metadata
 * "attn.image.mean", "attn.image.std", "attn.image.labels" = names joined by ','). */
typedef struct attn_image_model {
    attn_vit *vit;
    float mean, std;
    int64_t classes;
    char **labels; /* [classes]; "0", "1", … when the checkpoint names none */
} attn_image_model;

/* The metadata a checkpoint of m needs (config, arch "vit", normalisation, labels), as a
 * NULL-terminated key, value list in kv [kv_cap] whose strings live in buf [cap]. */
ATTN_API int attn_image_model_meta(const attn_vit *m, float mean, float std, const char *labels,
                                   char *buf, size_t cap, const char **kv, int kv_cap);
/* Open a checkpoint written by attn_image_train_run (or any with that metadata). */
ATTN_API int attn_image_model_load(const char *path, attn_image_model **out);
ATTN_API void attn_image_model_free(attn_image_model *m);
/* Class probabilities probs [N, classes] (may be NULL) and predictions pred [N] (may be NULL) of
 * uint8 images [N, C, S, S], in batches of 256, evaluation mode. */
ATTN_API int attn_image_model_predict(const attn_image_model *m, const uint8_t *pixels, int64_t N,
                                      int32_t *pred, float *probs);

/* The attention of the class token (or, under mean pooling, the mean over the patches' rows)
 * to each patch, for one image: per layer and head maps [layers, heads, grid, grid], and the
 * attention rollout (Abnar & Zuidema 2020, heads averaged, residual added, attn/analysis.h)
 * through all layers, rollout [grid, grid]; each map sums to 1 over the patches (the class
 * token's share of itself left out and the rest rescaled). */
ATTN_API int attn_image_model_attention(const attn_image_model *m, const uint8_t *pixels,
                                        float *maps, float *rollout);

/* ---- the attention of one image, as a view (what `attn viz --image` shows) --------------------
 * Tokens "[cls]" (with a class token) and "r<row>c<col>" for the patches; every layer's
 * self-attention [heads, T, T] as ATTN_ATTENTION_CLASSIFIER_SELF, recorded on a forward of the
 * one image (pixels [S, S], grayscale models only: ATTN_E_ARG otherwise); the image with its
 * per-head patch maps and rollout (attn_image_model_attention). title may be NULL. *out: the
 * caller's, freed with attn_attention_view_free (NULL on failure). */
ATTN_API int attn_image_attention_view(const attn_image_model *m, const uint8_t *pixels,
                                       const char *title, attn_attention_view **out);

/* ---- evaluation --------------------------------------------------------------------------- */

typedef struct attn_image_eval {
    int64_t n, classes, correct;
    double accuracy;
    int64_t *confusion;   /* [classes, classes]: row = true class, column = predicted */
    double *precision;    /* [classes] (NaN for a class never predicted) */
    double *recall;       /* [classes] (NaN for a class absent from the data) */
    double macro_precision, macro_recall; /* their means over the classes where defined (runs) */
} attn_image_eval;
ATTN_API int attn_image_evaluate(const attn_image_model *m, const attn_image_set *s,
                                 attn_image_eval *out);
ATTN_API void attn_image_eval_free(attn_image_eval *e);

#ifdef __cplusplus
}
#endif
#endif /* ATTN_IMAGE_H */
