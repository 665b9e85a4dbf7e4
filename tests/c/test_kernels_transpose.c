/* The blocked transposed copy (kernels/cpu/transpose.h) and lc_cpu_copy, which uses it: exact
 * copies of transposed float32/float64/int64 matrices (sizes that are and are not multiples
 * of the tile, a leading dimension wider than the matrix) under 1, 2 and 3 threads, and the
 * cases it leaves to the generic copy. */
#include "kernels/cpu/transpose.h"
#include "test_kernels_check.h"

#include <omp.h>
#include <string.h>

static void one(int64_t rows, int64_t cols, int64_t ld, int threads)
{
  omp_set_num_threads(threads);
  /* the source matrix is (cols, ld) row-major; the transposed view (rows, cols) has
   * strides (1, ld) */
  float *s = malloc(sizeof(float) * cols * ld);
  double *s64 = malloc(sizeof(double) * cols * ld);
  for (int64_t k = 0; k < cols * ld; k++) s[k] = (float)(2 * rng_uniform() - 1), s64[k] = k * 0.5;
  float *d = malloc(sizeof(float) * rows * cols);
  double *d64 = malloc(sizeof(double) * rows * cols);
  int64_t sizes[2] = {rows, cols}, ds[2] = {cols, 1}, ss[2] = {1, ld};
  lc_cpu_operand dst = {d, ds}, src = {s, ss}, dst64 = {d64, ds}, src64 = {s64, ss};
  lc_cpu_copy(LC_FLOAT32, LC_FLOAT32, 2, sizes, dst, src);
  lc_cpu_copy(LC_FLOAT64, LC_FLOAT64, 2, sizes, dst64, src64);
  int ok = 1;
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++)
      ok &= d[i * cols + j] == s[j * ld + i] && d64[i * cols + j] == s64[j * ld + i];
  check(ok, "transposed copy %lldx%lld ld %lld, %d threads: exact (float32, float64)",
        (long long)rows, (long long)cols, (long long)ld, threads);
  free(s), free(s64), free(d), free(d64);
}

int main(void)
{
  rng_seed(7);
  for (int t = 1; t <= 3; t++) {
    one(200, 300, 200, t);    /* 60000 elements: the blocked path */
    one(129, 257, 131, t);    /* not multiples of the tile, ld > rows */
    one(4096, 17, 4096, t);   /* tall and thin */
    one(3, 40000, 3, t);      /* short and wide */
    one(10, 10, 10, t);       /* small: the generic copy */
  }
  /* cases it declines: contiguous source, mixed dtypes, 3 dims */
  float a[20000], b[20000];
  int64_t sizes[2] = {100, 200}, cs[2] = {200, 1};
  lc_cpu_operand d = {b, cs}, s = {a, cs};
  check(!lc_cpu_copy_transposed(LC_FLOAT32, LC_FLOAT32, 2, sizes, d, s), "declines a contiguous source");
  int64_t ts[2] = {1, 100};
  lc_cpu_operand st = {a, ts};
  check(!lc_cpu_copy_transposed(LC_FLOAT64, LC_FLOAT32, 2, sizes, d, st), "declines a conversion");
  return check_done("test_kernels_transpose");
}
