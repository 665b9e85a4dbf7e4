/* The CUDA backend's neural-network entries: tensors unpacked for runtime/cuda/nn_cuda.h, with
 * workspaces from the caching allocator. Each workspace is freed right after its launches
 * are queued: the allocator is stream-ordered, so the block is only reused by later work. */
#include "runtime/cuda/backend_cuda_nn.h"

#include "kernels/common/batchnorm.h"
#include "kernels/common/image.h"
#include "runtime/cuda/context.h"
#include "runtime/cuda/nn_cuda.h"

#define DATA(t) lc_data(t)
#define OPT(t) ((t) ? lc_data(t) : NULL)

static void check_conv(const char *op, int code)
{
  if (code != LC_CONV_OK) lc_error("%s: %s", op, lc_conv2d_strerror(code));
}

void lc_cuda_backend_conv2d_forward(const lc_conv2d_shape *s, const lc_tensor *x, const lc_tensor *w,
                                    const lc_tensor *bias, lc_tensor *y)
{
  check_conv("conv2d", lc_cuda_conv2d_forward(x->dtype, s, DATA(x), DATA(w), OPT(bias), DATA(y)));
}

void lc_cuda_backend_conv2d_backward_data(const lc_conv2d_shape *s, const lc_tensor *dy,
                                          const lc_tensor *w, lc_tensor *dx)
{
  check_conv("conv2d backward", lc_cuda_conv2d_backward_data(dy->dtype, s, DATA(dy), DATA(w), DATA(dx)));
}

void lc_cuda_backend_conv2d_backward_weight(const lc_conv2d_shape *s, const lc_tensor *x,
                                            const lc_tensor *dy, lc_tensor *dw, lc_tensor *dbias)
{
  check_conv("conv2d backward",
             lc_cuda_conv2d_backward_weight(x->dtype, s, DATA(x), DATA(dy), DATA(dw), OPT(dbias)));
}

void lc_cuda_backend_max_pool2d_forward(const lc_pool2d_shape *s, const lc_tensor *x, lc_tensor *y,
                                        lc_tensor *indices)
{
  int st = lc_cuda_max_pool2d_forward(x->dtype, s, DATA(x), DATA(y), indices ? (int64_t *)DATA(indices) : NULL,
                             lc_cuda_stream());
  lc_cuda_check_kernel(st, "max_pool2d");
}

void lc_cuda_backend_max_pool2d_backward(const lc_pool2d_shape *s, const lc_tensor *dy,
                                         const lc_tensor *indices, lc_tensor *dx)
{
  int st = lc_cuda_max_pool2d_backward(dy->dtype, s, DATA(dy), (const int64_t *)DATA(indices), DATA(dx),
                              lc_cuda_stream());
  lc_cuda_check_kernel(st, "max_pool2d backward");
}

void lc_cuda_backend_avg_pool2d_forward(const lc_pool2d_shape *s, int count_include_pad,
                                        int64_t divisor, const lc_tensor *x, lc_tensor *y)
{
  int st = lc_cuda_avg_pool2d_forward(x->dtype, s, count_include_pad, divisor, DATA(x), DATA(y),
                             lc_cuda_stream());
  lc_cuda_check_kernel(st, "avg_pool2d");
}

void lc_cuda_backend_avg_pool2d_backward(const lc_pool2d_shape *s, int count_include_pad,
                                         int64_t divisor, const lc_tensor *dy, lc_tensor *dx)
{
  int st = lc_cuda_avg_pool2d_backward(dy->dtype, s, count_include_pad, divisor, DATA(dy), DATA(dx),
                              lc_cuda_stream());
  lc_cuda_check_kernel(st, "avg_pool2d backward");
}

void lc_cuda_backend_adaptive_avg_pool2d_forward(const lc_tensor *x, lc_tensor *y)
{
  int st = lc_cuda_adaptive_avg_pool2d_forward(x->dtype, x->sizes[0] * x->sizes[1], x->sizes[2], x->sizes[3],
                                      y->sizes[2], y->sizes[3], DATA(x), DATA(y), lc_cuda_stream());
  lc_cuda_check_kernel(st, "adaptive_avg_pool2d");
}

void lc_cuda_backend_adaptive_avg_pool2d_backward(const lc_tensor *dy, lc_tensor *dx)
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

void lc_cuda_backend_batchnorm_forward_train(const lc_tensor *x, const lc_tensor *gamma,
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

void lc_cuda_backend_batchnorm_forward_eval(const lc_tensor *x, const lc_tensor *gamma,
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

void lc_cuda_backend_batchnorm_backward_train(const lc_tensor *x, const lc_tensor *dy,
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

void lc_cuda_backend_batchnorm_backward_eval(const lc_tensor *x, const lc_tensor *dy,
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

void lc_cuda_backend_log_softmax_forward(const lc_tensor *x, lc_tensor *y)
{
  int st = lc_cuda_log_softmax_forward(x->dtype, x->sizes[0], x->sizes[1], DATA(x), DATA(y), lc_cuda_stream());
  lc_cuda_check_kernel(st, "log_softmax");
}

void lc_cuda_backend_log_softmax_backward(const lc_tensor *y, const lc_tensor *dy, lc_tensor *dx)
{
  int st = lc_cuda_log_softmax_backward(y->dtype, y->sizes[0], y->sizes[1], DATA(y), DATA(dy), DATA(dx),
                               lc_cuda_stream());
  lc_cuda_check_kernel(st, "log_softmax backward");
}

/* Targets are not checked here (that would wait for the GPU): a bad one gives a NaN loss. */
int lc_cuda_backend_cross_entropy_forward(const lc_tensor *logits, const lc_tensor *targets,
                                          double smoothing, lc_tensor *loss, int64_t *bad_row)
{
  int st = lc_cuda_cross_entropy_forward(logits->dtype, logits->sizes[0], logits->sizes[1], DATA(logits),
                                (const int64_t *)DATA(targets), smoothing, DATA(loss),
                                lc_cuda_stream());
  lc_cuda_check_kernel(st, "cross_entropy");
  return 0;
}

int lc_cuda_backend_cross_entropy_backward(const lc_tensor *logits, const lc_tensor *targets,
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

void lc_cuda_backend_sgd_step(int n, lc_tensor *const *params, lc_tensor *const *grads,
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

void lc_cuda_backend_adam_step(int n, lc_tensor *const *params, lc_tensor *const *grads,
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

void lc_cuda_backend_resize_bilinear_u8(const lc_tensor *src, lc_tensor *dst)
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
