/* Batch-norm return codes shared by the CPU (kernels/cpu/batchnorm.h) and CUDA
 * (kernels/cuda/nn.h) kernels. */
#ifndef LC_KERNELS_COMMON_BATCHNORM_H
#define LC_KERNELS_COMMON_BATCHNORM_H

#include <stdint.h>

enum {
  LC_BN_OK = 0,
  LC_BN_ETOOFEW = -1  /* training with one value per channel (n * s == 1), as PyTorch refuses */
};

#endif
