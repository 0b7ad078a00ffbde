/* test_bleu_files.c — attn_bleu_files (data.h) on sacreBLEU's README example, whose scores
 * sacreBLEU publishes (BLEU 48.53, chrF2 59.73), and the signature strings (text.h) in
 * sacreBLEU's format; bad input gives an error code and a message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "attn.h"
#include "test_tmp.h"

Test(bleu_files, sacrebleu_readme_example)
{
    const char *hyp = test_tmp_write("hyp", "The dog bit the man.\nIt wasn't surprising.\nThe man had just bitten him.\n");
    const char *refs[2] = {
        test_tmp_write("r1", "The dog bit the man.\nIt was not unexpected.\nThe man bit him first.\n"),
        test_tmp_write("r2", "The dog had bit the man.\nNo one was surprised.\nThe man had bitten the dog.\n")};
    attn_bleu_result b;
    attn_chrf_result c;
    cr_assert_eq(attn_bleu_files(hyp, refs, 2, 0, NULL, &b, NULL, &c), ATTN_OK, "%s", attn_last_error());
    cr_assert(fabs(b.score - 48.530827) < 1e-4, "BLEU %f, sacreBLEU 48.530827", b.score);
    cr_assert(fabs(c.score - 59.73) < 0.005, "chrF2 %f, sacreBLEU 59.73", c.score);
    attn_bleu_options intl = {.tokenize = ATTN_BLEU_TOKENIZE_INTL};
    cr_assert_eq(attn_bleu_files(hyp, refs, 2, 0, &intl, &b, NULL, NULL), ATTN_OK);
    cr_assert(fabs(b.score - 43.91623493) < 1e-4, "intl BLEU %f, sacreBLEU 43.91623493", b.score);
}

Test(bleu_files, errors_name_the_files)
{
    const char *hyp = test_tmp_write("h2", "a b c\nd e f\n");
    const char *refs[2] = {test_tmp_write("three", "a b c\nd e f\ng h\n"), "-"};
    attn_bleu_result b;
    cr_assert_eq(attn_bleu_files(hyp, refs, 1, 0, NULL, &b, NULL, NULL), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "has 3 lines but") && strstr(attn_last_error(), "has 2"), "%s",
              attn_last_error());
    const char *missing[1] = {"/nonexistent/attn/ref.txt"};
    cr_assert(attn_bleu_files(hyp, missing, 1, 0, NULL, &b, NULL, NULL) < 0);
    cr_assert(strstr(attn_last_error(), "/nonexistent/attn/ref.txt"), "%s", attn_last_error());
    const char *empty = test_tmp_write("empty", "");
    const char *one[1] = {empty};
    cr_assert_eq(attn_bleu_files(empty, one, 1, 0, NULL, &b, NULL, NULL), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "empty"));
    const char *two_stdin[2] = {"-", "-"};
    cr_assert_eq(attn_bleu_files(hyp, two_stdin, 2, 0, NULL, &b, NULL, NULL), ATTN_E_ARG);
    cr_assert_eq(attn_bleu_files(hyp, refs, 0, 0, NULL, &b, NULL, NULL), ATTN_E_ARG);
    cr_assert_eq(attn_bleu_files(NULL, refs, 1, 0, NULL, &b, NULL, NULL), ATTN_E_ARG);
    const char *null_ref[1] = {NULL};
    cr_assert_eq(attn_bleu_files(hyp, null_ref, 1, 0, NULL, &b, NULL, NULL), ATTN_E_ARG);
}

Test(bleu_files, signatures)
{
    char buf[128], want[128];
    cr_assert_eq(attn_bleu_signature(NULL, 1, buf, sizeof buf), ATTN_OK);
    snprintf(want, sizeof want, "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:attn-%s", attn_version());
    cr_assert_str_eq(buf, want);
    attn_bleu_options o = {.tokenize = ATTN_BLEU_TOKENIZE_INTL, .lowercase = 1, .smooth = ATTN_BLEU_SMOOTH_NONE};
    cr_assert_eq(attn_bleu_signature(&o, 2, buf, sizeof buf), ATTN_OK);
    snprintf(want, sizeof want, "nrefs:2|case:lc|eff:no|tok:intl|smooth:none|version:attn-%s", attn_version());
    cr_assert_str_eq(buf, want);
    cr_assert_eq(attn_chrf_signature(NULL, 1, buf, sizeof buf), ATTN_OK);
    snprintf(want, sizeof want, "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:attn-%s", attn_version());
    cr_assert_str_eq(buf, want);
    cr_assert_eq(attn_bleu_signature(NULL, 1, buf, 10), ATTN_E_ARG);
    cr_assert_str_eq(buf, "");
    cr_assert(strstr(attn_last_error(), "too small"));
    cr_assert_eq(attn_bleu_signature(NULL, 0, buf, sizeof buf), ATTN_E_ARG);
    o.tokenize = (attn_bleu_tokenize)7;
    cr_assert_eq(attn_bleu_signature(&o, 1, buf, sizeof buf), ATTN_E_ARG);
    attn_chrf_options co = {.char_order = 11};
    cr_assert_eq(attn_chrf_signature(&co, 1, buf, sizeof buf), ATTN_E_ARG);
    cr_assert_eq(attn_chrf_signature(NULL, 1, NULL, 0), ATTN_E_ARG);
}

Test(bleu_files, data_find)
{
    char path[512];
    cr_assert_eq(mkdir(test_tmp_path("data"), 0755), 0);
    const char *file = test_tmp_write("data/x.txt", "x\n");
    setenv("ATTN_DATA_DIR", test_tmp_path("data"), 1);
    cr_assert_eq(attn_data_find("x.txt", path, sizeof path), ATTN_OK);
    cr_assert_str_eq(path, file);
    cr_assert_eq(attn_data_find("no/such/attn-file.txt", path, sizeof path), ATTN_E_IO);
    cr_assert_str_eq(path, "");
    cr_assert(strstr(attn_last_error(), "no/such/attn-file.txt"));
    cr_assert_eq(attn_data_find("x.txt", path, 8), ATTN_E_ARG);
    cr_assert_eq(attn_data_find(NULL, path, sizeof path), ATTN_E_ARG);
}
