/* dates.h — the demo's translation task: English dates in many written forms → ISO 8601.
 *
 * Every example is generated from a counter-based random stream, so example n of seed s is
 * the same on every machine and thread count. Each example knows which source characters
 * produce each output character (its alignment), so cross-attention can be scored. */
#ifndef ATTN_DATES_H
#define ATTN_DATES_H

#include <stdint.h>

#define DATES_SRC_MAX 48 /* longest source string, NUL included */
#define DATES_TGT_LEN 10 /* "YYYY-MM-DD" */
#define DATES_NFORMATS 16

typedef struct dates_example {
    char src[DATES_SRC_MAX];
    char tgt[DATES_TGT_LEN + 24];
    int format;
    /* For output character t: source characters [align_lo[t], align_hi[t]) produce it;
     * empty (lo == hi) for characters no source character produces (the dashes). */
    int align_lo[DATES_TGT_LEN];
    int align_hi[DATES_TGT_LEN];
} dates_example;

/* Example `index` of stream `seed`. Four-digit years 1000–2999; two-digit years stand for 1950–2049 (50–99 → 19xx). */
void dates_generate(uint64_t seed, uint64_t index, dates_example *ex);

/* Parse an ISO date "YYYY-MM-DD" that is a real calendar date: 1 if valid. */
int dates_iso_valid(const char *s);

/* English month names (January..December) and weekday names (Monday..Sunday) it writes. */
extern const char *const dates_month_names[12];
extern const char *const dates_day_names[7];

#endif
