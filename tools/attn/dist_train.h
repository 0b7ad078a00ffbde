/* dist_train.h — the command's data-parallel helper that needs the tokenizer module (the rest
 * is libattn_mpi, attn/mpi.h). */
#ifndef ATTN_DIST_TRAIN_H
#define ATTN_DIST_TRAIN_H

#include "attn.h"
#include "attn/mpi.h"
#include "../text/spm.h"

/* Rank 0's tokenizer to every rank: rank 0 passes its status st and, when st is ATTN_OK, its
 * *sp; the others receive *sp (or an error, printed with cmd, when rank 0 failed or the
 * broadcast did; a rank that enters with an error keeps it). Returns this rank's status. */
int dist_share_tokenizer(attn_mpi_ctx *dc, int st, attn_spm **sp, const char *cmd);

#endif
