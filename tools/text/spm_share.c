/* spm_share.c — rank 0's tokenizer to every rank of a training run (attn_spm_share,
 * translator.h), over the communicator's broadcast. */
#include "translator.h"

#include <stdlib.h>

int attn_spm_share(const attn_train_comm *comm, int st, attn_spm **sp)
{
    if (!sp) return attn_set_error(ATTN_E_ARG, "attn_spm_share: sp is NULL");
    if (!comm || comm->size <= 1) return st;
    void *bytes = NULL;
    size_t n = 0;
    if (comm->rank == 0 && st == ATTN_OK) {
        st = attn_spm_serialize(*sp, NULL, 0, &n);
        if (st == ATTN_OK && !(bytes = malloc(n ? n : 1))) st = ATTN_E_NOMEM;
        if (st == ATTN_OK) st = attn_spm_serialize(*sp, bytes, n, &n);
        if (st) st = attn_set_error(st, "attn_spm_share: %s", st == ATTN_E_NOMEM ? "out of memory" : attn_spm_last_error());
        if (st) n = 0; /* an empty message tells the others that rank 0 failed */
    }
    const int e = attn_train_comm_share(comm, &bytes, &n);
    if (st == ATTN_OK && e) st = e;
    else if (st == ATTN_OK && comm->rank > 0 && n == 0) st = attn_set_error(ATTN_E_ARG, "rank 0 has no tokenizer");
    else if (st == ATTN_OK && comm->rank > 0 && (st = attn_spm_load_bytes(bytes, n, sp)))
        st = attn_set_error(st, "the tokenizer from rank 0: %s", attn_spm_last_error());
    free(bytes);
    return st;
}
