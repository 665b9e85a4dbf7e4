/* Optimizer updates on the CPU (see optim.h): the loops are in optim_impl.inc, included here
 * for float and double. */
#include "kernels/cpu/optim.h"

#include <math.h>
#include <omp.h>

/* Elements are split over threads only when there are enough to pay for waking them. */
#define LC_OPTIM_PARALLEL_MIN 65536

#define real float
#define FN(name) name##_f32
#include "kernels/cpu/optim_impl.inc"
#undef real
#undef FN

#define real double
#define FN(name) name##_f64
#include "kernels/cpu/optim_impl.inc"
#undef real
#undef FN
