/* Loss-kernel return codes shared by the CPU (kernels/cpu/loss.h) and CUDA
 * (kernels/cuda/nn.h) kernels. */
#ifndef LC_KERNELS_COMMON_LOSS_H
#define LC_KERNELS_COMMON_LOSS_H

#include <stdint.h>

enum {
  LC_LOSS_OK = 0,
  LC_LOSS_ETARGET = -1  /* a target outside [0, classes): *bad_row names the first such row */
};

#endif
