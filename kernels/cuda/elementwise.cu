/* Pointwise kernels on the GPU: the semantics of kernels/cpu/elementwise_impl.inc, one thread
 * per element (grid-stride). Operands are strided; lc_geom merges their dims first, so
 * contiguous and scalar-broadcast operands take the 1-D path (offset = i * stride) and the
 * rest the N-d path (offsets from the row-major index, in 32-bit math when it fits).
 *
 * Accuracy: the build may use --use_fast_math, which turns float exp/log/pow/tanh into
 * hardware approximations (tanh.approx is off by up to 2^-11). So the float transcendental
 * functions here are evaluated in double and rounded, and float division and square root use
 * the correctly rounded intrinsics: the GPU then agrees with the CPU's libm to an ulp or so. */
#include "kernels/cuda/elementwise.h"

#include <math.h>

#include "kernels/cuda/common.cuh"

/* ---- math with CPU-like results ---- */

__device__ __forceinline__ float m_exp(float x) { return (float)exp((double)x); }
__device__ __forceinline__ double m_exp(double x) { return exp(x); }
__device__ __forceinline__ float m_log(float x) { return (float)log((double)x); }
__device__ __forceinline__ double m_log(double x) { return log(x); }
__device__ __forceinline__ float m_tanh(float x) { return (float)tanh((double)x); }
__device__ __forceinline__ double m_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float m_pow(float x, float y) { return (float)pow((double)x, (double)y); }
__device__ __forceinline__ double m_pow(double x, double y) { return pow(x, y); }
__device__ __forceinline__ float m_sqrt(float x) { return __fsqrt_rn(x); }
__device__ __forceinline__ double m_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float m_div(float x, float y) { return __fdiv_rn(x, y); }
__device__ __forceinline__ double m_div(double x, double y) { return x / y; }

/* Offsets of element i in each operand: 1-D (merged) or N-d geometry. */
template <int NOPS, typename I, bool ND>
__device__ __forceinline__ void elem_offsets(const lc_geom &g, int64_t i, I *off)
{
  if (ND) {
    lc_geom_offsets<NOPS, I>(g, (I)i, off);
  } else {
#pragma unroll
    for (int k = 0; k < NOPS; k++) off[k] = (I)i * (I)g.strides[k][0];
  }
}

#define GRID_LOOP(i) \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < g.n; \
       i += (int64_t)blockDim.x * gridDim.x)

/* ---- kernels ---- */

template <typename T, typename I, bool ND>
__global__ void unary_kernel(lc_unary_op op, lc_geom g, T *out, const T *a, double s0, double s1)
{
  typedef typename lc_acc<T>::type A;
  const A p = (A)s0, q = (A)s1;
#define LOOP(expr)                                 \
  GRID_LOOP(i) {                                   \
    I off[2];                                      \
    elem_offsets<2, I, ND>(g, i, off);             \
    A x = (A)a[off[1]];                            \
    (void)x;                                       \
    out[off[0]] = lc_cvt<T>((A)(expr));            \
  }                                                \
  break
  switch (op) {
  case LC_UN_NEG: LOOP(-x);
  case LC_UN_EXP: LOOP(m_exp(x));
  case LC_UN_LOG: LOOP(m_log(x));
  case LC_UN_SQRT: LOOP(m_sqrt(x));
  case LC_UN_ABS: LOOP(x < 0 ? -x : x);
  case LC_UN_SIGMOID:
    LOOP(x >= 0 ? m_div((A)1, (A)1 + m_exp(-x)) : m_div(m_exp(x), (A)1 + m_exp(x)));
  case LC_UN_TANH: LOOP(m_tanh(x));
  case LC_UN_RELU: LOOP(x > 0 ? x : (A)0);
  case LC_UN_SIGN: LOOP((A)((x > 0) - (x < 0)));
  case LC_UN_RECIPROCAL: LOOP(m_div((A)1, x));
  case LC_UN_ADD_SCALAR: LOOP(x + p);
  case LC_UN_MUL_SCALAR: LOOP(x * p);
  case LC_UN_RSUB_SCALAR: LOOP(p - x);
  case LC_UN_RDIV_SCALAR: LOOP(m_div(p, x));
  case LC_UN_DIV_SCALAR: LOOP(m_div(x, p));
  case LC_UN_POW_SCALAR:
    if (s0 == 2) { LOOP(x * x); }
    LOOP(m_pow(x, p));
  case LC_UN_RPOW_SCALAR: LOOP(m_pow(p, x));
  case LC_UN_CLAMP: LOOP(x < p ? p : (x > q ? q : x));
  case LC_UN_SIGMOID_GRAD_FROM_OUTPUT: LOOP(x * ((A)1 - x));
  case LC_UN_TANH_GRAD_FROM_OUTPUT: LOOP((A)1 - x * x);
  case LC_UN_STEP: LOOP(x > 0 ? (A)1 : (A)0);
  default: break;
  }
#undef LOOP
}

template <typename T, typename I, bool ND>
__global__ void compare_scalar_kernel(lc_unary_op op, lc_geom g, uint8_t *out, const T *a, double s0)
{
#define LOOP(cmp)                                  \
  GRID_LOOP(i) {                                   \
    I off[2];                                      \
    elem_offsets<2, I, ND>(g, i, off);             \
    out[off[0]] = (double)a[off[1]] cmp s0;        \
  }                                                \
  break
  switch (op) {
  case LC_UN_GT_SCALAR: LOOP(>);
  case LC_UN_LT_SCALAR: LOOP(<);
  case LC_UN_GE_SCALAR: LOOP(>=);
  case LC_UN_LE_SCALAR: LOOP(<=);
  case LC_UN_EQ_SCALAR: LOOP(==);
  case LC_UN_NE_SCALAR: LOOP(!=);
  default: break;
  }
#undef LOOP
}

template <typename T, typename I, bool ND>
__global__ void binary_kernel(lc_binary_op op, lc_geom g, T *out, const T *a, const T *b)
{
  typedef typename lc_acc<T>::type A;
#define LOOP(expr)                                 \
  GRID_LOOP(i) {                                   \
    I off[3];                                      \
    elem_offsets<3, I, ND>(g, i, off);             \
    A x = (A)a[off[1]], y = (A)b[off[2]];          \
    out[off[0]] = lc_cvt<T>((A)(expr));            \
  }                                                \
  break
  switch (op) {
  case LC_BIN_ADD: LOOP(x + y);
  case LC_BIN_SUB: LOOP(x - y);
  case LC_BIN_MUL: LOOP(x * y);
  case LC_BIN_DIV: LOOP(m_div(x, y));
  case LC_BIN_POW: LOOP(m_pow(x, y));
  case LC_BIN_MAX: LOOP(x >= y || x != x ? x : y);
  case LC_BIN_MIN: LOOP(x <= y || x != x ? x : y);
  case LC_BIN_SIGMOID_BACKWARD: LOOP(x * y * (1 - y));
  case LC_BIN_TANH_BACKWARD: LOOP(x * (1 - y * y));
  case LC_BIN_RELU_BACKWARD: LOOP(y > 0 ? x : (A)0);
  default: break;
  }
#undef LOOP
}

template <typename T, typename I, bool ND>
__global__ void compare_kernel(lc_binary_op op, lc_geom g, uint8_t *out, const T *a, const T *b)
{
#define LOOP(cmp)                                  \
  GRID_LOOP(i) {                                   \
    I off[3];                                      \
    elem_offsets<3, I, ND>(g, i, off);             \
    out[off[0]] = a[off[1]] cmp b[off[2]];         \
  }                                                \
  break
  switch (op) {
  case LC_BIN_GT: LOOP(>);
  case LC_BIN_LT: LOOP(<);
  case LC_BIN_GE: LOOP(>=);
  case LC_BIN_LE: LOOP(<=);
  case LC_BIN_EQ: LOOP(==);
  case LC_BIN_NE: LOOP(!=);
  default: break;
  }
#undef LOOP
}

template <typename T, typename I, bool ND>
__global__ void where_kernel(lc_geom g, T *out, const uint8_t *c, const T *a, const T *b)
{
  GRID_LOOP(i) {
    I off[4];
    elem_offsets<4, I, ND>(g, i, off);
    out[off[0]] = c[off[1]] ? a[off[2]] : b[off[3]];
  }
}

template <typename T, typename I, bool ND>
__global__ void fill_kernel(lc_geom g, T *out, double value)
{
  const T v = lc_cvt<T>(value);
  GRID_LOOP(i) {
    I off[1];
    elem_offsets<1, I, ND>(g, i, off);
    out[off[0]] = v;
  }
}

template <typename TD, typename TS, typename I, bool ND>
__global__ void copy_kernel(lc_geom g, TD *dst, const TS *src)
{
  GRID_LOOP(i) {
    I off[2];
    elem_offsets<2, I, ND>(g, i, off);
    dst[off[0]] = lc_cvt<TD>(src[off[1]]);
  }
}

#undef GRID_LOOP

/* ---- launchers ---- */

/* Launches KERNEL<TYPES..., I, ND> with the index type and path that g allows. KERNEL is
 * written in parentheses without its closing bracket, e.g. (copy_kernel<float, double). */
#define STRIP(...) __VA_ARGS__
#define LAUNCH(g, stream, KERNEL, ...)                                                       \
  do {                                                                                       \
    unsigned blocks_ = lc_blocks_for((g).n, LC_THREADS);                                     \
    bool small_ = lc_geom_fits_int32(g);                                                     \
    if ((g).ndim == 1) {                                                                     \
      if (small_) STRIP KERNEL, int32_t, false><<<blocks_, LC_THREADS, 0, stream>>>(__VA_ARGS__); \
      else STRIP KERNEL, int64_t, false><<<blocks_, LC_THREADS, 0, stream>>>(__VA_ARGS__);        \
    } else {                                                                                 \
      if (small_) STRIP KERNEL, int32_t, true><<<blocks_, LC_THREADS, 0, stream>>>(__VA_ARGS__);  \
      else STRIP KERNEL, int64_t, true><<<blocks_, LC_THREADS, 0, stream>>>(__VA_ARGS__);         \
    }                                                                                        \
  } while (0)

#define DTYPE_SWITCH(dtype, T, body)                      \
  switch (dtype) {                                        \
  case LC_FLOAT32: { typedef float T; body; } break;      \
  case LC_FLOAT64: { typedef double T; body; } break;     \
  case LC_INT64: { typedef int64_t T; body; } break;      \
  case LC_UINT8: { typedef uint8_t T; body; } break;      \
  default: return LC_CUDA_EDTYPE;                    \
  }

extern "C" int lc_cuda_unary(lc_unary_op op, lc_dtype dtype, int ndim, const int64_t *sizes,
                             lc_cuda_operand out, lc_cuda_operand a, double s0, double s1,
                             cudaStream_t stream)
{
  const int64_t *strides[2] = {out.strides, a.strides};
  lc_geom g = lc_geom_make(ndim, sizes, 2, strides);
  if (g.n == 0) return 0;
  if (LC_UN_IS_COMPARISON(op)) {
    DTYPE_SWITCH(dtype, T, LAUNCH(g, stream, (compare_scalar_kernel<T), op, g,
                                  (uint8_t *)out.data, (const T *)a.data, s0));
    LC_CUDA_TRY(lc_cuda_launch_status(stream));
  } else {
    DTYPE_SWITCH(dtype, T, LAUNCH(g, stream, (unary_kernel<T), op, g, (T *)out.data,
                                  (const T *)a.data, s0, s1));
    LC_CUDA_TRY(lc_cuda_launch_status(stream));
  }
  return 0;
}

extern "C" int lc_cuda_binary(lc_binary_op op, lc_dtype dtype, int ndim, const int64_t *sizes,
                              lc_cuda_operand out, lc_cuda_operand a, lc_cuda_operand b,
                              cudaStream_t stream)
{
  const int64_t *strides[3] = {out.strides, a.strides, b.strides};
  lc_geom g = lc_geom_make(ndim, sizes, 3, strides);
  if (g.n == 0) return 0;
  if (LC_BIN_IS_COMPARISON(op)) {
    DTYPE_SWITCH(dtype, T, LAUNCH(g, stream, (compare_kernel<T), op, g, (uint8_t *)out.data,
                                  (const T *)a.data, (const T *)b.data));
    LC_CUDA_TRY(lc_cuda_launch_status(stream));
  } else {
    DTYPE_SWITCH(dtype, T, LAUNCH(g, stream, (binary_kernel<T), op, g, (T *)out.data,
                                  (const T *)a.data, (const T *)b.data));
    LC_CUDA_TRY(lc_cuda_launch_status(stream));
  }
  return 0;
}

extern "C" int lc_cuda_where(lc_dtype dtype, int ndim, const int64_t *sizes, lc_cuda_operand out,
                             lc_cuda_operand cond, lc_cuda_operand a, lc_cuda_operand b,
                             cudaStream_t stream)
{
  const int64_t *strides[4] = {out.strides, cond.strides, a.strides, b.strides};
  lc_geom g = lc_geom_make(ndim, sizes, 4, strides);
  if (g.n == 0) return 0;
  DTYPE_SWITCH(dtype, T, LAUNCH(g, stream, (where_kernel<T), g, (T *)out.data,
                                (const uint8_t *)cond.data, (const T *)a.data,
                                (const T *)b.data));
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_fill(lc_dtype dtype, int ndim, const int64_t *sizes, lc_cuda_operand dst,
                            double value, cudaStream_t stream)
{
  const int64_t *strides[1] = {dst.strides};
  lc_geom g = lc_geom_make(ndim, sizes, 1, strides);
  if (g.n == 0) return 0;
  if (value == 0 && !signbit(value) && g.ndim == 1 && g.strides[0][0] == 1) {
    /* all-zero bytes are 0 in every dtype */
    LC_CUDA_TRY(lc_cuda_call_status(cudaMemsetAsync(dst.data, 0, (size_t)g.n * (dtype == LC_UINT8 ? 1 :
                                       dtype == LC_FLOAT32 ? 4 : 8), stream)));
    return 0;
  }
  DTYPE_SWITCH(dtype, T, LAUNCH(g, stream, (fill_kernel<T), g, (T *)dst.data, value));
  return lc_cuda_launch_status(stream);
}

template <typename TD>
static int copy_from(lc_dtype src_dtype, const lc_geom &g, void *dst, const void *src,
                     cudaStream_t stream)
{
  DTYPE_SWITCH(src_dtype, TS, LAUNCH(g, stream, (copy_kernel<TD, TS), g, (TD *)dst,
                                     (const TS *)src));
  return 0;
}

extern "C" int lc_cuda_copy(lc_dtype dst_dtype, lc_dtype src_dtype, int ndim, const int64_t *sizes,
                            lc_cuda_operand dst, lc_cuda_operand src, cudaStream_t stream)
{
  const int64_t *strides[2] = {dst.strides, src.strides};
  lc_geom g = lc_geom_make(ndim, sizes, 2, strides);
  if (g.n == 0) return 0;
  if (dst_dtype == src_dtype && g.ndim == 1 && g.strides[0][0] == 1 && g.strides[1][0] == 1) {
    size_t esize = dst_dtype == LC_UINT8 ? 1 : dst_dtype == LC_FLOAT32 ? 4 : 8;
    LC_CUDA_TRY(lc_cuda_call_status(cudaMemcpyAsync(dst.data, src.data, (size_t)g.n * esize,
                                       cudaMemcpyDeviceToDevice, stream)));
    return 0;
  }
  DTYPE_SWITCH(dst_dtype, TD, LC_CUDA_TRY(copy_from<TD>(src_dtype, g, dst.data, src.data, stream)));
  return lc_cuda_launch_status(stream);
}
