/* json.c — attn_json over cJSON. The only file of libattn that includes cJSON. */
#include "json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

/* attn_json is never defined: a pointer to one is a pointer to a cJSON node. */
static const cJSON *node(const attn_json *v) { return (const cJSON *)(const void *)v; }
static const attn_json *wrap(const cJSON *c) { return (const attn_json *)(const void *)c; }

static int is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int attn_json_parse(const char *what, const char *text, size_t len, attn_json **root)
{
    *root = NULL;
    /* cJSON reads a NUL-terminated copy, so a missing terminator can never send it past `len`. */
    char *copy = malloc(len + 1);
    if (!copy) return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate %zu bytes for the JSON text", what, len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 0);
    if (!doc) {
        /* cJSON reports where it stopped via cJSON_GetErrorPtr (global state) or `end`. */
        size_t at = (end && end >= copy && end <= copy + len) ? (size_t)(end - copy) : 0;
        /* show up to 40 bytes before the spot, printable ASCII only */
        char ctx[48];
        size_t from = at > 40 ? at - 40 : 0, k = 0;
        for (size_t i = from; i < at; i++) {
            unsigned char c = (unsigned char)copy[i];
            ctx[k++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
        }
        ctx[k] = '\0';
        free(copy);
        return attn_fail(ATTN_E_FORMAT, "%s: invalid JSON near byte %zu (after '%s')", what, at, ctx);
    }
    size_t at = (end && end >= copy && end <= copy + len) ? (size_t)(end - copy) : len;
    for (size_t i = at; i < len; i++) {
        if (!is_json_space(copy[i])) {
            cJSON_Delete(doc);
            free(copy);
            return attn_fail(ATTN_E_FORMAT, "%s: unexpected byte 0x%02x after the JSON value at byte %zu",
                             what, (unsigned char)text[i], i);
        }
    }
    free(copy);
    *root = (attn_json *)(void *)doc;
    return ATTN_OK;
}

void attn_json_free(attn_json *root) { cJSON_Delete((cJSON *)(void *)root); }

attn_json_type attn_json_type_of(const attn_json *v)
{
    const cJSON *c = node(v);
    if (!c) return ATTN_JSON_OTHER;
    if (cJSON_IsNumber(c)) return ATTN_JSON_NUMBER;
    if (cJSON_IsString(c) && c->valuestring) return ATTN_JSON_STRING;
    if (cJSON_IsArray(c)) return ATTN_JSON_ARRAY;
    if (cJSON_IsObject(c)) return ATTN_JSON_OBJECT;
    return ATTN_JSON_OTHER;
}

const attn_json *attn_json_first(const attn_json *v)
{
    const cJSON *c = node(v);
    if (!c || !(cJSON_IsArray(c) || cJSON_IsObject(c))) return NULL;
    return wrap(c->child);
}

const attn_json *attn_json_next(const attn_json *v) { return v ? wrap(node(v)->next) : NULL; }

const char *attn_json_key(const attn_json *v) { return v ? node(v)->string : NULL; }

const char *attn_json_string(const attn_json *v)
{
    return attn_json_type_of(v) == ATTN_JSON_STRING ? node(v)->valuestring : NULL;
}

double attn_json_number(const attn_json *v)
{
    return attn_json_type_of(v) == ATTN_JSON_NUMBER ? node(v)->valuedouble : NAN;
}

int64_t attn_json_count(const attn_json *v)
{
    int64_t n = 0;
    for (const attn_json *c = attn_json_first(v); c; c = attn_json_next(c)) n++;
    return n;
}

int attn_json_bool(const attn_json *v)
{
    const cJSON *c = node(v);
    if (!c || !cJSON_IsBool(c)) return -1;
    return cJSON_IsTrue(c) ? 1 : 0;
}

const attn_json *attn_json_member(const attn_json *obj, const char *key)
{
    if (attn_json_type_of(obj) != ATTN_JSON_OBJECT || !key) return NULL;
    for (const attn_json *c = attn_json_first(obj); c; c = attn_json_next(c)) {
        const char *k = attn_json_key(c);
        if (k && strcmp(k, key) == 0) return c;
    }
    return NULL;
}
