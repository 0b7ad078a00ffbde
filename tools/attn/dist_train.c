/* dist_train.c — rank 0's tokenizer to every rank, over attn_mpi_share_bytes. */
#include "dist_train.h"

#include <stdio.h>
#include <stdlib.h>

int dist_share_tokenizer(attn_mpi_ctx *dc, int st, attn_spm **sp, const char *cmd)
{
    void *bytes = NULL;
    size_t n = 0;
    if (attn_mpi_rank(dc) == 0 && st == ATTN_OK) {
        st = attn_spm_serialize(*sp, NULL, 0, &n);
        if (st == ATTN_OK && !(bytes = malloc(n))) st = ATTN_E_NOMEM;
        if (st == ATTN_OK) st = attn_spm_serialize(*sp, bytes, n, &n);
        if (st) n = 0; /* an empty message tells the others that rank 0 failed */
    }
    int e = attn_mpi_share_bytes(dc, &bytes, &n);
    if (attn_mpi_rank(dc) > 0) {
        if (st == ATTN_OK && e) fprintf(stderr, "%s: %s\n", cmd, attn_last_error()), st = e;
        else if (st == ATTN_OK && n == 0) fprintf(stderr, "%s: rank 0 has no tokenizer\n", cmd), st = ATTN_E_ARG;
        else if (st == ATTN_OK) st = attn_spm_load_bytes(bytes, n, sp);
    } else if (e && st == ATTN_OK) {
        fprintf(stderr, "%s: %s\n", cmd, attn_last_error());
        st = e;
    }
    free(bytes);
    return st;
}
