/* config.h — one configuration format for every training command: a JSON object of key → number,
 * string or boolean, read strictly against a table of fields (type, range, choices). Unknown keys,
 * wrong types, numbers out of range or not whole where a count is expected are errors naming the
 * file and the key; keys starting with "_" are comments. The older `key = value` lines of
 * `attn train translate` configs are read too, with a warning. */
#ifndef ATTN_CLI_CONFIG_H
#define ATTN_CLI_CONFIG_H

#include <stdint.h>

typedef enum cfg_kind {
    CFG_I64,    /* int64_t, whole */
    CFG_INT,    /* int, whole */
    CFG_LONG,   /* long, whole */
    CFG_U64,    /* uint64_t, whole, ≥ 0 */
    CFG_FLOAT,  /* float */
    CFG_DOUBLE, /* double */
    CFG_BOOL,   /* int 0/1: true/false, or 0/1 */
    CFG_CHOICE  /* int: the index of a string among choices (NULL-terminated) */
} cfg_kind;

typedef struct cfg_field {
    const char *key;
    cfg_kind kind;
    void *ptr;
    double lo, hi;                /* numbers: accepted range */
    const char *const *choices;   /* CFG_CHOICE */
    const int *values;            /* CFG_CHOICE: value stored for each choice (NULL: its index) */
} cfg_field;

/* Read path over the fields (those not named keep their values). Messages to stderr as
 * "attn CMD: config PATH: …". Returns 0, or a negative ATTN_E_* status. */
int cfg_load(const char *cmd, const char *path, const cfg_field *fields, int n);

#endif
