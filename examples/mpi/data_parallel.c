/* data_parallel.c — libattn_mpi through its installed form: every rank holds the same
 * parameters (same seed), computes its own gradient, and attn_mpi_average_grads leaves the
 * ranks' mean on every rank. Run it alone or under `mpirun -np N`; exits 1 on a wrong mean.
 *   cc data_parallel.c $(pkg-config --cflags --libs attn-mpi) -o data_parallel */
#include <attn.h>
#include <attn/mpi.h>

#include <math.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    attn_mpi_ctx *mc;
    if (attn_mpi_init(&argc, &argv, &mc)) return fprintf(stderr, "%s\n", attn_last_error()), 1;
    const int rank = attn_mpi_rank(mc), ranks = attn_mpi_size(mc);
    attn_params *P = NULL;
    attn_param *w = NULL;
    const int64_t shape[2] = {4, 3};
    int st = attn_params_create(42, &P);
    if (st == ATTN_OK) st = attn_params_add(P, "", "weight", 2, shape, ATTN_INIT_UNIFORM, 0.5f, &w);
    if (st == ATTN_OK) st = attn_params_alloc_grads(P);
    if (st == ATTN_OK) st = attn_mpi_broadcast_params(mc, P); /* already equal: same seed */
    for (int64_t i = 0; st == ATTN_OK && i < w->numel; i++) w->grad[i] = (float)(rank + 1) * w->data[i];
    if (st == ATTN_OK) st = attn_mpi_average_grads(mc, P, 1 << 20, NULL);
    double err = 0; /* the mean of (r + 1)·w over r < ranks is (ranks + 1)/2 · w */
    for (int64_t i = 0; st == ATTN_OK && i < w->numel; i++)
        err = fmax(err, fabs(w->grad[i] - 0.5 * (ranks + 1) * w->data[i]));
    double worst = err;
    if (st == ATTN_OK) st = attn_mpi_allreduce_sum_double(mc, &worst); /* every rank's error */
    if (st) fprintf(stderr, "rank %d: %s\n", rank, attn_last_error());
    else if (rank == 0) printf("%d rank(s)%s: averaged gradients off by %.2g\n", ranks,
                               attn_mpi_available() ? " (MPI)" : "", worst);
    attn_params_free(P);
    attn_mpi_finalize(mc);
    return st || worst > 1e-5 ? 1 : 0;
}
