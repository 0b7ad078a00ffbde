/* viz_internal.h — what the viz_*.c files share and nobody else needs. */
#ifndef ATTN_VIZ_INTERNAL_H
#define ATTN_VIZ_INTERNAL_H

#include "attn.h"
#include "viz.h"

#include <stddef.h>

/* Whether s is valid UTF-8 (attn_utf8_validate). */
int viz_utf8_valid(const char *s);

/* Write a whole file; ATTN_E_IO with the path and errno text on failure. */
int viz_write_file(const char *path, const char *data, size_t len);

/* `attn viz --model M --image FILE.png|IDXFILE[i] [--out DIR]` on a ViT (viz_image.c); model or
 * image NULL: the usage. Returns the exit status. */
int viz_image_run(const char *model, const char *image, const char *out);

/* Free cairo's (and through it fontconfig's) caches: for leak checkers, at the end of a command. */
void viz_release_caches(void);

#endif
