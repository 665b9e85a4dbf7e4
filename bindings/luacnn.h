/* Shared helpers of the Lua bindings: tensor userdata, argument checks that raise
 * errors naming the op, and the conversion from Lua's 1-based dims and indices. */
#ifndef LCB_LUACNN_H
#define LCB_LUACNN_H

#include <lauxlib.h>
#include <lua.h>

#include "runtime/ops.h"

#define LCB_TENSOR_MT "luacnn.Tensor"

int luaopen_luacnn_core(lua_State *L);

/* Registers fns into the table on top of the stack. Each function runs through a
 * trampoline that tells the runtime's error handler which Lua state to raise in. */
void lcb_register(lua_State *L, const luaL_Reg *fns);
void lcb_install_error_handler(lua_State *L);
/* The state whose C function is running (for the runtime's error handler). */
void lcb_set_current(lua_State *L);

lc_tensor *lcb_check_tensor(lua_State *L, int idx, const char *op);
lc_tensor *lcb_test_tensor(lua_State *L, int idx);
/* A tensor argument, or a Lua number made into a 0-dim tensor like `like`. Returns a
 * new reference. */
lc_tensor *lcb_tensor_or_number(lua_State *L, int idx, const char *op, const lc_tensor *like);
/* Pushes t, taking over the caller's reference. The same C tensor always comes back as
 * the same Lua value (t.grad == t.grad). */
void lcb_push_tensor(lua_State *L, lc_tensor *t);
/* Pushes t (taking the caller's reference) and returns it, now borrowed from the stack:
 * when a later call raises, the collector frees it instead of the reference leaking. */
lc_tensor *lcb_on_stack(lua_State *L, lc_tensor *t);

/* 1-based (or negative) Lua dim at idx -> 0-based (or negative) runtime dim. */
int lcb_check_dim(lua_State *L, int idx, const char *op);
/* Lua's own convention (luaL_checkinteger): an integer, or a float with an exact integer
 * value (6/2 is 3.0 in Lua 5.4); strings are not numbers here. True and *out set if so. */
bool lcb_tointeger(lua_State *L, int idx, lua_Integer *out);
int lcb_dim_value(lua_State *L, lua_Integer d, const char *op);
/* Sizes given as varargs from idx (2, 3, 4) or as one table ({2, 3, 4}); stops at the
 * first non-number. Returns the count, stores the index just past them in *next. */
int lcb_check_sizes(lua_State *L, int idx, const char *op, int64_t *sizes, int *next);

/* Options tables: {dtype = ..., device = ..., requires_grad = ...}. */
/* Refuses a key of the options table at index opts (0: none) that is not in known (a
 * NULL-terminated list): the message is lib/luacnn/options.lua's ("op: unknown option 'dtyp'
 * (did you mean 'dtype'?)"), through the registry hook luacnn.check_options, else a plain one. */
void lcb_check_opts(lua_State *L, int opts, const char *op, const char *const *known);
lc_dtype lcb_opt_dtype(lua_State *L, int opts, const char *op, lc_dtype fallback);
lc_device lcb_opt_device(lua_State *L, int opts, const char *op, lc_device fallback);
bool lcb_opt_bool(lua_State *L, int opts, const char *key, bool fallback);
double lcb_opt_number(lua_State *L, int opts, const char *key, double fallback);
lc_dtype lcb_check_dtype(lua_State *L, int idx, const char *op);
lc_device lcb_check_device(lua_State *L, int idx, const char *op);
void lcb_push_device(lua_State *L, lc_device device);

/* Area openers: each adds its functions to the module table on top of the stack. */
void lcb_open_tensor(lua_State *L);
void lcb_open_ops(lua_State *L);
void lcb_open_create(lua_State *L);

#endif
