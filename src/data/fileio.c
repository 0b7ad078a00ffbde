/* fileio.c — whole-file reads through zlib (gzip or plain) and in-place line splitting. */
#include "data_internal.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

static size_t max_bytes = ATTN_DATA_MAX_BYTES;

size_t attn_data_set_max_bytes(size_t bytes)
{
    size_t old = max_bytes;
    max_bytes = bytes ? bytes : ATTN_DATA_MAX_BYTES;
    return old;
}

int attn_data_read_file(const char *path, char **data, size_t *len)
{
    ATTN_REQUIRE_NONNULL("attn_data_read_file", data);
    ATTN_REQUIRE_NONNULL("attn_data_read_file", len);
    return attn_read_file("attn_data_read_file", path, data, len);
}

size_t attn_data_max_bytes(void) { return max_bytes; }

int attn_read_file(const char *fn, const char *path, char **data, size_t *len)
{
    const size_t limit = max_bytes;
    if (path == NULL) return attn_fail(ATTN_E_ARG, "%s: path is NULL", fn);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (f == NULL)
        return attn_fail(ATTN_E_IO, "%s: cannot open %s: %s", fn, path,
                         errno ? strerror(errno) : "out of memory");
    attn_buf b = {0};
    int st = ATTN_OK;
    for (;;) {
        /* never more than limit + 1 bytes: a gzip bomb stops at the limit */
        if (b.len > limit) {
            st = attn_fail(ATTN_E_FORMAT, "%s: %s: more than %zu bytes%s: refused (the limit of "
                           "attn_data_set_max_bytes)", fn, path, limit,
                           gzdirect(f) ? "" : " once decompressed");
            break;
        }
        const size_t room = limit + 1 - b.len;
        const unsigned chunk = room < (1u << 20) ? (unsigned)room : 1u << 20;
        if ((st = attn_buf_reserve(&b, chunk)) != ATTN_OK) break;
        int got = gzread(f, b.data + b.len, chunk);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            st = attn_fail(ATTN_E_IO, "%s: cannot read %s: %s", fn, path,
                           zerr == Z_ERRNO ? strerror(errno) : msg);
            break;
        }
        if (got == 0) break;
        b.len += (size_t)got;
    }
    if (st == ATTN_OK) {
        int zerr;
        gzerror(f, &zerr);
        if (zerr == Z_BUF_ERROR)
            st = attn_fail(ATTN_E_FORMAT, "%s: %s: truncated gzip stream", fn, path);
    }
    int close_status = gzclose(f);
    if (st == ATTN_OK && close_status != Z_OK)
        st = attn_fail(close_status == Z_BUF_ERROR ? ATTN_E_FORMAT : ATTN_E_IO,
                       "%s: %s: %s", fn, path,
                       close_status == Z_BUF_ERROR ? "truncated gzip stream" : "read error");
    if (st != ATTN_OK) {
        attn_buf_release(&b);
        return st;
    }
    if (b.data == NULL && (st = attn_buf_reserve(&b, 0)) != ATTN_OK) return st;
    b.data[b.len] = '\0';
    *data = b.data;
    *len = b.len;
    return ATTN_OK;
}

int attn_split_lines(const char *fn, const char *path, char *data, size_t len, char ***lines,
                     size_t **lens, int64_t *n)
{
    size_t count = 0;
    for (size_t i = 0; i < len; i++) count += data[i] == '\n';
    if (len > 0 && data[len - 1] != '\n') count++;
    char **l = malloc((count ? count : 1) * sizeof *l);
    size_t *m = malloc((count ? count : 1) * sizeof *m);
    if (!l || !m) {
        free(l), free(m);
        return attn_fail(ATTN_E_NOMEM, "%s: %s: out of memory for %zu lines", fn, path, count);
    }
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= len && k < count; i++) {
        if (i == len || data[i] == '\n') {
            size_t end = i;
            if (end > start && data[end - 1] == '\r') end--;
            data[end] = '\0';
            if (i < len) data[i] = '\0';
            l[k] = data + start;
            m[k] = end - start;
            k++;
            start = i + 1;
        }
    }
    *lines = l;
    *lens = m;
    *n = (int64_t)count;
    return ATTN_OK;
}

int attn_check_line_utf8(const char *fn, const char *path, int64_t line, const char *s, size_t len)
{
    size_t bad;
    const char *nul = memchr(s, '\0', len);
    if (nul)
        return attn_fail(ATTN_E_FORMAT, "%s: %s:%lld: NUL byte at byte %zu of the line: not text",
                         fn, path, (long long)line, (size_t)(nul - s) + 1);
    if (attn_utf8_validate(s, len, &bad) == ATTN_OK) return ATTN_OK;
    return attn_fail(ATTN_E_FORMAT, "%s: %s:%lld: invalid UTF-8 at byte %zu of the line (0x%02X)",
                     fn, path, (long long)line, bad + 1, (unsigned char)s[bad]);
}
