/* Optimizer updates on the CPU over flat arrays: one call per parameter tensor, updating the
 * parameter and its state in place with PyTorch's exact rules (torch.optim, the default
 * single-tensor code path). The gradient is read only. Elements are split over OpenMP threads
 * for large tensors. float32 and float64 entry points share one implementation
 * (optim_impl.inc); hyper-parameters are doubles, as Python floats are. */
#ifndef LC_KERNELS_CPU_OPTIM_H
#define LC_KERNELS_CPU_OPTIM_H

#include <stdint.h>

#include "kernels/common/optim.h" /* lc_sgd_params, lc_adam_params */

/* torch.optim.SGD:
 *   d = grad + weight_decay * p
 *   if momentum != 0:
 *     buf = d                                       on the first step (first_step != 0)
 *     buf = momentum * buf + (1 - dampening) * d    afterwards
 *     d = nesterov ? d + momentum * buf : buf
 *   p -= lr * d
 * momentum_buf (n values) may be NULL when momentum == 0; its content is ignored on the first
 * step. */
void lc_sgd_step_f32(int64_t n, float *param, const float *grad, float *momentum_buf,
                     const lc_sgd_params *h, int first_step);
void lc_sgd_step_f64(int64_t n, double *param, const double *grad, double *momentum_buf,
                     const lc_sgd_params *h, int first_step);

/* torch.optim.Adam / AdamW:
 *   Adam:  g = grad + weight_decay * p         AdamW:  p *= 1 - lr * weight_decay; g = grad
 *   m = m + (1 - beta1) (g - m)                (lerp, as PyTorch)
 *   v = beta2 v + (1 - beta2) g^2
 *   vmax = max(vmax, v)                         (amsgrad only: max_exp_avg_sq not NULL)
 *   denom = sqrt(amsgrad ? vmax : v) / sqrt(1 - beta2^step) + eps
 *   p -= lr / (1 - beta1^step) * m / denom
 * exp_avg, exp_avg_sq (and max_exp_avg_sq) start as zeros before step 1. */
void lc_adam_step_f32(int64_t n, float *param, const float *grad, float *exp_avg,
                      float *exp_avg_sq, float *max_exp_avg_sq, const lc_adam_params *h);
void lc_adam_step_f64(int64_t n, double *param, const double *grad, double *exp_avg,
                      double *exp_avg_sq, double *max_exp_avg_sq, const lc_adam_params *h);

#endif
