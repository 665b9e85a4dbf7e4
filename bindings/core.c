/* luaopen_luacnn_core: the C half of `require 'luacnn'`. */
#include "bindings/luacnn.h"

void lcb_init_tensor_cache(lua_State *L);
void lcb_open_transform(lua_State *L) __attribute__((weak)); /* bindings/transform.c */

/* Areas written in their own files; weak so a build without one still links. */
void lcb_open_chart(lua_State *L) __attribute__((weak));
void lcb_open_cuda(lua_State *L) __attribute__((weak));
void lcb_open_nn(lua_State *L) __attribute__((weak));
void lcb_open_data(lua_State *L) __attribute__((weak));
void lcb_open_image(lua_State *L) __attribute__((weak));
void lcb_open_dist(lua_State *L) __attribute__((weak));

int luaopen_luacnn_core(lua_State *L)
{
  lcb_install_error_handler(L);
  lcb_init_tensor_cache(L);
  lua_newtable(L);
  lua_pushstring(L, LUACNN_VERSION);
  lua_setfield(L, -2, "version");
  lcb_open_tensor(L);
  lcb_open_create(L);
  lcb_open_ops(L);
  void (*areas[])(lua_State *) = {lcb_open_chart, lcb_open_cuda, lcb_open_nn, lcb_open_data,
                                  lcb_open_image, lcb_open_dist};
  for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++)
    if (areas[i]) areas[i](L);
  if (lcb_open_transform) lcb_open_transform(L);
  return 1;
}
