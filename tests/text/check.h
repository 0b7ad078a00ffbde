/* check.h — what the test programs in tests/text share (no Criterion: they link the C++
 * SentencePiece shim): CHECK prints one "ok"/"FAIL" line per check and counts it; the
 * program ends by printing "N passed, N failed". */
#ifndef ATTN_TESTS_TEXT_CHECK_H
#define ATTN_TESTS_TEXT_CHECK_H

#include <stdio.h>

static int passed, failed;
#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (cond) passed++, printf("ok   ");                                                   \
        else failed++, printf("FAIL ");                                                        \
        printf(__VA_ARGS__);                                                                   \
        printf("\n");                                                                          \
    } while (0)

#endif
