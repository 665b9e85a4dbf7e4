/* float32 max pooling forward, vectorised along the output row (see maxpool_fast.h). */
#include "kernels/cpu/maxpool_fast.h"

#include <math.h>

#define PARALLEL_MIN 32768

/* One window the scalar way, exactly as pool_impl.inc does it (dilation 1). */
static void window(const lc_pool2d_shape *s, const float *xp, int64_t oh, int64_t ow, float *y,
                   int64_t *idx)
{
  int64_t ih0 = oh * s->stride_h - s->pad_h, ih1 = ih0 + s->kh;
  int64_t iw0 = ow * s->stride_w - s->pad_w, iw1 = iw0 + s->kw;
  if (ih0 < 0) ih0 = 0;
  if (iw0 < 0) iw0 = 0;
  if (ih1 > s->h) ih1 = s->h;
  if (iw1 > s->w) iw1 = s->w;
  int64_t best = -1;
  float m = -INFINITY;
  for (int64_t ih = ih0; ih < ih1; ih++)
    for (int64_t iw = iw0; iw < iw1; iw++) {
      float v = xp[ih * s->w + iw];
      if (v > m || isnan(v) || best < 0) {
        m = v;
        best = ih * s->w + iw;
      }
    }
  *y = m;
  *idx = best;
}

/* Outputs lo..hi-1 of one row, whose windows lie inside columns 0..w-1 and rows r0..r1-1
 * (r0 < r1). m and b are the row's outputs (values and indices). */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void interior(const float *xp, int64_t w, int64_t r0, int64_t r1, int64_t kw,
                     int64_t sw, int64_t pw, int64_t lo, int64_t hi, float *m, int64_t *b)
{
  int64_t c0 = lo * sw - pw;
#pragma omp simd
  for (int64_t o = lo; o < hi; o++) {
    int64_t col = c0 + (o - lo) * sw;
    m[o] = xp[r0 * w + col];
    b[o] = r0 * w + col;
  }
  for (int64_t ih = r0; ih < r1; ih++)
    for (int64_t kj = 0; kj < kw; kj++) {
      if (ih == r0 && kj == 0) continue;
      const float *row = xp + ih * w + kj;
      int64_t base = ih * w + kj;
#pragma omp simd
      for (int64_t o = lo; o < hi; o++) {
        int64_t col = c0 + (o - lo) * sw;
        float v = row[col];
        int take = v > m[o] || v != v;
        m[o] = take ? v : m[o];
        b[o] = take ? base + col : b[o];
      }
    }
}

/* Stride 1 with "same" padding (k = 2 pad + 1, so the output is the input's size, as in
 * GoogLeNet's Inception pools): the plane is one flat array, and output i is the maximum of
 * x[i + offset] over the taps; one long vector loop per tap over the flat range whose reads stay
 * inside the plane, then the outputs that touch the padding (and those whose flat neighbours
 * wrapped around a row end) are recomputed the scalar way. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void same_plane(const float *xp, int64_t h, int64_t w, int64_t kh, int64_t kw,
                       int64_t ph, int64_t pw, float *m, int64_t *b)
{
  int64_t lo = ph * w + pw, hi = (h - ph) * w - pw;
  if (lo >= hi) return;
  int64_t first = -ph * w - pw;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) {
    m[i] = xp[i + first];
    b[i] = i + first;
  }
  for (int64_t ki = 0; ki < kh; ki++)
    for (int64_t kj = 0; kj < kw; kj++) {
      if (ki == 0 && kj == 0) continue;
      int64_t off = (ki - ph) * w + (kj - pw);
#pragma omp simd
      for (int64_t i = lo; i < hi; i++) {
        float v = xp[i + off];
        int take = v > m[i] || v != v;
        m[i] = take ? v : m[i];
        b[i] = take ? i + off : b[i];
      }
    }
}

static int same_stride1(const lc_pool2d_shape *s, const float *x, float *y, int64_t *indices)
{
  if (s->stride_h != 1 || s->stride_w != 1 || s->kh != 2 * s->pad_h + 1 ||
      s->kw != 2 * s->pad_w + 1 || s->out_h != s->h || s->out_w != s->w)
    return 0;
  const int64_t planes = s->n * s->c, hw = s->h * s->w;
  const int64_t ph = s->pad_h, pw = s->pad_w;
#pragma omp parallel for schedule(static) if (planes * hw * s->kh * s->kw > PARALLEL_MIN)
  for (int64_t p = 0; p < planes; p++) {
    const float *xp = x + p * hw;
    float *yp = y + p * hw;
    int64_t *bp = indices + p * hw;
    same_plane(xp, s->h, s->w, s->kh, s->kw, ph, pw, yp, bp);
    for (int64_t oh = 0; oh < s->h; oh++) {
      int edge_row = oh < ph || oh >= s->h - ph;
      for (int64_t ow = 0; ow < s->w; ow++)
        if (edge_row || ow < pw || ow >= s->w - pw)
          window(s, xp, oh, ow, &yp[oh * s->w + ow], &bp[oh * s->w + ow]);
    }
  }
  return 1;
}

int lc_max_pool2d_forward_fast_f32(const lc_pool2d_shape *s, const float *x, float *y,
                                   int64_t *indices)
{
  if (s->dil_h != 1 || s->dil_w != 1 || !indices) return 0;
  if (same_stride1(s, x, y, indices)) return 1;
  const int64_t planes = s->n * s->c, hw = s->h * s->w, ohw = s->out_h * s->out_w;
  /* outputs whose window starts at column >= 0 and ends at column <= w */
  int64_t lo = (s->pad_w + s->stride_w - 1) / s->stride_w;
  int64_t hi = s->w + s->pad_w - s->kw >= 0 ? (s->w + s->pad_w - s->kw) / s->stride_w + 1 : 0;
  if (hi > s->out_w) hi = s->out_w;
  if (lo > hi) lo = hi;
#pragma omp parallel for schedule(static) if (planes * ohw * s->kh * s->kw > PARALLEL_MIN)
  for (int64_t p = 0; p < planes; p++) {
    const float *xp = x + p * hw;
    for (int64_t oh = 0; oh < s->out_h; oh++) {
      float *yr = y + p * ohw + oh * s->out_w;
      int64_t *br = indices + p * ohw + oh * s->out_w;
      int64_t r0 = oh * s->stride_h - s->pad_h, r1 = r0 + s->kh;
      if (r0 < 0) r0 = 0;
      if (r1 > s->h) r1 = s->h;
      int64_t a = lo, z = hi;
      if (r0 >= r1) a = z = 0; /* no rows: all scalar */
      for (int64_t ow = 0; ow < a; ow++) window(s, xp, oh, ow, &yr[ow], &br[ow]);
      if (a < z) interior(xp, s->w, r0, r1, s->kw, s->stride_w, s->pad_w, a, z, yr, br);
      for (int64_t ow = z > a ? z : a; ow < s->out_w; ow++)
        window(s, xp, oh, ow, &yr[ow], &br[ow]);
    }
  }
  return 1;
}
