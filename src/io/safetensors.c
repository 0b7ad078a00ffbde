/* safetensors.c — the safetensors reader: validates the whole header before anything is read.
 *
 * File layout: u64 little-endian N | N bytes of JSON header | data buffer. Every number in the
 * header is checked before use (see the checks listed in attn.h). The header is read into
 * memory (bounded by ATTN_ST_MAX_HEADER and by the file size); tensor data is read on demand
 * with pread (file) or memcpy (memory), so a reader costs its header, not its tensors.
 */
#include "json.h"
#include "st_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_EXACT_INT 9007199254740992.0 /* 2^53: larger doubles are not exact integers */

typedef struct dtype_info {
    const char *name;
    int size; /* bytes per element */
} dtype_info;

static const dtype_info dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
    {"F32", 4},  {"I64", 8}, {"U64", 8}, {"F64", 8},     {"C64", 8},
};

typedef struct st_tensor {
    char *name;
    const dtype_info *dtype;
    int ndim;
    int64_t *shape;
    int64_t numel, begin, end; /* [begin, end) relative to the data buffer */
} st_tensor;

struct attn_st_reader {
    int fd;                /* file reader: open descriptor; memory reader: -1 */
    const uint8_t *mem;    /* memory reader: the whole file */
    char *path;            /* for messages ("<memory>" for a memory reader) */
    int64_t data_start;    /* 8 + N */
    int64_t buffer_len;    /* bytes after the header */
    int64_t count;
    st_tensor *t;          /* [count], sorted by name */
    int64_t nmeta;
    char **meta_key;       /* [nmeta], sorted by key */
    char **meta_value;
};

static const char *short_name(const char *s) { return s ? s : "(null)"; }

/* Message prefix: "attn_st_open: <path>". Names are cut to 80 bytes in messages (%.80s). */
#define FMT_PREFIX "%s: %.200s: "

/* ------------------------------------------------------------------------------------------ */
/* Header validation                                                                          */
/* ------------------------------------------------------------------------------------------ */

/* A non-negative integer no larger than 2^53, as an int64. */
static int get_uint(const attn_json *v, int64_t *out)
{
    if (attn_json_type_of(v) != ATTN_JSON_NUMBER) return 0;
    double d = attn_json_number(v);
    if (!(d >= 0.0) || d > MAX_EXACT_INT || d != (double)(int64_t)d || signbit(d)) return 0;
    *out = (int64_t)d;
    return 1;
}

static const dtype_info *find_dtype(const char *s)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].name, s) == 0) return &dtypes[i];
    return NULL;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int cmp_offsets(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

typedef struct meta_pair {
    char *key, *value;
} meta_pair;

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(((const meta_pair *)a)->key, ((const meta_pair *)b)->key);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int parse_metadata(const char *fn, attn_st_reader *st, const attn_json *m)
{
    const char *path = st->path;
    if (attn_json_type_of(m) != ATTN_JSON_OBJECT)
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "__metadata__ is not an object", fn, path);
    int64_t n = attn_json_count(m);
    meta_pair *pairs = calloc((size_t)(n ? n : 1), sizeof *pairs);
    if (!pairs) return attn_fail(ATTN_E_NOMEM, "%s: out of memory for metadata", fn);
    int64_t k = 0;
    int status = ATTN_OK;
    for (const attn_json *c = attn_json_first(m); c; c = attn_json_next(c), k++) {
        const char *v = attn_json_string(c);
        if (!v) {
            status = attn_fail(ATTN_E_FORMAT, FMT_PREFIX "__metadata__['%.80s'] is not a string", fn, path,
                               short_name(attn_json_key(c)));
            break;
        }
        pairs[k].key = dup_str(attn_json_key(c));
        pairs[k].value = dup_str(v);
        if (!pairs[k].key || !pairs[k].value) {
            k++;
            status = attn_fail(ATTN_E_NOMEM, "%s: out of memory for metadata", fn);
            break;
        }
    }
    if (status == ATTN_OK) {
        qsort(pairs, (size_t)n, sizeof *pairs, cmp_meta);
        for (int64_t i = 1; i < n; i++)
            if (strcmp(pairs[i - 1].key, pairs[i].key) == 0) {
                status = attn_fail(ATTN_E_FORMAT, FMT_PREFIX "__metadata__ has key '%.80s' twice", fn, path,
                                   pairs[i].key);
                break;
            }
    }
    if (status == ATTN_OK) {
        st->meta_key = malloc((size_t)(n ? n : 1) * sizeof(char *));
        st->meta_value = malloc((size_t)(n ? n : 1) * sizeof(char *));
        if (!st->meta_key || !st->meta_value) status = attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    if (status != ATTN_OK) {
        for (int64_t i = 0; i < n; i++) {
            free(pairs[i].key);
            free(pairs[i].value);
        }
        free(pairs);
        return status;
    }
    for (int64_t i = 0; i < n; i++) {
        st->meta_key[i] = pairs[i].key;
        st->meta_value[i] = pairs[i].value;
    }
    st->nmeta = n;
    free(pairs);
    return ATTN_OK;
}

/* Fill t from a header entry {"dtype", "shape", "data_offsets"} and check it on its own. */
static int parse_tensor(const char *fn, const attn_st_reader *st, const char *name, const attn_json *e,
                        st_tensor *t)
{
    const char *path = st->path;
    if (attn_json_type_of(e) != ATTN_JSON_OBJECT)
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s': entry is not an object", fn, path, name);
    const attn_json *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (const attn_json *c = attn_json_first(e); c; c = attn_json_next(c)) {
        const char *k = attn_json_key(c);
        const attn_json **slot = strcmp(k, "dtype") == 0         ? &dtype
                                 : strcmp(k, "shape") == 0        ? &shape
                                 : strcmp(k, "data_offsets") == 0 ? &offsets
                                                                  : NULL;
        if (!slot) continue; /* unknown fields are ignored, as by the reference library */
        if (*slot)
            return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s': field '%s' given twice", fn, path, name, k);
        *slot = c;
    }
    if (!dtype || !shape || !offsets)
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s': missing field '%s'", fn, path, name,
                         !dtype ? "dtype" : !shape ? "shape" : "data_offsets");

    const char *ds = attn_json_string(dtype);
    if (!ds) return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s': dtype is not a string", fn, path, name);
    t->dtype = find_dtype(ds);
    if (!t->dtype)
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s': unknown dtype '%.40s'", fn, path, name, ds);

    if (attn_json_type_of(shape) != ATTN_JSON_ARRAY)
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s': shape is not an array", fn, path, name);
    int64_t nd = attn_json_count(shape);
    if (nd > ATTN_ST_MAX_NDIM)
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s': shape has %lld dimensions (at most %d)", fn,
                         path, name, (long long)nd, ATTN_ST_MAX_NDIM);
    t->ndim = (int)nd;
    t->shape = malloc((size_t)(nd ? nd : 1) * sizeof(int64_t));
    if (!t->shape) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    int d = 0;
    int64_t numel = 1;
    int overflow = 0;
    for (const attn_json *c = attn_json_first(shape); c; c = attn_json_next(c), d++) {
        if (!get_uint(c, &t->shape[d]))
            return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s': shape[%d] is not an integer in [0, 2^53]",
                             fn, path, name, d);
        overflow |= attn_mul_overflow(numel, t->shape[d], &numel);
    }
    int64_t nbytes = 0;
    if (overflow || attn_mul_overflow(numel, (int64_t)t->dtype->size, &nbytes))
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s': shape × dtype size overflows", fn, path, name);
    t->numel = numel;

    if (attn_json_type_of(offsets) != ATTN_JSON_ARRAY || attn_json_count(offsets) != 2)
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s': data_offsets is not an array of 2 integers",
                         fn, path, name);
    const attn_json *b = attn_json_first(offsets), *en = attn_json_next(b);
    if (!get_uint(b, &t->begin) || !get_uint(en, &t->end))
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s': data_offsets are not integers in [0, 2^53]",
                         fn, path, name);
    if (t->begin > t->end)
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s': data_offsets [%lld, %lld] end before they begin",
                         fn, path, name, (long long)t->begin, (long long)t->end);
    if (t->end - t->begin != nbytes)
        return attn_fail(ATTN_E_FORMAT,
                         FMT_PREFIX "tensor '%.80s': data_offsets span %lld bytes but shape × %s size is %lld bytes",
                         fn, path, name, (long long)(t->end - t->begin), t->dtype->name, (long long)nbytes);
    if (t->end > st->buffer_len)
        return attn_fail(ATTN_E_FORMAT,
                         FMT_PREFIX "tensor '%.80s': data_offsets [%lld, %lld] pass the end of the %lld-byte buffer",
                         fn, path, name, (long long)t->begin, (long long)t->end, (long long)st->buffer_len);
    return ATTN_OK;
}

/* The tensors, sorted by offset, must tile [0, buffer_len) exactly. */
static int check_layout(const char *fn, attn_st_reader *st)
{
    const char *path = st->path;
    if (st->count == 0) {
        if (st->buffer_len != 0)
            return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "%lld bytes of data follow a header with no tensor", fn, path,
                             (long long)st->buffer_len);
        return ATTN_OK;
    }
    st_tensor **by_offset = malloc((size_t)st->count * sizeof *by_offset);
    if (!by_offset) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    for (int64_t i = 0; i < st->count; i++) by_offset[i] = &st->t[i];
    qsort(by_offset, (size_t)st->count, sizeof *by_offset, cmp_offsets);
    int status = ATTN_OK;
    int64_t pos = 0;
    const char *prev = NULL;
    for (int64_t i = 0; i < st->count && status == ATTN_OK; i++) {
        const st_tensor *t = by_offset[i];
        if (t->begin < pos)
            status = attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s' [%lld, %lld) overlaps tensor '%.80s' ending at %lld",
                               fn, path, t->name, (long long)t->begin, (long long)t->end, prev, (long long)pos);
        else if (t->begin > pos)
            status = attn_fail(ATTN_E_FORMAT,
                               FMT_PREFIX "tensor '%.80s' begins at %lld, leaving the bytes [%lld, %lld) unused (gaps are not allowed)",
                               fn, path, t->name, (long long)t->begin, (long long)pos, (long long)t->begin);
        pos = t->end;
        prev = t->name;
    }
    if (status == ATTN_OK && pos != st->buffer_len)
        status = attn_fail(ATTN_E_FORMAT, FMT_PREFIX "the tensors end at byte %lld of a %lld-byte buffer (trailing bytes)",
                           fn, path, (long long)pos, (long long)st->buffer_len);
    free(by_offset);
    return status;
}

static int parse_header(const char *fn, attn_st_reader *st, const uint8_t *h, size_t n)
{
    const char *path = st->path;
    if (h[0] != '{')
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "header does not start with '{' (byte 0x%02x)", fn, path, h[0]);
    size_t bad = 0;
    if (!attn_st_utf8_valid(h, n, &bad))
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "header is not valid UTF-8 (byte %zu)", fn, path, bad);
    ATTN_TRY(attn_st_lex_check(fn, path, h, n));

    char what[256];
    snprintf(what, sizeof what, "%s: %.200s: header", fn, path);
    attn_json *root = NULL;
    ATTN_TRY(attn_json_parse(what, (const char *)h, n, &root));
    int status = ATTN_OK;
    if (attn_json_type_of(root) != ATTN_JSON_OBJECT) {
        status = attn_fail(ATTN_E_FORMAT, FMT_PREFIX "header is not a JSON object", fn, path);
        goto done;
    }
    const attn_json *meta = NULL;
    int64_t ntensors = 0;
    for (const attn_json *c = attn_json_first(root); c; c = attn_json_next(c)) {
        if (strcmp(attn_json_key(c), "__metadata__") == 0) {
            if (meta) {
                status = attn_fail(ATTN_E_FORMAT, FMT_PREFIX "__metadata__ appears twice", fn, path);
                goto done;
            }
            meta = c;
        } else {
            ntensors++;
        }
    }
    if (meta) {
        status = parse_metadata(fn, st, meta);
        if (status != ATTN_OK) goto done;
    }
    st->t = calloc((size_t)(ntensors ? ntensors : 1), sizeof *st->t);
    if (!st->t) {
        status = attn_fail(ATTN_E_NOMEM, "%s: out of memory for %lld tensors", fn, (long long)ntensors);
        goto done;
    }
    for (const attn_json *c = attn_json_first(root); c; c = attn_json_next(c)) {
        const char *name = attn_json_key(c);
        if (c == meta) continue;
        st_tensor *t = &st->t[st->count];
        t->name = dup_str(name);
        st->count++; /* counted now so that close frees what parse_tensor allocated */
        if (!t->name) {
            status = attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
            goto done;
        }
        status = parse_tensor(fn, st, name, c, t);
        if (status != ATTN_OK) goto done;
    }
    qsort(st->t, (size_t)st->count, sizeof *st->t, cmp_name);
    for (int64_t i = 1; i < st->count; i++)
        if (strcmp(st->t[i - 1].name, st->t[i].name) == 0) {
            status = attn_fail(ATTN_E_FORMAT, FMT_PREFIX "tensor '%.80s' appears twice", fn, path, st->t[i].name);
            goto done;
        }
    status = check_layout(fn, st);
done:
    attn_json_free(root);
    return status;
}

/* ------------------------------------------------------------------------------------------ */
/* Opening                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Read exactly n bytes at offset; ATTN_E_IO on error or short read. */
static int pread_full(const char *fn, const char *path, int fd, void *dst, size_t n, int64_t off)
{
    uint8_t *p = dst;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return attn_fail(ATTN_E_IO, "%s: %.200s: read failed at byte %lld: %s", fn, path, (long long)off, strerror(errno));
        if (r == 0)
            return attn_fail(ATTN_E_IO, "%s: %.200s: file ends at byte %lld, shorter than when opened", fn, path,
                             (long long)off);
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return ATTN_OK;
}

static attn_st_reader *reader_new(const char *path)
{
    attn_st_reader *st = calloc(1, sizeof *st);
    if (!st) return NULL;
    st->fd = -1;
    st->path = dup_str(path);
    if (!st->path) {
        free(st);
        return NULL;
    }
    return st;
}

void attn_st_close(attn_st_reader *st)
{
    if (!st) return;
    if (st->fd >= 0) close(st->fd);
    for (int64_t i = 0; i < st->count; i++) {
        free(st->t[i].name);
        free(st->t[i].shape);
    }
    free(st->t);
    for (int64_t i = 0; i < st->nmeta; i++) {
        free(st->meta_key[i]);
        free(st->meta_value[i]);
    }
    free(st->meta_key);
    free(st->meta_value);
    free(st->path);
    free(st);
}

/* Checks on the header length against the file size; sets data_start and buffer_len. */
static int check_lengths(const char *fn, attn_st_reader *st, uint64_t file_size, const uint8_t len8[8])
{
    const char *path = st->path;
    uint64_t n = load_le64(len8);
    if (n < 2)
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "header length %llu is below 2 (\"{}\")", fn, path,
                         (unsigned long long)n);
    if (n > ATTN_ST_MAX_HEADER)
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "header length %llu exceeds the limit of %d bytes", fn, path,
                         (unsigned long long)n, ATTN_ST_MAX_HEADER);
    if (n > file_size - 8)
        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "header length %llu exceeds the %llu bytes after the length field",
                         fn, path, (unsigned long long)n, (unsigned long long)(file_size - 8));
    st->data_start = (int64_t)(8 + n);
    st->buffer_len = (int64_t)(file_size - 8 - n);
    return ATTN_OK;
}

int attn_st_open(const char *path, attn_st_reader **out)
{
    static const char fn[] = "attn_st_open";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL(fn, path);
    attn_st_reader *st = reader_new(path);
    if (!st) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    int status = ATTN_OK;
    uint8_t *header = NULL;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused below). */
    st->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (st->fd < 0) {
        status = attn_fail(ATTN_E_IO, "%s: %.200s: cannot open: %s", fn, path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(st->fd, &sb) != 0) {
        status = attn_fail(ATTN_E_IO, "%s: %.200s: cannot stat: %s", fn, path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        status = attn_fail(ATTN_E_IO, "%s: %.200s: not a regular file", fn, path);
        goto fail;
    }
    int fl = fcntl(st->fd, F_GETFL);
    if (fl >= 0) (void)fcntl(st->fd, F_SETFL, fl & ~O_NONBLOCK);
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8) {
        status = attn_fail(ATTN_E_FORMAT, "%s: %.200s: %llu bytes, too short for the 8-byte header length", fn, path,
                           (unsigned long long)size);
        goto fail;
    }
    uint8_t len8[8];
    status = pread_full(fn, path, st->fd, len8, 8, 0);
    if (status != ATTN_OK) goto fail;
    status = check_lengths(fn, st, size, len8);
    if (status != ATTN_OK) goto fail;
    size_t n = (size_t)(st->data_start - 8);
    header = malloc(n);
    if (!header) {
        status = attn_fail(ATTN_E_NOMEM, "%s: cannot allocate %zu bytes for the header", fn, n);
        goto fail;
    }
    status = pread_full(fn, path, st->fd, header, n, 8);
    if (status != ATTN_OK) goto fail;
    status = parse_header(fn, st, header, n);
    if (status != ATTN_OK) goto fail;
    free(header);
    *out = st;
    return ATTN_OK;
fail:
    free(header);
    attn_st_close(st);
    return status;
}

int attn_st_open_memory(const void *buf, size_t len, attn_st_reader **out)
{
    static const char fn[] = "attn_st_open_memory";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    if (!buf && len > 0) return attn_fail(ATTN_E_ARG, "%s: buf is NULL", fn);
    if ((uint64_t)len > (uint64_t)INT64_MAX) return attn_fail(ATTN_E_ARG, "%s: len %zu is too large", fn, len);
    attn_st_reader *st = reader_new("<memory>");
    if (!st) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    int status;
    if (len < 8) {
        status = attn_fail(ATTN_E_FORMAT, "%s: <memory>: %zu bytes, too short for the 8-byte header length", fn, len);
        goto fail;
    }
    st->mem = buf;
    status = check_lengths(fn, st, (uint64_t)len, st->mem);
    if (status != ATTN_OK) goto fail;
    status = parse_header(fn, st, st->mem + 8, (size_t)(st->data_start - 8));
    if (status != ATTN_OK) goto fail;
    *out = st;
    return ATTN_OK;
fail:
    attn_st_close(st);
    return status;
}

/* ------------------------------------------------------------------------------------------ */
/* Accessors                                                                                  */
/* ------------------------------------------------------------------------------------------ */

int64_t attn_st_count(const attn_st_reader *st) { return st ? st->count : 0; }

int attn_st_info(const attn_st_reader *st, int64_t i, attn_st_entry *out)
{
    static const char fn[] = "attn_st_info";
    ATTN_REQUIRE_NONNULL(fn, st);
    ATTN_REQUIRE_NONNULL(fn, out);
    if (i < 0 || i >= st->count)
        return attn_fail(ATTN_E_ARG, "%s: index %lld outside [0, %lld)", fn, (long long)i, (long long)st->count);
    const st_tensor *t = &st->t[i];
    out->name = t->name;
    out->dtype = t->dtype->name;
    out->ndim = t->ndim;
    out->shape = t->shape;
    out->numel = t->numel;
    out->nbytes = t->end - t->begin;
    return ATTN_OK;
}

int64_t attn_st_find(const attn_st_reader *st, const char *name)
{
    static const char fn[] = "attn_st_find";
    ATTN_REQUIRE_NONNULL(fn, st);
    ATTN_REQUIRE_NONNULL(fn, name);
    int64_t lo = 0, hi = st->count;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->t[mid].name, name);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return attn_fail(ATTN_E_ARG, "%s: %.200s: no tensor named '%.80s'", fn, st->path, name);
}

/* Copy n bytes at offset `off` of the data buffer. */
static int read_bytes(const char *fn, const attn_st_reader *st, void *dst, size_t n, int64_t off)
{
    if (st->mem) {
        memcpy(dst, st->mem + st->data_start + off, n);
        return ATTN_OK;
    }
    return pread_full(fn, st->path, st->fd, dst, n, st->data_start + off);
}

static const st_tensor *lookup(const char *fn, const attn_st_reader *st, const char *name)
{
    int64_t i = attn_st_find(st, name);
    if (i < 0) {
        /* keep attn_st_find's message, with this function's name in front */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", attn_last_error());
        attn_fail(ATTN_E_ARG, "%s: %s", fn, msg);
        return NULL;
    }
    return &st->t[i];
}

int attn_st_read_raw(const attn_st_reader *st, const char *name, void *dst, int64_t nbytes)
{
    static const char fn[] = "attn_st_read_raw";
    ATTN_REQUIRE_NONNULL(fn, st);
    ATTN_REQUIRE_NONNULL(fn, name);
    const st_tensor *t = lookup(fn, st, name);
    if (!t) return ATTN_E_ARG;
    if (nbytes != t->end - t->begin)
        return attn_fail(ATTN_E_SHAPE, "%s: tensor '%.80s' holds %lld bytes, not %lld", fn, name,
                         (long long)(t->end - t->begin), (long long)nbytes);
    if (nbytes == 0) return ATTN_OK;
    ATTN_REQUIRE_NONNULL(fn, dst);
    return read_bytes(fn, st, dst, (size_t)nbytes, t->begin);
}

/* IEEE binary16 → binary32, exact (every half is a float); NaN payloads kept. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t man = h & 0x3FF;
    uint32_t bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (man << 13); /* inf or NaN */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13); /* rebias 15 → 127 */
    } else if (man == 0) {
        bits = sign; /* ±0 */
    } else {
        /* subnormal: man · 2^-24; normalise so the leading 1 sits at bit 10 */
        int shift = 0;
        while (!(man & 0x400)) {
            man <<= 1;
            shift++;
        }
        bits = sign | ((uint32_t)(113 - shift) << 23) | ((man & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static float bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

int attn_st_read_f32(const attn_st_reader *st, const char *name, float *dst, int64_t count)
{
    static const char fn[] = "attn_st_read_f32";
    ATTN_REQUIRE_NONNULL(fn, st);
    ATTN_REQUIRE_NONNULL(fn, name);
    const st_tensor *t = lookup(fn, st, name);
    if (!t) return ATTN_E_ARG;
    const char *dt = t->dtype->name;
    int f32 = strcmp(dt, "F32") == 0, f16 = strcmp(dt, "F16") == 0, bf16 = strcmp(dt, "BF16") == 0,
        f64 = strcmp(dt, "F64") == 0;
    if (!(f32 || f16 || bf16 || f64))
        return attn_fail(ATTN_E_UNSUPPORTED, "%s: tensor '%.80s' has dtype %s; F32, F16, BF16 and F64 convert to float32",
                         fn, name, dt);
    if (count != t->numel)
        return attn_fail(ATTN_E_SHAPE, "%s: tensor '%.80s' has %lld elements, not %lld", fn, name,
                         (long long)t->numel, (long long)count);
    if (count == 0) return ATTN_OK;
    ATTN_REQUIRE_NONNULL(fn, dst);
    int es = t->dtype->size;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (f32) return read_bytes(fn, st, dst, (size_t)count * 4, t->begin);
#endif
    /* Convert in chunks through a small buffer of raw little-endian elements. */
    uint8_t buf[8192];
    int64_t per = (int64_t)sizeof buf / es;
    for (int64_t done = 0; done < count;) {
        int64_t m = count - done < per ? count - done : per;
        ATTN_TRY(read_bytes(fn, st, buf, (size_t)(m * es), t->begin + done * es));
        for (int64_t j = 0; j < m; j++) {
            const uint8_t *p = buf + j * es;
            float v;
            if (f16 || bf16) {
                uint16_t h = (uint16_t)(p[0] | (p[1] << 8));
                v = f16 ? half_to_float(h) : bf16_to_float(h);
            } else if (f64) {
                uint64_t bits = load_le64(p);
                double d;
                memcpy(&d, &bits, 8);
                v = (float)d;
            } else {
                uint32_t bits = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
                memcpy(&v, &bits, 4);
            }
            dst[done + j] = v;
        }
        done += m;
    }
    return ATTN_OK;
}

const char *attn_st_metadata(const attn_st_reader *st, const char *key)
{
    if (!st || !key) return NULL;
    int64_t lo = 0, hi = st->nmeta;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->meta_key[mid], key);
        if (c == 0) return st->meta_value[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

int64_t attn_st_metadata_count(const attn_st_reader *st) { return st ? st->nmeta : 0; }

int attn_st_metadata_at(const attn_st_reader *st, int64_t i, const char **key, const char **value)
{
    static const char fn[] = "attn_st_metadata_at";
    ATTN_REQUIRE_NONNULL(fn, st);
    if (i < 0 || i >= st->nmeta)
        return attn_fail(ATTN_E_ARG, "%s: index %lld outside [0, %lld)", fn, (long long)i, (long long)st->nmeta);
    if (key) *key = st->meta_key[i];
    if (value) *value = st->meta_value[i];
    return ATTN_OK;
}
