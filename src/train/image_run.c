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
