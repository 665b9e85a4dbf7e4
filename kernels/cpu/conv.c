/* 2-D convolution on the CPU (see conv.h). The algorithm is written once, in conv_impl.inc,
 * and included here for float and double; this file holds what does not depend on the type:
 * the work plan (tile sizes, thread count) and the scratch layout; the shape checks are in
 * kernels/common/conv.c. */
#include "kernels/cpu/conv.h"
#include "kernels/cpu/conv_direct.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A forward/backward_weight column tile (or a backward_data block) is sized to about this many
 * bytes, so that im2col writes it and the GEMM reads it back while it is still in L2. */
#define LC_CONV_TILE_BYTES (384 * 1024)
#define LC_CONV_ALIGN 64
/* Below this many multiply-adds a call runs on one thread: waking a second one costs more than
 * it saves, and on a loaded machine a parallel region can wait a whole time slice for it. */
#define LC_CONV_PARALLEL_MIN_MACS 65536
/* Spare elements after a column buffer, for the vector stores of im2col that run past it. */
#define LC_CONV_COL_SLACK 16
/* Work items (tiles or channel blocks) a small batch is cut into at least: enough for the
 * threads of a common machine, and a constant, so that the cut never depends on them. */
#define LC_CONV_MIN_ITEMS 16

/* ---- the work plan, shared by both element types ---- */

typedef struct conv_plan {
  int64_t P;          /* out_h * out_w: columns of an image's column matrix */
  int64_t cig, cog;   /* input / output channels per group */
  int64_t kk;         /* kh * kw */
  int64_t kg;         /* cig * kk: rows of one group's column matrix (GEMM inner size) */
  int direct;         /* 1x1, stride 1, no padding: x already is the column matrix */
  int64_t tile_rows;  /* output rows per forward / backward_weight tile */
  int64_t tiles;      /* tiles per image */
  int64_t cblk;       /* input channels per backward_data block (within one group) */
  int64_t cblocks;    /* backward_data blocks per group */
  int64_t bd_elems;   /* backward_data column tile budget, in elements */
  size_t col_elems;   /* per-thread column buffer, in elements (max over the three ops) */
  size_t part_elems;  /* per-thread partial sums of backward_weight: dw^T and dbias */
} conv_plan;

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Threads for a call with `items` independent work items: all of them for enough work. */
static int conv_threads_wanted(const lc_conv2d_shape *s, int64_t items, int threads)
{
  int64_t macs = s->n * s->out_h * s->out_w * s->c_out * (s->c_in / s->groups) * s->kh * s->kw;
  if (macs < LC_CONV_PARALLEL_MIN_MACS) return 1;
  return items < threads ? (int)items : threads;
}

static size_t round_up(size_t bytes)
{
  return (bytes + LC_CONV_ALIGN - 1) / LC_CONV_ALIGN * LC_CONV_ALIGN;
}

/* Tile sizes, fixed by the problem alone. Every output element is then computed by GEMMs of
 * the same shapes whatever the thread count or scratch size, so results are bit-identical
 * across machines' core counts (OpenBLAS kernels may round differently for other shapes). */
static conv_plan conv_make_plan(const lc_conv2d_shape *s, size_t elem)
{
  conv_plan p;
  p.P = s->out_h * s->out_w;
  p.cig = s->c_in / s->groups;
  p.cog = s->c_out / s->groups;
  p.kk = s->kh * s->kw;
  p.kg = p.cig * p.kk;
  p.direct = s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1 &&
             s->pad_h == 0 && s->pad_w == 0;

  /* forward / backward_weight: a tile is whole output rows of one image */
  int64_t row_bytes = p.kg * s->out_w * (int64_t)elem;
  int64_t rows = LC_CONV_TILE_BYTES / row_bytes;
  if (rows < 1) rows = 1;
  if (rows > s->out_h) rows = s->out_h;
  /* the column tile, plus (backward_weight) the transposed dy tile */
  size_t fwd_col = (p.direct ? 0 : (size_t)(p.kg * rows * s->out_w + LC_CONV_COL_SLACK)) +
                   (size_t)(p.cog * rows * s->out_w);
  /* backward_data: a block of input channels, processed in tiles of output rows that hold at
   * most bd_elems column entries (at least one row of every channel of the group) */
  p.bd_elems = LC_CONV_TILE_BYTES / (int64_t)elem;
  if (p.bd_elems < p.kg * s->out_w) p.bd_elems = p.kg * s->out_w;
  size_t bwd_col = p.direct ? 0 : (size_t)p.bd_elems;
  p.col_elems = fwd_col > bwd_col ? fwd_col : bwd_col;
  p.part_elems = (size_t)(s->c_out * p.kg + s->c_out);

  int64_t cblk = p.cig;
  /* Small batches: cut images into more tiles and channel blocks, so that threads have work. */
  if (s->n > 0 && s->n < LC_CONV_MIN_ITEMS) {
    int64_t per_image = ceil_div(LC_CONV_MIN_ITEMS, s->n);
    int64_t r = ceil_div(s->out_h, per_image);
    if (r < rows) rows = r;
    int64_t blocks_wanted = ceil_div(LC_CONV_MIN_ITEMS, s->n * s->groups);
    cblk = ceil_div(p.cig, blocks_wanted);
  }
  p.tile_rows = rows;
  p.tiles = ceil_div(s->out_h, rows);
  p.cblk = cblk;
  p.cblocks = ceil_div(p.cig, cblk);
  return p;
}

size_t lc_conv2d_scratch_bytes(const lc_conv2d_shape *s, size_t elem_size)
{
  int t = omp_get_max_threads();
  conv_plan p = conv_make_plan(s, elem_size);
  return LC_CONV_ALIGN + (size_t)t * round_up(p.col_elems * elem_size) +
         (size_t)t * round_up(p.part_elems * elem_size);
}

/* How many threads fit in the scratch: each needs a column buffer and (backward_weight) a
 * partial-sum buffer. */
static int conv_threads_fitting(size_t bytes, size_t col_bytes, size_t part_bytes, int want)
{
  if (bytes < LC_CONV_ALIGN) return 0;
  bytes -= LC_CONV_ALIGN;
  int t = 0;
  while (t < want && bytes >= col_bytes + part_bytes) {
    bytes -= col_bytes + part_bytes;
    t++;
  }
  return t;
}

/* The scratch for one call: the caller's, or a fresh allocation (freed by conv_scratch_end). */
typedef struct conv_scratch {
  char *base;      /* aligned start */
  void *owned;     /* what to free, or NULL */
  int threads;     /* threads the call may use */
  size_t col_bytes, part_bytes;
} conv_scratch;

static int conv_scratch_begin(conv_scratch *cs, void *scratch, size_t bytes, size_t col_bytes,
                              size_t part_bytes, int want)
{
  col_bytes = round_up(col_bytes);
  part_bytes = round_up(part_bytes);
  cs->owned = NULL;
  cs->col_bytes = col_bytes;
  cs->part_bytes = part_bytes;
  if (!scratch) {
    bytes = LC_CONV_ALIGN + (size_t)want * (col_bytes + part_bytes);
    scratch = cs->owned = malloc(bytes);
    if (!scratch) return LC_CONV_ENOMEM;
  }
  cs->threads = conv_threads_fitting(bytes, col_bytes, part_bytes, want);
  if (cs->threads < 1) return LC_CONV_ESCRATCH;
  uintptr_t a = (uintptr_t)scratch;
  cs->base = (char *)((a + LC_CONV_ALIGN - 1) / LC_CONV_ALIGN * LC_CONV_ALIGN);
  return LC_CONV_OK;
}

static void conv_scratch_end(conv_scratch *cs) { free(cs->owned); }

static void *conv_col_buffer(const conv_scratch *cs, int t)
{
  return cs->base + (size_t)t * cs->col_bytes;
}

/* Partial sums of thread t. */
static void *conv_part_buffer(const conv_scratch *cs, int t)
{
  return cs->base + (size_t)cs->threads * cs->col_bytes + (size_t)t * cs->part_bytes;
}

/* OpenBLAS runs single-threaded inside a convolution, restored afterwards: our OpenMP threads
 * split the work, and a threaded OpenBLAS GEMM is not promised to round as a single-threaded
 * one does (it does not on OpenBLAS's Haswell and Zen kernels), which would make results
 * depend on how many threads the call happened to get. */
static int blas_threads_begin(void)
{
  int before = openblas_get_num_threads();
  if (before != 1) openblas_set_num_threads(1);
  return before;
}

static void blas_threads_end(int before)
{
  if (before != 1) openblas_set_num_threads(before);
}

/* Output columns [lo, hi) of one kernel column (offset `off` = k*dil - pad) that land inside
 * an input row of length `in`: lo*stride + off >= 0 and (hi-1)*stride + off <= in - 1. */
static void conv_valid_range(int64_t off, int64_t stride, int64_t in, int64_t out, int64_t *lo,
                             int64_t *hi)
{
  int64_t l = off >= 0 ? 0 : ceil_div(-off, stride);
  int64_t h = in - 1 - off < 0 ? 0 : (in - 1 - off) / stride + 1;
  if (h > out) h = out;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/* im2col for stride-1 float32 rows with AVX-512: a zero-masking load reads exactly the valid
 * part of an input row (masked-off lanes never touch memory, so the padding costs nothing)
 * and a full 16-lane store writes it. Rows are written in increasing address order, so the
 * lanes a store writes past its row are overwritten by the next row; the column buffer has
 * LC_CONV_COL_SLACK spare elements for the last one. (Masked stores, the obvious tool, are
 * slow on AMD Zen 4.) LeNet's rows are 10 to 28 floats, where memcpy plus zero fills cost
 * more than the GEMM that follows. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define LC_CONV_MAX_CHUNKS 16  /* rows up to 256 floats take the fast path */

static int have_avx512(void)
{
  static int known = -1;
  if (known < 0) known = __builtin_cpu_supports("avx512f") ? 1 : 0;
  return known;
}

/* Lanes [a, b) of 16 set, clipped to [0, 16]. */
static __mmask16 lane_mask(int64_t a, int64_t b)
{
  if (a < 0) a = 0;
  if (b > 16) b = 16;
  if (b <= a) return 0;
  return (__mmask16)((0xFFFFu >> (16 - (b - a))) << a);
}

__attribute__((target("avx512f"))) static void
conv_im2col_s1_avx512(const lc_conv2d_shape *s, const float *x, int64_t nc, int64_t oh0,
                      int64_t oh1, float *col)
{
  const int64_t ow_n = s->out_w, cols = (oh1 - oh0) * ow_n, chunks = (ow_n + 15) / 16;
  __mmask16 mask[LC_CONV_MAX_CHUNKS];
  for (int64_t c = 0; c < nc; c++) {
    const float *xc = x + c * s->h * s->w;
    for (int64_t ki = 0; ki < s->kh; ki++) {
      for (int64_t kj = 0; kj < s->kw; kj++) {
        float *dst = col + ((c * s->kh + ki) * s->kw + kj) * cols;
        int64_t off = kj * s->dil_w - s->pad_w, lo, hi;
        conv_valid_range(off, 1, s->w, ow_n, &lo, &hi);
        for (int64_t k = 0; k < chunks; k++) mask[k] = lane_mask(lo - 16 * k, hi - 16 * k);
        for (int64_t oh = oh0; oh < oh1; oh++, dst += ow_n) {
          int64_t ih = oh * s->stride_h - s->pad_h + ki * s->dil_h;
          if (ih < 0 || ih >= s->h) {
            for (int64_t k = 0; k < chunks; k++) _mm512_storeu_ps(dst + 16 * k, _mm512_setzero_ps());
            continue;
          }
          /* the address of lane 0 may lie before the row; only valid lanes are read */
          uintptr_t src = (uintptr_t)(xc + ih * s->w) + (uintptr_t)(off * (int64_t)sizeof(float));
          for (int64_t k = 0; k < chunks; k++) {
            __m512 v = _mm512_maskz_loadu_ps(mask[k], (const void *)(src + 64 * (uintptr_t)k));
            _mm512_storeu_ps(dst + 16 * k, v);
          }
        }
      }
    }
  }
}

static int conv_im2col_fast_f32(const lc_conv2d_shape *s, const float *x, int64_t nc,
                                int64_t oh0, int64_t oh1, float *col)
{
  if (s->stride_w != 1 || s->out_w > 16 * LC_CONV_MAX_CHUNKS || !have_avx512()) return 0;
  conv_im2col_s1_avx512(s, x, nc, oh0, oh1, col);
  return 1;
}
#else
static int conv_im2col_fast_f32(const lc_conv2d_shape *s, const float *x, int64_t nc,
                                int64_t oh0, int64_t oh1, float *col)
{
  (void)s, (void)x, (void)nc, (void)oh0, (void)oh1, (void)col;
  return 0;
}
#endif

/* float32 layers with few input channels and stride 1 go to the direct kernels
 * (conv_direct.h); these return 1 when they served the call, its result in *rc. */
static int conv_forward_direct_f32(const lc_conv2d_shape *s, const float *x, const float *w,
                                   const float *bias, float *y, int *rc)
{
  if (!lc_conv2d_direct_fits(s)) return 0;
  int threads = conv_threads_wanted(s, s->n * s->out_h, omp_get_max_threads());
  *rc = lc_conv2d_direct_forward_f32(s, x, w, bias, y, threads);
  return 1;
}

static int conv_backward_weight_direct_f32(const lc_conv2d_shape *s, const float *x,
                                           const float *dy, float *dw, float *dbias, int *rc)
{
  if (!lc_conv2d_direct_fits(s)) return 0;
  int threads = conv_threads_wanted(s, s->n, omp_get_max_threads());
  *rc = lc_conv2d_direct_backward_weight_f32(s, x, dy, dw, dbias, threads);
  return 1;
}

static int conv_forward_direct_f64(const lc_conv2d_shape *s, const double *x, const double *w,
                                   const double *bias, double *y, int *rc)
{
  (void)s, (void)x, (void)w, (void)bias, (void)y, (void)rc;
  return 0;
}

static int conv_backward_weight_direct_f64(const lc_conv2d_shape *s, const double *x,
                                           const double *dy, double *dw, double *dbias, int *rc)
{
  (void)s, (void)x, (void)dy, (void)dw, (void)dbias, (void)rc;
  return 0;
}

/* float64 serves gradient checks, not speed: the portable loop only. */
static int conv_im2col_fast_f64(const lc_conv2d_shape *s, const double *x, int64_t nc,
                                int64_t oh0, int64_t oh1, double *col)
{
  (void)s, (void)x, (void)nc, (void)oh0, (void)oh1, (void)col;
  return 0;
}

#define real float
#define FN(name) name##_f32
#define GEMM cblas_sgemm
#include "kernels/cpu/conv_impl.inc"
#undef real
#undef FN
#undef GEMM

#define real double
#define FN(name) name##_f64
#define GEMM cblas_dgemm
#include "kernels/cpu/conv_impl.inc"
#undef real
#undef FN
#undef GEMM
