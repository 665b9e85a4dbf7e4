/* Uniform and normal fills from Philox (kernels/common/philox.h). One thread computes one
 * Philox block and writes its four elements. The arithmetic after the draw uses the
 * round-to-nearest intrinsics so that the compiler cannot fuse a multiply-add, which would
 * round differently from the CPU. */
#include "kernels/cuda/random.h"

#include "kernels/common/philox.h"
#include "kernels/cuda/common.cuh"

/* What one lane of a Philox block becomes: a uniform on [lo, hi) or a normal draw. */
struct uniform_value {
  double lo, width;
  __device__ double operator()(const lc_philox_block &blk, int lane) const
  {
    double u = 1.0 - lc_uniform01(blk.v[lane]); /* [0, 1), exact */
    return __dadd_rn(lo, __dmul_rn(width, u));
  }
};

struct normal_value {
  double mean, std;
  __device__ double operator()(const lc_philox_block &blk, int lane) const
  {
    return __dadd_rn(mean, __dmul_rn(std, lc_philox_normal(blk, lane)));
  }
};

template <typename T, typename Value>
__global__ void fill_kernel(int64_t n, T *out, uint64_t seed, uint64_t offset, Value value)
{
  int64_t blocks = (n + 3) / 4;
  for (int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; b < blocks;
       b += (int64_t)gridDim.x * blockDim.x) {
    lc_philox_block blk = lc_philox(seed, offset + (uint64_t)b);
#pragma unroll
    for (int lane = 0; lane < 4; lane++) {
      int64_t i = 4 * b + lane;
      if (i >= n) break;
      out[i] = (T)value(blk, lane);
    }
  }
}

template <typename T>
__global__ void dropout_kernel(int64_t n, const T *x, T *y, T *mask, uint64_t seed, uint64_t offset,
                               double p, T scale)
{
  int64_t blocks = (n + 3) / 4;
  for (int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; b < blocks;
       b += (int64_t)gridDim.x * blockDim.x) {
    lc_philox_block blk = lc_philox(seed, offset + (uint64_t)b);
#pragma unroll
    for (int lane = 0; lane < 4; lane++) {
      int64_t i = 4 * b + lane;
      if (i >= n) break;
      T u = (T)(1.0 - lc_uniform01(blk.v[lane])); /* what rand(0, 1) stores */
      T factor = (double)u >= p ? scale : (T)0;
      if (mask) mask[i] = factor;
      y[i] = x[i] * factor;
    }
  }
}

static int check_dtype(lc_dtype dtype)
{
  return dtype == LC_FLOAT32 || dtype == LC_FLOAT64 ? LC_CUDA_OK : LC_CUDA_EDTYPE;
}

template <typename Value>
static int fill(lc_dtype dtype, int64_t n, void *out, uint64_t seed, uint64_t offset, Value value,
                cudaStream_t stream)
{
  LC_CUDA_TRY(check_dtype(dtype));
  if (n <= 0) return 0;
  unsigned blocks = lc_blocks_for((n + 3) / 4, LC_THREADS);
  if (dtype == LC_FLOAT32)
    fill_kernel<float><<<blocks, LC_THREADS, 0, stream>>>(n, (float *)out, seed, offset, value);
  else
    fill_kernel<double><<<blocks, LC_THREADS, 0, stream>>>(n, (double *)out, seed, offset, value);
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_uniform(lc_dtype dtype, int64_t n, void *out, uint64_t seed,
                               uint64_t offset, double lo, double hi, cudaStream_t stream)
{
  return fill(dtype, n, out, seed, offset, uniform_value{lo, hi - lo}, stream);
}

extern "C" int lc_cuda_normal(lc_dtype dtype, int64_t n, void *out, uint64_t seed,
                              uint64_t offset, double mean, double std, cudaStream_t stream)
{
  return fill(dtype, n, out, seed, offset, normal_value{mean, std}, stream);
}

extern "C" int lc_cuda_dropout(lc_dtype dtype, int64_t n, const void *x, void *y, void *mask,
                               double p, uint64_t seed, uint64_t offset, cudaStream_t stream)
{
  LC_CUDA_TRY(check_dtype(dtype));
  if (n <= 0) return 0;
  unsigned blocks = lc_blocks_for((n + 3) / 4, LC_THREADS);
  double scale = 1.0 / (1.0 - p);
  if (dtype == LC_FLOAT32)
    dropout_kernel<float><<<blocks, LC_THREADS, 0, stream>>>(n, (const float *)x, (float *)y,
                                                             (float *)mask, seed, offset, p,
                                                             (float)scale);
  else
    dropout_kernel<double><<<blocks, LC_THREADS, 0, stream>>>(n, (const double *)x, (double *)y,
                                                              (double *)mask, seed, offset, p,
                                                              scale);
  return lc_cuda_launch_status(stream);
}
