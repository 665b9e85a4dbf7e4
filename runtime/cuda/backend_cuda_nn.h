/* The CUDA backend's neural-network entries (runtime/cuda/backend_cuda_nn.c): the vtable
 * signatures of runtime/backend.h, mirroring runtime/backend_cpu_nn.h. */
#ifndef LC_BACKEND_CUDA_NN_H
#define LC_BACKEND_CUDA_NN_H

#include "runtime/backend.h"

void lc_cuda_backend_conv2d_forward(const lc_conv2d_shape *s, const lc_tensor *x, const lc_tensor *w,
                                    const lc_tensor *bias, lc_tensor *y);
void lc_cuda_backend_conv2d_backward_data(const lc_conv2d_shape *s, const lc_tensor *dy,
                                          const lc_tensor *w, lc_tensor *dx);
void lc_cuda_backend_conv2d_backward_weight(const lc_conv2d_shape *s, const lc_tensor *x,
                                            const lc_tensor *dy, lc_tensor *dw, lc_tensor *dbias);
void lc_cuda_backend_max_pool2d_forward(const lc_pool2d_shape *s, const lc_tensor *x, lc_tensor *y,
                                        lc_tensor *indices);
void lc_cuda_backend_max_pool2d_backward(const lc_pool2d_shape *s, const lc_tensor *dy,
                                         const lc_tensor *indices, lc_tensor *dx);
void lc_cuda_backend_avg_pool2d_forward(const lc_pool2d_shape *s, int count_include_pad,
                                        int64_t divisor, const lc_tensor *x, lc_tensor *y);
void lc_cuda_backend_avg_pool2d_backward(const lc_pool2d_shape *s, int count_include_pad,
                                         int64_t divisor, const lc_tensor *dy, lc_tensor *dx);
void lc_cuda_backend_adaptive_avg_pool2d_forward(const lc_tensor *x, lc_tensor *y);
void lc_cuda_backend_adaptive_avg_pool2d_backward(const lc_tensor *dy, lc_tensor *dx);
void lc_cuda_backend_batchnorm_forward_train(const lc_tensor *x, const lc_tensor *gamma,
                                             const lc_tensor *beta, lc_tensor *running_mean,
                                             lc_tensor *running_var, double momentum, double eps,
                                             lc_tensor *y, lc_tensor *save_mean,
                                             lc_tensor *save_invstd);
void lc_cuda_backend_batchnorm_forward_eval(const lc_tensor *x, const lc_tensor *gamma,
                                            const lc_tensor *beta, const lc_tensor *running_mean,
                                            const lc_tensor *running_var, double eps, lc_tensor *y);
void lc_cuda_backend_batchnorm_backward_train(const lc_tensor *x, const lc_tensor *dy,
                                              const lc_tensor *gamma, const lc_tensor *save_mean,
                                              const lc_tensor *save_invstd, lc_tensor *dx,
                                              lc_tensor *dgamma, lc_tensor *dbeta);
void lc_cuda_backend_batchnorm_backward_eval(const lc_tensor *x, const lc_tensor *dy,
                                             const lc_tensor *gamma, const lc_tensor *running_mean,
                                             const lc_tensor *running_var, double eps,
                                             lc_tensor *dx, lc_tensor *dgamma, lc_tensor *dbeta);
void lc_cuda_backend_log_softmax_forward(const lc_tensor *x, lc_tensor *y);
void lc_cuda_backend_log_softmax_backward(const lc_tensor *y, const lc_tensor *dy, lc_tensor *dx);
int lc_cuda_backend_cross_entropy_forward(const lc_tensor *logits, const lc_tensor *targets,
                                          double smoothing, lc_tensor *loss, int64_t *bad_row);
int lc_cuda_backend_cross_entropy_backward(const lc_tensor *logits, const lc_tensor *targets,
                                           double smoothing, const lc_tensor *dloss,
                                           lc_tensor *dlogits, int64_t *bad_row);
void lc_cuda_backend_sgd_step(int n, lc_tensor *const *params, lc_tensor *const *grads,
                              lc_tensor *const *bufs, const lc_sgd_params *h, int first_step);
void lc_cuda_backend_adam_step(int n, lc_tensor *const *params, lc_tensor *const *grads,
                               lc_tensor *const *exp_avg, lc_tensor *const *exp_avg_sq,
                               lc_tensor *const *max_sq, const lc_adam_params *h);
void lc_cuda_backend_resize_bilinear_u8(const lc_tensor *src, lc_tensor *dst);

#endif
