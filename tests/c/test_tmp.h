/* test_tmp.h — one scratch directory per test process (Criterion runs each test in its own
 * process), removed with everything in it when the process exits. Before this, every run of the
 * suite left some 30 directories in /tmp. */
#ifndef ATTN_TEST_TMP_H
#define ATTN_TEST_TMP_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

/* 1 when the files at a and b both open and hold the same bytes. */
static inline int test_same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    for (int ca = 0, cb = 0; same && (ca != EOF || cb != EOF);) {
        ca = fgetc(fa), cb = fgetc(fb);
        same = ca == cb;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static char test_tmp_root[64];

static int test_tmp_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void test_tmp_cleanup(void)
{
    if (test_tmp_root[0]) nftw(test_tmp_root, test_tmp_remove, 16, FTW_DEPTH | FTW_PHYS);
}

/* The process's scratch directory, created on first use. */
static inline const char *test_tmp_dir(void)
{
    if (!test_tmp_root[0]) {
        snprintf(test_tmp_root, sizeof test_tmp_root, "/tmp/attn_test_XXXXXX");
        cr_assert_not_null(mkdtemp(test_tmp_root));
        atexit(test_tmp_cleanup);
    }
    return test_tmp_root;
}

/* "DIR/name" in the scratch directory; the last four results stay valid. */
static inline char *test_tmp_path(const char *name)
{
    static char path[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", test_tmp_dir(), name);
    return path[k];
}

/* test_tmp_path(name) holding text (written whole, or the test fails). */
static inline char *test_tmp_write(const char *name, const char *text)
{
    char *path = test_tmp_path(name);
    FILE *f = fopen(path, "w");
    cr_assert(f && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
    return path;
}

#endif
