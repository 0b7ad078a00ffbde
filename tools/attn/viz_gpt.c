/* viz_gpt.c — `attn viz --model M --input TEXT` on a GPT (a checkpoint of `attn train lm` or a
 * Hugging Face GPT-2 directory): every layer's and head's causal self-attention over the
 * prompt's tokens (ATTN_ATTENTION_DECODER_SELF: row i, the query at token i, attends to tokens 0..i), recorded
 * through libattn's attention record (attn_attention_record_watch_gpt) on one forward. */
#include "cli.h"
#include "lm.h"
#include "viz.h"
#include "viz_internal.h"
#include "viz_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A token's label: its bytes when they are whole UTF-8 characters without control bytes, else
 * each byte outside printable ASCII as "\xNN" ("\n" for a newline). */
static char *label(const char *b, size_t n)
{
    char *s = malloc(4 * n + 1), *p = s;
    if (!s) return NULL;
    int plain = 1;
    for (size_t i = 0; i < n; i++) plain &= (unsigned char)b[i] >= 0x20 && b[i] != 0x7f;
    memcpy(s, b, n);
    s[n] = '\0';
    if (plain && viz_utf8_valid(s)) return s;
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)b[i];
        if (c == '\n') p += sprintf(p, "\\n");
        else if (c < 0x20 || c >= 0x7f) p += sprintf(p, "\\x%02x", c);
        else *p++ = (char)c;
    }
    *p = '\0';
    return s;
}

int viz_gpt_run(const char *model, const char *input, const char *out, int metrics)
{
    lm_model lm;
    int st = lm_model_open(model, &lm);
    if (st) return cli_error("viz", model, st);
    int32_t *ids = NULL;
    int64_t n = 0;
    char **lab = NULL;
    attn_attention_view *r = NULL;
    attn_tape *t = NULL;
    attn_attention_record *rec = NULL;
    int rc = 1;
    st = lm_model_encode(&lm, "the input", (const unsigned char *)input, strlen(input), &ids, &n);
    if (st) {
        cli_error("viz", model, st);
        goto done;
    }
    if (n < 1 || n > lm.m->cfg.context || n > ATTN_VIEW_MAX_TOKENS) {
        fprintf(stderr, "attn viz: the input is %lld tokens: 1 to %lld wanted\n", (long long)n,
                (long long)(lm.m->cfg.context < ATTN_VIEW_MAX_TOKENS ? lm.m->cfg.context : ATTN_VIEW_MAX_TOKENS));
        goto done;
    }
    lab = calloc((size_t)n, sizeof *lab);
    for (int64_t i = 0; lab && i < n; i++) {
        const char *b = "";
        const size_t k = lm_model_token(&lm, ids[i], &b);
        if (!(lab[i] = label(b, k))) break;
    }
    if (!lab || !lab[n - 1]) {
        fprintf(stderr, "attn viz: out of memory\n");
        goto done;
    }
    char title[512];
    snprintf(title, sizeof title, "GPT causal self-attention: %.400s", input);
    for (char *p = title; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
    if (!viz_utf8_valid(title)) snprintf(title, sizeof title, "GPT causal self-attention (%lld tokens)", (long long)n);
    if (attn_attention_view_create(&r, title, NULL, 0, (const char *const *)lab, (int)n)) {
        fprintf(stderr, "attn viz: %s\n", attn_last_error());
        goto done;
    }
    attn_tape_config tc = {0};
    attn_var *logits;
    st = attn_tape_create(&tc, &t);
    if (st == ATTN_OK) attn_tape_set_training(t, 0), st = attn_attention_record_create(t, &rec);
    if (st == ATTN_OK) st = attn_attention_record_watch_gpt(rec, lm.m);
    if (st == ATTN_OK) st = attn_gpt_forward(t, lm.m, ids, 1, n, &logits);
    attn_attention_record_stop(rec);
    if (st) {
        cli_error("viz", model, st);
        goto done;
    }
    if (attn_attention_view_add_recorded(r, rec, 0) || viz_render_all(r, out, 0)) {
        fprintf(stderr, "attn viz: %s\n", attn_last_error());
        goto done;
    }
    printf("%s\nwrote %s/attention.html, %s/attention.json and heatmaps in %s/ (%lld layers x %lld heads, %lld tokens)\n",
           title, out, out, out, (long long)lm.m->cfg.n_layer, (long long)lm.m->cfg.n_head, (long long)n);
    if (metrics) viz_metrics_print(stdout, r);
    rc = 0;
done:
    for (int64_t i = 0; lab && i < n; i++) free(lab[i]);
    free(lab), free(ids);
    attn_attention_record_free(rec);
    attn_tape_free(t);
    attn_attention_view_free(r);
    lm_model_free(&lm);
    return rc;
}
