/* viz_util.c — small things the drawing side shares: whole-file writes, the UTF-8 check, and the
 * metrics table `attn viz --metrics` prints (its numbers are libattn's,
 * attn_attention_view_metrics). */
#include "viz_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int viz_utf8_valid(const char *s) { return attn_utf8_validate(s, strlen(s), NULL) == ATTN_OK; }

int viz_write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return attn_set_error(ATTN_E_IO, "cannot write %s: %s", path, strerror(errno));
    size_t w = fwrite(data, 1, len, f);
    int bad = w != len;
    if (fclose(f) != 0) bad = 1;
    return bad ? attn_set_error(ATTN_E_IO, "writing %s failed: %s", path, strerror(errno)) : 0;
}

int viz_metrics_print(FILE *f, const attn_attention_view *r)
{
    if (!f || !r) return attn_set_error(ATTN_E_ARG, "viz_metrics_print: NULL argument");
    attn_attention_head_metrics *hm = calloc((size_t)r->n_maps + 1, sizeof *hm);
    if (!hm) return attn_set_error(ATTN_E_NOMEM, "viz_metrics_print");
    if (attn_attention_view_metrics(r, hm)) {
        free(hm);
        return ATTN_E_ARG;
    }
    fprintf(f, "%-16s %5s %4s %12s %10s %10s\n", "kind", "layer", "head", "entropy/nat",
            "distance", "align_acc");
    for (int m = 0; m < r->n_maps; m++) {
        char dist[32] = "-", acc[32] = "-";
        if (!isnan(hm[m].distance)) snprintf(dist, sizeof dist, "%.4f", hm[m].distance);
        if (!isnan(hm[m].align_acc))
            snprintf(acc, sizeof acc, "%.4f", hm[m].align_acc);
        fprintf(f, "%-16s %5d %4d %12.4f %10s %10s\n", attn_attention_kind_name(hm[m].kind), hm[m].layer,
                hm[m].head, hm[m].entropy, dist, acc);
    }
    int best = attn_attention_best_alignment(hm, r->n_maps);
    if (best >= 0)
        fprintf(f, "best aligned head: %s layer %d head %d (accuracy %.4f over %d tokens)\n",
                attn_attention_kind_name(hm[best].kind), hm[best].layer, hm[best].head, hm[best].align_acc,
                hm[best].n_aligned);
    else if (r->align)
        fprintf(f, "best aligned head: none (no cross-attention maps)\n");
    free(hm);
    return 0;
}
