/* Image-kernel return codes shared by the CPU (kernels/cpu/image.h) and CUDA
 * (kernels/cuda/nn.h) kernels. */
#ifndef LC_KERNELS_COMMON_IMAGE_H
#define LC_KERNELS_COMMON_IMAGE_H

#include <stdint.h>

enum {
  LC_IMAGE_OK = 0,
  LC_IMAGE_EBADARG = -1,  /* a size < 1 */
  LC_IMAGE_ENOMEM = -2
};

#endif
