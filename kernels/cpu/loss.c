/* Softmax, log-softmax and cross-entropy on the CPU (see loss.h): the loops are in
 * loss_impl.inc, included here for float and double. */
#include "kernels/cpu/loss.h"

#include <math.h>
#include <omp.h>

/* Rows are split over threads only when there is enough work to pay for waking them. */
#define LC_LOSS_PARALLEL_MIN 16384

/* The first row whose target is outside [0, classes), or -1. */
static int64_t first_bad_target(int64_t rows, int64_t classes, const int64_t *targets)
{
  for (int64_t r = 0; r < rows; r++)
    if (targets[r] < 0 || targets[r] >= classes) return r;
  return -1;
}

#define LC_REAL_IMPL "kernels/cpu/loss_impl.inc"
#include "kernels/cpu/float_pair.h"
