/* test_metrics_table.c — metrics.csv read back (attn_metrics_load, attn/train.h): the numbers of
 * a file the library's own writer (attn_metrics_*) made, empty / nan / inf cells as NaN, a
 * cut-off last line left out, gzip read, and every malformed file refused naming the place. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "attn.h"
#include "st_test_helpers.h"
#include "test_tmp.h"

static const char *write_text(const char *name, const char *text)
{
    const char *path = test_tmp_path(name);
    write_file(path, text, strlen(text));
    return path;
}

Test(metrics_table, reads_what_the_writer_wrote)
{
    const char *path = test_tmp_path("metrics.csv");
    attn_metrics *m = NULL;
    cr_assert_eq(attn_metrics_open(path, "step,loss,val_metric", 0, 0, &m), 0, "%s", attn_last_error());
    cr_assert_eq(attn_metrics_row(m, "0,2.5,"), 0);
    cr_assert_eq(attn_metrics_row(m, "50,1.25,0.5"), 0);
    cr_assert_eq(attn_metrics_row(m, "100,nan,inf"), 0);
    cr_assert_eq(attn_metrics_close(m), 0);
    attn_metrics_table t;
    cr_assert_eq(attn_metrics_load(path, &t), 0, "%s", attn_last_error());
    cr_assert(t.ncols == 3 && t.nrows == 3);
    cr_expect_str_eq(t.names[1], "loss");
    cr_expect_eq(attn_metrics_column(&t, "val_metric"), 2);
    cr_expect_eq(attn_metrics_column(&t, "val"), -1);
    cr_expect_eq(attn_metrics_column(NULL, "step"), -1);
    cr_expect(t.v[3] == 50 && t.v[4] == 1.25 && t.v[5] == 0.5 && t.v[6] == 100);
    cr_expect(isnan(t.v[2]) && isnan(t.v[7]) && isnan(t.v[8]), "empty, nan and inf cells are NaN");
    attn_metrics_table_free(&t);
    cr_expect(t.names == NULL && t.v == NULL && t.ncols == 0);
    attn_metrics_table_free(NULL);
}

Test(metrics_table, a_live_log_and_spaces)
{
    /* blank lines and spaces around fields; the last line still being written is left out */
    const char *p = write_text("live.csv", " step , loss\n\n1, 2.0\r\n2 ,1.5\n3");
    attn_metrics_table t;
    cr_assert_eq(attn_metrics_load(p, &t), 0, "%s", attn_last_error());
    cr_expect(t.nrows == 2 && t.v[2] == 2 && t.v[3] == 1.5);
    cr_expect_str_eq(t.names[0], "step");
    attn_metrics_table_free(&t);
    /* a complete last line without its newline is kept */
    p = write_text("nonl.csv", "step,loss\n1,2\n2,3");
    cr_assert_eq(attn_metrics_load(p, &t), 0);
    cr_expect_eq(t.nrows, 2);
    attn_metrics_table_free(&t);
}

Test(metrics_table, malformed_files_are_refused_naming_the_place)
{
    static const struct {
        const char *text, *msg;
    } bad[] = {{"step,loss\n1,abc\n", "line 2 column loss: 'abc' is not a number"},
               {"step,loss\n1,2,3\n", "line 2: 3 fields but the header has 2"},
               {"", "empty file (need a header row)"},
               {"\n \n", "empty file"},
               {"step,loss\n1,2\n3\n", "line 3: 1 fields"}};
    attn_metrics_table t;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = write_text("bad.csv", bad[i].text);
        cr_expect_eq(attn_metrics_load(p, &t), ATTN_E_FORMAT, "case %zu", i);
        cr_expect(strstr(attn_last_error(), bad[i].msg) && strstr(attn_last_error(), "bad.csv"), "case %zu: %s", i,
                  attn_last_error());
        cr_expect(t.names == NULL && t.v == NULL && t.nrows == 0);
    }
    char wide[65 * 4 + 2] = "";
    for (int c = 0; c < 65; c++) strcat(wide, c ? ",c" : "c");
    strcat(wide, "\n");
    cr_expect_eq(attn_metrics_load(write_text("wide.csv", wide), &t), ATTN_E_FORMAT);
    cr_expect(strstr(attn_last_error(), "more than 64 columns"), "%s", attn_last_error());
    const char *p = test_tmp_path("nul.csv");
    write_file(p, "step\n1\0\n", 8);
    cr_expect_eq(attn_metrics_load(p, &t), ATTN_E_FORMAT);
    cr_expect(strstr(attn_last_error(), "NUL byte"), "%s", attn_last_error());
    cr_expect_eq(attn_metrics_load(test_tmp_path("none.csv"), &t), ATTN_E_IO);
    cr_expect(strstr(attn_last_error(), "none.csv"), "%s", attn_last_error());
    cr_expect_eq(attn_metrics_load(NULL, &t), ATTN_E_ARG);
    cr_expect_eq(attn_metrics_load(p, NULL), ATTN_E_ARG);
}
