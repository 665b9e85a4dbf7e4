/* The Lua C module luacnn/core.so for a plain lua5.4: the same opener as the executable
 * preloads, pulled out of the static core library. */
#include "bindings/luacnn.h"

int (*const lcb_module_entry)(lua_State *) = luaopen_luacnn_core;
