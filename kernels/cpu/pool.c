/* 2-D pooling on the CPU (see pool.h). The loops are written once, in pool_impl.inc, and
 * included here for float and double; the shape rules are in kernels/common/pool.c. */
#include "kernels/cpu/pool.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* Planes are split over threads only when there is enough work to pay for waking them. */
#define LC_POOL_PARALLEL_MIN 32768

/* The input range of avg-pool window o along one dimension, clipped to the input, and the
 * window's size counted with padding (clipped to the padded input, as PyTorch does). */
static void avg_window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t in,
                       int64_t *lo, int64_t *hi, int64_t *padded)
{
  int64_t start = o * stride - pad;
  int64_t end = start + k < in + pad ? start + k : in + pad;
  *padded = end - start;
  *lo = start > 0 ? start : 0;
  *hi = end < in ? end : in;
}

static int64_t avg_divisor(int count_include_pad, int64_t divisor_override, int64_t padded,
                           int64_t real)
{
  if (divisor_override > 0) return divisor_override;
  return count_include_pad ? padded : real;
}

#define LC_REAL_IMPL "kernels/cpu/pool_impl.inc"
#include "kernels/cpu/float_pair.h"
