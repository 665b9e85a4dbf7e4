/* Image kernels on the GPU (see nn.h): the PIL-exact bilinear resize of kernels/cpu/image.c.
 * The filter taps are computed on the device, one thread per output position, with the CPU's
 * double arithmetic written out in round-to-nearest intrinsics (nothing fused), so the 22-bit
 * fixed-point coefficients are the CPU's bit for bit; the passes are integer arithmetic. Nothing
 * is copied from the host, so a resize queues without waiting. */
#include <math.h>

#include "kernels/cuda/nn.h"

#include "kernels/cuda/common.cuh"

#define PRECISION_BITS (32 - 8 - 2)

/* Taps of one dimension in the workspace: first[out], count[out], coef[out * ksize]. */
struct taps {
  int64_t in, out, ksize;
  double scale, support, inv; /* host-computed, as on the CPU */
  int32_t *first, *count, *coef;
};

static size_t align16(size_t n) { return (n + 15) / 16 * 16; }

static void taps_plan(int64_t in, int64_t out, taps *t)
{
  t->in = in;
  t->out = out;
  t->scale = (double)in / (double)out;
  double filterscale = t->scale < 1 ? 1 : t->scale;
  t->support = 1.0 * filterscale;
  t->inv = 1.0 / filterscale;
  t->ksize = (int64_t)ceil(t->support) * 2 + 1;
}

static size_t taps_bytes(const taps *t)
{
  return align16(sizeof(int32_t) * (size_t)t->out) * 2 +
         align16(sizeof(int32_t) * (size_t)(t->out * t->ksize));
}

static char *taps_place(taps *t, char *p)
{
  t->first = (int32_t *)p;
  p += align16(sizeof(int32_t) * (size_t)t->out);
  t->count = (int32_t *)p;
  p += align16(sizeof(int32_t) * (size_t)t->out);
  t->coef = (int32_t *)p;
  return p + align16(sizeof(int32_t) * (size_t)(t->out * t->ksize));
}

__device__ __forceinline__ double triangle(double x)
{
  if (x < 0) x = -x;
  return x < 1 ? __dsub_rn(1.0, x) : 0.0;
}

/* The weight of input k + lo for an output centred at `center`. */
__device__ __forceinline__ double tap_weight(const taps &t, int64_t k, int64_t lo, double center)
{
  return triangle(__dmul_rn(__dadd_rn(__dsub_rn((double)(k + lo), center), 0.5), t.inv));
}

__global__ void taps_kernel(taps t)
{
  for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < t.out;
       o += (int64_t)gridDim.x * blockDim.x) {
    double center = __dmul_rn((double)o + 0.5, t.scale);
    int64_t lo = (int64_t)(int)__dadd_rn(__dsub_rn(center, t.support), 0.5);
    if (lo < 0) lo = 0;
    int64_t hi = (int64_t)(int)__dadd_rn(__dadd_rn(center, t.support), 0.5);
    if (hi > t.in) hi = t.in;
    int64_t cnt = hi - lo;
    double total = 0;
    for (int64_t k = 0; k < cnt; k++) total = __dadd_rn(total, tap_weight(t, k, lo, center));
    int32_t *coef = t.coef + o * t.ksize;
    for (int64_t k = 0; k < t.ksize; k++) coef[k] = 0;
    for (int64_t k = 0; k < cnt; k++) {
      double w = tap_weight(t, k, lo, center);
      double v = total != 0 ? __ddiv_rn(w, total) : w;
      double fixed = __dmul_rn(v, (double)(1 << PRECISION_BITS));
      coef[k] = (int32_t)(v < 0 ? __dsub_rn(fixed, 0.5) : __dadd_rn(fixed, 0.5));
    }
    t.first[o] = (int32_t)lo;
    t.count[o] = (int32_t)cnt;
  }
}

__device__ __forceinline__ uint8_t clip8(int32_t acc)
{
  int32_t v = acc >> PRECISION_BITS;
  return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One pass over planes * (rows, cols) images. Horizontal: out is (rows, t.out), the taps run
 * along a row. Vertical: out is (t.out, cols), the taps run down a column. */
__global__ void resample_kernel(taps t, bool horizontal, int64_t planes, int64_t rows, int64_t cols,
                                const uint8_t *in, uint8_t *out)
{
  const int64_t out_rows = horizontal ? rows : t.out, out_cols = horizontal ? t.out : cols;
  const int64_t plane_in = rows * cols, plane_out = out_rows * out_cols;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < planes * plane_out;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t p = e / plane_out, r = e - p * plane_out, y = r / out_cols, x = r - y * out_cols;
    const uint8_t *src = in + p * plane_in;
    int64_t o = horizontal ? x : y;
    const int32_t *k = t.coef + o * t.ksize;
    int64_t first = t.first[o], cnt = t.count[o];
    int32_t acc = 1 << (PRECISION_BITS - 1);
    if (horizontal) {
      const uint8_t *px = src + y * cols + first;
      for (int64_t j = 0; j < cnt; j++) acc += (int32_t)px[j] * k[j];
    } else {
      const uint8_t *px = src + first * cols + x;
      for (int64_t j = 0; j < cnt; j++) acc += (int32_t)px[j * cols] * k[j];
    }
    out[e] = clip8(acc);
  }
}

__global__ void u8_to_f32_kernel(int64_t n, const uint8_t *src, float *dst)
{
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (int64_t)gridDim.x * blockDim.x)
    dst[i] = __fdiv_rn((float)src[i], 255.0f);
}

static size_t tmp_bytes(int64_t planes, int64_t h, int64_t w, int64_t out_h, int64_t out_w)
{
  int64_t per = h * out_w > out_h * w ? h * out_w : out_h * w;
  return align16((size_t)(planes * per));
}

extern "C" size_t lc_cuda_resize_bilinear_u8_workspace(int64_t planes, int64_t h, int64_t w,
                                                       int64_t out_h, int64_t out_w)
{
  if (planes < 0 || h < 1 || w < 1 || out_h < 1 || out_w < 1) return 0;
  taps th, tv;
  taps_plan(w, out_w, &th);
  taps_plan(h, out_h, &tv);
  return taps_bytes(&th) + taps_bytes(&tv) + tmp_bytes(planes, h, w, out_h, out_w);
}

static int pass(const taps &t, bool horizontal, int64_t planes, int64_t rows, int64_t cols,
                const uint8_t *in, uint8_t *out, cudaStream_t stream)
{
  int64_t n = planes * (horizontal ? rows * t.out : t.out * cols);
  resample_kernel<<<lc_blocks_for(n, LC_THREADS), LC_THREADS, 0, stream>>>(t, horizontal, planes,
                                                                           rows, cols, in, out);
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_resize_bilinear_u8(int64_t planes, int64_t h, int64_t w, int64_t out_h,
                                          int64_t out_w, const uint8_t *src, uint8_t *dst,
                                          void *workspace, cudaStream_t stream)
{
  if (planes < 0 || h < 1 || w < 1 || out_h < 1 || out_w < 1) return LC_IMAGE_EBADARG;
  if (planes == 0) return LC_IMAGE_OK;
  if (h == out_h && w == out_w) {
    LC_CUDA_TRY(lc_cuda_call_status(cudaMemcpyAsync(dst, src, (size_t)(planes * h * w), cudaMemcpyDeviceToDevice,
                                       stream)));
    return LC_IMAGE_OK;
  }
  taps th, tv;
  taps_plan(w, out_w, &th);
  taps_plan(h, out_h, &tv);
  char *p = taps_place(&th, (char *)workspace);
  uint8_t *tmp = (uint8_t *)taps_place(&tv, p);
  if (w != out_w) {
    taps_kernel<<<lc_blocks_for(out_w, LC_THREADS), LC_THREADS, 0, stream>>>(th);
    LC_CUDA_TRY(lc_cuda_launch_status(stream));
  }
  if (h != out_h) {
    taps_kernel<<<lc_blocks_for(out_h, LC_THREADS), LC_THREADS, 0, stream>>>(tv);
    LC_CUDA_TRY(lc_cuda_launch_status(stream));
  }
  if (h == out_h) {
    LC_CUDA_TRY(pass(th, true, planes, h, w, src, dst, stream));
  } else if (w == out_w) {
    LC_CUDA_TRY(pass(tv, false, planes, h, w, src, dst, stream));
  } else if (!(h - out_h > 0 && h - out_h > (w - out_w) * 2)) { /* PIL >= 11.1's order */
    LC_CUDA_TRY(pass(th, true, planes, h, w, src, tmp, stream));
    LC_CUDA_TRY(pass(tv, false, planes, h, out_w, tmp, dst, stream));
  } else {
    LC_CUDA_TRY(pass(tv, false, planes, h, w, src, tmp, stream));
    LC_CUDA_TRY(pass(th, true, planes, out_h, w, tmp, dst, stream));
  }
  return LC_IMAGE_OK;
}

extern "C" int lc_cuda_u8_to_f32_scaled(int64_t n, const uint8_t *src, float *dst,
                                        cudaStream_t stream)
{
  if (n <= 0) return 0;
  u8_to_f32_kernel<<<lc_blocks_for(n, LC_THREADS), LC_THREADS, 0, stream>>>(n, src, dst);
  return lc_cuda_launch_status(stream);
}
