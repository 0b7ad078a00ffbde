/* st_test_helpers.h — helpers shared by the safetensors tests (files, temp dirs, bad-file checks). */
#ifndef ST_TEST_HELPERS_H
#define ST_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attn.h"

/* A fresh directory for one test (Criterion runs each test in its own process). */
static inline char *temp_dir(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/attn_st_test_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static inline char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    cr_assert_not_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static inline void write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot create %s", path);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static inline unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Number of entries in dir other than . and .. */
static inline int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static inline void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = join(dir, e->d_name);
        if (remove(p) != 0) rmdir(p);
        free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* File bytes: u64 LE length of `json`, the json, then n data bytes. */
static inline unsigned char *make_file(const char *json, const void *data, size_t n, size_t *len)
{
    size_t h = strlen(json);
    *len = 8 + h + n;
    unsigned char *buf = malloc(*len + 1);
    cr_assert_not_null(buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, json, h);
    if (n) memcpy(buf + 8 + h, data, n);
    return buf;
}

/* The file must be refused with ATTN_E_FORMAT and a message holding `needle`, both from
 * memory and from disk; the reader pointer must come back NULL. */
static inline void expect_bad_bytes(const unsigned char *buf, size_t len, const char *needle)
{
    attn_st_reader *st = (attn_st_reader *)buf; /* anything non-NULL */
    int s = attn_st_open_memory(buf, len, &st);
    cr_expect_eq(s, ATTN_E_FORMAT, "memory: status %d for '%s': %s", s, needle, attn_last_error());
    cr_expect_null(st);
    cr_expect(strstr(attn_last_error(), needle) != NULL, "memory: message '%s' lacks '%s'", attn_last_error(),
              needle);
    cr_expect(strstr(attn_last_error(), "attn_st_open_memory") != NULL);

    char *dir = temp_dir();
    char *path = join(dir, "bad.safetensors");
    write_file(path, buf, len);
    st = (attn_st_reader *)buf;
    s = attn_st_open(path, &st);
    cr_expect_eq(s, ATTN_E_FORMAT, "file: status %d for '%s': %s", s, needle, attn_last_error());
    cr_expect_null(st);
    cr_expect(strstr(attn_last_error(), needle) != NULL, "file: message '%s' lacks '%s'", attn_last_error(), needle);
    cr_expect(strstr(attn_last_error(), path) != NULL, "file: message '%s' lacks the path", attn_last_error());
    remove_tree(dir);
    free(path);
}

static inline void expect_bad(const char *json, size_t data_bytes, const char *needle)
{
    unsigned char zeros[64] = {0};
    cr_assert(data_bytes <= sizeof zeros);
    size_t len;
    unsigned char *buf = make_file(json, zeros, data_bytes, &len);
    expect_bad_bytes(buf, len, needle);
    free(buf);
}

static inline attn_st_reader *open_good(const char *json, const void *data, size_t n, unsigned char **keep)
{
    size_t len;
    *keep = make_file(json, data, n, &len);
    attn_st_reader *st = NULL;
    int s = attn_st_open_memory(*keep, len, &st);
    cr_assert_eq(s, ATTN_OK, "open: %s", attn_last_error());
    cr_assert_not_null(st);
    return st;
}

static inline float frand(unsigned *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) & 0xFFFF) / 4096.0f - 8.0f;
}

#endif
