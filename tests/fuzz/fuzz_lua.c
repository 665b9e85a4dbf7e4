/* libFuzzer harness for luacnn's Lua-level parsers (safetensors, the checkpoint's optimizer
 * document, lc.args, the sweep plan). It embeds Lua with luacnn preloaded, runs the target
 * script tests/fuzz/<FUZZ_SCRIPT>.lua once, which returns function(bytes), and calls that
 * function on every input. The script catches the errors it allows (clean messages that
 * name the op) and raises anything else; an error reaching this file aborts, which libFuzzer
 * reports as a crash with the input saved.
 *
 * Lua's own interpreter is a prebuilt (uninstrumented) library, so libFuzzer alone would see
 * only the C code's coverage. A line hook feeds Lua coverage in as well: each (previous line,
 * line) pair of the running Lua code bumps one of libFuzzer's extra counters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

extern int luaopen_luacnn_core(lua_State *L);

#define NCOUNTERS (1 << 16)
__attribute__((section("__libfuzzer_extra_counters"), used)) static uint8_t lua_edges[NCOUNTERS];

static lua_State *L;
static int target_ref = LUA_NOREF;
static uintptr_t prev_loc;

static void line_hook(lua_State *l, lua_Debug *ar)
{
  if (!lua_getinfo(l, "S", ar)) return;
  uintptr_t loc = ((uintptr_t)ar->source * 2654435761u) ^ ((uintptr_t)ar->currentline * 40503u);
  size_t i = (size_t)((loc ^ (prev_loc >> 1)) & (NCOUNTERS - 1));
  if (lua_edges[i] < 255) lua_edges[i]++;
  prev_loc = loc;
}

static void die(const char *what)
{
  fprintf(stderr, "fuzz_lua (%s): %s\n", FUZZ_SCRIPT, what);
  abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  L = luaL_newstate();
  if (!L) die("cannot create a Lua state");
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_luacnn_core);
  lua_setfield(L, -2, "luacnn.core");
  lua_pop(L, 1);
  lua_getglobal(L, "package");
  lua_pushstring(L, LUACNN_SOURCE_DIR "/lib/?.lua;" LUACNN_SOURCE_DIR "/lib/?/init.lua;"
                    LUACNN_SOURCE_DIR "/tests/fuzz/?.lua;");
  lua_getfield(L, -2, "path");
  lua_concat(L, 2);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  if (luaL_dofile(L, LUACNN_SOURCE_DIR "/tests/fuzz/" FUZZ_SCRIPT ".lua") != LUA_OK)
    die(lua_tostring(L, -1));
  if (!lua_isfunction(L, -1)) die("the target script must return a function(bytes)");
  target_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_sethook(L, line_hook, LUA_MASKLINE, 0);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!L) LLVMFuzzerInitialize(NULL, NULL);
  lua_rawgeti(L, LUA_REGISTRYINDEX, target_ref);
  lua_pushlstring(L, (const char *)data, size);
  prev_loc = 0;
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    die(msg ? msg : "(error object is not a string)");
  }
  lua_settop(L, 0);
  /* tensors made by one input are freed before the next, so leaks show as growth */
  lua_gc(L, LUA_GCCOLLECT);
  return 0;
}
