/* The CPU backend's neural-network entries (runtime/backend_cpu_nn.c); see backend.h. */
#ifndef LC_BACKEND_CPU_NN_H
#define LC_BACKEND_CPU_NN_H

#include "runtime/backend.h"

void lc_cpu_conv2d_forward(const lc_conv2d_shape *s, const lc_tensor *x, const lc_tensor *w,
                           const lc_tensor *bias, lc_tensor *y);
void lc_cpu_conv2d_backward_data(const lc_conv2d_shape *s, const lc_tensor *dy, const lc_tensor *w,
                                 lc_tensor *dx);
void lc_cpu_conv2d_backward_weight(const lc_conv2d_shape *s, const lc_tensor *x, const lc_tensor *dy,
                                   lc_tensor *dw, lc_tensor *dbias);
void lc_cpu_max_pool2d_forward(const lc_pool2d_shape *s, const lc_tensor *x, lc_tensor *y, lc_tensor *indices);
void lc_cpu_max_pool2d_backward(const lc_pool2d_shape *s, const lc_tensor *dy, const lc_tensor *indices,
                                lc_tensor *dx);
void lc_cpu_avg_pool2d_forward(const lc_pool2d_shape *s, int count_include_pad, int64_t divisor,
                               const lc_tensor *x, lc_tensor *y);
void lc_cpu_avg_pool2d_backward(const lc_pool2d_shape *s, int count_include_pad, int64_t divisor,
                                const lc_tensor *dy, lc_tensor *dx);
void lc_cpu_adaptive_avg_pool2d_forward(const lc_tensor *x, lc_tensor *y);
void lc_cpu_adaptive_avg_pool2d_backward(const lc_tensor *dy, lc_tensor *dx);
void lc_cpu_batchnorm_forward_train(const lc_tensor *x, const lc_tensor *gamma, const lc_tensor *beta,
                                    lc_tensor *running_mean, lc_tensor *running_var, double momentum,
                                    double eps, lc_tensor *y, lc_tensor *save_mean, lc_tensor *save_invstd);
void lc_cpu_batchnorm_forward_eval(const lc_tensor *x, const lc_tensor *gamma, const lc_tensor *beta,
                                   const lc_tensor *running_mean, const lc_tensor *running_var, double eps,
                                   lc_tensor *y);
void lc_cpu_batchnorm_backward_train(const lc_tensor *x, const lc_tensor *dy, const lc_tensor *gamma,
                                     const lc_tensor *save_mean, const lc_tensor *save_invstd, lc_tensor *dx,
                                     lc_tensor *dgamma, lc_tensor *dbeta);
void lc_cpu_batchnorm_backward_eval(const lc_tensor *x, const lc_tensor *dy, const lc_tensor *gamma,
                                    const lc_tensor *running_mean, const lc_tensor *running_var, double eps,
                                    lc_tensor *dx, lc_tensor *dgamma, lc_tensor *dbeta);
void lc_cpu_log_softmax_forward(const lc_tensor *x, lc_tensor *y);
void lc_cpu_log_softmax_backward(const lc_tensor *y, const lc_tensor *dy, lc_tensor *dx);
int lc_cpu_cross_entropy_forward(const lc_tensor *logits, const lc_tensor *targets, double smoothing,
                                 lc_tensor *loss, int64_t *bad_row);
int lc_cpu_cross_entropy_backward(const lc_tensor *logits, const lc_tensor *targets, double smoothing,
                                  const lc_tensor *dloss, lc_tensor *dlogits, int64_t *bad_row);
void lc_cpu_sgd_step(int n, lc_tensor *const *params, lc_tensor *const *grads, lc_tensor *const *bufs,
                     const lc_sgd_params *h, int first_step);
void lc_cpu_adam_step(int n, lc_tensor *const *params, lc_tensor *const *grads, lc_tensor *const *exp_avg,
                      lc_tensor *const *exp_avg_sq, lc_tensor *const *max_sq, const lc_adam_params *h);
void lc_cpu_resize_bilinear_u8(const lc_tensor *src, lc_tensor *dst);

#endif
