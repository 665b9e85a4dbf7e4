/* The tensor userdata: metamethods, fields and Torch7-style index tables. */
#include <string.h>

#include "bindings/luacnn.h"

static int methods_ref = LUA_NOREF; /* the Tensor methods table (lc.Tensor) */

static int t_gc(lua_State *L)
{
  lc_tensor **p = luaL_checkudata(L, 1, LCB_TENSOR_MT);
  lc_tensor_release(*p);
  *p = NULL;
  return 0;
}

/* The tensor of a metamethod's self. Its C tensor is gone once __gc has run, yet Lua can
 * still reach the userdata from another object's finalizer. */
static lc_tensor *self_tensor(lua_State *L)
{
  lc_tensor *t = *(lc_tensor **)luaL_checkudata(L, 1, LCB_TENSOR_MT); /* metamethods are reachable */
  if (!t) luaL_error(L, "tensor: used after it was garbage-collected (from a __gc finalizer)");
  return t;
}

/* ---- index tables: t[{1, {2, 4}, {}}] ---- */

/* `dim` (0-based) is the dim of the indexed tensor, for messages: entry k of an index
 * table always addresses dim k of the original, even after earlier entries dropped dims. */
static int64_t index_value(lua_State *L, lua_Integer i, int64_t size, int dim)
{
  if (i == 0) luaL_error(L, "index 0 is invalid for dim %d: indices are 1-based", dim + 1);
  int64_t k = i > 0 ? i - 1 : size + i;
  if (k < 0 || k >= size)
    luaL_error(L, "index %I is out of range for dim %d of size %I", (lua_Integer)i, dim + 1,
               (lua_Integer)size);
  return k;
}

/* One entry of an index table, checked: a position (the dim goes), a range, or all. */
typedef struct {
  enum { ENTRY_SELECT, ENTRY_RANGE, ENTRY_ALL } kind;
  int64_t first, length;
} index_entry;

/* Reads the entry at stack idx for dim `dim` (of size `size`) of the indexed tensor.
 * Entry k always addresses dim k of the original, whatever earlier entries dropped, so
 * every entry can be checked before any view is made: nothing leaks when one is bad. */
static void parse_entry(lua_State *L, int idx, int64_t size, int dim, index_entry *e)
{
  lua_Integer i;
  if (lcb_tointeger(L, idx, &i)) {
    e->kind = ENTRY_SELECT;
    e->first = index_value(L, i, size, dim);
    return;
  }
  if (lua_type(L, idx) == LUA_TNUMBER)
    luaL_error(L, "index: expected an integer, got %s", lua_tostring(L, idx));
  if (!lua_istable(L, idx))
    luaL_error(L, "index: expected an integer or a {first, last} range, got %s", luaL_typename(L, idx));
  int n = (int)lua_rawlen(L, idx);
  if (n == 0) {
    e->kind = ENTRY_ALL;
    return;
  }
  if (n > 2) luaL_error(L, "index: a range is {first, last}, got %d numbers", n);
  lua_rawgeti(L, idx, 1);
  lua_rawgeti(L, idx, n);
  lua_Integer first_raw, last_raw;
  if (!lcb_tointeger(L, -2, &first_raw) || !lcb_tointeger(L, -1, &last_raw))
    luaL_error(L, "index: range bounds must be integers");
  lua_pop(L, 2);
  int64_t first = index_value(L, first_raw, size, dim);
  int64_t last = index_value(L, last_raw, size, dim);
  if (last < first)
    luaL_error(L, "index: range {%I, %I} is empty or reversed for dim %d of size %I",
               first_raw, last_raw, dim + 1, (lua_Integer)size);
  e->kind = ENTRY_RANGE;
  e->first = first;
  e->length = last - first + 1;
}

/* The view a key selects: an integer (along dim 1) or a table of entries. */
static lc_tensor *index_view(lua_State *L, lc_tensor *t, int key)
{
  index_entry entries[LC_MAX_DIMS];
  int n = lua_istable(L, key) ? (int)lua_rawlen(L, key) : 1;
  if (n > t->ndim) {
    if (!lua_istable(L, key)) luaL_error(L, "index: too many indices for a tensor of %d dims", t->ndim);
    luaL_error(L, "index: %d indices given for a tensor of %d dims", n, t->ndim);
  }
  if (!lua_istable(L, key)) {
    parse_entry(L, key, t->sizes[0], 0, &entries[0]);
  } else {
    for (int k = 0; k < n; k++) {
      lua_rawgeti(L, key, k + 1);
      parse_entry(L, lua_gettop(L), t->sizes[k], k, &entries[k]);
      lua_pop(L, 1);
    }
  }
  lc_tensor *v = lc_tensor_retain(t);
  for (int k = 0, dim = 0; k < n; k++) {
    const index_entry *e = &entries[k];
    lc_tensor *next = e->kind == ENTRY_SELECT ? lc_select(v, dim, e->first)
                    : e->kind == ENTRY_RANGE  ? lc_narrow(v, dim, e->first, e->length)
                                              : lc_tensor_retain(v);
    if (e->kind != ENTRY_SELECT) dim++; /* a selected dim disappears */
    lc_tensor_release(v);
    v = next;
  }
  return v;
}

/* ---- fields ---- */

static int push_field(lua_State *L, lc_tensor *t, const char *key)
{
  if (strcmp(key, "grad") == 0) {
    if (t->grad) lcb_push_tensor(L, lc_tensor_retain(t->grad));
    else lua_pushnil(L);
  } else if (strcmp(key, "requires_grad") == 0) {
    lua_pushboolean(L, t->requires_grad);
  } else if (strcmp(key, "dtype") == 0) {
    lua_pushstring(L, lc_dtype_name(t->dtype));
  } else if (strcmp(key, "device") == 0) {
    lcb_push_device(L, t->storage->device);
  } else if (strcmp(key, "is_leaf") == 0) {
    lua_pushboolean(L, t->grad_fn == NULL);
  } else if (strcmp(key, "grad_fn") == 0) {
    if (t->grad_fn) lua_pushstring(L, t->grad_fn->name);
    else lua_pushnil(L);
  } else if (strcmp(key, "ndim") == 0) {
    lua_pushinteger(L, t->ndim);
  } else {
    return 0;
  }
  return 1;
}

static int t_index(lua_State *L)
{
  lc_tensor *t = self_tensor(L);
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, methods_ref);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNIL) return 1;
    lua_pop(L, 2);
    if (push_field(L, t, lua_tostring(L, 2))) return 1;
    /* other names: lib/luacnn's hook (x.shape, x.T, "did you mean" for a misspelt method) */
    if (lua_getfield(L, LUA_REGISTRYINDEX, "luacnn.tensor_missing") == LUA_TFUNCTION) {
      lua_pushvalue(L, 1);
      lua_pushvalue(L, 2);
      lua_call(L, 2, 1);
      return 1;
    }
    lua_pushnil(L);
    return 1;
  }
  lcb_push_tensor(L, index_view(L, t, 2));
  return 1;
}

static void set_requires_grad(lua_State *L, lc_tensor *t, bool on)
{
  if (t->grad_fn && !on)
    luaL_error(L, "requires_grad: it can only be changed on leaf tensors; use :detach() to "
               "get a tensor without history");
  if (on && !lc_dtype_is_float(t->dtype))
    luaL_error(L, "requires_grad: only float tensors can require gradients, this one is %s",
               lc_dtype_name(t->dtype));
  if (!t->grad_fn) t->requires_grad = on;
}

static int t_newindex(lua_State *L)
{
  lc_tensor *t = self_tensor(L);
  if (lua_type(L, 2) == LUA_TSTRING) {
    const char *key = lua_tostring(L, 2);
    if (strcmp(key, "requires_grad") == 0) {
      set_requires_grad(L, t, lua_toboolean(L, 3));
    } else if (strcmp(key, "grad") == 0) {
      lc_tensor *g = lua_isnil(L, 3) ? NULL : lcb_check_tensor(L, 3, "grad");
      if (g && !lc_same_shape(g, t))
        luaL_error(L, "grad: shape %s does not match the tensor's %s", lc_shape_str(g), lc_shape_str(t));
      lc_unhold(lc_tensor_retain(g)); /* t owns it */
      lc_tensor_release(t->grad);
      t->grad = g;
    } else {
      luaL_error(L, "tensor: cannot set field '%s' (only requires_grad, grad and indices can be set)", key);
    }
    return 0;
  }
  /* Both go on the stack, owned by Lua, so a write that raises (shapes, leaf) leaks
   * neither the view nor a reference to the source. */
  lc_tensor *view = index_view(L, t, 2);
  lcb_push_tensor(L, view);
  lc_tensor *src = lcb_tensor_or_number(L, 3, "index assignment", view);
  lcb_push_tensor(L, src);
  lc_assign(view, src);
  return 0;
}

static int t_len(lua_State *L)
{
  lc_tensor *t = self_tensor(L);
  if (t->ndim == 0) luaL_error(L, "len: a 0-dim tensor has no length");
  lua_pushinteger(L, t->sizes[0]);
  return 1;
}

/* ---- arithmetic metamethods ---- */

typedef enum { ARITH_ADD, ARITH_SUB, ARITH_MUL, ARITH_DIV, ARITH_POW } arith_op;

static lc_tensor *tensor_scalar(arith_op op, lc_tensor *t, double s, bool scalar_first)
{
  switch (op) {
  case ARITH_ADD: return lc_unary(LC_UN_ADD_SCALAR, t, s, 0);
  case ARITH_SUB: return scalar_first ? lc_unary(LC_UN_RSUB_SCALAR, t, s, 0) : lc_unary(LC_UN_ADD_SCALAR, t, -s, 0);
  case ARITH_MUL: return lc_unary(LC_UN_MUL_SCALAR, t, s, 0);
  case ARITH_DIV: return scalar_first ? lc_unary(LC_UN_RDIV_SCALAR, t, s, 0) : lc_unary(LC_UN_DIV_SCALAR, t, s, 0);
  default: return scalar_first ? lc_unary(LC_UN_RPOW_SCALAR, t, s, 0) : lc_unary(LC_UN_POW_SCALAR, t, s, 0);
  }
}

/* PyTorch: a Python float makes an integer tensor's result float whatever its value
 * (arange(3) * 2.0 is float32, arange(3) * 2 int64); Lua keeps 2 and 2.0 apart too. */
static lc_tensor *with_scalar(lua_State *L, arith_op op, lc_tensor *t, int idx, bool scalar_first)
{
  double s = lua_tonumber(L, idx);
  if (lc_dtype_is_float(t->dtype) || lua_isinteger(L, idx)) return tensor_scalar(op, t, s, scalar_first);
  lc_tensor *f = lc_to_dtype(t, LC_FLOAT32);
  lc_tensor *r = tensor_scalar(op, f, s, scalar_first);
  lc_tensor_release(f);
  return r;
}

static const char *arith_names[] = {"add", "sub", "mul", "div", "pow"};
static const lc_binary_op arith_binary[] = {LC_BIN_ADD, LC_BIN_SUB, LC_BIN_MUL, LC_BIN_DIV, LC_BIN_POW};

int lcb_arith(lua_State *L, int op)
{
  const char *name = arith_names[op];
  lc_tensor *a = lcb_test_tensor(L, 1), *b = lcb_test_tensor(L, 2);
  lc_tensor *out;
  if (a && b) {
    out = lc_binary(arith_binary[op], a, b);
  } else if (a && lua_type(L, 2) == LUA_TNUMBER) {
    out = with_scalar(L, (arith_op)op, a, 2, false);
  } else if (b && lua_type(L, 1) == LUA_TNUMBER) {
    out = with_scalar(L, (arith_op)op, b, 1, true);
  } else {
    int bad = a ? 2 : 1;
    return luaL_error(L, "%s: expected a tensor or a number as argument %d, got %s", name, bad,
                      lua_isnoneornil(L, bad) ? "nil" : luaL_typename(L, bad));
  }
  lcb_push_tensor(L, out);
  return 1;
}

static int t_add(lua_State *L) { return lcb_arith(L, ARITH_ADD); }
static int t_sub(lua_State *L) { return lcb_arith(L, ARITH_SUB); }
static int t_mul(lua_State *L) { return lcb_arith(L, ARITH_MUL); }
static int t_div(lua_State *L) { return lcb_arith(L, ARITH_DIV); }
static int t_pow(lua_State *L) { return lcb_arith(L, ARITH_POW); }

static int t_unm(lua_State *L)
{
  lcb_push_tensor(L, lc_unary(LC_UN_NEG, lcb_check_tensor(L, 1, "neg"), 0, 0));
  return 1;
}

static int t_lt(lua_State *L)
{
  return luaL_error(L, "tensor comparison with < is not supported; use a:lt(b), a:gt(b), "
                       "a:le(b), a:ge(b) (they compare elementwise)");
}

void lcb_open_tensor(lua_State *L)
{
  static const luaL_Reg meta[] = {
    {"__gc", t_gc}, {"__index", t_index}, {"__newindex", t_newindex}, {"__len", t_len},
    {"__add", t_add}, {"__sub", t_sub}, {"__mul", t_mul}, {"__div", t_div}, {"__pow", t_pow},
    {"__unm", t_unm}, {"__lt", t_lt}, {"__le", t_lt}, {NULL, NULL},
  };
  luaL_newmetatable(L, LCB_TENSOR_MT);
  lcb_register(L, meta);
  lua_pushliteral(L, "Tensor");
  lua_setfield(L, -2, "__name");
  lua_setfield(L, -2, "Tensor_mt"); /* module.Tensor_mt: Lua adds __tostring, __concat */
  /* module.Tensor: the methods table, filled by bindings/ops.c and lib/luacnn */
  lua_newtable(L);
  lua_pushvalue(L, -1);
  methods_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_setfield(L, -2, "Tensor");
}
