/* core._dist: collectives between processes (runtime/dist.h) and the gradient reducer that
 * nn.DistributedDataParallel (lib/luacnn/dist.lua) drives. */
#include <string.h>

#include "bindings/luacnn.h"
#include "runtime/dist.h"

#define REDUCER_MT "luacnn.dist.Reducer"

static int d_have_mpi(lua_State *L)
{
  lua_pushboolean(L, lc_dist_have_mpi());
  return 1;
}

static int d_launcher(lua_State *L)
{
  const char *v = lc_dist_launcher();
  if (v) lua_pushstring(L, v);
  else lua_pushnil(L);
  return 1;
}

static int d_init(lua_State *L)
{
  lua_pushinteger(L, lc_dist_init());
  return 1;
}

static int d_is_initialized(lua_State *L)
{
  lua_pushboolean(L, lc_dist_is_initialized());
  return 1;
}

static int d_rank(lua_State *L)
{
  lua_pushinteger(L, lc_dist_rank());
  return 1;
}

static int d_world_size(lua_State *L)
{
  lua_pushinteger(L, lc_dist_world_size());
  return 1;
}

static int d_local_rank(lua_State *L)
{
  lua_pushinteger(L, lc_dist_local_rank());
  return 1;
}

static int d_timeout(lua_State *L)
{
  lua_pushnumber(L, lc_dist_timeout());
  return 1;
}

static int d_barrier(lua_State *L)
{
  lc_dist_barrier();
  return 0;
}

static int d_all_reduce(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "all_reduce");
  static const char *const names[] = {"sum", "mean", "max", "min", NULL};
  const char *given = luaL_optstring(L, 2, "sum");
  int op = -1;
  for (int i = 0; names[i]; i++)
    if (strcmp(given, names[i]) == 0) op = i;
  if (op < 0)
    return luaL_error(L, "all_reduce: op must be 'sum', 'mean', 'max' or 'min', got '%s'", given);
  lc_dist_all_reduce(t, (lc_dist_op)op);
  lua_settop(L, 1);
  return 1;
}

static int d_broadcast(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "broadcast");
  lua_Integer src = 0;
  if (!lua_isnoneornil(L, 2) && !lcb_tointeger(L, 2, &src))
    return luaL_error(L, "broadcast: src must be an integer rank, got %s", luaL_typename(L, 2));
  lc_dist_broadcast(t, (int)src);
  lua_settop(L, 1);
  return 1;
}

static int d_all_gather(lua_State *L)
{
  lc_tensor *t = lcb_check_tensor(L, 1, "all_gather");
  lcb_push_tensor(L, lc_dist_all_gather(t));
  return 1;
}

/* ---- the reducer: core._dist.reducer({params...}, bucket_bytes) ---- */

static lc_dist_reducer **check_reducer(lua_State *L)
{
  lc_dist_reducer **r = luaL_checkudata(L, 1, REDUCER_MT);
  if (!*r) luaL_error(L, "DistributedDataParallel: the reducer was closed");
  return r;
}

static int d_reducer(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Number bytes = luaL_checknumber(L, 2);
  int n = (int)lua_rawlen(L, 1);
  lc_dist_reducer **r = lua_newuserdatauv(L, sizeof *r, 1);
  *r = NULL;
  luaL_setmetatable(L, REDUCER_MT);
  lc_tensor **params = lua_newuserdatauv(L, sizeof *params * (size_t)(n + 1), 0);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    params[i] = lcb_check_tensor(L, -1, "DistributedDataParallel");
    lua_pop(L, 1);
  }
  *r = lc_dist_reducer_new(n, params, bytes > 0 ? (size_t)bytes : 1);
  lua_pop(L, 1);
  return 1;
}

static int r_arm(lua_State *L)
{
  lc_dist_reducer_arm(*check_reducer(L));
  return 0;
}

static int r_finish(lua_State *L)
{
  lc_dist_reducer_finish(*check_reducer(L));
  return 0;
}

static int r_stats(lua_State *L)
{
  lc_dist_reducer *r = *check_reducer(L);
  lua_pushinteger(L, lc_dist_reducer_buckets(r));
  lua_pushinteger(L, lc_dist_reducer_early(r));
  return 2;
}

static int r_gc(lua_State *L)
{
  lc_dist_reducer **r = luaL_checkudata(L, 1, REDUCER_MT);
  lc_dist_reducer_free(*r);
  *r = NULL;
  return 0;
}

void lcb_open_dist(lua_State *L)
{
  static const luaL_Reg methods[] = {
    {"arm", r_arm}, {"finish", r_finish}, {"stats", r_stats}, {"close", r_gc}, {NULL, NULL},
  };
  if (luaL_newmetatable(L, REDUCER_MT)) {
    lua_newtable(L);
    lcb_register(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, r_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  static const luaL_Reg functions[] = {
    {"have_mpi", d_have_mpi}, {"launcher", d_launcher}, {"init", d_init},
    {"is_initialized", d_is_initialized}, {"rank", d_rank}, {"world_size", d_world_size},
    {"local_rank", d_local_rank}, {"timeout", d_timeout}, {"barrier", d_barrier},
    {"all_reduce", d_all_reduce}, {"broadcast", d_broadcast}, {"all_gather", d_all_gather},
    {"reducer", d_reducer}, {NULL, NULL},
  };
  lua_newtable(L);
  lcb_register(L, functions);
  lua_setfield(L, -2, "_dist");
}
