/* Compiled with -ffast-math (see CMakeLists.txt), the only file that is: it lets GCC call
 * glibc's vector expf (libmvec), 4, 8 or 16 lanes at a time, where the scalar expf in the
 * generic kernels takes most of a sigmoid network's elementwise time. An AVX-512 or AVX2
 * clone is chosen at load time where the processor has it. exp is only taken of -|x|, so nothing
 * overflows (fast math's reciprocal of an infinity would be NaN). */
#include "kernels/cpu/fastmath.h"

#include <math.h>

/* clang before 16 emits the clones but not the dispatcher of an external function (an
 * undefined symbol at link time: the build-fuzz tree is built with clang 14) */
#if defined(__clang__) && __clang_major__ < 16
#define LC_CLONES
#else
#define LC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
LC_CLONES
void lc_cpu_sigmoid_f32(int64_t n, const float *x, float *y)
{
#pragma omp simd
  for (int64_t i = 0; i < n; i++) {
    float e = expf(-fabsf(x[i])); /* in (0, 1]: never overflows */
    float s = 1.0f / (1.0f + e);
    y[i] = x[i] >= 0 ? s : e * s;
  }
}
