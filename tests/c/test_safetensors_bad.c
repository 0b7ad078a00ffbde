/* test_safetensors_bad.c — what the safetensors code must refuse: malformed files (each with
 * ATTN_E_FORMAT and a message naming the tensor or field, from memory and from disk alike),
 * I/O failures (ATTN_E_IO naming the path), commits that fail half way (the old file stays
 * byte-identical, no temporary file remains), and bad arguments to every public function. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attn.h"
#include "st_test_helpers.h"

extern int attn_st_fault_point;

#define F32_1(off) "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" off "]}"

/* ------------------------------------------------------------------------------------------ */
/* Framing: the length field and the header bounds                                            */
/* ------------------------------------------------------------------------------------------ */

static void expect_bad_length(uint64_t n, size_t total, const char *needle)
{
    unsigned char buf[64] = "";
    cr_assert(total <= sizeof buf);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(n >> (8 * i));
    if (total > 8) memcpy(buf + 8, "{}                                                      ", total - 8);
    expect_bad_bytes(buf, total, needle);
}

Test(safetensors_bad, framing)
{
    expect_bad_length(2, 0, "too short");                       /* empty file */
    expect_bad_length(2, 7, "too short");                       /* part of the length field */
    expect_bad_length(0, 10, "below 2");                        /* nothing for "{}" */
    expect_bad_length(1, 10, "below 2");
    expect_bad_length((uint64_t)1 << 40, 10, "exceeds the limit"); /* huge length */
    expect_bad_length(UINT64_MAX, 10, "exceeds the limit");     /* would wrap 8 + N */
    expect_bad_length(ATTN_ST_MAX_HEADER + 1ull, 10, "exceeds the limit");
    expect_bad_length(3, 10, "after the length field");         /* header longer than the file */
    expect_bad_length(50, 40, "after the length field");

    /* a valid file cut anywhere: in the header it is refused as too short for its header
     * length, in the data the last tensor passes the end of the buffer */
    float v[4] = {1, 2, 3, 4};
    size_t len;
    unsigned char *good = make_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", v, 16, &len);
    attn_st_reader *st = NULL;
    cr_assert_eq(attn_st_open_memory(good, len, &st), ATTN_OK, "%s", attn_last_error());
    attn_st_close(st);
    for (size_t cut = 8; cut < len; cut++) {
        const char *needle = cut < len - 16 ? "after the length field" : "tensor 'w'";
        st = (attn_st_reader *)good;
        cr_expect_eq(attn_st_open_memory(good, cut, &st), ATTN_E_FORMAT, "cut at %zu opened", cut);
        cr_expect_null(st);
        cr_expect(strstr(attn_last_error(), needle) != NULL, "cut %zu: '%s'", cut, attn_last_error());
    }
    expect_bad_bytes(good, len - 1, "pass the end");
    free(good);
}

/* ------------------------------------------------------------------------------------------ */
/* The header text                                                                            */
/* ------------------------------------------------------------------------------------------ */

Test(safetensors_bad, header_text)
{
    expect_bad("[1]", 0, "does not start with '{'"); /* JSON, but not an object */
    expect_bad("\"{}\"", 0, "does not start with '{'");
    expect_bad(" {}", 0, "does not start with '{'");
    expect_bad("{\"a\":", 0, "invalid JSON");
    expect_bad("{\"a\" 1}", 0, "invalid JSON");
    expect_bad("{\"a\":{},}", 0, "invalid JSON");
    expect_bad("{'a':1}", 0, "invalid JSON");
    expect_bad("{\"a\":\"\\q\"}", 0, "invalid JSON");
    expect_bad("{}x", 0, "after the JSON value");
    expect_bad("{} {}", 0, "after the JSON value");
    expect_bad("{\"\xff\":1}", 0, "not valid UTF-8");
    expect_bad("{\"\xc0\x80\":1}", 0, "not valid UTF-8"); /* overlong NUL */
    expect_bad("{\"\xed\xa0\x80\":1}", 0, "not valid UTF-8"); /* surrogate */
    expect_bad("{\"a\x01\":1}", 0, "control byte 0x01 inside a string");
    expect_bad("{\x0b}", 0, "control byte 0x0b");
    expect_bad("{\"a\\u0000b\":" F32_1("0,4") "}", 4, "\\u0000");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, "'1.0' at byte");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4, "is not an integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, "leading zero");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[9007199254740993],\"data_offsets\":[0,4]}}", 4, "exceeds 2^53");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,100000000000000000000]}}", 4,
               "exceeds 2^53");
    /* nesting beyond cJSON's limit of 1000 levels, and more values than the reader parses */
    char *deep = malloc(2100);
    strcpy(deep, "{\"a\":");
    memset(deep + 5, '[', 2000);
    strcpy(deep + 2005, "}");
    expect_bad(deep, 0, "invalid JSON");
    free(deep);
    size_t nv = 4u * 1024 * 1024 + 2, hl = 8 + 2 * nv;
    char *many = malloc(hl + 1);
    memcpy(many, "{\"a\":[", 6);
    for (size_t i = 0; i < nv; i++) memcpy(many + 6 + 2 * i, "0,", 2);
    strcpy(many + 6 + 2 * nv - 1, "]}");
    size_t len;
    unsigned char *buf = make_file(many, NULL, 0, &len);
    attn_st_reader *st = NULL;
    cr_expect_eq(attn_st_open_memory(buf, len, &st), ATTN_E_FORMAT);
    cr_expect(strstr(attn_last_error(), "more than 4194304 JSON values") != NULL, "%s", attn_last_error());
    free(buf);
    free(many);
    /* the message shows where: the text just before the number */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "\"shape\":[')");
}

/* ------------------------------------------------------------------------------------------ */
/* Entries                                                                                    */
/* ------------------------------------------------------------------------------------------ */

Test(safetensors_bad, entries)
{
    expect_bad("{\"a\":1}", 0, "tensor 'a': entry is not an object");
    expect_bad("{\"a\":[]}", 0, "tensor 'a': entry is not an object");
    expect_bad("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing field 'dtype'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing field 'shape'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'a': missing field 'data_offsets'");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "tensor 'a': field 'dtype' given twice");
    /* dtype */
    expect_bad("{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a': dtype is not a string");
    expect_bad("{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a': unknown dtype 'F33'");
    expect_bad("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype 'f32'");
    expect_bad("{\"a\":{\"dtype\":\"\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype ''");
    /* shape */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, "tensor 'a': shape is not an array");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,4]}}", 4, "shape is not an array");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
               "tensor 'a': shape[0] is not an integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,-0],\"data_offsets\":[0,4]}}", 4, "shape[1] is not an integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "shape[0] is not an integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[true],\"data_offsets\":[0,4]}}", 4, "shape[0] is not an integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,4]}}", 4, "shape[0] is not an integer");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}}", 4, "shape[0] is not an integer");
    char json[1024];
    int k = snprintf(json, sizeof json, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1");
    for (int d = 1; d <= ATTN_ST_MAX_NDIM; d++) k += snprintf(json + k, sizeof json - (size_t)k, ",1");
    snprintf(json + k, sizeof json - (size_t)k, "],\"data_offsets\":[0,4]}}");
    expect_bad(json, 4, "tensor 'a': shape has 65 dimensions");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
               "tensor 'a': shape × dtype size overflows");
    expect_bad("{\"a\":{\"dtype\":\"F64\",\"shape\":[9007199254740992,512],\"data_offsets\":[0,4]}}", 4,
               "shape × dtype size overflows"); /* numel fits, × 8 does not */
    /* byte length */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
               "tensor 'a': data_offsets span 4 bytes but shape × F32 size is 8 bytes");
    expect_bad("{\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,4]}}", 4, "shape × F16 size is 6 bytes");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,4]}}", 4, "span 4 bytes");
    /* offsets */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
               "tensor 'a': data_offsets is not an array of 2 integers");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, "not an array of 2 integers");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":4}}", 4, "not an array of 2 integers");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
               "tensor 'a': data_offsets are not integers");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 4, "data_offsets are not integers");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, "end before they begin");
    expect_bad("{\"a\":" F32_1("4,8") "}", 4, "tensor 'a': data_offsets [4, 8] pass the end of the 4-byte buffer");
    expect_bad("{\"a\":" F32_1("9007199254740988,9007199254740992") "}", 4, "pass the end");
}

/* ------------------------------------------------------------------------------------------ */
/* The layout of the buffer, names and metadata                                               */
/* ------------------------------------------------------------------------------------------ */

Test(safetensors_bad, layout_names_metadata)
{
    /* overlap: b lies inside a */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":" F32_1("4,8") "}", 8,
               "tensor 'b' [4, 8) overlaps tensor 'a'");
    expect_bad("{\"a\":" F32_1("0,4") ",\"b\":" F32_1("0,4") "}", 4, "overlaps tensor");
    /* gaps and trailing bytes are not allowed by the format */
    expect_bad("{\"a\":" F32_1("4,8") "}", 8, "tensor 'a' begins at 4");
    expect_bad("{\"a\":" F32_1("0,4") ",\"b\":" F32_1("8,12") "}", 12, "tensor 'b' begins at 8");
    expect_bad("{\"a\":" F32_1("0,4") "}", 8, "trailing bytes");
    expect_bad("{}", 4, "4 bytes of data follow a header with no tensor");
    /* names */
    expect_bad("{\"a\":" F32_1("0,4") ",\"a\":" F32_1("4,8") "}", 8, "tensor 'a' appears twice");
    /* metadata */
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ appears twice");
    expect_bad("{\"__metadata__\":[]}", 0, "__metadata__ is not an object");
    expect_bad("{\"__metadata__\":\"x\"}", 0, "__metadata__ is not an object");
    expect_bad("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__['k'] is not a string");
    expect_bad("{\"__metadata__\":{\"a\":\"1\",\"k\":null}}", 0, "__metadata__['k'] is not a string");
    expect_bad("{\"__metadata__\":{\"k\":{}}}", 0, "__metadata__['k'] is not a string");
    expect_bad("{\"__metadata__\":{\"k\":[\"v\"]}}", 0, "__metadata__['k'] is not a string");
    expect_bad("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "__metadata__ has key 'k' twice");
    /* a long name is cut in the message, not overflowed */
    char json[2048], name[1500];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(json, sizeof json, "{\"%s\":1}", name);
    expect_bad(json, 0, "tensor 'nnnnnnnn");
}

/* ------------------------------------------------------------------------------------------ */
/* I/O                                                                                        */
/* ------------------------------------------------------------------------------------------ */

static void expect_io(int status, const char *needle)
{
    cr_expect_eq(status, ATTN_E_IO, "status %d: %s", status, attn_last_error());
    cr_expect(strstr(attn_last_error(), needle) != NULL, "'%s' lacks '%s'", attn_last_error(), needle);
}

Test(safetensors_bad, io_errors_name_the_path)
{
    char *dir = temp_dir();
    char *missing = join(dir, "missing.safetensors");
    attn_st_reader *st = (attn_st_reader *)dir;
    expect_io(attn_st_open(missing, &st), missing);
    cr_expect_null(st);
    expect_io(attn_st_open(dir, &st), "not a regular file");
    char *fifo = join(dir, "fifo");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    expect_io(attn_st_open(fifo, &st), "not a regular file"); /* and does not block */

    /* a file that shrinks after it was opened: the read fails with ATTN_E_IO */
    float v[256];
    for (int i = 0; i < 256; i++) v[i] = (float)i;
    size_t len;
    unsigned char *buf = make_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[256],\"data_offsets\":[0,1024]}}", v, 1024, &len);
    char *path = join(dir, "shrinks.safetensors");
    write_file(path, buf, len);
    cr_assert_eq(attn_st_open(path, &st), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(truncate(path, (off_t)(len - 100)), 0);
    float got[256];
    expect_io(attn_st_read_f32(st, "w", got, 256), path);
    expect_io(attn_st_read_raw(st, "w", got, 1024), "shorter than when opened");
    attn_st_close(st);
    free(buf);
    free(path);
    free(fifo);
    free(missing);
    remove_tree(dir);
}

/* ------------------------------------------------------------------------------------------ */
/* Atomic commit                                                                              */
/* ------------------------------------------------------------------------------------------ */

static attn_st_writer *small_writer(float *data, int64_t n)
{
    attn_st_writer *w = NULL;
    cr_assert_eq(attn_st_writer_create(&w), ATTN_OK);
    for (int64_t i = 0; i < n; i++) data[i] = (float)i * 0.5f;
    cr_assert_eq(attn_st_writer_add(w, "w", 1, &n, data), ATTN_OK);
    return w;
}

Test(safetensors_bad, failed_commit_keeps_the_old_file)
{
    static float data[100000]; /* large enough that a write fails half way through */
    attn_st_writer *w = small_writer(data, 100000);
    char *dir = temp_dir();
    char *path = join(dir, "ckpt.safetensors");
    const char old[] = "the previous checkpoint";
    write_file(path, old, sizeof old);
    for (int fault = 1; fault <= 3; fault++) {
        attn_st_fault_point = fault;
        int s = attn_st_writer_commit(w, path);
        attn_st_fault_point = 0;
        cr_expect_eq(s, ATTN_E_IO, "fault %d: status %d", fault, s);
        const char *needle = fault == 1 ? "write failed" : fault == 2 ? "fsync failed" : "cannot rename";
        cr_expect(strstr(attn_last_error(), needle) != NULL, "fault %d: '%s'", fault, attn_last_error());
        size_t n;
        unsigned char *now = read_file(path, &n);
        cr_expect(n == sizeof old && memcmp(now, old, n) == 0, "fault %d changed the old file", fault);
        free(now);
        cr_expect_eq(count_entries(dir), 1, "fault %d left a temporary file", fault);
    }
    /* without a fault the same writer commits, and the file reads back */
    cr_assert_eq(attn_st_writer_commit(w, path), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(count_entries(dir), 1);
    attn_st_reader *st = NULL;
    cr_assert_eq(attn_st_open(path, &st), ATTN_OK, "%s", attn_last_error());
    static float back[100000];
    cr_assert_eq(attn_st_read_f32(st, "w", back, 100000), ATTN_OK);
    cr_expect(memcmp(back, data, sizeof data) == 0);
    attn_st_close(st);
    attn_st_writer_free(w);
    remove_tree(dir);
    free(path);
}

Test(safetensors_bad, commit_to_a_directory_or_a_missing_one)
{
    float data[4];
    attn_st_writer *w = small_writer(data, 4);
    char *dir = temp_dir();
    /* target is a directory (with a file in it, so that rename cannot replace it) */
    char *sub = join(dir, "sub.safetensors");
    cr_assert_eq(mkdir(sub, 0700), 0);
    char *inner = join(sub, "keep");
    write_file(inner, "x", 1);
    expect_io(attn_st_writer_commit(w, sub), sub);
    struct stat sb;
    cr_expect(stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode));
    cr_expect_eq(count_entries(dir), 1, "a temporary file was left beside the directory");
    cr_expect_eq(count_entries(sub), 1);
    /* the directory of the target does not exist */
    char *nowhere = join(dir, "no/such/dir.safetensors");
    expect_io(attn_st_writer_commit(w, nowhere), "cannot create a temporary file");
    cr_expect(strstr(attn_last_error(), nowhere) != NULL);
    cr_expect_eq(count_entries(dir), 1);
    /* an unwritable directory (root writes anywhere, so only as another user) */
    if (geteuid() != 0) {
        char *ro = join(dir, "ro");
        cr_assert_eq(mkdir(ro, 0500), 0);
        char *target = join(ro, "x.safetensors");
        expect_io(attn_st_writer_commit(w, target), "cannot create a temporary file");
        cr_expect_eq(count_entries(ro), 0);
        chmod(ro, 0700);
        free(target);
        free(ro);
    }
    attn_st_writer_free(w);
    remove(inner);
    remove_tree(dir);
    free(inner);
    free(sub);
    free(nowhere);
}

/* ------------------------------------------------------------------------------------------ */
/* Arguments of every public function                                                         */
/* ------------------------------------------------------------------------------------------ */

static void expect_arg(int status, const char *needle)
{
    cr_expect_eq(status, ATTN_E_ARG, "status %d: %s", status, attn_last_error());
    cr_expect(strstr(attn_last_error(), needle) != NULL, "'%s' lacks '%s'", attn_last_error(), needle);
}

Test(safetensors_bad, reader_arguments)
{
    attn_st_reader *st = NULL;
    expect_arg(attn_st_open("x", NULL), "attn_st_open: out is NULL");
    st = (attn_st_reader *)&st;
    expect_arg(attn_st_open(NULL, &st), "attn_st_open: path is NULL");
    cr_expect_null(st);
    expect_arg(attn_st_open_memory("x", 1, NULL), "attn_st_open_memory: out is NULL");
    expect_arg(attn_st_open_memory(NULL, 16, &st), "buf is NULL");
    cr_expect_eq(attn_st_open_memory(NULL, 0, &st), ATTN_E_FORMAT); /* an empty file */
    attn_st_close(NULL);
    cr_expect_eq(attn_st_count(NULL), 0);
    cr_expect_eq(attn_st_metadata_count(NULL), 0);
    cr_expect_null(attn_st_metadata(NULL, "k"));

    float v = 2.5f;
    unsigned char *keep;
    st = open_good("{\"__metadata__\":{\"k\":\"v\"},\"w\":" F32_1("0,4") "}", &v, 4, &keep);
    attn_st_entry e;
    expect_arg(attn_st_info(NULL, 0, &e), "attn_st_info: st is NULL");
    expect_arg(attn_st_info(st, 0, NULL), "out is NULL");
    expect_arg(attn_st_info(st, -1, &e), "index -1 outside [0, 1)");
    expect_arg(attn_st_info(st, 1, &e), "index 1 outside");
    expect_arg((int)attn_st_find(NULL, "w"), "attn_st_find: st is NULL");
    expect_arg((int)attn_st_find(st, NULL), "name is NULL");
    expect_arg((int)attn_st_find(st, "nope"), "no tensor named 'nope'");
    cr_expect_eq(attn_st_find(st, "w"), 0);
    float got;
    expect_arg(attn_st_read_f32(NULL, "w", &got, 1), "attn_st_read_f32: st is NULL");
    expect_arg(attn_st_read_f32(st, NULL, &got, 1), "name is NULL");
    expect_arg(attn_st_read_f32(st, "nope", &got, 1), "attn_st_read_f32: attn_st_find");
    expect_arg(attn_st_read_f32(st, "w", NULL, 1), "dst is NULL");
    cr_expect_eq(attn_st_read_f32(st, "w", &got, 2), ATTN_E_SHAPE);
    cr_expect(strstr(attn_last_error(), "tensor 'w' has 1 elements, not 2") != NULL, "%s", attn_last_error());
    cr_expect_eq(attn_st_read_f32(st, "w", &got, -1), ATTN_E_SHAPE);
    expect_arg(attn_st_read_raw(NULL, "w", &got, 4), "attn_st_read_raw: st is NULL");
    expect_arg(attn_st_read_raw(st, NULL, &got, 4), "name is NULL");
    expect_arg(attn_st_read_raw(st, "nope", &got, 4), "no tensor named");
    expect_arg(attn_st_read_raw(st, "w", NULL, 4), "dst is NULL");
    cr_expect_eq(attn_st_read_raw(st, "w", &got, 3), ATTN_E_SHAPE);
    cr_expect(strstr(attn_last_error(), "holds 4 bytes, not 3") != NULL);
    cr_expect_null(attn_st_metadata(st, NULL));
    const char *k = NULL, *val = NULL;
    expect_arg(attn_st_metadata_at(NULL, 0, &k, &val), "attn_st_metadata_at: st is NULL");
    expect_arg(attn_st_metadata_at(st, 1, &k, &val), "index 1 outside [0, 1)");
    expect_arg(attn_st_metadata_at(st, -1, &k, &val), "outside");
    cr_expect_eq(attn_st_metadata_at(st, 0, NULL, NULL), ATTN_OK);
    cr_expect_eq(attn_st_metadata_at(st, 0, &k, &val), ATTN_OK);
    cr_expect_str_eq(k, "k");
    cr_expect_str_eq(val, "v");
    cr_expect_eq(attn_st_read_f32(st, "w", &got, 1), ATTN_OK);
    cr_expect_eq(got, 2.5f);
    attn_st_close(st);
    free(keep);
}

Test(safetensors_bad, writer_arguments)
{
    expect_arg(attn_st_writer_create(NULL), "attn_st_writer_create: w is NULL");
    attn_st_writer_free(NULL);
    attn_st_writer *w = NULL;
    cr_assert_eq(attn_st_writer_create(&w), ATTN_OK);
    float d[4] = {0};
    int64_t s1[1] = {4}, neg[2] = {2, -2}, big[3] = {INT64_MAX / 2, 4, 4}, many[2] = {(int64_t)1 << 51, 2};
    expect_arg(attn_st_writer_add(NULL, "a", 1, s1, d), "attn_st_writer_add: w is NULL");
    expect_arg(attn_st_writer_add(w, NULL, 1, s1, d), "name is NULL");
    expect_arg(attn_st_writer_add(w, "", 1, s1, d), "empty tensor name");
    expect_arg(attn_st_writer_add(w, "__metadata__", 1, s1, d), "reserved");
    expect_arg(attn_st_writer_add(w, "bad\xff", 1, s1, d), "not valid UTF-8");
    expect_arg(attn_st_writer_add(w, "a", -1, s1, d), "ndim -1 outside [0, 64]");
    expect_arg(attn_st_writer_add(w, "a", ATTN_ST_MAX_NDIM + 1, s1, d), "ndim 65");
    expect_arg(attn_st_writer_add(w, "a", 1, NULL, d), "shape is NULL");
    expect_arg(attn_st_writer_add(w, "a", 2, neg, d), "tensor 'a': shape[1]=-2 is negative");
    expect_arg(attn_st_writer_add(w, "a", 1, s1, NULL), "tensor 'a': data is NULL");
    cr_expect_eq(attn_st_writer_add(w, "a", 3, big, d), ATTN_E_OVERFLOW);
    cr_expect(strstr(attn_last_error(), "element count overflows") != NULL);
    cr_expect_eq(attn_st_writer_add(w, "a", 2, many, d), ATTN_E_OVERFLOW); /* 2^52 · 4 bytes > 2^53 */
    cr_expect_eq(attn_st_writer_add(w, "a", 1, s1, d), ATTN_OK);
    expect_arg(attn_st_writer_add(w, "a", 1, s1, d), "tensor 'a' was already added");
    expect_arg(attn_st_writer_set_metadata(NULL, "k", "v"), "attn_st_writer_set_metadata: w is NULL");
    expect_arg(attn_st_writer_set_metadata(w, NULL, "v"), "key is NULL");
    expect_arg(attn_st_writer_set_metadata(w, "k", NULL), "value is NULL");
    expect_arg(attn_st_writer_set_metadata(w, "k\xc3", "v"), "metadata key");
    expect_arg(attn_st_writer_set_metadata(w, "k", "\x80"), "metadata value");
    int64_t size = 0;
    expect_arg(attn_st_writer_size(NULL, &size), "attn_st_writer_size: w is NULL");
    expect_arg(attn_st_writer_size(w, NULL), "bytes is NULL");
    cr_assert_eq(attn_st_writer_size(w, &size), ATTN_OK);
    unsigned char *buf = malloc((size_t)size);
    expect_arg(attn_st_writer_serialize(NULL, buf, size), "attn_st_writer_serialize: w is NULL");
    expect_arg(attn_st_writer_serialize(w, NULL, size), "dst is NULL");
    expect_arg(attn_st_writer_serialize(w, buf, size - 1), "but cap is");
    expect_arg(attn_st_writer_commit(NULL, "x"), "attn_st_writer_commit: w is NULL");
    expect_arg(attn_st_writer_commit(w, NULL), "path is NULL");
    expect_arg(attn_st_writer_commit(w, ""), "empty path");
    /* the failed calls left the writer as it was: one tensor "a" of 4 zeros */
    cr_assert_eq(attn_st_writer_serialize(w, buf, size), ATTN_OK);
    attn_st_reader *st = NULL;
    cr_assert_eq(attn_st_open_memory(buf, (size_t)size, &st), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(attn_st_count(st), 1);
    cr_expect_eq(attn_st_metadata_count(st), 0);
    attn_st_close(st);
    free(buf);
    attn_st_writer_free(w);
}

Test(safetensors_bad, commit_with_a_long_file_name)
{
    /* a 250-byte name leaves no room for "<name>.tmp.<pid>.<n>" within NAME_MAX (255) */
    float data[4];
    attn_st_writer *w = small_writer(data, 4);
    char *dir = temp_dir();
    char name[251];
    memset(name, 'x', 250);
    name[250] = '\0';
    char *path = join(dir, name);
    cr_assert_eq(attn_st_writer_commit(w, path), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(count_entries(dir), 1);
    attn_st_reader *st = NULL;
    cr_assert_eq(attn_st_open(path, &st), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(attn_st_count(st), 1);
    attn_st_close(st);
    /* the same with a bare file name in the current directory */
    char cwd[4096];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(dir), 0);
    cr_expect_eq(attn_st_writer_commit(w, name), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(count_entries("."), 1);
    cr_assert_eq(chdir(cwd), 0);
    attn_st_writer_free(w);
    remove_tree(dir);
    free(path);
}
