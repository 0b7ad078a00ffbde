/* safetensors_write.c — the F32 safetensors writer and its atomic commit.
 *
 * The file is produced by one routine that streams to a sink: a memory buffer
 * (attn_st_writer_serialize) or a temporary file that is fsync'ed and renamed over the target
 * (attn_st_writer_commit). Layout: tensors sorted by name, header padded with spaces to a
 * multiple of 8 bytes.
 */
#include "st_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Fault points for tests (see st_internal.h): 1 the write of the temporary file fails half
 * way (as when the disk is full), 2 fsync fails, 3 rename fails. */
int attn_st_fault_point = 0;

typedef struct w_tensor {
    char *name;
    int ndim;
    int64_t shape[ATTN_ST_MAX_NDIM];
    int64_t numel;
    const float *data;
} w_tensor;

struct attn_st_writer {
    w_tensor *t;
    int64_t count, cap;
    char **meta_key, **meta_value;
    int64_t nmeta, meta_cap;
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int attn_st_writer_create(attn_st_writer **w)
{
    ATTN_REQUIRE_NONNULL("attn_st_writer_create", w);
    *w = calloc(1, sizeof **w);
    if (!*w) return attn_fail(ATTN_E_NOMEM, "attn_st_writer_create: out of memory");
    return ATTN_OK;
}

void attn_st_writer_free(attn_st_writer *w)
{
    if (!w) return;
    for (int64_t i = 0; i < w->count; i++) free(w->t[i].name);
    free(w->t);
    for (int64_t i = 0; i < w->nmeta; i++) {
        free(w->meta_key[i]);
        free(w->meta_value[i]);
    }
    free(w->meta_key);
    free(w->meta_value);
    free(w);
}

static int check_text(const char *fn, const char *what, const char *s)
{
    size_t bad = 0;
    if (!attn_st_utf8_valid((const uint8_t *)s, strlen(s), &bad))
        return attn_fail(ATTN_E_ARG, "%s: %s '%.80s' is not valid UTF-8 (byte %zu)", fn, what, s, bad);
    return ATTN_OK;
}

/* Grow a pointer array to hold n + 1 entries. */
static int grow(void **arr, int64_t *cap, int64_t n, size_t elem)
{
    if (n < *cap) return ATTN_OK;
    int64_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) return ATTN_E_NOMEM;
    *arr = p;
    *cap = nc;
    return ATTN_OK;
}

int attn_st_writer_add(attn_st_writer *w, const char *name, int ndim, const int64_t *shape, const float *data)
{
    static const char fn[] = "attn_st_writer_add";
    ATTN_REQUIRE_NONNULL(fn, w);
    ATTN_REQUIRE_NONNULL(fn, name);
    if (name[0] == '\0') return attn_fail(ATTN_E_ARG, "%s: empty tensor name", fn);
    if (strcmp(name, "__metadata__") == 0)
        return attn_fail(ATTN_E_ARG, "%s: '__metadata__' is reserved and cannot name a tensor", fn);
    ATTN_TRY(check_text(fn, "tensor name", name));
    if (ndim < 0 || ndim > ATTN_ST_MAX_NDIM)
        return attn_fail(ATTN_E_ARG, "%s: tensor '%.80s': ndim %d outside [0, %d]", fn, name, ndim, ATTN_ST_MAX_NDIM);
    if (ndim > 0) ATTN_REQUIRE_NONNULL(fn, shape);
    int64_t numel = 1, bytes;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return attn_fail(ATTN_E_ARG, "%s: tensor '%.80s': shape[%d]=%lld is negative", fn, name, d,
                             (long long)shape[d]);
        if (attn_mul_overflow(numel, shape[d], &numel))
            return attn_fail(ATTN_E_OVERFLOW, "%s: tensor '%.80s': element count overflows", fn, name);
    }
    /* 2^53 bytes: offsets must stay exact integers for JSON readers that use doubles */
    if (attn_mul_overflow(numel, (int64_t)4, &bytes) || bytes > ((int64_t)1 << 53))
        return attn_fail(ATTN_E_OVERFLOW, "%s: tensor '%.80s': %lld elements are too many", fn, name,
                         (long long)numel);
    if (numel > 0 && !data) return attn_fail(ATTN_E_ARG, "%s: tensor '%.80s': data is NULL", fn, name);
    for (int64_t i = 0; i < w->count; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return attn_fail(ATTN_E_ARG, "%s: tensor '%.80s' was already added", fn, name);
    if (grow((void **)&w->t, &w->cap, w->count, sizeof *w->t) != ATTN_OK)
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    w_tensor *t = &w->t[w->count];
    memset(t, 0, sizeof *t);
    t->name = dup_str(name);
    if (!t->name) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->numel = numel;
    t->data = data;
    w->count++;
    return ATTN_OK;
}

int attn_st_writer_set_metadata(attn_st_writer *w, const char *key, const char *value)
{
    static const char fn[] = "attn_st_writer_set_metadata";
    ATTN_REQUIRE_NONNULL(fn, w);
    ATTN_REQUIRE_NONNULL(fn, key);
    ATTN_REQUIRE_NONNULL(fn, value);
    ATTN_TRY(check_text(fn, "metadata key", key));
    ATTN_TRY(check_text(fn, "metadata value", value));
    char *v = dup_str(value);
    if (!v) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    for (int64_t i = 0; i < w->nmeta; i++)
        if (strcmp(w->meta_key[i], key) == 0) {
            free(w->meta_value[i]);
            w->meta_value[i] = v;
            return ATTN_OK;
        }
    int64_t cap_v = w->meta_cap;
    if (grow((void **)&w->meta_key, &w->meta_cap, w->nmeta, sizeof(char *)) != ATTN_OK ||
        grow((void **)&w->meta_value, &cap_v, w->nmeta, sizeof(char *)) != ATTN_OK) {
        free(v);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    char *k = dup_str(key);
    if (!k) {
        free(v);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    w->meta_key[w->nmeta] = k;
    w->meta_value[w->nmeta] = v;
    w->nmeta++;
    return ATTN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Serialisation                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* A growable text buffer for the header. */
typedef struct text {
    char *s;
    size_t len, cap;
    int nomem;
} text;

static void put(text *b, const char *s, size_t n)
{
    if (b->nomem) return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1) nc *= 2;
        char *p = realloc(b->s, nc);
        if (!p) {
            b->nomem = 1;
            return;
        }
        b->s = p;
        b->cap = nc;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void puts_(text *b, const char *s) { put(b, s, strlen(s)); }

static void put_int(text *b, int64_t v)
{
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)v);
    puts_(b, num);
}

/* A JSON string literal: quotes, backslashes and control bytes escaped, UTF-8 as is. */
static void put_json_string(text *b, const char *s)
{
    put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': puts_(b, "\\\""); break;
        case '\\': puts_(b, "\\\\"); break;
        case '\n': puts_(b, "\\n"); break;
        case '\r': puts_(b, "\\r"); break;
        case '\t': puts_(b, "\\t"); break;
        case '\b': puts_(b, "\\b"); break;
        case '\f': puts_(b, "\\f"); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                puts_(b, esc);
            } else {
                put(b, (const char *)p, 1);
            }
        }
    }
    put(b, "\"", 1);
}

static int cmp_tensor_ptr(const void *a, const void *b)
{
    return strcmp((*(const w_tensor *const *)a)->name, (*(const w_tensor *const *)b)->name);
}

static int cmp_index_by_key(const void *a, const void *b, void *keys)
{
    char **k = keys;
    return strcmp(k[*(const int64_t *)a], k[*(const int64_t *)b]);
}

/* The plan of a file: tensors in name order and the padded header. */
typedef struct plan {
    const w_tensor **order;
    text header; /* padded JSON, without the 8-byte length */
    int64_t total;
} plan;

static void plan_free(plan *p)
{
    free(p->order);
    free(p->header.s);
}

static int make_plan(const char *fn, const attn_st_writer *w, plan *p)
{
    memset(p, 0, sizeof *p);
    p->order = malloc((size_t)(w->count ? w->count : 1) * sizeof *p->order);
    int64_t *mi = malloc((size_t)(w->nmeta ? w->nmeta : 1) * sizeof *mi);
    if (!p->order || !mi) {
        free(mi);
        plan_free(p);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    for (int64_t i = 0; i < w->count; i++) p->order[i] = &w->t[i];
    qsort(p->order, (size_t)w->count, sizeof *p->order, cmp_tensor_ptr);
    for (int64_t i = 0; i < w->nmeta; i++) mi[i] = i;
    qsort_r(mi, (size_t)w->nmeta, sizeof *mi, cmp_index_by_key, w->meta_key);

    text *h = &p->header;
    puts_(h, "{");
    int first = 1;
    if (w->nmeta > 0) {
        puts_(h, "\"__metadata__\":{");
        for (int64_t i = 0; i < w->nmeta; i++) {
            if (i) puts_(h, ",");
            put_json_string(h, w->meta_key[mi[i]]);
            puts_(h, ":");
            put_json_string(h, w->meta_value[mi[i]]);
        }
        puts_(h, "}");
        first = 0;
    }
    free(mi);
    int64_t offset = 0;
    for (int64_t i = 0; i < w->count; i++) {
        const w_tensor *t = p->order[i];
        if (!first) puts_(h, ",");
        first = 0;
        put_json_string(h, t->name);
        puts_(h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) puts_(h, ",");
            put_int(h, t->shape[d]);
        }
        puts_(h, "],\"data_offsets\":[");
        put_int(h, offset);
        puts_(h, ",");
        /* numel · 4 ≤ 2^53 (checked by add); the running offset must stay ≤ 2^53 too */
        offset += t->numel * 4;
        if (offset > ((int64_t)1 << 53)) {
            plan_free(p);
            return attn_fail(ATTN_E_OVERFLOW, "%s: total size overflows", fn);
        }
        put_int(h, offset);
        puts_(h, "]}");
    }
    puts_(h, "}");
    while (h->len % 8 != 0) puts_(h, " ");
    if (h->nomem) {
        plan_free(p);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory for the header", fn);
    }
    if (h->len > ATTN_ST_MAX_HEADER) {
        plan_free(p);
        return attn_fail(ATTN_E_OVERFLOW, "%s: header of %zu bytes exceeds the format's limit of %d", fn, h->len,
                         ATTN_ST_MAX_HEADER);
    }
    if (__builtin_add_overflow(offset, (int64_t)(8 + h->len), &p->total)) {
        plan_free(p);
        return attn_fail(ATTN_E_OVERFLOW, "%s: total size overflows", fn);
    }
    return ATTN_OK;
}

/* Where the bytes go: a function that takes them all or fails (having set the message). */
typedef struct sink {
    int (*write)(struct sink *s, const void *p, size_t n);
} sink;

static int emit(const plan *p, const attn_st_writer *w, sink *s)
{
    uint8_t len8[8];
    uint64_t n = p->header.len;
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)(n >> (8 * i));
    ATTN_TRY(s->write(s, len8, 8));
    ATTN_TRY(s->write(s, p->header.s, p->header.len));
    for (int64_t i = 0; i < w->count; i++) {
        const w_tensor *t = p->order[i];
        if (t->numel == 0) continue;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        ATTN_TRY(s->write(s, t->data, (size_t)t->numel * 4));
#else
        uint8_t buf[4096];
        for (int64_t j = 0; j < t->numel;) {
            int64_t m = t->numel - j < 1024 ? t->numel - j : 1024;
            for (int64_t k = 0; k < m; k++) {
                uint32_t bits;
                memcpy(&bits, &t->data[j + k], 4);
                for (int b = 0; b < 4; b++) buf[4 * k + b] = (uint8_t)(bits >> (8 * b));
            }
            ATTN_TRY(s->write(s, buf, (size_t)m * 4));
            j += m;
        }
#endif
    }
    return ATTN_OK;
}

int attn_st_writer_size(const attn_st_writer *w, int64_t *bytes)
{
    static const char fn[] = "attn_st_writer_size";
    ATTN_REQUIRE_NONNULL(fn, w);
    ATTN_REQUIRE_NONNULL(fn, bytes);
    plan p;
    ATTN_TRY(make_plan(fn, w, &p));
    *bytes = p.total;
    plan_free(&p);
    return ATTN_OK;
}

typedef struct mem_sink {
    sink base;
    uint8_t *dst;
    size_t pos;
} mem_sink;

static int mem_write(sink *s, const void *p, size_t n)
{
    mem_sink *m = (mem_sink *)s;
    memcpy(m->dst + m->pos, p, n);
    m->pos += n;
    return ATTN_OK;
}

int attn_st_writer_serialize(const attn_st_writer *w, void *dst, int64_t cap)
{
    static const char fn[] = "attn_st_writer_serialize";
    ATTN_REQUIRE_NONNULL(fn, w);
    ATTN_REQUIRE_NONNULL(fn, dst);
    plan p;
    ATTN_TRY(make_plan(fn, w, &p));
    if (cap < p.total) {
        int64_t need = p.total;
        plan_free(&p);
        return attn_fail(ATTN_E_ARG, "%s: the file takes %lld bytes but cap is %lld", fn, (long long)need,
                         (long long)cap);
    }
    mem_sink m = {{mem_write}, dst, 0};
    int status = emit(&p, w, &m.base);
    plan_free(&p);
    return status;
}

/* ------------------------------------------------------------------------------------------ */
/* Atomic commit                                                                              */
/* ------------------------------------------------------------------------------------------ */

typedef struct fd_sink {
    sink base;
    int fd;
    const char *path; /* temporary file, for messages */
    int64_t written;
} fd_sink;

static int fd_write(sink *s, const void *p, size_t n)
{
    fd_sink *f = (fd_sink *)s;
    const uint8_t *b = p;
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        ssize_t r;
        if (attn_st_fault_point == 1 && f->written > 0) {
            r = -1;
            errno = ENOSPC;
        } else {
            if (attn_st_fault_point == 1) chunk = chunk > 1 ? chunk / 2 : chunk; /* write a part, then fail */
            r = write(f->fd, b, chunk);
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            return attn_fail(ATTN_E_IO, "attn_st_writer_commit: %.200s: write failed after %lld bytes: %s", f->path,
                             (long long)f->written, strerror(errno));
        b += r;
        n -= (size_t)r;
        f->written += r;
    }
    return ATTN_OK;
}

/* The directory holding `path` ("." when it has no slash). Caller frees. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return dup_str(".");
    if (slash == path) return dup_str("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

int attn_st_writer_commit(attn_st_writer *w, const char *path)
{
    static const char fn[] = "attn_st_writer_commit";
    static unsigned counter;
    ATTN_REQUIRE_NONNULL(fn, w);
    ATTN_REQUIRE_NONNULL(fn, path);
    if (path[0] == '\0') return attn_fail(ATTN_E_ARG, "%s: empty path", fn);
    plan p;
    ATTN_TRY(make_plan(fn, w, &p));

    size_t tmp_len = strlen(path) + 64;
    char *tmp = malloc(tmp_len);
    if (!tmp) {
        plan_free(&p);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    /* A fresh name next to the target (same file system, so rename is atomic); O_EXCL never
     * reuses an existing file. Permissions 0666 less the umask, as for any new file.
     * A target whose name leaves no room for the suffix gets a short hidden name instead. */
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    int short_name = strlen(path + dir_len) > 200;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        unsigned k = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        if (short_name)
            snprintf(tmp, tmp_len, "%.*s.attn_st.tmp.%ld.%u", (int)dir_len, path, (long)getpid(), k);
        else
            snprintf(tmp, tmp_len, "%s.tmp.%ld.%u", path, (long)getpid(), k);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        int status = attn_fail(ATTN_E_IO, "%s: %.200s: cannot create a temporary file beside it: %s", fn, path,
                               strerror(errno));
        free(tmp);
        plan_free(&p);
        return status;
    }

    fd_sink f = {{fd_write}, fd, tmp, 0};
    int status = emit(&p, w, &f.base);
    plan_free(&p);
    if (status == ATTN_OK && (attn_st_fault_point == 2 ? (errno = EIO, -1) : fsync(fd)) != 0)
        status = attn_fail(ATTN_E_IO, "%s: %.200s: fsync failed: %s", fn, tmp, strerror(errno));
    if (close(fd) != 0 && status == ATTN_OK)
        status = attn_fail(ATTN_E_IO, "%s: %.200s: close failed: %s", fn, tmp, strerror(errno));
    if (status == ATTN_OK && (attn_st_fault_point == 3 ? (errno = EXDEV, -1) : rename(tmp, path)) != 0)
        status = attn_fail(ATTN_E_IO, "%s: %.200s: cannot rename the temporary file over it: %s", fn, path,
                           strerror(errno));
    if (status != ATTN_OK) {
        unlink(tmp);
        free(tmp);
        return status;
    }
    free(tmp);

    /* Make the rename itself durable. File systems that cannot sync a directory (EINVAL)
     * are accepted; a real failure is reported, though the new file is then in place. */
    char *dir = dir_of(path);
    if (!dir) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL && errno != EROFS)
            status = attn_fail(ATTN_E_IO, "%s: %.200s: written, but fsync of directory %.200s failed: %s", fn, path,
                               dir, strerror(errno));
        close(dfd);
    }
    free(dir);
    return status;
}
