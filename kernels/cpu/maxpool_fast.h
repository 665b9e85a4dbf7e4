/* float32 max pooling forward, vectorised along the output row (see pool.h for the semantics).
 *
 * lc_max_pool2d_forward_f32 takes every window one by one in a scalar loop; GoogLeNet's
 * Inception blocks pool 3x3 with stride 1 over 192 to 832 channels, and that loop was 18% of
 * its CPU training step. Here the windows that lie wholly inside the row are computed for a
 * run of outputs at once (the taps in the same order, with the same rule: the first tap, then
 * any larger value or any NaN, so values and indices are bit-identical to the scalar kernel's),
 * compiled for AVX-512, AVX2 and plain x86-64 and picked at run time for the processor. Windows
 * that reach the padding or the edge take the scalar path. */
#ifndef LC_KERNELS_CPU_MAXPOOL_FAST_H
#define LC_KERNELS_CPU_MAXPOOL_FAST_H

#include <stdint.h>

#include "kernels/cpu/pool.h"

/* Returns 1 when it computed y (and indices, which may be NULL), 0 when the shape is one it
 * leaves to lc_max_pool2d_forward_f32 (dilation other than 1). s must be finished. */
int lc_max_pool2d_forward_fast_f32(const lc_pool2d_shape *s, const float *x, float *y,
                                   int64_t *indices);

#endif
