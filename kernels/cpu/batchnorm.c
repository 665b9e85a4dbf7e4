/* Batch normalisation on the CPU (see batchnorm.h): the loops are in batchnorm_impl.inc,
 * included here for float and double. */
#include "kernels/cpu/batchnorm.h"

#include <math.h>
#include <omp.h>

/* Channels are split over threads only when there is enough work to pay for waking them. */
#define LC_BN_PARALLEL_MIN 32768

#define LC_REAL_IMPL "kernels/cpu/batchnorm_impl.inc"
#include "kernels/cpu/float_pair.h"
