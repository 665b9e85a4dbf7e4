/* float32 matrix products through lc_cpu_sgemm (oneDNN's sgemm when built with it, else
 * OpenBLAS): every transpose combination, leading dimensions wider than the matrices, odd and
 * degenerate sizes, the dense-layer shapes of the chapter, under 1, 2 and 3 threads, against
 * a float64 reference within float32's worst-case rounding bound (k 2^-24 sum |a b|). */
#include "runtime/cpu_sgemm.h"
#include "test_kernels_check.h"

#include <omp.h>

static void one(int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t pad, int threads)
{
  omp_set_num_threads(threads);
  int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  int64_t lda = ac + pad, ldb = bc + pad, ldc = n + pad;
  float *a = malloc(sizeof(float) * (ar * lda + 1)), *b = malloc(sizeof(float) * (br * ldb + 1));
  float *c = malloc(sizeof(float) * (m * ldc + 1));
  for (int64_t i = 0; i < ar * lda; i++) a[i] = (float)(2 * rng_uniform() - 1);
  for (int64_t i = 0; i < br * ldb; i++) b[i] = (float)(2 * rng_uniform() - 1);
  for (int64_t i = 0; i < m * ldc; i++) c[i] = 12345.0f;
  lc_cpu_sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
  double worst = 0;
  int pad_ok = 1;
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      double s = 0, sa = 0;
      for (int64_t p = 0; p < k; p++) {
        double x = ta ? a[p * lda + i] : a[i * lda + p], y = tb ? b[j * ldb + p] : b[p * ldb + j];
        s += x * y;
        sa += fabs(x * y);
      }
      double r = fabs(c[i * ldc + j] - s) / ((k + 2) * 0x1p-24 * sa + 1e-30);
      if (!(r <= worst)) worst = r;
    }
    for (int64_t j = n; j < ldc; j++) pad_ok &= c[i * ldc + j] == 12345.0f;
  }
  check(worst <= 1 && pad_ok, "%s%s m%lld n%lld k%lld pad %lld, %d threads: |err|/bound %.3g%s",
        ta ? "T" : "N", tb ? "T" : "N", (long long)m, (long long)n, (long long)k, (long long)pad,
        threads, worst, pad_ok ? "" : ", wrote past n");
  free(a), free(b), free(c);
}

int main(void)
{
  rng_seed(11);
  printf("# lc_cpu_sgemm uses %s\n", lc_cpu_sgemm_library());
  for (int t = 1; t <= 3; t++)
    for (int ta = 0; ta <= 1; ta++)
      for (int tb = 0; tb <= 1; tb++) {
        one(ta, tb, 7, 5, 3, 0, t);
        one(ta, tb, 33, 17, 65, 3, t);
        one(ta, tb, 1, 1, 1, 0, t);
        one(ta, tb, 1, 40, 9, 2, t);
      }
  for (int t = 1; t <= 3; t++) {
    one(0, 1, 32, 120, 400, 0, t);  /* LeNet's first dense layer: x w^T */
    one(1, 0, 400, 120, 32, 0, t);  /* its weight gradient's transpose: x^T g */
    one(0, 0, 32, 400, 120, 0, t);  /* its input gradient: g w */
    one(0, 1, 16, 256, 1024, 0, t); /* a wider layer */
  }
  return check_done("test_cpu_sgemm");
}
