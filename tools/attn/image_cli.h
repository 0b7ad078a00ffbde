/* image_cli.h — the image commands: attn train image, attn eval image (image_cli.c), attn
 * classify-image and attn viz --model M --image … (attn_attention_image.c, which reads PNGs through cairo). */
#ifndef ATTN_IMAGE_CLI_H
#define ATTN_IMAGE_CLI_H

#include "attn.h"

int cli_train_image(int argc, char **argv); /* argv[0] = "image" */
int cli_eval_image(int argc, char **argv);  /* argv[0] = "image" */
int cli_classify_image(int argc, char **argv);

/* One image for a model taking size×size×1 pixels, from "FILE.png" (cairo; converted to
 * grayscale by BT.601 luma over a black background; any other size is refused) or "IDXFILE[i]"
 * (image i of an IDX file [n, size, size], gzip or plain). The message goes to stderr with cmd;
 * returns 0 or 1. */
int image_read_input(const char *cmd, const char *spec, int64_t size, uint8_t *pixels);

#endif
