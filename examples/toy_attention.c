/* toy_attention.c — scaled dot-product self-attention on a toy sentence, printed as a table. Each token gets a deterministic random embedding (Philox, seed 0); the
 * queries, keys and values are those embeddings passed through three fixed random projections,
 * and the program prints who attends to whom. */
#include <attn.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO_D 16

/* Gaussian-ish value from the counter-based generator (sum of 4 uniforms, centred). */
static float demo_rand(uint64_t seed, uint64_t stream, uint64_t i)
{
    float s = 0;
    for (int k = 0; k < 4; k++) s += attn_philox_uniform(seed, stream, 4 * i + (uint64_t)k);
    return (s - 2.0f) * 1.7320508f;
}

/* Embedding of a word: hashed so that equal words get equal vectors. */
static void embed(const char *word, uint64_t seed, float *x)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *c = word; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    for (int d = 0; d < DEMO_D; d++) x[d] = demo_rand(seed, h, (uint64_t)d);
}

int main(int argc, char **argv)
{
    uint64_t seed = 0;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--seed") && a + 1 < argc)
            seed = strtoull(argv[++a], NULL, 10);
        else {
            fprintf(stderr, "usage: toy_attention [--seed N]\n");
            return 2;
        }
    }
    static const char *tokens[] = {"the", "cat", "sat", "on", "the", "mat", "."};
    enum { L = sizeof tokens / sizeof tokens[0] };
    float x[L][DEMO_D], q[L][DEMO_D], k[L][DEMO_D], v[L][DEMO_D], out[L][DEMO_D], w[L][L];
    float proj[3][DEMO_D][DEMO_D];
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < DEMO_D; i++)
            for (int j = 0; j < DEMO_D; j++)
                proj[p][i][j] = demo_rand(seed, 1000 + (uint64_t)p, (uint64_t)(i * DEMO_D + j)) /
                                    4.0f + (i == j ? 1.0f : 0.0f);
    for (int t = 0; t < L; t++) embed(tokens[t], seed, x[t]);
    float *dst[3] = {&q[0][0], &k[0][0], &v[0][0]};
    for (int p = 0; p < 3; p++) {
        int st = attn_sgemm(ATTN_NO_TRANS, ATTN_NO_TRANS, L, DEMO_D, DEMO_D, 1.0f, &x[0][0],
                            DEMO_D, &proj[p][0][0], DEMO_D, 0.0f, dst[p], DEMO_D, 1);
        if (st) return fprintf(stderr, "projection: %s\n", attn_last_error()), 1;
    }
    attn_tensor tq = attn_tensor_4d(&q[0][0], 1, 1, L, DEMO_D);
    attn_tensor tk = attn_tensor_4d(&k[0][0], 1, 1, L, DEMO_D);
    attn_tensor tv = attn_tensor_4d(&v[0][0], 1, 1, L, DEMO_D);
    attn_tensor to = attn_tensor_4d(&out[0][0], 1, 1, L, DEMO_D);
    attn_tensor tw = attn_tensor_4d(&w[0][0], 1, 1, L, L);
    attn_sdpa_options opt = {0}; /* scale 1/sqrt(d), no mask */
    int st = attn_sdpa_forward(&tq, &tk, &tv, &opt, &to, NULL, &tw);
    if (st) return fprintf(stderr, "attention: %s\n", attn_last_error()), 1;

    printf("Scaled dot-product self-attention, softmax(QK^T/sqrt(%d))V, on a toy sentence\n"
           "(random embeddings and projections, seed %llu). Row = query token, column = key:\n\n",
           DEMO_D, (unsigned long long)seed);
    printf("%8s", "");
    for (int j = 0; j < L; j++) printf("%7s", tokens[j]);
    printf("\n");
    for (int i = 0; i < L; i++) {
        printf("%8s", tokens[i]);
        int best = 0;
        for (int j = 0; j < L; j++) {
            printf("%7.3f", w[i][j]);
            if (w[i][j] > w[i][best]) best = j;
        }
        printf("   -> %s\n", tokens[best]);
    }
    /* with causal masking, each token sees only itself and what came before */
    opt.causal = 1;
    st = attn_sdpa_forward(&tq, &tk, &tv, &opt, &to, NULL, &tw);
    if (st) return fprintf(stderr, "causal attention: %s\n", attn_last_error()), 1;
    printf("\nThe same with a causal (look-ahead) mask:\n\n%8s", "");
    for (int j = 0; j < L; j++) printf("%7s", tokens[j]);
    printf("\n");
    for (int i = 0; i < L; i++) {
        printf("%8s", tokens[i]);
        for (int j = 0; j < L; j++) printf("%7.3f", w[i][j]);
        printf("\n");
    }
    printf("\nresult: task=toy-attention tokens=%d seed=%llu\n", L, (unsigned long long)seed);
    return 0;
}
