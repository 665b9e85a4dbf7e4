/* Direct stride-1 float32 convolution for few input channels (see conv_direct.h). */
#include "kernels/cpu/conv_direct.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DIRECT_MAX_CIN 4      /* beyond this the GEMM's inner size is large enough */
#define DIRECT_MAX_CHUNKS 16  /* output rows up to 256 columns */
#define DIRECT_MAX_KW 7
#define FWD_BLOCK 8           /* output channels one forward pass keeps in registers */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))
#define INLINE_AVX512 static inline __attribute__((always_inline, target("avx512f")))
/* the loops over a block's channels and kernel columns have constant trip counts: unrolled,
 * their sums live in registers */
#define UNROLL _Pragma("GCC unroll 8")

int lc_conv2d_direct_fits(const lc_conv2d_shape *s)
{
  static int avx512 = -1;
  if (avx512 < 0) avx512 = __builtin_cpu_supports("avx512f") ? 1 : 0;
  return avx512 && s->groups == 1 && s->stride_h == 1 && s->stride_w == 1 && s->dil_h == 1 &&
         s->dil_w == 1 && s->c_in <= DIRECT_MAX_CIN && (s->kw == 3 || s->kw == 5 || s->kw == 7) &&
         s->out_w <= 16 * DIRECT_MAX_CHUNKS;
}

/* Which lanes of each 16-column chunk of an output row are written (out), and which of them
 * read an input column inside the row for kernel column kx (tap): the rest are the zero
 * padding, and a zero-masking load never touches their memory. */
typedef struct row_masks {
  int64_t chunks;
  __mmask16 out[DIRECT_MAX_CHUNKS];
  __mmask16 tap[DIRECT_MAX_KW][DIRECT_MAX_CHUNKS];
} row_masks;

/* Lanes [a, b) of 16 set, clipped to [0, 16]. */
static __mmask16 lanes(int64_t a, int64_t b)
{
  if (a < 0) a = 0;
  if (b > 16) b = 16;
  if (b <= a) return 0;
  return (__mmask16)((0xFFFFu >> (16 - (b - a))) << a);
}

static void make_masks(const lc_conv2d_shape *s, row_masks *m)
{
  m->chunks = (s->out_w + 15) / 16;
  for (int64_t k = 0; k < m->chunks; k++) {
    m->out[k] = lanes(-16 * k, s->out_w - 16 * k);
    for (int64_t kx = 0; kx < s->kw; kx++) {
      /* output column ox reads input column ox + kx - pad_w */
      int64_t lo = s->pad_w - kx, hi = s->w + s->pad_w - kx;
      if (lo < 0) lo = 0;
      if (hi > s->out_w) hi = s->out_w;
      m->tap[kx][k] = lanes(lo - 16 * k, hi - 16 * k);
    }
  }
}

/* The 16 input values from column col of row on, those outside the mask zero. col may be
 * negative: the address is formed as an integer and only the masked lanes are read. */
INLINE_AVX512 __m512 load_tap(const float *row, int64_t col, __mmask16 mask)
{
  uintptr_t at = (uintptr_t)row + (uintptr_t)(col * (int64_t)sizeof(float));
  return _mm512_maskz_loadu_ps(mask, (const void *)at);
}

INLINE_AVX512 void store_lanes(float *at, __mmask16 mask, __m512 v)
{
  if (mask == 0xFFFF)
    _mm512_storeu_ps(at, v);
  else
    _mm512_mask_storeu_ps(at, mask, v);
}

/* ---- forward ---- */

/* Output row oy of channels [co0, co0 + cb) of one image: each 16-column chunk of the cb rows
 * is built in registers from the bias and every tap, then stored once. */
INLINE_AVX512 void forward_row(const lc_conv2d_shape *s, const row_masks *m, const float *xn,
                               const float *w, const float *bias, float *yn, int64_t co0,
                               int64_t oy, const int cb)
{
  const int64_t kk = s->kh * s->kw, w_co = s->c_in * kk, plane = s->out_h * s->out_w;
  for (int64_t k = 0; k < m->chunks; k++) {
    __m512 acc[FWD_BLOCK];
    UNROLL
    for (int c = 0; c < cb; c++) acc[c] = _mm512_set1_ps(bias ? bias[co0 + c] : 0.0f);
    for (int64_t ci = 0; ci < s->c_in; ci++) {
      for (int64_t ky = 0; ky < s->kh; ky++) {
        int64_t iy = oy - s->pad_h + ky;
        if (iy < 0 || iy >= s->h) continue;
        const float *row = xn + (ci * s->h + iy) * s->w;
        const float *wk = w + co0 * w_co + ci * kk + ky * s->kw;
        for (int64_t kx = 0; kx < s->kw; kx++) {
          __m512 v = load_tap(row, 16 * k + kx - s->pad_w, m->tap[kx][k]);
          UNROLL
          for (int c = 0; c < cb; c++)
            acc[c] = _mm512_fmadd_ps(_mm512_set1_ps(wk[c * w_co + kx]), v, acc[c]);
        }
      }
    }
    float *yk = yn + co0 * plane + oy * s->out_w + 16 * k;
    UNROLL
    for (int c = 0; c < cb; c++) store_lanes(yk + c * plane, m->out[k], acc[c]);
  }
}

/* Output row `item % out_h` of image `item / out_h`, every channel, in blocks of at most
 * FWD_BLOCK channels of balanced sizes. */
AVX512 static void forward_item(const lc_conv2d_shape *s, const row_masks *m, const float *x,
                                const float *w, const float *bias, float *y, int64_t item)
{
  int64_t n = item / s->out_h, oy = item % s->out_h;
  const float *xn = x + n * s->c_in * s->h * s->w;
  float *yn = y + n * s->c_out * s->out_h * s->out_w;
  int64_t blocks = (s->c_out + FWD_BLOCK - 1) / FWD_BLOCK;
  for (int64_t b = 0; b < blocks; b++) {
    int64_t co0 = b * s->c_out / blocks, co1 = (b + 1) * s->c_out / blocks;
    switch (co1 - co0) {
#define FORWARD_CASE(CB) case CB: forward_row(s, m, xn, w, bias, yn, co0, oy, CB); break;
      FORWARD_CASE(1) FORWARD_CASE(2) FORWARD_CASE(3) FORWARD_CASE(4)
      FORWARD_CASE(5) FORWARD_CASE(6) FORWARD_CASE(7) FORWARD_CASE(8)
#undef FORWARD_CASE
    default: break;
    }
  }
}

AVX512 int lc_conv2d_direct_forward_f32(const lc_conv2d_shape *s, const float *x,
                                        const float *w, const float *bias, float *y,
                                        int threads)
{
  if (!lc_conv2d_direct_fits(s)) return LC_CONV_EBADARG;
  row_masks m;
  make_masks(s, &m);
  int64_t items = s->n * s->out_h;
  /* each item writes its own output rows, in a fixed order: any split gives the same bits */
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t it = 0; it < items; it++) forward_item(s, &m, x, w, bias, y, it);
  return LC_CONV_OK;
}

/* ---- backward_weight ---- */

/* Adds to part (16-lane sums per weight, laid out as dw) the gradient of kernel row ky of
 * input channel ci for output channels [co0, co0 + cb) over one image: for each output row,
 * the cb rows of dy are loaded once and multiplied with the KW shifted input rows, the cb x KW
 * sums staying in registers for the whole image. */
INLINE_AVX512 void weight_rows(const lc_conv2d_shape *s, const row_masks *m, const float *xn,
                               const float *dyn, __m512 *part, int64_t ci, int64_t ky,
                               int64_t co0, const int KW, const int cb)
{
  const int64_t plane = s->out_h * s->out_w;
  __m512 acc[FWD_BLOCK][DIRECT_MAX_KW];
  UNROLL
  for (int c = 0; c < cb; c++)
    UNROLL
    for (int kx = 0; kx < KW; kx++) acc[c][kx] = _mm512_setzero_ps();
  /* the output rows whose input row oy - pad_h + ky is inside the image */
  int64_t oy0 = s->pad_h - ky, oy1 = s->h + s->pad_h - ky;
  if (oy0 < 0) oy0 = 0;
  if (oy1 > s->out_h) oy1 = s->out_h;
  for (int64_t oy = oy0; oy < oy1; oy++) {
    const float *row = xn + (ci * s->h + oy - s->pad_h + ky) * s->w;
    const float *d0 = dyn + co0 * plane + oy * s->out_w;
    for (int64_t k = 0; k < m->chunks; k++) {
      __m512 d[FWD_BLOCK];
      UNROLL
      for (int c = 0; c < cb; c++) d[c] = _mm512_maskz_loadu_ps(m->out[k], d0 + c * plane + 16 * k);
      UNROLL
      for (int kx = 0; kx < KW; kx++) {
        __m512 v = load_tap(row, 16 * k + kx - s->pad_w, m->tap[kx][k]);
        UNROLL
        for (int c = 0; c < cb; c++) acc[c][kx] = _mm512_fmadd_ps(d[c], v, acc[c][kx]);
      }
    }
  }
  UNROLL
  for (int c = 0; c < cb; c++) {
    __m512 *p = part + ((co0 + c) * s->c_in + ci) * s->kh * KW + ky * KW;
    UNROLL
    for (int kx = 0; kx < KW; kx++) p[kx] = _mm512_add_ps(p[kx], acc[c][kx]);
  }
}

/* One function per kernel width, with the channel blocks that fit the 32 vector registers
 * (cb x KW sums, cb rows of dy and the input). */
#define WEIGHT_CASE(KW, CB) case CB: weight_rows(s, m, xn, dyn, part, ci, ky, co0, KW, CB); break;
#define WEIGHT_KW(KW, CASES)                                                                 \
  AVX512 static void weight_rows_kw##KW(const lc_conv2d_shape *s, const row_masks *m,        \
                                        const float *xn, const float *dyn, __m512 *part,     \
                                        int64_t ci, int64_t ky, int64_t co0, int cb)         \
  {                                                                                          \
    switch (cb) {                                                                            \
      CASES                                                                                  \
    default: break;                                                                          \
    }                                                                                        \
  }
WEIGHT_KW(3, WEIGHT_CASE(3, 1) WEIGHT_CASE(3, 2) WEIGHT_CASE(3, 3) WEIGHT_CASE(3, 4)
             WEIGHT_CASE(3, 5) WEIGHT_CASE(3, 6))
WEIGHT_KW(5, WEIGHT_CASE(5, 1) WEIGHT_CASE(5, 2) WEIGHT_CASE(5, 3) WEIGHT_CASE(5, 4))
WEIGHT_KW(7, WEIGHT_CASE(7, 1) WEIGHT_CASE(7, 2) WEIGHT_CASE(7, 3))
#undef WEIGHT_KW
#undef WEIGHT_CASE

static int weight_block_max(int64_t kw) { return kw == 3 ? 6 : kw == 5 ? 4 : 3; }

/* Image n's share of every weight and bias gradient, added to part. */
AVX512 static void weight_image(const lc_conv2d_shape *s, const row_masks *m, const float *xn,
                                const float *dyn, __m512 *part)
{
  int64_t max = weight_block_max(s->kw), blocks = (s->c_out + max - 1) / max;
  for (int64_t ci = 0; ci < s->c_in; ci++)
    for (int64_t ky = 0; ky < s->kh; ky++)
      for (int64_t b = 0; b < blocks; b++) {
        int64_t co0 = b * s->c_out / blocks, cb = (b + 1) * s->c_out / blocks - co0;
        if (s->kw == 3) weight_rows_kw3(s, m, xn, dyn, part, ci, ky, co0, (int)cb);
        if (s->kw == 5) weight_rows_kw5(s, m, xn, dyn, part, ci, ky, co0, (int)cb);
        if (s->kw == 7) weight_rows_kw7(s, m, xn, dyn, part, ci, ky, co0, (int)cb);
      }
  __m512 *pb = part + s->c_out * s->c_in * s->kh * s->kw;
  const int64_t plane = s->out_h * s->out_w;
  for (int64_t co = 0; co < s->c_out; co++)
    for (int64_t oy = 0; oy < s->out_h; oy++) {
      const float *d = dyn + co * plane + oy * s->out_w;
      for (int64_t k = 0; k < m->chunks; k++)
        pb[co] = _mm512_add_ps(pb[co], _mm512_maskz_loadu_ps(m->out[k], d + 16 * k));
    }
}

AVX512 int lc_conv2d_direct_backward_weight_f32(const lc_conv2d_shape *s, const float *x,
                                                const float *dy, float *dw, float *dbias,
                                                int threads)
{
  if (!lc_conv2d_direct_fits(s)) return LC_CONV_EBADARG;
  if (threads < 1) threads = 1;
  const int64_t nw = s->c_out * s->c_in * s->kh * s->kw, nv = nw + s->c_out;
  __m512 *parts = aligned_alloc(64, (size_t)threads * (size_t)nv * sizeof(__m512));
  if (!parts) return LC_CONV_ENOMEM;
  memset(parts, 0, (size_t)threads * (size_t)nv * sizeof(__m512));
  row_masks m;
  make_masks(s, &m);
  const int64_t x_image = s->c_in * s->h * s->w, dy_image = s->c_out * s->out_h * s->out_w;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    __m512 *part = parts + (int64_t)omp_get_thread_num() * nv;
    /* static: which images a thread sums depends only on the thread count */
#pragma omp for schedule(static)
    for (int64_t n = 0; n < s->n; n++) weight_image(s, &m, x + n * x_image, dy + n * dy_image, part);
  }
  /* threads that got no images left their sums at zero */
  for (int64_t i = 0; i < nv; i++) {
    __m512 sum = parts[i];
    for (int t = 1; t < threads; t++) sum = _mm512_add_ps(sum, parts[(int64_t)t * nv + i]);
    float total = _mm512_reduce_add_ps(sum);
    if (i < nw)
      dw[i] = total;
    else if (dbias)
      dbias[i - nw] = total;
  }
  free(parts);
  return LC_CONV_OK;
}

#else /* not x86-64 with GCC or clang: the general path serves every shape */

int lc_conv2d_direct_fits(const lc_conv2d_shape *s)
{
  (void)s;
  return 0;
}

int lc_conv2d_direct_forward_f32(const lc_conv2d_shape *s, const float *x, const float *w,
                                 const float *bias, float *y, int threads)
{
  (void)s, (void)x, (void)w, (void)bias, (void)y, (void)threads;
  return LC_CONV_EBADARG;
}

int lc_conv2d_direct_backward_weight_f32(const lc_conv2d_shape *s, const float *x,
                                         const float *dy, float *dw, float *dbias, int threads)
{
  (void)s, (void)x, (void)dy, (void)dw, (void)dbias, (void)threads;
  return LC_CONV_EBADARG;
}
#endif
