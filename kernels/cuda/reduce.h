/* Reductions over the trailing dims of a strided input on the GPU: the CUDA twin of
 * kernels/cpu/reduce.h, same semantics (sums and products accumulate in double; MAX/MIN give
 * the row-major position of the first winner within the reduced block, NaN wins), except
 * that the summation order differs. */
#ifndef LC_CUDA_REDUCE_H
#define LC_CUDA_REDUCE_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "kernels/common/ops.h"
#include "kernels/cuda/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Device scratch bytes lc_cuda_reduce needs for this shape (0 for most shapes: only long
 * reductions into few outputs are split over several blocks). */
size_t lc_cuda_reduce_workspace(int ndim, const int64_t *sizes, int nred);

/* The last `nred` of the `ndim` dims of `in` are reduced; out (contiguous over the leading
 * dims, same dtype as in) and indices (int64, may be NULL; used by MAX/MIN) are device
 * pointers; workspace holds lc_cuda_reduce_workspace bytes (may be NULL when that is 0). */
LC_CUDA_STATUS lc_cuda_reduce(lc_reduce_op op, lc_dtype dtype, int ndim, const int64_t *sizes,
                              const int64_t *strides, int nred, const void *in, void *out,
                              int64_t *indices, void *workspace, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
