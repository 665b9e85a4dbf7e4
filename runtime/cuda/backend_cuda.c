/* The CUDA backend: unpacks tensors into device pointers and strides for kernels/cuda, and
 * runs matrix products through cuBLAS and convolutions through cuDNN. Each vtable entry is a
 * static function here: the device's whole adapter tier in one file. Everything is queued on
 * the context's one stream; only the copies to the host wait for it. */
#include <limits.h>
#include <string.h>

#include "kernels/common/batchnorm.h"
#include "kernels/common/image.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/nn.h"
#include "kernels/cuda/random.h"
#include "kernels/cuda/reduce.h"
#include "runtime/backend.h"
#include "runtime/cuda/context.h"
#include "runtime/cuda/conv_cudnn.h"

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
 * the CPU backend's (lc_blas_operand, geometry.c), so both devices accept the same views. */

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
  lc_blas_operand(a, r, r + 1, &ta, &lda);
  lc_blas_operand(b, r, r + 1, &tb, &ldb);
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

/* ---- neural-network layers: tensors unpacked for kernels/cuda/nn.h and conv_cudnn.h, with
 * workspaces from the caching allocator. Each workspace is freed right after its launches are
 * queued: the allocator is stream-ordered, so the block is only reused by later work. ---- */

#define DATA(t) lc_data(t)
#define OPT(t) ((t) ? lc_data(t) : NULL)

static void check_conv(const char *op, int code)
{
  if (code != LC_CONV_OK) lc_error("%s: %s", op, lc_conv2d_strerror(code));
}

static void cuda_conv2d_forward(const lc_conv2d_shape *s, const lc_tensor *x, const lc_tensor *w,
                                const lc_tensor *bias, lc_tensor *y)
{
  check_conv("conv2d", lc_cuda_conv2d_forward(x->dtype, s, DATA(x), DATA(w), OPT(bias), DATA(y)));
}

static void cuda_conv2d_backward_data(const lc_conv2d_shape *s, const lc_tensor *dy,
                                      const lc_tensor *w, lc_tensor *dx)
{
  check_conv("conv2d backward", lc_cuda_conv2d_backward_data(dy->dtype, s, DATA(dy), DATA(w), DATA(dx)));
}

static void cuda_conv2d_backward_weight(const lc_conv2d_shape *s, const lc_tensor *x,
                                        const lc_tensor *dy, lc_tensor *dw, lc_tensor *dbias)
{
  check_conv("conv2d backward",
             lc_cuda_conv2d_backward_weight(x->dtype, s, DATA(x), DATA(dy), DATA(dw), OPT(dbias)));
}

static void cuda_max_pool2d_forward(const lc_pool2d_shape *s, const lc_tensor *x, lc_tensor *y,
                                    lc_tensor *indices)
{
  int st = lc_cuda_max_pool2d_forward(x->dtype, s, DATA(x), DATA(y), indices ? (int64_t *)DATA(indices) : NULL,
                             lc_cuda_stream());
  lc_cuda_check_kernel(st, "max_pool2d");
}

static void cuda_max_pool2d_backward(const lc_pool2d_shape *s, const lc_tensor *dy,
                                     const lc_tensor *indices, lc_tensor *dx)
{
  int st = lc_cuda_max_pool2d_backward(dy->dtype, s, DATA(dy), (const int64_t *)DATA(indices), DATA(dx),
                              lc_cuda_stream());
  lc_cuda_check_kernel(st, "max_pool2d backward");
}

static void cuda_avg_pool2d_forward(const lc_pool2d_shape *s, int count_include_pad,
                                    int64_t divisor, const lc_tensor *x, lc_tensor *y)
{
  int st = lc_cuda_avg_pool2d_forward(x->dtype, s, count_include_pad, divisor, DATA(x), DATA(y),
                             lc_cuda_stream());
  lc_cuda_check_kernel(st, "avg_pool2d");
}

static void cuda_avg_pool2d_backward(const lc_pool2d_shape *s, int count_include_pad,
                                     int64_t divisor, const lc_tensor *dy, lc_tensor *dx)
{
  int st = lc_cuda_avg_pool2d_backward(dy->dtype, s, count_include_pad, divisor, DATA(dy), DATA(dx),
                              lc_cuda_stream());
  lc_cuda_check_kernel(st, "avg_pool2d backward");
}

static void cuda_adaptive_avg_pool2d_forward(const lc_tensor *x, lc_tensor *y)
{
  int st = lc_cuda_adaptive_avg_pool2d_forward(x->dtype, x->sizes[0] * x->sizes[1], x->sizes[2], x->sizes[3],
                                      y->sizes[2], y->sizes[3], DATA(x), DATA(y), lc_cuda_stream());
  lc_cuda_check_kernel(st, "adaptive_avg_pool2d");
}

static void cuda_adaptive_avg_pool2d_backward(const lc_tensor *dy, lc_tensor *dx)
{
  int st = lc_cuda_adaptive_avg_pool2d_backward(dy->dtype, dx->sizes[0] * dx->sizes[1], dx->sizes[2],
                                       dx->sizes[3], dy->sizes[2], dy->sizes[3], DATA(dy), DATA(dx),
                                       lc_cuda_stream());
  lc_cuda_check_kernel(st, "adaptive_avg_pool2d backward");
}

/* ---- batch norm: x viewed as (N, C, S) ---- */

static void bn_dims(const lc_tensor *x, int64_t *n, int64_t *c, int64_t *s)
{
  *n = x->sizes[0];
  *c = x->ndim > 1 ? x->sizes[1] : 1;
  *s = 1;
  for (int d = 2; d < x->ndim; d++) *s *= x->sizes[d];
}

static void *bn_workspace(const lc_tensor *x)
{
  int64_t n, c, s;
  bn_dims(x, &n, &c, &s);
  return lc_cuda_malloc(lc_cuda_batchnorm_workspace(x->dtype, n, c, s));
}

static void cuda_batchnorm_forward_train(const lc_tensor *x, const lc_tensor *gamma,
                                         const lc_tensor *beta, lc_tensor *running_mean,
                                         lc_tensor *running_var, double momentum, double eps,
                                         lc_tensor *y, lc_tensor *save_mean,
                                         lc_tensor *save_invstd)
{
  int64_t n, c, s;
  bn_dims(x, &n, &c, &s);
  if (n * s <= 1) /* checked before anything is queued, with the CPU's message */
    lc_error("batch_norm: training needs more than one value per channel, got input of shape %s",
             lc_shape_str(x));
  void *ws = bn_workspace(x);
  int st = lc_cuda_batchnorm_forward_train(x->dtype, n, c, s, DATA(x), OPT(gamma), OPT(beta),
                                  OPT(running_mean), OPT(running_var), momentum, eps, DATA(y),
                                  DATA(save_mean), DATA(save_invstd), ws, lc_cuda_stream());
  lc_cuda_free(ws);
  lc_cuda_check_kernel(st, "batch_norm");
}

static void cuda_batchnorm_forward_eval(const lc_tensor *x, const lc_tensor *gamma,
                                        const lc_tensor *beta, const lc_tensor *running_mean,
                                        const lc_tensor *running_var, double eps, lc_tensor *y)
{
  int64_t n, c, s;
  bn_dims(x, &n, &c, &s);
  void *ws = bn_workspace(x);
  int st = lc_cuda_batchnorm_forward_eval(x->dtype, n, c, s, DATA(x), OPT(gamma), OPT(beta),
                                 DATA(running_mean), DATA(running_var), eps, DATA(y), ws,
                                 lc_cuda_stream());
  lc_cuda_free(ws);
  lc_cuda_check_kernel(st, "batch_norm");
}

static void cuda_batchnorm_backward_train(const lc_tensor *x, const lc_tensor *dy,
                                          const lc_tensor *gamma, const lc_tensor *save_mean,
                                          const lc_tensor *save_invstd, lc_tensor *dx,
                                          lc_tensor *dgamma, lc_tensor *dbeta)
{
  int64_t n, c, s;
  bn_dims(x, &n, &c, &s);
  void *ws = bn_workspace(x);
  int st = lc_cuda_batchnorm_backward_train(x->dtype, n, c, s, DATA(x), DATA(dy), OPT(gamma),
                                   DATA(save_mean), DATA(save_invstd), OPT(dx), OPT(dgamma),
                                   OPT(dbeta), ws, lc_cuda_stream());
  lc_cuda_free(ws);
  lc_cuda_check_kernel(st, "batch_norm backward");
}

static void cuda_batchnorm_backward_eval(const lc_tensor *x, const lc_tensor *dy,
                                         const lc_tensor *gamma, const lc_tensor *running_mean,
                                         const lc_tensor *running_var, double eps,
                                         lc_tensor *dx, lc_tensor *dgamma, lc_tensor *dbeta)
{
  int64_t n, c, s;
  bn_dims(x, &n, &c, &s);
  void *ws = bn_workspace(x);
  int st = lc_cuda_batchnorm_backward_eval(x->dtype, n, c, s, DATA(x), DATA(dy), OPT(gamma),
                                  DATA(running_mean), DATA(running_var), eps, OPT(dx), OPT(dgamma),
                                  OPT(dbeta), ws, lc_cuda_stream());
  lc_cuda_free(ws);
  lc_cuda_check_kernel(st, "batch_norm backward");
}

/* ---- softmax, cross-entropy ---- */

static void cuda_log_softmax_forward(const lc_tensor *x, lc_tensor *y)
{
  int st = lc_cuda_log_softmax_forward(x->dtype, x->sizes[0], x->sizes[1], DATA(x), DATA(y), lc_cuda_stream());
  lc_cuda_check_kernel(st, "log_softmax");
}

static void cuda_log_softmax_backward(const lc_tensor *y, const lc_tensor *dy, lc_tensor *dx)
{
  int st = lc_cuda_log_softmax_backward(y->dtype, y->sizes[0], y->sizes[1], DATA(y), DATA(dy), DATA(dx),
                               lc_cuda_stream());
  lc_cuda_check_kernel(st, "log_softmax backward");
}

/* Targets are not checked here (that would wait for the GPU): a bad one gives a NaN loss. */
static int cuda_cross_entropy_forward(const lc_tensor *logits, const lc_tensor *targets,
                                      double smoothing, lc_tensor *loss, int64_t *bad_row)
{
  int st = lc_cuda_cross_entropy_forward(logits->dtype, logits->sizes[0], logits->sizes[1], DATA(logits),
                                (const int64_t *)DATA(targets), smoothing, DATA(loss),
                                lc_cuda_stream());
  lc_cuda_check_kernel(st, "cross_entropy");
  return 0;
}

static int cuda_cross_entropy_backward(const lc_tensor *logits, const lc_tensor *targets,
                                       double smoothing, const lc_tensor *dloss,
                                       lc_tensor *dlogits, int64_t *bad_row)
{
  int st = lc_cuda_cross_entropy_backward(logits->dtype, logits->sizes[0], logits->sizes[1], DATA(logits),
                                 (const int64_t *)DATA(targets), smoothing, DATA(dloss),
                                 dloss->ndim > 0 ? dloss->strides[0] : 0, DATA(dlogits),
                                 lc_cuda_stream());
  lc_cuda_check_kernel(st, "cross_entropy backward");
  return 0;
}

/* ---- optimizers: the parameters of each dtype go in groups of LC_CUDA_MT_MAX_TENSORS, one
 * launch per group (so one launch for most networks) ---- */

typedef struct {
  int count;
  int64_t numel[LC_CUDA_MT_MAX_TENSORS];
  void *p[LC_CUDA_MT_MAX_TENSORS];
  const void *g[LC_CUDA_MT_MAX_TENSORS];
  void *s1[LC_CUDA_MT_MAX_TENSORS], *s2[LC_CUDA_MT_MAX_TENSORS], *s3[LC_CUDA_MT_MAX_TENSORS];
} mt_group;

static void mt_add(mt_group *g, const lc_tensor *p, const lc_tensor *grad, const lc_tensor *s1,
                   const lc_tensor *s2, const lc_tensor *s3)
{
  int k = g->count++;
  g->numel[k] = lc_numel(p);
  g->p[k] = DATA(p);
  g->g[k] = DATA(grad);
  g->s1[k] = OPT(s1);
  g->s2[k] = OPT(s2);
  g->s3[k] = OPT(s3);
}

static void sgd_flush(lc_dtype dtype, mt_group *g, const lc_sgd_params *h, int first_step)
{
  if (!g->count) return;
  int st = lc_cuda_sgd_step(dtype, g->count, g->numel, g->p, g->g, g->s1, h, first_step, lc_cuda_stream());
  lc_cuda_check_kernel(st, "sgd step");
  g->count = 0;
}

static void cuda_sgd_step(int n, lc_tensor *const *params, lc_tensor *const *grads,
                          lc_tensor *const *bufs, const lc_sgd_params *h, int first_step)
{
  static const lc_dtype dtypes[2] = {LC_FLOAT32, LC_FLOAT64};
  for (int d = 0; d < 2; d++) {
    mt_group g;
    g.count = 0;
    for (int i = 0; i < n; i++) {
      if (params[i]->dtype != dtypes[d]) continue;
      mt_add(&g, params[i], grads[i], bufs ? bufs[i] : NULL, NULL, NULL);
      if (g.count == LC_CUDA_MT_MAX_TENSORS) sgd_flush(dtypes[d], &g, h, first_step);
    }
    sgd_flush(dtypes[d], &g, h, first_step);
  }
}

static void adam_flush(lc_dtype dtype, mt_group *g, const lc_adam_params *h)
{
  if (!g->count) return;
  int st = lc_cuda_adam_step(dtype, g->count, g->numel, g->p, g->g, g->s1, g->s2, g->s3, h, lc_cuda_stream());
  lc_cuda_check_kernel(st, "adam step");
  g->count = 0;
}

static void cuda_adam_step(int n, lc_tensor *const *params, lc_tensor *const *grads,
                           lc_tensor *const *exp_avg, lc_tensor *const *exp_avg_sq,
                           lc_tensor *const *max_sq, const lc_adam_params *h)
{
  static const lc_dtype dtypes[2] = {LC_FLOAT32, LC_FLOAT64};
  for (int d = 0; d < 2; d++) {
    mt_group g;
    g.count = 0;
    for (int i = 0; i < n; i++) {
      if (params[i]->dtype != dtypes[d]) continue;
      mt_add(&g, params[i], grads[i], exp_avg[i], exp_avg_sq[i], max_sq ? max_sq[i] : NULL);
      if (g.count == LC_CUDA_MT_MAX_TENSORS) adam_flush(dtypes[d], &g, h);
    }
    adam_flush(dtypes[d], &g, h);
  }
}

/* ---- images ---- */

static void cuda_resize_bilinear_u8(const lc_tensor *src, lc_tensor *dst)
{
  int64_t planes = src->sizes[0] * src->sizes[1];
  int64_t h = src->sizes[2], w = src->sizes[3], oh = dst->sizes[2], ow = dst->sizes[3];
  size_t bytes = lc_cuda_resize_bilinear_u8_workspace(planes, h, w, oh, ow);
  void *ws = bytes ? lc_cuda_malloc(bytes) : NULL;
  int code = lc_cuda_resize_bilinear_u8(planes, h, w, oh, ow, (const uint8_t *)DATA(src),
                                        (uint8_t *)DATA(dst), ws, lc_cuda_stream());
  lc_cuda_free(ws);
  if (code > 0 || code <= LC_CUDA_EDTYPE) lc_cuda_check_kernel(code, "resize");
  if (code != LC_IMAGE_OK)
    lc_error("resize: could not resize %s to (%lld, %lld) (code %d)", lc_shape_str(src),
             (long long)oh, (long long)ow, code);
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
  .conv2d_forward = cuda_conv2d_forward,
  .conv2d_backward_data = cuda_conv2d_backward_data,
  .conv2d_backward_weight = cuda_conv2d_backward_weight,
  .max_pool2d_forward = cuda_max_pool2d_forward,
  .max_pool2d_backward = cuda_max_pool2d_backward,
  .avg_pool2d_forward = cuda_avg_pool2d_forward,
  .avg_pool2d_backward = cuda_avg_pool2d_backward,
  .adaptive_avg_pool2d_forward = cuda_adaptive_avg_pool2d_forward,
  .adaptive_avg_pool2d_backward = cuda_adaptive_avg_pool2d_backward,
  .batchnorm_forward_train = cuda_batchnorm_forward_train,
  .batchnorm_forward_eval = cuda_batchnorm_forward_eval,
  .batchnorm_backward_train = cuda_batchnorm_backward_train,
  .batchnorm_backward_eval = cuda_batchnorm_backward_eval,
  .log_softmax_forward = cuda_log_softmax_forward,
  .log_softmax_backward = cuda_log_softmax_backward,
  .cross_entropy_forward = cuda_cross_entropy_forward,
  .cross_entropy_backward = cuda_cross_entropy_backward,
  .sgd_step = cuda_sgd_step,
  .adam_step = cuda_adam_step,
  .resize_bilinear_u8 = cuda_resize_bilinear_u8,
};

const lc_backend *lc_backend_cuda_impl(void)
{
  return lc_cuda_probe() > 0 ? &cuda_backend : NULL;
}
