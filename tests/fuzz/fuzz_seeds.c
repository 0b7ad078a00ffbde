/* fuzz_seeds.c — writes the seed checkpoints of fuzz/corpus/checkpoint/: one small model of
 * each kind saved as attn saves it (configuration metadata + tensors), so the fuzzer starts
 * from files that open. Run by `make fuzz-seeds` (not part of the library). */
#include <stdio.h>
#include <stdlib.h>

#include "attn.h"

static int save(const attn_params *P, const char *dir, const char *name, const char **kv, int n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/seed-%s.safetensors", dir, name);
    kv[n] = NULL;
    int st = attn_checkpoint_save(P, path, kv);
    if (st) fprintf(stderr, "%s: %s\n", path, attn_last_error());
    return st;
}

int main(int argc, char **argv)
{
    if (argc != 2) return fprintf(stderr, "usage: fuzz_seeds DIR\n"), 2;
    char buf[4096];
    const char *kv[80];
    int st = 0;
    attn_classifier_config cc = {.vocab = 7, .d_model = 4, .nhead = 2, .num_layers = 1, .dim_feedforward = 6,
                                 .max_len = 5, .num_classes = 3, .activation = ATTN_ACT_GELU, .norm_first = 1,
                                 .pad_id = 0};
    attn_classifier *c;
    st |= attn_classifier_create(&cc, 1, &c);
    if (!st) st |= save(c->P, argv[1], "classifier", kv, attn_classifier_config_to_meta(&cc, buf, sizeof buf, kv, 78));
    attn_classifier_free(c);
    attn_seq2seq_config sc = {.src_vocab = 6, .tgt_vocab = 6, .d_model = 4, .nhead = 1, .num_encoder_layers = 1,
                              .num_decoder_layers = 1, .dim_feedforward = 4, .max_len = 4, .pad_id = 0,
                              .share_embeddings = 1};
    attn_seq2seq *s;
    st |= attn_seq2seq_create(&sc, 1, &s);
    if (!st) st |= save(s->P, argv[1], "seq2seq", kv, attn_seq2seq_config_to_meta(&sc, buf, sizeof buf, kv, 78));
    attn_seq2seq_free(s);
    attn_gru_seq2seq_config gc = {.src_vocab = 5, .tgt_vocab = 6, .emb_size = 3, .enc_hidden = 2, .enc_layers = 1,
                                  .dec_hidden = 3, .attn_size = 2, .out_size = 3, .max_len = 4, .pad_id = 0};
    attn_gru_seq2seq *g;
    st |= attn_gru_seq2seq_create(&gc, 1, &g);
    if (!st) st |= save(g->P, argv[1], "gru", kv, attn_gru_seq2seq_config_to_meta(&gc, buf, sizeof buf, kv, 78));
    attn_gru_seq2seq_free(g);
    attn_gpt_config pc = {.vocab = 5, .context = 3, .n_layer = 1, .n_head = 1, .d_model = 4};
    attn_gpt *p;
    st |= attn_gpt_create(&pc, 1, &p);
    if (!st) st |= save(p->P, argv[1], "gpt", kv, attn_gpt_config_to_meta(&pc, buf, sizeof buf, kv, 78));
    attn_gpt_free(p);
    return st ? 1 : 0;
}
