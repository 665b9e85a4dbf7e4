/* Contiguous float32 loops (see elementwise_contig.h). One clone per vector width is chosen
 * at load time (AVX-512, AVX2, SSE), so no environment variable narrows it. The file is
 * compiled without contraction into fused multiply-adds (CMakeLists.txt), so every clone
 * rounds exactly as the generic loops in elementwise_impl.inc do. */
#include "kernels/cpu/elementwise_contig.h"

/* clang before 16 emits the clones but not the dispatcher of an external function (see
 * fastmath.c); the build-fuzz tree, built with clang 14, keeps the baseline only */
#if defined(__clang__) && __clang_major__ < 16
#define LC_CLONES
#else
#define LC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif

/* The ops covered, each as an expression of x (from a) and y (from b); LOOP(expr) is the
 * caller's loop. */
#define BINARY_OPS(LOOP)                                        \
  switch (op) {                                                 \
  case LC_BIN_ADD: LOOP(x + y); return 1;                       \
  case LC_BIN_SUB: LOOP(x - y); return 1;                       \
  case LC_BIN_MUL: LOOP(x * y); return 1;                       \
  case LC_BIN_DIV: LOOP(x / y); return 1;                       \
  case LC_BIN_SIGMOID_BACKWARD: LOOP(x * y * (1 - y)); return 1; \
  case LC_BIN_TANH_BACKWARD: LOOP(x * (1 - y * y)); return 1;   \
  case LC_BIN_RELU_BACKWARD: LOOP(y > 0 ? x : 0); return 1;     \
  default: return 0;                                            \
  }

LC_CLONES
int lc_cpu_binary_contig_f32(lc_binary_op op, int64_t n, float *o, const float *a, const float *b)
{
#define LOOP(expr)                                        \
  _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {   \
    float x = a[i], y = b[i];                             \
    o[i] = (expr);                                        \
  }
  BINARY_OPS(LOOP)
#undef LOOP
}

LC_CLONES
int lc_cpu_binary_scalar_f32(lc_binary_op op, int64_t n, float *o, const float *a, float y)
{
#define LOOP(expr)                                        \
  _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {   \
    float x = a[i];                                       \
    o[i] = (expr);                                        \
  }
  BINARY_OPS(LOOP)
#undef LOOP
}

LC_CLONES
int lc_cpu_unary_contig_f32(lc_unary_op op, int64_t n, float *o, const float *a, double s0,
                            double s1)
{
  const float p = (float)s0, q = (float)s1;
#define LOOP(expr)                                        \
  _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {   \
    float x = a[i];                                       \
    o[i] = (expr);                                        \
  }
  switch (op) {
  case LC_UN_NEG: LOOP(-x); return 1;
  case LC_UN_ABS: LOOP(x < 0 ? -x : x); return 1;
  case LC_UN_RELU: LOOP(x < 0 ? 0 : x); return 1;
  case LC_UN_RECIPROCAL: LOOP(1 / x); return 1;
  case LC_UN_ADD_SCALAR: LOOP(x + p); return 1;
  case LC_UN_MUL_SCALAR: LOOP(x * p); return 1;
  case LC_UN_RSUB_SCALAR: LOOP(p - x); return 1;
  case LC_UN_RDIV_SCALAR: LOOP(p / x); return 1;
  case LC_UN_DIV_SCALAR: LOOP(x / p); return 1;
  case LC_UN_CLAMP: LOOP(x < p ? p : (x > q ? q : x)); return 1;
  case LC_UN_SIGMOID_GRAD_FROM_OUTPUT: LOOP(x * (1 - x)); return 1;
  case LC_UN_TANH_GRAD_FROM_OUTPUT: LOOP(1 - x * x); return 1;
  case LC_UN_STEP: LOOP(x > 0 ? 1 : 0); return 1;
  default: return 0;
  }
#undef LOOP
}

LC_CLONES
void lc_cpu_u8_to_unit_f32(int64_t n, float *o, const uint8_t *a)
{
#pragma omp simd
  for (int64_t i = 0; i < n; i++) o[i] = (float)a[i] / 255.0f;
}

LC_CLONES
void lc_cpu_u8_to_f32(int64_t n, float *o, const uint8_t *a)
{
#pragma omp simd
  for (int64_t i = 0; i < n; i++) o[i] = (float)a[i];
}
