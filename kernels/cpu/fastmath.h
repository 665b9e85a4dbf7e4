/* Vectorised float32 transcendental loops over contiguous arrays (kernels/cpu/fastmath.c). */
#ifndef LC_CPU_FASTMATH_H
#define LC_CPU_FASTMATH_H

#include <stdint.h>

/* y = 1 / (1 + exp(-x)), within a few ulp of the exact value; y may alias x. */
void lc_cpu_sigmoid_f32(int64_t n, const float *x, float *y);

#endif
