/* Pointwise kernels over strided operands sharing one shape. Inputs and output of an
 * op share a dtype, except comparisons, whose output is uint8. */
#ifndef LC_CPU_ELEMENTWISE_H
#define LC_CPU_ELEMENTWISE_H

#include <stdint.h>

#include "kernels/common/ops.h"

typedef struct {
  void *data;
  const int64_t *strides;
} lc_cpu_operand;

void lc_cpu_unary(lc_unary_op op, lc_dtype dtype, int ndim, const int64_t *sizes,
                  lc_cpu_operand out, lc_cpu_operand a, double s0, double s1);
void lc_cpu_binary(lc_binary_op op, lc_dtype dtype, int ndim, const int64_t *sizes,
                   lc_cpu_operand out, lc_cpu_operand a, lc_cpu_operand b);
/* out = cond ? a : b; cond is uint8. */
void lc_cpu_where(lc_dtype dtype, int ndim, const int64_t *sizes, lc_cpu_operand out,
                  lc_cpu_operand cond, lc_cpu_operand a, lc_cpu_operand b);
/* dst = src with conversion between any two dtypes. */
void lc_cpu_copy(lc_dtype dst_dtype, lc_dtype src_dtype, int ndim, const int64_t *sizes,
                 lc_cpu_operand dst, lc_cpu_operand src);
void lc_cpu_fill(lc_dtype dtype, int ndim, const int64_t *sizes, lc_cpu_operand dst, double value);

#endif
