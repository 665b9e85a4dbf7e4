/* Optimizer updates on the CPU (see optim.h): the loops are in optim_impl.inc, included here
 * for float and double. */
#include "kernels/cpu/optim.h"

#include <math.h>
#include <omp.h>

/* Elements are split over threads only when there are enough to pay for waking them. */
#define LC_OPTIM_PARALLEL_MIN 65536

#define LC_REAL_IMPL "kernels/cpu/optim_impl.inc"
#include "kernels/cpu/float_pair.h"
