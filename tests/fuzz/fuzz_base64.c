/* fuzz_base64.c — libFuzzer target for attn_base64_decode (the tokenizers embedded in
 * checkpoints): strict decoding gives each byte string one text, so whatever decodes must
 * encode back to exactly the input, and any bytes must encode to a text that decodes back.
 *   make fuzz-loaders && build/fuzz/fuzz_base64 -max_total_time=600 fuzz/corpus/base64 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"

#define CHECK(c)                                                                               \
    do {                                                                                       \
        if (!(c)) abort();                                                                     \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *bytes = NULL;
    size_t n = 0;
    int st = attn_base64_decode((const char *)data, size, &bytes, &n);
    if (st == ATTN_OK) {
        CHECK(n == size / 4 * 3 - (size && data[size - 1] == '=') - (size > 1 && data[size - 2] == '='));
        char *text;
        CHECK(attn_base64_encode(bytes, n, &text) == ATTN_OK);
        CHECK(strlen(text) == size && memcmp(text, data, size) == 0);
        free(text);
        free(bytes);
    } else {
        CHECK(st == ATTN_E_FORMAT && bytes == NULL && n == 0);
    }
    char *text;
    CHECK(attn_base64_encode(data, size, &text) == ATTN_OK);
    CHECK(attn_base64_decode(text, strlen(text), &bytes, &n) == ATTN_OK);
    CHECK(n == size && (size == 0 || memcmp(bytes, data, size) == 0));
    free(text);
    free(bytes);
    return 0;
}
