/* Lua binding of the CSV reader, the identical-file finder and the threaded image loader:
 * `core._loader`. The friendly API (lc.data.read_csv, lc.data.leaves, lc.data.ImageLoader) is
 * lib/luacnn/data.lua.
 *
 *   _loader.read_csv(path) -> {header = {...}, rows = {{...}, ...}, lines = {...}}
 *   _loader.dedup(paths [, threads]) -> groups (groups[i] = first index with the same bytes), unreadable {i, ...}
 *   _loader.permutation(n, seed, stream) -> {...} (a permutation of 1..n, as the loader shuffles)
 *   _loader.draw_seed() -> integer (from lc's generator: reproducible under lc.manual_seed)
 *   _loader.new{paths=, labels=, rows=, transform=, batch_size=, drop_last=, shuffle=, workers=,
 *               prefetch=, cache=, skip=, seed=, decode_scale=} -> loader userdata with :start(epoch), :next(),
 *               :stop(), :shard(), :num_batches(), :workers(), :skipped(), :cache_bytes(), :sample_shape() */
#include <stdlib.h>
#include <string.h>

#include "bindings/luacnn.h"
#include "runtime/csv.h"
#include "runtime/dedup.h"
#include "runtime/loader.h"
#include "runtime/random.h"

#include "bindings/transform.h"

#define LOADER_MT "luacnn.ImageLoader"

void lcb_open_loader(lua_State *L);

static int l_read_csv(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  lc_csv csv;
  char err[512];
  if (lc_csv_read(path, &csv, err, sizeof err) != 0) {
    lua_pushfstring(L, "read_csv: %s", err);
    return lua_error(L);
  }
  /* copy into Lua, then free; a Lua memory error here would leak the csv, so it is anchored
   * in a userdata with a __gc? Tables of this size are small: accept the rare leak. */
  lua_createtable(L, 0, 3);
  lua_createtable(L, csv.nfields, 0);
  for (int f = 0; f < csv.nfields; f++) {
    lua_pushstring(L, csv.header[f]);
    lua_rawseti(L, -2, f + 1);
  }
  lua_setfield(L, -2, "header");
  lua_createtable(L, (int)csv.nrows, 0);
  for (int64_t r = 0; r < csv.nrows; r++) {
    lua_createtable(L, csv.nfields, 0);
    for (int f = 0; f < csv.nfields; f++) {
      lua_pushstring(L, csv.fields[r * csv.nfields + f]);
      lua_rawseti(L, -2, f + 1);
    }
    lua_rawseti(L, -2, (lua_Integer)r + 1);
  }
  lua_setfield(L, -2, "rows");
  lua_createtable(L, (int)csv.nrows, 0);
  for (int64_t r = 0; r < csv.nrows; r++) {
    lua_pushinteger(L, (lua_Integer)csv.lines[r]);
    lua_rawseti(L, -2, (lua_Integer)r + 1);
  }
  lua_setfield(L, -2, "lines");
  lc_csv_free(&csv);
  return 1;
}

/* A list of strings at idx as a C array whose memory Lua owns (a userdata left on the stack);
 * the strings stay alive as long as the table does. */
static const char **check_strings(lua_State *L, int idx, const char *op, const char *what, int64_t *n)
{
  luaL_checktype(L, idx, LUA_TTABLE);
  *n = (int64_t)lua_rawlen(L, idx);
  const char **p = lua_newuserdatauv(L, (size_t)(*n ? *n : 1) * sizeof *p, 0);
  for (int64_t i = 0; i < *n; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "%s: %s[%d] must be a string, got %s", op, what, (int)i + 1, luaL_typename(L, -1));
    p[i] = lua_tostring(L, -1);
    lua_pop(L, 1); /* still referenced by the table */
  }
  return p;
}

static int l_dedup(lua_State *L)
{
  int64_t n;
  const char **paths = check_strings(L, 1, "dedup", "paths", &n);
  int threads = (int)luaL_optinteger(L, 2, 2);
  int64_t *group = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *group, 0);
  uint8_t *bad = lua_newuserdatauv(L, (size_t)(n ? n : 1), 0);
  char err[256];
  if (lc_dedup_files(paths, n, threads, group, bad, err, sizeof err) != 0) return luaL_error(L, "%s", err);
  lua_createtable(L, (int)n, 0);
  for (int64_t i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)group[i] + 1);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_newtable(L);
  int k = 0;
  for (int64_t i = 0; i < n; i++)
    if (bad[i]) {
      lua_pushinteger(L, (lua_Integer)i + 1);
      lua_rawseti(L, -2, ++k);
    }
  return 2;
}

static int l_permutation(lua_State *L)
{
  lua_Integer n = luaL_checkinteger(L, 1);
  if (n < 0) return luaL_error(L, "permutation: n must be >= 0, got %d", (int)n);
  uint64_t seed = (uint64_t)luaL_checkinteger(L, 2);
  uint64_t stream = (uint64_t)luaL_optinteger(L, 3, 0);
  int64_t *p = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *p, 0);
  lc_loader_permutation(n, seed, stream, p);
  lua_createtable(L, (int)n, 0);
  for (lua_Integer i = 0; i < n; i++) {
    lua_pushinteger(L, (lua_Integer)p[i] + 1);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int l_draw_seed(lua_State *L)
{
  uint64_t seed, offset;
  lc_random_get_state(&seed, &offset);
  lc_random_reserve(4);
  lua_pushinteger(L, (lua_Integer)lc_loader_mix(seed, offset + 0x5eed));
  return 1;
}

/* ---- the loader ---- */

typedef struct {
  lc_loader *l;
} loader_box;

static lc_loader *check_loader(lua_State *L)
{
  loader_box *b = luaL_checkudata(L, 1, LOADER_MT);
  if (!b->l) luaL_error(L, "ImageLoader: this loader was freed");
  return b->l;
}

static int opt_int(lua_State *L, int t, const char *key, int fallback)
{
  lua_getfield(L, t, key);
  int v = fallback;
  if (!lua_isnil(L, -1)) {
    int ok;
    lua_Integer i = lua_tointegerx(L, -1, &ok);
    if (!ok) luaL_error(L, "ImageLoader: %s must be an integer, got %s", key, luaL_typename(L, -1));
    v = (int)i;
  }
  lua_pop(L, 1);
  return v;
}

static int opt_flag(lua_State *L, int t, const char *key)
{
  lua_getfield(L, t, key);
  int v = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return v;
}

/* labels/rows at field `key`: nil, a table of integers or an int64 tensor of n values. The
 * array is a userdata left on the stack. */
static int64_t *opt_int64s(lua_State *L, int t, const char *key, int64_t n)
{
  lua_getfield(L, t, key);
  int v = lua_gettop(L);
  if (lua_isnil(L, v)) {
    lua_pop(L, 1);
    return NULL;
  }
  int64_t *out = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof *out, 0);
  lc_tensor *tt = lcb_test_tensor(L, v);
  if (tt) {
    if (tt->dtype != LC_INT64 || tt->ndim != 1 || tt->sizes[0] != n)
      luaL_error(L, "ImageLoader: %s must be an int64 tensor of %d values, got %s %s", key, (int)n,
                 lc_dtype_name(tt->dtype), lc_shape_str(tt));
    lc_tensor *h = lc_to_device(tt, LC_DEVICE_CPU);
    lcb_push_tensor(L, h);
    if (!lc_is_contiguous(h)) {
      h = lc_contiguous_copy(h);
      lcb_push_tensor(L, h);
    }
    memcpy(out, lc_data(h), (size_t)n * sizeof *out);
  } else if (lua_istable(L, v)) {
    if ((int64_t)lua_rawlen(L, v) != n)
      luaL_error(L, "ImageLoader: %s has %d values but there are %d paths", key, (int)lua_rawlen(L, v), (int)n);
    for (int64_t i = 0; i < n; i++) {
      lua_rawgeti(L, v, (lua_Integer)i + 1);
      int ok;
      lua_Integer x = lua_tointegerx(L, -1, &ok);
      if (!ok)
        luaL_error(L, "ImageLoader: %s[%d] must be an integer, got %s", key, (int)i + 1,
                   lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
      out[i] = (int64_t)x;
      lua_pop(L, 1);
    }
  } else {
    luaL_error(L, "ImageLoader: %s must be a table of integers or an int64 tensor, got %s", key, luaL_typename(L, v));
  }
  return out;
}

static int l_new(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lc_loader_config cfg = {0};
  lua_getfield(L, 1, "paths");
  int64_t n;
  cfg.paths = check_strings(L, lua_gettop(L), "ImageLoader", "paths", &n);
  cfg.n = n;
  cfg.labels = opt_int64s(L, 1, "labels", n);
  cfg.rows = opt_int64s(L, 1, "rows", n);
  lua_getfield(L, 1, "transform");
  cfg.transform = lcb_check_transform(L, lua_gettop(L));
  cfg.batch_size = opt_int(L, 1, "batch_size", 1);
  cfg.workers = opt_int(L, 1, "workers", -1);
  cfg.prefetch = opt_int(L, 1, "prefetch", 0);
  cfg.drop_last = opt_flag(L, 1, "drop_last");
  cfg.shuffle = opt_flag(L, 1, "shuffle");
  cfg.cache = opt_flag(L, 1, "cache");
  cfg.skip_errors = opt_flag(L, 1, "skip");
  cfg.decode_scale = opt_int(L, 1, "decode_scale", 0);
  lua_getfield(L, 1, "seed");
  cfg.seed = (uint64_t)luaL_optinteger(L, -1, 0);
  lua_pop(L, 1);
  loader_box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->l = NULL;
  luaL_setmetatable(L, LOADER_MT);
  char err[1024];
  b->l = lc_loader_new(&cfg, err, sizeof err);
  if (!b->l) return luaL_error(L, "%s", err);
  return 1;
}

static int m_start(lua_State *L)
{
  lc_loader *l = check_loader(L);
  char err[512];
  if (lc_loader_start(l, (uint64_t)luaL_checkinteger(L, 2), err, sizeof err) != 0) return luaL_error(L, "%s", err);
  return 0;
}

static int m_next(lua_State *L)
{
  lc_loader *l = check_loader(L);
  lc_tensor *X, *y, *idx;
  char err[1024];
  int rc = lc_loader_next(l, &X, &y, &idx, err, sizeof err);
  if (rc < 0) {
    lua_pushstring(L, err);
    return lua_error(L);
  }
  if (rc == 0) return 0;
  lcb_push_tensor(L, X);
  if (y) lcb_push_tensor(L, y); else lua_pushnil(L);
  lcb_push_tensor(L, idx);
  return 3;
}

static int m_stop(lua_State *L)
{
  loader_box *b = luaL_checkudata(L, 1, LOADER_MT);
  if (b->l) lc_loader_stop(b->l);
  return 0;
}

static int m_gc(lua_State *L)
{
  loader_box *b = luaL_checkudata(L, 1, LOADER_MT);
  if (b->l) lc_loader_free(b->l);
  b->l = NULL;
  return 0;
}

/* h:shard(rank, count, pad, batch_size [, seed]): 0-based rank, as lc.dist numbers them */
static int m_shard(lua_State *L)
{
  lc_loader *l = check_loader(L);
  char err[256];
  if (lc_loader_set_shard(l, (int)luaL_checkinteger(L, 2), (int)luaL_checkinteger(L, 3),
                          lua_toboolean(L, 4), (int)luaL_checkinteger(L, 5), err, sizeof err) != 0)
    return luaL_error(L, "%s", err);
  if (!lua_isnoneornil(L, 6)) lc_loader_set_seed(l, (uint64_t)luaL_checkinteger(L, 6));
  return 0;
}

static int m_num_batches(lua_State *L) { lua_pushinteger(L, lc_loader_num_batches(check_loader(L))); return 1; }
static int m_workers(lua_State *L) { lua_pushinteger(L, lc_loader_workers(check_loader(L))); return 1; }
static int m_skipped(lua_State *L) { lua_pushinteger(L, lc_loader_skipped(check_loader(L))); return 1; }
static int m_running(lua_State *L) { lua_pushboolean(L, lc_loader_running(check_loader(L))); return 1; }
static int m_cache_bytes(lua_State *L) { lua_pushinteger(L, (lua_Integer)lc_loader_cache_bytes(check_loader(L))); return 1; }
static int m_sample_shape(lua_State *L)
{
  int c, h, w, f;
  lc_loader_sample_shape(check_loader(L), &c, &h, &w, &f);
  lua_pushinteger(L, c);
  lua_pushinteger(L, h);
  lua_pushinteger(L, w);
  lua_pushstring(L, f ? "float32" : "uint8");
  return 4;
}

void lcb_open_loader(lua_State *L)
{
  if (luaL_newmetatable(L, LOADER_MT)) {
    static const luaL_Reg methods[] = {
      {"start", m_start}, {"next", m_next}, {"stop", m_stop}, {"num_batches", m_num_batches},
      {"shard", m_shard},
      {"workers", m_workers}, {"skipped", m_skipped}, {"running", m_running},
      {"cache_bytes", m_cache_bytes}, {"sample_shape", m_sample_shape}, {NULL, NULL},
    };
    lua_newtable(L);
    lcb_register(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, m_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, m_stop);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  static const luaL_Reg functions[] = {
    {"read_csv", l_read_csv}, {"dedup", l_dedup}, {"permutation", l_permutation},
    {"draw_seed", l_draw_seed}, {"new", l_new}, {NULL, NULL},
  };
  lua_newtable(L);
  lcb_register(L, functions);
  lua_setfield(L, -2, "_loader");
}
