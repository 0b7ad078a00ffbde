/* slow_fsync.c — LD_PRELOAD shim for tests: every fsync takes ATTN_TEST_FSYNC_S seconds more
 * (default 2), as on a slow disk; for a rank that writes a checkpoint while others wait. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

int fsync(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    const char *s = getenv("ATTN_TEST_FSYNC_S");
    double secs = s ? atof(s) : 2.0;
    struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
    nanosleep(&ts, NULL);
    return real ? real(fd) : -1;
}
