/* config.c — strict configuration files (config.h). */
#include "config.h"

#include "attn.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES (1 << 20)

static char *read_text(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(CONFIG_MAX_BYTES + 1);
    *n = buf ? fread(buf, 1, CONFIG_MAX_BYTES + 1, f) : 0;
    const int bad = ferror(f);
    fclose(f);
    if (!buf || bad || *n > CONFIG_MAX_BYTES) {
        free(buf);
        errno = bad ? EIO : EFBIG;
        return NULL;
    }
    buf[*n] = '\0';
    return buf;
}

static const cfg_field *find(const cfg_field *fields, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(fields[i].key, key)) return &fields[i];
    return NULL;
}

/* Store a number into the field, checking range and wholeness. */
static int set_number(const char *cmd, const char *path, const cfg_field *f, double v)
{
    const int whole = f->kind == CFG_I64 || f->kind == CFG_INT || f->kind == CFG_LONG || f->kind == CFG_U64 ||
                      f->kind == CFG_BOOL;
    if (!isfinite(v) || v < f->lo || v > f->hi || (whole && v != floor(v))) {
        fprintf(stderr, "attn %s: config %s: \"%s\" must be %s in [%g, %g], not %g\n", cmd, path, f->key,
                whole ? "a whole number" : "a number", f->lo, f->hi, v);
        return ATTN_E_FORMAT;
    }
    switch (f->kind) {
    case CFG_I64: *(int64_t *)f->ptr = (int64_t)v; break;
    case CFG_INT: *(int *)f->ptr = (int)v; break;
    case CFG_LONG: *(long *)f->ptr = (long)v; break;
    case CFG_U64: *(uint64_t *)f->ptr = (uint64_t)v; break;
    case CFG_FLOAT: *(float *)f->ptr = (float)v; break;
    case CFG_DOUBLE: *(double *)f->ptr = v; break;
    case CFG_BOOL: *(int *)f->ptr = v != 0; break;
    case CFG_CHOICE: return ATTN_E_FORMAT;
    }
    return ATTN_OK;
}

static int set_choice(const char *cmd, const char *path, const cfg_field *f, const char *s)
{
    for (int i = 0; f->choices[i]; i++)
        if (!strcmp(f->choices[i], s)) {
            *(int *)f->ptr = f->values ? f->values[i] : i;
            return ATTN_OK;
        }
    char list[256] = "";
    for (int i = 0; f->choices[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "|" : "", f->choices[i]);
    fprintf(stderr, "attn %s: config %s: \"%s\" must be one of %s, not \"%s\"\n", cmd, path, f->key, list, s);
    return ATTN_E_FORMAT;
}

/* A value written as text (the key = value lines): a choice's name, or a number read whole. */
static int set_text(const char *cmd, const char *path, const cfg_field *f, const char *s)
{
    if (f->kind == CFG_CHOICE) return set_choice(cmd, path, f, s);
    char *end = NULL;
    errno = 0;
    const double v = strtod(s, &end);
    if (!*s || end == s || *end || errno) {
        fprintf(stderr, "attn %s: config %s: \"%s\" = \"%s\" is not a number\n", cmd, path, f->key, s);
        return ATTN_E_FORMAT;
    }
    return set_number(cmd, path, f, v);
}

static int load_json(const char *cmd, const char *path, const char *text, size_t n, const cfg_field *fields, int nf)
{
    cJSON *root = cJSON_ParseWithLength(text, n);
    if (!root || !cJSON_IsObject(root)) {
        fprintf(stderr, "attn %s: config %s: not a JSON object\n", cmd, path);
        cJSON_Delete(root);
        return ATTN_E_FORMAT;
    }
    int st = ATTN_OK;
    for (cJSON *it = root->child; it && st == ATTN_OK; it = it->next) {
        if (it->string[0] == '_') continue; /* comments */
        const cfg_field *f = find(fields, nf, it->string);
        if (!f) {
            fprintf(stderr, "attn %s: config %s: unknown key \"%s\"\n", cmd, path, it->string);
            st = ATTN_E_FORMAT;
        } else if (f->kind == CFG_CHOICE) {
            st = cJSON_IsString(it) ? set_choice(cmd, path, f, it->valuestring)
                                    : (fprintf(stderr, "attn %s: config %s: \"%s\" must be a string\n", cmd, path,
                                               it->string),
                                       ATTN_E_FORMAT);
        } else if (f->kind == CFG_BOOL && cJSON_IsBool(it)) {
            *(int *)f->ptr = cJSON_IsTrue(it);
        } else if (cJSON_IsNumber(it)) {
            st = set_number(cmd, path, f, it->valuedouble);
        } else {
            fprintf(stderr, "attn %s: config %s: \"%s\" must be a number\n", cmd, path, it->string);
            st = ATTN_E_FORMAT;
        }
    }
    cJSON_Delete(root);
    return st;
}

/* The older format: `key = value` lines, # comments. */
static int load_lines(const char *cmd, const char *path, char *text, const cfg_field *fields, int nf)
{
    fprintf(stderr, "attn %s: config %s: `key = value` lines are read for compatibility; write a JSON object\n",
            cmd, path);
    int st = ATTN_OK, lineno = 0;
    for (char *line = strtok(text, "\n"); line && st == ATTN_OK; line = strtok(NULL, "\n")) {
        lineno++;
        line[strcspn(line, "#\r")] = '\0';
        char *eq = strchr(line, '=');
        char k[128], v[256], extra[2];
        if (!eq) {
            if (strspn(line, " \t") == strlen(line)) continue;
            fprintf(stderr, "attn %s: config %s:%d: not `key = value`\n", cmd, path, lineno);
            return ATTN_E_FORMAT;
        }
        *eq = ' ';
        if (sscanf(line, "%127s %255s %1s", k, v, extra) != 2) {
            fprintf(stderr, "attn %s: config %s:%d: not `key = value`\n", cmd, path, lineno);
            return ATTN_E_FORMAT;
        }
        const cfg_field *f = find(fields, nf, k);
        if (!f) {
            fprintf(stderr, "attn %s: config %s:%d: unknown key \"%s\"\n", cmd, path, lineno, k);
            return ATTN_E_FORMAT;
        }
        st = set_text(cmd, path, f, v);
    }
    return st;
}

int cfg_load(const char *cmd, const char *path, const cfg_field *fields, int n)
{
    size_t len = 0;
    char *text = read_text(path, &len);
    if (!text) {
        fprintf(stderr, "attn %s: config %s: cannot read: %s\n", cmd, path,
                errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
        return ATTN_E_IO;
    }
    const size_t lead = strspn(text, " \t\r\n");
    int st = text[lead] == '{' ? load_json(cmd, path, text, len, fields, n) : load_lines(cmd, path, text, fields, n);
    free(text);
    return st;
}
