/* Image kernels on the CPU (see image.h). The resize follows the algorithm of PIL's
 * Resample.c (precompute_coeffs, normalize_coeffs_8bpc, ImagingResampleHorizontal/Vertical_8bpc)
 * step for step, since bit-exactness with torchvision on PIL images is the point. */
#include "kernels/cpu/image.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* 32-bit accumulator: 8 bits of pixel, 2 of headroom for negative lobes, 22 of fraction. */
#define PRECISION_BITS (32 - 8 - 2)

/* Per-output filter taps along one dimension: output o reads inputs [first[o], first[o] +
 * count[o]) with fixed-point weights coef[o * ksize + k]. */
typedef struct resample_taps {
  int64_t ksize;
  int64_t *first, *count;
  int32_t *coef;
} resample_taps;

static double triangle(double x)
{
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

static void taps_free(resample_taps *t)
{
  free(t->first);
  free(t->count);
  free(t->coef);
}

static int taps_make(int64_t in, int64_t out, resample_taps *t)
{
  double scale = (double)in / (double)out;
  double filterscale = scale < 1 ? 1 : scale;
  double support = 1.0 * filterscale;  /* the triangle's support is 1, widened to downscale */
  t->ksize = (int64_t)ceil(support) * 2 + 1;
  t->first = malloc(sizeof(int64_t) * (size_t)out);
  t->count = malloc(sizeof(int64_t) * (size_t)out);
  t->coef = calloc((size_t)(out * t->ksize), sizeof(int32_t));
  double *w = malloc(sizeof(double) * (size_t)t->ksize);
  if (!t->first || !t->count || !t->coef || !w) {
    free(w);
    taps_free(t);
    return LC_IMAGE_ENOMEM;
  }
  for (int64_t o = 0; o < out; o++) {
    double center = ((double)o + 0.5) * scale;
    /* PIL rounds with a truncating int cast, then clips to the image */
    int64_t lo = (int64_t)(int)(center - support + 0.5);
    if (lo < 0) lo = 0;
    int64_t hi = (int64_t)(int)(center + support + 0.5);
    if (hi > in) hi = in;
    int64_t cnt = hi - lo;
    double total = 0, inv = 1.0 / filterscale;  /* a product, not a quotient: as PIL */
    for (int64_t k = 0; k < cnt; k++) {
      w[k] = triangle(((double)(k + lo) - center + 0.5) * inv);
      total += w[k];
    }
    for (int64_t k = 0; k < cnt; k++) {
      double v = total != 0 ? w[k] / total : w[k];
      double fixed = v * (double)(1 << PRECISION_BITS);
      t->coef[o * t->ksize + k] = (int32_t)(v < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    t->first[o] = lo;
    t->count[o] = cnt;
  }
  free(w);
  return LC_IMAGE_OK;
}

static uint8_t clip8(int32_t acc)
{
  int32_t v = acc >> PRECISION_BITS;  /* arithmetic shift: floor, as PIL */
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One output row of the horizontal pass. */
static void resample_row(const uint8_t *in, const resample_taps *t, int64_t out_w, uint8_t *out)
{
  for (int64_t o = 0; o < out_w; o++) {
    const int32_t *k = t->coef + o * t->ksize;
    const uint8_t *px = in + t->first[o];
    int32_t acc = 1 << (PRECISION_BITS - 1);
    for (int64_t j = 0; j < t->count[o]; j++) acc += (int32_t)px[j] * k[j];
    out[o] = clip8(acc);
  }
}

/* Output row o of the vertical pass over an image of `w` columns. */
static void resample_column_row(const uint8_t *in, int64_t w, const resample_taps *t, int64_t o,
                                uint8_t *out)
{
  const int32_t *k = t->coef + o * t->ksize;
  const uint8_t *rows = in + t->first[o] * w;
  for (int64_t x = 0; x < w; x++) {
    int32_t acc = 1 << (PRECISION_BITS - 1);
    for (int64_t j = 0; j < t->count[o]; j++) acc += (int32_t)rows[j * w + x] * k[j];
    out[x] = clip8(acc);
  }
}

static void resample_rows(const uint8_t *in, int64_t rows, int64_t w, const resample_taps *t,
                          int64_t out_w, uint8_t *out)
{
  for (int64_t y = 0; y < rows; y++) resample_row(in + y * w, t, out_w, out + y * out_w);
}

static void resample_columns(const uint8_t *in, int64_t w, const resample_taps *t, int64_t out_h,
                             uint8_t *out)
{
  for (int64_t y = 0; y < out_h; y++) resample_column_row(in, w, t, y, out + y * w);
}

/* PIL (since 11.1) runs the vertical pass first when the height shrinks by more than twice
 * what the width shrinks, else the horizontal one; since each pass rounds to uint8, the order
 * shows in the result. Earlier PIL always went horizontal first. */
static int horizontal_first(int64_t h, int64_t w, int64_t out_h, int64_t out_w)
{
  return !(h - out_h > 0 && h - out_h > (w - out_w) * 2);
}

/* One image; tmp holds the intermediate of whichever pass runs first. */
static void resize_plane(const uint8_t *src, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                         const resample_taps *th, const resample_taps *tv, uint8_t *tmp,
                         uint8_t *dst)
{
  if (w == out_w && h == out_h) {
    memcpy(dst, src, (size_t)(h * w));
  } else if (h == out_h) {
    resample_rows(src, h, w, th, out_w, dst);
  } else if (w == out_w) {
    resample_columns(src, w, tv, out_h, dst);
  } else if (horizontal_first(h, w, out_h, out_w)) {
    resample_rows(src, h, w, th, out_w, tmp);
    resample_columns(tmp, out_w, tv, out_h, dst);
  } else {
    resample_columns(src, w, tv, out_h, tmp);
    resample_rows(tmp, out_h, w, th, out_w, dst);
  }
}

int lc_resize_bilinear_u8(int64_t planes, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                          const uint8_t *src, uint8_t *dst)
{
  if (planes < 0 || h < 1 || w < 1 || out_h < 1 || out_w < 1) return LC_IMAGE_EBADARG;
  resample_taps th = {0}, tv = {0};
  if (taps_make(w, out_w, &th) || taps_make(h, out_h, &tv)) {
    taps_free(&th);
    taps_free(&tv);
    return LC_IMAGE_ENOMEM;
  }
  int failed = 0;
  const int64_t in_sz = h * w, out_sz = out_h * out_w;
#pragma omp parallel if (planes * out_sz > 65536)
  {
    int64_t tmp_size = h * out_w > out_h * w ? h * out_w : out_h * w;
    uint8_t *tmp = malloc((size_t)tmp_size);
    if (!tmp) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t p = 0; p < planes; p++)
      if (tmp) resize_plane(src + p * in_sz, h, w, out_h, out_w, &th, &tv, tmp, dst + p * out_sz);
    free(tmp);
  }
  taps_free(&th);
  taps_free(&tv);
  return failed ? LC_IMAGE_ENOMEM : LC_IMAGE_OK;
}

void lc_u8_to_f32_scaled(int64_t n, const uint8_t *src, float *dst)
{
#pragma omp parallel for simd schedule(static) if (n > 262144)
  for (int64_t i = 0; i < n; i++) dst[i] = (float)src[i] / 255.0f;
}
