/* lc.cuda: device queries, synchronisation, allocator statistics, cuDNN modes. Every
 * function works in a build without CUDA, answering that no GPU is there. */
#include "bindings/luacnn.h"
#include "runtime/cuda/cuda.h"

static int c_is_available(lua_State *L)
{
  lua_pushboolean(L, lc_cuda_is_available());
  return 1;
}

static int c_device_count(lua_State *L)
{
  lua_pushinteger(L, lc_cuda_device_count());
  return 1;
}

/* device_name(i), i counted from 0 as in 'cuda:0' */
static int c_device_name(lua_State *L)
{
  const char *name = lc_cuda_device_name((int)luaL_optinteger(L, 1, 0));
  if (name) lua_pushstring(L, name);
  else lua_pushnil(L);
  return 1;
}

static int c_unavailable_reason(lua_State *L)
{
  const char *why = lc_cuda_unavailable_reason();
  if (why) lua_pushstring(L, why);
  else lua_pushnil(L);
  return 1;
}

static int c_synchronize(lua_State *L)
{
  lc_cuda_synchronize();
  return 0;
}

static void set_field(lua_State *L, const char *key, lua_Integer v)
{
  lua_pushinteger(L, v);
  lua_setfield(L, -2, key);
}

static int c_memory_stats(lua_State *L)
{
  lc_cuda_mem_stats s = lc_cuda_memory_stats();
  lua_createtable(L, 0, 8);
  set_field(L, "allocated_bytes", (lua_Integer)s.allocated);
  set_field(L, "reserved_bytes", (lua_Integer)s.reserved);
  set_field(L, "peak_allocated_bytes", (lua_Integer)s.peak_allocated);
  set_field(L, "peak_reserved_bytes", (lua_Integer)s.peak_reserved);
  set_field(L, "num_allocs", (lua_Integer)s.num_allocs);
  set_field(L, "num_segments", (lua_Integer)s.num_segments);
  set_field(L, "num_cache_flushes", (lua_Integer)s.num_cache_flushes);
  set_field(L, "tensor_bytes", (lua_Integer)lc_storage_live_bytes(LC_CUDA));
  return 1;
}

static int c_reset_peak(lua_State *L)
{
  lc_cuda_reset_peak_memory_stats();
  return 0;
}

static int c_empty_cache(lua_State *L)
{
  lc_cuda_empty_cache();
  return 0;
}

/* set_benchmark(b) / benchmark(): cuDNN algorithm search per shape (cudnn.benchmark) */
static int c_set_benchmark(lua_State *L)
{
  lc_cuda_set_benchmark(lua_toboolean(L, 1));
  return 0;
}

static int c_benchmark(lua_State *L)
{
  lua_pushboolean(L, lc_cuda_benchmark());
  return 1;
}

static int c_set_deterministic(lua_State *L)
{
  lc_cuda_set_deterministic(lua_toboolean(L, 1));
  return 0;
}

static int c_deterministic(lua_State *L)
{
  lua_pushboolean(L, lc_cuda_deterministic());
  return 1;
}

/* ---- graphs ---- */

#define GRAPH_MT "luacnn.CudaGraph"

/* lc.cuda.graph(fn, ...): runs fn once under stream capture and returns a graph whose
 * :replay() repeats all the GPU work fn queued. Run fn eagerly a few times first, so that
 * lazy allocations (gradients, optimizer state) and cuDNN's algorithm search happen
 * outside the capture. */
static int c_graph(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TFUNCTION);
  if (!lc_cuda_is_available())
    return luaL_error(L, "cuda.graph: no GPU is available (%s)", lc_cuda_unavailable_reason());
  lc_cuda_graph **box = lua_newuserdatauv(L, sizeof *box, 0);
  *box = NULL;
  luaL_setmetatable(L, GRAPH_MT);
  lua_insert(L, 1); /* keep the box below fn and its arguments */
  *box = lc_cuda_graph_begin();
  int status = lua_pcall(L, lua_gettop(L) - 2, 0, 0);
  lcb_set_current(L);
  if (status != LUA_OK) {
    lc_cuda_graph_abort(*box);
    return luaL_error(L, "cuda.graph: the captured function failed: %s", lua_tostring(L, -1));
  }
  lc_cuda_graph_end(*box);
  lua_settop(L, 1);
  return 1;
}

static lc_cuda_graph *check_graph(lua_State *L)
{
  lc_cuda_graph **box = luaL_checkudata(L, 1, GRAPH_MT);
  if (!*box) luaL_error(L, "cuda.graph: this graph was released");
  return *box;
}

static int g_replay(lua_State *L)
{
  lc_cuda_graph_replay(check_graph(L));
  return 0;
}

static int g_gc(lua_State *L)
{
  lc_cuda_graph **box = luaL_checkudata(L, 1, GRAPH_MT);
  lc_cuda_graph_free(*box);
  *box = NULL;
  return 0;
}

static void open_graph_metatable(lua_State *L)
{
  static const luaL_Reg methods[] = {{"replay", g_replay}, {NULL, NULL}};
  static const luaL_Reg meta[] = {{"__gc", g_gc}, {NULL, NULL}};
  luaL_newmetatable(L, GRAPH_MT);
  lcb_register(L, meta);
  lua_newtable(L);
  lcb_register(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

void lcb_open_cuda(lua_State *L)
{
  open_graph_metatable(L);
  static const luaL_Reg functions[] = {
    {"is_available", c_is_available}, {"device_count", c_device_count},
    {"device_name", c_device_name}, {"unavailable_reason", c_unavailable_reason},
    {"synchronize", c_synchronize}, {"memory_stats", c_memory_stats},
    {"reset_peak_memory_stats", c_reset_peak}, {"empty_cache", c_empty_cache},
    {"set_benchmark", c_set_benchmark}, {"benchmark", c_benchmark},
    {"set_deterministic", c_set_deterministic}, {"deterministic", c_deterministic},
    {"graph", c_graph}, {NULL, NULL},
  };
  lua_newtable(L);
  lcb_register(L, functions);
  lua_setfield(L, -2, "cuda");
}
