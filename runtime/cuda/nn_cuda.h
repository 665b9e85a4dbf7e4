/* The GPU's neural-network functions at the level of the CPU kernel headers: device pointers,
 * the same shape structs (kernels/common/conv.h, pool.h, optim.h), the context's stream.
 *
 * - Convolution: cuDNN, below. The other layers: own kernels, declared in kernels/cuda/nn.h
 *   (pooling, batch norm, softmax / cross-entropy, fused optimizer steps, resize) and
 *   kernels/cuda/random.h (dropout), included here so this one header is the whole list.
 * - runtime/cuda/backend_cuda_nn.c wraps all of them for the lc_backend vtable (tensors in,
 *   workspaces from the caching allocator). */
#ifndef LC_CUDA_NN_CUDA_H
#define LC_CUDA_NN_CUDA_H

#include "kernels/common/ops.h"
#include "kernels/common/conv.h"
#include "kernels/cuda/nn.h"
#include "kernels/cuda/random.h"

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
