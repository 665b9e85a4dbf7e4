#include <stdlib.h>
#include <string.h>

#include "bindings/luacnn.h"

/* ---- errors ---- */

static lua_State *current_state;

void lcb_set_current(lua_State *L) { current_state = L; }

/* The handler unwinds, so it releases what the unwound ops still held (runtime/tensor.h)
 * before lua_error jumps past them; lc_error itself knows no tensors. */
static void raise_in_lua(const char *message)
{
  lua_State *L = current_state;
  lc_release_held();
  lc_backward_unwind();
  lc_autocast_unwind();
  lua_pushstring(L, message);
  lua_error(L);
}

void lcb_install_error_handler(lua_State *L)
{
  current_state = L;
  lc_set_error_handler(raise_in_lua);
}

static int trampoline(lua_State *L)
{
  lua_CFunction f = lua_tocfunction(L, lua_upvalueindex(1));
  lua_State *previous = current_state;
  current_state = L;
  /* an error inside releases what this call created and still owned (runtime/tensor.h) */
  int scope = lc_scope_begin();
  int n = f(L);
  lc_scope_end(scope);
  current_state = previous;
  return n;
}

void lcb_register(lua_State *L, const luaL_Reg *fns)
{
  for (; fns->name; fns++) {
    lua_pushcfunction(L, fns->func);
    lua_pushcclosure(L, trampoline, 1);
    lua_setfield(L, -2, fns->name);
  }
}

/* ---- tensors as userdata ---- */

lc_tensor *lcb_test_tensor(lua_State *L, int idx)
{
  lc_tensor **p = luaL_testudata(L, idx, LCB_TENSOR_MT);
  return p ? *p : NULL;
}

static const char *describe(lua_State *L, int idx)
{
  return lua_isnoneornil(L, idx) ? "nil" : luaL_typename(L, idx);
}

lc_tensor *lcb_check_tensor(lua_State *L, int idx, const char *op)
{
  lc_tensor *t = lcb_test_tensor(L, idx);
  if (!t && luaL_testudata(L, idx, LCB_TENSOR_MT))
    luaL_error(L, "%s: argument %d is a tensor that was already garbage-collected (reached "
               "again from a __gc finalizer)", op, idx);
  if (!t)
    luaL_error(L, "%s: expected a tensor as argument %d, got %s", op, idx, describe(L, idx));
  return t;
}

lc_tensor *lcb_tensor_or_number(lua_State *L, int idx, const char *op, const lc_tensor *like)
{
  lc_tensor *t = lcb_test_tensor(L, idx);
  if (t) return lc_tensor_retain(t);
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lc_dtype dtype = like ? like->dtype : LC_FLOAT32;
    if (lua_isinteger(L, idx) == 0 && !lc_dtype_is_float(dtype)) dtype = LC_FLOAT32;
    return lc_full(0, NULL, lua_tonumber(L, idx), dtype, like ? like->storage->device : LC_DEVICE_CPU);
  }
  luaL_error(L, "%s: expected a tensor or a number as argument %d, got %s", op, idx, describe(L, idx));
  return NULL;
}

/* GC pacing: Lua sees a tensor as a few bytes of userdata, so it would let gigabytes of
 * dead tensors pile up. A full collection runs whenever the bytes held by storages have
 * grown by half of what they were after the last one (and by at least 64 MiB). */
static size_t collect_threshold = 64u << 20;

static void pace_gc(lua_State *L)
{
  size_t live = lc_storage_live_bytes(LC_CPU) + lc_storage_live_bytes(LC_CUDA);
  if (live < collect_threshold) return;
  /* Refused inside a __gc finalizer: then nothing was freed, and raising the threshold
   * from the bytes still live would let the next loop grow that far too. For the same
   * reason, bytes that finalizers allocated during the collection do not count. */
  if (lua_gc(L, LUA_GCCOLLECT) < 0) return;
  size_t after = lc_storage_live_bytes(LC_CPU) + lc_storage_live_bytes(LC_CUDA);
  if (after > live) after = live;
  size_t grow = after / 2 > (64u << 20) ? after / 2 : (64u << 20);
  collect_threshold = after + grow;
}

lc_tensor *lcb_on_stack(lua_State *L, lc_tensor *t)
{
  lcb_push_tensor(L, t);
  return t;
}

static int tensor_cache_key;

void lcb_push_tensor(lua_State *L, lc_tensor *t)
{
  lc_unhold(t); /* Lua owns this reference now */
  lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_cache_key);
  if (lua_rawgetp(L, -1, t) == LUA_TUSERDATA) {
    lua_remove(L, -2);
    lc_tensor_release(t); /* the cached userdata already holds a reference */
    return;
  }
  lua_pop(L, 1);
  lc_tensor **p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = t;
  luaL_setmetatable(L, LCB_TENSOR_MT);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, -3, t);
  lua_remove(L, -2);
  pace_gc(L);
}

/* Called from luaopen: a weak-valued table from C tensor to its userdata. */
void lcb_init_tensor_cache(lua_State *L)
{
  lua_newtable(L);
  lua_newtable(L);
  lua_pushstring(L, "v");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &tensor_cache_key);
}

/* ---- dims and sizes ---- */

int lcb_dim_value(lua_State *L, lua_Integer d, const char *op)
{
  if (d == 0) luaL_error(L, "%s: dim 0 is invalid: dims are 1-based (1 is the first, -1 the last)", op);
  if (d > 64 || d < -64) luaL_error(L, "%s: dim %d is out of range", op, (int)d);
  return d > 0 ? (int)d - 1 : (int)d;
}

bool lcb_tointeger(lua_State *L, int idx, lua_Integer *out)
{
  int ok = 0;
  if (lua_type(L, idx) != LUA_TNUMBER) return false;
  *out = lua_tointegerx(L, idx, &ok);
  return ok != 0;
}

/* The value at idx for an error message: 2.5, or its type. */
static const char *describe_number(lua_State *L, int idx)
{
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_pushvalue(L, idx);
    const char *s = lua_tostring(L, -1); /* a copy: lua_tostring would change a key in place */
    return s;
  }
  return describe(L, idx);
}

int lcb_check_dim(lua_State *L, int idx, const char *op)
{
  lua_Integer d;
  if (!lcb_tointeger(L, idx, &d))
    luaL_error(L, "%s: expected an integer dim as argument %d, got %s", op, idx, describe_number(L, idx));
  return lcb_dim_value(L, d, op);
}

static int64_t check_size(lua_State *L, int idx, int k, const char *op)
{
  lua_Integer v;
  if (!lcb_tointeger(L, idx, &v))
    luaL_error(L, "%s: size %d must be an integer, got %s", op, k, describe_number(L, idx));
  return (int64_t)v;
}

int lcb_check_sizes(lua_State *L, int idx, const char *op, int64_t *sizes, int *next)
{
  int n = 0;
  /* {2, 3} or a shape; an empty table is the 0-dim shape when more arguments follow it
   * (zeros({}, opts), full({}, 7), a 0-dim tensor's shape()), else it is an options table */
  bool sizes_table = lua_type(L, idx) == LUA_TTABLE &&
                     (lua_rawlen(L, idx) > 0 || !lua_isnoneornil(L, idx + 1));
  if (sizes_table) {
    n = (int)lua_rawlen(L, idx);
    if (n > LC_MAX_DIMS) luaL_error(L, "%s: %d dims given, at most %d are supported", op, n, LC_MAX_DIMS);
    for (int k = 1; k <= n; k++) {
      lua_rawgeti(L, idx, k);
      sizes[k - 1] = check_size(L, -1, k, op);
      lua_pop(L, 1);
    }
    *next = idx + 1;
    return n;
  }
  if (lua_type(L, idx) == LUA_TTABLE) { /* {}: no sizes, a 0-dim tensor; {key = ...} is options */
    lua_pushnil(L);
    if (lua_next(L, idx) == 0) {
      *next = idx + 1;
      return 0;
    }
    lua_pop(L, 2);
  }
  while (lua_type(L, idx + n) == LUA_TNUMBER) {
    if (n == LC_MAX_DIMS) luaL_error(L, "%s: more than %d sizes given", op, LC_MAX_DIMS);
    sizes[n] = check_size(L, idx + n, n + 1, op);
    n++;
  }
  *next = idx + n;
  return n;
}

/* ---- options ---- */

lc_dtype lcb_check_dtype(lua_State *L, int idx, const char *op)
{
  const char *name = lua_tostring(L, idx);
  lc_dtype dtype;
  if (!name || !lc_dtype_from_name(name, &dtype))
    luaL_error(L, "%s: unknown dtype %s (expected float32, float64, int64 or uint8)", op,
               name ? name : describe(L, idx));
  return dtype;
}

lc_device lcb_check_device(lua_State *L, int idx, const char *op)
{
  const char *name = lua_tostring(L, idx);
  lc_device device;
  if (!name || !lc_device_from_name(name, &device))
    luaL_error(L, "%s: unknown device %s (expected 'cpu', 'cuda' or 'cuda:N')", op,
               name ? name : describe(L, idx));
  return device;
}

void lcb_push_device(lua_State *L, lc_device device)
{
  char buf[32];
  lua_pushstring(L, lc_device_name(device, buf, sizeof buf));
}

static bool is_known(lua_State *L, int key, const char *const *known)
{
  if (lua_type(L, key) != LUA_TSTRING) return false;
  const char *name = lua_tostring(L, key);
  for (int i = 0; known[i]; i++)
    if (strcmp(name, known[i]) == 0) return true;
  return false;
}

void lcb_check_opts(lua_State *L, int opts, const char *op, const char *const *known)
{
  if (opts == 0 || !lua_istable(L, opts)) return;
  opts = lua_absindex(L, opts);
  lua_pushnil(L);
  while (lua_next(L, opts)) {
    lua_pop(L, 1); /* the value */
    if (is_known(L, -1, known)) continue;
    const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(not a name)";
    if (lua_getfield(L, LUA_REGISTRYINDEX, "luacnn.check_options") == LUA_TFUNCTION) {
      lua_pushstring(L, op);
      lua_pushvalue(L, opts);
      lua_newtable(L);
      for (int i = 0; known[i]; i++) {
        lua_pushstring(L, known[i]);
        lua_rawseti(L, -2, i + 1);
      }
      lua_call(L, 3, 0); /* raises */
    } else {
      lua_pop(L, 1);
    }
    luaL_error(L, "%s: unknown option '%s'", op, name);
  }
}

static bool get_opt(lua_State *L, int opts, const char *key)
{
  if (opts == 0 || !lua_istable(L, opts)) return false;
  if (lua_getfield(L, opts, key) == LUA_TNIL) {
    lua_pop(L, 1);
    return false;
  }
  return true;
}

lc_dtype lcb_opt_dtype(lua_State *L, int opts, const char *op, lc_dtype fallback)
{
  if (!get_opt(L, opts, "dtype")) return fallback;
  lc_dtype d = lcb_check_dtype(L, -1, op);
  lua_pop(L, 1);
  return d;
}

lc_device lcb_opt_device(lua_State *L, int opts, const char *op, lc_device fallback)
{
  if (!get_opt(L, opts, "device")) return fallback;
  lc_device d = lcb_check_device(L, -1, op);
  lua_pop(L, 1);
  return d;
}

bool lcb_opt_bool(lua_State *L, int opts, const char *key, bool fallback)
{
  if (!get_opt(L, opts, key)) return fallback;
  bool v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

double lcb_opt_number(lua_State *L, int opts, const char *key, double fallback)
{
  if (!get_opt(L, opts, key)) return fallback;
  if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "option %s must be a number, got %s", key, luaL_typename(L, -1));
  double v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}
