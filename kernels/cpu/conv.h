/* 2-D convolution on the CPU: forward, backward with respect to the input and to the weight.
 *
 * PyTorch's semantics (cross-correlation; stride, zero padding, dilation, groups, optional
 * bias) over contiguous NCHW arrays:
 *   x     (n, c_in, h, w)
 *   w     (c_out, c_in / groups, kh, kw)
 *   bias  (c_out)
 *   y     (n, c_out, out_h, out_w)
 * Every output array is overwritten, never accumulated into.
 *
 * The work is im2col (skipped for 1x1 stride-1 unpadded kernels) + OpenBLAS GEMM, tiled so the
 * column buffer stays in cache and split over OpenMP threads by (image, tile) (backward_data:
 * by image, block of input channels and tile). The GEMMs run
 * single-threaded inside the parallel region: while a call runs, OpenBLAS's own thread count is
 * set to 1 and restored afterwards, so the two thread pools never fight over the cores. The
 * number of threads is omp_get_max_threads() (set it with omp_set_num_threads or OMP_NUM_THREADS).
 * The tiles are fixed by the problem's shape, never by the thread count or the scratch size, so
 * forward and backward_data give bit-identical results on any core count and OpenBLAS kernel;
 * only backward_weight's summation order of per-thread partial sums depends on the threads.
 * Because OpenBLAS's thread count is process-wide, two convolutions should not run at the same
 * time from different threads of the caller (the runtime runs ops one at a time).
 *
 * Scratch memory: every function takes (scratch, scratch_bytes). With scratch == NULL the
 * function allocates what it needs for the call and frees it. A caller that keeps a buffer
 * across calls asks lc_conv2d_scratch_bytes for the size; a smaller buffer is also accepted
 * (fewer threads are used) as long as one thread's share fits, else LC_CONV_ESCRATCH.
 *
 * float32 and float64 entry points share one implementation (conv_impl.inc).
 */
#ifndef LC_KERNELS_CPU_CONV_H
#define LC_KERNELS_CPU_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/common/conv.h" /* lc_conv2d_shape, LC_CONV_* and the shape checks */

/* Scratch bytes that lets all three functions below use every OpenMP thread, for elements of
 * elem_size bytes (sizeof(float) or sizeof(double)). s must have been finished. */
size_t lc_conv2d_scratch_bytes(const lc_conv2d_shape *s, size_t elem_size);

/* y = conv(x, w) + bias. bias may be NULL. */
int lc_conv2d_forward_f32(const lc_conv2d_shape *s, const float *x, const float *w,
                          const float *bias, float *y, void *scratch, size_t scratch_bytes);
int lc_conv2d_forward_f64(const lc_conv2d_shape *s, const double *x, const double *w,
                          const double *bias, double *y, void *scratch, size_t scratch_bytes);

/* dx = d(sum(dy * y)) / dx: the transposed convolution of dy with w. dx is overwritten. */
int lc_conv2d_backward_data_f32(const lc_conv2d_shape *s, const float *dy, const float *w,
                                float *dx, void *scratch, size_t scratch_bytes);
int lc_conv2d_backward_data_f64(const lc_conv2d_shape *s, const double *dy, const double *w,
                                double *dx, void *scratch, size_t scratch_bytes);

/* dw = sum over the batch of dy (x) im2col(x)^T; dbias[co] = sum of dy over n, out_h, out_w.
 * dw and dbias (which may be NULL) are overwritten. */
int lc_conv2d_backward_weight_f32(const lc_conv2d_shape *s, const float *x, const float *dy,
                                  float *dw, float *dbias, void *scratch, size_t scratch_bytes);
int lc_conv2d_backward_weight_f64(const lc_conv2d_shape *s, const double *x, const double *dy,
                                  double *dw, double *dbias, void *scratch, size_t scratch_bytes);

#endif
