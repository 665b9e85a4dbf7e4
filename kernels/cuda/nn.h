/* Neural-network kernels on the GPU: the CUDA twins of kernels/cpu/{pool,batchnorm,loss,optim,
 * image}.h, with the same shape structs and codes (kernels/common/) and semantics, over
 * contiguous device arrays. One entry point per op takes the dtype (LC_FLOAT32 or LC_FLOAT64)
 * instead of the CPU's _f32/_f64 pair, and a stream. Where a kernel needs scratch device
 * memory, a *_workspace function says how many bytes and the caller passes them (kernels never
 * allocate). Every launch is checked; a failure is returned as a status (kernels/cuda/status.h)
 * that the runtime turns into an error naming the op.
 *
 * Results: pooling, the batch-norm affine steps, the optimizer updates and the resize are
 * computed in the CPU's order with the CPU's roundings, so they match it bit for bit (given
 * equal inputs); the sums behind batch-norm statistics and softmax are formed in double in
 * another order, so they match to double rounding before the final cast.
 *
 * Convolution is not here: it runs through cuDNN (runtime/cuda/conv_cudnn.h). */
#ifndef LC_CUDA_NN_H
#define LC_CUDA_NN_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "kernels/common/batchnorm.h"
#include "kernels/common/image.h"
#include "kernels/common/loss.h"
#include "kernels/common/ops.h"
#include "kernels/cuda/status.h"
#include "kernels/common/optim.h"
#include "kernels/common/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- pooling (kernels/common/pool.h; s finished by lc_pool2d_shape_finish) ----
 * Own kernels rather than cuDNN's: cuDNN pooling has no argmax indices (which the backward
 * here consumes), no dilation, no divisor override and no ceil mode. The backward passes
 * gather (one thread per input, outputs visited in row-major order) instead of scattering
 * with atomics, so they are deterministic and add in the CPU's order. */
LC_CUDA_STATUS lc_cuda_max_pool2d_forward(lc_dtype dtype, const lc_pool2d_shape *s, const void *x, void *y,
                                          int64_t *indices, cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_max_pool2d_backward(lc_dtype dtype, const lc_pool2d_shape *s, const void *dy,
                                           const int64_t *indices, void *dx, cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_avg_pool2d_forward(lc_dtype dtype, const lc_pool2d_shape *s, int count_include_pad,
                                          int64_t divisor_override, const void *x, void *y,
                                          cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_avg_pool2d_backward(lc_dtype dtype, const lc_pool2d_shape *s, int count_include_pad,
                                           int64_t divisor_override, const void *dy, void *dx,
                                           cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_adaptive_avg_pool2d_forward(lc_dtype dtype, int64_t planes, int64_t h, int64_t w,
                                                   int64_t out_h, int64_t out_w, const void *x, void *y,
                                                   cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_adaptive_avg_pool2d_backward(lc_dtype dtype, int64_t planes, int64_t h, int64_t w,
                                                    int64_t out_h, int64_t out_w, const void *dy, void *dx,
                                                    cudaStream_t stream);

/* ---- batch norm (kernels/cpu/batchnorm.h), x is (n, c, s) ----
 * Own kernels: per-channel sums split over many blocks (a 6-channel layer still fills the
 * GPU), combined in a fixed order, so results are deterministic. Every function takes a
 * workspace of lc_cuda_batchnorm_workspace(dtype, n, c, s) bytes. forward_train returns
 * LC_BN_ETOOFEW (nothing written) when n * s <= 1, like the CPU. */
size_t lc_cuda_batchnorm_workspace(lc_dtype dtype, int64_t n, int64_t c, int64_t s);
LC_CUDA_STATUS lc_cuda_batchnorm_forward_train(lc_dtype dtype, int64_t n, int64_t c, int64_t s,
                                               const void *x, const void *gamma, const void *beta,
                                               void *running_mean, void *running_var, double momentum,
                                               double eps, void *y, void *save_mean, void *save_invstd,
                                               void *workspace, cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_batchnorm_forward_eval(lc_dtype dtype, int64_t n, int64_t c, int64_t s,
                                              const void *x, const void *gamma, const void *beta,
                                              const void *running_mean, const void *running_var,
                                              double eps, void *y, void *workspace, cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_batchnorm_backward_train(lc_dtype dtype, int64_t n, int64_t c, int64_t s,
                                                const void *x, const void *dy, const void *gamma,
                                                const void *save_mean, const void *save_invstd, void *dx,
                                                void *dgamma, void *dbeta, void *workspace,
                                                cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_batchnorm_backward_eval(lc_dtype dtype, int64_t n, int64_t c, int64_t s,
                                               const void *x, const void *dy, const void *gamma,
                                               const void *running_mean, const void *running_var,
                                               double eps, void *dx, void *dgamma, void *dbeta,
                                               void *workspace, cudaStream_t stream);

/* ---- softmax and cross-entropy (kernels/cpu/loss.h), (rows, classes) ----
 * One warp per row. Targets cannot be checked without waiting for the GPU, so these never
 * report LC_LOSS_ETARGET: a row whose target is outside [0, classes) gets a NaN loss (and NaN
 * gradients), which shows in the loss the script prints. */
LC_CUDA_STATUS lc_cuda_log_softmax_forward(lc_dtype dtype, int64_t rows, int64_t classes, const void *x,
                                           void *y, cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_log_softmax_backward(lc_dtype dtype, int64_t rows, int64_t classes, const void *y,
                                            const void *dy, void *dx, cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_softmax_forward(lc_dtype dtype, int64_t rows, int64_t classes, const void *x, void *y,
                                       cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_cross_entropy_forward(lc_dtype dtype, int64_t rows, int64_t classes,
                                             const void *logits, const int64_t *targets,
                                             double label_smoothing, void *loss, cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_cross_entropy_backward(lc_dtype dtype, int64_t rows, int64_t classes,
                                              const void *logits, const int64_t *targets,
                                              double label_smoothing, const void *dloss,
                                              int64_t dloss_stride, void *dlogits, cudaStream_t stream);

/* ---- optimizers (kernels/cpu/optim.h): fused over many tensors ----
 * One launch updates up to LC_CUDA_MT_MAX_TENSORS tensors of one dtype (the pointers travel
 * in the kernel's arguments, so nothing is copied to the device and the launch can be
 * captured in a CUDA graph); longer lists take one launch per group. bufs[i] (SGD),
 * max_exp_avg_sq[i] (Adam) may be NULL, as may the arrays themselves. */
#define LC_CUDA_MT_MAX_TENSORS 40
LC_CUDA_STATUS lc_cuda_sgd_step(lc_dtype dtype, int count, const int64_t *numels, void *const *params,
                                const void *const *grads, void *const *bufs, const lc_sgd_params *h,
                                int first_step, cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_adam_step(lc_dtype dtype, int count, const int64_t *numels, void *const *params,
                                 const void *const *grads, void *const *exp_avg, void *const *exp_avg_sq,
                                 void *const *max_exp_avg_sq, const lc_adam_params *h, cudaStream_t stream);

/* ---- images (kernels/cpu/image.h) ----
 * PIL-exact bilinear resize of planes * (h, w) uint8 images: the filter taps are computed on
 * the host exactly as on the CPU and uploaded into the workspace, then one kernel per pass.
 * Returns LC_IMAGE_OK or LC_IMAGE_EBADARG / LC_IMAGE_ENOMEM (host memory for the taps). */
size_t lc_cuda_resize_bilinear_u8_workspace(int64_t planes, int64_t h, int64_t w, int64_t out_h,
                                            int64_t out_w);
LC_CUDA_STATUS lc_cuda_resize_bilinear_u8(int64_t planes, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                          const uint8_t *src, uint8_t *dst, void *workspace,
                                          cudaStream_t stream);
/* dst[i] = src[i] / 255 in float32. */
LC_CUDA_STATUS lc_cuda_u8_to_f32_scaled(int64_t n, const uint8_t *src, float *dst, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
