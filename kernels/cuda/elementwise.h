/* Pointwise kernels on the GPU over strided operands sharing one shape; the CUDA twin of
 * kernels/cpu/elementwise.h with the same semantics (and a stream). Pointers are device
 * pointers to each operand's first element; strides are in elements (0 for a broadcast
 * dim). Every launch is checked: a failure is returned as a status (kernels/cuda/status.h). */
#ifndef LC_CUDA_ELEMENTWISE_H
#define LC_CUDA_ELEMENTWISE_H

#include <stdint.h>

#include <cuda_runtime_api.h>

#include "kernels/common/ops.h"
#include "kernels/cuda/status.h"

typedef struct {
  void *data;
  const int64_t *strides;
} lc_cuda_operand;

#ifdef __cplusplus
extern "C" {
#endif

/* out = op(a); out has a's dtype, or uint8 for the comparisons. */
LC_CUDA_STATUS lc_cuda_unary(lc_unary_op op, lc_dtype dtype, int ndim, const int64_t *sizes,
                             lc_cuda_operand out, lc_cuda_operand a, double s0, double s1,
                             cudaStream_t stream);
/* out = a op b; a and b share `dtype`; out has it too, or uint8 for the comparisons. */
LC_CUDA_STATUS lc_cuda_binary(lc_binary_op op, lc_dtype dtype, int ndim, const int64_t *sizes,
                              lc_cuda_operand out, lc_cuda_operand a, lc_cuda_operand b,
                              cudaStream_t stream);
/* out = cond ? a : b; cond is uint8. */
LC_CUDA_STATUS lc_cuda_where(lc_dtype dtype, int ndim, const int64_t *sizes, lc_cuda_operand out,
                             lc_cuda_operand cond, lc_cuda_operand a, lc_cuda_operand b,
                             cudaStream_t stream);
/* dst = src with conversion between any two dtypes (a float becomes an integer by
 * truncation, as on the CPU). */
LC_CUDA_STATUS lc_cuda_copy(lc_dtype dst_dtype, lc_dtype src_dtype, int ndim, const int64_t *sizes,
                            lc_cuda_operand dst, lc_cuda_operand src, cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_fill(lc_dtype dtype, int ndim, const int64_t *sizes, lc_cuda_operand dst,
                            double value, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
