/* test_safetensors.c — the safetensors reader and writer: round trips, conversions, every
 * malformed header the reader must refuse (from memory and from a file, same verdict), atomic
 * commit under failure, and the error paths of each public function. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attn.h"
#include "st_test_helpers.h"

/* Fault injection of the writer (internal; visible because the test links the static lib). */
extern int attn_st_fault_point;

/* ------------------------------------------------------------------------------------------ */
/* Round trips                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* Check that reader st holds exactly the tensors of shapes[] with data[] (names "t<ndim>"). */
static void expect_contents(attn_st_reader *st, int ntensors, const int64_t shapes[][4], const int *ndims,
                            float *const *data, const int64_t *numels)
{
    cr_assert_eq(attn_st_count(st), ntensors);
    for (int k = 0; k < ntensors; k++) {
        char name[16];
        snprintf(name, sizeof name, "t%d", ndims[k]);
        int64_t i = attn_st_find(st, name);
        cr_assert_geq(i, 0, "%s: %s", name, attn_last_error());
        attn_st_entry e;
        cr_assert_eq(attn_st_info(st, i, &e), ATTN_OK);
        cr_expect_str_eq(e.name, name);
        cr_expect_str_eq(e.dtype, "F32");
        cr_assert_eq(e.ndim, ndims[k]);
        for (int d = 0; d < e.ndim; d++) cr_expect_eq(e.shape[d], shapes[k][d]);
        cr_expect_eq(e.numel, numels[k]);
        cr_expect_eq(e.nbytes, 4 * numels[k]);
        float *got = malloc((size_t)numels[k] * 4 + 4);
        cr_assert_eq(attn_st_read_f32(st, name, got, numels[k]), ATTN_OK, "%s", attn_last_error());
        cr_expect(memcmp(got, data[k], (size_t)numels[k] * 4) == 0, "%s differs", name);
        memset(got, 0, (size_t)numels[k] * 4);
        cr_assert_eq(attn_st_read_raw(st, name, got, 4 * numels[k]), ATTN_OK);
        cr_expect(memcmp(got, data[k], (size_t)numels[k] * 4) == 0, "%s raw differs", name);
        free(got);
    }
}

Test(safetensors, round_trip_1d_to_4d_with_metadata_file_and_memory)
{
    /* scalar, 1-d .. 4-d, written in reverse name order */
    const int64_t shapes[5][4] = {{0}, {7}, {3, 5}, {2, 3, 4}, {2, 1, 3, 5}};
    const int ndims[5] = {0, 1, 2, 3, 4};
    int64_t numels[5];
    float *data[5];
    unsigned seed = 12345;
    for (int k = 0; k < 5; k++) {
        numels[k] = 1;
        for (int d = 0; d < ndims[k]; d++) numels[k] *= shapes[k][d];
        data[k] = malloc((size_t)numels[k] * 4);
        for (int64_t j = 0; j < numels[k]; j++) data[k][j] = frand(&seed);
    }
    data[1][0] = -0.0f;
    data[1][1] = INFINITY;
    data[1][2] = -INFINITY;
    data[1][3] = NAN;
    data[1][4] = 1e-45f; /* subnormal */
    attn_st_writer *w = NULL;
    cr_assert_eq(attn_st_writer_create(&w), ATTN_OK);
    for (int k = 4; k >= 0; k--) {
        char name[16];
        snprintf(name, sizeof name, "t%d", ndims[k]);
        cr_assert_eq(attn_st_writer_add(w, name, ndims[k], shapes[k], data[k]), ATTN_OK, "%s", attn_last_error());
    }
    cr_assert_eq(attn_st_writer_set_metadata(w, "format", "pt"), ATTN_OK);
    cr_assert_eq(attn_st_writer_set_metadata(w, "step", "1"), ATTN_OK);
    cr_assert_eq(attn_st_writer_set_metadata(w, "step", "42"), ATTN_OK); /* replaced */
    cr_assert_eq(attn_st_writer_set_metadata(w, "note", "quote \" backslash \\ newline \n tab \t é"), ATTN_OK);

    char *dir = temp_dir();
    char *path = join(dir, "model.safetensors");
    cr_assert_eq(attn_st_writer_commit(w, path), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(count_entries(dir), 1, "a temporary file was left behind");
    int64_t size = 0;
    cr_assert_eq(attn_st_writer_size(w, &size), ATTN_OK);
    unsigned char *mem = malloc((size_t)size);
    cr_assert_eq(attn_st_writer_serialize(w, mem, size), ATTN_OK);
    size_t flen;
    unsigned char *fbytes = read_file(path, &flen);
    cr_assert_eq((int64_t)flen, size);
    cr_expect(memcmp(fbytes, mem, flen) == 0, "commit and serialize differ");

    /* layout: header length a multiple of 8, so the buffer starts 8-byte aligned */
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | mem[i];
    cr_expect_eq(hl % 8, 0);
    cr_expect_eq(mem[8], '{');

    attn_st_reader *a = NULL, *b = NULL;
    cr_assert_eq(attn_st_open(path, &a), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_st_open_memory(mem, (size_t)size, &b), ATTN_OK, "%s", attn_last_error());
    expect_contents(a, 5, shapes, ndims, data, numels);
    expect_contents(b, 5, shapes, ndims, data, numels);
    /* memory open == file open: same entries in the same order, same metadata */
    for (int64_t i = 0; i < attn_st_count(a); i++) {
        attn_st_entry ea, eb;
        cr_assert_eq(attn_st_info(a, i, &ea), ATTN_OK);
        cr_assert_eq(attn_st_info(b, i, &eb), ATTN_OK);
        cr_expect_str_eq(ea.name, eb.name);
        if (i > 0) {
            attn_st_entry prev;
            attn_st_info(a, i - 1, &prev);
            cr_expect_lt(strcmp(prev.name, ea.name), 0, "entries not in name order");
        }
    }
    cr_assert_eq(attn_st_metadata_count(a), 3);
    cr_assert_eq(attn_st_metadata_count(b), 3);
    const char *keys[3] = {"format", "note", "step"};
    const char *vals[3] = {"pt", "quote \" backslash \\ newline \n tab \t é", "42"};
    for (int i = 0; i < 3; i++) {
        const char *k = NULL, *v = NULL;
        cr_assert_eq(attn_st_metadata_at(a, i, &k, &v), ATTN_OK);
        cr_expect_str_eq(k, keys[i]);
        cr_expect_str_eq(v, vals[i]);
        cr_expect_str_eq(attn_st_metadata(b, keys[i]), vals[i]);
    }
    cr_expect_null(attn_st_metadata(a, "absent"));
    attn_st_close(a);
    attn_st_close(b);

    /* a second commit over the existing file works and gives the same bytes */
    cr_assert_eq(attn_st_writer_commit(w, path), ATTN_OK, "%s", attn_last_error());
    free(fbytes);
    fbytes = read_file(path, &flen);
    cr_expect(flen == (size_t)size && memcmp(fbytes, mem, flen) == 0);
    cr_expect_eq(count_entries(dir), 1);

    attn_st_writer_free(w);
    for (int k = 0; k < 5; k++) free(data[k]);
    free(mem);
    free(fbytes);
    remove_tree(dir);
    free(path);
}

Test(safetensors, writer_bytes_follow_the_format_and_ignore_add_order)
{
    float a[2] = {1.0f, 2.0f}, b[1] = {-1.0f};
    int64_t sa[1] = {2}, sb[2] = {1, 1};
    attn_st_writer *w1 = NULL, *w2 = NULL;
    cr_assert_eq(attn_st_writer_create(&w1), ATTN_OK);
    cr_assert_eq(attn_st_writer_create(&w2), ATTN_OK);
    cr_assert_eq(attn_st_writer_add(w1, "b", 2, sb, b), ATTN_OK);
    cr_assert_eq(attn_st_writer_add(w1, "a", 1, sa, a), ATTN_OK);
    cr_assert_eq(attn_st_writer_add(w2, "a", 1, sa, a), ATTN_OK);
    cr_assert_eq(attn_st_writer_add(w2, "b", 2, sb, b), ATTN_OK);
    cr_assert_eq(attn_st_writer_set_metadata(w1, "k", "v"), ATTN_OK);
    cr_assert_eq(attn_st_writer_set_metadata(w2, "k", "v"), ATTN_OK);
    const char *json = "{\"__metadata__\":{\"k\":\"v\"},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[8,12]}}";
    size_t h = strlen(json), hp = (h + 7) / 8 * 8;
    int64_t s1, s2;
    cr_assert_eq(attn_st_writer_size(w1, &s1), ATTN_OK);
    cr_assert_eq(attn_st_writer_size(w2, &s2), ATTN_OK);
    cr_assert_eq(s1, (int64_t)(8 + hp + 12));
    cr_assert_eq(s2, s1);
    unsigned char *m1 = malloc((size_t)s1), *m2 = malloc((size_t)s1), *want = calloc(1, (size_t)s1);
    cr_assert_eq(attn_st_writer_serialize(w1, m1, s1), ATTN_OK);
    cr_assert_eq(attn_st_writer_serialize(w2, m2, s2), ATTN_OK);
    for (int i = 0; i < 8; i++) want[i] = (unsigned char)((uint64_t)hp >> (8 * i));
    memcpy(want + 8, json, h);
    memset(want + 8 + h, ' ', hp - h);
    float buf[3] = {1.0f, 2.0f, -1.0f}; /* little-endian host assumed by the expected bytes */
    memcpy(want + 8 + hp, buf, 12);
    cr_expect(memcmp(m1, want, (size_t)s1) == 0, "bytes differ from the hand-built file");
    cr_expect(memcmp(m2, want, (size_t)s1) == 0, "add order changed the bytes");
    free(m1);
    free(m2);
    free(want);
    attn_st_writer_free(w1);
    attn_st_writer_free(w2);
}

Test(safetensors, empty_writer_and_empty_tensors)
{
    attn_st_writer *w = NULL;
    cr_assert_eq(attn_st_writer_create(&w), ATTN_OK);
    int64_t size = 0;
    cr_assert_eq(attn_st_writer_size(w, &size), ATTN_OK);
    cr_expect_eq(size, 16); /* "{}" padded to 8 */
    unsigned char buf[64];
    cr_assert_eq(attn_st_writer_serialize(w, buf, sizeof buf), ATTN_OK);
    attn_st_reader *st = NULL;
    cr_assert_eq(attn_st_open_memory(buf, (size_t)size, &st), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(attn_st_count(st), 0);
    cr_expect_eq(attn_st_metadata_count(st), 0);
    attn_st_close(st);

    int64_t z[3] = {2, 0, 3};
    cr_assert_eq(attn_st_writer_add(w, "zero", 3, z, NULL), ATTN_OK, "%s", attn_last_error());
    float one = 5.0f;
    cr_assert_eq(attn_st_writer_add(w, "one", 0, NULL, &one), ATTN_OK);
    cr_assert_eq(attn_st_writer_size(w, &size), ATTN_OK);
    unsigned char *m = malloc((size_t)size);
    cr_assert_eq(attn_st_writer_serialize(w, m, size), ATTN_OK);
    cr_assert_eq(attn_st_open_memory(m, (size_t)size, &st), ATTN_OK, "%s", attn_last_error());
    attn_st_entry e;
    cr_assert_eq(attn_st_info(st, attn_st_find(st, "zero"), &e), ATTN_OK);
    cr_expect_eq(e.numel, 0);
    cr_expect_eq(e.nbytes, 0);
    cr_expect_eq(attn_st_read_f32(st, "zero", NULL, 0), ATTN_OK);
    cr_expect_eq(attn_st_read_raw(st, "zero", NULL, 0), ATTN_OK);
    float got = 0;
    cr_expect_eq(attn_st_read_f32(st, "one", &got, 1), ATTN_OK);
    cr_expect_eq(got, 5.0f);
    attn_st_close(st);
    free(m);
    attn_st_writer_free(w);
}

/* ------------------------------------------------------------------------------------------ */
/* Conversions to float32                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* binary16 → double by the definition: (-1)^s · 2^(e-15) · (1 + m/1024), subnormals 2^-14 · m/1024 */
static double half_by_definition(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double mag;
    if (e == 31) mag = m ? NAN : INFINITY;
    else if (e == 0) mag = ldexp((double)m, -24);
    else mag = ldexp(1024.0 + m, e - 25);
    return s ? -mag : mag;
}

Test(safetensors, f16_every_value_converts_exactly)
{
    uint16_t *h = malloc(65536 * 2);
    for (uint32_t i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    char json[128];
    snprintf(json, sizeof json, "{\"h\":{\"dtype\":\"F16\",\"shape\":[256,256],\"data_offsets\":[0,131072]}}");
    unsigned char *keep;
    attn_st_reader *st = open_good(json, h, 131072, &keep);
    float *got = malloc(65536 * 4);
    cr_assert_eq(attn_st_read_f32(st, "h", got, 65536), ATTN_OK, "%s", attn_last_error());
    int bad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        double want = half_by_definition((uint16_t)i);
        if (isnan(want)) {
            uint32_t bits;
            memcpy(&bits, &got[i], 4);
            /* NaN with its sign and payload kept (quiet bit included) */
            if (!isnan(got[i]) || (bits >> 31) != (i >> 15) || ((bits >> 13) & 0x3FF) != (i & 0x3FF)) bad++;
        } else if ((double)got[i] != want || !signbit(got[i]) != !signbit(want)) {
            bad++;
        }
    }
    cr_expect_eq(bad, 0, "%d half values convert wrongly", bad);
    free(got);
    free(h);
    free(keep);
    attn_st_close(st);
}

Test(safetensors, bf16_f64_convert_and_other_dtypes_read_raw)
{
    /* buffer: BF16[4] (8 bytes) | F64[4] (32) | I64[2] (16) | BOOL[3] (3) */
    unsigned char data[59];
    uint16_t bf[4] = {0x3F80, 0xC040, 0x7F80, 0x0001}; /* 1, -3, inf, smallest subnormal */
    double f64[4] = {1.0 / 3.0, -1e300, 1e-50, 16777217.0};
    int64_t i64[2] = {7, -9};
    memcpy(data, bf, 8);
    memcpy(data + 8, f64, 32);
    memcpy(data + 40, i64, 16);
    data[56] = 1, data[57] = 0, data[58] = 1;
    const char *json = "{\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]},"
                       "\"d\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[8,40]},"
                       "\"i\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[40,56]},"
                       "\"m\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[56,59]}}";
    unsigned char *keep;
    attn_st_reader *st = open_good(json, data, sizeof data, &keep);
    float got[4];
    cr_assert_eq(attn_st_read_f32(st, "b", got, 4), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(got[0], 1.0f);
    cr_expect_eq(got[1], -3.0f);
    cr_expect(isinf(got[2]) && got[2] > 0);
    cr_expect_eq(got[3], ldexpf(1.0f, -133));
    cr_assert_eq(attn_st_read_f32(st, "d", got, 4), ATTN_OK, "%s", attn_last_error());
    for (int i = 0; i < 4; i++) cr_expect_eq(got[i], (float)f64[i], "d[%d]", i);
    cr_expect(isinf(got[1]) && got[1] < 0);
    cr_expect_eq(got[3], 16777216.0f); /* round to nearest even */
    cr_expect_eq(attn_st_read_f32(st, "i", got, 2), ATTN_E_UNSUPPORTED);
    cr_expect(strstr(attn_last_error(), "I64") != NULL);
    int64_t ri[2] = {0};
    cr_assert_eq(attn_st_read_raw(st, "i", ri, 16), ATTN_OK);
    cr_expect(ri[0] == 7 && ri[1] == -9);
    unsigned char rb[3];
    cr_assert_eq(attn_st_read_raw(st, "m", rb, 3), ATTN_OK);
    cr_expect(rb[0] == 1 && rb[1] == 0 && rb[2] == 1);
    attn_st_entry e;
    cr_assert_eq(attn_st_info(st, attn_st_find(st, "m"), &e), ATTN_OK);
    cr_expect_str_eq(e.dtype, "BOOL");
    attn_st_close(st);
    free(keep);
}

Test(safetensors, reader_accepts_what_the_format_allows)
{
    /* out-of-order offsets, unknown entry fields, whitespace, escapes, UTF-8 names, "{}" */
    float v[3] = {1, 2, 3};
    const char *json = "{\n\t\"z\" : {\"shape\":[2],\"dtype\":\"F32\",\"data_offsets\":[0,8],\"extra\":[null]} ,"
                       "\"a\\u00e9\\\"\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]}}  \r\n ";
    size_t len;
    unsigned char *buf = make_file(json, v, 12, &len);
    attn_st_reader *st = NULL;
    cr_assert_eq(attn_st_open_memory(buf, len, &st), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(attn_st_count(st), 2);
    float s = 0;
    cr_assert_eq(attn_st_read_f32(st, "a\xc3\xa9\"", &s, 1), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(s, 3.0f);
    attn_st_close(st);
    free(buf);
    unsigned char *keep;
    st = open_good("{}", NULL, 0, &keep);
    cr_expect_eq(attn_st_count(st), 0);
    attn_st_close(st);
    free(keep);
}

