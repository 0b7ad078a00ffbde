/* view_models.c — a model's attention on one example as a view (attn/analysis.h, attn/image.h):
 * the teacher-forced forward of each architecture run on a tape with a recorder, its maps cut
 * to the view's tokens; the character models' and date examples' views; a ViT's maps and its
 * image. What `attn viz --model` shows, for any program. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* ---- the tape: the caller's or a temporary one, in evaluation mode for the call ------------- */

typedef struct eval_tape {
    attn_tape *t, *own;
    int was_training;
} eval_tape;

static int eval_tape_begin(eval_tape *e, attn_tape *t)
{
    *e = (eval_tape){t, NULL, 0};
    if (!t) {
        attn_tape_config tc = {0};
        ATTN_TRY(attn_tape_create(&tc, &e->own));
        e->t = e->own;
    }
    e->was_training = attn_tape_training(e->t);
    attn_tape_set_training(e->t, 0);
    return ATTN_OK;
}

static void eval_tape_end(eval_tape *e)
{
    attn_tape_set_training(e->t, e->was_training);
    attn_tape_free(e->own);
}

/* A view and ids for a model whose positions are at most max_len. */
static int check_view(const char *fn, const attn_attention_view *v, const void *m, const void *ids,
                      int n, int64_t max_len, const char *side)
{
    ATTN_REQUIRE_NONNULL(fn, v);
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, ids);
    if (n < 1 || n > max_len)
        return attn_fail(ATTN_E_ARG, "%s: the view has %d %s tokens; the model takes 1 to %lld", fn, n, side,
                         (long long)max_len);
    return ATTN_OK;
}

/* An encoder–decoder's view (src [n_src] and tgt_in [n_tgt] ids, each within max_len) checked,
 * and the tape begun. */
static int begin_seq2seq(const char *fn, eval_tape *e, attn_tape *t, const attn_attention_view *v, const void *m,
                         const int32_t *src, const int32_t *tgt_in, int64_t max_len)
{
    ATTN_TRY(check_view(fn, v, m, src, v ? v->n_src : 0, max_len, "source"));
    ATTN_TRY(check_view(fn, v, m, tgt_in, v->n_tgt, max_len, "target"));
    return eval_tape_begin(e, t);
}

/* The forward `run` does on the tape with a recorder naming the modules (`watch`), then every
 * named map into v. */
typedef struct rec_forward {
    int kind; /* 0 seq2seq, 1 classifier, 2 gpt */
    const void *m;
    const int32_t *a, *b;
    int64_t na, nb;
} rec_forward;

static int record_into(attn_attention_view *v, attn_tape *t, const rec_forward *f)
{
    attn_attention_record *rec = NULL;
    attn_var *x, *y;
    int st = attn_tape_reset(t);
    if (st == ATTN_OK) st = attn_attention_record_create(t, &rec);
    if (f->kind == 0) {
        const attn_seq2seq *m = f->m;
        if (st == ATTN_OK) st = attn_attention_record_watch_seq2seq(rec, m);
        if (st == ATTN_OK) st = attn_seq2seq_encode(t, m, f->a, 1, f->na, &x);
        if (st == ATTN_OK) st = attn_seq2seq_decode(t, m, x, f->a, f->na, f->b, f->nb, &y);
    } else if (f->kind == 1) {
        if (st == ATTN_OK) st = attn_attention_record_watch_classifier(rec, f->m);
        if (st == ATTN_OK) st = attn_classifier_forward(t, f->m, f->a, 1, f->na, &y, NULL);
    } else {
        if (st == ATTN_OK) st = attn_attention_record_watch_gpt(rec, f->m);
        if (st == ATTN_OK) st = attn_gpt_forward(t, f->m, f->a, 1, f->na, &y);
    }
    attn_attention_record_stop(rec);
    if (st == ATTN_OK) st = attn_attention_record_status(rec);
    if (st == ATTN_OK) st = attn_attention_view_add_recorded(v, rec, f->kind == 1);
    attn_attention_record_free(rec);
    return st;
}

int attn_attention_view_record_seq2seq(attn_attention_view *v, attn_tape *t, const attn_seq2seq *m,
                                       const int32_t *src, const int32_t *tgt_in)
{
    eval_tape e;
    ATTN_TRY(begin_seq2seq("attn_attention_view_record_seq2seq", &e, t, v, m, src, tgt_in, m ? m->cfg.max_len : 0));
    const rec_forward f = {0, m, src, tgt_in, v->n_src, v->n_tgt};
    const int st = record_into(v, e.t, &f);
    eval_tape_end(&e);
    return st;
}

int attn_attention_view_record_gru_seq2seq(attn_attention_view *v, attn_tape *t, const attn_gru_seq2seq *m,
                                           const int32_t *src, const int32_t *tgt_in)
{
    eval_tape e;
    ATTN_TRY(begin_seq2seq("attn_attention_view_record_gru_seq2seq", &e, t, v, m, src, tgt_in,
                           m ? m->cfg.max_len : 0));
    attn_var *mem, *s0, *logits, *w = NULL;
    int st = attn_tape_reset(e.t);
    if (st == ATTN_OK) st = attn_gru_seq2seq_encode(e.t, m, src, 1, v->n_src, &mem, &s0);
    if (st == ATTN_OK) st = attn_gru_seq2seq_decode(e.t, m, mem, s0, src, v->n_src, tgt_in, v->n_tgt, &logits, &w);
    if (st == ATTN_OK) st = attn_attention_view_add_heads(v, ATTN_ATTENTION_CROSS, 0, w->data, 1, v->n_tgt, v->n_src);
    eval_tape_end(&e);
    return st;
}

int attn_attention_view_record_gpt(attn_attention_view *v, attn_tape *t, const attn_gpt *m, const int32_t *ids)
{
    static const char fn[] = "attn_attention_view_record_gpt";
    ATTN_TRY(check_view(fn, v, m, ids, v ? v->n_tgt : 0, m ? m->cfg.context : 0, "target"));
    eval_tape e;
    ATTN_TRY(eval_tape_begin(&e, t));
    const rec_forward f = {2, m, ids, NULL, v->n_tgt, 0};
    const int st = record_into(v, e.t, &f);
    eval_tape_end(&e);
    return st;
}

int attn_attention_view_record_classifier(attn_attention_view *v, attn_tape *t, const attn_classifier *m,
                                          const int32_t *ids, double *probs)
{
    static const char fn[] = "attn_attention_view_record_classifier";
    ATTN_TRY(check_view(fn, v, m, ids, v ? v->n_src : 0, m ? m->cfg.max_len : 0, "source"));
    eval_tape e;
    ATTN_TRY(eval_tape_begin(&e, t));
    attn_var *logits;
    int st = ATTN_OK;
    if (probs) { /* the plain forward (no recorder): its softmax in double */
        st = attn_tape_reset(e.t);
        if (st == ATTN_OK) st = attn_classifier_forward(e.t, m, ids, 1, v->n_src, &logits, NULL);
        const int64_t C = m->cfg.num_classes;
        const float *z = st == ATTN_OK ? logits->data : NULL;
        int64_t k = 0;
        for (int64_t j = 1; z && j < C; j++)
            if (z[j] > z[k]) k = j;
        double sum = 0;
        for (int64_t j = 0; z && j < C; j++) sum += exp((double)(z[j] - z[k]));
        for (int64_t j = 0; z && j < C; j++) probs[j] = exp((double)(z[j] - z[k])) / sum;
    }
    const rec_forward f = {1, m, ids, NULL, v->n_src, 0};
    if (st == ATTN_OK) st = record_into(v, e.t, &f);
    eval_tape_end(&e);
    return st;
}

/* ---- views whose tokens are characters ------------------------------------------------------ */

/* Each byte of s as a one-byte token: *tok [strlen(s)] pointing into *buf. */
static int char_tokens(const char *s, int n, char (**buf)[2], const char ***tok)
{
    *buf = malloc((size_t)(n ? n : 1) * sizeof **buf);
    *tok = malloc((size_t)(n ? n : 1) * sizeof **tok);
    if (!*buf || !*tok) {
        free(*buf), free(*tok);
        return attn_fail(ATTN_E_NOMEM, "attn_attention_view_create_chars: %d tokens", n);
    }
    for (int i = 0; i < n; i++) (*buf)[i][0] = s[i], (*buf)[i][1] = '\0', (*tok)[i] = (*buf)[i];
    return ATTN_OK;
}

int attn_attention_view_create_chars(attn_attention_view **out, const char *title, const char *src,
                                     const char *tgt)
{
    static const char fn[] = "attn_attention_view_create_chars";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    const size_t ns = src ? strlen(src) : 0, nt = tgt ? strlen(tgt) : 0;
    if (ns > ATTN_VIEW_MAX_TOKENS || nt > ATTN_VIEW_MAX_TOKENS)
        return attn_fail(ATTN_E_ARG, "%s: %zu and %zu characters (at most %d each)", fn, ns, nt,
                         ATTN_VIEW_MAX_TOKENS);
    char(*sb)[2] = NULL, (*tb)[2] = NULL;
    const char **st = NULL, **tt = NULL;
    int s = char_tokens(src ? src : "", (int)ns, &sb, &st);
    if (s == ATTN_OK) s = char_tokens(tgt ? tgt : "", (int)nt, &tb, &tt);
    if (s == ATTN_OK) s = attn_attention_view_create(out, title, st, (int)ns, tt, (int)nt);
    free(sb), free(st), free(tb), free(tt);
    return s;
}

int attn_attention_view_from_dates(const attn_dates_example *ex, attn_attention_view **out)
{
    static const char fn[] = "attn_attention_view_from_dates";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL(fn, ex);
    if (strnlen(ex->src, ATTN_DATES_SRC_MAX) == ATTN_DATES_SRC_MAX)
        return attn_fail(ATTN_E_ARG, "%s: source not NUL-terminated", fn);
    char tgt[ATTN_DATES_TGT_LEN + 1], title[96];
    memcpy(tgt, ex->tgt, ATTN_DATES_TGT_LEN);
    tgt[ATTN_DATES_TGT_LEN] = '\0';
    if (strlen(tgt) != ATTN_DATES_TGT_LEN) return attn_fail(ATTN_E_ARG, "%s: target shorter than %d", fn, ATTN_DATES_TGT_LEN);
    attn_span spans[ATTN_DATES_TGT_LEN];
    for (int t = 0; t < ATTN_DATES_TGT_LEN; t++) spans[t] = (attn_span){ex->align_lo[t], ex->align_hi[t]};
    snprintf(title, sizeof title, "\"%s\" → %.10s", ex->src, ex->tgt);
    ATTN_TRY(attn_attention_view_create_chars(out, title, ex->src, tgt));
    const int st = attn_attention_view_set_alignment(*out, spans);
    if (st) attn_attention_view_free(*out), *out = NULL;
    return st;
}

int attn_seq2seq_ascii_attention_view(attn_tape *t, const attn_seq2seq *m, const char *input, const char *target,
                                      const attn_dates_example *ex, attn_attention_view **out)
{
    static const char fn[] = "attn_seq2seq_ascii_attention_view";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, input);
    const int64_t S = (int64_t)strlen(input), maxL = m->cfg.max_len;
    if (S == 0) return attn_fail(ATTN_E_ARG, "the input is empty: nothing to attend to");
    if (S >= maxL)
        return attn_fail(ATTN_E_ARG, "input of %lld characters is longer than the model's %lld", (long long)S,
                         (long long)maxL - 1);
    int32_t *src = malloc((size_t)(3 * maxL) * sizeof *src), *tgt_in = src + maxL, *gen = tgt_in + maxL;
    char *out_text = malloc((size_t)maxL + 1);
    attn_attention_view *v = NULL;
    int st = src && out_text ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s: a model of length %lld", fn, (long long)maxL);
    for (int64_t i = 0; st == ATTN_OK && i < S; i++)
        if ((src[i] = attn_ascii_id((unsigned char)input[i])) == ATTN_ASCII_UNK)
            st = attn_fail(ATTN_E_ARG, "character 0x%02x at %lld is not in the model's vocabulary",
                           (unsigned char)input[i], (long long)i);
    if (st == ATTN_OK && target) {
        snprintf(out_text, (size_t)maxL + 1, "%s", target);
    } else if (st == ATTN_OK) { /* the model's own greedy translation */
        attn_generate_options o = {.bos_id = ATTN_ASCII_BOS, .eos_id = ATTN_ASCII_EOS, .max_new = maxL - 2};
        int64_t len = 0;
        st = attn_seq2seq_generate(m, t, src, 1, S, &o, gen, maxL - 1, &len, NULL);
        for (int64_t i = 0; st == ATTN_OK && i < len; i++) out_text[i] = attn_ascii_char(gen[i]);
        if (st == ATTN_OK) out_text[len] = '\0';
    }
    const int64_t T = st == ATTN_OK ? (int64_t)strlen(out_text) : 0;
    if (st == ATTN_OK && (T == 0 || T + 1 >= maxL))
        st = attn_fail(ATTN_E_ARG, "the output has %lld characters: nothing to show", (long long)T);
    if (st == ATTN_OK) { /* decoder input: BOS + the output; row t produces character t */
        tgt_in[0] = ATTN_ASCII_BOS;
        for (int64_t i = 0; i < T; i++) tgt_in[i + 1] = attn_ascii_id((unsigned char)out_text[i]);
        char *title = malloc(strlen(input) + (size_t)T + 8);
        if (!title) st = attn_fail(ATTN_E_NOMEM, "%s", fn);
        else sprintf(title, "%s -> %s", input, out_text);
        if (st == ATTN_OK) st = attn_attention_view_create_chars(&v, title, input, out_text);
        free(title);
    }
    if (st == ATTN_OK && ex && T == ATTN_DATES_TGT_LEN && (int64_t)strnlen(ex->src, ATTN_DATES_SRC_MAX) == S) {
        attn_span spans[ATTN_DATES_TGT_LEN];
        for (int k = 0; k < ATTN_DATES_TGT_LEN; k++) spans[k] = (attn_span){ex->align_lo[k], ex->align_hi[k]};
        st = attn_attention_view_set_alignment(v, spans);
    }
    if (st == ATTN_OK) st = attn_attention_view_record_seq2seq(v, t, m, src, tgt_in);
    free(src), free(out_text);
    if (st) attn_attention_view_free(v);
    else *out = v;
    return st;
}

/* ---- a GPT: tokens labelled by their bytes -------------------------------------------------- */

/* A token's label: its bytes when they are whole UTF-8 characters without control bytes, else
 * each byte outside printable ASCII as "\xNN" ("\n" for a newline). */
static char *byte_label(const char *b, size_t n)
{
    char *s = malloc(4 * n + 1), *p = s;
    if (!s) return NULL;
    int plain = 1;
    for (size_t i = 0; i < n; i++) plain &= (unsigned char)b[i] >= 0x20 && b[i] != 0x7f;
    memcpy(s, b, n);
    s[n] = '\0';
    if (plain && strlen(s) == n && attn_utf8_validate(s, n, NULL) == ATTN_OK) return s;
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)b[i];
        if (c == '\n') p += sprintf(p, "\\n");
        else if (c < 0x20 || c >= 0x7f) p += sprintf(p, "\\x%02x", c);
        else *p++ = (char)c;
    }
    *p = '\0';
    return s;
}

int attn_gpt_attention_view(attn_tape *t, const attn_gpt *m, const int32_t *ids, int64_t n,
                            const char *const *tok_bytes, const size_t *tok_len, const char *title,
                            attn_attention_view **out)
{
    static const char fn[] = "attn_gpt_attention_view";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, ids);
    ATTN_REQUIRE_NONNULL(fn, tok_bytes);
    ATTN_REQUIRE_NONNULL(fn, tok_len);
    const int64_t cap = m->cfg.context < ATTN_VIEW_MAX_TOKENS ? m->cfg.context : ATTN_VIEW_MAX_TOKENS;
    if (n < 1 || n > cap)
        return attn_fail(ATTN_E_ARG, "the input is %lld tokens: 1 to %lld wanted", (long long)n, (long long)cap);
    char **lab = calloc((size_t)n, sizeof *lab);
    int st = lab ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s: %lld labels", fn, (long long)n);
    for (int64_t i = 0; st == ATTN_OK && i < n; i++) {
        if (!tok_bytes[i] && tok_len[i]) st = attn_fail(ATTN_E_ARG, "%s: token %lld has no bytes", fn, (long long)i);
        else if (!(lab[i] = byte_label(tok_len[i] ? tok_bytes[i] : "", tok_len[i])))
            st = attn_fail(ATTN_E_NOMEM, "%s: label %lld", fn, (long long)i);
    }
    attn_attention_view *v = NULL;
    if (st == ATTN_OK) st = attn_attention_view_create(&v, title, NULL, 0, (const char *const *)lab, (int)n);
    if (st == ATTN_OK) st = attn_attention_view_record_gpt(v, t, m, ids);
    for (int64_t i = 0; lab && i < n; i++) free(lab[i]);
    free(lab);
    if (st) attn_attention_view_free(v);
    else *out = v;
    return st;
}

/* ---- a Vision Transformer: its patches' maps and the image ---------------------------------- */

int attn_image_attention_view(const attn_image_model *m, const uint8_t *pixels, const char *title,
                              attn_attention_view **out)
{
    static const char fn[] = "attn_image_attention_view";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, pixels);
    const attn_vit *vt = m->vit;
    const int64_t T = vt->tokens, G = vt->grid, L = vt->cfg.num_layers, H = vt->cfg.nhead, S = vt->cfg.image_size;
    const int cls = vt->cls_token != NULL;
    if (vt->cfg.channels != 1) return attn_fail(ATTN_E_ARG, "%s: %lld channels (grayscale models only)", fn,
                                                (long long)vt->cfg.channels);
    /* tokens "[cls]" (with a class token) and "r<row>c<col>" for the patches */
    char(*names)[48] = calloc((size_t)T, sizeof *names);
    const char **tok = calloc((size_t)T, sizeof *tok);
    float *x = malloc((size_t)(S * S) * sizeof *x), *maps = malloc((size_t)(L * H * G * G) * sizeof *maps);
    float *roll = malloc((size_t)(G * G) * sizeof *roll);
    attn_attention_view *v = NULL;
    attn_attention_record *rec = NULL;
    eval_tape e = {0};
    int st = names && tok && x && maps && roll ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s", fn), began = 0;
    for (int64_t i = 0; st == ATTN_OK && i < T; i++) {
        if (cls && i == 0) snprintf(names[i], sizeof names[i], "[cls]");
        else snprintf(names[i], sizeof names[i], "r%lldc%lld", (long long)((i - cls) / G), (long long)((i - cls) % G));
        tok[i] = names[i];
    }
    if (st == ATTN_OK && (st = eval_tape_begin(&e, NULL)) == ATTN_OK) began = 1;
    if (st == ATTN_OK) st = attn_attention_record_create(e.t, &rec);
    if (st == ATTN_OK) st = attn_image_normalize(pixels, S * S, m->mean, m->std, x);
    attn_var *logits = NULL;
    if (st == ATTN_OK) st = attn_vit_forward(e.t, vt, x, 1, &logits, NULL);
    attn_attention_record_stop(rec);
    if (st == ATTN_OK) st = attn_attention_record_status(rec);
    if (st == ATTN_OK) st = attn_image_model_attention(m, pixels, maps, roll);
    if (st == ATTN_OK) st = attn_attention_view_create(&v, title, tok, (int)T, NULL, 0);
    for (int64_t l = 0; st == ATTN_OK && l < L && l < attn_attention_record_count(rec); l++) {
        attn_attention_map a;
        st = attn_attention_record_map(rec, (int)l, &a);
        if (st == ATTN_OK)
            st = attn_attention_view_add_heads(v, ATTN_ATTENTION_CLASSIFIER_SELF, (int)l, a.w, (int)H, (int)T, (int)T);
    }
    const attn_attention_image im = {.width = (int)S, .height = (int)S, .pixels = (unsigned char *)pixels,
                                     .patch = (int)vt->cfg.patch_size, .rows = (int)G, .cols = (int)G, .cls = cls,
                                     .layers = (int)L, .heads = (int)H, .attn = maps, .rollout = roll};
    if (st == ATTN_OK) st = attn_attention_view_set_image(v, &im);
    attn_attention_record_free(rec);
    if (began) eval_tape_end(&e);
    free(names), free(tok), free(x), free(maps), free(roll);
    if (st) attn_attention_view_free(v);
    else *out = v;
    return st;
}
