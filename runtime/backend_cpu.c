/* The CPU backend: unpacks tensors into pointers and strides for kernels/cpu. */
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kernels/common/philox.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/reduce.h"
#include "runtime/backend.h"
#include "runtime/backend_cpu_nn.h"
#include "runtime/cpu_block_cache.h"
#include "runtime/cpu_sgemm.h"

static void *cpu_alloc(size_t nbytes, lc_device device)
{
  /* 64-byte alignment suits AVX-512 loads and cache lines. */
  void *p = lc_cpu_cache_take(nbytes);
  if (p) return p;
  if (posix_memalign(&p, 64, nbytes ? nbytes : 1) != 0 &&
      (lc_cpu_cache_trim(), posix_memalign(&p, 64, nbytes ? nbytes : 1) != 0))
    lc_error("out of memory: could not allocate %zu bytes on the cpu", nbytes);
  return p;
}

static void cpu_free(void *ptr, size_t nbytes, lc_device device)
{
  if (!lc_cpu_cache_give(ptr, nbytes)) free(ptr);
}

static lc_cpu_operand operand(const lc_tensor *t)
{
  lc_cpu_operand op = {lc_data(t), t->strides};
  return op;
}

static void cpu_copy(lc_tensor *dst, const lc_tensor *src)
{
  lc_cpu_copy(dst->dtype, src->dtype, dst->ndim, dst->sizes, operand(dst), operand(src));
}

static void cpu_fill(lc_tensor *dst, double value)
{
  lc_cpu_fill(dst->dtype, dst->ndim, dst->sizes, operand(dst), value);
}

static void cpu_unary(lc_unary_op op, lc_tensor *out, const lc_tensor *a, double s0, double s1)
{
  lc_cpu_unary(op, a->dtype, out->ndim, out->sizes, operand(out), operand(a), s0, s1);
}

static void cpu_binary(lc_binary_op op, lc_tensor *out, const lc_tensor *a, const lc_tensor *b)
{
  lc_cpu_binary(op, a->dtype, out->ndim, out->sizes, operand(out), operand(a), operand(b));
}

static void cpu_where(lc_tensor *out, const lc_tensor *cond, const lc_tensor *a, const lc_tensor *b)
{
  lc_cpu_where(out->dtype, out->ndim, out->sizes, operand(out), operand(cond), operand(a), operand(b));
}

static void cpu_reduce(lc_reduce_op op, lc_tensor *out, lc_tensor *indices, const lc_tensor *a, int nred)
{
  lc_cpu_reduce(op, a->dtype, a->ndim, a->sizes, a->strides, nred, lc_data(a), lc_data(out),
                indices ? (int64_t *)lc_data(indices) : NULL);
}

/* A matrix operand for BLAS: row-major with leading dimension ld, maybe transposed. */
static void blas_layout(const lc_tensor *t, int d0, int d1, int *trans, int64_t *ld)
{
  if (t->strides[d1] == 1 || t->sizes[d1] == 1) {
    *trans = 0;
    *ld = t->sizes[d1] == 1 && t->strides[d1] != 1 ? 1 : t->strides[d0];
  } else {
    *trans = 1;
    *ld = t->strides[d1];
  }
  if (*ld < 1) *ld = 1;
}

static void cpu_matmul(lc_tensor *c, const lc_tensor *a, const lc_tensor *b)
{
  int batched = a->ndim == 3;
  int64_t batch = batched ? a->sizes[0] : 1;
  int r = batched ? 1 : 0;
  int64_t m = a->sizes[r], k = a->sizes[r + 1], n = b->sizes[r + 1];
  int ta, tb;
  int64_t lda, ldb;
  blas_layout(a, r, r + 1, &ta, &lda);
  blas_layout(b, r, r + 1, &tb, &ldb);
  if (ta && lda < m) lda = m;
  if (!ta && lda < k) lda = k;
  if (tb && ldb < k) ldb = k;
  if (!tb && ldb < n) ldb = n;
  for (int64_t i = 0; i < batch; i++) {
    int64_t ao = batched ? i * a->strides[0] : 0, bo = batched ? i * b->strides[0] : 0;
    int64_t co = i * m * n;
    if (c->dtype == LC_FLOAT32)
      lc_cpu_sgemm(ta, tb, m, n, k, (const float *)lc_data(a) + ao, lda,
                   (const float *)lc_data(b) + bo, ldb, (float *)lc_data(c) + co, n);
    else
      cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                  m, n, k, 1.0, (const double *)lc_data(a) + ao, lda,
                  (const double *)lc_data(b) + bo, ldb, 0.0, (double *)lc_data(c) + co, n);
  }
}

/* Element i of a draw is lane i % 4 of Philox block offset + i / 4 (as on the GPU); each
 * block is computed once and gives its four lanes. */
static void philox_fill(lc_tensor *out, uint64_t seed, uint64_t offset, bool normal, double a,
                        double b)
{
  int64_t n = lc_numel(out), blocks = (n + 3) / 4;
  void *p = lc_data(out);
#pragma omp parallel for if (n > 65536)
  for (int64_t k = 0; k < blocks; k++) {
    lc_philox_block blk = lc_philox(seed, offset + (uint64_t)k);
    for (int lane = 0; lane < 4 && 4 * k + lane < n; lane++) {
      double v = normal ? a + b * lc_philox_normal(blk, lane) : lc_philox_uniform(blk, lane, a, b);
      if (out->dtype == LC_FLOAT32) ((float *)p)[4 * k + lane] = (float)v;
      else ((double *)p)[4 * k + lane] = v;
    }
  }
}

static void cpu_uniform(lc_tensor *out, uint64_t seed, uint64_t offset, double lo, double hi)
{
  philox_fill(out, seed, offset, false, lo, hi);
}

static void cpu_normal(lc_tensor *out, uint64_t seed, uint64_t offset, double mean, double std)
{
  philox_fill(out, seed, offset, true, mean, std);
}

static void cpu_to_host(void *host, const lc_tensor *src, size_t nbytes)
{
  memcpy(host, lc_data(src), nbytes);
}

static void cpu_from_host(lc_tensor *dst, const void *host, size_t nbytes)
{
  memcpy(lc_data(dst), host, nbytes);
}

static const lc_backend cpu_backend = {
  .name = "cpu",
  .alloc = cpu_alloc,
  .free = cpu_free,
  .copy = cpu_copy,
  .fill = cpu_fill,
  .unary = cpu_unary,
  .binary = cpu_binary,
  .where = cpu_where,
  .reduce = cpu_reduce,
  .matmul = cpu_matmul,
  .uniform = cpu_uniform,
  .normal = cpu_normal,
  .to_host = cpu_to_host,
  .from_host = cpu_from_host,
  .conv2d_forward = lc_cpu_conv2d_forward,
  .conv2d_backward_data = lc_cpu_conv2d_backward_data,
  .conv2d_backward_weight = lc_cpu_conv2d_backward_weight,
  .max_pool2d_forward = lc_cpu_max_pool2d_forward,
  .max_pool2d_backward = lc_cpu_max_pool2d_backward,
  .avg_pool2d_forward = lc_cpu_avg_pool2d_forward,
  .avg_pool2d_backward = lc_cpu_avg_pool2d_backward,
  .adaptive_avg_pool2d_forward = lc_cpu_adaptive_avg_pool2d_forward,
  .adaptive_avg_pool2d_backward = lc_cpu_adaptive_avg_pool2d_backward,
  .batchnorm_forward_train = lc_cpu_batchnorm_forward_train,
  .batchnorm_forward_eval = lc_cpu_batchnorm_forward_eval,
  .batchnorm_backward_train = lc_cpu_batchnorm_backward_train,
  .batchnorm_backward_eval = lc_cpu_batchnorm_backward_eval,
  .log_softmax_forward = lc_cpu_log_softmax_forward,
  .log_softmax_backward = lc_cpu_log_softmax_backward,
  .cross_entropy_forward = lc_cpu_cross_entropy_forward,
  .cross_entropy_backward = lc_cpu_cross_entropy_backward,
  .sgd_step = lc_cpu_sgd_step,
  .adam_step = lc_cpu_adam_step,
  .resize_bilinear_u8 = lc_cpu_resize_bilinear_u8,
};

const lc_backend *lc_backend_cpu(void) { return &cpu_backend; }
