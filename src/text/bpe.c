/* bpe.c — loading GPT-2's byte-level BPE: the vocabulary (JSON object token → id) and the
 * ranked merges, both checked entry by entry before they are used. */
#include "bpe_internal.h"

#include "../io/json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* GPT-2's bytes_to_unicode: the code point that stands for byte v in the token strings. */
static uint32_t byte_to_cp(int v)
{
    if ((v >= 0x21 && v <= 0x7E) || (v >= 0xA1 && v <= 0xAC) || (v >= 0xAE && v <= 0xFF))
        return (uint32_t)v;
    /* the n-th byte (in order) outside those ranges becomes U+0100 + n */
    int n = v <= 0x20 ? v : v <= 0xA0 ? 33 + (v - 0x7F) : 67;
    return 0x100u + (uint32_t)n;
}

/* The inverse: the byte a code point stands for, or -1 when it is outside the alphabet. */
static int cp_to_byte(uint32_t cp)
{
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return (int)cp;
    if (cp < 0x100 || cp > 0x143) return -1;
    int n = (int)(cp - 0x100);
    return n <= 0x20 ? n : n <= 33 + 0x21 ? 0x7F + (n - 33) : 0xAD;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static uint64_t hash_pair(uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    return key ^ (key >> 33);
}

int32_t attn_bpe_find_bytes(const attn_bpe *b, const char *s, size_t n)
{
    uint64_t mask = b->vocab_cap - 1;
    for (uint64_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
        int32_t id = b->vocab_slot[i];
        if (id < 0) return -1;
        int64_t len = b->offset[id + 1] - b->offset[id];
        if ((size_t)len == n && memcmp(b->bytes + b->offset[id], s, n) == 0) return id;
    }
}

const bpe_merge_slot *attn_bpe_find_merge(const attn_bpe *b, int32_t a, int32_t c)
{
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)c, mask = b->merge_cap - 1;
    for (uint64_t i = hash_pair(key) & mask;; i = (i + 1) & mask) {
        if (b->merge[i].key == key) return &b->merge[i];
        if (b->merge[i].key == UINT64_MAX) return NULL;
    }
}

void attn_bpe_free(attn_bpe *b)
{
    if (!b) return;
    free(b->bytes);
    free(b->offset);
    free(b->vocab_slot);
    free(b->merge);
    free(b);
}

static uint64_t pow2_at_least(uint64_t n)
{
    uint64_t c = 2;
    while (c < n) c <<= 1;
    return c;
}

/* Translate one token written in the byte alphabet (UTF-8 s[0..n)) into its bytes at out
 * (room for n bytes: each code point of the alphabet takes at least one UTF-8 byte). Returns
 * the byte count, or -1 (with *bad the offending code point, or 0xFFFFFFFF for bad UTF-8). */
static int64_t alphabet_to_bytes(const char *s, size_t n, char *out, uint32_t *bad)
{
    int64_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int l = attn_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (l == 0) {
            *bad = 0xFFFFFFFFu;
            return -1;
        }
        int v = cp_to_byte(cp);
        if (v < 0) {
            *bad = cp;
            return -1;
        }
        out[k++] = (char)v;
        i += (size_t)l;
    }
    return k;
}

static int bad_token(const char *what, const char *tok, uint32_t bad)
{
    if (bad == 0xFFFFFFFFu)
        return attn_fail(ATTN_E_FORMAT, "%s: token \"%.40s\" is not valid UTF-8", what, tok);
    return attn_fail(ATTN_E_FORMAT,
                     "%s: token \"%.40s\" holds U+%04X, outside GPT-2's byte alphabet", what, tok,
                     (unsigned)bad);
}

/* The vocabulary: every member of the top-level object becomes token id → bytes. */
static int load_vocab(attn_bpe *b, const char *text, size_t len)
{
    static const char what[] = "attn_bpe_load: vocabulary";
    attn_json *root = NULL;
    ATTN_TRY(attn_json_parse(what, text, len, &root));
    int st = ATTN_OK;
    int64_t n = attn_json_count(root);
    size_t total = 0;
    if (attn_json_type_of(root) != ATTN_JSON_OBJECT || n < 256 || n > ATTN_BPE_MAX_VOCAB) {
        st = attn_fail(ATTN_E_FORMAT,
                       "%s: expected a JSON object of 256 to %d tokens, found %s of %lld", what,
                       ATTN_BPE_MAX_VOCAB,
                       attn_json_type_of(root) == ATTN_JSON_OBJECT ? "an object" : "another value",
                       (long long)n);
        goto done;
    }
    for (const attn_json *v = attn_json_first(root); v; v = attn_json_next(v))
        total += strlen(attn_json_key(v)); /* bounded by the file size */
    b->n_vocab = n;
    b->vocab_cap = pow2_at_least(2 * (uint64_t)n);
    b->bytes = malloc(total + 1);
    b->offset = calloc((size_t)n + 1, sizeof *b->offset);
    int64_t *len_of = calloc((size_t)n, sizeof *len_of);
    int64_t *src_of = calloc((size_t)n, sizeof *src_of);
    char *tmp = malloc(total + 1);
    b->vocab_slot = malloc(b->vocab_cap * sizeof *b->vocab_slot);
    if (!b->bytes || !b->offset || !len_of || !src_of || !tmp || !b->vocab_slot) {
        st = attn_fail(ATTN_E_NOMEM, "%s: out of memory for %lld tokens", what, (long long)n);
        goto free_tmp;
    }
    memset(b->vocab_slot, 0xff, b->vocab_cap * sizeof *b->vocab_slot);
    for (int64_t i = 0; i < n; i++) len_of[i] = -1;
    /* first pass: ids unique and in range, tokens translated into tmp */
    size_t at = 0;
    for (const attn_json *v = attn_json_first(root); v; v = attn_json_next(v)) {
        const char *key = attn_json_key(v);
        double d = attn_json_number(v);
        if (!(d >= 0 && d < (double)n && d == (double)(int64_t)d)) {
            st = attn_fail(ATTN_E_FORMAT, "%s: token \"%.40s\" has id %g, not an integer in [0, %lld)",
                           what, key, d, (long long)n);
            goto free_tmp;
        }
        int64_t id = (int64_t)d;
        if (len_of[id] >= 0) {
            st = attn_fail(ATTN_E_FORMAT, "%s: id %lld is given to two tokens (\"%.40s\" and another)",
                           what, (long long)id, key);
            goto free_tmp;
        }
        uint32_t bad;
        int64_t k = alphabet_to_bytes(key, strlen(key), tmp + at, &bad);
        if (k <= 0) {
            st = k == 0 ? attn_fail(ATTN_E_FORMAT, "%s: empty token (id %lld)", what, (long long)id)
                        : bad_token(what, key, bad);
            goto free_tmp;
        }
        len_of[id] = k;
        src_of[id] = (int64_t)at;
        at += (size_t)k;
    }
    /* second pass: in id order into b->bytes, each hashed once (a repeat is an error) */
    int64_t off = 0;
    for (int64_t id = 0; id < n; id++) {
        memcpy(b->bytes + off, tmp + src_of[id], (size_t)len_of[id]);
        b->offset[id] = off;
        off += len_of[id];
        b->offset[id + 1] = off;
        const char *s = b->bytes + b->offset[id];
        size_t sl = (size_t)len_of[id];
        if (attn_bpe_find_bytes(b, s, sl) >= 0) {
            st = attn_fail(ATTN_E_FORMAT, "%s: two tokens (ids %d and %lld) stand for the same bytes",
                           what, attn_bpe_find_bytes(b, s, sl), (long long)id);
            goto free_tmp;
        }
        uint64_t mask = b->vocab_cap - 1, i = hash_bytes(s, sl) & mask;
        while (b->vocab_slot[i] >= 0) i = (i + 1) & mask;
        b->vocab_slot[i] = (int32_t)id;
    }
    for (int v = 0; v < 256; v++) {
        char c = (char)v;
        b->byte_id[v] = attn_bpe_find_bytes(b, &c, 1);
        if (b->byte_id[v] < 0) {
            st = attn_fail(ATTN_E_FORMAT, "%s: no token for the single byte 0x%02x (U+%04X)", what,
                           v, (unsigned)byte_to_cp(v));
            goto free_tmp;
        }
    }
free_tmp:
    free(len_of);
    free(src_of);
    free(tmp);
done:
    attn_json_free(root);
    return st;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* One token of a merges line: its bytes into buf (≥ n bytes), its id. */
static int merge_token(const attn_bpe *b, int64_t line, const char *s, size_t n, char *buf,
                       int32_t *id)
{
    static const char what[] = "attn_bpe_load: merges";
    uint32_t bad;
    int64_t k = alphabet_to_bytes(s, n, buf, &bad);
    if (k < 0) {
        char tok[48];
        snprintf(tok, sizeof tok, "%.*s", (int)(n < 40 ? n : 40), s);
        char where[64];
        snprintf(where, sizeof where, "%s line %lld", what, (long long)line);
        return bad_token(where, tok, bad);
    }
    *id = attn_bpe_find_bytes(b, buf, (size_t)k);
    if (*id < 0)
        return attn_fail(ATTN_E_FORMAT, "%s line %lld: \"%.*s\" is not in the vocabulary", what,
                         (long long)line, (int)(n < 40 ? n : 40), s);
    return (int)k;
}

static int load_merges(attn_bpe *b, const char *text, size_t len)
{
    static const char what[] = "attn_bpe_load: merges";
    /* lines holding something (the "#version" line included): a bound on the merges, which
     * may not outnumber the tokens (each merge makes one) — this keeps the table in
     * proportion to the vocabulary, whatever the merges file holds */
    int64_t lines = 0;
    for (size_t i = 0, filled = 0; i <= len; i++) {
        if (i == len || text[i] == '\n') {
            lines += filled;
            filled = 0;
        } else if (!is_blank(text[i])) {
            filled = 1;
        }
    }
    if (lines > b->n_vocab + 1)
        return attn_fail(ATTN_E_FORMAT, "%s: %lld lines of merges for %lld tokens (at most one merge per token)",
                         what, (long long)lines, (long long)b->n_vocab);
    b->merge_cap = pow2_at_least(2 * (uint64_t)lines);
    b->merge = malloc(b->merge_cap * sizeof *b->merge);
    char *buf = malloc(len + 1);
    if (!b->merge || !buf) {
        free(buf);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory for %lld lines", what, (long long)lines);
    }
    for (uint64_t i = 0; i < b->merge_cap; i++) b->merge[i].key = UINT64_MAX;
    int st = ATTN_OK;
    int64_t line = 0;
    for (size_t p = 0; p < len && st == ATTN_OK;) {
        size_t e = p;
        while (e < len && text[e] != '\n') e++;
        line++;
        size_t q = p, next = e + 1;
        if (line == 1 && text[p] == '#') {
            p = next;
            continue;
        }
        /* split into fields on blanks */
        size_t fs[3], fe[3];
        int nf = 0;
        while (q < e) {
            while (q < e && is_blank(text[q])) q++;
            if (q == e) break;
            size_t s0 = q;
            while (q < e && !is_blank(text[q])) q++;
            if (nf < 3) {
                fs[nf] = s0;
                fe[nf] = q;
            }
            nf++;
        }
        p = next;
        if (nf == 0) continue;
        if (nf != 2) {
            st = attn_fail(ATTN_E_FORMAT, "%s line %lld: expected two tokens, found %d", what,
                           (long long)line, nf);
            break;
        }
        int32_t a, c;
        int ka = merge_token(b, line, text + fs[0], fe[0] - fs[0], buf, &a);
        if (ka < 0) {
            st = ka;
            break;
        }
        int kc = merge_token(b, line, text + fs[1], fe[1] - fs[1], buf + ka, &c);
        if (kc < 0) {
            st = kc;
            break;
        }
        int32_t m = attn_bpe_find_bytes(b, buf, (size_t)(ka + kc));
        if (m < 0) {
            st = attn_fail(ATTN_E_FORMAT, "%s line %lld: the merge of \"%.*s\" and \"%.*s\" is not in the vocabulary",
                           what, (long long)line, (int)(fe[0] - fs[0] < 40 ? fe[0] - fs[0] : 40),
                           text + fs[0], (int)(fe[1] - fs[1] < 40 ? fe[1] - fs[1] : 40), text + fs[1]);
            break;
        }
        uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)c, mask = b->merge_cap - 1;
        uint64_t i = hash_pair(key) & mask;
        while (b->merge[i].key != UINT64_MAX && b->merge[i].key != key) i = (i + 1) & mask;
        if (b->merge[i].key == UINT64_MAX) b->n_merges++;
        /* a repeated pair takes its last rank, as encoder.py's dict(zip(merges, ranks)) does */
        b->merge[i] = (bpe_merge_slot){.key = key, .rank = (int32_t)(line - 1), .merged = m};
    }
    free(buf);
    return st;
}

int attn_bpe_load_memory(const char *vocab, size_t vocab_len, const char *merges,
                         size_t merges_len, attn_bpe **out)
{
    static const char fn[] = "attn_bpe_load_memory";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL(fn, vocab);
    ATTN_REQUIRE_NONNULL(fn, merges);
    if (vocab_len > ATTN_BPE_MAX_FILE || merges_len > ATTN_BPE_MAX_FILE)
        return attn_fail(ATTN_E_FORMAT, "%s: %zu-byte vocabulary or %zu-byte merges exceed the limit of %zu bytes",
                         fn, vocab_len, merges_len, ATTN_BPE_MAX_FILE);
    attn_bpe *b = calloc(1, sizeof *b);
    if (!b) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    int st = load_vocab(b, vocab, vocab_len);
    if (st == ATTN_OK) st = load_merges(b, merges, merges_len);
    if (st != ATTN_OK) {
        attn_bpe_free(b);
        return st;
    }
    *out = b;
    return ATTN_OK;
}

/* Read a regular file of at most ATTN_BPE_MAX_FILE bytes. */
static int read_bounded(const char *path, char **data, size_t *len)
{
    static const char fn[] = "attn_bpe_load";
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return attn_fail(ATTN_E_IO, "%s: cannot open %s: %s", fn, path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return attn_fail(ATTN_E_IO, "%s: %s is not a regular file", fn, path);
    }
    if ((uint64_t)sb.st_size > ATTN_BPE_MAX_FILE) {
        fclose(f);
        return attn_fail(ATTN_E_FORMAT, "%s: %s has %lld bytes, more than the limit of %zu", fn,
                         path, (long long)sb.st_size, ATTN_BPE_MAX_FILE);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate %zu bytes for %s", fn, n + 1, path);
    }
    size_t got = fread(buf, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(buf);
        return attn_fail(ATTN_E_IO, "%s: short read of %s (%zu of %zu bytes)", fn, path, got, n);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return ATTN_OK;
}

int attn_bpe_load(const char *vocab_path, const char *merges_path, attn_bpe **out)
{
    static const char fn[] = "attn_bpe_load";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL(fn, vocab_path);
    ATTN_REQUIRE_NONNULL(fn, merges_path);
    char *v = NULL, *m = NULL;
    size_t vl = 0, ml = 0;
    int st = read_bounded(vocab_path, &v, &vl);
    if (st == ATTN_OK) st = read_bounded(merges_path, &m, &ml);
    if (st == ATTN_OK) {
        st = attn_bpe_load_memory(v, vl, m, ml, out);
        if (st != ATTN_OK) { /* say which files the message is about */
            char msg[512];
            snprintf(msg, sizeof msg, "%s", attn_last_error());
            st = attn_fail(st, "%s (%s, %s)", msg, vocab_path, merges_path);
        }
    }
    free(v);
    free(m);
    return st;
}

int attn_bpe_load_dir(const char *dir, attn_bpe **out)
{
    static const char fn[] = "attn_bpe_load_dir";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL(fn, dir);
    static const char *const pairs[2][2] = {{"vocab.json", "merges.txt"},
                                             {"encoder.json", "vocab.bpe"}};
    size_t dl = strlen(dir);
    if (dl > 4000) return attn_fail(ATTN_E_ARG, "%s: directory name of %zu bytes", fn, dl);
    char vp[4096 + 16], mp[4096 + 16];
    for (int k = 0; k < 2; k++) {
        snprintf(vp, sizeof vp, "%s/%s", dir, pairs[k][0]);
        snprintf(mp, sizeof mp, "%s/%s", dir, pairs[k][1]);
        struct stat sb;
        if (stat(vp, &sb) == 0 && stat(mp, &sb) == 0) return attn_bpe_load(vp, mp, out);
    }
    return attn_fail(ATTN_E_IO, "%s: %s holds neither vocab.json + merges.txt nor encoder.json + vocab.bpe",
                     fn, dir);
}

int64_t attn_bpe_vocab_size(const attn_bpe *b) { return b ? b->n_vocab : 0; }

int attn_bpe_token_bytes(const attn_bpe *b, int32_t id, const char **bytes, size_t *len)
{
    static const char fn[] = "attn_bpe_token_bytes";
    ATTN_REQUIRE_NONNULL(fn, b);
    ATTN_REQUIRE_NONNULL(fn, bytes);
    ATTN_REQUIRE_NONNULL(fn, len);
    if (id < 0 || id >= b->n_vocab)
        return attn_fail(ATTN_E_ARG, "%s: id %d outside [0, %lld)", fn, id, (long long)b->n_vocab);
    *bytes = b->bytes + b->offset[id];
    *len = (size_t)(b->offset[id + 1] - b->offset[id]);
    return ATTN_OK;
}

int attn_bpe_token_id(const attn_bpe *b, const char *token, size_t len, int32_t *id)
{
    static const char fn[] = "attn_bpe_token_id";
    ATTN_REQUIRE_NONNULL(fn, b);
    ATTN_REQUIRE_NONNULL(fn, token);
    ATTN_REQUIRE_NONNULL(fn, id);
    *id = attn_bpe_find_bytes(b, token, len);
    if (*id < 0)
        return attn_fail(ATTN_E_ARG, "%s: \"%.*s\" is not a token", fn, (int)(len < 40 ? len : 40),
                         token);
    return ATTN_OK;
}
