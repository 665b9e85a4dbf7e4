/* Augmentation kernels on uint8 HWC images (see augment.h). The resampling follows the
 * antialiased bilinear of torchvision (PyTorch's _upsample_bilinear2d_aa on uint8): per output
 * pixel a triangle filter of support max(1, scale) around centre (o + 0.5) * scale, bounds
 * truncated as int(centre -/+ support + 0.5), weights normalised, then held as int16 with the
 * largest precision that keeps the biggest weight below 2^15; horizontal pass first, each pass
 * rounding (+ half) and clamping to uint8. */
#include "kernels/cpu/augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- resampling taps along one axis ---- */

typedef struct taps {
  int n, ksize, precision;
  int *first, *count; /* count 0: the output pixel is 0 */
  int16_t *coef;      /* n * ksize */
  int gather;         /* every output reads at most one pixel with weight 1: a copy */
  int contiguous;     /* gather with first[u] = first[0] + u for all u, none zero: a memcpy */
} taps;

static void taps_free(taps *t)
{
  free(t->first);
  free(t->count);
  free(t->coef);
}

static double triangle(double x)
{
  if (x < 0) x = -x;
  return x < 1 ? 1 - x : 0;
}

lc_aug_axis lc_aug_axis_identity(int src_n)
{
  lc_aug_axis a = {src_n, 0, src_n, src_n, 0, src_n, 0, src_n, 0};
  return a;
}

/* The normalised filter weights of virtual pixel v: into w (at most ksize), first tap at
 * *lo (crop-box coordinates relative to the source, before dropping pixels outside it).
 * Returns the count. */
static int pixel_weights(const lc_aug_axis *a, int v, double scale, double support, double inv,
                         int ksize, double *w, int *lo_out)
{
  double center = a->b0 + (v + 0.5) * scale;
  /* relative to the crop box, as when it is cut out first: int() truncation, then clip */
  double rel = center - a->c0;
  int lo = (int)(rel - support + 0.5), hi = (int)(rel + support + 0.5);
  if (lo < 0) lo = 0;
  if (hi > a->c1 - a->c0) hi = a->c1 - a->c0;
  if (hi - lo > ksize) hi = lo + ksize;
  double total = 0;
  for (int k = 0; k < hi - lo; k++) {
    w[k] = triangle((k + lo - rel + 0.5) * inv);
    total += w[k];
  }
  if (total != 0)
    for (int k = 0; k < hi - lo; k++) w[k] /= total;
  *lo_out = lo + a->c0;
  return hi > lo ? hi - lo : 0;
}

static int taps_make(const lc_aug_axis *a, taps *t)
{
  memset(t, 0, sizeof *t);
  if (a->n < 1 || a->vn < 1 || a->src_n < 1 || !(a->bl > 0) || a->c1 <= a->c0) return LC_AUG_EBADARG;
  double scale = a->bl / a->vn;
  double filterscale = scale > 1 ? scale : 1;
  double support = filterscale, inv = 1.0 / filterscale;
  t->n = a->n;
  t->ksize = (int)ceil(support) * 2 + 2;
  t->first = malloc(sizeof(int) * (size_t)a->n);
  t->count = malloc(sizeof(int) * (size_t)a->n);
  t->coef = calloc((size_t)a->n * (size_t)t->ksize, sizeof(int16_t));
  double *w = malloc(sizeof(double) * ((size_t)a->n * (size_t)t->ksize));
  if (!t->first || !t->count || !t->coef || !w) {
    free(w);
    taps_free(t);
    return LC_AUG_ENOMEM;
  }
  /* The fixed-point precision follows from the largest weight of the whole resize (all vn
   * virtual pixels, as PyTorch computes it), not only of the window asked for: else a crop
   * of a resize could round differently from the resize then the crop. */
  double wmax = 0;
  int whole = a->w0 <= 0 && a->w0 + a->n >= a->vn;
  if (!whole) {
    for (int v = 0; v < a->vn; v++) {
      int lo, cnt = pixel_weights(a, v, scale, support, inv, t->ksize, w, &lo);
      for (int k = 0; k < cnt; k++)
        if (w[k] > wmax) wmax = w[k];
    }
  }
  for (int u = 0; u < a->n; u++) {
    int v = a->w0 + (a->flip ? a->n - 1 - u : u);
    double *wu = w + (size_t)u * t->ksize;
    t->first[u] = 0;
    t->count[u] = 0;
    if (v < 0 || v >= a->vn) continue;
    int lo, cnt = pixel_weights(a, v, scale, support, inv, t->ksize, wu, &lo);
    int hi = lo + cnt;
    if (whole)
      for (int k = 0; k < cnt; k++)
        if (wu[k] > wmax) wmax = wu[k];
    /* pixels of the box outside the image are zeros: drop them, keeping the normalisation */
    int skip = lo < 0 ? -lo : 0;
    if (hi > a->src_n) hi = a->src_n;
    lo += skip;
    if (hi <= lo) continue;
    if (skip) memmove(wu, wu + skip, sizeof(double) * (size_t)(hi - lo));
    t->first[u] = lo;
    t->count[u] = hi - lo;
  }
  int p = 0;
  for (; p < 22; p++)
    if ((int)(0.5 + wmax * (double)(1 << (p + 1))) >= (1 << 15)) break;
  t->precision = p;
  t->gather = 1;
  for (int u = 0; u < a->n; u++) {
    const double *wu = w + (size_t)u * t->ksize;
    int16_t *cu = t->coef + (size_t)u * t->ksize;
    /* trim zero weights at both ends (the triangle's edges) */
    /* weights are >= 0: PyTorch's (int)(v + 0.5) rounding */
    const double one = (double)(1 << p);
    while (t->count[u] > 0 && (int)(wu[0] * one + 0.5) == 0) {
      wu++;
      t->first[u]++;
      t->count[u]--;
    }
    while (t->count[u] > 0 && (int)(wu[t->count[u] - 1] * one + 0.5) == 0) t->count[u]--;
    for (int k = 0; k < t->count[u]; k++) cu[k] = (int16_t)(int)(wu[k] * one + 0.5);
    if (t->count[u] > 1 || (t->count[u] == 1 && cu[0] != (1 << p))) t->gather = 0;
  }
  t->contiguous = t->gather;
  for (int u = 0; u < a->n && t->contiguous; u++)
    if (t->count[u] != 1 || t->first[u] != t->first[0] + u) t->contiguous = 0;
  free(w);
  return LC_AUG_OK;
}

/* one pixel of c channels: a fixed-size copy for the usual counts, no call per pixel */
static inline void copy_px(uint8_t *d, const uint8_t *s, int c)
{
  switch (c) {
  case 1: d[0] = s[0]; break;
  case 3: d[0] = s[0]; d[1] = s[1]; d[2] = s[2]; break;
  case 4: memcpy(d, s, 4); break;
  default: for (int k = 0; k < c; k++) d[k] = s[k];
  }
}

static inline uint8_t clip8(int32_t acc, int p)
{
  int32_t v = acc >> p;
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Horizontal pass over one source row: out has tx->n pixels of c channels. */
static void hpass_row(const uint8_t *in, int c, const taps *tx, uint8_t *out)
{
  const int n = tx->n, ks = tx->ksize, p = tx->precision;
  const int32_t half = 1 << (p - 1 > 0 ? p - 1 : 0);
  if (tx->contiguous) {
    memcpy(out, in + (size_t)tx->first[0] * c, (size_t)n * c);
    return;
  }
  if (tx->gather) {
    for (int u = 0; u < n; u++) {
      if (tx->count[u]) copy_px(out + (size_t)u * c, in + (size_t)tx->first[u] * c, c);
      else memset(out + (size_t)u * c, 0, (size_t)c);
    }
    return;
  }
  if (c == 3) {
    for (int u = 0; u < n; u++) {
      const int16_t *k = tx->coef + (size_t)u * ks;
      const uint8_t *px = in + (size_t)tx->first[u] * 3;
      if (tx->count[u] == 2) { /* upscaling: two taps */
        const int32_t k0 = k[0], k1 = k[1];
        out[3 * u] = clip8(half + px[0] * k0 + px[3] * k1, p);
        out[3 * u + 1] = clip8(half + px[1] * k0 + px[4] * k1, p);
        out[3 * u + 2] = clip8(half + px[2] * k0 + px[5] * k1, p);
        continue;
      }
      int32_t a0 = half, a1 = half, a2 = half;
      for (int j = 0, m = tx->count[u]; j < m; j++) {
        int32_t wj = k[j];
        a0 += px[3 * j] * wj;
        a1 += px[3 * j + 1] * wj;
        a2 += px[3 * j + 2] * wj;
      }
      out[3 * u] = clip8(a0, p);
      out[3 * u + 1] = clip8(a1, p);
      out[3 * u + 2] = clip8(a2, p);
    }
  } else if (c == 1) {
    for (int u = 0; u < n; u++) {
      const int16_t *k = tx->coef + (size_t)u * ks;
      const uint8_t *px = in + tx->first[u];
      int32_t a0 = half;
      for (int j = 0, m = tx->count[u]; j < m; j++) a0 += px[j] * (int32_t)k[j];
      out[u] = clip8(a0, p);
    }
  } else {
    for (int u = 0; u < n; u++) {
      const int16_t *k = tx->coef + (size_t)u * ks;
      const uint8_t *px = in + (size_t)tx->first[u] * c;
      for (int ch = 0; ch < c; ch++) {
        int32_t a = half;
        for (int j = 0, m = tx->count[u]; j < m; j++) a += px[j * c + ch] * (int32_t)k[j];
        out[(size_t)u * c + ch] = clip8(a, p);
      }
    }
  }
}

/* Vertical pass for one output row: `rows` points at source row `rbase` of the
 * (horizontally resampled) image of `stride` bytes a row; m = n_x * c values. acc is scratch of m int32.
 * The loops run over whole rows of bytes, so they vectorise (omp simd). */
static void vpass_row(const uint8_t *rows, int rbase, size_t stride, int m, const taps *ty,
                      int y, int32_t *restrict acc, uint8_t *restrict out)
{
  const int p = ty->precision, cnt = ty->count[y];
  const int16_t *k = ty->coef + (size_t)y * ty->ksize;
  const uint8_t *restrict r0 = rows + (size_t)(ty->first[y] - rbase) * stride;
  const int32_t half = 1 << (p - 1 > 0 ? p - 1 : 0);
  if (cnt == 2) { /* the common upscale case: two rows */
    const uint8_t *restrict r1 = r0 + stride;
    const int32_t k0 = k[0], k1 = k[1];
#pragma omp simd
    for (int i = 0; i < m; i++) {
      int32_t v = (half + r0[i] * k0 + r1[i] * k1) >> p;
      out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    return;
  }
#pragma omp simd
  for (int i = 0; i < m; i++) acc[i] = half + r0[i] * (int32_t)k[0];
  for (int j = 1; j < cnt; j++) {
    const uint8_t *restrict r = r0 + (size_t)j * stride;
    const int32_t kj = k[j];
#pragma omp simd
    for (int i = 0; i < m; i++) acc[i] += r[i] * kj;
  }
#pragma omp simd
  for (int i = 0; i < m; i++) {
    int32_t v = acc[i] >> p;
    out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
  }
}

int lc_aug_resample(const uint8_t *src, int sh, int sw, int c, const lc_aug_axis *ay,
                    const lc_aug_axis *ax, uint8_t *dst, const lc_aug_emit *emit)
{
  if (!src || sh < 1 || sw < 1 || c < 1 || ay->src_n != sh || ax->src_n != sw) return LC_AUG_EBADARG;
  taps ty, tx;
  int rc = taps_make(ay, &ty);
  if (rc) return rc;
  rc = taps_make(ax, &tx);
  if (rc) {
    taps_free(&ty);
    return rc;
  }
  const int ny = ay->n, nx = ax->n;
  const int m = nx * c;
  /* source rows the vertical pass reads */
  int rmin = sh, rmax = 0;
  for (int y = 0; y < ny; y++)
    if (ty.count[y]) {
      if (ty.first[y] < rmin) rmin = ty.first[y];
      if (ty.first[y] + ty.count[y] > rmax) rmax = ty.first[y] + ty.count[y];
    }
  if (rmax < rmin) rmin = rmax = 0;
  const int nrows = rmax - rmin;
  /* with a contiguous horizontal axis the source rows are read in place */
  const int in_place = tx.contiguous;
  uint8_t *tmp = NULL, *rowbuf = NULL, *zero = NULL;
  int32_t *acc = NULL;
  if (!in_place) tmp = malloc((size_t)(nrows > 0 ? nrows : 1) * (size_t)m);
  rowbuf = malloc((size_t)m);
  zero = calloc((size_t)m, 1);
  acc = malloc(sizeof(int32_t) * (size_t)m);
  if ((!in_place && !tmp) || !rowbuf || !zero || !acc) {
    rc = LC_AUG_ENOMEM;
    goto done;
  }
  /* row r of the horizontally resampled image is at rows + (r - rbase) * stride */
  const uint8_t *rows;
  size_t stride;
  int rbase;
  if (in_place) {
    rows = src + (size_t)tx.first[0] * c;
    rbase = 0;
    stride = (size_t)sw * c;
  } else {
    for (int r = rmin; r < rmax; r++)
      hpass_row(src + (size_t)r * sw * c, c, &tx, tmp + (size_t)(r - rmin) * m);
    rows = tmp;
    rbase = rmin;
    stride = (size_t)m;
  }
  for (int y = 0; y < ny; y++) {
    uint8_t *out = emit ? rowbuf : dst + (size_t)y * m;
    const uint8_t *res;
    if (!ty.count[y]) {
      res = zero;
    } else if (ty.gather) {
      res = rows + (size_t)(ty.first[y] - rbase) * stride;
    } else {
      vpass_row(rows, rbase, stride, m, &ty, y, acc, out);
      res = out;
    }
    if (emit) emit->row(emit->ctx, y, res);
    else if (res != out) memcpy(out, res, (size_t)m);
  }
done:
  free(tmp);
  free(rowbuf);
  free(zero);
  free(acc);
  taps_free(&ty);
  taps_free(&tx);
  return rc;
}

static lc_aug_axis box_axis(int src_n, int start, int len, int out)
{
  lc_aug_axis a = {src_n, start, len, out, start, start + len, 0, out, 0};
  return a;
}

int lc_aug_resize(const uint8_t *src, int sh, int sw, int c, int oh, int ow, uint8_t *dst)
{
  if (oh < 1 || ow < 1) return LC_AUG_EBADARG;
  lc_aug_axis ay = box_axis(sh, 0, sh, oh), ax = box_axis(sw, 0, sw, ow);
  return lc_aug_resample(src, sh, sw, c, &ay, &ax, dst, NULL);
}

int lc_aug_crop(const uint8_t *src, int sh, int sw, int c, int top, int left, int h, int w,
                uint8_t *dst)
{
  return lc_aug_resized_crop(src, sh, sw, c, top, left, h, w, h, w, dst);
}

int lc_aug_resized_crop(const uint8_t *src, int sh, int sw, int c, int top, int left, int h,
                        int w, int oh, int ow, uint8_t *dst)
{
  if (h < 1 || w < 1 || oh < 1 || ow < 1) return LC_AUG_EBADARG;
  lc_aug_axis ay = box_axis(sh, top, h, oh), ax = box_axis(sw, left, w, ow);
  return lc_aug_resample(src, sh, sw, c, &ay, &ax, dst, NULL);
}

void lc_aug_hflip(const uint8_t *src, int h, int w, int c, uint8_t *dst)
{
  for (int y = 0; y < h; y++) {
    const uint8_t *s = src + (size_t)y * w * c;
    uint8_t *d = dst + (size_t)y * w * c;
    for (int x = 0; x < w; x++) copy_px(d + (size_t)(w - 1 - x) * c, s + (size_t)x * c, c);
  }
}

void lc_aug_vflip(const uint8_t *src, int h, int w, int c, uint8_t *dst)
{
  for (int y = 0; y < h; y++)
    memcpy(dst + (size_t)(h - 1 - y) * w * c, src + (size_t)y * w * c, (size_t)w * c);
}

/* ---- rotation ---- */

void lc_aug_rotate(const uint8_t *src, int h, int w, int c, double degrees, const uint8_t *fill,
                   uint8_t *dst)
{
  double rad = degrees * (3.14159265358979323846 / 180.0);
  double cs = cos(rad), sn = sin(rad);
  /* torchvision: inverse matrix [cos, -sin; sin, cos] on centred coordinates x' = x + 0.5 - w/2 */
  for (int y = 0; y < h; y++) {
    double yp = y + 0.5 - h * 0.5;
    uint8_t *d = dst + (size_t)y * w * c;
    for (int x = 0; x < w; x++) {
      double xp = x + 0.5 - w * 0.5;
      double sx = cs * xp - sn * yp + (w - 1) * 0.5;
      double sy = sn * xp + cs * yp + (h - 1) * 0.5;
      double rx = nearbyint(sx), ry = nearbyint(sy); /* half to even, as grid_sample */
      uint8_t *o = d + (size_t)x * c;
      if (rx >= 0 && rx <= w - 1 && ry >= 0 && ry <= h - 1) {
        copy_px(o, src + ((size_t)ry * w + (size_t)rx) * c, c);
      } else {
        for (int k = 0; k < c; k++) o[k] = fill ? fill[k] : 0;
      }
    }
  }
}

/* ---- colour ---- */

static inline uint8_t sat_trunc(float v)
{
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); /* clamp, then truncate as .to(uint8) */
}

static inline uint8_t gray_of(const uint8_t *px)
{
  return sat_trunc(0.2989f * px[0] + 0.587f * px[1] + 0.114f * px[2]);
}

/* Applies a 256-entry table to the colour channels (all of them but alpha). */
static void apply_lut(uint8_t *img, int h, int w, int c, const uint8_t *lut)
{
  int cc = c == 4 ? 3 : c == 2 ? 1 : c;
  size_t n = (size_t)h * w;
  if (cc == c) {
    for (size_t i = 0; i < n * c; i++) img[i] = lut[img[i]];
    return;
  }
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < cc; k++) img[i * c + k] = lut[img[i * c + k]];
}

/* _blend(img, const, f) = f * img + (1 - f) * const, in float32 */
static void blend_lut(double factor, float other, uint8_t *lut)
{
  float f = (float)factor, g = (float)(1.0 - factor);
  for (int v = 0; v < 256; v++) lut[v] = sat_trunc(f * (float)v + g * other);
}

void lc_aug_brightness(uint8_t *img, int h, int w, int c, double factor)
{
  uint8_t lut[256];
  blend_lut(factor, 0.0f, lut);
  apply_lut(img, h, w, c, lut);
}

void lc_aug_contrast(uint8_t *img, int h, int w, int c, double factor)
{
  size_t n = (size_t)h * w;
  double sum = 0;
  if (c == 3) {
    /* gray values are integers: an exact integer sum, in blocks that cannot overflow */
    for (size_t i0 = 0; i0 < n; i0 += 1 << 20) {
      size_t i1 = i0 + (1 << 20) < n ? i0 + (1 << 20) : n;
      uint32_t isum = 0;
      const uint8_t *restrict p = img;
#pragma omp simd reduction(+ : isum)
      for (size_t i = i0; i < i1; i++)
        isum += (uint32_t)(int32_t)(0.2989f * p[3 * i] + 0.587f * p[3 * i + 1] + 0.114f * p[3 * i + 2]);
      sum += isum;
    }
  } else if (c >= 3) {
    for (size_t i = 0; i < n; i++) sum += gray_of(img + i * c);
  } else {
    for (size_t i = 0; i < n; i++) sum += img[i * c];
  }
  float mean = (float)(n ? sum / (double)n : 0);
  uint8_t lut[256];
  blend_lut(factor, mean, lut);
  apply_lut(img, h, w, c, lut);
}

void lc_aug_saturation(uint8_t *img, int h, int w, int c, double factor)
{
  if (c < 3) return;
  float f = (float)factor, g = (float)(1.0 - factor);
  size_t n = (size_t)h * w;
  if (c == 3) {
    /* in blocks: de-interleave to planes, blend the planes (vectorised), interleave back */
    enum { BLK = 256 };
    uint8_t r[BLK], gr[BLK], b[BLK];
    for (size_t i0 = 0; i0 < n; i0 += BLK) {
      int m = (int)(n - i0 < BLK ? n - i0 : BLK);
      uint8_t *p = img + i0 * 3;
      for (int i = 0; i < m; i++) {
        r[i] = p[3 * i];
        gr[i] = p[3 * i + 1];
        b[i] = p[3 * i + 2];
      }
#pragma omp simd
      for (int i = 0; i < m; i++) {
        float fr = r[i], fg = gr[i], fb = b[i];
        float gray = (float)(int32_t)(0.2989f * fr + 0.587f * fg + 0.114f * fb); /* trunc */
        float gg = g * gray;
        float v0 = f * fr + gg, v1 = f * fg + gg, v2 = f * fb + gg;
        v0 = v0 < 0 ? 0 : v0 > 255 ? 255 : v0;
        v1 = v1 < 0 ? 0 : v1 > 255 ? 255 : v1;
        v2 = v2 < 0 ? 0 : v2 > 255 ? 255 : v2;
        r[i] = (uint8_t)(int32_t)v0;
        gr[i] = (uint8_t)(int32_t)v1;
        b[i] = (uint8_t)(int32_t)v2;
      }
      for (int i = 0; i < m; i++) {
        p[3 * i] = r[i];
        p[3 * i + 1] = gr[i];
        p[3 * i + 2] = b[i];
      }
    }
    return;
  }
  for (size_t i = 0; i < n; i++) {
    uint8_t *px = img + i * c;
    float gg = g * (float)gray_of(px);
    px[0] = sat_trunc(f * px[0] + gg);
    px[1] = sat_trunc(f * px[1] + gg);
    px[2] = sat_trunc(f * px[2] + gg);
  }
}

/* torchvision's adjust_hue: convert_image_dtype to float (/ 255), _rgb2hsv, hue shift, _hsv2rgb,
 * all in float32, then back with convert_image_dtype (* (256 - 1e-3), truncated). */
void lc_aug_hue(uint8_t *img, int h, int w, int c, double factor)
{
  if (c < 3) return;
  size_t n = (size_t)h * w;
  float hf = (float)factor;
  for (size_t i = 0; i < n; i++) {
    uint8_t *px = img + i * c;
    float r = px[0] / 255.0f, g = px[1] / 255.0f, b = px[2] / 255.0f;
    float maxc = fmaxf(r, fmaxf(g, b)), minc = fminf(r, fminf(g, b));
    int eqc = maxc == minc;
    float cr = maxc - minc;
    float s = cr / (eqc ? 1.0f : maxc);
    float div = eqc ? 1.0f : cr;
    float rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div;
    float hh;
    if (maxc == r) hh = bc - gc;
    else if (maxc == g) hh = 2.0f + rc - bc;
    else hh = 4.0f + gc - rc;
    hh = fmodf(hh / 6.0f + 1.0f, 1.0f);
    /* (h + factor) % 1.0, Python's modulo: the result takes the divisor's sign */
    hh = fmodf(hh + hf, 1.0f);
    if (hh < 0) hh += 1.0f;
    float v = maxc;
    float fi = floorf(hh * 6.0f);
    float f = hh * 6.0f - fi;
    int ii = ((int)fi % 6 + 6) % 6;
    float p = fminf(fmaxf(v * (1.0f - s), 0.0f), 1.0f);
    float q = fminf(fmaxf(v * (1.0f - s * f), 0.0f), 1.0f);
    float t = fminf(fmaxf(v * (1.0f - s * (1.0f - f)), 0.0f), 1.0f);
    float o0, o1, o2;
    switch (ii) {
    case 0: o0 = v; o1 = t; o2 = p; break;
    case 1: o0 = q; o1 = v; o2 = p; break;
    case 2: o0 = p; o1 = v; o2 = t; break;
    case 3: o0 = p; o1 = q; o2 = v; break;
    case 4: o0 = t; o1 = p; o2 = v; break;
    default: o0 = v; o1 = p; o2 = q; break;
    }
    const float up = 255.0f + 1.0f - 1e-3f;
    px[0] = sat_trunc(o0 * up);
    px[1] = sat_trunc(o1 * up);
    px[2] = sat_trunc(o2 * up);
  }
}

/* ---- to CHW ---- */

void lc_aug_row_to_chw_f32(const uint8_t *src, int w, int c, const float *scale,
                           const float *shift, int64_t plane, int y, float *dst)
{
  float *base = dst + (int64_t)y * w;
  if (c == 3) {
    float s0 = scale[0], s1 = scale[1], s2 = scale[2], h0 = shift[0], h1 = shift[1], h2 = shift[2];
    float *restrict d0 = base, *restrict d1 = base + plane, *restrict d2 = base + 2 * plane;
#pragma omp simd
    for (int x = 0; x < w; x++) {
      d0[x] = src[3 * x] * s0 + h0;
      d1[x] = src[3 * x + 1] * s1 + h1;
      d2[x] = src[3 * x + 2] * s2 + h2;
    }
    return;
  }
  for (int k = 0; k < c; k++) {
    float s = scale[k], sh = shift[k];
    float *d = base + k * plane;
    for (int x = 0; x < w; x++) d[x] = src[x * c + k] * s + sh;
  }
}

static void f32_affine(int c, const float *mean, const float *std, float *scale, float *shift)
{
  for (int k = 0; k < c; k++) {
    float m = mean ? mean[k] : 0.0f, s = std ? std[k] : 1.0f;
    scale[k] = 1.0f / (255.0f * s);
    shift[k] = -m / s;
  }
}

void lc_aug_to_chw_f32(const uint8_t *src, int h, int w, int c, const float *mean,
                       const float *std, float *dst)
{
  float scale[16], shift[16];
  if (c > 16) return;
  f32_affine(c, mean, std, scale, shift);
  for (int y = 0; y < h; y++)
    lc_aug_row_to_chw_f32(src + (size_t)y * w * c, w, c, scale, shift, (int64_t)h * w, y, dst);
}

void lc_aug_row_to_chw_u8(const uint8_t *src, int w, int c, int64_t plane, int y, uint8_t *dst)
{
  uint8_t *base = dst + (int64_t)y * w;
  for (int k = 0; k < c; k++) {
    uint8_t *d = base + k * plane;
    for (int x = 0; x < w; x++) d[x] = src[x * c + k];
  }
}

void lc_aug_to_chw_u8(const uint8_t *src, int h, int w, int c, uint8_t *dst)
{
  for (int y = 0; y < h; y++)
    lc_aug_row_to_chw_u8(src + (size_t)y * w * c, w, c, (int64_t)h * w, y, dst);
}
