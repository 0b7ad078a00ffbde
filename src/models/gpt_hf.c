/* gpt_hf.c — Hugging Face GPT-2 checkpoints (config.json + model.safetensors) into attn_gpt.
 *
 * GPT-2's block is attn_gpt's with the tanh GELU: ln_1 → c_attn (q, k, v side by side, heads
 * contiguous in each, as torch's in_proj) → c_proj → residual; ln_2 → c_fc → gelu_new → c_proj
 * → residual. Its Conv1D layers store weight [in, out] (y = x·W + b), attn's linear layers
 * [out, in], so every Conv1D weight is transposed on the way in. Everything is checked against
 * the configuration before the model is allocated. */
#include "internal.h"

#include "../io/json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char fn[] = "attn_gpt_load_hf";

#define HF_MAX_CONFIG ((size_t)1 << 20) /* bytes of config.json */
#define HF_PATH_MAX 4200

/* One tensor of the checkpoint: its name after the block prefix, attn's name, the shape the
 * configuration implies (rows, cols; cols 0 for a vector) and whether it is a Conv1D weight. */
typedef struct hf_tensor {
    const char *hf, *ours;
    int64_t rows, cols;
    int conv1d;
} hf_tensor;

enum { N_BLOCK_TENSORS = 12 };

static void block_tensors(int64_t d, int64_t ff, hf_tensor t[N_BLOCK_TENSORS])
{
    const hf_tensor tab[N_BLOCK_TENSORS] = {
        {"ln_1.weight", "norm1.weight", d, 0, 0},
        {"ln_1.bias", "norm1.bias", d, 0, 0},
        {"attn.c_attn.weight", "self_attn.in_proj_weight", d, 3 * d, 1},
        {"attn.c_attn.bias", "self_attn.in_proj_bias", 3 * d, 0, 0},
        {"attn.c_proj.weight", "self_attn.out_proj.weight", d, d, 1},
        {"attn.c_proj.bias", "self_attn.out_proj.bias", d, 0, 0},
        {"ln_2.weight", "norm2.weight", d, 0, 0},
        {"ln_2.bias", "norm2.bias", d, 0, 0},
        {"mlp.c_fc.weight", "linear1.weight", d, ff, 1},
        {"mlp.c_fc.bias", "linear1.bias", ff, 0, 0},
        {"mlp.c_proj.weight", "linear2.weight", ff, d, 1},
        {"mlp.c_proj.bias", "linear2.bias", d, 0, 0},
    };
    memcpy(t, tab, sizeof tab);
}

static int read_config_text(const char *path, char **data, size_t *len)
{
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return attn_fail(ATTN_E_IO, "%s: cannot open %s: %s", fn, path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > HF_MAX_CONFIG) {
        fclose(f);
        return attn_fail(ATTN_E_FORMAT, "%s: %s is not a regular file of at most %zu bytes", fn,
                         path, HF_MAX_CONFIG);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    size_t got = buf ? fread(buf, 1, n, f) : 0;
    fclose(f);
    if (!buf || got != n) {
        free(buf);
        return attn_fail(buf ? ATTN_E_IO : ATTN_E_NOMEM, "%s: cannot read %s", fn, path);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return ATTN_OK;
}

/* An integer member of config.json in [lo, hi]; absent: *out = dflt, or an error if dflt < 0. */
static int config_int(const char *path, const attn_json *root, const char *key, int64_t lo,
                      int64_t hi, int64_t dflt, int64_t *out)
{
    const attn_json *v = attn_json_member(root, key);
    if (!v || (attn_json_type_of(v) == ATTN_JSON_OTHER && attn_json_bool(v) < 0 && dflt >= 0)) {
        if (dflt < 0) return attn_fail(ATTN_E_FORMAT, "%s: %s has no \"%s\"", fn, path, key);
        *out = dflt; /* absent or null */
        return ATTN_OK;
    }
    double d = attn_json_number(v);
    if (!(d >= (double)lo && d <= (double)hi && d == (double)(int64_t)d))
        return attn_fail(ATTN_E_FORMAT, "%s: %s: \"%s\" must be an integer in [%lld, %lld]", fn,
                         path, key, (long long)lo, (long long)hi);
    *out = (int64_t)d;
    return ATTN_OK;
}

/* A boolean member that must have the value `want` when present. */
static int config_flag(const char *path, const attn_json *root, const char *key, int want)
{
    const attn_json *v = attn_json_member(root, key);
    if (!v) return ATTN_OK;
    int b = attn_json_bool(v);
    if (b < 0) return attn_fail(ATTN_E_FORMAT, "%s: %s: \"%s\" must be true or false", fn, path, key);
    if (b != want)
        return attn_fail(ATTN_E_UNSUPPORTED, "%s: %s: \"%s\": %s is not supported", fn, path, key,
                         b ? "true" : "false");
    return ATTN_OK;
}

static int parse_config(const char *path, const char *text, size_t len, attn_gpt_config *c)
{
    attn_json *root = NULL;
    ATTN_TRY(attn_json_parse(path, text, len, &root));
    int st = ATTN_OK;
    int64_t d = 0, h = 0, l = 0, v = 0, p = 0, ff = 0;
    memset(c, 0, sizeof *c);
    if (attn_json_type_of(root) != ATTN_JSON_OBJECT)
        st = attn_fail(ATTN_E_FORMAT, "%s: %s is not a JSON object", fn, path);
    if (st == ATTN_OK) st = config_int(path, root, "n_embd", 1, 1 << 16, -1, &d);
    if (st == ATTN_OK) st = config_int(path, root, "n_head", 1, d, -1, &h);
    if (st == ATTN_OK) st = config_int(path, root, "n_layer", 1, 1 << 10, -1, &l);
    if (st == ATTN_OK) st = config_int(path, root, "vocab_size", 2, 1 << 24, -1, &v);
    if (st == ATTN_OK) {
        const char *key = attn_json_member(root, "n_positions") ? "n_positions" : "n_ctx";
        st = config_int(path, root, key, 1, 1 << 20, -1, &p);
    }
    if (st == ATTN_OK) st = config_int(path, root, "n_inner", 1, 1 << 20, 4 * d, &ff);
    if (st == ATTN_OK && d % h)
        st = attn_fail(ATTN_E_FORMAT, "%s: %s: n_embd %lld is not a multiple of n_head %lld", fn,
                       path, (long long)d, (long long)h);
    double eps = 1e-5;
    const attn_json *e = attn_json_member(root, "layer_norm_epsilon");
    if (st == ATTN_OK && e) {
        eps = attn_json_number(e);
        if (!(eps > 0 && eps < 1))
            st = attn_fail(ATTN_E_FORMAT, "%s: %s: layer_norm_epsilon must be in (0, 1)", fn, path);
    }
    int gelu_tanh = 1;
    const attn_json *a = attn_json_member(root, "activation_function");
    if (st == ATTN_OK && a) {
        const char *s = attn_json_string(a);
        if (s && (strcmp(s, "gelu_new") == 0 || strcmp(s, "gelu_pytorch_tanh") == 0)) gelu_tanh = 1;
        else if (s && strcmp(s, "gelu") == 0) gelu_tanh = 0;
        else st = attn_fail(ATTN_E_UNSUPPORTED, "%s: %s: activation_function \"%.40s\" is not supported (gelu_new, gelu_pytorch_tanh, gelu)",
                            fn, path, s ? s : "(not a string)");
    }
    const attn_json *mt = attn_json_member(root, "model_type");
    if (st == ATTN_OK && mt && (!attn_json_string(mt) || strcmp(attn_json_string(mt), "gpt2") != 0))
        st = attn_fail(ATTN_E_UNSUPPORTED, "%s: %s: model_type \"%.40s\" is not \"gpt2\"", fn, path,
                       attn_json_string(mt) ? attn_json_string(mt) : "(not a string)");
    if (st == ATTN_OK) st = config_flag(path, root, "scale_attn_weights", 1);
    if (st == ATTN_OK) st = config_flag(path, root, "scale_attn_by_inverse_layer_idx", 0);
    if (st == ATTN_OK) st = config_flag(path, root, "add_cross_attention", 0);
    if (st == ATTN_OK) st = config_flag(path, root, "tie_word_embeddings", 1);
    attn_json_free(root);
    if (st != ATTN_OK) return st;
    *c = (attn_gpt_config){.vocab = v, .context = p, .n_layer = l, .n_head = h, .d_model = d,
                           .layer_norm_eps = (float)eps, .gelu_tanh = gelu_tanh, .d_ff = ff};
    return ATTN_OK;
}

/* The checkpoint's name for hf (block < 0: a top-level tensor) into buf. */
static const char *hf_name(char *buf, size_t cap, const char *prefix, int64_t block,
                           const char *hf)
{
    if (block < 0) snprintf(buf, cap, "%s%s", prefix, hf);
    else snprintf(buf, cap, "%sh.%lld.%s", prefix, (long long)block, hf);
    return buf;
}

static int is_convertible(const char *dtype)
{
    return !strcmp(dtype, "F32") || !strcmp(dtype, "F16") || !strcmp(dtype, "BF16") ||
           !strcmp(dtype, "F64");
}

/* Tensor `name` must exist with shape rows (× cols). Marks it seen. */
static int check_tensor(const attn_st_reader *st, const char *path, const char *name, int64_t rows,
                        int64_t cols, char *seen)
{
    int64_t i = attn_st_find(st, name);
    if (i < 0) return attn_fail(ATTN_E_FORMAT, "%s: %s has no tensor \"%s\"", fn, path, name);
    attn_st_entry e;
    ATTN_TRY(attn_st_info(st, i, &e));
    int ok = cols ? e.ndim == 2 && e.shape[0] == rows && e.shape[1] == cols
                  : e.ndim == 1 && e.shape[0] == rows;
    if (!ok)
        return attn_fail(ATTN_E_FORMAT, "%s: %s: \"%s\" has %d dims [%lld, ...], config.json implies [%lld%s%lld]",
                         fn, path, name, e.ndim, e.ndim ? (long long)e.shape[0] : 0LL,
                         (long long)rows, cols ? ", " : "", cols ? (long long)cols : 0LL);
    if (!is_convertible(e.dtype))
        return attn_fail(ATTN_E_UNSUPPORTED, "%s: %s: \"%s\" has dtype %s (F32, F16, BF16, F64)",
                         fn, path, name, e.dtype);
    seen[i] = 1;
    return ATTN_OK;
}

/* Every tensor the configuration needs is there with its shape, nothing unknown is. */
static int check_checkpoint(const attn_st_reader *st, const char *path, const attn_gpt_config *c,
                            const char *prefix)
{
    int64_t n = attn_st_count(st), d = c->d_model;
    char *seen = calloc((size_t)n + 1, 1);
    if (!seen) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    char name[ATTN_PARAM_NAME_MAX + 32];
    hf_tensor bt[N_BLOCK_TENSORS];
    block_tensors(d, c->d_ff, bt);
    int s = check_tensor(st, path, hf_name(name, sizeof name, prefix, -1, "wte.weight"), c->vocab, d, seen);
    if (s == ATTN_OK) s = check_tensor(st, path, hf_name(name, sizeof name, prefix, -1, "wpe.weight"), c->context, d, seen);
    if (s == ATTN_OK) s = check_tensor(st, path, hf_name(name, sizeof name, prefix, -1, "ln_f.weight"), d, 0, seen);
    if (s == ATTN_OK) s = check_tensor(st, path, hf_name(name, sizeof name, prefix, -1, "ln_f.bias"), d, 0, seen);
    for (int64_t b = 0; s == ATTN_OK && b < c->n_layer; b++)
        for (int k = 0; s == ATTN_OK && k < N_BLOCK_TENSORS; k++)
            s = check_tensor(st, path, hf_name(name, sizeof name, prefix, b, bt[k].hf), bt[k].rows,
                             bt[k].cols, seen);
    if (s == ATTN_OK && attn_st_find(st, "lm_head.weight") >= 0)
        s = check_tensor(st, path, "lm_head.weight", c->vocab, d, seen);
    for (int64_t i = 0; s == ATTN_OK && i < n; i++) {
        if (seen[i]) continue;
        attn_st_entry e;
        s = attn_st_info(st, i, &e);
        if (s != ATTN_OK) break;
        /* the causal-mask buffers older checkpoints carry: h.<i>.attn.bias / .masked_bias */
        const char *rest = e.name + (strncmp(e.name, prefix, strlen(prefix)) ? 0 : strlen(prefix));
        const char *dot = strncmp(rest, "h.", 2) ? NULL : strchr(rest + 2, '.');
        if (dot && (!strcmp(dot, ".attn.bias") || !strcmp(dot, ".attn.masked_bias"))) continue;
        s = attn_fail(ATTN_E_FORMAT, "%s: %s: unexpected tensor \"%.80s\" (not part of a GPT-2 of this configuration)",
                      fn, path, e.name);
    }
    free(seen);
    return s;
}

/* Read tensor name into p (transposing a Conv1D weight [rows, cols] into [cols, rows]). */
static int read_into(const attn_st_reader *st, const char *name, attn_param *p, int64_t rows,
                     int64_t cols, int conv1d, float *tmp)
{
    if (!p) return attn_fail(ATTN_E_STATE, "%s: the model lacks the parameter for \"%s\"", fn, name);
    int64_t numel = cols ? rows * cols : rows;
    if (p->numel != numel)
        return attn_fail(ATTN_E_STATE, "%s: %s has %lld elements, \"%s\" %lld", fn, p->name,
                         (long long)p->numel, name, (long long)numel);
    if (!conv1d) return attn_st_read_f32(st, name, p->data, numel);
    ATTN_TRY(attn_st_read_f32(st, name, tmp, numel));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < cols; k++) p->data[k * rows + r] = tmp[r * cols + k];
    return ATTN_OK;
}

static int load_weights(const attn_st_reader *st, const char *prefix, attn_gpt *m)
{
    const attn_gpt_config *c = &m->cfg;
    int64_t d = c->d_model, biggest = c->vocab * d;
    if (d * c->d_ff > biggest) biggest = d * c->d_ff;
    if (3 * d * d > biggest) biggest = 3 * d * d;
    float *tmp = malloc((size_t)biggest * sizeof *tmp);
    if (!tmp) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    char name[ATTN_PARAM_NAME_MAX + 32], ours[ATTN_PARAM_NAME_MAX + 32];
    hf_tensor bt[N_BLOCK_TENSORS];
    block_tensors(d, c->d_ff, bt);
    static const char *const top[4] = {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"};
    const int64_t top_rows[4] = {c->vocab, c->context, d, d}, top_cols[4] = {d, d, 0, 0};
    int s = ATTN_OK;
    for (int k = 0; s == ATTN_OK && k < 4; k++)
        s = read_into(st, hf_name(name, sizeof name, prefix, -1, top[k]),
                      attn_params_find(m->P, top[k]), top_rows[k], top_cols[k], 0, tmp);
    for (int64_t b = 0; s == ATTN_OK && b < c->n_layer; b++)
        for (int k = 0; s == ATTN_OK && k < N_BLOCK_TENSORS; k++) {
            snprintf(ours, sizeof ours, "h.%lld.%s", (long long)b, bt[k].ours);
            s = read_into(st, hf_name(name, sizeof name, prefix, b, bt[k].hf),
                          attn_params_find(m->P, ours), bt[k].rows, bt[k].cols, bt[k].conv1d, tmp);
        }
    /* an lm_head stored beside wte must be the same matrix: attn_gpt ties them */
    if (s == ATTN_OK && attn_st_find(st, "lm_head.weight") >= 0) {
        s = attn_st_read_f32(st, "lm_head.weight", tmp, c->vocab * d);
        if (s == ATTN_OK && memcmp(tmp, m->wte.weight->data, (size_t)(c->vocab * d) * sizeof *tmp))
            s = attn_fail(ATTN_E_UNSUPPORTED, "%s: lm_head.weight differs from wte.weight (untied output layer)", fn);
    }
    free(tmp);
    return s;
}

int attn_gpt_load_hf(const char *dir, attn_gpt **out)
{
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL(fn, dir);
    if (strlen(dir) > HF_PATH_MAX - 32)
        return attn_fail(ATTN_E_ARG, "%s: directory name too long", fn);
    char cpath[HF_PATH_MAX], wpath[HF_PATH_MAX];
    snprintf(cpath, sizeof cpath, "%s/config.json", dir);
    snprintf(wpath, sizeof wpath, "%s/model.safetensors", dir);
    char *text = NULL;
    size_t len = 0;
    attn_gpt_config cfg;
    ATTN_TRY(read_config_text(cpath, &text, &len));
    int s = parse_config(cpath, text, len, &cfg);
    free(text);
    if (s != ATTN_OK) return s;
    attn_st_reader *st = NULL;
    ATTN_TRY(attn_st_open(wpath, &st));
    const char *prefix = attn_st_find(st, "transformer.wte.weight") >= 0 ? "transformer." : "";
    s = check_checkpoint(st, wpath, &cfg, prefix);
    attn_gpt *m = NULL;
    if (s == ATTN_OK) s = attn_gpt_create(&cfg, 0, &m);
    if (s == ATTN_OK) s = load_weights(st, prefix, m);
    attn_st_close(st);
    if (s != ATTN_OK) {
        attn_gpt_free(m);
        return s;
    }
    *out = m;
    return ATTN_OK;
}
