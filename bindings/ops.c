/* Tensor methods: geometry, views, in-place writes, math, reductions, autograd. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/luacnn.h"

int lcb_arith(lua_State *L, int op);

static void push(lua_State *L, lc_tensor *t) { lcb_push_tensor(L, t); }


/* ---- methods: geometry ---- */

static int m_dim(lua_State *L)
{
  lua_pushinteger(L, lcb_check_tensor(L, 1, "dim")->ndim);
  return 1;
}

static int m_numel(lua_State *L)
{
  lua_pushinteger(L, lc_numel(lcb_check_tensor(L, 1, "numel")));
  return 1;
}

/* shape(): a list of sizes; lib/luacnn gives it a metatable that prints (2, 3). */
static int m_shape(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "shape");
  lua_createtable(L, t->ndim, 0);
  for (int d = 0; d < t->ndim; d++) {
    lua_pushinteger(L, t->sizes[d]);
    lua_rawseti(L, -2, d + 1);
  }
  if (lua_getfield(L, LUA_REGISTRYINDEX, "luacnn.Size") == LUA_TTABLE) lua_setmetatable(L, -2);
  else lua_pop(L, 1);
  return 1;
}

static int m_size(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "size");
  if (lua_isnoneornil(L, 2)) return m_shape(L);
  int d = lc_wrap_dim("size", lcb_check_dim(L, 2, "size"), t->ndim);
  lua_pushinteger(L, t->ndim ? t->sizes[d] : 1);
  return 1;
}

static int m_stride(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "stride");
  if (lua_isnoneornil(L, 2)) { /* every stride, as PyTorch's x.stride() */
    lua_createtable(L, t->ndim, 0);
    for (int d = 0; d < t->ndim; d++) {
      lua_pushinteger(L, t->strides[d]);
      lua_rawseti(L, -2, d + 1);
    }
    return 1;
  }
  int d = lc_wrap_dim("stride", lcb_check_dim(L, 2, "stride"), t->ndim);
  lua_pushinteger(L, t->strides[d]);
  return 1;
}

static int m_is_floating_point(lua_State *L)
{
  lua_pushboolean(L, lc_dtype_is_float(lcb_check_tensor(L, 1, "is_floating_point")->dtype));
  return 1;
}

/* A memory format argument: 'contiguous_format' (the default), 'channels_last', or a table
 * {memory_format = ...} as PyTorch's keyword. */
static lc_memory_format opt_memory_format(lua_State *L, int idx, const char *op)
{
  static const char *const names[] = {"contiguous_format", "channels_last", NULL};
  static const char *const known[] = {"memory_format", NULL};
  if (lua_istable(L, idx)) {
    lcb_check_opts(L, idx, op, known);
    lua_getfield(L, idx, "memory_format");
    lua_replace(L, idx);
  }
  if (lua_isnoneornil(L, idx)) return LC_CONTIGUOUS_FORMAT;
  const char *name = luaL_checkstring(L, idx);
  for (int i = 0; names[i]; i++)
    if (strcmp(name, names[i]) == 0) return (lc_memory_format)i;
  return (lc_memory_format)luaL_error(L, "%s: unknown memory format '%s' (known: "
                                      "contiguous_format, channels_last)", op, name);
}

static int m_is_contiguous(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "is_contiguous");
  lc_memory_format format = opt_memory_format(L, 2, "is_contiguous");
  lua_pushboolean(L, format == LC_CHANNELS_LAST ? lc_is_channels_last(t) : lc_is_contiguous(t));
  return 1;
}

static int m_item(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "item");
  double v = lc_item(t); /* checks there is one element */
  if (t->dtype == LC_INT64) { /* exact beyond 2^53, where a double is not */
    int64_t i;
    lc_to_host(t, &i);
    lua_pushinteger(L, (lua_Integer)i);
  } else if (lc_dtype_is_float(t->dtype)) {
    lua_pushnumber(L, v);
  } else {
    lua_pushinteger(L, (lua_Integer)v);
  }
  return 1;
}

static void push_values(lua_State *L, const lc_tensor *t, const char *data, int dim, int64_t offset)
{
  if (dim == t->ndim) {
    const char *p = data + offset * (int64_t)lc_dtype_size(t->dtype);
    switch (t->dtype) {
    case LC_FLOAT32: lua_pushnumber(L, *(const float *)p); break;
    case LC_FLOAT64: lua_pushnumber(L, *(const double *)p); break;
    case LC_INT64: lua_pushinteger(L, *(const int64_t *)p); break;
    default: lua_pushinteger(L, *(const uint8_t *)p); break;
    }
    return;
  }
  lua_createtable(L, (int)t->sizes[dim], 0);
  for (int64_t i = 0; i < t->sizes[dim]; i++) {
    push_values(L, t, data, dim + 1, offset + i * t->strides[dim]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int m_totable(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "totable");
  lc_tensor *host = lc_to_device(t, LC_DEVICE_CPU);
  /* bfloat16 values are read as the float32 they widen to exactly */
  lc_tensor *c = host->dtype == LC_BFLOAT16 ? lc_to_dtype(host, LC_FLOAT32) : lc_contiguous_copy(host);
  lc_tensor_release(host);
  luaL_checkstack(L, c->ndim + 4, "totable");
  push_values(L, c, lc_data(c), 0, 0);
  lc_tensor_release(c);
  return 1;
}

/* ---- methods: views ---- */

static int m_view_like(lua_State *L, const char *op, bool reshape)
{
  lc_tensor *t = lcb_check_tensor(L, 1, op);
  int64_t sizes[LC_MAX_DIMS];
  int next;
  int nd = lcb_check_sizes(L, 2, op, sizes, &next);
  push(L, reshape ? lc_reshape(t, nd, sizes) : lc_view(t, nd, sizes));
  return 1;
}

static int m_view(lua_State *L) { return m_view_like(L, "view", false); }
static int m_reshape(lua_State *L) { return m_view_like(L, "reshape", true); }

static int m_expand(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "expand");
  lc_tensor *like = lcb_test_tensor(L, 2);
  int64_t sizes[LC_MAX_DIMS];
  int next, nd;
  if (like) {
    nd = like->ndim;
    memcpy(sizes, like->sizes, sizeof sizes);
  } else {
    nd = lcb_check_sizes(L, 2, "expand", sizes, &next);
  }
  push(L, lc_expand(t, nd, sizes));
  return 1;
}

static int m_transpose(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "transpose");
  if (lua_isnoneornil(L, 2)) {
    if (t->ndim != 2) return luaL_error(L, "t: expected a 2-D tensor, got shape %s", lc_shape_str(t));
    push(L, lc_transpose(t, 0, 1));
    return 1;
  }
  push(L, lc_transpose(t, lcb_check_dim(L, 2, "transpose"), lcb_check_dim(L, 3, "transpose")));
  return 1;
}

static int m_permute(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "permute");
  int dims[LC_MAX_DIMS], n = 0;
  if (lua_istable(L, 2)) {
    n = (int)lua_rawlen(L, 2);
    if (n > LC_MAX_DIMS) return luaL_error(L, "permute: too many dims");
    for (int k = 1; k <= n; k++) {
      lua_rawgeti(L, 2, k);
      dims[k - 1] = lcb_check_dim(L, -1, "permute");
      lua_pop(L, 1);
    }
  } else {
    while (n < LC_MAX_DIMS && !lua_isnoneornil(L, n + 2)) {
      dims[n] = lcb_check_dim(L, n + 2, "permute");
      n++;
    }
  }
  push(L, lc_permute(t, n, dims));
  return 1;
}

static int m_narrow(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "narrow");
  int dim = lcb_check_dim(L, 2, "narrow");
  lua_Integer start = luaL_checkinteger(L, 3), length = luaL_checkinteger(L, 4);
  if (start < 1) return luaL_error(L, "narrow: start %d is invalid: indices are 1-based", (int)start);
  push(L, lc_narrow(t, dim, start - 1, length));
  return 1;
}

static int m_select(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "select");
  int dim = lc_wrap_dim("select", lcb_check_dim(L, 2, "select"), t->ndim);
  lua_Integer i = luaL_checkinteger(L, 3);
  if (i == 0) return luaL_error(L, "select: index 0 is invalid: indices are 1-based");
  int64_t k = i > 0 ? i - 1 : t->sizes[dim] + i;
  if (k < 0) return luaL_error(L, "index %d is out of range for dim %d of size %d", (int)i, dim + 1, (int)t->sizes[dim]);
  push(L, lc_select(t, dim, k));
  return 1;
}

static int m_squeeze(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "squeeze");
  push(L, lc_squeeze(t, lua_isnoneornil(L, 2) ? LC_ALL_DIMS : lcb_check_dim(L, 2, "squeeze")));
  return 1;
}

static int m_unsqueeze(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "unsqueeze");
  push(L, lc_unsqueeze(t, lcb_check_dim(L, 2, "unsqueeze")));
  return 1;
}

static int m_flatten(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "flatten");
  int s = lua_isnoneornil(L, 2) ? 0 : lcb_check_dim(L, 2, "flatten");
  int e = lua_isnoneornil(L, 3) ? -1 : lcb_check_dim(L, 3, "flatten");
  push(L, lc_flatten(t, s, e));
  return 1;
}

static int m_contiguous(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "contiguous");
  push(L, lc_contiguous_as(t, opt_memory_format(L, 2, "contiguous")));
  return 1;
}

static int m_clone(lua_State *L)
{
  push(L, lc_clone(lcb_check_tensor(L, 1, "clone")));
  return 1;
}

static int m_detach(lua_State *L)
{
  push(L, lc_detach(lcb_check_tensor(L, 1, "detach")));
  return 1;
}

/* to('float64'), to('cuda'), to(other_tensor) */
static int m_to(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "to");
  lc_tensor *like = lcb_test_tensor(L, 2);
  lc_dtype dtype = t->dtype;
  lc_device device = t->storage->device;
  if (like) {
    dtype = like->dtype;
    device = like->storage->device;
  } else {
    for (int k = 2; k <= 3 && !lua_isnoneornil(L, k); k++) {
      const char *name = luaL_checkstring(L, k);
      if (!lc_dtype_from_name(name, &dtype) && !lc_device_from_name(name, &device))
        return luaL_error(L, "to: '%s' is neither a dtype (float32, float64, int64, uint8) nor a "
                             "device ('cpu', 'cuda', 'cuda:N')", name);
    }
  }
  lc_tensor *moved = lc_to_device(t, device);
  if (moved->dtype == dtype) {
    push(L, moved);
    return 1;
  }
  lc_tensor *cast = lc_to_dtype(moved, dtype);
  lc_tensor_release(moved);
  push(L, cast);
  return 1;
}

/* ---- methods: in-place ---- */

static int m_copy_(lua_State *L)
{
  lua_settop(L, 2);
  lc_tensor *t = lcb_check_tensor(L, 1, "copy_");
  lc_tensor *src = lcb_on_stack(L, lcb_tensor_or_number(L, 2, "copy_", t));
  lc_tensor *moved = lcb_on_stack(L, lc_to_device(src, t->storage->device));
  lc_assign(t, moved);
  lua_settop(L, 1);
  return 1;
}

static int m_fill_(lua_State *L)
{
  lua_settop(L, 2);
  lc_tensor *t = lcb_check_tensor(L, 1, "fill_");
  lc_tensor *v = lcb_on_stack(L, lc_full(0, NULL, luaL_checknumber(L, 2), t->dtype, t->storage->device));
  lc_assign(t, v);
  lua_settop(L, 1);
  return 1;
}

static int m_zero_(lua_State *L)
{
  lua_settop(L, 1);
  lua_pushinteger(L, 0);
  return m_fill_(L);
}

/* add_(x [, alpha]), mul_(x), ... : without autograd involvement they write in place;
 * with it they go through lc_assign so the graph stays right. */
static int inplace_arith(lua_State *L, int op, const char *name)
{
  lc_tensor *t = lcb_check_tensor(L, 1, name);
  if (op == 0 && lua_type(L, 3) == LUA_TNUMBER && lcb_test_tensor(L, 2)) { /* add_(x, alpha) */
    lc_tensor *scaled = lc_unary(LC_UN_MUL_SCALAR, lcb_test_tensor(L, 2), lua_tonumber(L, 3), 0);
    lua_settop(L, 1);
    lcb_push_tensor(L, scaled);
  }
  lua_settop(L, 2);
  lcb_arith(L, op); /* pushes t op x */
  lc_tensor *result = lcb_check_tensor(L, -1, name);
  lc_assign(t, result);
  lua_settop(L, 1);
  return 1;
}

static int m_add_(lua_State *L) { return inplace_arith(L, 0, "add_"); }
static int m_sub_(lua_State *L) { return inplace_arith(L, 1, "sub_"); }
static int m_mul_(lua_State *L) { return inplace_arith(L, 2, "mul_"); }
static int m_div_(lua_State *L) { return inplace_arith(L, 3, "div_"); }

static int m_uniform_(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "uniform_");
  lc_uniform_(t, luaL_optnumber(L, 2, 0), luaL_optnumber(L, 3, 1));
  lua_settop(L, 1);
  return 1;
}

static int m_normal_(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "normal_");
  lc_normal_(t, luaL_optnumber(L, 2, 0), luaL_optnumber(L, 3, 1));
  lua_settop(L, 1);
  return 1;
}

/* t:set_(src): t now views src's data (device and dtype included); t stays the same
 * object, so whatever holds it (an optimizer) follows. Only leaves can be re-pointed. */
static int m_set_(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "set_"), *src = lcb_check_tensor(L, 2, "set_");
  if (t->grad_fn)
    return luaL_error(L, "set_: only a leaf tensor can be re-pointed (this one has grad_fn %s)",
                      t->grad_fn->name);
  if (t->requires_grad && !lc_dtype_is_float(src->dtype))
    return luaL_error(L, "set_: a tensor that requires grad cannot take %s data", lc_dtype_name(src->dtype));
  lc_set_(t, src);
  lua_settop(L, 1);
  return 1;
}

static int m_requires_grad_(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "requires_grad_");
  bool on = lua_isnoneornil(L, 2) ? true : lua_toboolean(L, 2);
  if (on && !lc_dtype_is_float(t->dtype))
    return luaL_error(L, "requires_grad_: only float tensors can require gradients, this one is %s", lc_dtype_name(t->dtype));
  if (t->grad_fn && !on) return luaL_error(L, "requires_grad_: only leaf tensors can stop requiring grad");
  t->requires_grad = on;
  lua_settop(L, 1);
  return 1;
}

/* ---- methods: math ---- */

static int unary_method(lua_State *L, lc_unary_op op, const char *name)
{
  push(L, lc_unary(op, lcb_check_tensor(L, 1, name), 0, 0));
  return 1;
}

#define UNARY(fn, op) static int fn(lua_State *L) { return unary_method(L, op, #fn + 2); }
UNARY(m_neg, LC_UN_NEG)
UNARY(m_exp, LC_UN_EXP)
UNARY(m_log, LC_UN_LOG)
UNARY(m_sqrt, LC_UN_SQRT)
UNARY(m_abs, LC_UN_ABS)
UNARY(m_sigmoid, LC_UN_SIGMOID)
UNARY(m_tanh, LC_UN_TANH)
UNARY(m_relu, LC_UN_RELU)
UNARY(m_sign, LC_UN_SIGN)
UNARY(m_reciprocal, LC_UN_RECIPROCAL)
#undef UNARY

static int m_clamp(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "clamp");
  double lo = lua_isnoneornil(L, 2) ? -INFINITY : luaL_checknumber(L, 2);
  double hi = lua_isnoneornil(L, 3) ? INFINITY : luaL_checknumber(L, 3);
  if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3)) return luaL_error(L, "clamp: at least one of min and max must be given");
  push(L, lc_unary(LC_UN_CLAMP, t, lo, hi));
  return 1;
}

static int m_add(lua_State *L) { return lcb_arith(L, 0); }
static int m_sub(lua_State *L) { return lcb_arith(L, 1); }
static int m_mul(lua_State *L) { return lcb_arith(L, 2); }
static int m_div(lua_State *L) { return lcb_arith(L, 3); }
static int m_pow(lua_State *L) { return lcb_arith(L, 4); }

static int compare(lua_State *L, lc_binary_op bop, lc_unary_op uop, const char *name)
{
  lc_tensor *t = lcb_check_tensor(L, 1, name);
  if (lua_type(L, 2) == LUA_TNUMBER) {
    push(L, lc_unary(uop, t, lua_tonumber(L, 2), 0));
    return 1;
  }
  push(L, lc_binary(bop, t, lcb_check_tensor(L, 2, name)));
  return 1;
}

static int m_gt(lua_State *L) { return compare(L, LC_BIN_GT, LC_UN_GT_SCALAR, "gt"); }
static int m_lt(lua_State *L) { return compare(L, LC_BIN_LT, LC_UN_LT_SCALAR, "lt"); }
static int m_ge(lua_State *L) { return compare(L, LC_BIN_GE, LC_UN_GE_SCALAR, "ge"); }
static int m_le(lua_State *L) { return compare(L, LC_BIN_LE, LC_UN_LE_SCALAR, "le"); }
static int m_eq(lua_State *L) { return compare(L, LC_BIN_EQ, LC_UN_EQ_SCALAR, "eq"); }
static int m_ne(lua_State *L) { return compare(L, LC_BIN_NE, LC_UN_NE_SCALAR, "ne"); }

static int pairwise(lua_State *L, lc_binary_op op, const char *name)
{
  lua_settop(L, 2);
  lc_tensor *a = lcb_check_tensor(L, 1, name);
  lc_tensor *b = lcb_on_stack(L, lcb_tensor_or_number(L, 2, name, a));
  push(L, lc_binary(op, a, b));
  return 1;
}

static int m_maximum(lua_State *L) { return pairwise(L, LC_BIN_MAX, "maximum"); }
static int m_minimum(lua_State *L) { return pairwise(L, LC_BIN_MIN, "minimum"); }

static int m_matmul(lua_State *L)
{
  push(L, lc_matmul(lcb_check_tensor(L, 1, "matmul"), lcb_check_tensor(L, 2, "matmul")));
  return 1;
}

/* ---- methods: reductions ---- */

/* dims: nil (all), a number, or a list; keepdim as a boolean or {keepdim = true}. */
static int parse_reduction(lua_State *L, lc_tensor *t, const char *op, bool *dims, bool *keepdim)
{
  int opts = 3;
  bool all = false;
  memset(dims, 0, LC_MAX_DIMS * sizeof *dims);
  if (lua_isnoneornil(L, 2)) {
    all = true;
  } else if (lua_type(L, 2) == LUA_TNUMBER) {
    dims[lc_wrap_dim(op, lcb_check_dim(L, 2, op), t->ndim)] = true;
  } else if (lua_istable(L, 2) && lua_rawlen(L, 2) > 0) {
    for (int k = 1; k <= (int)lua_rawlen(L, 2); k++) {
      lua_rawgeti(L, 2, k);
      int d = lc_wrap_dim(op, lcb_check_dim(L, -1, op), t->ndim);
      if (dims[d]) luaL_error(L, "%s: dim %d appears twice", op, d + 1);
      dims[d] = true;
      lua_pop(L, 1);
    }
  } else if (lua_istable(L, 2)) { /* sum({keepdim = true}) */
    all = true;
    opts = 2;
  } else {
    luaL_error(L, "%s: dims must be a number or a list of numbers, got %s", op, luaL_typename(L, 2));
  }
  if (all)
    for (int d = 0; d < t->ndim; d++) dims[d] = true;
  if (lua_type(L, opts) == LUA_TBOOLEAN) *keepdim = lua_toboolean(L, opts);
  else *keepdim = lcb_opt_bool(L, lua_istable(L, opts) ? opts : 0, "keepdim", false);
  return opts;
}

typedef lc_tensor *(*reduction_fn)(lc_tensor *, const bool *, bool);

static int reduction_method(lua_State *L, const char *op, reduction_fn reduce)
{
  lc_tensor *t = lcb_check_tensor(L, 1, op);
  bool dims[LC_MAX_DIMS], keep;
  static const char *const known[] = {"keepdim", NULL};
  int opts = parse_reduction(L, t, op, dims, &keep);
  lcb_check_opts(L, lua_istable(L, opts) ? opts : 0, op, known);
  push(L, reduce(t, dims, keep));
  return 1;
}

static int m_sum(lua_State *L) { return reduction_method(L, "sum", lc_sum); }
static int m_mean(lua_State *L) { return reduction_method(L, "mean", lc_mean); }
static int m_prod(lua_State *L) { return reduction_method(L, "prod", lc_prod); }

/* var(dims, {keepdim, unbiased = true | correction = 1}) as PyTorch (unbiased default). */
static int m_var(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "var");
  bool dims[LC_MAX_DIMS], keep;
  int opts = parse_reduction(L, t, "var", dims, &keep);
  int o = lua_istable(L, opts) ? opts : 0;
  static const char *const known[] = {"keepdim", "unbiased", "correction", NULL};
  lcb_check_opts(L, o, "var", known);
  double correction = lcb_opt_bool(L, o, "unbiased", true) ? 1 : 0;
  correction = lcb_opt_number(L, o, "correction", correction);
  push(L, lc_var(t, dims, keep, correction));
  return 1;
}

/* max() -> value tensor; max(dim [, keepdim]) -> values, indices (1-based) */
static int extremum(lua_State *L, bool is_min, bool want_index)
{
  const char *op = want_index ? (is_min ? "argmin" : "argmax") : (is_min ? "min" : "max");
  lc_tensor *t = lcb_check_tensor(L, 1, op);
  bool all = lua_isnoneornil(L, 2);
  if (!all && lua_type(L, 2) != LUA_TNUMBER)
    return luaL_error(L, "%s: expected a dim (number), got %s", op, luaL_typename(L, 2));
  int dim = all ? -LC_ALL_DIMS : lcb_check_dim(L, 2, op);
  static const char *const known[] = {"keepdim", NULL};
  lcb_check_opts(L, lua_istable(L, 3) ? 3 : 0, op, known);
  bool keep = lua_type(L, 3) == LUA_TBOOLEAN ? lua_toboolean(L, 3)
                                               : lcb_opt_bool(L, lua_istable(L, 3) ? 3 : 0, "keepdim", false);
  lc_tensor *values, *indices;
  lc_max(t, dim, keep, is_min, &values, &indices);
  lc_tensor *one_based = lc_unary(LC_UN_ADD_SCALAR, indices, 1, 0);
  lc_tensor_release(indices);
  if (want_index) {
    lc_tensor_release(values);
    push(L, one_based);
    return 1;
  }
  push(L, values);
  if (all) {
    lc_tensor_release(one_based);
    return 1;
  }
  push(L, one_based);
  return 2;
}

static int m_max(lua_State *L) { return extremum(L, false, false); }
static int m_min(lua_State *L) { return extremum(L, true, false); }
static int m_argmax(lua_State *L) { return extremum(L, false, true); }
static int m_argmin(lua_State *L) { return extremum(L, true, true); }

/* ---- autograd ---- */

static int run_backward(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "backward");
  lc_tensor *grad = lcb_test_tensor(L, 2);
  int opts = lua_istable(L, 2) && !grad ? 2 : lua_istable(L, 3) ? 3 : 0;
  static const char *const known[] = {"retain_graph", NULL};
  lcb_check_opts(L, opts, "backward", known);
  lc_backward(t, grad, lcb_opt_bool(L, opts, "retain_graph", false));
  return 0;
}

/* The engine turns grad mode off while it runs; an error in the middle of a backward
 * must not leave it off for the rest of the script. */
static int m_backward(lua_State *L)
{
  bool grad_mode = lc_grad_enabled();
  lua_pushcfunction(L, run_backward);
  lua_insert(L, 1);
  int status = lua_pcall(L, lua_gettop(L) - 1, 0, 0);
  lc_set_grad_enabled(grad_mode);
  if (status != LUA_OK) return lua_error(L);
  return 0;
}

void lcb_open_ops(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"dim", m_dim}, {"numel", m_numel}, {"shape", m_shape}, {"size", m_size},
    {"stride", m_stride}, {"is_contiguous", m_is_contiguous},
    {"is_floating_point", m_is_floating_point}, {"item", m_item},
    {"totable", m_totable}, {"view", m_view}, {"reshape", m_reshape}, {"expand", m_expand},
    {"transpose", m_transpose}, {"t", m_transpose}, {"permute", m_permute},
    {"narrow", m_narrow}, {"select", m_select}, {"squeeze", m_squeeze},
    {"unsqueeze", m_unsqueeze}, {"flatten", m_flatten}, {"contiguous", m_contiguous},
    {"clone", m_clone}, {"detach", m_detach}, {"to", m_to}, {"copy_", m_copy_},
    {"fill_", m_fill_}, {"zero_", m_zero_}, {"add_", m_add_}, {"sub_", m_sub_},
    {"mul_", m_mul_}, {"div_", m_div_}, {"uniform_", m_uniform_}, {"normal_", m_normal_},
    {"requires_grad_", m_requires_grad_}, {"set_", m_set_}, {"neg", m_neg}, {"exp", m_exp}, {"log", m_log},
    {"sqrt", m_sqrt}, {"abs", m_abs}, {"sigmoid", m_sigmoid}, {"tanh", m_tanh},
    {"relu", m_relu}, {"sign", m_sign}, {"reciprocal", m_reciprocal}, {"clamp", m_clamp},
    {"add", m_add}, {"sub", m_sub}, {"mul", m_mul}, {"div", m_div}, {"pow", m_pow},
    {"gt", m_gt}, {"lt", m_lt}, {"ge", m_ge}, {"le", m_le}, {"eq", m_eq}, {"ne", m_ne},
    {"maximum", m_maximum}, {"minimum", m_minimum}, {"matmul", m_matmul}, {"mm", m_matmul},
    {"sum", m_sum}, {"mean", m_mean}, {"prod", m_prod}, {"var", m_var}, {"max", m_max},
    {"min", m_min}, {"argmax", m_argmax}, {"argmin", m_argmin}, {"backward", m_backward},
    {NULL, NULL},
  };
  lua_getfield(L, -1, "Tensor");
  lcb_register(L, methods);
  lua_pop(L, 1);
}
