/* viz_render.c — everything for one record into a directory, with an index of what was drawn
 * and where its cells are. */
#include "viz_draw.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static void add_file(cJSON *files, const char *name, const char *what, const attn_attention_head *m,
                     int map, const viz_layout *lay)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", name);
    cJSON_AddStringToObject(o, "what", what);
    if (m) {
        cJSON_AddStringToObject(o, "kind", attn_attention_kind_name(m->kind));
        cJSON_AddNumberToObject(o, "layer", m->layer);
        cJSON_AddNumberToObject(o, "head", m->head);
        cJSON_AddNumberToObject(o, "map", map);
        cJSON_AddNumberToObject(o, "rows", m->rows);
        cJSON_AddNumberToObject(o, "cols", m->cols);
    }
    if (lay) {
        cJSON_AddNumberToObject(o, "width", lay->width);
        cJSON_AddNumberToObject(o, "height", lay->height);
        cJSON_AddNumberToObject(o, "x0", lay->x0);
        cJSON_AddNumberToObject(o, "y0", lay->y0);
        cJSON_AddNumberToObject(o, "cell_w", lay->cell_w);
        cJSON_AddNumberToObject(o, "cell_h", lay->cell_h);
        cJSON_AddNumberToObject(o, "vmax", lay->vmax);
    }
    cJSON_AddItemToArray(files, o);
}

static int rollout_complete(const attn_attention_view *r, attn_attention_kind kind)
{
    for (int l = 0; l < attn_attention_view_layers(r, kind); l++)
        for (int h = 0; h < attn_attention_view_heads(r, kind); h++)
            if (attn_attention_view_find(r, kind, l, h) < 0) return 0;
    return 1;
}

/* Rollout heatmap and token shading of one self-attention kind. */
static int render_rollout(const attn_attention_view *r, attn_attention_kind kind, int pool, const char *dir,
                          cJSON *files)
{
    int n = r->n_src;
    double *mat = malloc((size_t)n * n * sizeof *mat), *score = malloc((size_t)n * sizeof *score);
    float *wf = malloc((size_t)n * n * sizeof *wf);
    int st = !mat || !score || !wf ? attn_set_error(ATTN_E_NOMEM, "rollout pictures") : 0;
    if (!st) st = attn_attention_view_rollout(r, kind, mat);
    if (!st) st = attn_attention_view_rollout_scores(r, kind, pool, score);
    char path[4096], name[128], title[512];
    if (!st) {
        for (size_t k = 0; k < (size_t)n * n; k++) wf[k] = (float)mat[k];
        viz_matrix mx = {(const char *const *)r->src, n, (const char *const *)r->src, n, wf, NULL};
        snprintf(name, sizeof name, "%s_rollout.png", attn_attention_kind_name(kind));
        snprintf(path, sizeof path, "%s/%s", dir, name);
        snprintf(title, sizeof title, "%s%s%s · attention rollout over %d layers",
                 r->title ? r->title : "", r->title ? " — " : "", attn_attention_kind_name(kind),
                 attn_attention_view_layers(r, kind));
        viz_layout lay;
        st = viz_matrix_write(&mx, title, "rows: output positions · columns: input tokens "
                                         "(what each position's representation draws on)",
                              path, 0, &lay);
        if (!st) add_file(files, name, "rollout", NULL, -1, &lay);
    }
    if (!st) {
        snprintf(name, sizeof name, "%s_tokens.png", attn_attention_kind_name(kind));
        snprintf(path, sizeof path, "%s/%s", dir, name);
        char which[64];
        if (pool == ATTN_ROLLOUT_MEAN) snprintf(which, sizeof which, "mean over positions");
        else snprintf(which, sizeof which, "rollout row of position %d", pool);
        snprintf(title, sizeof title, "which tokens the decision rests on (%s, %s)",
                 attn_attention_kind_name(kind), which);
        st = viz_tokens_png((const char *const *)r->src, score, n, title, path);
        if (!st) add_file(files, name, "tokens", NULL, -1, NULL);
    }
    free(mat);
    free(score);
    free(wf);
    return st;
}

int viz_render_all(const attn_attention_view *r, const char *dir, int pool)
{
    if (!r || !dir) return attn_set_error(ATTN_E_ARG, "viz_render_all: NULL argument");
    if (r->n_maps == 0) return attn_set_error(ATTN_E_ARG, "viz_render_all: the record has no maps");
    int st = attn_run_dir_prepare(dir); /* created with its parents if missing */
    if (st) return st;
    char path[4096], name[128];
    snprintf(path, sizeof path, "%s/attention.json", dir);
    if ((st = attn_attention_view_save(r, path))) return st;
    snprintf(path, sizeof path, "%s/attention.html", dir);
    if ((st = viz_html_write(r, path, pool))) return st;
    char *text = NULL; /* index.json: the page's data without the maps and the image */
    if ((st = attn_attention_view_to_json(r, ATTN_VIEW_JSON_EXTRAS, pool, &text, NULL))) return st;
    cJSON *index = cJSON_Parse(text);
    free(text);
    if (!index) return attn_set_error(ATTN_E_NOMEM, "viz_render_all");
    cJSON_DeleteItemFromObjectCaseSensitive(index, "maps");
    cJSON_DeleteItemFromObjectCaseSensitive(index, "image");
    cJSON *files = cJSON_AddArrayToObject(index, "files");
    add_file(files, "attention.json", "json", NULL, -1, NULL);
    add_file(files, "attention.html", "html", NULL, -1, NULL);
    if (r->image) {
        snprintf(path, sizeof path, "%s/image_attention.png", dir);
        st = viz_image_grid_write(r, path);
        if (!st) add_file(files, "image_attention.png", "image", NULL, -1, NULL);
    }
    for (int m = 0; !st && m < r->n_maps; m++) {
        const attn_attention_head *mp = &r->maps[m];
        for (int svg = 0; !st && svg < 2; svg++) {
            snprintf(name, sizeof name, "%s_L%d_H%d.%s", attn_attention_kind_name(mp->kind), mp->layer,
                     mp->head, svg ? "svg" : "png");
            snprintf(path, sizeof path, "%s/%s", dir, name);
            viz_layout lay;
            st = viz_heatmap_write(r, m, path, svg, &lay);
            if (!st) add_file(files, name, svg ? "heatmap-svg" : "heatmap", mp, m, &lay);
        }
    }
    for (int k = 0; !st && k < ATTN_ATTENTION_NKINDS; k++) {
        for (int l = 0; !st && l < attn_attention_view_layers(r, (attn_attention_kind)k); l++) {
            snprintf(name, sizeof name, "%s_L%d_grid.png", attn_attention_kind_name((attn_attention_kind)k), l);
            snprintf(path, sizeof path, "%s/%s", dir, name);
            st = viz_grid_write(r, (attn_attention_kind)k, l, path, 0);
            if (!st) add_file(files, name, "grid", NULL, -1, NULL);
        }
        /* Rollout needs every head of every layer; a partial record simply has none. */
        if (!st && (k == ATTN_ATTENTION_ENCODER_SELF || k == ATTN_ATTENTION_CLASSIFIER_SELF) && attn_attention_view_layers(r, (attn_attention_kind)k) &&
            rollout_complete(r, (attn_attention_kind)k))
            st = render_rollout(r, (attn_attention_kind)k, pool, dir, files);
    }
    if (!st) {
        char *s = cJSON_Print(index);
        snprintf(path, sizeof path, "%s/index.json", dir);
        st = s ? viz_write_file(path, s, strlen(s)) : attn_set_error(ATTN_E_NOMEM, "index.json");
        cJSON_free(s);
    }
    cJSON_Delete(index);
    return st;
}
