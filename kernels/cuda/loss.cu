/* Softmax, log-softmax and cross-entropy on the GPU (see nn.h): kernels/cpu/loss_impl.inc with
 * one warp per row. The row maximum keeps the CPU's rule (a NaN anywhere makes the row NaN);
 * exp, log and the sums are in double, as on the CPU, the sums in another order. */
#include <math.h>

#include "kernels/cuda/nn.h"

#include "kernels/cuda/common.cuh"

#define WARPS_PER_BLOCK (LC_THREADS / 32)
#define FULL_MASK 0xffffffffu

/* The larger of two candidates, a NaN winning. */
template <typename T> __device__ __forceinline__ T nan_max(T a, T b)
{
  if (a != a) return a;
  if (b != b) return b;
  return b > a ? b : a;
}

template <typename T> __device__ __forceinline__ T warp_max(T v)
{
  for (int off = 16; off > 0; off >>= 1) v = nan_max(v, __shfl_xor_sync(FULL_MASK, v, off));
  return v;
}

__device__ __forceinline__ double warp_sum(double v)
{
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(FULL_MASK, v, off);
  return v;
}

/* max(x) and log(sum(exp(x - max))) of one row, by the whole warp. */
template <typename T>
__device__ __forceinline__ void row_lse(int64_t classes, const T *x, int lane, double *max,
                                        double *log_sum)
{
  T m = x[0];
  for (int64_t j = lane; j < classes; j += 32) m = nan_max(m, x[j]);
  m = warp_max(m);
  double sum = 0;
  for (int64_t j = lane; j < classes; j += 32) sum += exp((double)x[j] - (double)m);
  sum = warp_sum(sum);
  *max = (double)m;
  *log_sum = log(sum);
}

/* Every lane of a warp gets the same row, so the shuffles see the whole warp. */
#define ROW_LOOP(r, rows)                                                                  \
  const int lane = threadIdx.x & 31;                                                       \
  for (int64_t r = (int64_t)blockIdx.x * WARPS_PER_BLOCK + (threadIdx.x >> 5); r < (rows); \
       r += (int64_t)gridDim.x * WARPS_PER_BLOCK)

template <typename T>
__global__ void log_softmax_kernel(int64_t rows, int64_t classes, const T *x, T *y, bool softmax)
{
  ROW_LOOP(r, rows) {
    const T *xr = x + r * classes;
    T *yr = y + r * classes;
    double m, ls;
    row_lse(classes, xr, lane, &m, &ls);
    for (int64_t j = lane; j < classes; j += 32) {
      double v = (double)xr[j] - m - ls;
      yr[j] = (T)(softmax ? exp(v) : v);
    }
  }
}

template <typename T>
__global__ void log_softmax_backward_kernel(int64_t rows, int64_t classes, const T *y, const T *dy,
                                            T *dx)
{
  ROW_LOOP(r, rows) {
    const T *yr = y + r * classes, *dyr = dy + r * classes;
    T *dxr = dx + r * classes;
    double sum = 0;
    for (int64_t j = lane; j < classes; j += 32) sum += (double)dyr[j];
    sum = warp_sum(sum);
    for (int64_t j = lane; j < classes; j += 32)
      dxr[j] = (T)((double)dyr[j] - exp((double)yr[j]) * sum);
  }
}

template <typename T>
__global__ void cross_entropy_kernel(int64_t rows, int64_t classes, const T *logits,
                                     const int64_t *targets, double eps, T *loss)
{
  ROW_LOOP(r, rows) {
    const T *xr = logits + r * classes;
    int64_t t = targets[r];
    if (t < 0 || t >= classes) {
      if (lane == 0) loss[r] = (T)NAN;
      continue;
    }
    double m, ls;
    row_lse(classes, xr, lane, &m, &ls);
    double lse = m + ls;
    double nll = lse - (double)xr[t];
    if (eps > 0) {
      double sum_x = 0; /* -sum_j logp_j = classes * lse - sum_j x_j */
      for (int64_t j = lane; j < classes; j += 32) sum_x += (double)xr[j];
      sum_x = warp_sum(sum_x);
      double smooth = (double)classes * lse - sum_x;
      if (lane == 0) loss[r] = (T)((1 - eps) * nll + eps / (double)classes * smooth);
    } else if (lane == 0) {
      loss[r] = (T)nll;
    }
  }
}

template <typename T>
__global__ void cross_entropy_backward_kernel(int64_t rows, int64_t classes, const T *logits,
                                              const int64_t *targets, double eps, const T *dloss,
                                              int64_t dloss_stride, T *dlogits)
{
  const double off = eps / (double)classes;
  ROW_LOOP(r, rows) {
    const T *xr = logits + r * classes;
    T *dr = dlogits + r * classes;
    int64_t t = targets[r];
    if (t < 0 || t >= classes) {
      for (int64_t j = lane; j < classes; j += 32) dr[j] = (T)NAN;
      continue;
    }
    double m, ls;
    row_lse(classes, xr, lane, &m, &ls);
    double g = (double)dloss[r * dloss_stride];
    for (int64_t j = lane; j < classes; j += 32) {
      double p = exp((double)xr[j] - m - ls);
      dr[j] = (T)(j == t ? (p - off - (1 - eps)) * g : (p - off) * g);
    }
  }
}

#define LAUNCH(rows) <<<lc_blocks_for((rows), WARPS_PER_BLOCK), LC_THREADS, 0, stream>>>

extern "C" int lc_cuda_log_softmax_forward(lc_dtype dtype, int64_t rows, int64_t classes,
                                           const void *x, void *y, cudaStream_t stream)
{
  if (rows <= 0 || classes <= 0) return 0;
  LC_FLOAT_SWITCH(dtype,
                  log_softmax_kernel<T> LAUNCH(rows)(rows, classes, (const T *)x, (T *)y, false));
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_softmax_forward(lc_dtype dtype, int64_t rows, int64_t classes,
                                       const void *x, void *y, cudaStream_t stream)
{
  if (rows <= 0 || classes <= 0) return 0;
  LC_FLOAT_SWITCH(dtype,
                  log_softmax_kernel<T> LAUNCH(rows)(rows, classes, (const T *)x, (T *)y, true));
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_log_softmax_backward(lc_dtype dtype, int64_t rows, int64_t classes,
                                            const void *y, const void *dy, void *dx,
                                            cudaStream_t stream)
{
  if (rows <= 0 || classes <= 0) return 0;
  LC_FLOAT_SWITCH(dtype,
                  log_softmax_backward_kernel<T> LAUNCH(rows)(rows, classes, (const T *)y,
                  (const T *)dy, (T *)dx));
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_cross_entropy_forward(lc_dtype dtype, int64_t rows, int64_t classes,
                                             const void *logits, const int64_t *targets,
                                             double label_smoothing, void *loss,
                                             cudaStream_t stream)
{
  if (rows <= 0) return 0;
  if (classes <= 0) return LC_CUDA_ENOCLASSES;
  LC_FLOAT_SWITCH(dtype,
                  cross_entropy_kernel<T> LAUNCH(rows)(rows, classes, (const T *)logits, targets,
                  label_smoothing, (T *)loss));
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_cross_entropy_backward(lc_dtype dtype, int64_t rows, int64_t classes,
                                              const void *logits, const int64_t *targets,
                                              double label_smoothing, const void *dloss,
                                              int64_t dloss_stride, void *dlogits,
                                              cudaStream_t stream)
{
  if (rows <= 0 || classes <= 0) return 0;
  LC_FLOAT_SWITCH(dtype,
                  cross_entropy_backward_kernel<T> LAUNCH(rows)(rows, classes, (const T *)logits,
                  targets, label_smoothing,
                  (const T *)dloss, dloss_stride,
                  (T *)dlogits));
  return lc_cuda_launch_status(stream);
}
