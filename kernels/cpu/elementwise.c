#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/transpose.h"

#include <math.h>
#include <string.h>

#include "kernels/common/bf16.h"
#include "kernels/cpu/elementwise_contig.h"
#include "kernels/cpu/fastmath.h"
#include "kernels/cpu/strided.h"

/* float math in float for speed, the rest in double */
/* Integers are stored through int64, so out-of-range results wrap (uint8 0 - 1 = 255, as
 * in PyTorch) instead of an undefined double-to-unsigned conversion. */
#define TO_REAL(v) ((real)(v))
#define real float
#define acc float
#define SUF f32
#define exp expf
#define log logf
#define sqrt sqrtf
#define tanh tanhf
#define pow powf
#include "kernels/cpu/elementwise_impl.inc"
#undef exp
#undef log
#undef sqrt
#undef tanh
#undef pow
#undef real
#undef acc
#undef SUF

#define real double
#define acc double
#define SUF f64
#include "kernels/cpu/elementwise_impl.inc"
#undef real
#undef acc
#undef SUF

#undef TO_REAL
#define TO_REAL(v) ((real)(int64_t)(v))
#define real int64_t
#define acc double
#define SUF i64
#include "kernels/cpu/elementwise_impl.inc"
#undef real
#undef acc
#undef SUF

#define real uint8_t
#define acc double
#define SUF u8
#include "kernels/cpu/elementwise_impl.inc"
#undef real
#undef acc
#undef SUF

static const int64_t element_size[LC_NUM_DTYPES] = {4, 8, 8, 1, 2};

/* Work below this many elements stays on one thread: forking costs more. */
#define PARALLEL_GRAIN 32768

#define FOR_EACH_RUN(it, nops, body)                                                   \
  do {                                                                                 \
    int64_t runs_ = lc_cpu_iter_runs(&(it)), len_ = lc_cpu_iter_run_length(&(it));     \
    _Pragma("omp parallel for if (runs_ * len_ > PARALLEL_GRAIN && runs_ > 1)")        \
    for (int64_t r_ = 0; r_ < runs_; r_++) {                                           \
      int64_t off[LC_ITER_MAX_OPS];                                                    \
      lc_cpu_iter_offsets(&(it), r_, off);                                             \
      body;                                                                            \
    }                                                                                  \
  } while (0)

/* DISPATCH(T, SFX) for the element type of dtype (the run functions are named by SFX). */
#define FOR_EACH_DTYPE(dtype, DISPATCH)                \
  switch (dtype) {                                     \
  case LC_FLOAT32: DISPATCH(float, f32); break;        \
  case LC_FLOAT64: DISPATCH(double, f64); break;       \
  case LC_INT64: DISPATCH(int64_t, i64); break;        \
  case LC_UINT8: DISPATCH(uint8_t, u8); break;         \
  default: break;                                      \
  }

/* A single long run is split into chunks so both cores work on contiguous data. */
#define CHUNKED_RUN(it, body)                                                          \
  do {                                                                                 \
    int64_t len_ = lc_cpu_iter_run_length(&(it));                                      \
    int64_t chunks_ = len_ > PARALLEL_GRAIN ? (len_ + PARALLEL_GRAIN - 1) / PARALLEL_GRAIN : 1; \
    _Pragma("omp parallel for if (chunks_ > 1)")                                       \
    for (int64_t c_ = 0; c_ < chunks_; c_++) {                                         \
      int64_t start = c_ * PARALLEL_GRAIN;                                             \
      int64_t n = len_ - start < PARALLEL_GRAIN ? len_ - start : PARALLEL_GRAIN;       \
      if (chunks_ == 1) n = len_;                                                      \
      body;                                                                            \
    }                                                                                  \
  } while (0)


void lc_cpu_unary(lc_unary_op op, lc_dtype dtype, int ndim, const int64_t *sizes,
                  lc_cpu_operand out, lc_cpu_operand a, double s0, double s1)
{
  const int64_t *strides[2] = {out.strides, a.strides};
  lc_cpu_iter it;
  lc_cpu_iter_init(&it, ndim, sizes, 2, strides);
  int64_t so = lc_cpu_iter_run_stride(&it, 0), sa = lc_cpu_iter_run_stride(&it, 1);
  if (op == LC_UN_SIGMOID && dtype == LC_FLOAT32 && so == 1 && sa == 1 && lc_cpu_iter_runs(&it) == 1) {
    CHUNKED_RUN(it, lc_cpu_sigmoid_f32(n, (const float *)a.data + start, (float *)out.data + start));
    return;
  }
  if (dtype == LC_FLOAT32 && so == 1 && sa == 1 && lc_cpu_unary_contig_f32(op, 0, NULL, NULL, 0, 0)) {
    float *o = out.data;
    const float *x = a.data;
    if (lc_cpu_iter_runs(&it) == 1)
      CHUNKED_RUN(it, lc_cpu_unary_contig_f32(op, n, o + start, x + start, s0, s1));
    else
      FOR_EACH_RUN(it, 2, lc_cpu_unary_contig_f32(op, len_, o + off[0], x + off[1], s0, s1));
    return;
  }
  const int compare = LC_UN_IS_COMPARISON(op);
#define DISPATCH(T, SFX)                                                                   \
  if (compare) {                                                                           \
    if (lc_cpu_iter_runs(&it) == 1)                                                        \
      CHUNKED_RUN(it, compare_scalar_run_##SFX(op, n, (uint8_t *)out.data + start * so, so, \
                                               (const T *)a.data + start * sa, sa, s0));    \
    else                                                                                   \
      FOR_EACH_RUN(it, 2, compare_scalar_run_##SFX(op, len_, (uint8_t *)out.data + off[0], \
                                                   so, (const T *)a.data + off[1], sa, s0)); \
  } else {                                                                                 \
    if (lc_cpu_iter_runs(&it) == 1)                                                        \
      CHUNKED_RUN(it, unary_run_##SFX(op, n, (T *)out.data + start * so, so,               \
                                      (const T *)a.data + start * sa, sa, s0, s1));        \
    else                                                                                   \
      FOR_EACH_RUN(it, 2, unary_run_##SFX(op, len_, (T *)out.data + off[0], so,            \
                                          (const T *)a.data + off[1], sa, s0, s1));        \
  }
  FOR_EACH_DTYPE(dtype, DISPATCH);
#undef DISPATCH
}

void lc_cpu_binary(lc_binary_op op, lc_dtype dtype, int ndim, const int64_t *sizes,
                   lc_cpu_operand out, lc_cpu_operand a, lc_cpu_operand b)
{
  const int64_t *strides[3] = {out.strides, a.strides, b.strides};
  lc_cpu_iter it;
  lc_cpu_iter_init(&it, ndim, sizes, 3, strides);
  int64_t so = lc_cpu_iter_run_stride(&it, 0), sa = lc_cpu_iter_run_stride(&it, 1),
          sb = lc_cpu_iter_run_stride(&it, 2);
  const int compare = LC_BIN_IS_COMPARISON(op);
  /* float32 runs over contiguous a and out, b contiguous too or one value (a broadcast
   * scalar): the vectorised loops, which cover the same ops for both */
  if (dtype == LC_FLOAT32 && so == 1 && sa == 1 && (sb == 1 || sb == 0) && !compare &&
      lc_cpu_binary_contig_f32(op, 0, NULL, NULL, NULL)) {
    float *o = out.data;
    const float *x = a.data, *y = b.data;
#define CONTIG_RUN(len, oo, oa, ob)                                                    \
  (sb ? lc_cpu_binary_contig_f32(op, len, o + (oo), x + (oa), y + (ob))                \
      : lc_cpu_binary_scalar_f32(op, len, o + (oo), x + (oa), y[ob]))
    if (lc_cpu_iter_runs(&it) == 1)
      CHUNKED_RUN(it, CONTIG_RUN(n, start, start, start * sb));
    else
      FOR_EACH_RUN(it, 3, CONTIG_RUN(len_, off[0], off[1], off[2]));
#undef CONTIG_RUN
    return;
  }
#define DISPATCH(T, SFX)                                                                   \
  if (compare) {                                                                           \
    if (lc_cpu_iter_runs(&it) == 1)                                                        \
      CHUNKED_RUN(it, compare_run_##SFX(op, n, (uint8_t *)out.data + start * so, so,       \
                                        (const T *)a.data + start * sa, sa,                \
                                        (const T *)b.data + start * sb, sb));              \
    else                                                                                   \
      FOR_EACH_RUN(it, 3, compare_run_##SFX(op, len_, (uint8_t *)out.data + off[0], so,    \
                                            (const T *)a.data + off[1], sa,                \
                                            (const T *)b.data + off[2], sb));              \
  } else {                                                                                 \
    if (lc_cpu_iter_runs(&it) == 1)                                                        \
      CHUNKED_RUN(it, binary_run_##SFX(op, n, (T *)out.data + start * so, so,              \
                                       (const T *)a.data + start * sa, sa,                 \
                                       (const T *)b.data + start * sb, sb));               \
    else                                                                                   \
      FOR_EACH_RUN(it, 3, binary_run_##SFX(op, len_, (T *)out.data + off[0], so,           \
                                           (const T *)a.data + off[1], sa,                 \
                                           (const T *)b.data + off[2], sb));               \
  }
  FOR_EACH_DTYPE(dtype, DISPATCH);
#undef DISPATCH
}

void lc_cpu_where(lc_dtype dtype, int ndim, const int64_t *sizes, lc_cpu_operand out,
                  lc_cpu_operand cond, lc_cpu_operand a, lc_cpu_operand b)
{
  const int64_t *strides[4] = {out.strides, cond.strides, a.strides, b.strides};
  lc_cpu_iter it;
  lc_cpu_iter_init(&it, ndim, sizes, 4, strides);
  int64_t s[4];
  for (int k = 0; k < 4; k++) s[k] = lc_cpu_iter_run_stride(&it, k);
#define DISPATCH(T, SFX)                                                                   \
  FOR_EACH_RUN(it, 4, where_run_##SFX(len_, (T *)out.data + off[0], s[0],                  \
                                      (const uint8_t *)cond.data + off[1], s[1],           \
                                      (const T *)a.data + off[2], s[2],                    \
                                      (const T *)b.data + off[3], s[3]))
  FOR_EACH_DTYPE(dtype, DISPATCH);
#undef DISPATCH
}

void lc_cpu_fill(lc_dtype dtype, int ndim, const int64_t *sizes, lc_cpu_operand dst, double value)
{
  const int64_t *strides[1] = {dst.strides};
  lc_cpu_iter it;
  lc_cpu_iter_init(&it, ndim, sizes, 1, strides);
  int64_t so = lc_cpu_iter_run_stride(&it, 0);
  if (dtype == LC_BFLOAT16) {
    uint16_t bits = lc_bf16_from_float((float)value);
    FOR_EACH_RUN(it, 1, {
      uint16_t *o = (uint16_t *)dst.data + off[0];
      for (int64_t i = 0; i < len_; i++) o[i * so] = bits;
    });
    return;
  }
#define DISPATCH(T, SFX) FOR_EACH_RUN(it, 1, fill_run_##SFX(len_, (T *)dst.data + off[0], so, value))
  FOR_EACH_DTYPE(dtype, DISPATCH);
#undef DISPATCH
}

/* Conversions go through one loop per (destination, source) pair of types; bfloat16 goes
 * through float32 both ways. */
#define CONVERT_RUN_AS(TD, TS, EXPR)                                                        \
  FOR_EACH_RUN(it, 2, {                                                                     \
    TD *o = (TD *)dst.data + off[0];                                                        \
    const TS *x = (const TS *)src.data + off[1];                                            \
    for (int64_t i = 0; i < len_; i++) o[i * sd] = EXPR(x[i * ss]);                         \
  })
#define CONVERT_RUN(TD, TS) CONVERT_RUN_AS(TD, TS, (TD))
#define WIDEN_BF16(v) lc_bf16_to_float(v)
#define NARROW_TO_BF16(v) lc_bf16_from_float((float)(v))

#define CONVERT_FROM(TD)                                                                    \
  switch (src_dtype) {                                                                      \
  case LC_FLOAT32: CONVERT_RUN(TD, float); break;                                           \
  case LC_FLOAT64: CONVERT_RUN(TD, double); break;                                          \
  case LC_INT64: CONVERT_RUN(TD, int64_t); break;                                           \
  case LC_UINT8: CONVERT_RUN(TD, uint8_t); break;                                           \
  case LC_BFLOAT16: CONVERT_RUN_AS(TD, uint16_t, (TD)WIDEN_BF16); break;                    \
  default: break;                                                                           \
  }

#define CONVERT_TO_BF16                                                                     \
  switch (src_dtype) {                                                                      \
  case LC_FLOAT32: CONVERT_RUN_AS(uint16_t, float, NARROW_TO_BF16); break;                  \
  case LC_FLOAT64: CONVERT_RUN_AS(uint16_t, double, NARROW_TO_BF16); break;                 \
  case LC_INT64: CONVERT_RUN_AS(uint16_t, int64_t, NARROW_TO_BF16); break;                  \
  case LC_UINT8: CONVERT_RUN_AS(uint16_t, uint8_t, NARROW_TO_BF16); break;                  \
  case LC_BFLOAT16: CONVERT_RUN(uint16_t, uint16_t); break;                                 \
  default: break;                                                                           \
  }

void lc_cpu_copy(lc_dtype dst_dtype, lc_dtype src_dtype, int ndim, const int64_t *sizes,
                 lc_cpu_operand dst, lc_cpu_operand src)
{
  if (lc_cpu_copy_transposed(dst_dtype, src_dtype, ndim, sizes, dst, src)) return;
  const int64_t *strides[2] = {dst.strides, src.strides};
  lc_cpu_iter it;
  lc_cpu_iter_init(&it, ndim, sizes, 2, strides);
  int64_t sd = lc_cpu_iter_run_stride(&it, 0), ss = lc_cpu_iter_run_stride(&it, 1);
  if (dst_dtype == src_dtype && sd == 1 && ss == 1) {
    int64_t esize = element_size[dst_dtype], len = lc_cpu_iter_run_length(&it);
    FOR_EACH_RUN(it, 2, memcpy((char *)dst.data + off[0] * esize,
                               (const char *)src.data + off[1] * esize, len * esize));
    return;
  }
  if (dst_dtype == LC_FLOAT32 && src_dtype == LC_UINT8 && sd == 1 && ss == 1) {
    FOR_EACH_RUN(it, 2, lc_cpu_u8_to_f32(len_, (float *)dst.data + off[0],
                                         (const uint8_t *)src.data + off[1]));
    return;
  }
  switch (dst_dtype) {
  case LC_FLOAT32: CONVERT_FROM(float); break;
  case LC_FLOAT64: CONVERT_FROM(double); break;
  case LC_INT64: CONVERT_FROM(int64_t); break;
  case LC_UINT8: CONVERT_FROM(uint8_t); break;
  case LC_BFLOAT16: CONVERT_TO_BF16; break;
  default: break;
  }
}
