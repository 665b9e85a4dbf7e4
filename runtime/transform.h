/* Compiled image pipelines (torchvision-style transforms) run in C on uint8 HWC images.
 *
 * A pipeline is a list of lc_transform_op built once (lc_transform_new) and then immutable:
 * one object is shared by every loader thread. Geometry (crops, resizes, flips) is kept lazy
 * as a box over the source and resampled in one pass, so RandomResizedCrop + flip +
 * ToTensor + Normalize reads the decoded image once and writes the float output once.
 * Random parameters are drawn with torchvision's algorithms from Philox keyed by
 * (seed, stream), in the coordinates of the original image, whatever scale was decoded. */
#ifndef LC_TRANSFORM_H
#define LC_TRANSFORM_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/image_io.h" /* lc_image */

typedef enum lc_transform_kind {
  LC_TF_RESIZE,              /* size_h, size_w (size_w == 0: smaller edge -> size_h) */
  LC_TF_CENTER_CROP,         /* size_h, size_w */
  LC_TF_RANDOM_RESIZED_CROP, /* size_h, size_w, scale[2], ratio[2] */
  LC_TF_HFLIP,               /* p */
  LC_TF_VFLIP,               /* p */
  LC_TF_ROTATION,            /* degrees[2] (angle uniform in [lo, hi]), fill[4] */
  LC_TF_COLOR_JITTER,        /* brightness, contrast, saturation, hue ranges; has_* */
  LC_TF_TO_TENSOR,
  LC_TF_NORMALIZE,           /* n, mean[n], std[n] */
  LC_TF_RANDOM_CROP,         /* size_h, size_w, pad[4] (left, top, right, bottom), pad_if_needed */
  LC_TF_NUM_KINDS
} lc_transform_kind;

#define LC_TF_MAX_CHANNELS 4

typedef struct lc_transform_op {
  lc_transform_kind kind;
  int size_h, size_w;
  double scale[2], ratio[2];
  double p;
  double degrees[2];
  uint8_t fill[LC_TF_MAX_CHANNELS];
  int has_brightness, has_contrast, has_saturation, has_hue;
  double brightness[2], contrast[2], saturation[2], hue[2];
  int n;
  float mean[LC_TF_MAX_CHANNELS], std[LC_TF_MAX_CHANNELS];
  int pad[4];
  int pad_if_needed;
} lc_transform_op;

typedef struct lc_transform lc_transform; /* compiled pipeline; immutable once built */

/* A pipeline of n ops (copied), with reference count 1; NULL with a message in err when an
 * op is invalid (the message names the transform and the bad value). */
lc_transform *lc_transform_new(const lc_transform_op *ops, int n, char *err, size_t errlen);
void lc_transform_retain(lc_transform *t);
void lc_transform_release(lc_transform *t);
int lc_transform_count(const lc_transform *t);
const lc_transform_op *lc_transform_op_at(const lc_transform *t, int i);

/* Output of an input c x h x w: channels, height, width, and whether it is float32 (ToTensor
 * seen) or uint8. 0 ok, -1 when the input does not fit (e.g. Normalize's channel count). */
int lc_transform_output_shape(const lc_transform *t, int c, int h, int w, int *oc, int *oh,
                              int *ow, int *is_float, char *err, size_t errlen);
/* The largest JPEG scale denominator in {1, 2, 4, 8} that loses no resolution for an
 * orig_h x orig_w image: every crop the pipeline can take still covers its output at >= 1
 * source pixel per output pixel. */
int lc_transform_decode_scale(const lc_transform *t, int orig_h, int orig_w);
/* Applies the pipeline to one HWC uint8 image `in`, which may be a downscaled decode of an
 * orig_h x orig_w image (JPEG scale 1/d: in->h == ceil(orig_h / d)); random parameters are
 * drawn in original coordinates, so the geometry does not depend on the decoded scale.
 * Randomness: Philox keyed by (seed, stream) only: the same key gives the same output on any
 * thread. out: CHW, float32 or uint8 per lc_transform_output_shape(in->c, orig_h, orig_w).
 * 0 ok, -1 error with message. */
int lc_transform_apply(const lc_transform *t, const lc_image *in, int orig_h, int orig_w,
                       uint64_t seed, uint64_t stream, void *out, char *err, size_t errlen);

/* The parameters one application drew (for tests and debugging): crop box of the last
 * RandomResizedCrop or RandomCrop in the coordinates of its input (RandomCrop: of the input
 * before padding, so top/left may be negative; crop_h == -1 when none), flips, last angle,
 * jitter factors (NaN when not drawn) and order. */
typedef struct lc_transform_trace {
  int crop_top, crop_left, crop_h, crop_w;
  int hflip, vflip;
  double angle;
  double brightness, contrast, saturation, hue;
  int jitter_order[4];
} lc_transform_trace;
int lc_transform_apply_traced(const lc_transform *t, const lc_image *in, int orig_h, int orig_w,
                              uint64_t seed, uint64_t stream, void *out, lc_transform_trace *trace,
                              char *err, size_t errlen);

#endif
