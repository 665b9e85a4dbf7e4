/* The counter-based generator on the GPU: element i of a draw of `n` values uses Philox
 * block (offset + i / 4), lane i % 4, exactly as the CPU backend does, so a seed gives the
 * same numbers on both devices (up to the last bit of the double libm results, which the
 * rounding to float32 hides almost always). */
#ifndef LC_CUDA_RANDOM_H
#define LC_CUDA_RANDOM_H

#include <stdint.h>

#include <cuda_runtime_api.h>

#include "kernels/common/ops.h"
#include "kernels/cuda/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out: n contiguous float32 or float64 elements on the device. */
LC_CUDA_STATUS lc_cuda_uniform(lc_dtype dtype, int64_t n, void *out, uint64_t seed, uint64_t offset,
                               double lo, double hi, cudaStream_t stream);
LC_CUDA_STATUS lc_cuda_normal(lc_dtype dtype, int64_t n, void *out, uint64_t seed, uint64_t offset,
                              double mean, double std, cudaStream_t stream);

/* Dropout fused into one kernel, with the numbers of the unfused form the runtime builds from
 * the generator (u = rand in x's dtype, keep = u >= p, y = x * (keep * (T)(1 / (1 - p)))):
 * for the same (seed, offset) both give the same y on either device. x and y are n contiguous
 * elements (y may be x); mask (may be NULL) receives keep * (T)(1 / (1 - p)), the factor the
 * backward multiplies the gradient by. 0 < p < 1. */
LC_CUDA_STATUS lc_cuda_dropout(lc_dtype dtype, int64_t n, const void *x, void *y, void *mask, double p,
                               uint64_t seed, uint64_t offset, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
