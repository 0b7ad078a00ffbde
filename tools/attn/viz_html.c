/* viz_html.c — attention.html: one self-contained page (style, script and data inline). The
 * page is tools/viewer/page.html, its script and style tools/viewer/page.{js,css}, all
 * embedded at build time (mk/viz.mk); @TITLE@, @STYLE@, @DATA@ and @SCRIPT@ mark their slots. */
#include "viz_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viz_page.h" /* generated: viz_page_html, viz_page_js, viz_page_css */

/* Text escaped for HTML element content. */
static void put_html_text(FILE *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", b); break;
        case '>': fputs("&gt;", b); break;
        case '&': fputs("&amp;", b); break;
        case '"': fputs("&quot;", b); break;
        default: fputc(*s, b);
        }
    }
}

int viz_html_write(const attn_attention_view *r, const char *path, int pool)
{
    if (!r || !path) return attn_set_error(ATTN_E_ARG, "viz_html_write: NULL argument");
    char *json = NULL; /* the library writes every '<' as \u003c: safe inside <script> */
    int st = attn_attention_view_to_json(r, ATTN_VIEW_JSON_EXTRAS, pool, &json, NULL);
    if (st) return st;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(json);
        return attn_set_error(ATTN_E_IO, "cannot write %s: %s", path, strerror(errno));
    }
    const char *p = viz_page_html; /* the page with its four slots filled */
    for (const char *at; (at = strchr(p, '@'));) {
        fwrite(p, 1, (size_t)(at - p), f);
        if (!strncmp(at, "@TITLE@", 7)) put_html_text(f, r->title ? r->title : "attention"), p = at + 7;
        else if (!strncmp(at, "@STYLE@", 7)) fputs(viz_page_css, f), p = at + 7;
        else if (!strncmp(at, "@DATA@", 6)) fputs(json, f), p = at + 6;
        else if (!strncmp(at, "@SCRIPT@", 8)) fputs(viz_page_js, f), p = at + 8;
        else fputc('@', f), p = at + 1;
    }
    fputs(p, f);
    free(json);
    const int bad = ferror(f);
    if (fclose(f) != 0 || bad) return attn_set_error(ATTN_E_IO, "writing %s failed: %s", path, strerror(errno));
    return 0;
}
