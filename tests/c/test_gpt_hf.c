/* test_gpt_hf.c — attn_gpt's GPT-2 options and the Hugging Face loader's argument and file
 * errors that need no checkpoint (tests/py/test_gpt2_hf.py checks real ones against PyTorch). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attn.h"

Test(gpt_hf, config_defaults_and_checks)
{
    attn_gpt *g = NULL;
    attn_gpt_config c = {.vocab = 10, .context = 8, .n_layer = 1, .n_head = 2, .d_model = 16};
    cr_assert_eq(attn_gpt_create(&c, 0, &g), ATTN_OK, "%s", attn_last_error());
    cr_expect_float_eq(g->cfg.layer_norm_eps, 1e-5f, 1e-12);
    cr_expect_eq(g->cfg.d_ff, 64);
    cr_expect_eq(g->cfg.gelu_tanh, 0);
    cr_expect_eq(g->h[0].cfg.activation, ATTN_ACT_GELU);
    cr_expect_not_null(attn_params_find(g->P, "h.0.linear1.weight"));
    cr_expect_eq(attn_params_find(g->P, "h.0.linear1.weight")->shape[0], 64);
    attn_gpt_free(g);
    c.gelu_tanh = 1;
    c.d_ff = 24;
    c.layer_norm_eps = 1e-3f;
    cr_assert_eq(attn_gpt_create(&c, 0, &g), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(g->h[0].cfg.activation, ATTN_ACT_GELU_TANH);
    cr_expect_eq(attn_params_find(g->P, "h.0.linear1.weight")->shape[0], 24);
    cr_expect_float_eq(g->ln_f.eps, 1e-3f, 1e-12);
    attn_gpt_free(g);
    attn_gpt_config bad[3] = {c, c, c};
    bad[0].gelu_tanh = 2;
    bad[1].d_ff = -1;
    bad[2].layer_norm_eps = -1e-5f;
    for (int i = 0; i < 3; i++) {
        g = (attn_gpt *)1;
        cr_expect_eq(attn_gpt_create(&bad[i], 0, &g), ATTN_E_ARG);
        cr_expect_null(g);
        cr_expect(strstr(attn_last_error(), "gelu_tanh") != NULL, "%s", attn_last_error());
    }
}

Test(gpt_hf, load_errors)
{
    attn_gpt *g = (attn_gpt *)1;
    cr_expect_eq(attn_gpt_load_hf(NULL, &g), ATTN_E_ARG);
    cr_expect_null(g);
    cr_expect_eq(attn_gpt_load_hf("/tmp", NULL), ATTN_E_ARG);
    cr_expect_eq(attn_gpt_load_hf("/nonexistent/gpt2", &g), ATTN_E_IO);
    cr_expect(strstr(attn_last_error(), "/nonexistent/gpt2/config.json") != NULL);
    char dir[] = "/tmp/attn_gpt_hf_XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/config.json", dir);
    /* a valid config without weights: the safetensors file is named */
    FILE *f = fopen(path, "w");
    fputs("{\"n_embd\": 8, \"n_head\": 2, \"n_layer\": 1, \"n_positions\": 4, \"vocab_size\": 5}", f);
    fclose(f);
    cr_expect_eq(attn_gpt_load_hf(dir, &g), ATTN_E_IO);
    cr_expect(strstr(attn_last_error(), "model.safetensors") != NULL, "%s", attn_last_error());
    /* a config missing a field */
    f = fopen(path, "w");
    fputs("{\"n_embd\": 8, \"n_head\": 2, \"n_layer\": 1, \"vocab_size\": 5}", f);
    fclose(f);
    cr_expect_eq(attn_gpt_load_hf(dir, &g), ATTN_E_FORMAT);
    cr_expect(strstr(attn_last_error(), "n_ctx") != NULL, "%s", attn_last_error());
    f = fopen(path, "w");
    fputs("[1, 2]", f);
    fclose(f);
    cr_expect_eq(attn_gpt_load_hf(dir, &g), ATTN_E_FORMAT);
    unlink(path);
    rmdir(dir);
}

/* HF name of attn parameter `ours` (h.<i>.<rest> or a top-level name) and whether it is a
 * Conv1D weight; NULL when it has none. */
static const char *hf_of(const char *ours, char *buf, size_t cap, int *conv1d)
{
    static const char *const map[][2] = {
        {"norm1.weight", "ln_1.weight"}, {"norm1.bias", "ln_1.bias"},
        {"self_attn.in_proj_weight", "attn.c_attn.weight"}, {"self_attn.in_proj_bias", "attn.c_attn.bias"},
        {"self_attn.out_proj.weight", "attn.c_proj.weight"}, {"self_attn.out_proj.bias", "attn.c_proj.bias"},
        {"norm2.weight", "ln_2.weight"}, {"norm2.bias", "ln_2.bias"},
        {"linear1.weight", "mlp.c_fc.weight"}, {"linear1.bias", "mlp.c_fc.bias"},
        {"linear2.weight", "mlp.c_proj.weight"}, {"linear2.bias", "mlp.c_proj.bias"}};
    *conv1d = 0;
    if (strncmp(ours, "h.", 2) != 0) {
        snprintf(buf, cap, "transformer.%s", ours);
        return buf;
    }
    const char *rest = strchr(ours + 2, '.') + 1;
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
        if (strcmp(rest, map[k][0]) == 0) {
            snprintf(buf, cap, "transformer.%.*s%s", (int)(rest - ours), ours, map[k][1]);
            *conv1d = strstr(map[k][1], ".weight") && strncmp(map[k][1], "ln_", 3) != 0;
            return buf;
        }
    return NULL;
}

/* A model written out under HF's names and layout loads back as the same model: every
 * parameter bit-identical and the same logits. (Leak and bounds checks under ASan too.) */
Test(gpt_hf, round_trip_of_an_attn_model)
{
    attn_gpt_config c = {.vocab = 11, .context = 6, .n_layer = 2, .n_head = 2, .d_model = 8,
                         .gelu_tanh = 1, .d_ff = 12, .layer_norm_eps = 1e-4f};
    attn_gpt *a = NULL, *b = NULL;
    cr_assert_eq(attn_gpt_create(&c, 7, &a), ATTN_OK, "%s", attn_last_error());
    /* LayerNorm gains and biases away from 1 and 0, so a swap would show */
    for (int i = 0; i < attn_params_count(a->P); i++) {
        attn_param *p = attn_params_at(a->P, i);
        for (int64_t k = 0; k < p->numel; k++) p->data[k] += 0.01f * (float)((k * 7 + i) % 13);
    }
    char dir[] = "/tmp/attn_gpt_rt_XXXXXX", path[64], name[160];
    cr_assert_not_null(mkdtemp(dir));
    attn_st_writer *w = NULL;
    cr_assert_eq(attn_st_writer_create(&w), ATTN_OK);
    int n = attn_params_count(a->P);
    float **bufs = calloc((size_t)n, sizeof *bufs);
    for (int i = 0; i < n; i++) {
        attn_param *p = attn_params_at(a->P, i);
        int conv1d;
        cr_assert_not_null(hf_of(p->name, name, sizeof name, &conv1d), "%s", p->name);
        int64_t shape[2] = {p->shape[0], p->ndim > 1 ? p->shape[1] : 0};
        const float *data = p->data;
        if (conv1d) { /* [out, in] → Conv1D [in, out] */
            bufs[i] = malloc((size_t)p->numel * sizeof(float));
            for (int64_t r = 0; r < p->shape[0]; r++)
                for (int64_t k = 0; k < p->shape[1]; k++)
                    bufs[i][k * p->shape[0] + r] = p->data[r * p->shape[1] + k];
            shape[0] = p->shape[1];
            shape[1] = p->shape[0];
            data = bufs[i];
        }
        cr_assert_eq(attn_st_writer_add(w, name, p->ndim, shape, data), ATTN_OK, "%s", attn_last_error());
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    cr_assert_eq(attn_st_writer_commit(w, path), ATTN_OK, "%s", attn_last_error());
    attn_st_writer_free(w);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"model_type\": \"gpt2\", \"n_embd\": 8, \"n_head\": 2, \"n_layer\": 2, \"n_positions\": 6,"
          " \"vocab_size\": 11, \"n_inner\": 12, \"layer_norm_epsilon\": 1e-4,"
          " \"activation_function\": \"gelu_new\", \"scale_attn_weights\": true}", f);
    fclose(f);
    cr_assert_eq(attn_gpt_load_hf(dir, &b), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(attn_params_count(b->P), n);
    for (int i = 0; i < n; i++) {
        attn_param *p = attn_params_at(a->P, i), *q = attn_params_find(b->P, p->name);
        cr_assert_not_null(q, "%s", p->name);
        cr_expect(memcmp(p->data, q->data, (size_t)p->numel * sizeof(float)) == 0, "%s differs", p->name);
    }
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    attn_tape_set_training(t, 0);
    int32_t ids[12] = {1, 5, 9, 10, 0, 3, 2, 2, 7, 4, 8, 6};
    attn_var *la, *lb;
    cr_assert_eq(attn_gpt_forward(t, a, ids, 2, 6, &la), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_gpt_forward(t, b, ids, 2, 6, &lb), ATTN_OK, "%s", attn_last_error());
    cr_expect(memcmp(la->data, lb->data, (size_t)la->numel * sizeof(float)) == 0);
    attn_tape_free(t);
    attn_gpt_free(a);
    attn_gpt_free(b);
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}
