/* libFuzzer harness for JPEG and PNG decoding (runtime/image_io.c, TurboJPEG and libpng):
 * the first byte picks the DCT scale and the wanted channels, the rest is the file. A
 * success must give the probed size (or its scaled ceiling) with every pixel readable; a
 * failure must return -1 with a message. Never a crash, a leak or a hang. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/image_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1) return 0;
  static const int scales[4] = {1, 2, 4, 8};
  static const int channels[4] = {LC_IMAGE_ANY, LC_IMAGE_GRAY, LC_IMAGE_RGB, LC_IMAGE_RGBA};
  int scale = scales[data[0] & 3], want = channels[(data[0] >> 2) & 3];
  data++;
  size--;
  char err[512];
  int h = 0, w = 0, c = 0;
  int probed = lc_image_probe(data, size, &h, &w, &c, err, sizeof err);
  lc_image img;
  memset(&img, 0, sizeof img);
  err[0] = 0;
  int rc = lc_image_decode(data, size, scale, want, &img, err, sizeof err);
  if (rc == 0) {
    if (!img.data || img.h < 1 || img.w < 1 || (want && img.c != want)) abort();
    if (probed == 0 && (img.h > h || img.w > w)) abort();
    volatile unsigned sum = 0;
    for (size_t i = 0; i < (size_t)img.h * img.w * img.c; i++) sum += img.data[i];
    lc_image_free(&img);
  } else if (rc != -1 || !err[0]) {
    fprintf(stderr, "lc_image_decode returned %d with message '%s'\n", rc, err);
    abort();
  }
  return 0;
}
