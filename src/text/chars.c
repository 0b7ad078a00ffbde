/* chars.c — a character-level vocabulary and its checkpoint metadata (attn/text.h). */
#include "internal.h"
#include "attn/text.h"

#include <stdlib.h>
#include <string.h>

void attn_chars_of_text(const void *text, size_t n, attn_chars *out)
{
    const unsigned char *b = text;
    int seen[256] = {0};
    for (size_t i = 0; b && i < n; i++) seen[b[i]] = 1;
    memset(out, 0, sizeof *out);
    for (int c = 0; c < 256; c++) {
        out->id[c] = -1;
        if (seen[c]) out->id[c] = (int16_t)out->V, out->byte[out->V++] = (unsigned char)c;
    }
}

int attn_chars_encode(const attn_chars *c, const void *text, size_t n, int32_t *ids, const char *what)
{
    static const char fn[] = "attn_chars_encode";
    ATTN_REQUIRE_NONNULL(fn, c);
    if (n && (!text || !ids)) return attn_fail(ATTN_E_ARG, "%s: text or ids is NULL", fn);
    const unsigned char *b = text;
    for (size_t i = 0; i < n; i++) {
        const int id = c->id[b[i]];
        if (id < 0)
            return attn_fail(ATTN_E_ARG, "%s: byte 0x%02x at offset %zu is not in the model's vocabulary of %d characters",
                             what ? what : "text", b[i], i, c->V);
        ids[i] = id;
    }
    return ATTN_OK;
}

int attn_chars_to_meta(const attn_chars *c, char **b64)
{
    ATTN_REQUIRE_NONNULL("attn_chars_to_meta", c);
    return attn_base64_encode(c->byte, (size_t)c->V, b64);
}

int attn_chars_from_meta(const attn_st_reader *r, attn_chars *out)
{
    static const char fn[] = "attn_chars_from_meta";
    ATTN_REQUIRE_NONNULL(fn, r);
    ATTN_REQUIRE_NONNULL(fn, out);
    const char *tok = attn_st_metadata(r, "attn.tokenizer"), *v = attn_st_metadata(r, "attn.chars.vocab");
    if (!tok || strcmp(tok, "chars") || !v)
        return attn_fail(ATTN_E_FORMAT, "not a character model (attn.tokenizer=%s%s)", tok ? tok : "none",
                         tok && !strcmp(tok, "chars") ? ", no attn.chars.vocab" : "");
    unsigned char *bytes = NULL;
    size_t n = 0;
    ATTN_TRY(attn_base64_decode(v, strlen(v), &bytes, &n));
    int st = n >= 1 && n <= 256 ? ATTN_OK : attn_fail(ATTN_E_FORMAT, "attn.chars.vocab holds %zu bytes", n);
    memset(out, 0, sizeof *out);
    for (int c = 0; c < 256; c++) out->id[c] = -1;
    for (size_t i = 0; st == ATTN_OK && i < n; i++) {
        if (out->id[bytes[i]] >= 0) st = attn_fail(ATTN_E_FORMAT, "attn.chars.vocab repeats byte 0x%02x", bytes[i]);
        out->id[bytes[i]] = (int16_t)i, out->byte[i] = bytes[i];
    }
    out->V = st == ATTN_OK ? (int)n : 0;
    free(bytes);
    return st;
}
