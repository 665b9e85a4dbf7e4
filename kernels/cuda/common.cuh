/* Shared by the CUDA kernel files (C++ only): launch checks, launch sizes, dtype traits and
 * the strided-geometry helper that every pointwise kernel uses. */
#ifndef LC_CUDA_COMMON_CUH
#define LC_CUDA_COMMON_CUH

#include <stdint.h>
#include <stdlib.h>

#include <cuda_runtime.h>

extern "C" {
#include "kernels/common/ops.h"
#include "kernels/cuda/status.h"
}

/* Launch errors (bad configuration, missing kernel image) are returned by the entry point that
 * launched (kernels/cuda/status.h); the runtime names the op. Execution errors surface at the
 * next synchronising call; with LUACNN_CUDA_SYNC=1 every launch synchronises so they are pinned
 * on the op that caused them. */
static inline bool lc_cuda_sync_debug()
{
  static int mode = -1;
  if (mode < 0) {
    const char *e = getenv("LUACNN_CUDA_SYNC");
    mode = e && *e && *e != '0';
  }
  return mode != 0;
}

/* The status of the launch just made: 0 or its cudaError_t. */
static inline int lc_cuda_launch_status(cudaStream_t stream)
{
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess && lc_cuda_sync_debug()) err = cudaStreamSynchronize(stream);
  return (int)err;
}

/* The status of an asynchronous runtime call (cudaMemcpyAsync, cudaMemsetAsync). */
static inline int lc_cuda_call_status(cudaError_t err)
{
  if (err != cudaSuccess) (void)cudaGetLastError(); /* clear a non-sticky error so the next call starts clean */
  return (int)err;
}

/* Returns the status from the enclosing function when it is not success. */
#define LC_CUDA_TRY(expr)          \
  do {                             \
    int lc_st_ = (expr);           \
    if (lc_st_ != 0) return lc_st_; \
  } while (0)

/* Runs CALL with T the element type of a float32 or float64 dtype; any other dtype returns
 * LC_CUDA_EDTYPE from the enclosing function. */
#define LC_FLOAT_SWITCH(dtype, CALL)                                \
  do {                                                              \
    if ((dtype) == LC_FLOAT32) { typedef float T; CALL; }           \
    else if ((dtype) == LC_FLOAT64) { typedef double T; CALL; }     \
    else return LC_CUDA_EDTYPE;                                     \
  } while (0)

/* Arithmetic rounded to nearest, never fused into a multiply-add, so a kernel reproduces the
 * CPU's float operations bit for bit. */
__device__ __forceinline__ float rn_add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double rn_add(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float rn_sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double rn_sub(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float rn_mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double rn_mul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float rn_div(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double rn_div(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float rn_sqrt(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double rn_sqrt(double a) { return __dsqrt_rn(a); }

#define LC_THREADS 256

/* Blocks for n items at `per_block` items each, capped: the kernels loop (grid-stride) over the
 * rest, so the cap only bounds the grid, never the work. */
static inline unsigned lc_blocks_for(int64_t n, int64_t per_block)
{
  int64_t b = (n + per_block - 1) / per_block;
  if (b < 1) b = 1;
  if (b > (1 << 20)) b = 1 << 20;
  return (unsigned)b;
}

/* The type the math of a dtype is done in: float math for float32 (as on the CPU), double
 * for the rest. */
template <typename T> struct lc_acc { typedef double type; };
template <> struct lc_acc<float> { typedef float type; };

template <typename T> struct lc_is_int { static const bool value = false; };
template <> struct lc_is_int<int64_t> { static const bool value = true; };
template <> struct lc_is_int<uint8_t> { static const bool value = true; };

/* Conversion between element types with the CPU's results: a float becomes an integer by
 * truncation through int64 (so a negative value wraps into uint8 as on x86, instead of
 * saturating, which is what a direct GPU conversion does). */
template <typename TD, typename TS> struct lc_convert {
  static __device__ __forceinline__ TD run(TS x) { return (TD)x; }
};
template <> struct lc_convert<uint8_t, float> {
  static __device__ __forceinline__ uint8_t run(float x) { return (uint8_t)(int64_t)x; }
};
template <> struct lc_convert<uint8_t, double> {
  static __device__ __forceinline__ uint8_t run(double x) { return (uint8_t)(int64_t)x; }
};
template <typename TD, typename TS> __device__ __forceinline__ TD lc_cvt(TS x)
{
  return lc_convert<TD, TS>::run(x);
}

/* ---- strided geometry ---- */

#define LC_GEOM_MAX_DIMS 8
#define LC_GEOM_MAX_OPS 4

/* Up to 4 operands over one shape; dims that are laid out back to back in every operand are
 * merged and size-1 dims dropped, so most tensors become 1-D (the fast path) or 2-D. */
struct lc_geom {
  int ndim, nops;
  int64_t n;
  int64_t sizes[LC_GEOM_MAX_DIMS];
  int64_t strides[LC_GEOM_MAX_OPS][LC_GEOM_MAX_DIMS];
};

static inline lc_geom lc_geom_make(int ndim, const int64_t *sizes, int nops,
                                   const int64_t *const *strides)
{
  lc_geom g;
  g.nops = nops;
  g.ndim = 0;
  g.n = 1;
  for (int d = 0; d < ndim; d++) g.n *= sizes[d];
  for (int d = 0; d < ndim; d++) {
    if (sizes[d] == 1) continue;
    if (g.ndim > 0) {
      int last = g.ndim - 1;
      bool merge = true;
      for (int k = 0; k < nops; k++)
        if (g.strides[k][last] != strides[k][d] * sizes[d]) merge = false;
      if (merge) {
        g.sizes[last] *= sizes[d];
        for (int k = 0; k < nops; k++) g.strides[k][last] = strides[k][d];
        continue;
      }
    }
    g.sizes[g.ndim] = sizes[d];
    for (int k = 0; k < nops; k++) g.strides[k][g.ndim] = strides[k][d];
    g.ndim++;
  }
  if (g.ndim == 0) { /* a single element */
    g.ndim = 1;
    g.sizes[0] = 1;
    for (int k = 0; k < nops; k++) g.strides[k][0] = 0;
  }
  return g;
}

/* 32-bit index math is much cheaper on the GPU; it is used when every index and offset fits. */
static inline bool lc_geom_fits_int32(const lc_geom &g)
{
  if (g.n > INT32_MAX) return false;
  for (int k = 0; k < g.nops; k++) {
    int64_t lo = 0, hi = 0;
    for (int d = 0; d < g.ndim; d++) {
      int64_t span = (g.sizes[d] - 1) * g.strides[k][d];
      if (span < 0) lo += span; else hi += span;
    }
    if (hi > INT32_MAX || lo < INT32_MIN) return false;
  }
  return true;
}

/* Element offsets of linear index i (row-major over g.sizes) in each of the NOPS operands. */
template <int NOPS, typename I>
__device__ __forceinline__ void lc_geom_offsets(const lc_geom &g, I i, I *off)
{
#pragma unroll
  for (int k = 0; k < NOPS; k++) off[k] = 0;
  for (int d = g.ndim - 1; d >= 0; d--) {
    I size = (I)g.sizes[d];
    I q = i / size;
    I r = i - q * size;
    i = q;
#pragma unroll
    for (int k = 0; k < NOPS; k++) off[k] += r * (I)g.strides[k][d];
  }
}

#endif
