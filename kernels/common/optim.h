/* Optimizer hyper-parameters shared by the CPU (kernels/cpu/optim.h, where the update rules
 * are written out) and CUDA (kernels/cuda/nn.h) kernels. Doubles, as Python floats are. */
#ifndef LC_KERNELS_COMMON_OPTIM_H
#define LC_KERNELS_COMMON_OPTIM_H

#include <stdint.h>

typedef struct lc_sgd_params {
  double lr, momentum, dampening, weight_decay;
  int nesterov;  /* needs momentum > 0 and dampening 0 (the caller checks, as PyTorch does) */
} lc_sgd_params;

typedef struct lc_adam_params {
  double lr, beta1, beta2, eps, weight_decay;
  int decoupled;  /* 0: Adam (weight decay added to the gradient), 1: AdamW (decay of p) */
  int64_t step;   /* this step's number, counting from 1 */
} lc_adam_params;

#endif
