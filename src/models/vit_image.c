/* vit_image.c — trained image classifiers (attn/image.h): checkpoints with their normalisation
 * and class names, prediction, evaluation with a confusion matrix, and the class token's
 * attention (per head and rolled out) for pictures. */
#include "../nn/nn_internal.h"

#include "attn/analysis.h"
#include "attn/image.h"
#include "attn/io.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int attn_image_model_meta(const attn_vit *m, float mean, float std, const char *labels, char *buf,
                          size_t cap, const char **kv, int kv_cap)
{
    static const char fn[] = "attn_image_model_meta";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, buf);
    ATTN_REQUIRE_NONNULL(fn, kv);
    if (!(std > 0) || !isfinite(mean) || !isfinite(std))
        return attn_fail(ATTN_E_ARG, "%s: mean %g, std %g", fn, (double)mean, (double)std);
    if (cap < 64 || kv_cap < 10) return attn_fail(ATTN_E_ARG, "%s: buffers too small", fn);
    const size_t tail = 64; /* the normalisation's two numbers */
    int n = attn_vit_config_to_meta(&m->cfg, buf, cap - tail, kv, kv_cap - 8);
    if (n < 0) return n;
    char *num = buf + cap - tail;
    snprintf(num, 32, "%.9g", (double)mean);
    snprintf(num + 32, 32, "%.9g", (double)std);
    kv[n++] = "attn.arch", kv[n++] = "vit";
    kv[n++] = "attn.image.mean", kv[n++] = num;
    kv[n++] = "attn.image.std", kv[n++] = num + 32;
    if (labels) kv[n++] = "attn.image.labels", kv[n++] = labels;
    kv[n] = NULL;
    return n;
}

void attn_image_model_free(attn_image_model *m)
{
    if (!m) return;
    attn_vit_free(m->vit);
    if (m->labels) free(m->labels[0]);
    free(m->labels);
    free(m);
}

static int read_float(const attn_st_reader *st, const char *path, const char *key, float *out)
{
    const char *v = attn_st_metadata(st, key);
    char *end = NULL;
    double d = v ? strtod(v, &end) : NAN;
    if (!v || end == v || *end || !isfinite(d))
        return attn_fail(ATTN_E_FORMAT, "%s: metadata %s is %s (a number wanted; not an image "
                         "model written by attn train image?)", path, key, v ? v : "missing");
    *out = (float)d;
    return ATTN_OK;
}

/* labels: the metadata's comma-separated names when there are exactly `classes` of them,
 * otherwise "0", "1", …; one allocation for the strings (labels[0]). */
static int make_labels(attn_image_model *m, const char *names)
{
    const int64_t C = m->classes;
    int64_t commas = 0;
    if (names)
        for (const char *p = names; *p; p++) commas += *p == ',';
    if (!names || commas + 1 != C) names = NULL;
    size_t len = names ? strlen(names) + 1 : (size_t)C * 24;
    m->labels = calloc((size_t)C, sizeof *m->labels);
    char *buf = malloc(len);
    if (!m->labels || !buf) {
        free(buf);
        return attn_fail(ATTN_E_NOMEM, "attn_image_model_load: out of memory");
    }
    if (names) {
        memcpy(buf, names, len);
        char *p = buf;
        for (int64_t k = 0; k < C; k++) {
            m->labels[k] = p;
            p += strcspn(p, ",");
            if (*p) *p++ = 0;
        }
    } else {
        for (int64_t k = 0; k < C; k++) {
            m->labels[k] = buf + k * 24;
            snprintf(m->labels[k], 24, "%lld", (long long)k);
        }
    }
    return ATTN_OK;
}

int attn_image_model_load(const char *path, attn_image_model **out)
{
    static const char fn[] = "attn_image_model_load";
    ATTN_REQUIRE_NONNULL(fn, path);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    attn_st_reader *st = NULL;
    ATTN_TRY(attn_st_open(path, &st));
    attn_image_model *m = calloc(1, sizeof *m);
    int s = m ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    const char *arch = attn_st_metadata(st, "attn.arch");
    if (s == ATTN_OK && (!arch || strcmp(arch, "vit")))
        s = attn_fail(ATTN_E_FORMAT, "%s: attn.arch is %s, not vit (an image model)", path,
                      arch ? arch : "missing");
    attn_vit_config cfg;
    if (s == ATTN_OK) s = attn_vit_config_from_reader(st, &cfg);
    if (s == ATTN_OK) s = read_float(st, path, "attn.image.mean", &m->mean);
    if (s == ATTN_OK) s = read_float(st, path, "attn.image.std", &m->std);
    if (s == ATTN_OK && !(m->std > 0))
        s = attn_fail(ATTN_E_FORMAT, "%s: attn.image.std %g is not positive", path, (double)m->std);
    if (s == ATTN_OK) s = attn_vit_create(&cfg, 0, &m->vit);
    if (s == ATTN_OK) s = attn_checkpoint_load(m->vit->P, st);
    if (s == ATTN_OK) m->classes = cfg.num_classes, s = make_labels(m, attn_st_metadata(st, "attn.image.labels"));
    attn_st_close(st);
    if (s != ATTN_OK) {
        attn_image_model_free(m);
        return s;
    }
    *out = m;
    return ATTN_OK;
}

static int64_t image_px(const attn_vit_config *c) { return c->channels * c->image_size * c->image_size; }

int attn_image_model_predict(const attn_image_model *m, const uint8_t *pixels, int64_t N,
                             int32_t *pred, float *probs)
{
    static const char fn[] = "attn_image_model_predict";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, pixels);
    if (N < 1) return attn_fail(ATTN_E_ARG, "%s: N=%lld", fn, (long long)N);
    const int64_t px = image_px(&m->vit->cfg), C = m->classes, chunk = 256;
    float *x = malloc((size_t)((N < chunk ? N : chunk) * px) * sizeof *x);
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    int s = x ? attn_tape_create(&tc, &t) : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    if (s == ATTN_OK) attn_tape_set_training(t, 0);
    for (int64_t at = 0; s == ATTN_OK && at < N; at += chunk) {
        const int64_t b = N - at < chunk ? N - at : chunk;
        attn_var *logits = NULL;
        s = attn_image_normalize(pixels + at * px, b * px, m->mean, m->std, x);
        if (s == ATTN_OK) s = attn_tape_reset(t);
        if (s == ATTN_OK) s = attn_vit_forward(t, m->vit, x, b, &logits, NULL);
        for (int64_t i = 0; s == ATTN_OK && i < b; i++) {
            const float *row = logits->data + i * C;
            int64_t best = 0;
            float mx = row[0];
            for (int64_t k = 1; k < C; k++)
                if (row[k] > row[best]) best = k, mx = row[k];
            if (pred) pred[at + i] = (int32_t)best;
            if (!probs) continue;
            double z = 0;
            for (int64_t k = 0; k < C; k++) z += exp((double)(row[k] - mx));
            for (int64_t k = 0; k < C; k++)
                probs[(at + i) * C + k] = (float)(exp((double)(row[k] - mx)) / z);
        }
    }
    attn_tape_free(t);
    free(x);
    return s;
}

int attn_image_model_attention(const attn_image_model *m, const uint8_t *pixels, float *maps,
                               float *rollout)
{
    static const char fn[] = "attn_image_model_attention";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, pixels);
    const attn_vit *v = m->vit;
    const int64_t L = v->cfg.num_layers, H = v->cfg.nhead, T = v->tokens, G = v->grid;
    const int cls = v->cls_token != NULL;
    float *x = malloc((size_t)image_px(&v->cfg) * sizeof *x);
    const float **w = calloc((size_t)(L * H), sizeof *w);
    double *roll = malloc((size_t)(T * T) * sizeof *roll), *score = malloc((size_t)T * sizeof *score);
    attn_tape *t = NULL;
    attn_attention_record *rec = NULL;
    attn_tape_config tc = {0};
    int s = x && w && roll && score ? attn_tape_create(&tc, &t) : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    if (s == ATTN_OK) attn_tape_set_training(t, 0), s = attn_attention_record_create(t, &rec);
    if (s == ATTN_OK) s = attn_image_normalize(pixels, image_px(&v->cfg), m->mean, m->std, x);
    attn_var *logits = NULL;
    if (s == ATTN_OK) s = attn_vit_forward(t, v, x, 1, &logits, NULL);
    if (s == ATTN_OK) s = attn_attention_record_status(rec);
    if (s == ATTN_OK && attn_attention_record_count(rec) != L)
        s = attn_fail(ATTN_E_STATE, "%s: %d attention maps recorded, %lld layers", fn,
                      attn_attention_record_count(rec), (long long)L);
    for (int64_t l = 0; s == ATTN_OK && l < L; l++) {
        attn_attention_map a;
        s = attn_attention_record_map(rec, (int)l, &a);
        if (s == ATTN_OK && (a.N != 1 || a.H != H || a.L != T || a.S != T))
            s = attn_fail(ATTN_E_STATE, "%s: map %lld is [%lld, %lld, %lld, %lld]", fn, (long long)l,
                          (long long)a.N, (long long)a.H, (long long)a.L, (long long)a.S);
        for (int64_t h = 0; s == ATTN_OK && h < H; h++) {
            const float *wh = a.w + h * T * T;
            w[l * H + h] = wh;
            if (!maps) continue;
            /* the pooled row (class token's, or the mean of the patches' rows) over the patches */
            float *dst = maps + (l * H + h) * G * G;
            double sum = 0;
            for (int64_t j = 0; j < G * G; j++) {
                double acc = 0;
                if (cls) acc = wh[cls + j];
                else
                    for (int64_t q = 0; q < T; q++) acc += wh[q * T + j] / (double)T;
                dst[j] = (float)acc, sum += acc;
            }
            for (int64_t j = 0; j < G * G; j++) dst[j] = sum > 0 ? (float)(dst[j] / sum) : 0.0f;
        }
    }
    if (s == ATTN_OK && rollout) s = attn_attention_rollout(w, L, H, T, roll);
    if (s == ATTN_OK && rollout)
        s = attn_attention_rollout_scores(roll, T, cls ? 0 : ATTN_ROLLOUT_MEAN, score);
    if (s == ATTN_OK && rollout) {
        double sum = 0;
        for (int64_t j = 0; j < G * G; j++) sum += score[cls + j];
        for (int64_t j = 0; j < G * G; j++) rollout[j] = sum > 0 ? (float)(score[cls + j] / sum) : 0.0f;
    }
    attn_attention_record_free(rec);
    attn_tape_free(t);
    free(x), free(w), free(roll), free(score);
    return s;
}

void attn_image_eval_free(attn_image_eval *e)
{
    if (!e) return;
    free(e->confusion), free(e->precision), free(e->recall);
    memset(e, 0, sizeof *e);
}

int attn_image_evaluate(const attn_image_model *m, const attn_image_set *s, attn_image_eval *out)
{
    static const char fn[] = "attn_image_evaluate";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, s);
    ATTN_REQUIRE_NONNULL(fn, out);
    memset(out, 0, sizeof *out);
    const attn_vit_config *c = &m->vit->cfg;
    if (s->height != c->image_size || s->width != c->image_size || s->channels != c->channels)
        return attn_fail(ATTN_E_ARG, "%s: the images are %lld×%lld×%lld, the model takes %lld×%lld×%lld",
                         fn, (long long)s->channels, (long long)s->height, (long long)s->width,
                         (long long)c->channels, (long long)c->image_size, (long long)c->image_size);
    const int64_t C = m->classes;
    for (int64_t i = 0; i < s->n; i++)
        if (s->labels[i] >= C)
            return attn_fail(ATTN_E_ARG, "%s: image %lld has label %d, the model has %lld classes",
                             fn, (long long)i, (int)s->labels[i], (long long)C);
    int32_t *pred = malloc((size_t)s->n * sizeof *pred);
    out->confusion = calloc((size_t)(C * C), sizeof *out->confusion);
    out->precision = malloc((size_t)C * sizeof *out->precision);
    out->recall = malloc((size_t)C * sizeof *out->recall);
    int st = pred && out->confusion && out->precision && out->recall
                 ? attn_image_model_predict(m, s->pixels, s->n, pred, NULL)
                 : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    if (st == ATTN_OK) {
        out->n = s->n, out->classes = C;
        for (int64_t i = 0; i < s->n; i++) {
            out->confusion[s->labels[i] * C + pred[i]]++;
            out->correct += pred[i] == s->labels[i];
        }
        out->accuracy = (double)out->correct / (double)s->n;
        double mp = 0, mr = 0;
        int np = 0, nr = 0;
        for (int64_t k = 0; k < C; k++) {
            int64_t row = 0, col = 0;
            for (int64_t j = 0; j < C; j++) row += out->confusion[k * C + j], col += out->confusion[j * C + k];
            const double tp = (double)out->confusion[k * C + k];
            out->precision[k] = col ? tp / (double)col : NAN;
            out->recall[k] = row ? tp / (double)row : NAN;
            if (col) mp += out->precision[k], np++;
            if (row) mr += out->recall[k], nr++;
        }
        out->macro_precision = np ? mp / np : NAN;
        out->macro_recall = nr ? mr / nr : NAN;
    }
    free(pred);
    if (st != ATTN_OK) attn_image_eval_free(out);
    return st;
}
