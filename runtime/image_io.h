/* Image files: JPEG (libjpeg-turbo's TurboJPEG API) and PNG (libpng), decoded into 8-bit
 * interleaved HWC pixels and written back. No Lua here: the bindings (bindings/image.c) and
 * the loader's worker threads call these directly.
 *
 * Every function is thread-safe (each call has its own TurboJPEG handle and libpng structs),
 * never prints and never aborts: bad input (missing, truncated, corrupt, not an image, absurd
 * dimensions) comes back as -1 with a message in err. */
#ifndef LC_IMAGE_IO_H
#define LC_IMAGE_IO_H

#include <stddef.h>
#include <stdint.h>

typedef struct lc_image {
  uint8_t *data; /* h * w * c bytes, HWC interleaved, rows top to bottom */
  int h, w, c;   /* c in {1, 3, 4}: gray, RGB, RGBA */
} lc_image;

enum { LC_IMAGE_ANY = 0, LC_IMAGE_GRAY = 1, LC_IMAGE_RGB = 3, LC_IMAGE_RGBA = 4 };

/* Images of more pixels than this are refused (a corrupt header must not ask for gigabytes). */
#define LC_IMAGE_MAX_PIXELS ((int64_t)1 << 28)

/* JPEG or PNG, sniffed by magic bytes. scale_denom in {1,2,4,8}: JPEG decodes at that
 * libjpeg-turbo DCT scale (size ceil(dim/denom)); PNG decodes full size whatever it says.
 * want_c converts (ANY keeps the file's: gray 1, colour 3, anything with alpha or
 * transparency 4). Gray from colour is ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B, as
 * PIL's "L"); RGB from RGBA drops alpha; alpha added is 255.
 * 0 = ok; -1 = error, message in err (never prints, never crashes). */
int lc_image_decode(const uint8_t *bytes, size_t n, int scale_denom, int want_c, lc_image *out,
                    char *err, size_t errlen);
/* The same from a file; err names the file: "cannot decode 'x.jpg': ..." */
int lc_image_read_file(const char *path, int scale_denom, int want_c, lc_image *out, char *err,
                       size_t errlen);
/* Header only: the full-size height, width and the channels an ANY decode gives. */
int lc_image_probe(const uint8_t *bytes, size_t n, int *h, int *w, int *c, char *err,
                   size_t errlen);
/* .png / .jpg / .jpeg (any case) by extension; jpeg_quality 1..100 (JPEG only; 4:4:4 chroma
 * from 90 up, 4:2:0 below; a 4-channel image is refused for JPEG, which has no alpha).
 * Written to a temporary file in the same folder, then renamed over path. */
int lc_image_write_file(const char *path, const lc_image *img, int jpeg_quality, char *err,
                        size_t errlen);
/* Frees img->data and clears img (safe on a zeroed or already freed image). */
void lc_image_free(lc_image *img);

#endif
