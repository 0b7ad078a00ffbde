/* image_run.c — attn_image_train_run: a ViT trained on an image set in a few calls — the model,
 * the tape and the image task (image_task.c) handed to the library's trainer (attn_train_run). */
#include "internal.h"

#include "attn/image.h"
#include "attn/train.h"

int attn_image_train_run(const attn_image_train_config *c, const attn_image_set *s,
                         const char *out_dir, int resume, const attn_train_comm *comm,
                         attn_train_progress_fn progress, void *progress_user,
                         attn_train_result *result)
{
    static const char fn[] = "attn_image_train_run";
    ATTN_REQUIRE_NONNULL(fn, c);
    ATTN_REQUIRE_NONNULL(fn, s);
    ATTN_TRY(attn_image_train_check(c, s));
    attn_vit *m = NULL;
    attn_tape *tp = NULL;
    attn_image_task *task = NULL;
    int st = attn_vit_create(&c->model, c->seed, &m);
    const attn_tape_config tc = {.seed = c->seed ^ 0x5eedull};
    if (st == ATTN_OK) st = attn_tape_create(&tc, &tp);
    if (st == ATTN_OK) st = attn_image_task_create(c, s, m, &task);
    if (st == ATTN_OK) {
        attn_train_task tk = attn_image_task_get(task);
        attn_train_config cfg = {.out_dir = out_dir, .resume = resume, .comm = comm,
                                 .progress = progress, .progress_user = progress_user};
        attn_image_task_configure(task, &cfg);
        st = attn_train_run(&cfg, &tk, m->P, tp, result);
    }
    attn_image_task_free(task);
    attn_tape_free(tp);
    attn_vit_free(m);
    return st;
}

int attn_image_train_config_load(const char *path, attn_image_train_config *c, int64_t *train_images, int *legacy)
{
    if (legacy) *legacy = 0;
    ATTN_REQUIRE_NONNULL("attn_image_train_config_load", c);
    static const char *const pools[] = {"cls", "mean", NULL}, *const poss[] = {"learned", "sincos", NULL};
    static const int pool_v[] = {ATTN_POOL_FIRST, ATTN_POOL_MEAN}, pos_v[] = {ATTN_VIT_POS_LEARNED, ATTN_VIT_POS_SINCOS};
    int pool = (int)c->model.pooling, pos = (int)c->model.pos;
    const attn_config_field f[] = {
        {"patch", ATTN_CONFIG_I64, &c->model.patch_size, 1, 4096, NULL, NULL},
        {"d_model", ATTN_CONFIG_I64, &c->model.d_model, 1, 4096, NULL, NULL},
        {"heads", ATTN_CONFIG_I64, &c->model.nhead, 1, 256, NULL, NULL},
        {"layers", ATTN_CONFIG_I64, &c->model.num_layers, 1, 256, NULL, NULL},
        {"ff", ATTN_CONFIG_I64, &c->model.dim_feedforward, 1, 65536, NULL, NULL},
        {"dropout", ATTN_CONFIG_FLOAT, &c->model.dropout, 0, 0.9, NULL, NULL},
        {"pool", ATTN_CONFIG_CHOICE, &pool, 0, 0, pools, pool_v},
        {"pos", ATTN_CONFIG_CHOICE, &pos, 0, 0, poss, pos_v},
        {"batch", ATTN_CONFIG_I64, &c->batch, 1, 65536, NULL, NULL},
        {"epochs", ATTN_CONFIG_I64, &c->epochs, 1, 100000, NULL, NULL},
        {"val_size", ATTN_CONFIG_I64, &c->val_size, 1, 1e9, NULL, NULL},
        {"warmup", ATTN_CONFIG_I64, &c->warmup_steps, 0, 1e9, NULL, NULL},
        {"eval_every", ATTN_CONFIG_I64, &c->eval_every, 0, 1e9, NULL, NULL},
        {"lr", ATTN_CONFIG_FLOAT, &c->lr, 0, 10, NULL, NULL},
        {"min_lr_ratio", ATTN_CONFIG_FLOAT, &c->min_lr_ratio, 0, 1, NULL, NULL},
        {"weight_decay", ATTN_CONFIG_FLOAT, &c->weight_decay, 0, 10, NULL, NULL},
        {"clip", ATTN_CONFIG_FLOAT, &c->clip, 0, 1e9, NULL, NULL},
        {"label_smoothing", ATTN_CONFIG_FLOAT, &c->label_smoothing, 0, 0.99, NULL, NULL},
        {"pad", ATTN_CONFIG_INT, &c->pad, 0, 64, NULL, NULL},
        {"hflip", ATTN_CONFIG_BOOL, &c->hflip, 0, 1, NULL, NULL},
        {"seed", ATTN_CONFIG_U64, &c->seed, 0, 9007199254740992.0, NULL, NULL},
        {"average_last", ATTN_CONFIG_INT, &c->average_last, 0, 1000, NULL, NULL},
        {"minutes", ATTN_CONFIG_DOUBLE, &c->minutes, 0, 1e7, NULL, NULL},
        {"train_images", ATTN_CONFIG_I64, train_images, 0, 1e9, NULL, NULL}, /* last: left out when NULL */
    };
    const int n = (int)(sizeof f / sizeof f[0]) - (train_images == NULL);
    int st = attn_config_load(path, f, n, legacy);
    if (st == ATTN_OK) {
        c->model.pooling = (attn_pooling)pool;
        c->model.pos = (attn_vit_pos)pos;
    }
    return st;
}
