/* Direct float32 convolution for layers with few input channels and stride 1: LeNet's first
 * layer (1 -> 6, 5x5, padding 2), VGG's first on one channel (1 -> 64, 3x3).
 *
 * There im2col + GEMM is a poor fit: the GEMM's inner size is c_in * kh * kw (25 or 9), too
 * small for OpenBLAS to reach its speed, and the column matrix it reads is kh * kw times the
 * input. These kernels instead keep 16 output columns of several output channels in AVX-512
 * registers and add each tap of the input row straight into them (forward), or keep the
 * weight gradients of a kernel row of several output channels in registers while they run
 * over the image (backward_weight). Same layout and semantics as conv.h; the input gradient
 * is not needed for these layers (they are first) and keeps the general path.
 *
 * lc_conv2d_direct_fits says whether a shape is served (and the processor has AVX-512); the
 * functions return LC_CONV_OK, or LC_CONV_ENOMEM when backward_weight's per-thread sums cannot
 * be allocated. Forward gives the same bits on any thread count; backward_weight sums
 * per-thread partial sums, so its rounding depends on the count (as the general path's). */
#ifndef LC_KERNELS_CPU_CONV_DIRECT_H
#define LC_KERNELS_CPU_CONV_DIRECT_H

#include "kernels/common/conv.h"

int lc_conv2d_direct_fits(const lc_conv2d_shape *s);

int lc_conv2d_direct_forward_f32(const lc_conv2d_shape *s, const float *x, const float *w,
                                 const float *bias, float *y, int threads);

int lc_conv2d_direct_backward_weight_f32(const lc_conv2d_shape *s, const float *x,
                                         const float *dy, float *dw, float *dbias, int threads);

#endif
