/* mpi_internal.h — helpers shared by libattn_mpi's sources (not installed). */
#ifndef ATTN_MPI_INTERNAL_H
#define ATTN_MPI_INTERNAL_H

#include <time.h>

struct attn_mpi_ctx;

/* Free p, a buffer the library gave to a call on ctx — unless a failed wait left messages MPI
 * could not cancel: then the buffer is kept until attn_mpi_finalize (MPI may still write it). */
void attn_mpi_internal_release(struct attn_mpi_ctx *ctx, void *p);

/* Monotonic clock in milliseconds, for the statistics the calls report. */
static inline double attn_mpi_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

#endif
