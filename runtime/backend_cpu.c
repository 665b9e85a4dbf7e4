/* The CPU backend: unpacks tensors into pointers and strides for kernels/cpu. Each vtable
 * entry is a static function here: the device's whole adapter tier in one file. */
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kernels/common/philox.h"
#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/elementwise_contig.h"
#include "kernels/cpu/image.h"
#include "kernels/cpu/loss.h"
#include "kernels/cpu/maxpool_fast.h"
#include "kernels/cpu/optim.h"
#include "kernels/cpu/pool.h"
#include "kernels/cpu/reduce.h"
#include "runtime/backend.h"
#include "runtime/conv_cpu_select.h"
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

/* The runtime widens bfloat16 to float32 around every op (lc_widen_bf16); one reaching a
 * computing kernel here is a runtime bug, refused rather than misread as float64. */
static const lc_tensor *computable(const char *op, const lc_tensor *t)
{
  if (t && t->dtype == LC_BFLOAT16)
    lc_error("%s: internal error: a bfloat16 tensor reached a CPU kernel unwidened", op);
  return t;
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
  computable("unary op", a);
  lc_cpu_unary(op, a->dtype, out->ndim, out->sizes, operand(out), operand(a), s0, s1);
}

static void cpu_binary(lc_binary_op op, lc_tensor *out, const lc_tensor *a, const lc_tensor *b)
{
  computable("binary op", a);
  computable("binary op", b);
  lc_cpu_binary(op, a->dtype, out->ndim, out->sizes, operand(out), operand(a), operand(b));
}

static void cpu_where(lc_tensor *out, const lc_tensor *cond, const lc_tensor *a, const lc_tensor *b)
{
  computable("where", out);
  lc_cpu_where(out->dtype, out->ndim, out->sizes, operand(out), operand(cond), operand(a), operand(b));
}

static void cpu_reduce(lc_reduce_op op, lc_tensor *out, lc_tensor *indices, const lc_tensor *a, int nred)
{
  computable("reduction", a);
  lc_cpu_reduce(op, a->dtype, a->ndim, a->sizes, a->strides, nred, lc_data(a), lc_data(out),
                indices ? (int64_t *)lc_data(indices) : NULL);
}

static void cpu_matmul(lc_tensor *c, const lc_tensor *a, const lc_tensor *b)
{
  computable("matmul", c);
  int batched = a->ndim == 3;
  int64_t batch = batched ? a->sizes[0] : 1;
  int r = batched ? 1 : 0;
  int64_t m = a->sizes[r], k = a->sizes[r + 1], n = b->sizes[r + 1];
  int ta, tb;
  int64_t lda, ldb;
  lc_blas_operand(a, r, r + 1, &ta, &lda);
  lc_blas_operand(b, r, r + 1, &tb, &ldb);
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

/* ---- neural-network layers: tensors unpacked for kernels/cpu ---- */

#define F32(t) ((float *)lc_data(t))
#define F64(t) ((double *)lc_data(computable("layer kernel", t)))
#define OPT_F32(t) ((t) ? F32(t) : NULL)
#define OPT_F64(t) ((t) ? F64(t) : NULL)
#define I64(t) ((int64_t *)lc_data(t))

/* The CPU backend's own state, all of it, in one place (the GPU's is lc_cuda_context,
 * runtime/cuda/context.h; the other CPU choices are listed in docs/architecture.md). One
 * instance: one thread drives the runtime at a time. */
static struct {
  /* One scratch buffer reused across convolutions, grown on demand and never shrunk: im2col
   * columns for LeNet-sized layers are megabytes, and allocating them every call costs page
   * faults. */
  void *conv_scratch;
  size_t conv_scratch_bytes;
} cpu_ctx;

static void *conv_scratch(const lc_conv2d_shape *s, size_t elem, size_t *bytes)
{
  size_t need = lc_conv2d_scratch_bytes(s, elem);
  if (need > cpu_ctx.conv_scratch_bytes) {
    free(cpu_ctx.conv_scratch);
    cpu_ctx.conv_scratch = malloc(need);
    cpu_ctx.conv_scratch_bytes = cpu_ctx.conv_scratch ? need : 0;
    if (!cpu_ctx.conv_scratch) lc_error("conv2d: out of memory for %zu bytes of scratch", need);
  }
  *bytes = cpu_ctx.conv_scratch_bytes;
  return cpu_ctx.conv_scratch;
}

static void check_conv(int code)
{
  if (code != LC_CONV_OK) lc_error("conv2d: %s", lc_conv2d_strerror(code));
}

static void cpu_conv2d_forward(const lc_conv2d_shape *s, const lc_tensor *x, const lc_tensor *w,
                               const lc_tensor *bias, lc_tensor *y)
{
  size_t bytes;
  void *scratch = conv_scratch(s, lc_dtype_size(x->dtype), &bytes);
  if (x->dtype == LC_FLOAT32)
    check_conv(lc_cpu_conv2d_forward_f32(s, F32(x), F32(w), OPT_F32(bias), F32(y), scratch, bytes));
  else
    check_conv(lc_conv2d_forward_f64(s, F64(x), F64(w), OPT_F64(bias), F64(y), scratch, bytes));
}

static void cpu_conv2d_backward_data(const lc_conv2d_shape *s, const lc_tensor *dy, const lc_tensor *w,
                                     lc_tensor *dx)
{
  size_t bytes;
  void *scratch = conv_scratch(s, lc_dtype_size(dy->dtype), &bytes);
  if (dy->dtype == LC_FLOAT32)
    check_conv(lc_cpu_conv2d_backward_data_f32(s, F32(dy), F32(w), F32(dx), scratch, bytes));
  else
    check_conv(lc_conv2d_backward_data_f64(s, F64(dy), F64(w), F64(dx), scratch, bytes));
}

static void cpu_conv2d_backward_weight(const lc_conv2d_shape *s, const lc_tensor *x, const lc_tensor *dy,
                                       lc_tensor *dw, lc_tensor *dbias)
{
  size_t bytes;
  void *scratch = conv_scratch(s, lc_dtype_size(x->dtype), &bytes);
  if (x->dtype == LC_FLOAT32)
    check_conv(lc_cpu_conv2d_backward_weight_f32(s, F32(x), F32(dy), F32(dw), OPT_F32(dbias), scratch, bytes));
  else
    check_conv(lc_conv2d_backward_weight_f64(s, F64(x), F64(dy), F64(dw), OPT_F64(dbias), scratch, bytes));
}

static void cpu_max_pool2d_forward(const lc_pool2d_shape *s, const lc_tensor *x, lc_tensor *y, lc_tensor *indices)
{
  if (x->dtype == LC_FLOAT32) {
    if (!lc_max_pool2d_forward_fast_f32(s, F32(x), F32(y), I64(indices)))
      lc_max_pool2d_forward_f32(s, F32(x), F32(y), I64(indices));
  }
  else lc_max_pool2d_forward_f64(s, F64(x), F64(y), I64(indices));
}

static void cpu_max_pool2d_backward(const lc_pool2d_shape *s, const lc_tensor *dy, const lc_tensor *indices,
                                    lc_tensor *dx)
{
  if (dy->dtype == LC_FLOAT32) lc_max_pool2d_backward_f32(s, F32(dy), I64(indices), F32(dx));
  else lc_max_pool2d_backward_f64(s, F64(dy), I64(indices), F64(dx));
}

static void cpu_avg_pool2d_forward(const lc_pool2d_shape *s, int count_include_pad, int64_t divisor,
                                   const lc_tensor *x, lc_tensor *y)
{
  if (x->dtype == LC_FLOAT32) lc_avg_pool2d_forward_f32(s, count_include_pad, divisor, F32(x), F32(y));
  else lc_avg_pool2d_forward_f64(s, count_include_pad, divisor, F64(x), F64(y));
}

static void cpu_avg_pool2d_backward(const lc_pool2d_shape *s, int count_include_pad, int64_t divisor,
                                    const lc_tensor *dy, lc_tensor *dx)
{
  if (dy->dtype == LC_FLOAT32) lc_avg_pool2d_backward_f32(s, count_include_pad, divisor, F32(dy), F32(dx));
  else lc_avg_pool2d_backward_f64(s, count_include_pad, divisor, F64(dy), F64(dx));
}

static void cpu_adaptive_avg_pool2d_forward(const lc_tensor *x, lc_tensor *y)
{
  int64_t planes = x->sizes[0] * x->sizes[1];
  if (x->dtype == LC_FLOAT32)
    lc_adaptive_avg_pool2d_forward_f32(planes, x->sizes[2], x->sizes[3], y->sizes[2], y->sizes[3], F32(x), F32(y));
  else
    lc_adaptive_avg_pool2d_forward_f64(planes, x->sizes[2], x->sizes[3], y->sizes[2], y->sizes[3], F64(x), F64(y));
}

static void cpu_adaptive_avg_pool2d_backward(const lc_tensor *dy, lc_tensor *dx)
{
  int64_t planes = dx->sizes[0] * dx->sizes[1];
  if (dy->dtype == LC_FLOAT32)
    lc_adaptive_avg_pool2d_backward_f32(planes, dx->sizes[2], dx->sizes[3], dy->sizes[2], dy->sizes[3], F32(dy), F32(dx));
  else
    lc_adaptive_avg_pool2d_backward_f64(planes, dx->sizes[2], dx->sizes[3], dy->sizes[2], dy->sizes[3], F64(dy), F64(dx));
}

/* (N, C, S) view of a batch-norm input */
static void bn_dims(const lc_tensor *x, int64_t *n, int64_t *c, int64_t *s)
{
  *n = x->sizes[0];
  *c = x->sizes[1];
  *s = 1;
  for (int d = 2; d < x->ndim; d++) *s *= x->sizes[d];
}

static void cpu_batchnorm_forward_train(const lc_tensor *x, const lc_tensor *gamma, const lc_tensor *beta,
                                        lc_tensor *running_mean, lc_tensor *running_var, double momentum,
                                        double eps, lc_tensor *y, lc_tensor *save_mean, lc_tensor *save_invstd)
{
  int64_t n, c, s;
  bn_dims(x, &n, &c, &s);
  int code;
  if (x->dtype == LC_FLOAT32)
    code = lc_batchnorm_forward_train_f32(n, c, s, F32(x), OPT_F32(gamma), OPT_F32(beta), OPT_F32(running_mean),
                                          OPT_F32(running_var), momentum, eps, F32(y), F32(save_mean), F32(save_invstd));
  else
    code = lc_batchnorm_forward_train_f64(n, c, s, F64(x), OPT_F64(gamma), OPT_F64(beta), OPT_F64(running_mean),
                                          OPT_F64(running_var), momentum, eps, F64(y), F64(save_mean), F64(save_invstd));
  if (code != 0) lc_error("batch_norm: training needs more than one value per channel, got input of shape %s", lc_shape_str(x));
}

static void cpu_batchnorm_forward_eval(const lc_tensor *x, const lc_tensor *gamma, const lc_tensor *beta,
                                       const lc_tensor *running_mean, const lc_tensor *running_var, double eps,
                                       lc_tensor *y)
{
  int64_t n, c, s;
  bn_dims(x, &n, &c, &s);
  if (x->dtype == LC_FLOAT32)
    lc_batchnorm_forward_eval_f32(n, c, s, F32(x), OPT_F32(gamma), OPT_F32(beta), F32(running_mean),
                                  F32(running_var), eps, F32(y));
  else
    lc_batchnorm_forward_eval_f64(n, c, s, F64(x), OPT_F64(gamma), OPT_F64(beta), F64(running_mean),
                                  F64(running_var), eps, F64(y));
}

static void cpu_batchnorm_backward_train(const lc_tensor *x, const lc_tensor *dy, const lc_tensor *gamma,
                                         const lc_tensor *save_mean, const lc_tensor *save_invstd, lc_tensor *dx,
                                         lc_tensor *dgamma, lc_tensor *dbeta)
{
  int64_t n, c, s;
  bn_dims(x, &n, &c, &s);
  if (x->dtype == LC_FLOAT32)
    lc_batchnorm_backward_train_f32(n, c, s, F32(x), F32(dy), OPT_F32(gamma), F32(save_mean), F32(save_invstd),
                                    OPT_F32(dx), OPT_F32(dgamma), OPT_F32(dbeta));
  else
    lc_batchnorm_backward_train_f64(n, c, s, F64(x), F64(dy), OPT_F64(gamma), F64(save_mean), F64(save_invstd),
                                    OPT_F64(dx), OPT_F64(dgamma), OPT_F64(dbeta));
}

static void cpu_batchnorm_backward_eval(const lc_tensor *x, const lc_tensor *dy, const lc_tensor *gamma,
                                        const lc_tensor *running_mean, const lc_tensor *running_var, double eps,
                                        lc_tensor *dx, lc_tensor *dgamma, lc_tensor *dbeta)
{
  int64_t n, c, s;
  bn_dims(x, &n, &c, &s);
  if (x->dtype == LC_FLOAT32)
    lc_batchnorm_backward_eval_f32(n, c, s, F32(x), F32(dy), OPT_F32(gamma), F32(running_mean), F32(running_var),
                                   eps, OPT_F32(dx), OPT_F32(dgamma), OPT_F32(dbeta));
  else
    lc_batchnorm_backward_eval_f64(n, c, s, F64(x), F64(dy), OPT_F64(gamma), F64(running_mean), F64(running_var),
                                   eps, OPT_F64(dx), OPT_F64(dgamma), OPT_F64(dbeta));
}

static void cpu_log_softmax_forward(const lc_tensor *x, lc_tensor *y)
{
  if (x->dtype == LC_FLOAT32) lc_log_softmax_forward_f32(x->sizes[0], x->sizes[1], F32(x), F32(y));
  else lc_log_softmax_forward_f64(x->sizes[0], x->sizes[1], F64(x), F64(y));
}

static void cpu_log_softmax_backward(const lc_tensor *y, const lc_tensor *dy, lc_tensor *dx)
{
  if (y->dtype == LC_FLOAT32) lc_log_softmax_backward_f32(y->sizes[0], y->sizes[1], F32(y), F32(dy), F32(dx));
  else lc_log_softmax_backward_f64(y->sizes[0], y->sizes[1], F64(y), F64(dy), F64(dx));
}

static int cpu_cross_entropy_forward(const lc_tensor *logits, const lc_tensor *targets, double smoothing,
                                     lc_tensor *loss, int64_t *bad_row)
{
  int64_t rows = logits->sizes[0], classes = logits->sizes[1];
  if (logits->dtype == LC_FLOAT32)
    return lc_cross_entropy_forward_f32(rows, classes, F32(logits), I64(targets), smoothing, F32(loss), bad_row);
  return lc_cross_entropy_forward_f64(rows, classes, F64(logits), I64(targets), smoothing, F64(loss), bad_row);
}

static int cpu_cross_entropy_backward(const lc_tensor *logits, const lc_tensor *targets, double smoothing,
                                      const lc_tensor *dloss, lc_tensor *dlogits, int64_t *bad_row)
{
  int64_t rows = logits->sizes[0], classes = logits->sizes[1];
  int64_t stride = dloss->strides[0];
  if (logits->dtype == LC_FLOAT32)
    return lc_cross_entropy_backward_f32(rows, classes, F32(logits), I64(targets), smoothing, F32(dloss), stride,
                                         F32(dlogits), bad_row);
  return lc_cross_entropy_backward_f64(rows, classes, F64(logits), I64(targets), smoothing, F64(dloss), stride,
                                       F64(dlogits), bad_row);
}

static void cpu_sgd_step(int n, lc_tensor *const *params, lc_tensor *const *grads, lc_tensor *const *bufs,
                         const lc_sgd_params *h, int first_step)
{
  for (int i = 0; i < n; i++) {
    int64_t count = lc_numel(params[i]);
    if (params[i]->dtype == LC_FLOAT32)
      lc_sgd_step_f32(count, F32(params[i]), F32(grads[i]), bufs && bufs[i] ? F32(bufs[i]) : NULL, h, first_step);
    else
      lc_sgd_step_f64(count, F64(params[i]), F64(grads[i]), bufs && bufs[i] ? F64(bufs[i]) : NULL, h, first_step);
  }
}

static void cpu_adam_step(int n, lc_tensor *const *params, lc_tensor *const *grads, lc_tensor *const *exp_avg,
                          lc_tensor *const *exp_avg_sq, lc_tensor *const *max_sq, const lc_adam_params *h)
{
  for (int i = 0; i < n; i++) {
    int64_t count = lc_numel(params[i]);
    lc_tensor *m = max_sq ? max_sq[i] : NULL;
    if (params[i]->dtype == LC_FLOAT32)
      lc_adam_step_f32(count, F32(params[i]), F32(grads[i]), F32(exp_avg[i]), F32(exp_avg_sq[i]), OPT_F32(m), h);
    else
      lc_adam_step_f64(count, F64(params[i]), F64(grads[i]), F64(exp_avg[i]), F64(exp_avg_sq[i]), OPT_F64(m), h);
  }
}

static void cpu_resize_bilinear_u8(const lc_tensor *src, lc_tensor *dst)
{
  int64_t planes = src->sizes[0] * src->sizes[1];
  int code = lc_resize_bilinear_u8(planes, src->sizes[2], src->sizes[3], dst->sizes[2], dst->sizes[3],
                                   (const uint8_t *)lc_data(src), (uint8_t *)lc_data(dst));
  if (code != 0) lc_error("resize: could not resize %s to (%lld, %lld) (code %d)", lc_shape_str(src),
                          (long long)dst->sizes[2], (long long)dst->sizes[3], code);
}

/* One pass, on one thread below a few batches of images: the loop is bound by memory, and a
 * second thread costs more to wake than it saves there. */
#define BYTES_TO_UNIT_CHUNK ((int64_t)1 << 22)

static void cpu_bytes_to_unit(const lc_tensor *src, lc_tensor *dst)
{
  int64_t n = lc_numel(src), chunks = (n + BYTES_TO_UNIT_CHUNK - 1) / BYTES_TO_UNIT_CHUNK;
  const uint8_t *a = lc_data(src);
  float *o = F32(dst);
#pragma omp parallel for if (chunks > 1)
  for (int64_t c = 0; c < chunks; c++) {
    int64_t start = c * BYTES_TO_UNIT_CHUNK;
    int64_t len = n - start < BYTES_TO_UNIT_CHUNK ? n - start : BYTES_TO_UNIT_CHUNK;
    lc_cpu_u8_to_unit_f32(len, o + start, a + start);
  }
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
  .conv2d_forward = cpu_conv2d_forward,
  .conv2d_backward_data = cpu_conv2d_backward_data,
  .conv2d_backward_weight = cpu_conv2d_backward_weight,
  .max_pool2d_forward = cpu_max_pool2d_forward,
  .max_pool2d_backward = cpu_max_pool2d_backward,
  .avg_pool2d_forward = cpu_avg_pool2d_forward,
  .avg_pool2d_backward = cpu_avg_pool2d_backward,
  .adaptive_avg_pool2d_forward = cpu_adaptive_avg_pool2d_forward,
  .adaptive_avg_pool2d_backward = cpu_adaptive_avg_pool2d_backward,
  .batchnorm_forward_train = cpu_batchnorm_forward_train,
  .batchnorm_forward_eval = cpu_batchnorm_forward_eval,
  .batchnorm_backward_train = cpu_batchnorm_backward_train,
  .batchnorm_backward_eval = cpu_batchnorm_backward_eval,
  .log_softmax_forward = cpu_log_softmax_forward,
  .log_softmax_backward = cpu_log_softmax_backward,
  .cross_entropy_forward = cpu_cross_entropy_forward,
  .cross_entropy_backward = cpu_cross_entropy_backward,
  .sgd_step = cpu_sgd_step,
  .adam_step = cpu_adam_step,
  .resize_bilinear_u8 = cpu_resize_bilinear_u8,
  .bytes_to_unit = cpu_bytes_to_unit,
};

const lc_backend *lc_backend_cpu(void) { return &cpu_backend; }
