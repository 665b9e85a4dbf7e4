/* Batch normalisation on the CPU over contiguous (n, c, s) arrays: s is the spatial size
 * (h * w for BatchNorm2d, 1 for BatchNorm1d on (n, c)); statistics are per channel c over the
 * n * s values. PyTorch's semantics:
 *   training: y = (x - mean) * invstd * gamma + beta with the batch mean and biased variance,
 *             invstd = 1 / sqrt(var + eps); running_mean and running_var move towards the
 *             batch mean and the UNBIASED batch variance: r = (1 - momentum) r + momentum b.
 *   eval:     the running statistics replace the batch ones.
 * gamma and beta may be NULL (affine = false: gamma 1, beta 0); so may the running statistics
 * (track_running_stats = false). Outputs are overwritten; sums are accumulated in double.
 * Channels are split over OpenMP threads. float32 and float64 entry points share one
 * implementation (batchnorm_impl.inc). */
#ifndef LC_KERNELS_CPU_BATCHNORM_H
#define LC_KERNELS_CPU_BATCHNORM_H

#include <stdint.h>

#include "kernels/common/batchnorm.h" /* LC_BN_* */

/* save_mean and save_invstd (c values each) receive what backward_train needs. */
int lc_batchnorm_forward_train_f32(int64_t n, int64_t c, int64_t s, const float *x,
                                   const float *gamma, const float *beta, float *running_mean,
                                   float *running_var, double momentum, double eps, float *y,
                                   float *save_mean, float *save_invstd);
int lc_batchnorm_forward_train_f64(int64_t n, int64_t c, int64_t s, const double *x,
                                   const double *gamma, const double *beta,
                                   double *running_mean, double *running_var, double momentum,
                                   double eps, double *y, double *save_mean,
                                   double *save_invstd);

void lc_batchnorm_forward_eval_f32(int64_t n, int64_t c, int64_t s, const float *x,
                                   const float *gamma, const float *beta,
                                   const float *running_mean, const float *running_var,
                                   double eps, float *y);
void lc_batchnorm_forward_eval_f64(int64_t n, int64_t c, int64_t s, const double *x,
                                   const double *gamma, const double *beta,
                                   const double *running_mean, const double *running_var,
                                   double eps, double *y);

/* Training-mode backward, the mean and variance being functions of x:
 *   xhat = (x - mean) invstd, dbeta = sum dy, dgamma = sum dy xhat,
 *   dx = gamma invstd (dy - dbeta / m - xhat dgamma / m), m = n * s.
 * dx, dgamma, dbeta may each be NULL when not wanted. */
void lc_batchnorm_backward_train_f32(int64_t n, int64_t c, int64_t s, const float *x,
                                     const float *dy, const float *gamma, const float *save_mean,
                                     const float *save_invstd, float *dx, float *dgamma,
                                     float *dbeta);
void lc_batchnorm_backward_train_f64(int64_t n, int64_t c, int64_t s, const double *x,
                                     const double *dy, const double *gamma,
                                     const double *save_mean, const double *save_invstd,
                                     double *dx, double *dgamma, double *dbeta);

/* Eval-mode backward, the statistics being constants: dx = dy gamma / sqrt(running_var + eps),
 * dgamma = sum dy xhat, dbeta = sum dy. dx, dgamma, dbeta may each be NULL. */
void lc_batchnorm_backward_eval_f32(int64_t n, int64_t c, int64_t s, const float *x,
                                    const float *dy, const float *gamma,
                                    const float *running_mean, const float *running_var,
                                    double eps, float *dx, float *dgamma, float *dbeta);
void lc_batchnorm_backward_eval_f64(int64_t n, int64_t c, int64_t s, const double *x,
                                    const double *dy, const double *gamma,
                                    const double *running_mean, const double *running_var,
                                    double eps, double *dx, double *dgamma, double *dbeta);

#endif
