/* imdb.c — the IMDb review set: from LABEL<TAB>TEXT files (+ .ids), or the aclImdb folders. */
#include "data_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static char empty_string[1];

/* Everything a loaded set owns. */
typedef struct imdb_store {
    char *bufs[2];     /* file contents the strings point into */
    char **lines[2];   /* line tables of those files */
    size_t *lens[2];
} imdb_store;

void attn_imdb_free(attn_imdb *d)
{
    if (!d) return;
    imdb_store *s = d->priv_;
    if (s) {
        for (int i = 0; i < 2; i++) free(s->bufs[i]), free(s->lines[i]), free(s->lens[i]);
        free(s);
    }
    free(d->text), free(d->label), free(d->rating), free(d->movie), free(d->name);
    free(d);
}

static int imdb_alloc(const char *fn, int64_t n, attn_imdb **out)
{
    attn_imdb *d = calloc(1, sizeof *d);
    if (!d) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    size_t m = n > 0 ? (size_t)n : 1;
    d->n = n;
    d->priv_ = calloc(1, sizeof(imdb_store));
    d->text = calloc(m, sizeof *d->text);
    d->label = calloc(m, 1);
    d->rating = calloc(m, 1);
    d->movie = calloc(m, sizeof *d->movie);
    d->name = calloc(m, sizeof *d->name);
    if (!d->priv_ || !d->text || !d->label || !d->rating || !d->movie || !d->name) {
        attn_imdb_free(d);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory for %lld reviews", fn, (long long)n);
    }
    for (int64_t i = 0; i < n; i++) d->movie[i] = d->name[i] = empty_string;
    *out = d;
    return ATTN_OK;
}

/* "neg/0_3" → label 0, id 0, rating 3. Returns 0 on success. */
static int parse_review_name(const char *s, size_t len, int *label, long *id, int *rating)
{
    if (len < 7) return -1;
    if (memcmp(s, "neg/", 4) == 0) *label = 0;
    else if (memcmp(s, "pos/", 4) == 0) *label = 1;
    else return -1;
    char tail[32];
    if (len - 4 >= sizeof tail) return -1;
    memcpy(tail, s + 4, len - 4);
    tail[len - 4] = '\0';
    /* "<digits>_<digits>", parsed with range checks (sscanf's %ld is undefined on overflow) */
    if (!(tail[0] >= '0' && tail[0] <= '9')) return -1;
    errno = 0;
    char *end;
    long v = strtol(tail, &end, 10);
    if (errno || *end != '_' || !(end[1] >= '0' && end[1] <= '9')) return -1;
    char *end2;
    long r = strtol(end + 1, &end2, 10);
    if (errno || *end2 || r < 1 || r > 10) return -1;
    *id = v, *rating = (int)r;
    return 0;
}

static int attach_ids(const char *fn, const char *ids_path, attn_imdb *d)
{
    imdb_store *s = d->priv_;
    size_t len;
    int64_t n;
    ATTN_TRY(attn_read_file(fn, ids_path, &s->bufs[1], &len));
    ATTN_TRY(attn_split_lines(fn, ids_path, s->bufs[1], len, &s->lines[1], &s->lens[1], &n));
    if (n != d->n)
        return attn_fail(ATTN_E_FORMAT, "%s: %s has %lld lines but the reviews file has %lld", fn,
                         ids_path, (long long)n, (long long)d->n);
    for (int64_t i = 0; i < n; i++) {
        char *line = s->lines[1][i];
        size_t ll = s->lens[1][i];
        ATTN_TRY(attn_check_line_utf8(fn, ids_path, i + 1, line, ll));
        char *tab = memchr(line, '\t', ll);
        int label, rating;
        long id;
        if (!tab || parse_review_name(line, (size_t)(tab - line), &label, &id, &rating) != 0)
            return attn_fail(ATTN_E_FORMAT,
                             "%s: %s:%lld: expected <neg|pos>/<id>_<rating><TAB><movie id>", fn,
                             ids_path, (long long)(i + 1));
        if (label != d->label[i])
            return attn_fail(ATTN_E_FORMAT, "%s: %s:%lld: %.3s but the review's label is %d", fn,
                             ids_path, (long long)(i + 1), line, d->label[i]);
        *tab = '\0';
        d->name[i] = line;
        d->movie[i] = tab + 1;
        d->rating[i] = (int8_t)rating;
    }
    return ATTN_OK;
}

int attn_imdb_load(const char *tsv_path, const char *ids_path, attn_imdb **out)
{
    static const char fn[] = "attn_imdb_load";
    ATTN_REQUIRE_NONNULL(fn, tsv_path);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    char *buf;
    size_t len;
    ATTN_TRY(attn_read_file(fn, tsv_path, &buf, &len));
    char **lines;
    size_t *lens;
    int64_t n;
    int st = attn_split_lines(fn, tsv_path, buf, len, &lines, &lens, &n);
    if (st != ATTN_OK) {
        free(buf);
        return st;
    }
    attn_imdb *d;
    if ((st = imdb_alloc(fn, n, &d)) != ATTN_OK) {
        free(buf), free(lines), free(lens);
        return st;
    }
    imdb_store *s = d->priv_;
    s->bufs[0] = buf, s->lines[0] = lines, s->lens[0] = lens;
    for (int64_t i = 0; i < n && st == ATTN_OK; i++) {
        char *line = lines[i];
        char *tab = memchr(line, '\t', lens[i]);
        if (!tab) {
            st = attn_fail(ATTN_E_FORMAT, "%s: %s:%lld: no TAB (expected LABEL<TAB>TEXT)", fn,
                           tsv_path, (long long)(i + 1));
            break;
        }
        size_t ll = (size_t)(tab - line);
        if (ll != 1 || (line[0] != '0' && line[0] != '1')) {
            st = attn_fail(ATTN_E_FORMAT, "%s: %s:%lld: label \"%.*s\" is not 0 or 1", fn,
                           tsv_path, (long long)(i + 1), (int)(ll < 20 ? ll : 20), line);
            break;
        }
        st = attn_check_line_utf8(fn, tsv_path, i + 1, line, lens[i]);
        d->label[i] = (int8_t)(line[0] - '0');
        d->text[i] = tab + 1;
    }
    if (st == ATTN_OK && ids_path) st = attach_ids(fn, ids_path, d);
    if (st != ATTN_OK) {
        attn_imdb_free(d);
        return st;
    }
    *out = d;
    return ATTN_OK;
}

/* ---- the aclImdb folder layout ---------------------------------------------------------- */

typedef struct review_file {
    long id;
    int label, rating;
} review_file;

static int cmp_review(const void *a, const void *b)
{
    const review_file *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return x->label - y->label;
}

static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

/* Append the reviews in dir/<neg|pos> to *files. */
static int list_reviews(const char *fn, const char *split_dir, int label, review_file **files,
                        size_t *n, size_t *cap)
{
    char *dir = path_join(split_dir, label ? "pos" : "neg");
    if (!dir) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    DIR *dp = opendir(dir);
    if (!dp) {
        int st = attn_fail(ATTN_E_IO, "%s: cannot open folder %s", fn, dir);
        free(dir);
        return st;
    }
    int st = ATTN_OK;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 4, ".txt") != 0) continue;
        char name[64];
        int w = snprintf(name, sizeof name, "%s/%.*s", label ? "pos" : "neg", (int)(l - 4),
                         e->d_name);
        review_file r = {0};
        int lab;
        if (w < 0 || (size_t)w >= sizeof name ||
            parse_review_name(name, (size_t)w, &lab, &r.id, &r.rating) != 0) {
            st = attn_fail(ATTN_E_FORMAT, "%s: %s/%s: expected a name <id>_<rating>.txt", fn, dir,
                           e->d_name);
            break;
        }
        r.label = label;
        if (*n == *cap) {
            size_t c = *cap ? 2 * *cap : 1024;
            review_file *p = realloc(*files, c * sizeof *p);
            if (!p) {
                st = attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
                break;
            }
            *files = p, *cap = c;
        }
        (*files)[(*n)++] = r;
    }
    closedir(dp);
    free(dir);
    return st;
}

/* Movie id ("tt0406816") in an IMDb URL line, or length 0. */
static size_t movie_in_url(const char *s, size_t len, const char **start)
{
    for (size_t i = 0; i + 2 < len; i++) {
        if (s[i] == 't' && s[i + 1] == 't' && s[i + 2] >= '0' && s[i + 2] <= '9') {
            size_t j = i + 2;
            while (j < len && s[j] >= '0' && s[j] <= '9') j++;
            *start = s + i;
            return j - i;
        }
    }
    return 0;
}

int attn_imdb_load_dir(const char *split_dir, attn_imdb **out)
{
    static const char fn[] = "attn_imdb_load_dir";
    ATTN_REQUIRE_NONNULL(fn, split_dir);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    review_file *files = NULL;
    size_t nf = 0, cap = 0;
    int st = list_reviews(fn, split_dir, 0, &files, &nf, &cap);
    if (st == ATTN_OK) st = list_reviews(fn, split_dir, 1, &files, &nf, &cap);
    if (st != ATTN_OK) {
        free(files);
        return st;
    }
    qsort(files, nf, sizeof *files, cmp_review);

    /* urls_<neg|pos>.txt: line id+1 names the movie of review id, when the file exists. */
    char *url_buf[2] = {NULL, NULL};
    char **url_lines[2] = {NULL, NULL};
    size_t *url_lens[2] = {NULL, NULL};
    int64_t url_n[2] = {0, 0};
    char *url_path[2] = {path_join(split_dir, "urls_neg.txt"), path_join(split_dir, "urls_pos.txt")};
    for (int k = 0; k < 2 && st == ATTN_OK; k++) {
        if (!url_path[k]) {
            st = attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
            break;
        }
        FILE *probe = fopen(url_path[k], "rb");
        if (!probe) continue;
        fclose(probe);
        size_t len;
        st = attn_read_file(fn, url_path[k], &url_buf[k], &len);
        if (st == ATTN_OK)
            st = attn_split_lines(fn, url_path[k], url_buf[k], len, &url_lines[k], &url_lens[k],
                                  &url_n[k]);
    }

    /* All strings go into one buffer as offsets, turned into pointers at the end. */
    attn_buf all = {0};
    size_t *off = calloc(3 * (nf ? nf : 1), sizeof *off); /* text, movie, name */
    if (!off && st == ATTN_OK) st = attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    for (size_t i = 0; i < nf && st == ATTN_OK; i++) {
        const review_file *r = &files[i];
        char rel[64], *path = NULL, *text = NULL;
        size_t tlen = 0;
        snprintf(rel, sizeof rel, "%s/%ld_%d.txt", r->label ? "pos" : "neg", r->id, r->rating);
        if (!(path = path_join(split_dir, rel))) {
            st = attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
            break;
        }
        st = attn_read_file(fn, path, &text, &tlen);
        if (st == ATTN_OK) {
            size_t bad;
            if (attn_utf8_validate(text, tlen, &bad) != ATTN_OK) {
                int64_t line = 1;
                for (size_t q = 0; q < bad; q++) line += text[q] == '\n';
                st = attn_fail(ATTN_E_FORMAT, "%s: %s:%lld: invalid UTF-8 at byte %zu of the file",
                               fn, path, (long long)line, bad);
            }
        }
        if (st == ATTN_OK) {
            off[3 * i] = all.len;
            st = attn_buf_put(&all, text, tlen + 1);
        }
        free(text);
        free(path);
        const char *mv = "";
        size_t mvlen = 0;
        int k = r->label;
        if (st == ATTN_OK && url_lines[k]) {
            if (r->id >= url_n[k]) {
                st = attn_fail(ATTN_E_FORMAT, "%s: %s has %lld lines, no line %ld for review %s",
                               fn, url_path[k], (long long)url_n[k], r->id + 1, rel);
                break;
            }
            mvlen = movie_in_url(url_lines[k][r->id], url_lens[k][r->id], &mv);
        }
        if (st == ATTN_OK) {
            off[3 * i + 1] = all.len;
            st = attn_buf_put(&all, mv, mvlen);
            if (st == ATTN_OK) st = attn_buf_put(&all, "", 1);
        }
        if (st == ATTN_OK) {
            off[3 * i + 2] = all.len;
            st = attn_buf_put(&all, rel, strlen(rel) - 4);
            if (st == ATTN_OK) st = attn_buf_put(&all, "", 1);
        }
    }
    for (int k = 0; k < 2; k++) free(url_buf[k]), free(url_lines[k]), free(url_lens[k]), free(url_path[k]);
    attn_imdb *d = NULL;
    if (st == ATTN_OK) st = imdb_alloc(fn, (int64_t)nf, &d);
    if (st == ATTN_OK) {
        imdb_store *s = d->priv_;
        s->bufs[0] = all.data;
        all.data = NULL;
        for (size_t i = 0; i < nf; i++) {
            d->text[i] = s->bufs[0] + off[3 * i];
            d->movie[i] = s->bufs[0] + off[3 * i + 1];
            d->name[i] = s->bufs[0] + off[3 * i + 2];
            d->label[i] = (int8_t)files[i].label;
            d->rating[i] = (int8_t)files[i].rating;
        }
    }
    attn_buf_release(&all);
    free(off);
    free(files);
    if (st != ATTN_OK) return st;
    *out = d;
    return ATTN_OK;
}

/* ---- validation split by movie ---------------------------------------------------------- */

static uint64_t hash_key(const char *s, size_t len, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    h ^= seed; /* splitmix64 finaliser mixes the seed into every bit */
    h += 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

int attn_imdb_split_by_movie(const attn_imdb *d, double fraction, uint64_t seed, uint8_t *is_val,
                             int64_t *n_val)
{
    static const char fn[] = "attn_imdb_split_by_movie";
    ATTN_REQUIRE_NONNULL(fn, d);
    ATTN_REQUIRE_NONNULL(fn, is_val);
    if (!(fraction >= 0.0 && fraction <= 1.0))
        return attn_fail(ATTN_E_ARG, "%s: fraction=%g not in [0, 1]", fn, fraction);
    int64_t count = 0;
    for (int64_t i = 0; i < d->n; i++) {
        char idx[32];
        const char *key = d->movie[i];
        if (!key[0]) key = d->name[i];
        if (!key[0]) {
            snprintf(idx, sizeof idx, "#%lld", (long long)i);
            key = idx;
        }
        double u = (double)(hash_key(key, strlen(key), seed) >> 11) * 0x1.0p-53;
        is_val[i] = u < fraction;
        count += is_val[i];
    }
    if (n_val) *n_val = count;
    return ATTN_OK;
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}
static int is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

int attn_imdb_open(const char *path, const char *split, attn_imdb **out)
{
    ATTN_REQUIRE_NONNULL("attn_imdb_open", out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL("attn_imdb_open", path);
    ATTN_REQUIRE_NONNULL("attn_imdb_open", split);
    if (strlen(path) + strlen(split) > 4000)
        return attn_fail(ATTN_E_ARG, "attn_imdb_open: a path of %zu bytes", strlen(path) + strlen(split));
    char a[4096], b[4096];
    int st;
    if (is_dir(path)) {
        snprintf(a, sizeof a, "%s/%s.tsv.gz", path, split);
        if (!is_file(a)) snprintf(a, sizeof a, "%s/%s.tsv", path, split);
        snprintf(b, sizeof b, "%s/%s.ids", path, split);
        if (is_file(a)) {
            st = attn_imdb_load(a, is_file(b) ? b : NULL, out);
        } else {
            snprintf(a, sizeof a, "%s/%s", path, split);
            snprintf(b, sizeof b, "%s/pos", path);
            if (is_dir(a)) st = attn_imdb_load_dir(a, out);
            else if (is_dir(b)) st = attn_imdb_load_dir(path, out);
            else
                return attn_fail(ATTN_E_IO, "%s: no %s.tsv.gz, no aclImdb %s/ folder, no pos/ and neg/ folders", path,
                                 split, split);
        }
    } else {
        st = attn_imdb_load(path, NULL, out);
    }
    if (st) return st;
    if ((*out)->n == 0) {
        attn_imdb_free(*out);
        *out = NULL;
        return attn_fail(ATTN_E_FORMAT, "%s: no reviews", path);
    }
    return ATTN_OK;
}
