/* lines.c — text read a line at a time, the same way for every command: gzip or plain, from a
 * file or standard input ("-"), lines of any length (up to the data size limit), CR before LF
 * dropped, NUL bytes refused, invalid UTF-8 refused (or replaced by U+FFFD on request), every
 * error naming the file, the line and the byte. */
#include "data_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

struct attn_line_reader {
    gzFile f;
    int flags, eof;
    char *name;
    int64_t lineno;
    char chunk[1 << 16];
    size_t pos, end;  /* unread bytes chunk[pos..end) */
    attn_buf line, fixed;
};

int attn_line_reader_open(const char *path, int flags, attn_line_reader **out)
{
    static const char fn[] = "attn_line_reader_open";
    ATTN_REQUIRE_NONNULL(fn, path);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    if (flags & ~ATTN_LINES_REPLACE_INVALID)
        return attn_fail(ATTN_E_ARG, "%s: unknown flags 0x%x", fn, (unsigned)flags);
    attn_line_reader *r = calloc(1, sizeof *r);
    if (!r) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    int is_stdin = !strcmp(path, "-");
    errno = 0;
    if (is_stdin) {
        int fd = dup(STDIN_FILENO);
        r->f = fd >= 0 ? gzdopen(fd, "rb") : NULL;
        if (!r->f && fd >= 0) close(fd);
    } else {
        r->f = gzopen(path, "rb");
    }
    if (!r->f) {
        int e = errno;
        free(r);
        return attn_fail(ATTN_E_IO, "cannot open %s: %s", is_stdin ? "standard input" : path,
                         e ? strerror(e) : "out of memory");
    }
    if (!(r->name = strdup(is_stdin ? "<stdin>" : path))) {
        gzclose(r->f);
        free(r);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    r->flags = flags;
    *out = r;
    return ATTN_OK;
}

/* Refill chunk; 0 at the end of the input, 1 with bytes, <0 on error. */
static int refill(attn_line_reader *r)
{
    if (r->eof) return 0;
    int got = gzread(r->f, r->chunk, (unsigned)sizeof r->chunk);
    if (got < 0) {
        int zerr;
        const char *msg = gzerror(r->f, &zerr);
        return attn_fail(zerr == Z_DATA_ERROR ? ATTN_E_FORMAT : ATTN_E_IO, "cannot read %s: %s",
                         r->name, zerr == Z_ERRNO ? strerror(errno) : msg);
    }
    if (got == 0) {
        int zerr;
        gzerror(r->f, &zerr);
        r->eof = 1;
        if (zerr == Z_BUF_ERROR) return attn_fail(ATTN_E_FORMAT, "%s: truncated gzip stream", r->name);
        return 0;
    }
    r->pos = 0, r->end = (size_t)got;
    return 1;
}

/* Check (or mend) the line in r->line; line and len get the result. */
static int check_line(attn_line_reader *r, const char **line, size_t *len)
{
    const char *s = r->line.data;
    size_t n = r->line.len;
    const char *nul = memchr(s, '\0', n);
    if (nul)
        return attn_fail(ATTN_E_FORMAT, "%s:%lld: NUL byte at byte %zu of the line: not text",
                         r->name, (long long)r->lineno, (size_t)(nul - s) + 1);
    size_t bad;
    if (attn_utf8_validate(s, n, &bad) == ATTN_OK) {
        *line = s, *len = n;
        return ATTN_OK;
    }
    if (!(r->flags & ATTN_LINES_REPLACE_INVALID))
        return attn_fail(ATTN_E_FORMAT, "%s:%lld: invalid UTF-8 at byte %zu of the line (0x%02X)",
                         r->name, (long long)r->lineno, bad + 1, (unsigned char)s[bad]);
    r->fixed.len = 0;
    ATTN_TRY(attn_buf_reserve(&r->fixed, n + 1));
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = attn_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (k == 0) {
            ATTN_TRY(attn_buf_put(&r->fixed, "\xEF\xBF\xBD", 3));
            i++;
        } else {
            ATTN_TRY(attn_buf_put(&r->fixed, s + i, (size_t)k));
            i += (size_t)k;
        }
    }
    ATTN_TRY(attn_buf_reserve(&r->fixed, 1));
    r->fixed.data[r->fixed.len] = '\0';
    *line = r->fixed.data, *len = r->fixed.len;
    return ATTN_OK;
}

int attn_line_reader_next(attn_line_reader *r, const char **line, size_t *len)
{
    static const char fn[] = "attn_line_reader_next";
    ATTN_REQUIRE_NONNULL(fn, r);
    ATTN_REQUIRE_NONNULL(fn, line);
    ATTN_REQUIRE_NONNULL(fn, len);
    const size_t limit = attn_data_max_bytes();
    r->line.len = 0;
    int any = 0;
    for (;;) {
        if (r->pos == r->end) {
            int st = refill(r);
            if (st < 0) return st;
            if (st == 0) {
                if (!any) return 0;
                break;
            }
        }
        any = 1;
        const char *c = r->chunk + r->pos;
        const char *nl = memchr(c, '\n', r->end - r->pos);
        size_t take = nl ? (size_t)(nl - c) : r->end - r->pos;
        if (r->line.len + take > limit)
            return attn_fail(ATTN_E_FORMAT, "%s:%lld: line longer than %zu bytes: refused (the "
                             "limit of attn_data_set_max_bytes)", r->name,
                             (long long)r->lineno + 1, limit);
        ATTN_TRY(attn_buf_reserve(&r->line, take + 1));
        memcpy(r->line.data + r->line.len, c, take);
        r->line.len += take;
        r->pos += take + (nl != NULL);
        if (nl) break;
    }
    r->lineno++;
    ATTN_TRY(attn_buf_reserve(&r->line, 1));
    if (r->line.len && r->line.data[r->line.len - 1] == '\r') r->line.len--;
    r->line.data[r->line.len] = '\0';
    ATTN_TRY(check_line(r, line, len));
    return 1;
}

int64_t attn_line_reader_lineno(const attn_line_reader *r) { return r ? r->lineno : 0; }

const char *attn_line_reader_name(const attn_line_reader *r) { return r ? r->name : ""; }

void attn_line_reader_close(attn_line_reader *r)
{
    if (!r) return;
    gzclose(r->f);
    attn_buf_release(&r->line);
    attn_buf_release(&r->fixed);
    free(r->name);
    free(r);
}

void attn_lines_free(char **lines, int64_t n)
{
    if (!lines) return;
    for (int64_t i = 0; i < n; i++) free(lines[i]);
    free(lines);
}

int attn_lines_read(const char *path, int flags, char ***lines, int64_t *n)
{
    static const char fn[] = "attn_lines_read";
    ATTN_REQUIRE_NONNULL(fn, lines);
    ATTN_REQUIRE_NONNULL(fn, n);
    *lines = NULL, *n = 0;
    attn_line_reader *r;
    ATTN_TRY(attn_line_reader_open(path, flags, &r));
    char **v = NULL;
    int64_t k = 0, cap = 0;
    const char *line;
    size_t len;
    int st;
    while ((st = attn_line_reader_next(r, &line, &len)) == 1) {
        if (k == cap) {
            int64_t nc = cap ? 2 * cap : 64;
            char **g = realloc(v, (size_t)nc * sizeof *g);
            if (!g) {
                st = attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
                break;
            }
            v = g, cap = nc;
        }
        if (!(v[k] = malloc(len + 1))) {
            st = attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
            break;
        }
        memcpy(v[k++], line, len + 1);
    }
    attn_line_reader_close(r);
    if (st < 0) {
        attn_lines_free(v, k);
        return st;
    }
    *lines = v, *n = k;
    return ATTN_OK;
}
