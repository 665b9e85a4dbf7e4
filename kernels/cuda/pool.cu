/* 2-D pooling on the GPU (see nn.h): the loops of kernels/cpu/pool_impl.inc, one thread per
 * output for the forward passes and one thread per input for the backward passes. */
#include "kernels/cuda/nn.h"

#include "kernels/cuda/common.cuh"

/* Division rounding towards minus infinity (the numerator may be negative). */
__host__ __device__ __forceinline__ int64_t div_floor(int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The avg-pool window of output o along one dimension (kernels/cpu/pool.c's avg_window). */
__device__ __forceinline__ void avg_window(int64_t o, int64_t stride, int64_t pad, int64_t k,
                                           int64_t in, int64_t *lo, int64_t *hi, int64_t *padded)
{
  int64_t start = o * stride - pad;
  int64_t end = start + k < in + pad ? start + k : in + pad;
  *padded = end - start;
  *lo = start > 0 ? start : 0;
  *hi = end < in ? end : in;
}

__device__ __forceinline__ int64_t avg_divisor(int count_include_pad, int64_t divisor_override,
                                               int64_t padded, int64_t real)
{
  if (divisor_override > 0) return divisor_override;
  return count_include_pad ? padded : real;
}

/* Outputs along one dimension whose window [o * stride - pad, + span) may hold input i:
 * o in [lo, hi], clipped to [0, out). */
__device__ __forceinline__ void covering(int64_t i, int64_t stride, int64_t pad, int64_t span,
                                         int64_t out, int64_t *lo, int64_t *hi)
{
  int64_t a = div_floor(i + pad - span, stride) + 1;
  int64_t b = div_floor(i + pad, stride);
  *lo = a > 0 ? a : 0;
  *hi = b < out - 1 ? b : out - 1;
}

#define GRID_LOOP(i, n) \
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
       i += (int64_t)blockDim.x * gridDim.x)

/* ---- max ---- */

template <typename T>
__global__ void max_forward_kernel(lc_pool2d_shape s, const T *x, T *y, int64_t *indices)
{
  const int64_t ohw = s.out_h * s.out_w, hw = s.h * s.w;
  GRID_LOOP(o, s.n * s.c * ohw) {
    int64_t p = o / ohw, r = o - p * ohw, oh = r / s.out_w, ow = r - oh * s.out_w;
    const T *xp = x + p * hw;
    int64_t ih0 = oh * s.stride_h - s.pad_h;
    int64_t ih1 = ih0 + (s.kh - 1) * s.dil_h + 1;
    if (ih1 > s.h) ih1 = s.h;
    while (ih0 < 0) ih0 += s.dil_h;
    int64_t iw0 = ow * s.stride_w - s.pad_w;
    int64_t iw1 = iw0 + (s.kw - 1) * s.dil_w + 1;
    if (iw1 > s.w) iw1 = s.w;
    while (iw0 < 0) iw0 += s.dil_w;
    int64_t best = ih0 * s.w + iw0;
    T m = -INFINITY;
    for (int64_t ih = ih0; ih < ih1; ih += s.dil_h)
      for (int64_t iw = iw0; iw < iw1; iw += s.dil_w) {
        T v = xp[ih * s.w + iw];
        if (v > m || v != v) {
          m = v;
          best = ih * s.w + iw;
        }
      }
    y[o] = m;
    if (indices) indices[o] = best;
  }
}

template <typename T>
__global__ void max_backward_kernel(lc_pool2d_shape s, const T *dy, const int64_t *indices, T *dx)
{
  const int64_t ohw = s.out_h * s.out_w, hw = s.h * s.w;
  GRID_LOOP(i, s.n * s.c * hw) {
    int64_t p = i / hw, pos = i - p * hw, ih = pos / s.w, iw = pos - ih * s.w;
    int64_t oh0, oh1, ow0, ow1;
    covering(ih, s.stride_h, s.pad_h, (s.kh - 1) * s.dil_h + 1, s.out_h, &oh0, &oh1);
    covering(iw, s.stride_w, s.pad_w, (s.kw - 1) * s.dil_w + 1, s.out_w, &ow0, &ow1);
    const T *dyp = dy + p * ohw;
    const int64_t *ip = indices + p * ohw;
    T acc = 0;
    for (int64_t oh = oh0; oh <= oh1; oh++)
      for (int64_t ow = ow0; ow <= ow1; ow++)
        if (ip[oh * s.out_w + ow] == pos) acc += dyp[oh * s.out_w + ow];
    dx[i] = acc;
  }
}

/* ---- average ---- */

template <typename T>
__global__ void avg_forward_kernel(lc_pool2d_shape s, int count_include_pad,
                                   int64_t divisor_override, const T *x, T *y)
{
  const int64_t ohw = s.out_h * s.out_w, hw = s.h * s.w;
  GRID_LOOP(o, s.n * s.c * ohw) {
    int64_t p = o / ohw, r = o - p * ohw, oh = r / s.out_w, ow = r - oh * s.out_w;
    const T *xp = x + p * hw;
    int64_t h0, h1, ph, w0, w1, pw;
    avg_window(oh, s.stride_h, s.pad_h, s.kh, s.h, &h0, &h1, &ph);
    avg_window(ow, s.stride_w, s.pad_w, s.kw, s.w, &w0, &w1, &pw);
    if (h0 >= h1 || w0 >= w1) {
      y[o] = 0;
      continue;
    }
    double sum = 0;
    for (int64_t ih = h0; ih < h1; ih++)
      for (int64_t iw = w0; iw < w1; iw++) sum += xp[ih * s.w + iw];
    int64_t div = avg_divisor(count_include_pad, divisor_override, ph * pw, (h1 - h0) * (w1 - w0));
    y[o] = (T)(sum / (double)div);
  }
}

template <typename T>
__global__ void avg_backward_kernel(lc_pool2d_shape s, int count_include_pad,
                                    int64_t divisor_override, const T *dy, T *dx)
{
  const int64_t ohw = s.out_h * s.out_w, hw = s.h * s.w;
  GRID_LOOP(i, s.n * s.c * hw) {
    int64_t p = i / hw, pos = i - p * hw, ih = pos / s.w, iw = pos - ih * s.w;
    int64_t oh0, oh1, ow0, ow1;
    covering(ih, s.stride_h, s.pad_h, s.kh, s.out_h, &oh0, &oh1);
    covering(iw, s.stride_w, s.pad_w, s.kw, s.out_w, &ow0, &ow1);
    const T *dyp = dy + p * ohw;
    T acc = 0;
    for (int64_t oh = oh0; oh <= oh1; oh++) {
      int64_t h0, h1, ph;
      avg_window(oh, s.stride_h, s.pad_h, s.kh, s.h, &h0, &h1, &ph);
      if (ih < h0 || ih >= h1) continue;
      for (int64_t ow = ow0; ow <= ow1; ow++) {
        int64_t w0, w1, pw;
        avg_window(ow, s.stride_w, s.pad_w, s.kw, s.w, &w0, &w1, &pw);
        if (iw < w0 || iw >= w1) continue;
        int64_t div = avg_divisor(count_include_pad, divisor_override, ph * pw,
                                  (h1 - h0) * (w1 - w0));
        acc += (T)(dyp[oh * s.out_w + ow] / (double)div);
      }
    }
    dx[i] = acc;
  }
}

/* ---- adaptive average ---- */

__device__ __forceinline__ int64_t ad_start(int64_t o, int64_t in, int64_t out) { return o * in / out; }
__device__ __forceinline__ int64_t ad_end(int64_t o, int64_t in, int64_t out)
{
  return ((o + 1) * in + out - 1) / out;
}

/* The outputs whose adaptive window holds input i: o0 = i * out / in always does; windows
 * grow monotonically, so the others are its neighbours. */
__device__ __forceinline__ void ad_covering(int64_t i, int64_t in, int64_t out, int64_t *lo,
                                            int64_t *hi)
{
  int64_t o = i * out / in, a = o, b = o;
  while (a > 0 && ad_end(a - 1, in, out) > i) a--;
  while (b + 1 < out && ad_start(b + 1, in, out) <= i) b++;
  *lo = a;
  *hi = b;
}

template <typename T>
__global__ void adaptive_forward_kernel(int64_t planes, int64_t h, int64_t w, int64_t out_h,
                                        int64_t out_w, const T *x, T *y)
{
  const int64_t hw = h * w, ohw = out_h * out_w;
  GRID_LOOP(o, planes * ohw) {
    int64_t p = o / ohw, r = o - p * ohw, oh = r / out_w, ow = r - oh * out_w;
    const T *xp = x + p * hw;
    int64_t h0 = ad_start(oh, h, out_h), h1 = ad_end(oh, h, out_h);
    int64_t w0 = ad_start(ow, w, out_w), w1 = ad_end(ow, w, out_w);
    double sum = 0;
    for (int64_t ih = h0; ih < h1; ih++)
      for (int64_t iw = w0; iw < w1; iw++) sum += xp[ih * w + iw];
    y[o] = (T)(sum / (double)((h1 - h0) * (w1 - w0)));
  }
}

template <typename T>
__global__ void adaptive_backward_kernel(int64_t planes, int64_t h, int64_t w, int64_t out_h,
                                         int64_t out_w, const T *dy, T *dx)
{
  const int64_t hw = h * w, ohw = out_h * out_w;
  GRID_LOOP(i, planes * hw) {
    int64_t p = i / hw, pos = i - p * hw, ih = pos / w, iw = pos - ih * w;
    int64_t oh0, oh1, ow0, ow1;
    ad_covering(ih, h, out_h, &oh0, &oh1);
    ad_covering(iw, w, out_w, &ow0, &ow1);
    const T *dyp = dy + p * ohw;
    T acc = 0;
    for (int64_t oh = oh0; oh <= oh1; oh++) {
      int64_t h0 = ad_start(oh, h, out_h), h1 = ad_end(oh, h, out_h);
      for (int64_t ow = ow0; ow <= ow1; ow++) {
        int64_t w0 = ad_start(ow, w, out_w), w1 = ad_end(ow, w, out_w);
        acc += (T)(dyp[oh * out_w + ow] / (double)((h1 - h0) * (w1 - w0)));
      }
    }
    dx[i] = acc;
  }
}

#undef GRID_LOOP

/* ---- launchers ---- */

#define LAUNCH(n) <<<lc_blocks_for((n), LC_THREADS), LC_THREADS, 0, stream>>>

extern "C" int lc_cuda_max_pool2d_forward(lc_dtype dtype, const lc_pool2d_shape *s, const void *x,
                                          void *y, int64_t *indices, cudaStream_t stream)
{
  int64_t n = s->n * s->c * s->out_h * s->out_w;
  if (n <= 0) return 0;
  LC_FLOAT_SWITCH(dtype,
                  max_forward_kernel<T> LAUNCH(n)(*s, (const T *)x, (T *)y, indices));
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_max_pool2d_backward(lc_dtype dtype, const lc_pool2d_shape *s, const void *dy,
                                           const int64_t *indices, void *dx, cudaStream_t stream)
{
  int64_t n = s->n * s->c * s->h * s->w;
  if (n <= 0) return 0;
  LC_FLOAT_SWITCH(dtype,
                  max_backward_kernel<T> LAUNCH(n)(*s, (const T *)dy, indices, (T *)dx));
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_avg_pool2d_forward(lc_dtype dtype, const lc_pool2d_shape *s,
                                          int count_include_pad, int64_t divisor_override,
                                          const void *x, void *y, cudaStream_t stream)
{
  int64_t n = s->n * s->c * s->out_h * s->out_w;
  if (n <= 0) return 0;
  LC_FLOAT_SWITCH(dtype,
                  avg_forward_kernel<T> LAUNCH(n)(*s, count_include_pad, divisor_override,
                  (const T *)x, (T *)y));
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_avg_pool2d_backward(lc_dtype dtype, const lc_pool2d_shape *s,
                                           int count_include_pad, int64_t divisor_override,
                                           const void *dy, void *dx, cudaStream_t stream)
{
  int64_t n = s->n * s->c * s->h * s->w;
  if (n <= 0) return 0;
  LC_FLOAT_SWITCH(dtype,
                  avg_backward_kernel<T> LAUNCH(n)(*s, count_include_pad, divisor_override,
                  (const T *)dy, (T *)dx));
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_adaptive_avg_pool2d_forward(lc_dtype dtype, int64_t planes, int64_t h,
                                                   int64_t w, int64_t out_h, int64_t out_w,
                                                   const void *x, void *y, cudaStream_t stream)
{
  int64_t n = planes * out_h * out_w;
  if (n <= 0 || h <= 0 || w <= 0) return 0;
  LC_FLOAT_SWITCH(dtype,
                  adaptive_forward_kernel<T> LAUNCH(n)(planes, h, w, out_h, out_w, (const T *)x,
                  (T *)y));
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_adaptive_avg_pool2d_backward(lc_dtype dtype, int64_t planes, int64_t h,
                                                    int64_t w, int64_t out_h, int64_t out_w,
                                                    const void *dy, void *dx, cudaStream_t stream)
{
  int64_t n = planes * h * w;
  if (n <= 0 || out_h <= 0 || out_w <= 0) return 0;
  LC_FLOAT_SWITCH(dtype,
                  adaptive_backward_kernel<T> LAUNCH(n)(planes, h, w, out_h, out_w, (const T *)dy,
                  (T *)dx));
  return lc_cuda_launch_status(stream);
}
