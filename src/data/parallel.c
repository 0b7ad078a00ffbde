/* parallel.c — line-aligned parallel text (Multi30k) and plain line files. */
#include "data_internal.h"

#include <string.h>

typedef struct parallel_store {
    char *buf[2];
    size_t *lens[2];
} parallel_store;

void attn_parallel_free(attn_parallel *p)
{
    if (!p) return;
    parallel_store *s = p->priv_;
    if (s) {
        for (int i = 0; i < 2; i++) free(s->buf[i]), free(s->lens[i]);
        free(s);
    }
    free(p->src), free(p->tgt);
    free(p);
}

/* Read and split one file into side k of p. */
static int load_side(const char *fn, const char *path, attn_parallel *p, int k, char ***lines,
                     int64_t *n)
{
    parallel_store *s = p->priv_;
    size_t len;
    ATTN_TRY(attn_read_file(fn, path, &s->buf[k], &len));
    ATTN_TRY(attn_split_lines(fn, path, s->buf[k], len, lines, &s->lens[k], n));
    for (int64_t i = 0; i < *n; i++)
        ATTN_TRY(attn_check_line_utf8(fn, path, i + 1, (*lines)[i], s->lens[k][i]));
    return ATTN_OK;
}

static int load(const char *fn, const char *src_path, const char *tgt_path, attn_parallel **out)
{
    ATTN_REQUIRE_NONNULL(fn, src_path);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    attn_parallel *p = calloc(1, sizeof *p);
    if (!p || !(p->priv_ = calloc(1, sizeof(parallel_store)))) {
        free(p);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    int64_t ns = 0, nt = 0;
    int st = load_side(fn, src_path, p, 0, &p->src, &ns);
    if (st == ATTN_OK && tgt_path) st = load_side(fn, tgt_path, p, 1, &p->tgt, &nt);
    if (st == ATTN_OK && tgt_path && ns != nt)
        st = attn_fail(ATTN_E_FORMAT, "%s: %s has %lld lines but %s has %lld", fn, src_path,
                       (long long)ns, tgt_path, (long long)nt);
    if (st != ATTN_OK) {
        attn_parallel_free(p);
        return st;
    }
    p->n = ns;
    *out = p;
    return ATTN_OK;
}

int attn_parallel_load(const char *src_path, const char *tgt_path, attn_parallel **out)
{
    static const char fn[] = "attn_parallel_load";
    ATTN_REQUIRE_NONNULL(fn, tgt_path);
    return load(fn, src_path, tgt_path, out);
}

int attn_lines_load(const char *path, attn_parallel **out)
{
    return load("attn_lines_load", path, NULL, out);
}
