/* Uniform and normal fills from Philox (kernels/common/philox.h). One thread computes one
 * Philox block and writes its four elements. The arithmetic after the draw uses the
 * round-to-nearest intrinsics so that the compiler cannot fuse a multiply-add, which would
 * round differently from the CPU. */
#include "kernels/cuda/random.h"

#include "kernels/common/philox.h"
#include "kernels/cuda/common.cuh"

/* Every element i = 4 b + lane takes lane `lane` of Philox block b (offset + b), as the CPU
 * does; one thread per block, op(i, blk, lane) writes the element. */
template <typename Op>
__global__ void philox_kernel(int64_t n, uint64_t seed, uint64_t offset, Op op)
{
  int64_t blocks = (n + 3) / 4;
  for (int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; b < blocks;
       b += (int64_t)gridDim.x * blockDim.x) {
    lc_philox_block blk = lc_philox(seed, offset + (uint64_t)b);
#pragma unroll
    for (int lane = 0; lane < 4; lane++) {
      int64_t i = 4 * b + lane;
      if (i >= n) break;
      op(i, blk, lane);
    }
  }
}

/* out[i]: a uniform on [lo, hi) */
template <typename T>
struct uniform_op {
  T *out;
  double lo, width;
  __device__ void operator()(int64_t i, const lc_philox_block &blk, int lane) const
  {
    double u = 1.0 - lc_uniform01(blk.v[lane]); /* [0, 1), exact */
    out[i] = (T)__dadd_rn(lo, __dmul_rn(width, u));
  }
};

/* out[i]: a normal draw */
template <typename T>
struct normal_op {
  T *out;
  double mean, std;
  __device__ void operator()(int64_t i, const lc_philox_block &blk, int lane) const
  {
    out[i] = (T)__dadd_rn(mean, __dmul_rn(std, lc_philox_normal(blk, lane)));
  }
};

/* y[i] = x[i] kept with probability 1 - p and scaled, and the factor in mask[i] if asked */
template <typename T>
struct dropout_op {
  const T *x;
  T *y, *mask;
  double p;
  T scale;
  __device__ void operator()(int64_t i, const lc_philox_block &blk, int lane) const
  {
    T u = (T)(1.0 - lc_uniform01(blk.v[lane])); /* what rand(0, 1) stores */
    T factor = (double)u >= p ? scale : (T)0;
    if (mask) mask[i] = factor;
    y[i] = x[i] * factor;
  }
};

template <typename Op>
static int launch(int64_t n, uint64_t seed, uint64_t offset, Op op, cudaStream_t stream)
{
  if (n <= 0) return 0;
  philox_kernel<<<lc_blocks_for((n + 3) / 4, LC_THREADS), LC_THREADS, 0, stream>>>(n, seed, offset, op);
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_uniform(lc_dtype dtype, int64_t n, void *out, uint64_t seed,
                               uint64_t offset, double lo, double hi, cudaStream_t stream)
{
  LC_FLOAT_SWITCH(dtype, return launch(n, seed, offset, uniform_op<T>{(T *)out, lo, hi - lo}, stream));
}

extern "C" int lc_cuda_normal(lc_dtype dtype, int64_t n, void *out, uint64_t seed,
                              uint64_t offset, double mean, double std, cudaStream_t stream)
{
  LC_FLOAT_SWITCH(dtype, return launch(n, seed, offset, normal_op<T>{(T *)out, mean, std}, stream));
}

extern "C" int lc_cuda_dropout(lc_dtype dtype, int64_t n, const void *x, void *y, void *mask,
                               double p, uint64_t seed, uint64_t offset, cudaStream_t stream)
{
  double scale = 1.0 / (1.0 - p);
  LC_FLOAT_SWITCH(dtype, return launch(n, seed, offset,
                                       dropout_op<T>{(const T *)x, (T *)y, (T *)mask, p, (T)scale},
                                       stream));
}
