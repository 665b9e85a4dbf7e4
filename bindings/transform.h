/* The compiled transform pipeline as a Lua value (lc.transforms.Compose{...}). */
#ifndef LCB_TRANSFORM_H
#define LCB_TRANSFORM_H

#include <lua.h>

#include "runtime/transform.h"

#define LCB_TRANSFORM_MT "luacnn.Transform"

/* The pipeline of a compiled `lc.transforms.Compose{...}` object at idx (borrowed: the Lua
 * value owns it; lc_transform_retain it to keep it beyond that). Raises when idx is not one. */
lc_transform *lcb_check_transform(lua_State *L, int idx);

#endif
