/* optim.c — SGD, Adam, AdamW over a parameter table (torch.optim's update rules, single-tensor
 * form), learning-rate schedules, and gradient clipping by global norm. */
#include "nn_internal.h"

struct attn_optim {
    attn_params *P;
    attn_optim_config cfg;
    int64_t steps;
    int count;
    float **m, **v; /* per parameter: momentum / first moment, second moment (Adam) */
};

void attn_optim_free(attn_optim *o)
{
    if (!o) return;
    for (int i = 0; i < o->count; i++) {
        if (o->m) free(o->m[i]);
        if (o->v) free(o->v[i]);
    }
    free(o->m);
    free(o->v);
    free(o);
}

int attn_optim_create(attn_params *P, const attn_optim_config *cfg, attn_optim **out)
{
    static const char fn[] = "attn_optim_create";
    ATTN_REQUIRE_NONNULL(fn, P);
    ATTN_REQUIRE_NONNULL(fn, cfg);
    ATTN_REQUIRE_NONNULL(fn, out);
    attn_optim_config c = *cfg;
    if (c.kind < ATTN_OPTIM_SGD || c.kind > ATTN_OPTIM_ADAMW)
        return attn_fail(ATTN_E_ARG, "%s: unknown optimiser kind %d", fn, (int)c.kind);
    if (!c.beta1) c.beta1 = 0.9f;
    if (!c.beta2) c.beta2 = 0.999f;
    if (!c.eps) c.eps = 1e-8f;
    if (!(c.momentum >= 0) || !(c.weight_decay >= 0) || !(c.beta1 >= 0 && c.beta1 < 1) ||
        !(c.beta2 >= 0 && c.beta2 < 1) || !(c.eps > 0))
        return attn_fail(ATTN_E_ARG, "%s: momentum, weight_decay >= 0, betas in [0, 1), eps > 0 required",
                         fn);
    if (c.nesterov && (c.momentum <= 0 || c.dampening != 0))
        return attn_fail(ATTN_E_ARG, "%s: nesterov needs momentum > 0 and dampening = 0", fn);
    ATTN_TRY(attn_params_alloc_grads(P)); /* a parameter no gradient reaches steps with 0 */
    attn_optim *o = calloc(1, sizeof *o);
    if (!o) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    o->P = P, o->cfg = c;
    o->count = attn_params_count(P);
    int need_m = c.kind != ATTN_OPTIM_SGD || c.momentum > 0, need_v = c.kind != ATTN_OPTIM_SGD;
    o->m = calloc((size_t)o->count + 1, sizeof *o->m);
    o->v = calloc((size_t)o->count + 1, sizeof *o->v);
    int failed = !o->m || !o->v;
    for (int i = 0; !failed && i < o->count; i++) {
        size_t bytes = (size_t)attn_params_at(P, i)->numel * sizeof(float);
        if (need_m) failed |= !(o->m[i] = calloc(1, bytes));
        if (need_v) failed |= !(o->v[i] = calloc(1, bytes));
    }
    if (failed) {
        attn_optim_free(o);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory for optimiser state", fn);
    }
    *out = o;
    return ATTN_OK;
}

int64_t attn_optim_steps(const attn_optim *o) { return o ? o->steps : 0; }

int attn_optim_state(attn_optim *o, int i, float **m, float **v)
{
    static const char fn[] = "attn_optim_state";
    ATTN_REQUIRE_NONNULL(fn, o);
    if (i < 0 || i >= o->count)
        return attn_fail(ATTN_E_ARG, "%s: i=%d outside [0, %d)", fn, i, o->count);
    if (m) *m = o->m[i];
    if (v) *v = o->v[i];
    return ATTN_OK;
}

int attn_optim_set_steps(attn_optim *o, int64_t steps)
{
    ATTN_REQUIRE_NONNULL("attn_optim_set_steps", o);
    if (steps < 0) return attn_fail(ATTN_E_ARG, "attn_optim_set_steps: steps=%lld < 0", (long long)steps);
    o->steps = steps;
    return ATTN_OK;
}

/* SGD: d = g + wd·p; buf = d (first step) or μ·buf + (1−τ)·d; d = d + μ·buf (nesterov) or buf;
 * p −= lr·d. */
static void sgd(const attn_optim_config *c, int first, float lr, int64_t n, float *p,
                const float *g, float *buf, int threads)
{
#pragma omp parallel for if(ATTN_WORTH_THREADS(n)) num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float d = g[i] + c->weight_decay * p[i];
        if (buf) {
            buf[i] = first ? d : c->momentum * buf[i] + (1 - c->dampening) * d;
            d = c->nesterov ? d + c->momentum * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
}

/* Adam / AdamW at step t (1-based): m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
 * p −= (lr/(1−β1ᵗ))·m / (√v/√(1−β2ᵗ) + eps). Adam adds wd·p to g; AdamW first scales p by
 * (1 − lr·wd). In double, element by element; the loop takes its constants as arguments and
 * its arrays as restrict so that it vectorizes (with the config read through a pointer the
 * compiler had to assume every float store could change it: scalar divisions and square
 * roots: 3.6 % of a GPT training step's perf samples). */
ATTN_SIMD_CLONES
static void adam_chunk(int64_t n, float *restrict p, const float *restrict g, float *restrict m,
                       float *restrict v, int decoupled, double wd, double lr, double b1,
                       double b2, double step, double bc2, double eps)
{
    for (int64_t i = 0; i < n; i++) {
        double pi = p[i], gi = g[i];
        if (decoupled) pi *= 1 - lr * wd;
        else gi += wd * pi;
        double mi = b1 * (double)m[i] + (1 - b1) * gi;
        double vi = b2 * (double)v[i] + (1 - b2) * gi * gi;
        m[i] = (float)mi, v[i] = (float)vi;
        p[i] = (float)(pi - step * mi / (sqrt(vi) / bc2 + eps));
    }
}

#define ADAM_CHUNK 8192

static void adam(const attn_optim_config *c, int64_t t, float lr, int64_t n, float *p,
                 const float *g, float *m, float *v, int threads)
{
    const double bc1 = 1 - pow(c->beta1, (double)t), bc2 = sqrt(1 - pow(c->beta2, (double)t));
    const double step = lr / bc1;
    const int decoupled = c->kind == ATTN_OPTIM_ADAMW;
    const double wd = c->weight_decay, b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    const int64_t chunks = (n + ADAM_CHUNK - 1) / ADAM_CHUNK;
#pragma omp parallel for if(ATTN_WORTH_THREADS(n)) num_threads(threads) schedule(static)
    for (int64_t k = 0; k < chunks; k++) {
        const int64_t i0 = k * ADAM_CHUNK, len = n - i0 < ADAM_CHUNK ? n - i0 : ADAM_CHUNK;
        adam_chunk(len, p + i0, g + i0, m + i0, v + i0, decoupled, wd, lr, b1, b2, step, bc2, eps);
    }
}

int attn_optim_step(attn_optim *o, float lr)
{
    static const char fn[] = "attn_optim_step";
    ATTN_REQUIRE_NONNULL(fn, o);
    if (!(lr >= 0) || isinf(lr)) return attn_fail(ATTN_E_ARG, "%s: lr=%g must be finite and >= 0", fn, (double)lr);
    if (attn_params_count(o->P) != o->count)
        return attn_fail(ATTN_E_STATE, "%s: the table grew from %d to %d parameters since creation", fn,
                         o->count, attn_params_count(o->P));
    const int threads = attn_resolve_threads(0);
    o->steps++;
    for (int i = 0; i < o->count; i++) {
        attn_param *p = attn_params_at(o->P, i);
        attn_optim_config c = o->cfg;
        if (p->no_weight_decay) c.weight_decay = 0;
        if (c.kind == ATTN_OPTIM_SGD)
            sgd(&c, o->steps == 1, lr, p->numel, p->data, p->grad, o->m[i], threads);
        else
            adam(&c, o->steps, lr, p->numel, p->data, p->grad, o->m[i], o->v[i], threads);
    }
    return ATTN_OK;
}

float attn_schedule_lr(const attn_schedule *s, int64_t step)
{
    if (!s || step < 0) return 0.0f;
    const double W = (double)s->warmup_steps, x = (double)step;
    double f = 1;
    if (s->kind != ATTN_SCHEDULE_CONSTANT && s->warmup_steps > 0 && x < W) {
        f = x / W;
    } else if (s->kind == ATTN_SCHEDULE_INVSQRT) {
        f = s->warmup_steps > 0 ? sqrt(W / x) : 1.0 / sqrt(x > 1 ? x : 1);
    } else if (s->kind == ATTN_SCHEDULE_COSINE) {
        double span = (double)(s->total_steps - s->warmup_steps);
        double prog = span > 0 ? (x - W) / span : 1;
        if (prog > 1) prog = 1;
        f = s->min_ratio + (1 - s->min_ratio) * 0.5 * (1 + cos(M_PI * prog));
    }
    return (float)(s->base_lr * f);
}

int attn_clip_grad_norm(attn_params *P, float max_norm, float *total_norm)
{
    static const char fn[] = "attn_clip_grad_norm";
    ATTN_REQUIRE_NONNULL(fn, P);
    if (!(max_norm >= 0)) return attn_fail(ATTN_E_ARG, "%s: max_norm=%g must be >= 0", fn, (double)max_norm);
    double ss = 0;
    for (int i = 0; i < attn_params_count(P); i++) {
        const attn_param *p = attn_params_at(P, i);
        for (int64_t j = 0; p->grad && j < p->numel; j++) ss += (double)p->grad[j] * p->grad[j];
    }
    double total = sqrt(ss);
    if (total_norm) *total_norm = (float)total;
    double coef = max_norm / (total + 1e-6);
    if (max_norm > 0 && coef < 1)
        for (int i = 0; i < attn_params_count(P); i++) {
            attn_param *p = attn_params_at(P, i);
            for (int64_t j = 0; p->grad && j < p->numel; j++) p->grad[j] = (float)(p->grad[j] * coef);
        }
    return ATTN_OK;
}

