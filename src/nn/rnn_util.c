/* rnn_util.c — strided-view packing, projections and the GRU cell kernels shared by
 * additive.c, gru.c and bahdanau.c. */
#include "rnn_internal.h"

#include <string.h>

int rnn_check3(const char *fn, const char *name, const attn_tensor *t, int64_t d0, int64_t d1,
               int64_t d2)
{
    ATTN_TRY(attn_check_view(fn, name, t, 3));
    if (t->shape[0] != d0 || t->shape[1] != d1 || t->shape[2] != d2)
        return attn_fail(ATTN_E_SHAPE, "%s: %s is [%lld, %lld, %lld], expected [%lld, %lld, %lld]",
                         fn, name, (long long)t->shape[0], (long long)t->shape[1],
                         (long long)t->shape[2], (long long)d0, (long long)d1, (long long)d2);
    return ATTN_OK;
}

void rnn_pack3(const attn_tensor *t, float *dst)
{
    const int64_t n0 = t->shape[0], n1 = t->shape[1], n2 = t->shape[2];
    for (int64_t a = 0; a < n0; a++)
        for (int64_t b = 0; b < n1; b++)
            for (int64_t c = 0; c < n2; c++) *dst++ = RNN_AT3(t, a, b, c);
}

void rnn_unpack3(const float *src, attn_tensor *t)
{
    const int64_t n0 = t->shape[0], n1 = t->shape[1], n2 = t->shape[2];
    for (int64_t a = 0; a < n0; a++)
        for (int64_t b = 0; b < n1; b++)
            for (int64_t c = 0; c < n2; c++) RNN_AT3(t, a, b, c) = *src++;
}

/* Rows of a 3-d view usable as a matrix with unit column stride; *ld gets the row stride. */
static int view_rows(const attn_tensor *x, int64_t *ld)
{
    const int64_t n1 = x->shape[1], D = x->shape[2];
    if (x->stride[2] != 1 && D > 1) return 0;
    if (n1 > 1 && x->stride[1] < D) return 0;
    *ld = n1 == 1 ? D : x->stride[1];
    return 1;
}

int rnn_project(const attn_tensor *x, const float *W, const float *bias, int64_t A, float *y,
                float *tmp, int threads)
{
    const int64_t n0 = x->shape[0], n1 = x->shape[1], D = x->shape[2];
    int64_t ld;
    if (view_rows(x, &ld)) {
        for (int64_t a = 0; a < n0; a++)
            ATTN_TRY(attn_sgemm(ATTN_NO_TRANS, ATTN_TRANS, n1, A, D, 1.0f, x->data + a * x->stride[0],
                                ld, W, D, 0.0f, y + a * n1 * A, A, threads));
    } else {
        rnn_pack3(x, tmp);
        ATTN_TRY(attn_sgemm(ATTN_NO_TRANS, ATTN_TRANS, n0 * n1, A, D, 1.0f, tmp, D, W, D, 0.0f, y,
                            A, threads));
    }
    if (bias)
        for (int64_t r = 0; r < n0 * n1; r++)
            for (int64_t a = 0; a < A; a++) y[r * A + a] += bias[a];
    return ATTN_OK;
}

int rnn_project_backward(const attn_tensor *x, const float *W, int64_t A, const float *dy,
                         attn_tensor *dx, float *dW, float *dbias, float *tmp, int threads)
{
    const int64_t n0 = x->shape[0], n1 = x->shape[1], D = x->shape[2];
    int64_t ld;
    if (dx) {
        if (view_rows(dx, &ld)) {
            for (int64_t a = 0; a < n0; a++)
                ATTN_TRY(attn_sgemm(ATTN_NO_TRANS, ATTN_NO_TRANS, n1, D, A, 1.0f, dy + a * n1 * A, A,
                                    W, D, 0.0f, dx->data + a * dx->stride[0], ld, threads));
        } else {
            ATTN_TRY(attn_sgemm(ATTN_NO_TRANS, ATTN_NO_TRANS, n0 * n1, D, A, 1.0f, dy, A, W, D,
                                0.0f, tmp, D, threads));
            rnn_unpack3(tmp, dx);
        }
    }
    if (dW) {
        if (view_rows(x, &ld)) {
            for (int64_t a = 0; a < n0; a++)
                ATTN_TRY(attn_sgemm(ATTN_TRANS, ATTN_NO_TRANS, A, D, n1, 1.0f, dy + a * n1 * A, A,
                                    x->data + a * x->stride[0], ld, 1.0f, dW, D, threads));
        } else {
            rnn_pack3(x, tmp);
            ATTN_TRY(attn_sgemm(ATTN_TRANS, ATTN_NO_TRANS, A, D, n0 * n1, 1.0f, dy, A, tmp, D,
                                1.0f, dW, D, threads));
        }
    }
    if (dbias)
        for (int64_t r = 0; r < n0 * n1; r++)
            for (int64_t a = 0; a < A; a++) dbias[a] += dy[r * A + a];
    return ATTN_OK;
}

/* σ(x) = (1 + tanh(x/2)) / 2 with the branch-free tanh: the gate loop vectorizes. */
static inline float sigmoidf(float x) { return 0.5f + 0.5f * rnn_tanhf(0.5f * x); }

ATTN_SIMD_CLONES
int rnn_gru_cell(int64_t B, int64_t H, const float *gi, int64_t ldgi, const float *h, int64_t ldh,
                 const float *w_hh, const float *b_hh, float *gh, float *gates, float *hout,
                 int64_t ldo, const uint8_t *active, int threads)
{
    /* gh = h · W_hhᵀ : [B, 3H] */
    ATTN_TRY(attn_sgemm(ATTN_NO_TRANS, ATTN_TRANS, B, 3 * H, H, 1.0f, h, ldh, w_hh, H, 0.0f, gh,
                        3 * H, threads));
    for (int64_t b = 0; b < B; b++) {
        const float *gib = gi + b * ldgi, *hb = h + b * ldh;
        float *ghb = gh + b * 3 * H, *ob = hout + b * ldo;
        float *gb = gates ? gates + b * 4 * H : NULL;
        if (active && !active[b]) {
            if (ob != hb) memmove(ob, hb, (size_t)H * sizeof *ob);
            if (gb) memset(gb, 0, (size_t)(4 * H) * sizeof *gb);
            continue;
        }
        for (int64_t u = 0; u < H; u++) {
            float ghr = ghb[u], ghz = ghb[H + u], ghn = ghb[2 * H + u];
            if (b_hh) ghr += b_hh[u], ghz += b_hh[H + u], ghn += b_hh[2 * H + u];
            float r = sigmoidf(gib[u] + ghr);
            float z = sigmoidf(gib[H + u] + ghz);
            float n = rnn_tanhf(gib[2 * H + u] + r * ghn);
            float hp = hb[u];
            ob[u] = (1.0f - z) * n + z * hp;
            if (gb) gb[u] = r, gb[H + u] = z, gb[2 * H + u] = n, gb[3 * H + u] = ghn;
        }
    }
    return ATTN_OK;
}

ATTN_SIMD_CLONES
int rnn_gru_cell_backward(int64_t B, int64_t H, const float *h, int64_t ldh, const float *w_hh,
                          const float *gates, float *dh, float *dgi, int64_t lddgi, float *dgh,
                          float *dw_hh, float *db_hh, const uint8_t *active, int threads)
{
    for (int64_t b = 0; b < B; b++) {
        float *dgb = dgh + b * 3 * H, *dib = dgi + b * lddgi, *dhb = dh + b * H;
        if (active && !active[b]) {
            memset(dgb, 0, (size_t)(3 * H) * sizeof *dgb);
            memset(dib, 0, (size_t)(3 * H) * sizeof *dib);
            continue;
        }
        const float *gb = gates + b * 4 * H, *hb = h + b * ldh;
        for (int64_t u = 0; u < H; u++) {
            float r = gb[u], z = gb[H + u], n = gb[2 * H + u], ghn = gb[3 * H + u];
            float d = dhb[u];
            /* h' = (1 − z)·n + z·h */
            float dn = d * (1.0f - z), dz = d * (hb[u] - n);
            /* n = tanh(gi_n + r·gh_n) */
            float dan = dn * (1.0f - n * n);
            float dr = dan * ghn;
            /* r = σ(·), z = σ(·) */
            float dar = dr * r * (1.0f - r), daz = dz * z * (1.0f - z);
            dib[u] = dar, dib[H + u] = daz, dib[2 * H + u] = dan;
            dgb[u] = dar, dgb[H + u] = daz, dgb[2 * H + u] = dan * r;
            dhb[u] = d * z; /* the direct path h → h' */
        }
    }
    /* dh += dgh · W_hh ; dW_hh += dghᵀ · h ; db_hh += Σ_b dgh */
    ATTN_TRY(attn_sgemm(ATTN_NO_TRANS, ATTN_NO_TRANS, B, H, 3 * H, 1.0f, dgh, 3 * H, w_hh, H, 1.0f,
                        dh, H, threads));
    if (dw_hh)
        ATTN_TRY(attn_sgemm(ATTN_TRANS, ATTN_NO_TRANS, 3 * H, H, B, 1.0f, dgh, 3 * H, h, ldh, 1.0f,
                            dw_hh, H, threads));
    if (db_hh)
        for (int64_t b = 0; b < B; b++)
            for (int64_t u = 0; u < 3 * H; u++) db_hh[u] += dgh[b * 3 * H + u];
    return ATTN_OK;
}
