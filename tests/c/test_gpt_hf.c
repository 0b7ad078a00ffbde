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
