/* dates.c — generating the date-translation task (attn/data.h). */
#include "internal.h"
#include "attn/data.h"

#include <stdio.h>
#include <string.h>

static const char *const dates_month_names[12] = {"January", "February", "March",     "April",
                                      "May",     "June",     "July",      "August",
                                      "September", "October", "November", "December"};
static const char *const dates_day_names[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                   "Friday", "Saturday", "Sunday"};

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* 0 = Monday (Sakamoto's method). */
static int weekday(int y, int m, int d)
{
    static const int t[12] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
    if (m < 3) y -= 1;
    int w = (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7; /* 0 = Sunday */
    return (w + 6) % 7;
}

static const char *ordinal_suffix(int d)
{
    if (d % 100 >= 11 && d % 100 <= 13) return "th";
    switch (d % 10) {
    case 1: return "st";
    case 2: return "nd";
    case 3: return "rd";
    default: return "th";
    }
}

/* A string being built with spans remembered for the alignment. */
typedef struct {
    char s[ATTN_DATES_SRC_MAX];
    int n;
    int year_lo, year_hi, month_lo, month_hi, day_lo, day_hi;
    int two_digit_year;
} builder;

static void put(builder *b, const char *text)
{
    size_t len = strlen(text);
    if (b->n + (int)len >= ATTN_DATES_SRC_MAX) len = (size_t)(ATTN_DATES_SRC_MAX - 1 - b->n);
    memcpy(b->s + b->n, text, len);
    b->n += (int)len;
    b->s[b->n] = '\0';
}

/* Text of a field, remembering where it lands. */
static void put_span(builder *b, const char *text, int *lo, int *hi)
{
    *lo = b->n;
    put(b, text);
    *hi = b->n;
}

enum { CASE_AS_IS, CASE_LOWER, CASE_UPPER };

static void month_text(char *out, size_t cap, int m, int abbrev, int casing)
{
    snprintf(out, cap, "%.*s", abbrev ? 3 : 20, dates_month_names[m - 1]);
    for (char *c = out; *c; c++) {
        if (casing == CASE_LOWER && *c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        if (casing == CASE_UPPER && *c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
    }
}

static uint32_t draw(uint64_t seed, uint64_t index, int k, uint32_t n)
{
    float u = attn_philox_uniform(seed, index, (uint64_t)k);
    uint32_t r = (uint32_t)(u * (float)n);
    return r < n ? r : n - 1;
}

/* Formats that write the year with two digits (the switch in dates_generate). */
static int two_digit_format(int fmt)
{
    return fmt == 1 || fmt == 7 || fmt == 11 || fmt == 14;
}

void attn_dates_generate(uint64_t seed, uint64_t index, attn_dates_example *ex)
{
    memset(ex, 0, sizeof *ex);
    int fmt = (int)draw(seed, index, 3, ATTN_DATES_NFORMATS);
    /* two-digit years stand for 1950–2049; four-digit ones run over 1000–2999, so that every
     * digit of the output year is its source digit's copy and nothing else's */
    int y = two_digit_format(fmt) ? 1950 + (int)draw(seed, index, 0, 100) : 1000 + (int)draw(seed, index, 0, 2000);
    int m = 1 + (int)draw(seed, index, 1, 12);
    int d = 1 + (int)draw(seed, index, 2, (uint32_t)days_in_month(y, m));
    int casing = (int)draw(seed, index, 4, 3);
    builder b;
    memset(&b, 0, sizeof b);
    char mon[24], mon3[8], day[16], dayo[16], year4[16], year2[16], mnum[16], mnum2[16], dnum2[16];
    month_text(mon, sizeof mon, m, 0, casing);
    month_text(mon3, sizeof mon3, m, 1, casing);
    snprintf(day, sizeof day, "%d", d);
    snprintf(dayo, sizeof dayo, "%d%s", d, ordinal_suffix(d));
    snprintf(year4, sizeof year4, "%04d", y);
    snprintf(year2, sizeof year2, "%02d", y % 100);
    snprintf(mnum, sizeof mnum, "%d", m);
    snprintf(mnum2, sizeof mnum2, "%02d", m);
    snprintf(dnum2, sizeof dnum2, "%02d", d);
    char wday[16];
    snprintf(wday, sizeof wday, "%s", dates_day_names[weekday(y, m, d)]);
    if (casing == CASE_LOWER) wday[0] = (char)(wday[0] - 'A' + 'a');

    switch (fmt) {
    case 0: /* Saturday, 3 March 2021 */
        put(&b, wday), put(&b, ", ");
        put_span(&b, day, &b.day_lo, &b.day_hi), put(&b, " ");
        put_span(&b, mon, &b.month_lo, &b.month_hi), put(&b, " ");
        put_span(&b, year4, &b.year_lo, &b.year_hi);
        break;
    case 1: /* march 3rd 21 */
        put_span(&b, mon, &b.month_lo, &b.month_hi), put(&b, " ");
        put_span(&b, dayo, &b.day_lo, &b.day_hi), put(&b, " ");
        put_span(&b, year2, &b.year_lo, &b.year_hi), b.two_digit_year = 1;
        break;
    case 2: /* 3/3/2021 (month first) */
        put_span(&b, mnum, &b.month_lo, &b.month_hi), put(&b, "/");
        put_span(&b, day, &b.day_lo, &b.day_hi), put(&b, "/");
        put_span(&b, year4, &b.year_lo, &b.year_hi);
        break;
    case 3: /* March 3, 2021 */
        put_span(&b, mon, &b.month_lo, &b.month_hi), put(&b, " ");
        put_span(&b, day, &b.day_lo, &b.day_hi), put(&b, ", ");
        put_span(&b, year4, &b.year_lo, &b.year_hi);
        break;
    case 4: /* 3 Mar 2021 */
        put_span(&b, day, &b.day_lo, &b.day_hi), put(&b, " ");
        put_span(&b, mon3, &b.month_lo, &b.month_hi), put(&b, " ");
        put_span(&b, year4, &b.year_lo, &b.year_hi);
        break;
    case 5: /* 03.03.2021 (day first) */
        put_span(&b, dnum2, &b.day_lo, &b.day_hi), put(&b, ".");
        put_span(&b, mnum2, &b.month_lo, &b.month_hi), put(&b, ".");
        put_span(&b, year4, &b.year_lo, &b.year_hi);
        break;
    case 6: /* the 3rd of March, 2021 */
        put(&b, casing == CASE_UPPER ? "THE " : "the ");
        put_span(&b, dayo, &b.day_lo, &b.day_hi), put(&b, casing == CASE_UPPER ? " OF " : " of ");
        put_span(&b, mon, &b.month_lo, &b.month_hi), put(&b, ", ");
        put_span(&b, year4, &b.year_lo, &b.year_hi);
        break;
    case 7: /* Mar 3, 21 */
        put_span(&b, mon3, &b.month_lo, &b.month_hi), put(&b, " ");
        put_span(&b, day, &b.day_lo, &b.day_hi), put(&b, ", ");
        put_span(&b, year2, &b.year_lo, &b.year_hi), b.two_digit_year = 1;
        break;
    case 8: /* 2021-03-03 */
        put_span(&b, year4, &b.year_lo, &b.year_hi), put(&b, "-");
        put_span(&b, mnum2, &b.month_lo, &b.month_hi), put(&b, "-");
        put_span(&b, dnum2, &b.day_lo, &b.day_hi);
        break;
    case 9: /* Sat 3 Mar 2021 */
        put(&b, (char[]){wday[0], wday[1], wday[2], 0}), put(&b, " ");
        put_span(&b, day, &b.day_lo, &b.day_hi), put(&b, " ");
        put_span(&b, mon3, &b.month_lo, &b.month_hi), put(&b, " ");
        put_span(&b, year4, &b.year_lo, &b.year_hi);
        break;
    case 10: /* 3rd march 2021 */
        put_span(&b, dayo, &b.day_lo, &b.day_hi), put(&b, " ");
        put_span(&b, mon, &b.month_lo, &b.month_hi), put(&b, " ");
        put_span(&b, year4, &b.year_lo, &b.year_hi);
        break;
    case 11: /* 3/3/21 */
        put_span(&b, mnum, &b.month_lo, &b.month_hi), put(&b, "/");
        put_span(&b, day, &b.day_lo, &b.day_hi), put(&b, "/");
        put_span(&b, year2, &b.year_lo, &b.year_hi), b.two_digit_year = 1;
        break;
    case 12: /* 2021/03/03 */
        put_span(&b, year4, &b.year_lo, &b.year_hi), put(&b, "/");
        put_span(&b, mnum2, &b.month_lo, &b.month_hi), put(&b, "/");
        put_span(&b, dnum2, &b.day_lo, &b.day_hi);
        break;
    case 13: /* Saturday March 3 2021 */
        put(&b, wday), put(&b, " ");
        put_span(&b, mon, &b.month_lo, &b.month_hi), put(&b, " ");
        put_span(&b, day, &b.day_lo, &b.day_hi), put(&b, " ");
        put_span(&b, year4, &b.year_lo, &b.year_hi);
        break;
    case 14: /* 03 mar 21 */
        put_span(&b, dnum2, &b.day_lo, &b.day_hi), put(&b, " ");
        put_span(&b, mon3, &b.month_lo, &b.month_hi), put(&b, " ");
        put_span(&b, year2, &b.year_lo, &b.year_hi), b.two_digit_year = 1;
        break;
    default: /* March 2021, the 3rd */
        put_span(&b, mon, &b.month_lo, &b.month_hi), put(&b, " ");
        put_span(&b, year4, &b.year_lo, &b.year_hi), put(&b, casing == CASE_UPPER ? ", THE " : ", the ");
        put_span(&b, dayo, &b.day_lo, &b.day_hi);
        break;
    }
    memcpy(ex->src, b.s, sizeof ex->src);
    snprintf(ex->tgt, sizeof ex->tgt, "%04d-%02d-%02d", y, m, d);
    ex->format = fmt;
    /* alignment: year digits (a two-digit year produces the century from both its digits),
     * month and day from their whole field */
    for (int t = 0; t < 4; t++) {
        if (b.two_digit_year && t < 2)
            ex->align_lo[t] = b.year_lo, ex->align_hi[t] = b.year_hi;
        else if (b.two_digit_year)
            ex->align_lo[t] = b.year_lo + t - 2, ex->align_hi[t] = b.year_lo + t - 1;
        else
            ex->align_lo[t] = b.year_lo + t, ex->align_hi[t] = b.year_lo + t + 1;
    }
    ex->align_lo[4] = ex->align_hi[4] = 0;
    ex->align_lo[5] = ex->align_lo[6] = b.month_lo;
    ex->align_hi[5] = ex->align_hi[6] = b.month_hi;
    ex->align_lo[7] = ex->align_hi[7] = 0;
    ex->align_lo[8] = ex->align_lo[9] = b.day_lo;
    ex->align_hi[8] = ex->align_hi[9] = b.day_hi;
}

int attn_dates_iso_valid(const char *s)
{
    int y, m, d;
    char tail;
    if (strlen(s) != ATTN_DATES_TGT_LEN || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) return 0;
    if (s[4] != '-' || s[7] != '-') return 0;
    return m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

const char *attn_dates_month_name(int month) { return month >= 1 && month <= 12 ? dates_month_names[month - 1] : NULL; }
const char *attn_dates_day_name(int day) { return day >= 0 && day <= 6 ? dates_day_names[day] : NULL; }
