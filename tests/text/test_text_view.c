/* test_text_view.c — the tokenizer module's attention views (tools/text/text_view.h) on tiny
 * untrained models and a SentencePiece model learned from a toy corpus: the tokens are the
 * tokenizer's pieces (+ "</s>"), the maps are the ones libattn records on the same ids built by
 * hand (bit for bit), the translation without a target is the model's own beam-5 one, the
 * classifier's probabilities are its forward's, and bad input is an error with a message.
 * Prints one line per check and ends with "N passed, N failed". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_view.h"
#include "translator.h"

#include "check.h"

enum { NP = 300, MAXLEN = 24 };

/* The maps of a and b are the same, bit for bit. */
static int same_maps(const attn_attention_view *a, const attn_attention_view *b)
{
    int ok = a->n_maps == b->n_maps;
    for (int k = 0; ok && k < a->n_maps; k++) {
        const attn_attention_head *x = &a->maps[k], *y = &b->maps[k];
        ok = x->kind == y->kind && x->layer == y->layer && x->head == y->head && x->rows == y->rows &&
             x->cols == y->cols && !memcmp(x->w, y->w, (size_t)x->rows * x->cols * sizeof *x->w);
    }
    return ok;
}

/* ids of text (cut to MAXLEN − 1) + EOS, its pieces then "</s>" compared with the view's side. */
static int64_t ids_of(const attn_spm *sp, const char *text, int32_t *ids, char *const *tok, int n_tok)
{
    int64_t n = 0;
    if (attn_spm_encode(sp, text, ids, 200, &n)) return -1;
    if (n > MAXLEN - 1) n = MAXLEN - 1; /* cut to the model's length, room for EOS */
    ids[n++] = ATTN_SPM_EOS_ID;
    for (int64_t i = 0; i < n; i++) {
        const char *p;
        if (n != n_tok || attn_spm_id_to_piece(sp, ids[i], &p) || strcmp(p, tok[i])) return -1;
    }
    return n;
}

static void test_translation(const attn_spm *sp, int32_t V)
{
    attn_seq2seq_config c = {.src_vocab = V, .tgt_vocab = V, .d_model = 16, .nhead = 2, .num_encoder_layers = 1,
                             .num_decoder_layers = 2, .dim_feedforward = 32, .max_len = MAXLEN};
    attn_gru_seq2seq_config gc = {.src_vocab = V, .tgt_vocab = V, .emb_size = 8, .enc_hidden = 8, .enc_layers = 1,
                                  .dec_hidden = 8, .attn_size = 8, .out_size = 8, .max_len = MAXLEN};
    attn_seq2seq *tf = NULL;
    attn_gru_seq2seq *gru = NULL;
    int st = attn_seq2seq_create(&c, 1, &tf);
    if (st == ATTN_OK) st = attn_gru_seq2seq_create(&gc, 2, &gru);
    CHECK(st == ATTN_OK, "models (%s)", st ? attn_last_error() : "");
    if (st) return;
    const char *in = "The red dog runs.", *out = "Der rote Hund läuft.";
    attn_attention_view *v = NULL, *w = NULL;
    st = attn_mt_attention_view(NULL, tf, NULL, sp, in, out, &v);
    CHECK(st == ATTN_OK && v->n_maps == 2 + 2 * 2 * 2 && !strcmp(v->title, "The red dog runs. -> Der rote Hund läuft."),
          "transformer: every map (%d) and the title (%s)", v ? v->n_maps : -1, st ? attn_last_error() : v->title);
    int32_t sid[200], tid[200], tin[200];
    int64_t S = v ? ids_of(sp, in, sid, v->src, v->n_src) : -1, T = v ? ids_of(sp, out, tid, v->tgt, v->n_tgt) : -1;
    CHECK(S > 1 && T > 1 && !strcmp(v->src[S - 1], "</s>"), "transformer: tokens are the pieces + </s> (%lld, %lld)",
          (long long)S, (long long)T);
    if (S > 1 && T > 1) { /* the same ids by hand: BOS + the output's pieces as the decoder input */
        tin[0] = ATTN_SPM_BOS_ID;
        memcpy(tin + 1, tid, (size_t)(T - 1) * sizeof *tin);
        st = attn_attention_view_create(&w, NULL, (const char *const *)v->src, (int)S, (const char *const *)v->tgt, (int)T);
        if (st == ATTN_OK) st = attn_attention_view_record_seq2seq(w, NULL, tf, sid, tin);
        CHECK(st == ATTN_OK && same_maps(v, w), "transformer: the maps libattn records on the same ids");
        attn_attention_view_free(w), w = NULL;
    }
    attn_attention_view_free(v), v = NULL;
    /* no target: the model's own beam-5 translation */
    char **hyp = NULL;
    attn_generate_options o = {.beam = 5, .len_penalty = 0.6f};
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    st = attn_tape_create(&tc, &t);
    if (st == ATTN_OK) st = attn_translate_texts(t, tf, NULL, sp, &in, 1, &o, 1, &hyp);
    attn_tape_free(t);
    int st2 = st ? st : attn_mt_attention_view(NULL, tf, NULL, sp, in, NULL, &v);
    /* an untrained model may say anything, bytes that are not UTF-8 too: a view refuses those */
    const int utf8 = st == ATTN_OK && attn_utf8_validate(hyp[0], strlen(hyp[0]), NULL) == ATTN_OK;
    T = st2 ? -1 : ids_of(sp, hyp[0], tid, v->tgt, v->n_tgt);
    CHECK(utf8 ? st2 == ATTN_OK && T >= 1 : st2 == ATTN_E_FORMAT && !v,
          "transformer without a target: the tokens of its beam-5 translation (%s UTF-8; %s)", utf8 ? "" : "not",
          st2 ? attn_last_error() : "ok");
    attn_translator_free_strings(hyp, hyp ? 1 : 0);
    attn_attention_view_free(v), v = NULL;
    /* the GRU: its additive attention, one cross map */
    st = attn_mt_attention_view(NULL, NULL, gru, sp, in, out, &v);
    CHECK(st == ATTN_OK && v->n_maps == 1 && v->maps[0].kind == ATTN_ATTENTION_CROSS && v->maps[0].rows == v->n_tgt &&
              v->maps[0].cols == v->n_src,
          "gru: one cross-attention map of target x source (%s)", st ? attn_last_error() : "");
    double worst = 0;
    for (int i = 0; v && i < v->maps[0].rows; i++) {
        double s = 0;
        for (int j = 0; j < v->maps[0].cols; j++) s += v->maps[0].w[i * v->maps[0].cols + j];
        worst = fmax(worst, fabs(s - 1));
    }
    CHECK(v && worst < 1e-5, "gru: each row sums to 1 (worst %.2e)", worst);
    attn_attention_view_free(v), v = NULL;
    /* bad input */
    st = attn_mt_attention_view(NULL, tf, NULL, sp, "", out, &v);
    CHECK(st == ATTN_E_ARG && !v && !strcmp(attn_last_error(), "the input is empty: nothing to attend to"),
          "an empty input: %s", attn_last_error());
    st = attn_mt_attention_view(NULL, tf, gru, sp, in, out, &v);
    CHECK(st == ATTN_E_ARG && strstr(attn_last_error(), "one of them"), "two models: %s", attn_last_error());
    CHECK(attn_mt_attention_view(NULL, tf, NULL, NULL, in, out, &v) == ATTN_E_ARG, "no tokenizer: ATTN_E_ARG");
    CHECK(attn_mt_attention_view(NULL, tf, NULL, sp, in, out, NULL) == ATTN_E_ARG, "no output: ATTN_E_ARG");
    attn_seq2seq_free(tf);
    attn_gru_seq2seq_free(gru);
}

static void test_classifier(attn_spm *sp, int32_t V)
{
    attn_classifier_config cc = {.vocab = V, .d_model = 16, .nhead = 2, .num_layers = 2, .dim_feedforward = 16,
                                 .max_len = MAXLEN, .num_classes = 3, .norm_first = 1};
    attn_text_classifier c = {.sp = sp, .head_tokens = 8};
    int st = attn_classifier_create(&cc, 3, &c.m);
    CHECK(st == ATTN_OK, "classifier (%s)", st ? attn_last_error() : "");
    if (st) return;
    attn_attention_view *v = NULL;
    double p[3];
    const char *text = "A big <br />red dog &amp; a small cat sleep.";
    st = attn_text_classifier_attention_view(&c, NULL, text, p, &v);
    CHECK(st == ATTN_OK && v->n_maps == 4 && v->maps[0].kind == ATTN_ATTENTION_CLASSIFIER_SELF && !v->title && !v->n_tgt,
          "classifier: 2 layers x 2 heads of classifier self-attention, no title (%s)", st ? attn_last_error() : "");
    /* the tokens are the cleaned, encoded text's pieces; the probabilities its forward's */
    attn_cls_data d = {0};
    char *texts[1] = {(char *)text};
    int ok = v && attn_cls_encode_texts(sp, texts, NULL, NULL, 1, MAXLEN, 8, &d) == ATTN_OK && d.off[1] == v->n_src;
    for (int64_t i = 0; ok && i < d.off[1]; i++) {
        const char *piece;
        ok = attn_spm_id_to_piece(sp, d.ids[i], &piece) == ATTN_OK && !strcmp(piece, v->src[i]);
    }
    CHECK(ok, "classifier: the tokens are the pieces of the cleaned text (%d)", v ? v->n_src : -1);
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    attn_var *z = NULL;
    if (ok && attn_tape_create(&tc, &t) == ATTN_OK) {
        attn_tape_set_training(t, 0);
        ok = attn_classifier_forward(t, c.m, d.ids, 1, d.off[1], &z, NULL) == ATTN_OK;
        double mx = -INFINITY, s = 0, err = 0;
        for (int j = 0; ok && j < 3; j++) mx = fmax(mx, z->data[j]);
        for (int j = 0; ok && j < 3; j++) s += exp(z->data[j] - mx);
        for (int j = 0; ok && j < 3; j++) err = fmax(err, fabs(p[j] - exp(z->data[j] - mx) / s));
        CHECK(ok && err < 1e-6, "classifier: probabilities = softmax of the forward's logits (%.1e)", err);
    }
    attn_tape_free(t);
    attn_cls_data_free(&d);
    attn_attention_view_free(v), v = NULL;
    st = attn_text_classifier_attention_view(&c, NULL, "   ", p, &v);
    CHECK(st == ATTN_E_ARG && !v && strstr(attn_last_error(), "no tokens"), "an empty text: %s", attn_last_error());
    CHECK(attn_text_classifier_attention_view(NULL, NULL, text, p, &v) == ATTN_E_ARG, "no classifier: ATTN_E_ARG");
    attn_classifier_free(c.m);
}

int main(void)
{
    /* a toy language pair, word by word */
    static const char *det[] = {"the", "a"}, *gdet[] = {"der", "ein"};
    static const char *adj[] = {"red", "big", "small", "old", "young", "green"},
                      *gadj[] = {"rote", "große", "kleine", "alte", "junge", "grüne"};
    static const char *noun[] = {"dog", "man", "woman", "child", "cat", "horse"},
                      *gnoun[] = {"Hund", "Mann", "Frau", "Kind", "Katze", "Pferd"};
    static const char *verb[] = {"runs", "sleeps", "eats", "sings", "plays", "waits"},
                      *gverb[] = {"läuft", "schläft", "isst", "singt", "spielt", "wartet"};
    char *src[NP], *tgt[NP];
    for (int i = 0; i < NP; i++) {
        char a[128], b[128];
        const int d = i % 2, j = (i / 2) % 6, n = (i / 12) % 6, v = (i / 72 + i) % 6;
        snprintf(a, sizeof a, "%s %s %s %s.", det[d], adj[j], noun[n], verb[v]);
        snprintf(b, sizeof b, "%s %s %s %s.", gdet[d], gadj[j], gnoun[n], gverb[v]);
        a[0] = (char)(a[0] - 32), b[0] = (char)(b[0] - 32);
        src[i] = strdup(a), tgt[i] = strdup(b);
    }
    attn_parallel d = {.n = NP, .src = src, .tgt = tgt};
    attn_spm *sp = NULL;
    int32_t V = 0;
    int st = attn_spm_train_joint(&d, 300, 5, &sp);
    if (st == ATTN_OK) st = attn_spm_vocab_size(sp, &V);
    CHECK(st == ATTN_OK, "a joint tokenizer of %d pieces (%s)", V, st ? attn_last_error() : "");
    if (st == ATTN_OK) test_translation(sp, V), test_classifier(sp, V);
    attn_spm_free(sp);
    for (int i = 0; i < NP; i++) free(src[i]), free(tgt[i]);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
