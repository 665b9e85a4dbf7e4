/* 2-D convolution on the GPU through cuDNN (runtime/cuda/conv_cudnn.c): device pointers, the
 * shape struct every device shares (kernels/common/conv.h), the context's stream. It lives in
 * runtime/cuda rather than kernels/cuda because it needs the context (cuDNN handle, caching
 * allocator for workspaces). The other GPU layers are own kernels: kernels/cuda/nn.h. */
#ifndef LC_CUDA_CONV_CUDNN_H
#define LC_CUDA_CONV_CUDNN_H

#include "kernels/common/conv.h"
#include "kernels/common/ops.h"

/* ---- convolution through cuDNN ----
 * s must be finished (lc_conv2d_shape_finish). Outputs are overwritten. The algorithm of each
 * (shape, dtype, direction) is chosen once and cached: by cuDNN's heuristics, or, in benchmark
 * mode (lc_cuda_set_benchmark), by timing every candidate on the first call; deterministic
 * mode (lc_cuda_set_deterministic) keeps only bitwise-reproducible algorithms. float32 runs
 * in true float32 (CUDNN_FMA_MATH: no TF32 tensor cores), so results agree with the CPU's.
 * The workspace comes from the caching allocator. Returns LC_CONV_OK, or LC_CONV_ETOOBIG when a
 * size exceeds what cuDNN indexes (int); cuDNN failures raise, naming the op and the shape.
 * With n == 0 nothing is computed, except that backward_weight zeroes dw and dbias. */
int lc_cuda_conv2d_forward(lc_dtype dtype, const lc_conv2d_shape *s, const void *x, const void *w,
                           const void *bias /* or NULL */, void *y);
int lc_cuda_conv2d_backward_data(lc_dtype dtype, const lc_conv2d_shape *s, const void *dy,
                                 const void *w, void *dx);
int lc_cuda_conv2d_backward_weight(lc_dtype dtype, const lc_conv2d_shape *s, const void *x,
                                   const void *dy, void *dw, void *dbias /* or NULL */);
/* Forgets the cached algorithm choices and descriptors. */
void lc_cuda_conv_cache_clear(void);

#endif
