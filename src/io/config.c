/* config.c — strict configuration files for training runs (io.h: attn_config_load). */
#include "internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_text(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(ATTN_CONFIG_MAX_BYTES + 1);
    *n = buf ? fread(buf, 1, ATTN_CONFIG_MAX_BYTES + 1, f) : 0;
    const int bad = ferror(f);
    fclose(f);
    if (!buf || bad || *n > ATTN_CONFIG_MAX_BYTES) {
        free(buf);
        errno = !buf ? ENOMEM : bad ? EIO : EFBIG;
        return NULL;
    }
    buf[*n] = '\0';
    return buf;
}

static const attn_config_field *find(const attn_config_field *fields, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(fields[i].key, key)) return &fields[i];
    return NULL;
}

/* Store a number into the field, checking range and wholeness. */
static int set_number(const char *path, const attn_config_field *f, double v)
{
    const attn_config_kind k = f->kind;
    const int whole = k == ATTN_CONFIG_I64 || k == ATTN_CONFIG_INT || k == ATTN_CONFIG_LONG || k == ATTN_CONFIG_U64 ||
                      k == ATTN_CONFIG_BOOL;
    if (!isfinite(v) || v < f->lo || v > f->hi || (whole && v != floor(v)))
        return attn_fail(ATTN_E_FORMAT, "config %s: \"%s\" must be %s in [%g, %g], not %g", path, f->key,
                         whole ? "a whole number" : "a number", f->lo, f->hi, v);
    switch (k) {
    case ATTN_CONFIG_I64: *(int64_t *)f->ptr = (int64_t)v; break;
    case ATTN_CONFIG_INT: *(int *)f->ptr = (int)v; break;
    case ATTN_CONFIG_LONG: *(long *)f->ptr = (long)v; break;
    case ATTN_CONFIG_U64: *(uint64_t *)f->ptr = (uint64_t)v; break;
    case ATTN_CONFIG_FLOAT: *(float *)f->ptr = (float)v; break;
    case ATTN_CONFIG_DOUBLE: *(double *)f->ptr = v; break;
    case ATTN_CONFIG_BOOL: *(int *)f->ptr = v != 0; break;
    default: return attn_fail(ATTN_E_FORMAT, "config %s: \"%s\" must be a string", path, f->key);
    }
    return ATTN_OK;
}

static int set_choice(const char *path, const attn_config_field *f, const char *s)
{
    for (int i = 0; f->choices[i]; i++)
        if (!strcmp(f->choices[i], s)) {
            *(int *)f->ptr = f->values ? f->values[i] : i;
            return ATTN_OK;
        }
    char list[256] = "";
    for (int i = 0; f->choices[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "|" : "", f->choices[i]);
    return attn_fail(ATTN_E_FORMAT, "config %s: \"%s\" must be one of %s, not \"%s\"", path, f->key, list, s);
}

/* A value written as text (the key = value lines): a choice's name, or a number read whole. */
static int set_text(const char *path, const attn_config_field *f, const char *s)
{
    if (f->kind == ATTN_CONFIG_CHOICE) return set_choice(path, f, s);
    char *end = NULL;
    errno = 0;
    const double v = strtod(s, &end);
    if (!*s || end == s || *end || errno)
        return attn_fail(ATTN_E_FORMAT, "config %s: \"%s\" = \"%s\" is not a number", path, f->key, s);
    return set_number(path, f, v);
}

static int load_json(const char *path, const char *text, size_t n, const attn_config_field *fields, int nf)
{
    cJSON *root = cJSON_ParseWithLength(text, n);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return attn_fail(ATTN_E_FORMAT, "config %s: not a JSON object", path);
    }
    int st = ATTN_OK;
    for (cJSON *it = root->child; it && st == ATTN_OK; it = it->next) {
        if (it->string[0] == '_') continue; /* comments */
        const attn_config_field *f = find(fields, nf, it->string);
        if (!f)
            st = attn_fail(ATTN_E_FORMAT, "config %s: unknown key \"%s\"", path, it->string);
        else if (f->kind == ATTN_CONFIG_CHOICE)
            st = cJSON_IsString(it) ? set_choice(path, f, it->valuestring)
                                    : attn_fail(ATTN_E_FORMAT, "config %s: \"%s\" must be a string", path, it->string);
        else if (f->kind == ATTN_CONFIG_BOOL && cJSON_IsBool(it))
            *(int *)f->ptr = cJSON_IsTrue(it);
        else if (cJSON_IsNumber(it))
            st = set_number(path, f, it->valuedouble);
        else
            st = attn_fail(ATTN_E_FORMAT, "config %s: \"%s\" must be a number", path, it->string);
    }
    cJSON_Delete(root);
    return st;
}

/* The older format: `key = value` lines, # comments. */
static int load_lines(const char *path, char *text, const attn_config_field *fields, int nf)
{
    int st = ATTN_OK, lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && st == ATTN_OK; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        line[strcspn(line, "#\r")] = '\0';
        char *eq = strchr(line, '=');
        char k[128], v[256], extra[2];
        if (!eq) {
            if (strspn(line, " \t") == strlen(line)) continue;
            return attn_fail(ATTN_E_FORMAT, "config %s:%d: not `key = value`", path, lineno);
        }
        *eq = ' ';
        if (sscanf(line, "%127s %255s %1s", k, v, extra) != 2)
            return attn_fail(ATTN_E_FORMAT, "config %s:%d: not `key = value`", path, lineno);
        const attn_config_field *f = find(fields, nf, k);
        if (!f) return attn_fail(ATTN_E_FORMAT, "config %s:%d: unknown key \"%s\"", path, lineno, k);
        st = set_text(path, f, v);
    }
    return st;
}

int attn_config_load(const char *path, const attn_config_field *fields, int n, int *legacy)
{
    if (legacy) *legacy = 0;
    ATTN_REQUIRE_NONNULL("attn_config_load", path);
    if (n < 0 || (n > 0 && !fields)) return attn_fail(ATTN_E_ARG, "attn_config_load: %d fields at %p", n, (const void *)fields);
    for (int i = 0; i < n; i++)
        if (!fields[i].key || !fields[i].ptr || (unsigned)fields[i].kind > ATTN_CONFIG_CHOICE ||
            (fields[i].kind == ATTN_CONFIG_CHOICE && !fields[i].choices))
            return attn_fail(ATTN_E_ARG, "attn_config_load: field %d is incomplete", i);
    size_t len = 0;
    char *text = read_text(path, &len);
    if (!text)
        return attn_fail(errno == ENOMEM ? ATTN_E_NOMEM : ATTN_E_IO, "config %s: cannot read: %s", path,
                         errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
    const size_t lead = strspn(text, " \t\r\n");
    int st;
    if (text[lead] == '{') {
        st = load_json(path, text, len, fields, n);
    } else {
        if (legacy) *legacy = 1;
        st = load_lines(path, text, fields, n);
    }
    free(text);
    return st;
}
