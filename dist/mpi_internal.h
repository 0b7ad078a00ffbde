/* mpi_internal.h — helpers shared by libattn_mpi's sources (not installed). */
#ifndef ATTN_MPI_INTERNAL_H
#define ATTN_MPI_INTERNAL_H

#include <time.h>

/* Monotonic clock in milliseconds, for the statistics the calls report. */
static inline double attn_mpi_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

#endif
