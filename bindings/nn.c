/* core._F: the layers as functions over tensors, positional arguments;
 * lib/luacnn/functional.lua gives them options tables. */
#include <string.h>

#include "bindings/luacnn.h"
#include "runtime/ops_nn.h"

_Static_assert(sizeof(lc_conv2d_shape) <= sizeof(((lc_node *)0)->i), "conv shape fits a node");
_Static_assert(sizeof(lc_pool2d_shape) <= sizeof(((lc_node *)0)->i), "pool shape fits a node");

static lc_tensor *opt_tensor(lua_State *L, int idx, const char *op)
{
  return lua_isnoneornil(L, idx) ? NULL : lcb_check_tensor(L, idx, op);
}

static int64_t check_int(lua_State *L, int idx, const char *op, const char *what)
{
  lua_Integer v;
  if (!lcb_tointeger(L, idx, &v))
    luaL_error(L, "%s: %s must be an integer, got %s", op, what,
               lua_type(L, idx) == LUA_TNUMBER ? lua_tostring(L, idx)
               : lua_isnoneornil(L, idx) ? "nil" : luaL_typename(L, idx));
  return v;
}

static void check_pair(lua_State *L, int idx, const char *op, const char *what, int64_t *out)
{
  out[0] = check_int(L, idx, op, what);
  out[1] = check_int(L, idx + 1, op, what);
}

/* stride, padding, dilation (pairs), groups, same (boolean) from idx on */
static lc_conv2d_options conv_options(lua_State *L, int idx)
{
  lc_conv2d_options o;
  check_pair(L, idx, "conv2d", "stride", o.stride);
  check_pair(L, idx + 2, "conv2d", "padding", o.padding);
  check_pair(L, idx + 4, "conv2d", "dilation", o.dilation);
  o.groups = check_int(L, idx + 6, "conv2d", "groups");
  o.same = lua_toboolean(L, idx + 7);
  return o;
}

static int f_conv2d(lua_State *L)
{
  lc_tensor *x = lcb_check_tensor(L, 1, "conv2d"), *w = lcb_check_tensor(L, 2, "conv2d");
  lc_tensor *b = opt_tensor(L, 3, "conv2d");
  lc_conv2d_options o = conv_options(L, 4);
  lcb_push_tensor(L, lc_conv2d(x, w, b, &o));
  return 1;
}

/* _F.conv2d_check(in, out, kh, kw, stride.., padding.., dilation.., groups, same): a layer's
 * constructor checks its options with lc_conv2d's own rules and words. */
static int f_conv2d_check(lua_State *L)
{
  int64_t k[2];
  check_pair(L, 3, "conv2d", "kernel_size", k);
  lc_conv2d_options o = conv_options(L, 5);
  lc_conv2d_check(check_int(L, 1, "conv2d", "in_channels"), check_int(L, 2, "conv2d", "out_channels"), k, &o);
  return 0;
}

/* _F.pool2d_check(op, kernel.., stride.., padding.., dilation..) */
static int f_pool2d_check(lua_State *L)
{
  const char *op = luaL_checkstring(L, 1);
  int64_t k[2], s[2], p[2], d[2];
  check_pair(L, 2, op, "kernel_size", k);
  check_pair(L, 4, op, "stride", s);
  check_pair(L, 6, op, "padding", p);
  check_pair(L, 8, op, "dilation", d);
  lc_pool2d_check(op, k, s, p, d);
  return 0;
}

static int f_adaptive_avg_pool2d_check(lua_State *L)
{
  int64_t out[2];
  check_pair(L, 1, "adaptive_avg_pool2d", "output_size", out);
  lc_adaptive_avg_pool2d_check(out[0], out[1]);
  return 0;
}

static int f_max_pool2d(lua_State *L)
{
  lc_tensor *x = lcb_check_tensor(L, 1, "max_pool2d");
  int64_t k[2], s[2], p[2], d[2];
  check_pair(L, 2, "max_pool2d", "kernel_size", k);
  check_pair(L, 4, "max_pool2d", "stride", s);
  check_pair(L, 6, "max_pool2d", "padding", p);
  check_pair(L, 8, "max_pool2d", "dilation", d);
  lcb_push_tensor(L, lc_max_pool2d(x, k, s, p, d, lua_toboolean(L, 10)));
  return 1;
}

static int f_avg_pool2d(lua_State *L)
{
  lc_tensor *x = lcb_check_tensor(L, 1, "avg_pool2d");
  int64_t k[2], s[2], p[2];
  check_pair(L, 2, "avg_pool2d", "kernel_size", k);
  check_pair(L, 4, "avg_pool2d", "stride", s);
  check_pair(L, 6, "avg_pool2d", "padding", p);
  bool ceil_mode = lua_toboolean(L, 8), include_pad = lua_toboolean(L, 9);
  int64_t divisor = lua_isnoneornil(L, 10) ? 0 : check_int(L, 10, "avg_pool2d", "divisor_override");
  lcb_push_tensor(L, lc_avg_pool2d(x, k, s, p, ceil_mode, include_pad, divisor));
  return 1;
}

static int f_adaptive_avg_pool2d(lua_State *L)
{
  lc_tensor *x = lcb_check_tensor(L, 1, "adaptive_avg_pool2d");
  int64_t out[2];
  check_pair(L, 2, "adaptive_avg_pool2d", "output_size", out);
  lcb_push_tensor(L, lc_adaptive_avg_pool2d(x, out[0], out[1]));
  return 1;
}

static int f_batch_norm(lua_State *L)
{
  lc_tensor *x = lcb_check_tensor(L, 1, "batch_norm");
  lc_tensor *rm = opt_tensor(L, 2, "batch_norm"), *rv = opt_tensor(L, 3, "batch_norm");
  lc_tensor *w = opt_tensor(L, 4, "batch_norm"), *b = opt_tensor(L, 5, "batch_norm");
  bool training = lua_toboolean(L, 6);
  double momentum = luaL_optnumber(L, 7, 0.1), eps = luaL_optnumber(L, 8, 1e-5);
  lcb_push_tensor(L, lc_batch_norm(x, rm, rv, w, b, training, momentum, eps));
  return 1;
}

static int f_log_softmax(lua_State *L)
{
  lc_tensor *x = lcb_check_tensor(L, 1, "log_softmax");
  int dim = lua_isnoneornil(L, 2) ? -1 : lcb_check_dim(L, 2, "log_softmax");
  lcb_push_tensor(L, lc_log_softmax(x, dim));
  return 1;
}

static int f_softmax(lua_State *L)
{
  lc_tensor *x = lcb_check_tensor(L, 1, "softmax");
  int dim = lua_isnoneornil(L, 2) ? -1 : lcb_check_dim(L, 2, "softmax");
  lcb_push_tensor(L, lc_softmax(x, dim));
  return 1;
}

static int f_cross_entropy(lua_State *L)
{
  lc_tensor *logits = lcb_check_tensor(L, 1, "cross_entropy");
  lc_tensor *target = lcb_check_tensor(L, 2, "cross_entropy");
  static const char *const reductions[] = {"none", "mean", "sum", NULL};
  int reduction = luaL_checkoption(L, 3, "mean", reductions);
  double smoothing = luaL_optnumber(L, 4, 0);
  if (target->dtype != LC_INT64)
    return luaL_error(L, "cross_entropy: targets must be int64 class labels 1..C, got %s",
                      lc_dtype_name(target->dtype));
  lc_tensor *zero_based = lc_unary(LC_UN_ADD_SCALAR, target, -1, 0);
  lc_tensor *loss = lc_cross_entropy(logits, zero_based, (lc_reduction)reduction, smoothing);
  lc_tensor_release(zero_based);
  lcb_push_tensor(L, loss);
  return 1;
}

static int f_linear(lua_State *L)
{
  lc_tensor *x = lcb_check_tensor(L, 1, "linear"), *w = lcb_check_tensor(L, 2, "linear");
  lcb_push_tensor(L, lc_linear(x, w, opt_tensor(L, 3, "linear")));
  return 1;
}

static int f_dropout(lua_State *L)
{
  lc_tensor *x = lcb_check_tensor(L, 1, "dropout");
  lcb_push_tensor(L, lc_dropout(x, luaL_optnumber(L, 2, 0.5), lua_toboolean(L, 3)));
  return 1;
}

static int f_resize_bilinear(lua_State *L)
{
  lc_tensor *x = lcb_check_tensor(L, 1, "resize");
  lcb_push_tensor(L, lc_resize(x, check_int(L, 2, "resize", "height"),
                                           check_int(L, 3, "resize", "width")));
  return 1;
}

static int f_to_unit_float(lua_State *L)
{
  lcb_push_tensor(L, lc_bytes_to_unit(lcb_check_tensor(L, 1, "to_unit_float")));
  return 1;
}

/* Reads a list of tensors (entries may be false/nil when allowed). */
#define MAX_PARAMS 4096
static int tensor_list(lua_State *L, int idx, const char *op, lc_tensor **out, bool holes)
{
  luaL_checktype(L, idx, LUA_TTABLE);
  int n = (int)lua_rawlen(L, idx);
  if (n > MAX_PARAMS) luaL_error(L, "%s: at most %d tensors per call", op, MAX_PARAMS);
  for (int k = 1; k <= n; k++) {
    lua_rawgeti(L, idx, k);
    out[k - 1] = lcb_test_tensor(L, -1);
    if (!out[k - 1] && !(holes && !lua_toboolean(L, -1)))
      luaL_error(L, "%s: element %d of argument %d is a %s, not a tensor", op, k, idx, luaL_typename(L, -1));
    lua_pop(L, 1);
  }
  return n;
}

static lc_tensor **scratch_list(lua_State *L)
{
  return lua_newuserdatauv(L, MAX_PARAMS * sizeof(lc_tensor *), 0);
}

static int f_sgd_step(lua_State *L)
{
  lc_tensor **params = scratch_list(L), **grads = scratch_list(L), **bufs = scratch_list(L);
  int n = tensor_list(L, 1, "sgd_step", params, false);
  if (tensor_list(L, 2, "sgd_step", grads, false) != n)
    return luaL_error(L, "sgd_step: %d parameters but a different number of gradients", n);
  bool have_bufs = !lua_isnoneornil(L, 3);
  if (have_bufs && tensor_list(L, 3, "sgd_step", bufs, true) != n)
    return luaL_error(L, "sgd_step: %d parameters but a different number of momentum buffers", n);
  lc_sgd_params h = {
    .lr = luaL_checknumber(L, 4), .momentum = luaL_optnumber(L, 5, 0),
    .dampening = luaL_optnumber(L, 6, 0), .weight_decay = luaL_optnumber(L, 7, 0),
    .nesterov = lua_toboolean(L, 8),
  };
  if (h.nesterov && (h.momentum <= 0 || h.dampening != 0))
    return luaL_error(L, "sgd_step: nesterov momentum requires a momentum and zero dampening");
  lc_sgd_step(n, params, grads, have_bufs ? bufs : NULL, &h, lua_toboolean(L, 9));
  return 0;
}

static int f_adam_step(lua_State *L)
{
  lc_tensor **params = scratch_list(L), **grads = scratch_list(L), **m = scratch_list(L),
            **v = scratch_list(L), **vmax = scratch_list(L);
  int n = tensor_list(L, 1, "adam_step", params, false);
  if (tensor_list(L, 2, "adam_step", grads, false) != n || tensor_list(L, 3, "adam_step", m, false) != n ||
      tensor_list(L, 4, "adam_step", v, false) != n)
    return luaL_error(L, "adam_step: the lists of parameters, gradients and moments differ in length");
  bool amsgrad = !lua_isnoneornil(L, 5);
  if (amsgrad && tensor_list(L, 5, "adam_step", vmax, false) != n)
    return luaL_error(L, "adam_step: max_exp_avg_sq list has the wrong length");
  lc_adam_params h = {
    .lr = luaL_checknumber(L, 6), .beta1 = luaL_checknumber(L, 7), .beta2 = luaL_checknumber(L, 8),
    .eps = luaL_checknumber(L, 9), .weight_decay = luaL_optnumber(L, 10, 0),
    .decoupled = lua_toboolean(L, 11), .step = luaL_checkinteger(L, 12),
  };
  if (h.step < 1) return luaL_error(L, "adam_step: step counts from 1, got %d", (int)h.step);
  lc_adam_step(n, params, grads, m, v, amsgrad ? vmax : NULL, &h);
  return 0;
}

/* ---- raw bytes, for checkpoints ---- */

static int t_tobytes(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "tobytes");
  size_t nbytes = (size_t)lc_numel(t) * lc_dtype_size(t->dtype);
  luaL_Buffer b;
  char *p = luaL_buffinitsize(L, &b, nbytes);
  lc_to_host(t, p);
  luaL_pushresultsize(&b, nbytes);
  return 1;
}

static int l_frombytes(lua_State *L)
{
  size_t len;
  const char *data = luaL_checklstring(L, 1, &len);
  lc_dtype dtype = lcb_check_dtype(L, 2, "frombytes");
  int64_t sizes[LC_MAX_DIMS];
  int next;
  int nd = lcb_check_sizes(L, 3, "frombytes", sizes, &next);
  int64_t n = 1;
  for (int d = 0; d < nd; d++) {
    if (sizes[d] < 0) return luaL_error(L, "frombytes: negative size");
    n *= sizes[d];
  }
  if ((size_t)n * lc_dtype_size(dtype) != len)
    return luaL_error(L, "frombytes: %d bytes do not hold %d %s values", (int)len, (int)n, lc_dtype_name(dtype));
  lcb_push_tensor(L, lc_from_host(data, nd, sizes, dtype, LC_DEVICE_CPU));
  return 1;
}

void lcb_open_nn(lua_State *L)
{
  static const luaL_Reg functions[] = {
    {"conv2d", f_conv2d}, {"conv2d_check", f_conv2d_check}, {"pool2d_check", f_pool2d_check},
    {"adaptive_avg_pool2d_check", f_adaptive_avg_pool2d_check}, {"max_pool2d", f_max_pool2d}, {"avg_pool2d", f_avg_pool2d},
    {"adaptive_avg_pool2d", f_adaptive_avg_pool2d}, {"batch_norm", f_batch_norm},
    {"log_softmax", f_log_softmax}, {"softmax", f_softmax}, {"cross_entropy", f_cross_entropy},
    {"linear", f_linear}, {"dropout", f_dropout}, {"resize_bilinear", f_resize_bilinear},
    {"to_unit_float", f_to_unit_float},
    {"sgd_step", f_sgd_step}, {"adam_step", f_adam_step}, {NULL, NULL},
  };
  lua_newtable(L);
  lcb_register(L, functions);
  lua_setfield(L, -2, "_F");
  static const luaL_Reg module_fns[] = {{"frombytes", l_frombytes}, {NULL, NULL}};
  lcb_register(L, module_fns);
  static const luaL_Reg methods[] = {{"tobytes", t_tobytes}, {NULL, NULL}};
  lua_getfield(L, -1, "Tensor");
  lcb_register(L, methods);
  lua_pop(L, 1);
}
