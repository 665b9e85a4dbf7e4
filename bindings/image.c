/* core._image: JPEG/PNG files <-> uint8 (C, H, W) tensors, over runtime/image_io.c.
 * Options are parsed in lib/luacnn/image.lua; these take plain numbers. */
#include <stdlib.h>
#include <string.h>
#ifdef __SSSE3__
#include <tmmintrin.h>
#endif

#include "bindings/luacnn.h"
#include "runtime/image_io.h"

/* A decoded image owned by a userdata until its pixels are in a tensor, so an error raised
 * while the tensor is made (out of memory) frees it instead of leaking it. */
#define IMAGE_BOX_MT "luacnn.image_box"

static int box_gc(lua_State *L)
{
  lc_image_free(luaL_checkudata(L, 1, IMAGE_BOX_MT));
  return 0;
}

static lc_image *new_box(lua_State *L)
{
  lc_image *img = lua_newuserdatauv(L, sizeof *img, 0);
  memset(img, 0, sizeof *img);
  luaL_setmetatable(L, IMAGE_BOX_MT);
  return img;
}

/* RGB interleaved -> three planes. With SSSE3 (x86-64-v2 has it) 16 pixels a step: three
 * loads of 48 bytes, three byte shuffles per plane; about twice the scalar loop's speed. */
static void split_rgb(const uint8_t *src, uint8_t *r, uint8_t *g, uint8_t *b, size_t n)
{
  size_t i = 0;
#ifdef __SSSE3__
#define LANES(o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11, o12, o13, o14, o15) \
  _mm_setr_epi8(o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11, o12, o13, o14, o15)
  /* byte k of a plane's 16 comes from byte 3k + ch of the 48: in load 0, 1 or 2 */
  const __m128i r0 = LANES(0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i r1 = LANES(-1, -1, -1, -1, -1, -1, 2, 5, 8, 11, 14, -1, -1, -1, -1, -1);
  const __m128i r2 = LANES(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1, 4, 7, 10, 13);
  const __m128i g0 = LANES(1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i g1 = LANES(-1, -1, -1, -1, -1, 0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1);
  const __m128i g2 = LANES(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 2, 5, 8, 11, 14);
  const __m128i b0 = LANES(2, 5, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i b1 = LANES(-1, -1, -1, -1, -1, 1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1);
  const __m128i b2 = LANES(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 3, 6, 9, 12, 15);
#undef LANES
  for (; i + 16 <= n; i += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(src + 3 * i));
    __m128i y = _mm_loadu_si128((const __m128i *)(src + 3 * i + 16));
    __m128i w = _mm_loadu_si128((const __m128i *)(src + 3 * i + 32));
#define PLANE(dst, m0, m1, m2)                                                                 \
  _mm_storeu_si128((__m128i *)(dst + i),                                                       \
                   _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(x, m0), _mm_shuffle_epi8(y, m1)), \
                                _mm_shuffle_epi8(w, m2)))
    PLANE(r, r0, r1, r2);
    PLANE(g, g0, g1, g2);
    PLANE(b, b0, b1, b2);
#undef PLANE
  }
#endif
  for (; i < n; i++) r[i] = src[3 * i], g[i] = src[3 * i + 1], b[i] = src[3 * i + 2];
}

/* Pushes the boxed HWC image as a (C, H, W) uint8 tensor. */
static void push_chw(lua_State *L, const lc_image *img)
{
  int64_t sizes[3] = {img->c, img->h, img->w};
  lc_tensor *t = lcb_on_stack(L, lc_empty(3, sizes, LC_UINT8, LC_DEVICE_CPU));
  uint8_t *dst = lc_data(t);
  size_t plane = (size_t)img->h * img->w;
  const uint8_t *src = img->data;
  if (img->c == 1) {
    memcpy(dst, src, plane);
    return;
  }
  if (img->c == 3) {
    split_rgb(src, dst, dst + plane, dst + 2 * plane, plane);
    return;
  }
  for (int ch = 0; ch < img->c; ch++) {
    uint8_t *d = dst + ch * plane;
    const uint8_t *s = src + ch;
    for (size_t i = 0; i < plane; i++) d[i] = s[i * img->c];
  }
}

static int check_int(lua_State *L, int idx, int fallback)
{
  return lua_isnoneornil(L, idx) ? fallback : (int)luaL_checkinteger(L, idx);
}

/* _image.read(path, channels, scale_denom) -> uint8 (C, H, W) */
static int l_read(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  int want_c = check_int(L, 2, LC_IMAGE_ANY), denom = check_int(L, 3, 1);
  lc_image *img = new_box(L);
  char err[1024];
  if (lc_image_read_file(path, denom, want_c, img, err, sizeof err))
    return luaL_error(L, "image.read: %s", err);
  push_chw(L, img);
  lc_image_free(img);
  return 1;
}

/* _image.decode(bytes, channels, scale_denom) -> uint8 (C, H, W) */
static int l_decode(lua_State *L)
{
  size_t n;
  const char *bytes = luaL_checklstring(L, 1, &n);
  int want_c = check_int(L, 2, LC_IMAGE_ANY), denom = check_int(L, 3, 1);
  lc_image *img = new_box(L);
  char err[1024];
  if (lc_image_decode((const uint8_t *)bytes, n, denom, want_c, img, err, sizeof err))
    return luaL_error(L, "image.decode: %s", err);
  push_chw(L, img);
  lc_image_free(img);
  return 1;
}

/* _image.probe(bytes) -> channels, height, width (the header's; an ANY decode gives these) */
static int l_probe(lua_State *L)
{
  size_t n;
  const char *bytes = luaL_checklstring(L, 1, &n);
  int h, w, c;
  char err[1024];
  if (lc_image_probe((const uint8_t *)bytes, n, &h, &w, &c, err, sizeof err))
    return luaL_error(L, "image.info: %s", err);
  lua_pushinteger(L, c);
  lua_pushinteger(L, h);
  lua_pushinteger(L, w);
  return 3;
}

/* _image.write(path, t, quality): t uint8 or float (in [0, 1], clamped and rounded), shaped
 * (C, H, W) with C in 1, 3, 4, or (H, W) for gray. */
static int l_write(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  lc_tensor *t = lcb_check_tensor(L, 2, "image.write");
  int quality = check_int(L, 3, 95);
  if (t->ndim != 2 && t->ndim != 3)
    return luaL_error(L, "image.write: expected a (C, H, W) tensor with C = 1, 3 or 4, got shape %s",
                      lc_shape_str(t));
  int64_t c = t->ndim == 3 ? t->sizes[0] : 1, h = t->sizes[t->ndim - 2], w = t->sizes[t->ndim - 1];
  if (c != 1 && c != 3 && c != 4)
    return luaL_error(L, "image.write: expected 1, 3 or 4 channels (a (C, H, W) tensor), got shape %s",
                      lc_shape_str(t));
  if (h <= 0 || w <= 0 || h * w > LC_IMAGE_MAX_PIXELS)
    return luaL_error(L, "image.write: cannot write an image of shape %s", lc_shape_str(t));
  if (t->dtype == LC_INT64)
    return luaL_error(L, "image.write: expected a uint8 tensor (0..255) or a float one (0..1), got int64");
  lc_tensor *host = lcb_on_stack(L, lc_to_device(t, LC_DEVICE_CPU));
  if (host->dtype == LC_FLOAT64) host = lcb_on_stack(L, lc_to_dtype(host, LC_FLOAT32));
  if (!lc_is_contiguous(host)) host = lcb_on_stack(L, lc_contiguous_copy(host));

  size_t plane = (size_t)h * (size_t)w;
  lc_image *img = new_box(L);
  img->data = malloc(plane * (size_t)c);
  if (!img->data) return luaL_error(L, "image.write: out of memory");
  img->h = (int)h, img->w = (int)w, img->c = (int)c;
  for (int64_t ch = 0; ch < c; ch++) {
    uint8_t *d = img->data + ch;
    if (host->dtype == LC_UINT8) {
      const uint8_t *s = (const uint8_t *)lc_data(host) + ch * plane;
      for (size_t i = 0; i < plane; i++) d[i * c] = s[i];
    } else {
      const float *s = (const float *)lc_data(host) + ch * plane;
      for (size_t i = 0; i < plane; i++) {
        float v = s[i];
        /* NaN -> 0; clamp to [0, 1]; round half up */
        d[i * c] = !(v > 0.f) ? 0 : v >= 1.f ? 255 : (uint8_t)(v * 255.f + 0.5f);
      }
    }
  }
  char err[1024];
  int rc = lc_image_write_file(path, img, quality, err, sizeof err);
  lc_image_free(img);
  if (rc) return luaL_error(L, "image.write: %s", err);
  lua_pushstring(L, path);
  return 1;
}

void lcb_open_image(lua_State *L)
{
  if (luaL_newmetatable(L, IMAGE_BOX_MT)) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {
    {"read", l_read}, {"decode", l_decode}, {"probe", l_probe}, {"write", l_write}, {NULL, NULL},
  };
  lua_newtable(L);
  lcb_register(L, fns);
  lua_setfield(L, -2, "_image");
}
