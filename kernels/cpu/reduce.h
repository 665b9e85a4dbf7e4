/* Reductions over the trailing dims of a strided input. */
#ifndef LC_CPU_REDUCE_H
#define LC_CPU_REDUCE_H

#include <stdint.h>

#include "kernels/common/ops.h"

/* The input has `ndim` dims; the last `nred` are reduced. out is contiguous over the
 * leading dims. For MAX/MIN, indices (may be NULL) receive the row-major position of the
 * winner within the reduced block; NaN wins, as in PyTorch. Sums of float32 accumulate
 * in double. */
void lc_cpu_reduce(lc_reduce_op op, lc_dtype dtype, int ndim, const int64_t *sizes,
                   const int64_t *strides, int nred, const void *in, void *out, int64_t *indices);

#endif
