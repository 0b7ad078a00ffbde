/* bleu_files.c — corpus BLEU and chrF of a translation file against reference files, and the
 * data folder (data.h: attn_bleu_files, attn_data_find). */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define MAX_REFS 64

int attn_bleu_files(const char *hyp_path, const char *const *ref_paths, int n_refs, int flags,
                    const attn_bleu_options *bleu_opt, attn_bleu_result *bleu, const attn_chrf_options *chrf_opt,
                    attn_chrf_result *chrf)
{
    ATTN_REQUIRE_NONNULL("attn_bleu_files", hyp_path);
    ATTN_REQUIRE_NONNULL("attn_bleu_files", ref_paths);
    if (n_refs < 1 || n_refs > MAX_REFS)
        return attn_fail(ATTN_E_ARG, "attn_bleu_files: n_refs %d, not 1..%d", n_refs, MAX_REFS);
    const char *path[MAX_REFS + 1] = {hyp_path};
    int n_stdin = !strcmp(hyp_path, "-");
    for (int r = 0; r < n_refs; r++) {
        if (!ref_paths[r]) return attn_fail(ATTN_E_ARG, "attn_bleu_files: ref_paths[%d] is NULL", r);
        path[r + 1] = ref_paths[r];
        n_stdin += !strcmp(ref_paths[r], "-");
    }
    if (n_stdin > 1) return attn_fail(ATTN_E_ARG, "attn_bleu_files: only one file can be '-' (standard input)");
    char **lines[MAX_REFS + 1] = {0};
    int64_t count[MAX_REFS + 1] = {0};
    int st = ATTN_OK;
    for (int i = 0; i <= n_refs && st == ATTN_OK; i++) {
        st = attn_lines_read(path[i], flags, &lines[i], &count[i]);
        if (st == ATTN_OK && i > 0 && count[i] != count[0])
            st = attn_fail(ATTN_E_FORMAT, "%s: has %lld lines but %s has %lld", path[i], (long long)count[i],
                           path[0], (long long)count[0]);
    }
    if (st == ATTN_OK && count[0] == 0) st = attn_fail(ATTN_E_FORMAT, "%s: empty: no segment to score", path[0]);
    const int64_t n = count[0];
    const char **refs = NULL;
    if (st == ATTN_OK) {
        refs = malloc((size_t)n_refs * (size_t)n * sizeof *refs);
        if (!refs) st = attn_fail(ATTN_E_NOMEM, "attn_bleu_files: %lld segments", (long long)n);
        for (int r = 0; refs && r < n_refs; r++) memcpy(refs + (size_t)r * n, lines[r + 1], (size_t)n * sizeof *refs);
    }
    const char *const *hyp = (const char *const *)lines[0];
    if (st == ATTN_OK && bleu) st = attn_bleu_corpus(hyp, refs, n, n_refs, bleu_opt, bleu);
    if (st == ATTN_OK && chrf) st = attn_chrf_corpus(hyp, refs, n, n_refs, chrf_opt, chrf);
    free(refs);
    for (int i = 0; i <= n_refs; i++) attn_lines_free(lines[i], count[i]);
    return st;
}

int attn_data_find(const char *rel, char *path, size_t cap)
{
    ATTN_REQUIRE_NONNULL("attn_data_find", rel);
    ATTN_REQUIRE_NONNULL("attn_data_find", path);
    const char *dirs[] = {getenv("ATTN_DATA_DIR"), "../shared/data", "../../shared/data"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i]) continue;
        int n = snprintf(path, cap, "%s/%s", dirs[i], rel);
        if (n < 0 || (size_t)n >= cap) {
            if (cap) path[0] = '\0';
            return attn_fail(ATTN_E_ARG, "attn_data_find: %s/%s does not fit %zu bytes", dirs[i], rel, cap);
        }
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return ATTN_OK;
        }
    }
    if (cap) path[0] = '\0';
    return attn_fail(ATTN_E_IO, "attn_data_find: %s is in none of $ATTN_DATA_DIR, ../shared/data, ../../shared/data",
                     rel);
}
