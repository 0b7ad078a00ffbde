/* config.h — the training commands' configuration files, read by the library (attn/io.h:
 * attn_config_load, JSON or the older `key = value` lines); this prints its messages as
 * "attn CMD: config PATH: …" and warns about the older format. */
#ifndef ATTN_CLI_CONFIG_H
#define ATTN_CLI_CONFIG_H

#include "attn.h"

#include <stdio.h>

/* After a library config reader: the warning about the older format, then the error if any.
 * Returns st. */
static inline int cfg_report(const char *cmd, const char *path, int legacy, int st)
{
    if (legacy)
        fprintf(stderr, "attn %s: config %s: `key = value` lines are read for compatibility; write a JSON object\n",
                cmd, path);
    if (st) fprintf(stderr, "attn %s: %s\n", cmd, attn_last_error());
    return st;
}

/* Returns 0, or a negative ATTN_E_* status (its message printed). */
static inline int cfg_load(const char *cmd, const char *path, const attn_config_field *fields, int n)
{
    int legacy = 0, st = attn_config_load(path, fields, n, &legacy);
    return cfg_report(cmd, path, legacy, st);
}

#endif
