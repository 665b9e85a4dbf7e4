/* The CUDA backend: unpacks tensors into device pointers and strides for kernels/cuda, and
 * runs matrix products through cuBLAS. Everything is queued on the context's one stream;
 * only the copies to the host wait for it. */
#include <limits.h>
#include <string.h>

#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/random.h"
#include "kernels/cuda/reduce.h"
#include "runtime/backend.h"
#include "runtime/cuda/backend_cuda_nn.h"
#include "runtime/cuda/context.h"

static void *cuda_alloc(size_t nbytes, lc_device device)
{
  lc_cuda_check_device("tensor", device);
  return lc_cuda_malloc(nbytes);
}

static void cuda_free(void *ptr, size_t nbytes, lc_device device) { lc_cuda_free(ptr); }

static lc_cuda_operand operand(const lc_tensor *t)
{
  lc_cuda_operand op = {lc_data(t), t->strides};
  return op;
}

static void cuda_copy(lc_tensor *dst, const lc_tensor *src)
{
  int st = lc_cuda_copy(dst->dtype, src->dtype, dst->ndim, dst->sizes, operand(dst), operand(src),
               lc_cuda_stream());
  lc_cuda_check_kernel(st, "copy");
}

static void cuda_fill(lc_tensor *dst, double value)
{
  int st = lc_cuda_fill(dst->dtype, dst->ndim, dst->sizes, operand(dst), value, lc_cuda_stream());
  lc_cuda_check_kernel(st, "fill");
}

static void cuda_unary(lc_unary_op op, lc_tensor *out, const lc_tensor *a, double s0, double s1)
{
  int st = lc_cuda_unary(op, a->dtype, out->ndim, out->sizes, operand(out), operand(a), s0, s1,
                lc_cuda_stream());
  lc_cuda_check_kernel(st, LC_UN_IS_COMPARISON(op) ? "comparison" : "unary op");
}

static void cuda_binary(lc_binary_op op, lc_tensor *out, const lc_tensor *a, const lc_tensor *b)
{
  int st = lc_cuda_binary(op, a->dtype, out->ndim, out->sizes, operand(out), operand(a), operand(b),
                 lc_cuda_stream());
  lc_cuda_check_kernel(st, LC_BIN_IS_COMPARISON(op) ? "comparison" : "binary op");
}

static void cuda_where(lc_tensor *out, const lc_tensor *cond, const lc_tensor *a, const lc_tensor *b)
{
  int st = lc_cuda_where(out->dtype, out->ndim, out->sizes, operand(out), operand(cond), operand(a),
                operand(b), lc_cuda_stream());
  lc_cuda_check_kernel(st, "where");
}

static void cuda_reduce(lc_reduce_op op, lc_tensor *out, lc_tensor *indices, const lc_tensor *a, int nred)
{
  if (out->dtype != a->dtype)
    lc_error("reduce: the output dtype %s differs from the input's %s", lc_dtype_name(out->dtype),
             lc_dtype_name(a->dtype));
  size_t ws = lc_cuda_reduce_workspace(a->ndim, a->sizes, nred);
  void *workspace = ws ? lc_cuda_malloc(ws) : NULL;
  int st = lc_cuda_reduce(op, a->dtype, a->ndim, a->sizes, a->strides, nred, lc_data(a), lc_data(out),
                 indices ? (int64_t *)lc_data(indices) : NULL, workspace, lc_cuda_stream());
  /* Stream-ordered: the block is only reused by work queued after the reduction. */
  lc_cuda_free(workspace);
  lc_cuda_check_kernel(st, "reduce");
}

/* ---- matmul through cuBLAS ----
 *
 * cuBLAS is column-major. A row-major matrix with leading dimension ld is, read column-major,
 * its transpose with the same ld; so the row-major product C = A B is computed as the
 * column-major C^T = B^T A^T: operands swapped, (m, n) swapped. The layout rule per operand is
 * the CPU backend's (blas_layout), so both devices accept the same views. */

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

static void check_int(const char *what, int64_t v)
{
  if (v > INT_MAX)
    lc_error("matmul: %s = %lld is more than cuBLAS can index (%d)", what, (long long)v, INT_MAX);
}

static void cuda_matmul(lc_tensor *c, const lc_tensor *a, const lc_tensor *b)
{
  if (c->dtype != LC_FLOAT32 && c->dtype != LC_FLOAT64)
    lc_error("matmul: float32 or float64 was expected on cuda, got %s", lc_dtype_name(c->dtype));
  int batched = a->ndim == 3;
  int64_t batch = batched ? a->sizes[0] : 1;
  int r = batched ? 1 : 0;
  int64_t m = a->sizes[r], k = a->sizes[r + 1], n = b->sizes[r + 1];
  if (batch == 0 || m == 0 || n == 0) return;
  size_t esize = lc_dtype_size(c->dtype);
  if (k == 0) { /* an empty sum: zeros (c is contiguous) */
    lc_cuda_check(cudaMemsetAsync(lc_data(c), 0, (size_t)(batch * m * n) * esize, lc_cuda_stream()),
                  "matmul", "cudaMemsetAsync");
    return;
  }
  int ta, tb;
  int64_t lda, ldb;
  blas_layout(a, r, r + 1, &ta, &lda);
  blas_layout(b, r, r + 1, &tb, &ldb);
  if (ta && lda < m) lda = m;
  if (!ta && lda < k) lda = k;
  if (tb && ldb < k) ldb = k;
  if (!tb && ldb < n) ldb = n;
  check_int("m", m);
  check_int("n", n);
  check_int("k", k);
  check_int("the batch", batch);
  check_int("a's leading dimension", lda);
  check_int("b's leading dimension", ldb);
  long long stride_a = batched ? a->strides[0] : 0, stride_b = batched ? b->strides[0] : 0;
  long long stride_c = m * n;
  cublasOperation_t op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasHandle_t h = lc_cuda_cublas();
  if (c->dtype == LC_FLOAT32) {
    const float one = 1.0f, zero = 0.0f;
    lc_cuda_check_cublas(
        cublasSgemmStridedBatched(h, op_b, op_a, (int)n, (int)m, (int)k, &one,
                                  (const float *)lc_data(b), (int)ldb, stride_b,
                                  (const float *)lc_data(a), (int)lda, stride_a, &zero,
                                  (float *)lc_data(c), (int)n, stride_c, (int)batch),
        "matmul", "cublasSgemmStridedBatched");
  } else {
    const double one = 1.0, zero = 0.0;
    lc_cuda_check_cublas(
        cublasDgemmStridedBatched(h, op_b, op_a, (int)n, (int)m, (int)k, &one,
                                  (const double *)lc_data(b), (int)ldb, stride_b,
                                  (const double *)lc_data(a), (int)lda, stride_a, &zero,
                                  (double *)lc_data(c), (int)n, stride_c, (int)batch),
        "matmul", "cublasDgemmStridedBatched");
  }
}

/* ---- random, transfers ---- */

static void cuda_uniform(lc_tensor *out, uint64_t seed, uint64_t offset, double lo, double hi)
{
  int st = lc_cuda_uniform(out->dtype, lc_numel(out), lc_data(out), seed, offset, lo, hi, lc_cuda_stream());
  lc_cuda_check_kernel(st, "rand");
}

static void cuda_normal(lc_tensor *out, uint64_t seed, uint64_t offset, double mean, double std)
{
  int st = lc_cuda_normal(out->dtype, lc_numel(out), lc_data(out), seed, offset, mean, std,
                 lc_cuda_stream());
  lc_cuda_check_kernel(st, "randn");
}

static void cuda_to_host(void *host, const lc_tensor *src, size_t nbytes)
{
  lc_cuda_download(host, lc_data(src), nbytes);
}

static void cuda_from_host(lc_tensor *dst, const void *host, size_t nbytes)
{
  lc_cuda_upload(lc_data(dst), host, nbytes);
}

static const lc_backend cuda_backend = {
  .name = "cuda",
  .alloc = cuda_alloc,
  .free = cuda_free,
  .copy = cuda_copy,
  .fill = cuda_fill,
  .unary = cuda_unary,
  .binary = cuda_binary,
  .where = cuda_where,
  .reduce = cuda_reduce,
  .matmul = cuda_matmul,
  .uniform = cuda_uniform,
  .normal = cuda_normal,
  .to_host = cuda_to_host,
  .from_host = cuda_from_host,
  .conv2d_forward = lc_cuda_backend_conv2d_forward,
  .conv2d_backward_data = lc_cuda_backend_conv2d_backward_data,
  .conv2d_backward_weight = lc_cuda_backend_conv2d_backward_weight,
  .max_pool2d_forward = lc_cuda_backend_max_pool2d_forward,
  .max_pool2d_backward = lc_cuda_backend_max_pool2d_backward,
  .avg_pool2d_forward = lc_cuda_backend_avg_pool2d_forward,
  .avg_pool2d_backward = lc_cuda_backend_avg_pool2d_backward,
  .adaptive_avg_pool2d_forward = lc_cuda_backend_adaptive_avg_pool2d_forward,
  .adaptive_avg_pool2d_backward = lc_cuda_backend_adaptive_avg_pool2d_backward,
  .batchnorm_forward_train = lc_cuda_backend_batchnorm_forward_train,
  .batchnorm_forward_eval = lc_cuda_backend_batchnorm_forward_eval,
  .batchnorm_backward_train = lc_cuda_backend_batchnorm_backward_train,
  .batchnorm_backward_eval = lc_cuda_backend_batchnorm_backward_eval,
  .log_softmax_forward = lc_cuda_backend_log_softmax_forward,
  .log_softmax_backward = lc_cuda_backend_log_softmax_backward,
  .cross_entropy_forward = lc_cuda_backend_cross_entropy_forward,
  .cross_entropy_backward = lc_cuda_backend_cross_entropy_backward,
  .sgd_step = lc_cuda_backend_sgd_step,
  .adam_step = lc_cuda_backend_adam_step,
  .resize_bilinear_u8 = lc_cuda_backend_resize_bilinear_u8,
};

const lc_backend *lc_backend_cuda_impl(void)
{
  return lc_cuda_probe() > 0 ? &cuda_backend : NULL;
}
