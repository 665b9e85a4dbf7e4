/* 2-D pooling on the CPU: max (with argmax indices), average, adaptive average.
 *
 * PyTorch's semantics over contiguous arrays of planes: x (n, c, h, w) -> y (n, c, out_h, out_w);
 * only n * c matters, so (c, h, w) inputs are n = 1. Outputs are overwritten, and so are the
 * input gradients of the backward functions. Planes are split over OpenMP threads.
 * float32 and float64 entry points share one implementation (pool_impl.inc).
 */
#ifndef LC_KERNELS_CPU_POOL_H
#define LC_KERNELS_CPU_POOL_H

#include <stdint.h>

#include "kernels/common/pool.h" /* lc_pool2d_shape, LC_POOL_* and the shape checks */

/* Max pooling. indices (may be NULL when no backward is needed) receives, for every output,
 * the flat index ih * w + iw of the chosen input within its plane (PyTorch's return_indices).
 * NaN wins over numbers as in PyTorch; ties keep the first position in row-major order.
 * A window that covers no input at all (possible with dilation) gives -inf and index -1
 * (PyTorch gives an index outside the plane there), which the backward skips. */
void lc_max_pool2d_forward_f32(const lc_pool2d_shape *s, const float *x, float *y,
                               int64_t *indices);
void lc_max_pool2d_forward_f64(const lc_pool2d_shape *s, const double *x, double *y,
                               int64_t *indices);
/* dx = 0, then dx[plane][indices[o]] += dy[o] for every output o. */
void lc_max_pool2d_backward_f32(const lc_pool2d_shape *s, const float *dy,
                                const int64_t *indices, float *dx);
void lc_max_pool2d_backward_f64(const lc_pool2d_shape *s, const double *dy,
                                const int64_t *indices, double *dx);

/* Average pooling. The divisor of a window is divisor_override when > 0; else, with
 * count_include_pad, the window's size clipped to the padded input (so a ceil_mode window that
 * hangs past the padding counts only its part inside it); else the number of real inputs it
 * covers. A window with no real input gives 0. */
void lc_avg_pool2d_forward_f32(const lc_pool2d_shape *s, int count_include_pad,
                               int64_t divisor_override, const float *x, float *y);
void lc_avg_pool2d_forward_f64(const lc_pool2d_shape *s, int count_include_pad,
                               int64_t divisor_override, const double *x, double *y);
void lc_avg_pool2d_backward_f32(const lc_pool2d_shape *s, int count_include_pad,
                                int64_t divisor_override, const float *dy, float *dx);
void lc_avg_pool2d_backward_f64(const lc_pool2d_shape *s, int count_include_pad,
                                int64_t divisor_override, const double *dy, double *dx);

/* Adaptive average pooling to (out_h, out_w) >= 1: output i averages the inputs
 * [floor(i * in / out), ceil((i + 1) * in / out)) along each dimension. */
void lc_adaptive_avg_pool2d_forward_f32(int64_t planes, int64_t h, int64_t w, int64_t out_h,
                                        int64_t out_w, const float *x, float *y);
void lc_adaptive_avg_pool2d_forward_f64(int64_t planes, int64_t h, int64_t w, int64_t out_h,
                                        int64_t out_w, const double *x, double *y);
void lc_adaptive_avg_pool2d_backward_f32(int64_t planes, int64_t h, int64_t w, int64_t out_h,
                                         int64_t out_w, const float *dy, float *dx);
void lc_adaptive_avg_pool2d_backward_f64(int64_t planes, int64_t h, int64_t w, int64_t out_h,
                                         int64_t out_w, const double *dy, double *dx);

#endif
