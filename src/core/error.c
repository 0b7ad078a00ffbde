/* error.c — status strings and the thread-local detail message. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[512];

const char *attn_version(void)
{
#define ATTN_STR2(x) #x
#define ATTN_STR(x) ATTN_STR2(x)
    return ATTN_STR(ATTN_VERSION_MAJOR) "." ATTN_STR(ATTN_VERSION_MINOR) "." ATTN_STR(
        ATTN_VERSION_PATCH);
}

const char *attn_status_string(int status)
{
    switch (status) {
    case ATTN_OK: return "ATTN_OK: success";
    case ATTN_E_ARG: return "ATTN_E_ARG: invalid argument";
    case ATTN_E_SHAPE: return "ATTN_E_SHAPE: shape mismatch";
    case ATTN_E_OVERFLOW: return "ATTN_E_OVERFLOW: size overflow";
    case ATTN_E_NOMEM: return "ATTN_E_NOMEM: out of memory";
    case ATTN_E_UNSUPPORTED: return "ATTN_E_UNSUPPORTED: not supported on this path";
    case ATTN_E_IO: return "ATTN_E_IO: input/output error";
    case ATTN_E_FORMAT: return "ATTN_E_FORMAT: malformed data";
    case ATTN_E_STATE: return "ATTN_E_STATE: invalid state";
    default: return "unknown status";
    }
}

const char *attn_last_error(void) { return last_error; }

void attn_clear_error(void) { last_error[0] = '\0'; }

/* Formatted aside first, so that a message may quote the previous one (attn_last_error() among
 * the arguments) without vsnprintf reading the buffer it writes. */
static int set_message(int status, const char *fmt, va_list ap)
{
    char msg[sizeof last_error];
    vsnprintf(msg, sizeof msg, fmt, ap);
    memcpy(last_error, msg, sizeof msg);
    return status;
}

int attn_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    status = set_message(status, fmt, ap);
    va_end(ap);
    return status;
}

/* The public name of attn_fail, for libraries built on libattn. */
int attn_set_error(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    status = set_message(status, fmt, ap);
    va_end(ap);
    return status;
}

int attn_checked_numel(const char *fn, const int64_t *dims, int n, int64_t *out)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++) {
        if (dims[i] < 0) return attn_fail(ATTN_E_ARG, "%s: negative size %lld", fn, (long long)dims[i]);
        if (attn_mul_overflow(p, dims[i], &p))
            return attn_fail(ATTN_E_OVERFLOW, "%s: element count overflows", fn);
    }
    *out = p;
    return ATTN_OK;
}
