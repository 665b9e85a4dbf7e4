/* Layers as differentiable ops: shape checks, allocation, dispatch, and backward
 * nodes that call the same backend's backward kernels. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/ops_nn.h"

static const lc_backend *backend_of(const lc_tensor *t) { return lc_backend_for(t->storage->device); }

/* ---- argument checks ----
 * The one place each layer's arguments are validated (lib/luacnn only turns option tables into
 * these arguments): every message names the op, what was expected and what was given. */

static void require_float(const char *op, const lc_tensor *t, const char *what)
{
  if (!lc_dtype_is_float(t->dtype))
    lc_error("%s: expected a float %s, got %s (convert with :float())", op, what,
             lc_dtype_name(t->dtype));
}

/* t (a weight, a bias, a statistic) must match the input x's dtype and device. */
static void require_same(const char *op, const lc_tensor *x, const lc_tensor *t, const char *what)
{
  if (t->dtype != x->dtype)
    lc_error("%s: input is %s but %s is %s; convert one of them (e.g. :to(\"%s\"))", op,
             lc_dtype_name(x->dtype), what, lc_dtype_name(t->dtype), lc_dtype_name(t->dtype));
  if (!lc_device_equal(x->storage->device, t->storage->device)) {
    char dx[32], dt[32];
    lc_error("%s: input is on %s but %s is on %s; move the model or the input (net:to(device), "
             "x:to(device))", op, lc_device_name(x->storage->device, dx, sizeof dx), what,
             lc_device_name(t->storage->device, dt, sizeof dt));
  }
}

static void require_ndim(const char *op, const lc_tensor *t, int ndim, const char *what)
{
  if (t->ndim != ndim)
    lc_error("%s: expected a %d-D %s, got shape %s", op, ndim, what, lc_shape_str(t));
}

static void require_vector(const char *op, const lc_tensor *t, int64_t n, const char *what)
{
  if (t->ndim != 1 || t->sizes[0] != n)
    lc_error("%s: expected %s of shape (%lld), got %s", op, what, (long long)n, lc_shape_str(t));
}

/* Each of a pair of sizes (kernel, stride, ...) at least min. */
static void require_pair(const char *op, const char *what, const int64_t v[2], int64_t min)
{
  if (v[0] < min || v[1] < min)
    lc_error("%s: %s must be >= %lld, got (%lld, %lld)", op, what, (long long)min,
             (long long)v[0], (long long)v[1]);
}

/* Images: a batch (N, C, H, W), or one image (C, H, W) as in PyTorch, which becomes a batch
 * of one; *unbatched says to squeeze the result (unbatch). A new reference. */
static lc_tensor *batched(const char *op, lc_tensor *x, bool *unbatched)
{
  *unbatched = x->ndim == 3;
  if (x->ndim == 3) return lc_unsqueeze(x, 0);
  if (x->ndim != 4)
    lc_error("%s: expected a 4-D input (N, C, H, W) or a 3-D one (C, H, W), got shape %s", op,
             lc_shape_str(x));
  return lc_tensor_retain(x);
}

static lc_tensor *unbatch(lc_tensor *y, bool unbatched)
{
  if (!unbatched) return y;
  lc_tensor *out = lc_squeeze(y, 0);
  lc_tensor_release(y);
  return out;
}

/* A contiguous version of an input for the kernels (the same tensor when it is). */
static lc_tensor *dense(const lc_tensor *t)
{
  return lc_is_contiguous(t) ? lc_tensor_retain((lc_tensor *)t) : lc_contiguous_copy(t);
}

/* ---- convolution ---- */

/* bfloat16 in: the op runs on float32 copies and its result is rounded back
 * (lc_widen_bf16). t may be NULL. */
static bool is_bf16(const lc_tensor *t) { return t && t->dtype == LC_BFLOAT16; }
static lc_tensor *widen(lc_tensor *t) { return t ? lc_widen_bf16(t) : NULL; }

static void conv_shape(lc_conv2d_shape *s, const lc_node *n)
{
  memcpy(s, &n->i[0], sizeof *s);
}

static void conv2d_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  lc_tensor *x = lc_node_saved(n, 0), *w = lc_node_saved(n, 1);
  lc_conv2d_shape s;
  conv_shape(&s, n);
  lc_tensor *dy = dense(g);
  const lc_backend *be = backend_of(dy);
  if (lc_node_needs(n, 0)) {
    gin[0] = lc_empty_like(x);
    be->conv2d_backward_data(&s, dy, w, gin[0]);
  }
  if (lc_node_needs(n, 1) || lc_node_needs(n, 2)) {
    lc_tensor *dw = lc_empty_like(w);
    lc_tensor *db = n->n_inputs > 2 && lc_node_needs(n, 2)
                        ? lc_empty(1, &s.c_out, w->dtype, w->storage->device) : NULL;
    be->conv2d_backward_weight(&s, x, dy, dw, db);
    if (lc_node_needs(n, 1)) gin[1] = dw;
    else lc_tensor_release(dw);
    if (db) gin[2] = db;
  }
  lc_tensor_release(dy);
}

void lc_conv2d_check(int64_t in_channels, int64_t out_channels, const int64_t kernel[2],
                     lc_conv2d_options *o)
{
  const char *op = "conv2d";
  require_pair(op, "kernel_size", kernel, 1);
  require_pair(op, "stride", o->stride, 1);
  require_pair(op, "dilation", o->dilation, 1);
  if (!o->same) require_pair(op, "padding", o->padding, 0);
  if (o->groups < 1) lc_error("%s: groups must be a positive integer, got %lld", op, (long long)o->groups);
  if (in_channels % o->groups)
    lc_error("%s: in_channels %lld must be divisible by groups %lld", op, (long long)in_channels,
             (long long)o->groups);
  if (out_channels % o->groups)
    lc_error("%s: out_channels %lld must be divisible by groups %lld", op, (long long)out_channels,
             (long long)o->groups);
  if (!o->same) return;
  if (o->stride[0] != 1 || o->stride[1] != 1)
    lc_error("%s: padding='same' needs stride 1, got (%lld, %lld)", op, (long long)o->stride[0],
             (long long)o->stride[1]);
  int64_t th = o->dilation[0] * (kernel[0] - 1), tw = o->dilation[1] * (kernel[1] - 1);
  if (th % 2 || tw % 2)
    lc_error("%s: padding='same' with kernel (%lld, %lld) and dilation (%lld, %lld) needs uneven "
             "padding, which is not supported; pad explicitly", op, (long long)kernel[0],
             (long long)kernel[1], (long long)o->dilation[0], (long long)o->dilation[1]);
  o->padding[0] = th / 2;
  o->padding[1] = tw / 2;
  o->same = false;
}

static lc_tensor *conv2d_batch(lc_tensor *x, lc_tensor *w, lc_tensor *bias,
                               const lc_conv2d_options *opts, const lc_tensor *given)
{
  const char *op = "conv2d";
  require_float(op, x, "input");
  require_ndim(op, w, 4, "weight (out_channels, in_channels/groups, kh, kw)");
  require_same(op, x, w, "weight");
  lc_conv2d_options o = *opts;
  const int64_t kernel[2] = {w->sizes[2], w->sizes[3]};
  lc_conv2d_check(w->sizes[1] * (o.groups > 0 ? o.groups : 1), w->sizes[0], kernel, &o);
  if (x->sizes[1] != w->sizes[1] * o.groups)
    lc_error("%s: expected input with %lld channels, got %lld (input shape %s, weight %s, groups "
             "%lld)", op, (long long)(w->sizes[1] * o.groups), (long long)x->sizes[1],
             lc_shape_str(given), lc_shape_str(w), (long long)o.groups);
  if (bias) {
    require_same(op, x, bias, "bias");
    require_vector(op, bias, w->sizes[0], "a bias");
  }
  int64_t ph = x->sizes[2] + 2 * o.padding[0], pw = x->sizes[3] + 2 * o.padding[1];
  int64_t kh = o.dilation[0] * (kernel[0] - 1) + 1, kw = o.dilation[1] * (kernel[1] - 1) + 1;
  if (ph < kh || pw < kw)
    lc_error("%s: the padded input is %lldx%lld, smaller than the (dilated) kernel %lldx%lld "
             "(input shape %s, padding (%lld, %lld))", op, (long long)ph, (long long)pw,
             (long long)kh, (long long)kw, lc_shape_str(given), (long long)o.padding[0],
             (long long)o.padding[1]);
  lc_conv2d_shape s = {
    .n = x->sizes[0], .c_in = x->sizes[1], .h = x->sizes[2], .w = x->sizes[3],
    .c_out = w->sizes[0], .kh = w->sizes[2], .kw = w->sizes[3],
    .stride_h = o.stride[0], .stride_w = o.stride[1], .pad_h = o.padding[0],
    .pad_w = o.padding[1], .dil_h = o.dilation[0], .dil_w = o.dilation[1], .groups = o.groups,
  };
  int code = lc_conv2d_shape_finish(&s); /* what is left: sizes BLAS cannot index */
  if (code != LC_CONV_OK)
    lc_error("%s: %s (input %s, weight %s, stride (%lld, %lld), padding (%lld, %lld), dilation "
             "(%lld, %lld))", op, lc_conv2d_strerror(code), lc_shape_str(given), lc_shape_str(w),
             (long long)s.stride_h, (long long)s.stride_w, (long long)s.pad_h, (long long)s.pad_w,
             (long long)s.dil_h, (long long)s.dil_w);
  lc_tensor *cx = dense(x), *cw = dense(w), *cb = bias ? dense(bias) : NULL;
  int64_t sizes[4] = {s.n, s.c_out, s.out_h, s.out_w};
  lc_tensor *y = lc_empty(4, sizes, x->dtype, x->storage->device);
  backend_of(x)->conv2d_forward(&s, cx, cw, cb, y);
  lc_tensor *in[3] = {x, w, bias};
  lc_node *node = lc_node_new("Conv2d", conv2d_backward, bias ? 3 : 2, in);
  if (node) {
    memcpy(&node->i[0], &s, sizeof s);
    lc_node_save(node, cx);
    lc_node_save(node, cw);
    lc_attach(y, node);
  }
  lc_tensor_release(cx);
  lc_tensor_release(cw);
  lc_tensor_release(cb);
  return y;
}

lc_tensor *lc_conv2d(lc_tensor *x, lc_tensor *w, lc_tensor *bias, const lc_conv2d_options *o)
{
  if (lc_autocast_active()) { /* autocast: runs narrow */
    lc_autocast_suspend();
    lc_tensor *nx = lc_autocast_narrow(x), *nw = lc_autocast_narrow(w), *nb = lc_autocast_narrow(bias);
    lc_tensor *y = lc_conv2d(nx, nw, nb, o);
    lc_autocast_resume();
    lc_tensor_release(nx);
    lc_tensor_release(nw);
    lc_tensor_release(nb);
    return y;
  }
  if (is_bf16(x) && is_bf16(w) && (!bias || is_bf16(bias))) {
    lc_tensor *wx = widen(x), *ww = widen(w), *wb = widen(bias);
    lc_tensor *y = lc_conv2d(wx, ww, wb, o);
    lc_tensor_release(wx);
    lc_tensor_release(ww);
    lc_tensor_release(wb);
    return lc_narrow_to_bf16(y);
  }
  bool unbatched;
  lc_tensor *x4 = batched("conv2d", x, &unbatched);
  lc_tensor *y = conv2d_batch(x4, w, bias, o, x);
  lc_tensor_release(x4);
  return unbatch(y, unbatched);
}

/* ---- pooling ---- */

void lc_pool2d_check(const char *op, const int64_t kernel[2], const int64_t stride[2],
                     const int64_t padding[2], const int64_t dilation[2])
{
  require_pair(op, "kernel_size", kernel, 1);
  require_pair(op, "stride", stride, 1);
  require_pair(op, "padding", padding, 0);
  require_pair(op, "dilation", dilation, 1);
  if (2 * padding[0] > kernel[0] || 2 * padding[1] > kernel[1])
    lc_error("%s: padding (%lld, %lld) must be at most half the kernel size (%lld, %lld)", op,
             (long long)padding[0], (long long)padding[1], (long long)kernel[0], (long long)kernel[1]);
}

static lc_pool2d_shape pool_shape(const char *op, const lc_tensor *x, const lc_tensor *given,
                                  const int64_t k[2],
                                  const int64_t stride[2], const int64_t pad[2],
                                  const int64_t dil[2], bool ceil_mode, int avg)
{
  require_float(op, x, "input");
  lc_pool2d_check(op, k, stride, pad, dil);
  lc_pool2d_shape s = {
    .n = x->sizes[0], .c = x->sizes[1], .h = x->sizes[2], .w = x->sizes[3],
    .kh = k[0], .kw = k[1], .stride_h = stride[0], .stride_w = stride[1],
    .pad_h = pad[0], .pad_w = pad[1], .dil_h = dil[0], .dil_w = dil[1], .ceil_mode = ceil_mode,
  };
  int64_t oh = lc_pool_out_size(s.h, s.kh, s.stride_h, s.pad_h, s.dil_h, ceil_mode);
  int64_t ow = lc_pool_out_size(s.w, s.kw, s.stride_w, s.pad_w, s.dil_w, ceil_mode);
  if (oh < 1 || ow < 1)
    lc_error("%s: the output would be %lldx%lld: input %s is too small for kernel (%lld, %lld), "
             "stride (%lld, %lld), padding (%lld, %lld)", op, (long long)oh, (long long)ow,
             lc_shape_str(given), (long long)k[0], (long long)k[1], (long long)stride[0],
             (long long)stride[1], (long long)pad[0], (long long)pad[1]);
  int code = lc_pool2d_shape_finish(&s, avg); /* what is left: an empty input */
  if (code != LC_POOL_OK)
    lc_error("%s: %s (input %s, kernel (%lld, %lld), stride (%lld, %lld), padding (%lld, %lld))", op,
             lc_pool2d_strerror(code), lc_shape_str(given), (long long)k[0], (long long)k[1],
             (long long)stride[0], (long long)stride[1], (long long)pad[0], (long long)pad[1]);
  return s;
}

static void max_pool_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  lc_tensor *indices = lc_node_saved(n, 0);
  lc_pool2d_shape s;
  memcpy(&s, &n->i[0], sizeof s);
  lc_tensor *dy = dense(g);
  int64_t sizes[4] = {s.n, s.c, s.h, s.w};
  gin[0] = lc_empty(4, sizes, g->dtype, g->storage->device);
  backend_of(dy)->max_pool2d_backward(&s, dy, indices, gin[0]);
  lc_tensor_release(dy);
}

static lc_tensor *max_pool2d_batch(lc_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                                   const int64_t padding[2], const int64_t dilation[2], bool ceil_mode,
                                   const lc_tensor *given)
{
  lc_pool2d_shape s = pool_shape("max_pool2d", x, given, kernel, stride, padding, dilation, ceil_mode, 0);
  int64_t sizes[4] = {s.n, s.c, s.out_h, s.out_w};
  lc_tensor *cx = dense(x);
  lc_tensor *y = lc_empty(4, sizes, x->dtype, x->storage->device);
  lc_tensor *indices = lc_empty(4, sizes, LC_INT64, x->storage->device);
  backend_of(x)->max_pool2d_forward(&s, cx, y, indices);
  lc_tensor *in[1] = {x};
  lc_node *node = lc_node_new("MaxPool2d", max_pool_backward, 1, in);
  if (node) {
    memcpy(&node->i[0], &s, sizeof s);
    lc_node_save(node, indices);
    lc_attach(y, node);
  }
  lc_tensor_release(indices);
  lc_tensor_release(cx);
  return y;
}

static void avg_pool_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  lc_pool2d_shape s;
  memcpy(&s, &n->i[0], sizeof s);
  int count_include_pad = (int)n->d[0];
  int64_t divisor = (int64_t)n->d[1];
  lc_tensor *dy = dense(g);
  int64_t sizes[4] = {s.n, s.c, s.h, s.w};
  gin[0] = lc_empty(4, sizes, g->dtype, g->storage->device);
  backend_of(dy)->avg_pool2d_backward(&s, count_include_pad, divisor, dy, gin[0]);
  lc_tensor_release(dy);
}

static lc_tensor *avg_pool2d_batch(lc_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                                   const int64_t padding[2], bool ceil_mode, bool count_include_pad,
                                   int64_t divisor_override, const lc_tensor *given)
{
  const int64_t one[2] = {1, 1};
  if (divisor_override < 0)
    lc_error("avg_pool2d: divisor_override must be a positive integer, got %lld",
             (long long)divisor_override);
  lc_pool2d_shape s = pool_shape("avg_pool2d", x, given, kernel, stride, padding, one, ceil_mode, 1);
  int64_t sizes[4] = {s.n, s.c, s.out_h, s.out_w};
  lc_tensor *cx = dense(x);
  lc_tensor *y = lc_empty(4, sizes, x->dtype, x->storage->device);
  backend_of(x)->avg_pool2d_forward(&s, count_include_pad, divisor_override, cx, y);
  lc_tensor_release(cx);
  lc_tensor *in[1] = {x};
  lc_node *node = lc_node_new("AvgPool2d", avg_pool_backward, 1, in);
  if (node) {
    memcpy(&node->i[0], &s, sizeof s);
    node->d[0] = count_include_pad;
    node->d[1] = (double)divisor_override;
    lc_attach(y, node);
  }
  return y;
}

static void adaptive_pool_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  const lc_edge *e = &n->next[0];
  lc_tensor *dy = dense(g);
  gin[0] = lc_empty(4, e->sizes, g->dtype, g->storage->device);
  backend_of(dy)->adaptive_avg_pool2d_backward(dy, gin[0]);
  lc_tensor_release(dy);
}

void lc_adaptive_avg_pool2d_check(int64_t out_h, int64_t out_w)
{
  const int64_t out[2] = {out_h, out_w};
  require_pair("adaptive_avg_pool2d", "output_size", out, 1);
}

static lc_tensor *adaptive_avg_pool2d_batch(lc_tensor *x, int64_t out_h, int64_t out_w,
                                            const lc_tensor *given)
{
  const char *op = "adaptive_avg_pool2d";
  require_float(op, x, "input");
  lc_adaptive_avg_pool2d_check(out_h, out_w);
  if (x->sizes[2] == 0 || x->sizes[3] == 0) lc_error("%s: the input %s is empty", op, lc_shape_str(given));
  int64_t sizes[4] = {x->sizes[0], x->sizes[1], out_h, out_w};
  lc_tensor *cx = dense(x);
  lc_tensor *y = lc_empty(4, sizes, x->dtype, x->storage->device);
  backend_of(x)->adaptive_avg_pool2d_forward(cx, y);
  lc_tensor_release(cx);
  lc_tensor *in[1] = {x};
  lc_attach(y, lc_node_new("AdaptiveAvgPool2d", adaptive_pool_backward, 1, in));
  return y;
}

/* The pooling ops take one image or a batch (batched): */
lc_tensor *lc_max_pool2d(lc_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                         const int64_t padding[2], const int64_t dilation[2], bool ceil_mode)
{
  if (is_bf16(x)) {
    lc_tensor *wx = widen(x);
    lc_tensor *y = lc_max_pool2d(wx, kernel, stride, padding, dilation, ceil_mode);
    lc_tensor_release(wx);
    return lc_narrow_to_bf16(y);
  }
  bool unbatched;
  lc_tensor *x4 = batched("max_pool2d", x, &unbatched);
  lc_tensor *y = max_pool2d_batch(x4, kernel, stride, padding, dilation, ceil_mode, x);
  lc_tensor_release(x4);
  return unbatch(y, unbatched);
}

lc_tensor *lc_avg_pool2d(lc_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                         const int64_t padding[2], bool ceil_mode, bool count_include_pad,
                         int64_t divisor_override)
{
  if (is_bf16(x)) {
    lc_tensor *wx = widen(x);
    lc_tensor *y = lc_avg_pool2d(wx, kernel, stride, padding, ceil_mode, count_include_pad,
                                 divisor_override);
    lc_tensor_release(wx);
    return lc_narrow_to_bf16(y);
  }
  bool unbatched;
  lc_tensor *x4 = batched("avg_pool2d", x, &unbatched);
  lc_tensor *y = avg_pool2d_batch(x4, kernel, stride, padding, ceil_mode, count_include_pad,
                                  divisor_override, x);
  lc_tensor_release(x4);
  return unbatch(y, unbatched);
}

lc_tensor *lc_adaptive_avg_pool2d(lc_tensor *x, int64_t out_h, int64_t out_w)
{
  if (is_bf16(x)) {
    lc_tensor *wx = widen(x);
    lc_tensor *y = lc_adaptive_avg_pool2d(wx, out_h, out_w);
    lc_tensor_release(wx);
    return lc_narrow_to_bf16(y);
  }
  bool unbatched;
  lc_tensor *x4 = batched("adaptive_avg_pool2d", x, &unbatched);
  lc_tensor *y = adaptive_avg_pool2d_batch(x4, out_h, out_w, x);
  lc_tensor_release(x4);
  return unbatch(y, unbatched);
}

/* ---- batch norm ---- */

static void batch_norm_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  bool training = n->i[0];
  double eps = n->d[0];
  lc_tensor *x = lc_node_saved(n, 0);
  lc_tensor *gamma = n->i[1] ? lc_node_saved(n, 1) : NULL;
  lc_tensor *stat_a = lc_node_saved(n, 2), *stat_b = lc_node_saved(n, 3);
  lc_tensor *dy = dense(g);
  lc_tensor *dx = lc_node_needs(n, 0) ? lc_empty_like(x) : NULL;
  int64_t c = x->sizes[1];
  lc_tensor *dgamma = gamma && lc_node_needs(n, 1) ? lc_empty(1, &c, x->dtype, x->storage->device) : NULL;
  lc_tensor *dbeta = n->n_inputs > 2 && lc_node_needs(n, 2) ? lc_empty(1, &c, x->dtype, x->storage->device) : NULL;
  const lc_backend *be = backend_of(dy);
  if (training) be->batchnorm_backward_train(x, dy, gamma, stat_a, stat_b, dx, dgamma, dbeta);
  else be->batchnorm_backward_eval(x, dy, gamma, stat_a, stat_b, eps, dx, dgamma, dbeta);
  gin[0] = dx;
  gin[1] = dgamma;
  if (n->n_inputs > 2) gin[2] = dbeta;
  lc_tensor_release(dy);
}

static void check_channel_vector(const char *what, const lc_tensor *t, const lc_tensor *x)
{
  if (!t) return;
  require_same("batch_norm", x, t, what);
  if (t->ndim != 1 || t->sizes[0] != x->sizes[1])
    lc_error("batch_norm: expected %s of shape (%lld) for an input with %lld channels (shape %s), "
             "got %s", what, (long long)x->sizes[1], (long long)x->sizes[1], lc_shape_str(x),
             lc_shape_str(t));
}

lc_tensor *lc_batch_norm(lc_tensor *x, lc_tensor *running_mean, lc_tensor *running_var,
                         lc_tensor *weight, lc_tensor *bias, bool training, double momentum,
                         double eps)
{
  const char *op = "batch_norm";
  if (is_bf16(x)) { /* float32 statistics and parameters, as PyTorch's CPU batch norm keeps */
    if (is_bf16(running_mean) || is_bf16(running_var))
      lc_error("%s: running statistics must be float32 for a bfloat16 input (they are updated "
               "in place)", op);
    lc_tensor *wx = widen(x), *ww = widen(weight), *wb = widen(bias);
    lc_tensor *y = lc_batch_norm(wx, running_mean, running_var, ww, wb, training, momentum, eps);
    lc_tensor_release(wx);
    lc_tensor_release(ww);
    lc_tensor_release(wb);
    return lc_narrow_to_bf16(y);
  }
  require_float(op, x, "input");
  if (x->ndim < 2 || x->ndim > 4)
    lc_error("%s: expected an input of shape (N, C), (N, C, L) or (N, C, H, W), got %s", op,
             lc_shape_str(x));
  check_channel_vector("running_mean", running_mean, x);
  check_channel_vector("running_var", running_var, x);
  check_channel_vector("weight", weight, x);
  check_channel_vector("bias", bias, x);
  if (!running_mean != !running_var)
    lc_error("%s: give both running_mean and running_var, or neither", op);
  if (!training && !running_mean) lc_error("%s: running statistics are needed when not training", op);
  if (training && lc_numel(x) / (x->sizes[1] ? x->sizes[1] : 1) <= 1)
    lc_error("%s: expected more than 1 value per channel when training, got input shape %s", op,
             lc_shape_str(x));
  if (running_mean && !lc_is_contiguous(running_mean)) lc_error("%s: running_mean must be contiguous", op);
  if (running_var && !lc_is_contiguous(running_var)) lc_error("%s: running_var must be contiguous", op);
  lc_tensor *cx = dense(x), *cw = weight ? dense(weight) : NULL, *cb = bias ? dense(bias) : NULL;
  lc_tensor *y = lc_empty_like(x);
  const lc_backend *be = backend_of(x);
  lc_tensor *stat_a, *stat_b;
  int64_t c = x->sizes[1];
  if (training) {
    stat_a = lc_empty(1, &c, x->dtype, x->storage->device);
    stat_b = lc_empty(1, &c, x->dtype, x->storage->device);
    be->batchnorm_forward_train(cx, cw, cb, running_mean, running_var, momentum, eps, y, stat_a, stat_b);
    if (running_mean) lc_bump_version(running_mean);
    if (running_var) lc_bump_version(running_var);
  } else {
    stat_a = lc_tensor_retain(running_mean);
    stat_b = lc_tensor_retain(running_var);
    be->batchnorm_forward_eval(cx, cw, cb, running_mean, running_var, eps, y);
  }
  lc_tensor *in[3] = {x, weight, bias};
  lc_node *node = lc_node_new("BatchNorm", batch_norm_backward, bias ? 3 : 2, in);
  if (node) {
    node->i[0] = training;
    node->i[1] = cw != NULL;
    node->d[0] = eps;
    lc_node_save(node, cx);
    lc_node_save(node, cw ? cw : cx); /* slot 1 is gamma when there is one */
    lc_node_save(node, stat_a);
    lc_node_save(node, stat_b);
    lc_attach(y, node);
  }
  lc_tensor_release(stat_a);
  lc_tensor_release(stat_b);
  lc_tensor_release(cx);
  lc_tensor_release(cw);
  lc_tensor_release(cb);
  return y;
}

/* ---- softmax and losses ---- */

static void log_softmax_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  lc_tensor *y = lc_node_saved(n, 0);
  lc_tensor *dy = dense(g);
  gin[0] = lc_empty_like(y);
  backend_of(dy)->log_softmax_backward(y, dy, gin[0]);
  lc_tensor_release(dy);
}

/* log_softmax over the last dim of a contiguous 2-D tensor: the primitive. */
static lc_tensor *log_softmax_rows(lc_tensor *x)
{
  lc_tensor *y = lc_empty_like(x);
  if (lc_numel(x)) backend_of(x)->log_softmax_forward(x, y);
  lc_tensor *in[1] = {x};
  lc_node *node = lc_node_new("LogSoftmax", log_softmax_backward, 1, in);
  if (node) {
    lc_node_save(node, y);
    lc_attach(y, node);
  }
  return y;
}

/* Any dim: move it last, flatten to rows, and undo; the views carry the gradient. */
lc_tensor *lc_log_softmax(lc_tensor *x, int dim)
{
  if (is_bf16(x)) { /* on autocast's float32 list */
    bool answer_float32 = lc_autocast_widens(x);
    lc_tensor *wx = widen(x);
    lc_tensor *y = lc_log_softmax(wx, dim);
    lc_tensor_release(wx);
    return answer_float32 ? y : lc_narrow_to_bf16(y);
  }
  require_float("log_softmax", x, "input");
  if (x->ndim == 0) lc_error("log_softmax: expected at least 1 dim");
  dim = lc_wrap_dim("log_softmax", dim, x->ndim);
  lc_tensor *moved = lc_transpose(x, dim, x->ndim - 1);
  lc_tensor *rows = lc_reshape(moved, 2, (int64_t[2]){-1, x->sizes[dim]});
  lc_tensor *cr = lc_contiguous(rows);
  lc_tensor *y = log_softmax_rows(cr);
  lc_tensor *back = lc_reshape(y, moved->ndim, moved->sizes);
  lc_tensor *out = lc_transpose(back, dim, x->ndim - 1);
  lc_tensor *tmp[] = {moved, rows, cr, y, back};
  for (int k = 0; k < 5; k++) lc_tensor_release(tmp[k]);
  return out;
}

lc_tensor *lc_softmax(lc_tensor *x, int dim)
{
  lc_tensor *l = lc_log_softmax(x, dim);
  lc_tensor *y = lc_unary(LC_UN_EXP, l, 0, 0);
  lc_tensor_release(l);
  return y;
}

static void cross_entropy_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  lc_tensor *logits = lc_node_saved(n, 0), *targets = lc_node_saved(n, 1);
  lc_tensor *dloss = g->ndim == 1 && (g->strides[0] == 1 || g->strides[0] == 0) ? lc_tensor_retain(g) : dense(g);
  gin[0] = lc_empty_like(logits);
  int64_t bad;
  backend_of(logits)->cross_entropy_backward(logits, targets, n->d[0], dloss, gin[0], &bad);
  lc_tensor_release(dloss);
}

lc_tensor *lc_cross_entropy(lc_tensor *logits, lc_tensor *targets, lc_reduction reduction,
                            double label_smoothing)
{
  const char *op = "cross_entropy";
  if (is_bf16(logits)) { /* on autocast's float32 list */
    bool answer_float32 = lc_autocast_widens(logits);
    lc_tensor *wl = widen(logits);
    lc_tensor *loss = lc_cross_entropy(wl, targets, reduction, label_smoothing);
    lc_tensor_release(wl);
    return answer_float32 ? loss : lc_narrow_to_bf16(loss);
  }
  require_ndim(op, logits, 2, "input of logits (N, C)");
  require_float(op, logits, "logits");
  if (targets->dtype != LC_INT64)
    lc_error("%s: targets must be int64 class labels, got %s", op, lc_dtype_name(targets->dtype));
  if (targets->ndim != 1 || targets->sizes[0] != logits->sizes[0])
    lc_error("%s: expected targets of shape (%lld) for logits %s, got %s", op,
             (long long)logits->sizes[0], lc_shape_str(logits), lc_shape_str(targets));
  lc_check_same_device(op, logits, targets);
  if (label_smoothing < 0 || label_smoothing > 1)
    lc_error("%s: label_smoothing must be in [0, 1], got %g", op, label_smoothing);
  lc_tensor *cl = dense(logits), *ct = dense(targets);
  lc_tensor *loss = lc_empty(1, logits->sizes, logits->dtype, logits->storage->device);
  int64_t bad = 0;
  if (lc_numel(cl) &&
      backend_of(cl)->cross_entropy_forward(cl, ct, label_smoothing, loss, &bad) != 0) {
    int64_t *label = (int64_t *)lc_data(ct) + bad;
    long long value = ct->storage->device.type == LC_CPU ? (long long)*label + 1 : 0;
    lc_tensor_release(loss);
    lc_tensor_release(cl);
    lc_tensor_release(ct);
    lc_error("%s: target %lld (row %lld) is out of range for %lld classes (labels are 1..%lld)",
             op, value, (long long)bad + 1, (long long)logits->sizes[1], (long long)logits->sizes[1]);
  }
  lc_tensor *in[1] = {logits};
  lc_node *node = lc_node_new("CrossEntropy", cross_entropy_backward, 1, in);
  if (node) {
    node->d[0] = label_smoothing;
    lc_node_save(node, cl);
    lc_node_save(node, ct);
    lc_attach(loss, node);
  }
  lc_tensor_release(cl);
  lc_tensor_release(ct);
  if (reduction == LC_REDUCE_NONE) return loss;
  bool dims[LC_MAX_DIMS] = {true};
  lc_tensor *r = reduction == LC_REDUCE_MEAN ? lc_mean(loss, dims, false) : lc_sum(loss, dims, false);
  lc_tensor_release(loss);
  return r;
}

lc_tensor *lc_linear(lc_tensor *x, lc_tensor *w, lc_tensor *bias)
{
  const char *op = "linear";
  if (lc_autocast_active()) { /* autocast: runs narrow */
    lc_autocast_suspend();
    lc_tensor *nx = lc_autocast_narrow(x), *nw = lc_autocast_narrow(w), *nb = lc_autocast_narrow(bias);
    lc_tensor *y = lc_linear(nx, nw, nb);
    lc_autocast_resume();
    lc_tensor_release(nx);
    lc_tensor_release(nw);
    lc_tensor_release(nb);
    return y;
  }
  if (is_bf16(x) && is_bf16(w) && (!bias || is_bf16(bias))) { /* one rounding, as addmm's */
    lc_tensor *wx = widen(x), *ww = widen(w), *wb = widen(bias);
    lc_tensor *y = lc_linear(wx, ww, wb);
    lc_tensor_release(wx);
    lc_tensor_release(ww);
    lc_tensor_release(wb);
    return lc_narrow_to_bf16(y);
  }
  require_float(op, x, "input");
  require_ndim(op, w, 2, "weight (out_features, in_features)");
  require_same(op, x, w, "weight");
  if (x->ndim == 0 || x->sizes[x->ndim - 1] != w->sizes[1]) {
    char got[32];
    if (x->ndim == 0) snprintf(got, sizeof got, "a 0-dim tensor");
    else snprintf(got, sizeof got, "%lld", (long long)x->sizes[x->ndim - 1]);
    lc_error("%s: expected input with %lld features in its last dim, got %s (input shape %s)", op,
             (long long)w->sizes[1], got, lc_shape_str(x));
  }
  if (bias) {
    require_same(op, x, bias, "bias");
    require_vector(op, bias, w->sizes[0], "a bias");
  }
  lc_tensor *wt = lc_transpose(w, 0, 1);
  lc_tensor *y = lc_matmul(x, wt);
  lc_tensor_release(wt);
  if (!bias) return y;
  lc_tensor *out = lc_add(y, bias);
  lc_tensor_release(y);
  return out;
}

lc_tensor *lc_dropout(lc_tensor *x, double p, bool training)
{
  if (p < 0 || p > 1) lc_error("dropout: probability must be in [0, 1], got %g", p);
  if (!training || p == 0) return lc_tensor_retain(x);
  if (is_bf16(x)) {
    lc_tensor *wx = widen(x);
    lc_tensor *y = lc_dropout(wx, p, training);
    lc_tensor_release(wx);
    return lc_narrow_to_bf16(y);
  }
  require_float("dropout", x, "input");
  if (p == 1) {
    lc_tensor *zero = lc_zeros(0, NULL, x->dtype, x->storage->device);
    lc_tensor *y = lc_mul(x, zero);
    lc_tensor_release(zero);
    return y;
  }
  lc_tensor *u = lc_rand(x->ndim, x->sizes, x->dtype, x->storage->device);
  lc_tensor *keep = lc_unary(LC_UN_GE_SCALAR, u, p, 0);
  lc_tensor *mask = lc_to_dtype(keep, x->dtype);
  lc_tensor *scaled = lc_unary(LC_UN_MUL_SCALAR, mask, 1.0 / (1.0 - p), 0);
  lc_tensor *y = lc_mul(x, scaled);
  lc_tensor *tmp[] = {u, keep, mask, scaled};
  for (int k = 0; k < 4; k++) lc_tensor_release(tmp[k]);
  return y;
}

lc_tensor *lc_resize(lc_tensor *x, int64_t out_h, int64_t out_w)
{
  if (x->dtype != LC_UINT8) lc_error("resize: expected uint8 images, got %s", lc_dtype_name(x->dtype));
  require_ndim("resize", x, 4, "batch of images (N, C, H, W)");
  if (out_h < 1 || out_w < 1) lc_error("resize: output size must be positive, got (%lld, %lld)", (long long)out_h, (long long)out_w);
  int64_t sizes[4] = {x->sizes[0], x->sizes[1], out_h, out_w};
  lc_tensor *cx = dense(x);
  lc_tensor *y = lc_empty(4, sizes, LC_UINT8, x->storage->device);
  if (lc_numel(y)) backend_of(x)->resize_bilinear_u8(cx, y);
  lc_tensor_release(cx);
  return y;
}

lc_tensor *lc_bytes_to_unit(lc_tensor *x)
{
  if (x->dtype != LC_UINT8) lc_error("to_unit_float: expected uint8 images, got %s", lc_dtype_name(x->dtype));
  const lc_backend *b = backend_of(x);
  if (!b->bytes_to_unit) {
    lc_tensor *f = lc_to_dtype(x, LC_FLOAT32);
    lc_tensor *scale = lc_full(0, NULL, 255, LC_FLOAT32, x->storage->device);
    lc_tensor *y = lc_div(f, scale);
    lc_tensor_release(f);
    lc_tensor_release(scale);
    return y;
  }
  lc_tensor *cx = dense(x);
  lc_tensor *y = lc_empty(x->ndim, x->sizes, LC_FLOAT32, x->storage->device);
  if (lc_numel(y)) b->bytes_to_unit(cx, y);
  lc_tensor_release(cx);
  return y;
}

/* ---- optimizer steps (no autograd: they update leaves in place) ---- */

static void check_step_lists(const char *op, int n, lc_tensor *const *params, lc_tensor *const *grads,
                             lc_tensor *const *state, const char *state_name)
{
  for (int i = 0; i < n; i++) {
    lc_tensor *p = params[i], *g = grads[i];
    require_float(op, p, "parameter");
    if (is_bf16(p))
      lc_error("%s: parameter %d is bfloat16; the optimizers update float32 parameters: keep "
               "them float32 and compute in bfloat16 under lc.autocast", op, i + 1);
    if (!lc_same_shape(p, g) || p->dtype != g->dtype)
      lc_error("%s: gradient %d has shape %s (%s) but its parameter has %s (%s)", op, i + 1,
               lc_shape_str(g), lc_dtype_name(g->dtype), lc_shape_str(p), lc_dtype_name(p->dtype));
    lc_check_same_device(op, p, g);
    if (!lc_is_contiguous(p) || !lc_is_contiguous(g))
      lc_error("%s: parameter %d and its gradient must be contiguous", op, i + 1);
    if (state && state[i] && (!lc_same_shape(p, state[i]) || state[i]->dtype != p->dtype ||
                              !lc_is_contiguous(state[i])))
      lc_error("%s: %s %d does not match its parameter %s", op, state_name, i + 1, lc_shape_str(p));
    if (i > 0) lc_check_same_device(op, params[0], p);
  }
}

void lc_sgd_step(int n, lc_tensor *const *params, lc_tensor *const *grads, lc_tensor *const *bufs,
                 const lc_sgd_params *h, bool first_step)
{
  if (n == 0) return;
  check_step_lists("sgd_step", n, params, grads, bufs, "momentum buffer");
  if (h->momentum != 0 && !bufs) lc_error("sgd_step: momentum needs a buffer per parameter");
  backend_of(params[0])->sgd_step(n, params, grads, h->momentum != 0 ? bufs : NULL, h, first_step);
  for (int i = 0; i < n; i++) {
    lc_bump_version(params[i]);
    if (bufs && bufs[i]) lc_bump_version(bufs[i]);
  }
}

void lc_adam_step(int n, lc_tensor *const *params, lc_tensor *const *grads,
                  lc_tensor *const *exp_avg, lc_tensor *const *exp_avg_sq,
                  lc_tensor *const *max_exp_avg_sq, const lc_adam_params *h)
{
  if (n == 0) return;
  check_step_lists("adam_step", n, params, grads, exp_avg, "exp_avg");
  check_step_lists("adam_step", n, params, grads, exp_avg_sq, "exp_avg_sq");
  if (max_exp_avg_sq) check_step_lists("adam_step", n, params, grads, max_exp_avg_sq, "max_exp_avg_sq");
  backend_of(params[0])->adam_step(n, params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq, h);
  for (int i = 0; i < n; i++) lc_bump_version(params[i]);
}
