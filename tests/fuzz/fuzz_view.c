/* fuzz_view.c — libFuzzer target for attention.json (attn_attention_view_parse, attn/analysis.h):
 * any bytes either fail with ATTN_E_FORMAT and no view, or give a view whose JSON (written with
 * the viewer's extras, which reading ignores) reads back to a view that writes the same text.
 *   make fuzz-loaders && build/fuzz/fuzz_view -max_total_time=600 fuzz/corpus/view */
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
    attn_attention_view *v = NULL, *back = NULL;
    const int st = attn_attention_view_parse((const char *)data, size, &v);
    if (st != ATTN_OK) {
        CHECK((st == ATTN_E_FORMAT || st == ATTN_E_NOMEM) && v == NULL && attn_last_error()[0]);
        return 0;
    }
    char *a = NULL, *b = NULL, *extra = NULL;
    size_t na = 0, nb = 0;
    CHECK(attn_attention_view_to_json(v, ATTN_VIEW_JSON_EXTRAS, ATTN_ROLLOUT_MEAN, &extra, NULL) == ATTN_OK);
    CHECK(attn_attention_view_to_json(v, 0, 0, &a, &na) == ATTN_OK);
    CHECK(attn_attention_view_parse(extra, strlen(extra), &back) == ATTN_OK);
    CHECK(attn_attention_view_to_json(back, 0, 0, &b, &nb) == ATTN_OK);
    CHECK(na == nb && memcmp(a, b, na) == 0);
    free(a), free(b), free(extra);
    attn_attention_view_free(v);
    attn_attention_view_free(back);
    return 0;
}
