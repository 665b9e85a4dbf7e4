/* Data loading: IDX files, random permutations and index_select, the pieces lib/luacnn/data.lua
 * builds its loaders from. Indices cross into the runtime's 0-based world here. */
#include "bindings/luacnn.h"
#include "runtime/idx.h"
#include "runtime/ops_index.h"

/* The CSV reader, duplicate finder and image loader (bindings/loader.c): weak, as an area. */
void lcb_open_loader(lua_State *L) __attribute__((weak));

/* core.read_idx(path) -> uint8 tensor of the header's dims (errors name the file). */
static int l_read_idx(lua_State *L)
{
  lcb_push_tensor(L, lc_read_idx(luaL_checkstring(L, 1)));
  return 1;
}

/* core.randperm(n [, {dtype=, device=}]) -> a permutation of 1..n (int64 by default). PyTorch's
 * holds 0..n-1; ours holds what a Lua user indexes with. */
static int l_randperm(lua_State *L)
{
  lua_Integer nn;
  if (!lcb_tointeger(L, 1, &nn))
    return luaL_error(L, "randperm: n must be an integer, got %s",
                      lua_type(L, 1) == LUA_TNUMBER ? lua_tostring(L, 1) : luaL_typename(L, 1));
  int64_t n = (int64_t)nn;
  if (n < 0) return luaL_error(L, "randperm: n must be >= 0, got %d", (int)n);
  int opts = lua_istable(L, 2) ? 2 : 0;
  static const char *const known[] = {"dtype", "device", NULL};
  lcb_check_opts(L, opts, "randperm", known);
  lc_dtype dtype = lcb_opt_dtype(L, opts, "randperm", LC_INT64);
  lc_device device = lcb_opt_device(L, opts, "randperm", LC_DEVICE_CPU);
  lc_tensor *zero_based = lc_randperm(n, LC_DEVICE_CPU);
  lcb_push_tensor(L, zero_based); /* owned by Lua from here: errors below leak nothing */
  lc_tensor *one_based = lc_unary(LC_UN_ADD_SCALAR, zero_based, 1, 0);
  lcb_push_tensor(L, one_based);
  lc_tensor *typed = lc_to_dtype(one_based, dtype);
  lcb_push_tensor(L, typed);
  lcb_push_tensor(L, lc_to_device(typed, device));
  return 1;
}

/* 1-based Lua index -> the runtime's 0-based one; negatives (from the end) pass unchanged. */
static int64_t shift_index(lua_State *L, int64_t v, int64_t position, const char *op)
{
  if (v == 0)
    luaL_error(L, "%s: index 0 (position %d) is invalid: indices are 1-based (1 is the first, "
                  "-1 the last)", op, (int)position);
  return v > 0 ? v - 1 : v;
}

/* The indices at `arg` (an int64 tensor of 0 or 1 dims, or a table of integers) as a new
 * 0-based host tensor. It is left on the Lua stack, which owns it. */
static lc_tensor *check_indices(lua_State *L, int arg, const char *op)
{
  lc_tensor *t = lcb_test_tensor(L, arg);
  int64_t n;
  if (t) {
    if (t->dtype != LC_INT64)
      luaL_error(L, "%s: indices must be an int64 tensor (or a table of integers), got %s", op,
                 lc_dtype_name(t->dtype));
    if (t->ndim > 1)
      luaL_error(L, "%s: indices must be a 1-D tensor, got shape %s", op, lc_shape_str(t));
    n = lc_numel(t);
    lc_tensor *host = lc_to_device(t, LC_DEVICE_CPU);
    lcb_push_tensor(L, host);
    if (!lc_is_contiguous(host)) {
      host = lc_contiguous_copy(host);
      lcb_push_tensor(L, host);
    }
    int64_t sizes[1] = {n};
    lc_tensor *out = lc_empty(1, sizes, LC_INT64, LC_DEVICE_CPU);
    lcb_push_tensor(L, out);
    const int64_t *in = lc_data(host);
    int64_t *o = lc_data(out);
    for (int64_t k = 0; k < n; k++) o[k] = shift_index(L, in[k], k + 1, op);
    return out;
  }
  if (!lua_istable(L, arg))
    luaL_error(L, "%s: expected indices (an int64 tensor or a table of integers) as argument %d, "
                  "got %s", op, arg, luaL_typename(L, arg));
  n = (int64_t)lua_rawlen(L, arg);
  int64_t sizes[1] = {n};
  lc_tensor *out = lc_empty(1, sizes, LC_INT64, LC_DEVICE_CPU);
  lcb_push_tensor(L, out);
  int64_t *o = lc_data(out);
  for (int64_t k = 0; k < n; k++) {
    lua_rawgeti(L, arg, (lua_Integer)k + 1);
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok)
      luaL_error(L, "%s: index %d of the table must be an integer, got %s", op, (int)k + 1,
                 lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
    lua_pop(L, 1);
    o[k] = shift_index(L, (int64_t)v, k + 1, op);
  }
  return out;
}

/* t:index_select(dim, idx): the slices of t at the (1-based) indices along dim. */
static int t_index_select(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "index_select");
  int dim = lcb_check_dim(L, 2, "index_select");
  lc_tensor *idx = check_indices(L, 3, "index_select");
  lcb_push_tensor(L, lc_index_select(t, dim, idx));
  return 1;
}

void lcb_open_data(lua_State *L)
{
  static const luaL_Reg functions[] = {
    {"read_idx", l_read_idx}, {"randperm", l_randperm}, {"index_select", t_index_select},
    {NULL, NULL},
  };
  lcb_register(L, functions);
  static const luaL_Reg methods[] = {{"index_select", t_index_select}, {NULL, NULL}};
  lua_getfield(L, -1, "Tensor");
  lcb_register(L, methods);
  lua_pop(L, 1);
  if (lcb_open_loader) lcb_open_loader(L);
}
