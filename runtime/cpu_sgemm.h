/* float32 matrix products on the CPU: oneDNN's sgemm when the build has oneDNN, OpenBLAS's
 * otherwise (or with LUACNN_CPU_GEMM=openblas).
 *
 * oneDNN's sgemm picks its JIT kernel from the processor (AVX-512 where there is AVX-512)
 * whatever OPENBLAS_CORETYPE says, and on the chapter's dense-layer shapes it was faster than
 * OpenBLAS's own kernels on a 2-core Xeon (AVX-512): 32x6400 by 6400x4096 50 vs 37 GFLOP/s,
 * its weight gradient (6400x32 by 32x4096) 71 vs 26, LeNet's 256x400 by 400x120 152 vs 128;
 * with OPENBLAS_CORETYPE=Haswell OpenBLAS fell to 30, 26 and 88. Results agree with
 * OpenBLAS's to float32 rounding, not bit for bit. Row-major, as cblas_sgemm(CblasRowMajor). */
#ifndef LC_RUNTIME_CPU_SGEMM_H
#define LC_RUNTIME_CPU_SGEMM_H

#include <stdint.h>

/* C (m x n, leading dimension ldc) = op(A) op(B), op(X) = X or X^T as ta/tb say. */
void lc_cpu_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                  const float *b, int64_t ldb, float *c, int64_t ldc);

/* "oneDNN" or "OpenBLAS": the library lc_cpu_sgemm uses. */
const char *lc_cpu_sgemm_library(void);

#endif
