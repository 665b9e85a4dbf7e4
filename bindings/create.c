/* Module-level functions: tensor creation, the random generator, grad mode, joins and
 * where, the clock and memory counters. Tensor methods are in bindings/ops.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bindings/luacnn.h"
#include "runtime/random.h"

#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif

/* ---- creation ---- */

/* Walks a nested table once to find its shape, checking it is rectangular. */
static int nested_shape(lua_State *L, int idx, int64_t *sizes, int depth)
{
  if (lua_type(L, idx) == LUA_TNUMBER || lua_type(L, idx) == LUA_TBOOLEAN) return depth;
  if (!lua_istable(L, idx)) luaL_error(L, "tensor: expected numbers or nested tables, got %s", luaL_typename(L, idx));
  if (depth == LC_MAX_DIMS) luaL_error(L, "tensor: nesting deeper than %d dims", LC_MAX_DIMS);
  sizes[depth] = (int64_t)lua_rawlen(L, idx);
  if (sizes[depth] == 0) return depth + 1;
  lua_rawgeti(L, idx, 1);
  int nd = nested_shape(L, lua_gettop(L), sizes, depth + 1);
  lua_pop(L, 1);
  return nd;
}

/* Leaves are staged as doubles, or as int64 for an int64 tensor, so that Lua integers
 * beyond 2^53 (ids, seeds, hashes) stay exact. */
static void nested_fill(lua_State *L, int idx, const int64_t *sizes, int ndim, int depth, void *out,
                        bool as_int, int64_t *pos)
{
  if (depth == ndim) {
    int type = lua_type(L, idx);
    if (type != LUA_TBOOLEAN && type != LUA_TNUMBER)
      luaL_error(L, "tensor: ragged nested table: expected a number at depth %d, got %s", depth + 1, luaL_typename(L, idx));
    if (as_int)
      ((int64_t *)out)[(*pos)++] = type == LUA_TBOOLEAN ? lua_toboolean(L, idx)
                                   : lua_isinteger(L, idx) ? (int64_t)lua_tointeger(L, idx)
                                                           : (int64_t)lua_tonumber(L, idx);
    else
      ((double *)out)[(*pos)++] = type == LUA_TBOOLEAN ? lua_toboolean(L, idx) : lua_tonumber(L, idx);
    return;
  }
  if (!lua_istable(L, idx) || (int64_t)lua_rawlen(L, idx) != sizes[depth])
    luaL_error(L, "tensor: ragged nested table: expected %d entries at depth %d", (int)sizes[depth], depth + 1);
  for (int64_t k = 1; k <= sizes[depth]; k++) {
    lua_rawgeti(L, idx, k);
    nested_fill(L, lua_gettop(L), sizes, ndim, depth + 1, out, as_int, pos);
    lua_pop(L, 1);
  }
}

static lc_tensor *finish_creation(lua_State *L, lc_tensor *t, int opts)
{
  if (lcb_opt_bool(L, opts, "requires_grad", false)) {
    if (!lc_dtype_is_float(t->dtype)) {
      lc_tensor_release(t);
      luaL_error(L, "requires_grad: only float tensors can require gradients");
    }
    t->requires_grad = true;
  }
  return t;
}

/* The options every creation function takes. */
static const char *const creation_options[] = {"dtype", "device", "requires_grad", NULL};
static const char *const placement_options[] = {"dtype", "device", NULL};

static int l_tensor(lua_State *L)
{
  lua_settop(L, 2);
  int opts = lua_istable(L, 2) ? 2 : 0;
  lcb_check_opts(L, opts, "tensor", creation_options);
  lc_dtype dtype = lcb_opt_dtype(L, opts, "tensor", LC_FLOAT32);
  lc_device device = lcb_opt_device(L, opts, "tensor", LC_DEVICE_CPU);
  lc_tensor *src = lcb_test_tensor(L, 1);
  if (src) {
    lc_tensor *c = lcb_on_stack(L, lc_to_dtype(src, lcb_opt_dtype(L, opts, "tensor", src->dtype)));
    lc_tensor *d = lcb_on_stack(L, lc_to_device(c, device));
    lc_tensor *out = lc_detach(d);
    lc_tensor *owned = lc_contiguous_copy(out);
    lc_tensor_release(out);
    lcb_push_tensor(L, finish_creation(L, owned, opts));
    return 1;
  }
  int64_t sizes[LC_MAX_DIMS];
  int ndim = nested_shape(L, 1, sizes, 0);
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    /* tables sharing subtables can claim more elements than fit: {t, t, ...} 8 deep */
    if (sizes[d] && n > INT64_MAX / 16 / sizes[d])
      return luaL_error(L, "tensor: the nested table has too many elements");
    n *= sizes[d];
  }
  bool as_int = dtype == LC_INT64;
  void *values = lua_newuserdatauv(L, (size_t)(n ? n : 1) * 8, 0); /* freed by the GC, even if a ragged table raises */
  int64_t pos = 0;
  nested_fill(L, 1, sizes, ndim, 0, values, as_int, &pos);
  lc_tensor *f = lc_from_host(values, ndim, sizes, as_int ? LC_INT64 : LC_FLOAT64, LC_DEVICE_CPU);
  lc_tensor *typed = lcb_on_stack(L, lc_to_dtype(f, dtype));
  lc_tensor_release(f);
  lc_tensor *out = lc_to_device(typed, device);
  lcb_push_tensor(L, finish_creation(L, out, opts));
  return 1;
}

typedef enum { FILL_EMPTY, FILL_ZEROS, FILL_ONES, FILL_RAND, FILL_RANDN } fill_kind;

static int create_filled(lua_State *L, const char *op, fill_kind kind)
{
  int64_t sizes[LC_MAX_DIMS];
  int next;
  int ndim = lcb_check_sizes(L, 1, op, sizes, &next);
  int opts = lua_istable(L, next) ? next : 0;
  if (!lua_isnoneornil(L, next) && !opts)
    return luaL_error(L, "%s: expected sizes then an options table, got %s as argument %d", op, luaL_typename(L, next), next);
  lcb_check_opts(L, opts, op, creation_options);
  lc_dtype dtype = lcb_opt_dtype(L, opts, op, LC_FLOAT32);
  lc_device device = lcb_opt_device(L, opts, op, LC_DEVICE_CPU);
  for (int d = 0; d < ndim; d++)
    if (sizes[d] < 0) return luaL_error(L, "%s: size %d is negative (%d)", op, d + 1, (int)sizes[d]);
  lc_tensor *t;
  switch (kind) {
  case FILL_EMPTY: t = lc_empty(ndim, sizes, dtype, device); break;
  case FILL_ZEROS: t = lc_zeros(ndim, sizes, dtype, device); break;
  case FILL_ONES: t = lc_full(ndim, sizes, 1, dtype, device); break;
  case FILL_RAND: t = lc_rand(ndim, sizes, dtype, device); break;
  default: t = lc_randn(ndim, sizes, dtype, device); break;
  }
  lcb_push_tensor(L, finish_creation(L, t, opts));
  return 1;
}

static int l_empty(lua_State *L) { return create_filled(L, "empty", FILL_EMPTY); }
static int l_zeros(lua_State *L) { return create_filled(L, "zeros", FILL_ZEROS); }
static int l_ones(lua_State *L) { return create_filled(L, "ones", FILL_ONES); }
static int l_rand(lua_State *L) { return create_filled(L, "rand", FILL_RAND); }
static int l_randn(lua_State *L) { return create_filled(L, "randn", FILL_RANDN); }

static int l_full(lua_State *L)
{
  int64_t sizes[LC_MAX_DIMS];
  int next;
  int ndim = lcb_check_sizes(L, 1, "full", sizes, &next);
  double value = luaL_checknumber(L, next);
  int opts = lua_istable(L, next + 1) ? next + 1 : 0;
  lcb_check_opts(L, opts, "full", creation_options);
  lc_dtype dtype = lcb_opt_dtype(L, opts, "full", LC_FLOAT32);
  lc_device device = lcb_opt_device(L, opts, "full", LC_DEVICE_CPU);
  lcb_push_tensor(L, finish_creation(L, lc_full(ndim, sizes, value, dtype, device), opts));
  return 1;
}

static int l_randint(lua_State *L)
{
  lua_Integer low = luaL_checkinteger(L, 1), high = luaL_checkinteger(L, 2);
  int64_t sizes[LC_MAX_DIMS];
  int next;
  int ndim = lcb_check_sizes(L, 3, "randint", sizes, &next);
  int opts = lua_istable(L, next) ? next : 0;
  lcb_check_opts(L, opts, "randint", placement_options);
  lc_dtype dtype = lcb_opt_dtype(L, opts, "randint", LC_INT64);
  lc_device device = lcb_opt_device(L, opts, "randint", LC_DEVICE_CPU);
  lcb_push_tensor(L, lc_randint(low, high, ndim, sizes, dtype, device));
  return 1;
}

static int l_arange(lua_State *L)
{
  int nums = 0;
  while (nums < 3 && lua_type(L, nums + 1) == LUA_TNUMBER) nums++;
  if (nums == 0) return luaL_error(L, "arange: expected arange(stop), arange(start, stop) or arange(start, stop, step)");
  double start = nums > 1 ? lua_tonumber(L, 1) : 0, stop = lua_tonumber(L, nums > 1 ? 2 : 1);
  double step = nums > 2 ? lua_tonumber(L, 3) : 1;
  int opts = lua_istable(L, nums + 1) ? nums + 1 : 0;
  lcb_check_opts(L, opts, "arange", creation_options);
  bool all_int = true;
  for (int k = 1; k <= nums; k++) all_int = all_int && lua_isinteger(L, k);
  lc_dtype dtype = lcb_opt_dtype(L, opts, "arange", all_int ? LC_INT64 : LC_FLOAT32);
  lc_device device = lcb_opt_device(L, opts, "arange", LC_DEVICE_CPU);
  lcb_push_tensor(L, finish_creation(L, lc_arange(start, stop, step, dtype, device), opts));
  return 1;
}

static int l_linspace(lua_State *L)
{
  double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
  lua_Integer n = luaL_checkinteger(L, 3);
  int opts = lua_istable(L, 4) ? 4 : 0;
  lcb_check_opts(L, opts, "linspace", creation_options);
  lcb_push_tensor(L, finish_creation(L, lc_linspace(a, b, n, lcb_opt_dtype(L, opts, "linspace", LC_FLOAT32),
                                         lcb_opt_device(L, opts, "linspace", LC_DEVICE_CPU)), opts));
  return 1;
}

static int l_eye(lua_State *L)
{
  lua_Integer n = luaL_checkinteger(L, 1);
  lua_Integer m = n;
  if (lua_type(L, 2) == LUA_TNUMBER) m = luaL_checkinteger(L, 2);
  int opts = lua_istable(L, 2) ? 2 : lua_istable(L, 3) ? 3 : 0;
  lcb_check_opts(L, opts, "eye", creation_options);
  if (n < 0 || m < 0) return luaL_error(L, "eye: sizes must be non-negative");
  lcb_push_tensor(L, finish_creation(L, lc_eye(n, m, lcb_opt_dtype(L, opts, "eye", LC_FLOAT32),
                                    lcb_opt_device(L, opts, "eye", LC_DEVICE_CPU)), opts));
  return 1;
}

static int l_manual_seed(lua_State *L)
{
  lua_Integer seed = luaL_checkinteger(L, 1);
  lc_manual_seed((uint64_t)seed);
  return 0;
}

static int l_get_rng_state(lua_State *L)
{
  uint64_t seed, offset;
  lc_random_get_state(&seed, &offset);
  lua_pushinteger(L, (lua_Integer)seed);
  lua_pushinteger(L, (lua_Integer)offset);
  return 2;
}

static int l_set_rng_state(lua_State *L)
{
  lc_random_set_state((uint64_t)luaL_checkinteger(L, 1), (uint64_t)luaL_checkinteger(L, 2));
  return 0;
}

static int l_is_grad_enabled(lua_State *L)
{
  lua_pushboolean(L, lc_grad_enabled());
  return 1;
}

static int l_set_grad_enabled(lua_State *L)
{
  lua_pushboolean(L, lc_set_grad_enabled(lua_toboolean(L, 1)));
  return 1;
}

static void push_autocast_dtype(lua_State *L, lc_dtype dtype)
{
  if (dtype == LC_NUM_DTYPES) lua_pushnil(L);
  else lua_pushstring(L, lc_dtype_name(dtype));
}

/* set_autocast('bfloat16' | nil) -> the previous setting (a dtype name or nil) */
static int l_set_autocast(lua_State *L)
{
  lc_dtype dtype = LC_NUM_DTYPES;
  if (!lua_isnoneornil(L, 1)) {
    dtype = lcb_check_dtype(L, 1, "autocast");
    if (dtype != LC_BFLOAT16)
      return luaL_error(L, "autocast: dtype must be bfloat16, got %s (float16 is not supported)",
                        lc_dtype_name(dtype));
  }
  push_autocast_dtype(L, lc_set_autocast(dtype));
  return 1;
}

static int l_autocast_dtype(lua_State *L)
{
  push_autocast_dtype(L, lc_autocast_dtype());
  return 1;
}

/* Monotonic wall-clock seconds (os.clock is CPU time, os.time whole seconds). */
static int l_clock(lua_State *L)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec);
  return 1;
}

static int l_live_bytes(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)lc_storage_live_bytes(LC_CPU));
  lua_pushinteger(L, (lua_Integer)lc_storage_live_bytes(LC_CUDA));
  return 2;
}

/* Test-only (not copied into lc: the names start with _): core._fail_alloc_after(n) makes the
 * allocation after n more fail as out-of-memory would (n < 0: off) and returns how many were
 * left of the previous setting; core._live_tensors() counts tensor headers alive. */
static int l_fail_alloc_after(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)lc_fault_fail_alloc_after((int64_t)luaL_checkinteger(L, 1)));
  return 1;
}

/* core._malloc_trim(): hands free heap pages back to the system (glibc), so that RSS measures
 * what is allocated rather than how the allocator's arenas happen to be fragmented. */
static int l_malloc_trim(lua_State *L)
{
#ifdef __GLIBC__
  lua_pushboolean(L, malloc_trim(0));
#else
  lua_pushboolean(L, 0);
#endif
  return 1;
}

static int l_live_tensors(lua_State *L)
{
  lua_pushinteger(L, (lua_Integer)lc_tensor_live_count());
  return 1;
}

/* A Lua list of tensors at idx into a C array (borrowed pointers). */
static int check_tensor_list(lua_State *L, int idx, const char *op, lc_tensor **out, int cap)
{
  luaL_checktype(L, idx, LUA_TTABLE);
  int n = (int)lua_rawlen(L, idx);
  if (n > cap) luaL_error(L, "%s: at most %d tensors", op, cap);
  for (int k = 1; k <= n; k++) {
    lua_rawgeti(L, idx, k);
    out[k - 1] = lcb_test_tensor(L, -1);
    if (!out[k - 1]) luaL_error(L, "%s: element %d of the list is a %s, not a tensor", op, k, luaL_typename(L, -1));
    lua_pop(L, 1);
  }
  return n;
}

#define MAX_JOIN 4096

static int join(lua_State *L, bool stack)
{
  const char *op = stack ? "stack" : "cat";
  lua_settop(L, 2); /* the list and the dim (maybe nil), before the scratch userdata */
  luaL_checktype(L, 1, LUA_TTABLE);
  size_t len = lua_rawlen(L, 1);
  /* a userdata, not malloc: freed by the GC when a bad list or shape raises */
  lc_tensor **ts = lua_newuserdatauv(L, (len && len <= MAX_JOIN ? len : 1) * sizeof *ts, 0);
  int n = check_tensor_list(L, 1, op, ts, MAX_JOIN);
  int dim = lua_isnoneornil(L, 2) ? 0 : lcb_check_dim(L, 2, op);
  lcb_push_tensor(L, stack ? lc_stack(n, ts, dim) : lc_cat(n, ts, dim));
  return 1;
}

static int l_cat(lua_State *L) { return join(L, false); }
static int l_stack(lua_State *L) { return join(L, true); }

static int l_where(lua_State *L)
{
  lua_settop(L, 3); /* scratch values pushed below must not pass for arguments */
  lc_tensor *cond = lcb_check_tensor(L, 1, "where");
  lc_tensor *a = lcb_test_tensor(L, 2), *b = lcb_test_tensor(L, 3);
  const lc_tensor *like = a ? a : b ? b : cond;
  lc_tensor *ta = lcb_on_stack(L, lcb_tensor_or_number(L, 2, "where", like));
  lc_tensor *tb = lcb_on_stack(L, lcb_tensor_or_number(L, 3, "where", like));
  lcb_push_tensor(L, lc_where(cond, ta, tb));
  return 1;
}

void lcb_open_create(lua_State *L)
{
  static const luaL_Reg functions[] = {
    {"tensor", l_tensor}, {"empty", l_empty}, {"zeros", l_zeros}, {"ones", l_ones},
    {"full", l_full}, {"rand", l_rand}, {"randn", l_randn}, {"randint", l_randint},
    {"arange", l_arange}, {"linspace", l_linspace}, {"eye", l_eye},
    {"manual_seed", l_manual_seed}, {"get_rng_state", l_get_rng_state},
    {"set_rng_state", l_set_rng_state}, {"is_grad_enabled", l_is_grad_enabled},
    {"set_grad_enabled", l_set_grad_enabled}, {"set_autocast", l_set_autocast},
    {"autocast_dtype", l_autocast_dtype}, {"live_bytes", l_live_bytes}, {"_fail_alloc_after", l_fail_alloc_after}, {"_live_tensors", l_live_tensors}, {"_malloc_trim", l_malloc_trim}, {"clock", l_clock},
    {"cat", l_cat}, {"stack", l_stack}, {"where", l_where}, {NULL, NULL},
  };
  lcb_register(L, functions);
}
