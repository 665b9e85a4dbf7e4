/* The copy of a transposed matrix into a contiguous one, cache-blocked: what .grad
 * accumulation does for every nn.Linear weight (whose gradient arrives as the transpose of
 * x^T g). The generic strided copy walks the source with a stride of a whole row per element,
 * a cache and TLB miss each time: on AlexNet's 4096x6400 weight that took a second a step. */
#ifndef LC_CPU_TRANSPOSE_H
#define LC_CPU_TRANSPOSE_H

#include <stdint.h>

#include "kernels/cpu/elementwise.h"

/* Copies when the case is one it handles: same dtype of 4 or 8 bytes, 2 dims, dst contiguous,
 * src transposed (strides (1, ld), ld >= rows) and large enough to matter. Returns 1 if it
 * copied, 0 if the caller must (nothing touched). Bit-exact (a copy). */
int lc_cpu_copy_transposed(lc_dtype dst_dtype, lc_dtype src_dtype, int ndim, const int64_t *sizes,
                           lc_cpu_operand dst, lc_cpu_operand src);

#endif
