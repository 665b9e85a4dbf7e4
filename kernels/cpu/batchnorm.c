/* Batch normalisation on the CPU (see batchnorm.h): the loops are in batchnorm_impl.inc,
 * included here for float and double. */
#include "kernels/cpu/batchnorm.h"

#include <math.h>
#include <omp.h>

/* Channels are split over threads only when there is enough work to pay for waking them. */
#define LC_BN_PARALLEL_MIN 32768

#define real float
#define FN(name) name##_f32
#include "kernels/cpu/batchnorm_impl.inc"
#undef real
#undef FN

#define real double
#define FN(name) name##_f64
#include "kernels/cpu/batchnorm_impl.inc"
#undef real
#undef FN
