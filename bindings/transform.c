/* Lua binding of runtime/transform: `require('luacnn.core')._transforms`. The user-facing
 * constructors and their checks are lib/luacnn/transforms.lua; this layer turns the list of
 * spec tables it makes into lc_transform_op and wraps the compiled pipeline.
 *
 *   _transforms.compile({spec, ...}) -> pipeline (userdata, metatable "luacnn.Transform")
 *   pipeline(img [, {seed =, stream =, orig_size = {h, w}}]) -> CHW tensor
 *   pipeline:sample(img [, opts]) -> CHW tensor, {crop = {top, left, h, w} (1-based top/left),
 *                                      hflip =, vflip =, angle =, brightness =, ...}
 *   pipeline:output_shape(c, h, w) -> c, h, w, dtype
 *   pipeline:decode_scale(h, w) -> 1, 2, 4 or 8
 *   pipeline.transforms -> the spec list it was compiled from
 *
 * spec: {kind = 'Resize'|'CenterCrop'|'RandomCrop'|'RandomResizedCrop'|'RandomHorizontalFlip'|
 * 'RandomVerticalFlip'|'RandomRotation'|'ColorJitter'|'ToTensor'|'Normalize', size = {h, w}
 * (Resize: {s} for the smaller edge), scale = {lo, hi}, ratio = {lo, hi}, p =, degrees =
 * {lo, hi}, fill = {v, ...}, brightness/contrast/saturation/hue = {lo, hi}, mean = {...},
 * std = {...}, padding = {p} | {left/right, top/bottom} | {left, top, right, bottom},
 * pad_if_needed = bool}. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bindings/luacnn.h"
#include "bindings/transform.h"
#include "kernels/cpu/augment.h"
#include "runtime/random.h"

void lcb_open_transform(lua_State *L);

typedef struct {
  lc_transform *t;
} pipeline_ud;

lc_transform *lcb_check_transform(lua_State *L, int idx)
{
  pipeline_ud *p = luaL_testudata(L, idx, LCB_TRANSFORM_MT);
  if (!p || !p->t)
    luaL_error(L, "expected a compiled transform (lc.transforms.Compose{...}) as argument %d, got %s",
               idx, lua_isnoneornil(L, idx) ? "nil" : luaL_typename(L, idx));
  return p->t;
}

static const char *kinds[] = {"Resize", "CenterCrop", "RandomResizedCrop", "RandomHorizontalFlip",
                              "RandomVerticalFlip", "RandomRotation", "ColorJitter", "ToTensor",
                              "Normalize", "RandomCrop", NULL};

/* Field `key` of the table at idx: a list of up to max numbers. Returns the count (0 when
 * absent). */
static int get_list(lua_State *L, int idx, const char *key, double *v, int max, const char *who)
{
  int t = lua_getfield(L, idx, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (t == LUA_TNUMBER) {
    v[0] = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return 1;
  }
  if (t != LUA_TTABLE) luaL_error(L, "%s: %s must be a list of numbers, got %s", who, key, luaL_typename(L, -1));
  int n = (int)lua_rawlen(L, -1);
  if (n > max) luaL_error(L, "%s: %s has %d values, at most %d allowed", who, key, n, max);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, -1, i + 1);
    if (!lua_isnumber(L, -1))
      luaL_error(L, "%s: %s[%d] must be a number, got %s", who, key, i + 1, luaL_typename(L, -1));
    v[i] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n;
}

static int get_range(lua_State *L, int idx, const char *key, double *r, const char *who)
{
  int n = get_list(L, idx, key, r, 2, who);
  if (n == 1) r[1] = r[0];
  return n > 0;
}

static void read_op(lua_State *L, int idx, int index, lc_transform_op *op)
{
  memset(op, 0, sizeof *op);
  if (!lua_istable(L, idx))
    luaL_error(L, "Compose: transform %d must be a table made by lc.transforms (e.g. "
                  "T.Resize(224)), got %s", index, luaL_typename(L, idx));
  lua_getfield(L, idx, "kind");
  const char *kind = lua_tostring(L, -1);
  int k = -1;
  for (int i = 0; kind && kinds[i]; i++)
    if (strcmp(kind, kinds[i]) == 0) k = i;
  if (k < 0)
    luaL_error(L, "Compose: transform %d has an unknown kind '%s'", index, kind ? kind : "nil");
  lua_pop(L, 1);
  const char *who = kinds[k];
  op->kind = (lc_transform_kind)k;
  double v[LC_TF_MAX_CHANNELS];
  int n = get_list(L, idx, "size", v, 2, who);
  if (n > 0) {
    for (int i = 0; i < n; i++)
      if (v[i] != floor(v[i]) || v[i] < 0 || v[i] > 65536)
        luaL_error(L, "%s: size must be positive integers, got %g", who, v[i]);
    op->size_h = (int)v[0];
    op->size_w = n == 2 ? (int)v[1] : (k == LC_TF_RESIZE ? 0 : (int)v[0]);
  }
  op->scale[0] = 0.08;
  op->scale[1] = 1.0;
  op->ratio[0] = 3.0 / 4.0;
  op->ratio[1] = 4.0 / 3.0;
  get_range(L, idx, "scale", op->scale, who);
  get_range(L, idx, "ratio", op->ratio, who);
  lua_getfield(L, idx, "p");
  op->p = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : 0.5;
  lua_pop(L, 1);
  get_range(L, idx, "degrees", op->degrees, who);
  n = get_list(L, idx, "fill", v, LC_TF_MAX_CHANNELS, who);
  for (int i = 0; i < LC_TF_MAX_CHANNELS; i++) {
    double f = n == 0 ? 0 : v[n == 1 ? 0 : (i < n ? i : n - 1)];
    op->fill[i] = (uint8_t)(f < 0 ? 0 : f > 255 ? 255 : f);
  }
  op->has_brightness = get_range(L, idx, "brightness", op->brightness, who);
  op->has_contrast = get_range(L, idx, "contrast", op->contrast, who);
  op->has_saturation = get_range(L, idx, "saturation", op->saturation, who);
  op->has_hue = get_range(L, idx, "hue", op->hue, who);
  double mean[LC_TF_MAX_CHANNELS], sd[LC_TF_MAX_CHANNELS];
  int nm = get_list(L, idx, "mean", mean, LC_TF_MAX_CHANNELS, who);
  int ns = get_list(L, idx, "std", sd, LC_TF_MAX_CHANNELS, who);
  if (k == LC_TF_NORMALIZE && nm != ns)
    luaL_error(L, "Normalize: mean has %d values but std has %d", nm, ns);
  n = get_list(L, idx, "padding", v, 4, who);
  for (int i = 0; i < n; i++)
    if (v[i] != floor(v[i]) || v[i] < 0 || v[i] > 65536)
      luaL_error(L, "%s: padding must be non-negative integers, got %g", who, v[i]);
  if (n == 1) op->pad[0] = op->pad[1] = op->pad[2] = op->pad[3] = (int)v[0];
  else if (n == 2) { op->pad[0] = op->pad[2] = (int)v[0]; op->pad[1] = op->pad[3] = (int)v[1]; }
  else if (n == 4) for (int i = 0; i < 4; i++) op->pad[i] = (int)v[i];
  else if (n != 0) luaL_error(L, "%s: padding takes 1, 2 or 4 values, got %d", who, n);
  lua_getfield(L, idx, "pad_if_needed");
  op->pad_if_needed = lua_toboolean(L, -1);
  lua_pop(L, 1);
  op->n = nm;
  for (int i = 0; i < nm; i++) {
    op->mean[i] = (float)mean[i];
    op->std[i] = (float)sd[i];
  }
}

static int l_compile(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  int n = (int)lua_rawlen(L, 1);
  lc_transform_op *ops = lua_newuserdatauv(L, sizeof(lc_transform_op) * (size_t)(n > 0 ? n : 1), 0);
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, 1, i + 1);
    read_op(L, lua_gettop(L), i + 1, &ops[i]);
    lua_pop(L, 1);
  }
  char err[256];
  lc_transform *t = lc_transform_new(ops, n, err, sizeof err);
  if (!t) return luaL_error(L, "%s", err);
  pipeline_ud *p = lua_newuserdatauv(L, sizeof *p, 1);
  p->t = t;
  luaL_setmetatable(L, LCB_TRANSFORM_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  return 1;
}

static int p_gc(lua_State *L)
{
  pipeline_ud *p = luaL_checkudata(L, 1, LCB_TRANSFORM_MT);
  lc_transform_release(p->t);
  p->t = NULL;
  return 0;
}

static uint64_t opt_u64(lua_State *L, int opts, const char *key, int *given)
{
  *given = 0;
  if (!opts) return 0;
  int t = lua_getfield(L, opts, key);
  uint64_t v = 0;
  if (t != LUA_TNIL) {
    int ok;
    lua_Integer i = lua_tointegerx(L, -1, &ok);
    if (!ok)
      luaL_error(L, "transform: %s must be an integer, got %s", key,
                 t == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
    v = (uint64_t)i;
    *given = 1;
  }
  lua_pop(L, 1);
  return v;
}

/* The uint8 image tensor (C, H, W) or (H, W) at idx as a new HWC buffer (userdata pushed on the
 * stack, owned by Lua). */
static uint8_t *image_hwc(lua_State *L, int idx, const char *who, int *pc, int *ph, int *pw)
{
  lc_tensor *img = lcb_check_tensor(L, idx, who);
  if (img->dtype != LC_UINT8)
    luaL_error(L, "%s: expected a uint8 image tensor (C, H, W), got %s (convert with "
                  "x:to('uint8') or decode with lc.image)", who, lc_dtype_name(img->dtype));
  if (img->storage->device.type != LC_CPU) luaL_error(L, "%s: the image must be on the CPU", who);
  if (img->ndim != 3 && img->ndim != 2)
    luaL_error(L, "%s: expected an image tensor of shape (C, H, W) or (H, W), got %s", who,
               lc_shape_str(img));
  int c = img->ndim == 3 ? (int)img->sizes[0] : 1;
  int h = (int)img->sizes[img->ndim - 2], w = (int)img->sizes[img->ndim - 1];
  if (c < 1 || c > LC_TF_MAX_CHANNELS || h < 1 || w < 1)
    luaL_error(L, "%s: expected 1 to %d channels and a non-empty image, got %s", who,
               LC_TF_MAX_CHANNELS, lc_shape_str(img));
  uint8_t *hwc = lua_newuserdatauv(L, (size_t)c * h * w, 0);
  const uint8_t *src = lc_data(img);
  int64_t sc = img->ndim == 3 ? img->strides[0] : 0, sy = img->strides[img->ndim - 2],
          sx = img->strides[img->ndim - 1];
  for (int y = 0; y < h; y++) {
    uint8_t *d = hwc + (size_t)y * w * c;
    const uint8_t *row = src + y * sy;
    if (c == 3 && sx == 1) {
      const uint8_t *r0 = row, *r1 = row + sc, *r2 = row + 2 * sc;
      for (int x = 0; x < w; x++) {
        d[3 * x] = r0[x];
        d[3 * x + 1] = r1[x];
        d[3 * x + 2] = r2[x];
      }
    } else {
      for (int x = 0; x < w; x++)
        for (int k = 0; k < c; k++) d[(size_t)x * c + k] = row[k * sc + x * sx];
    }
  }
  *pc = c;
  *ph = h;
  *pw = w;
  return hwc;
}

/* Shared by __call and sample: applies to the tensor at 2 with options at 3; pushes the output. */
static void run(lua_State *L, lc_transform_trace *trace)
{
  lc_transform *t = lcb_check_transform(L, 1);
  int opts = lua_istable(L, 3) ? 3 : 0;
  static const char *const known[] = {"seed", "stream", "orig_size", NULL};
  lcb_check_opts(L, opts, "transform", known);
  int c, h, w;
  uint8_t *hwc = image_hwc(L, 2, "transform", &c, &h, &w);
  int given_seed, given_stream;
  uint64_t seed = opt_u64(L, opts, "seed", &given_seed);
  uint64_t stream = opt_u64(L, opts, "stream", &given_stream);
  if (!given_seed) {
    seed = lc_initial_seed();
    if (!given_stream) stream = lc_random_reserve(4) | ((uint64_t)1 << 47);
  }
  int orig_h = h, orig_w = w;
  if (opts && lua_getfield(L, opts, "orig_size") == LUA_TTABLE) {
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    orig_h = (int)luaL_checkinteger(L, -2);
    orig_w = (int)luaL_checkinteger(L, -1);
    lua_pop(L, 2);
    if (orig_h < h || orig_w < w)
      luaL_error(L, "transform: orig_size {%d, %d} is smaller than the image (%d x %d)", orig_h,
                 orig_w, h, w);
  }
  if (opts) lua_pop(L, 1);
  char err[256];
  int oc, oh, ow, is_float;
  if (lc_transform_output_shape(t, c, orig_h, orig_w, &oc, &oh, &ow, &is_float, err, sizeof err))
    luaL_error(L, "%s", err);
  int64_t sizes[3] = {oc, oh, ow};
  lc_tensor *out = lcb_on_stack(L, lc_empty(3, sizes, is_float ? LC_FLOAT32 : LC_UINT8, LC_DEVICE_CPU));
  lc_image in = {hwc, h, w, c};
  if (lc_transform_apply_traced(t, &in, orig_h, orig_w, seed, stream, lc_data(out), trace, err, sizeof err))
    luaL_error(L, "%s", err);
  lua_remove(L, -2); /* the HWC copy */
}

/* _transforms.functional(name, img, ...) -> uint8 (C, H', W'): one kernel with given
 * parameters, as torchvision.transforms.functional (0-based boxes here; lib adds the 1):
 *   'resized_crop', top, left, h, w, oh, ow   'crop', top, left, h, w   'resize', oh, ow
 *   'hflip'  'vflip'  'rotate', degrees [, fill]  'brightness'|'contrast'|'saturation'|'hue', f */
static int l_functional(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  int c, h, w;
  uint8_t *hwc = image_hwc(L, 2, name, &c, &h, &w);
  int hwc_idx = lua_gettop(L);
  int oh = h, ow = w, rc = 0;
  int a[6] = {0};
  int nargs = strcmp(name, "resized_crop") == 0 ? 6 : strcmp(name, "crop") == 0 ? 4
            : strcmp(name, "resize") == 0 ? 2 : 0;
  for (int i = 0; i < nargs; i++) {
    lua_Integer v = luaL_checkinteger(L, 3 + i);
    if (v < -65536 || v > 65536) return luaL_error(L, "%s: argument %d out of range", name, 3 + i);
    a[i] = (int)v;
  }
  if (strcmp(name, "resized_crop") == 0) { oh = a[4]; ow = a[5]; }
  else if (strcmp(name, "crop") == 0) { oh = a[2]; ow = a[3]; }
  else if (strcmp(name, "resize") == 0) { oh = a[0]; ow = a[1]; }
  if (oh < 1 || ow < 1) return luaL_error(L, "%s: output size must be positive, got %d x %d", name, oh, ow);
  uint8_t *res = lua_newuserdatauv(L, (size_t)c * oh * ow, 0);
  if (strcmp(name, "resized_crop") == 0) {
    if (a[2] < 1 || a[3] < 1) return luaL_error(L, "resized_crop: box size must be positive");
    rc = lc_aug_resized_crop(hwc, h, w, c, a[0], a[1], a[2], a[3], oh, ow, res);
  } else if (strcmp(name, "crop") == 0) {
    rc = lc_aug_crop(hwc, h, w, c, a[0], a[1], a[2], a[3], res);
  } else if (strcmp(name, "resize") == 0) {
    rc = lc_aug_resize(hwc, h, w, c, oh, ow, res);
  } else if (strcmp(name, "hflip") == 0) {
    lc_aug_hflip(hwc, h, w, c, res);
  } else if (strcmp(name, "vflip") == 0) {
    lc_aug_vflip(hwc, h, w, c, res);
  } else if (strcmp(name, "rotate") == 0) {
    double deg = luaL_checknumber(L, 3);
    uint8_t fill[LC_TF_MAX_CHANNELS] = {0};
    double f = luaL_optnumber(L, 4, 0);
    for (int k = 0; k < LC_TF_MAX_CHANNELS; k++) fill[k] = (uint8_t)(f < 0 ? 0 : f > 255 ? 255 : f);
    lc_aug_rotate(hwc, h, w, c, deg, fill, res);
  } else {
    double f = luaL_checknumber(L, 3);
    memcpy(res, hwc, (size_t)c * h * w);
    if (strcmp(name, "brightness") == 0) lc_aug_brightness(res, h, w, c, f);
    else if (strcmp(name, "contrast") == 0) lc_aug_contrast(res, h, w, c, f);
    else if (strcmp(name, "saturation") == 0) lc_aug_saturation(res, h, w, c, f);
    else if (strcmp(name, "hue") == 0) lc_aug_hue(res, h, w, c, f);
    else return luaL_error(L, "functional: unknown op '%s'", name);
  }
  if (rc) return luaL_error(L, "%s: failed (%s)", name, rc == LC_AUG_ENOMEM ? "out of memory" : "bad arguments");
  int64_t sizes[3] = {c, oh, ow};
  lc_tensor *out = lcb_on_stack(L, lc_empty(3, sizes, LC_UINT8, LC_DEVICE_CPU));
  lc_aug_to_chw_u8(res, oh, ow, c, lc_data(out));
  (void)hwc_idx;
  return 1;
}

static int p_call(lua_State *L)
{
  run(L, NULL);
  return 1;
}

static void set_num(lua_State *L, const char *key, double v)
{
  if (isnan(v)) return;
  lua_pushnumber(L, v);
  lua_setfield(L, -2, key);
}

static int p_sample(lua_State *L)
{
  lc_transform_trace tr;
  run(L, &tr);
  lua_createtable(L, 0, 8);
  if (tr.crop_h >= 0) {
    int box[4] = {tr.crop_top + 1, tr.crop_left + 1, tr.crop_h, tr.crop_w};
    lua_createtable(L, 4, 0);
    for (int i = 0; i < 4; i++) {
      lua_pushinteger(L, box[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "crop");
  }
  lua_pushboolean(L, tr.hflip);
  lua_setfield(L, -2, "hflip");
  lua_pushboolean(L, tr.vflip);
  lua_setfield(L, -2, "vflip");
  set_num(L, "angle", tr.angle);
  set_num(L, "brightness", tr.brightness);
  set_num(L, "contrast", tr.contrast);
  set_num(L, "saturation", tr.saturation);
  set_num(L, "hue", tr.hue);
  if (!isnan(tr.brightness) || !isnan(tr.contrast) || !isnan(tr.saturation) || !isnan(tr.hue)) {
    static const char *names[] = {"brightness", "contrast", "saturation", "hue"};
    lua_createtable(L, 4, 0);
    for (int i = 0; i < 4; i++) {
      lua_pushstring(L, names[tr.jitter_order[i]]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "jitter_order");
  }
  return 2;
}

static int p_output_shape(lua_State *L)
{
  lc_transform *t = lcb_check_transform(L, 1);
  int c = (int)luaL_checkinteger(L, 2), h = (int)luaL_checkinteger(L, 3), w = (int)luaL_checkinteger(L, 4);
  int oc, oh, ow, fl;
  char err[256];
  if (lc_transform_output_shape(t, c, h, w, &oc, &oh, &ow, &fl, err, sizeof err)) return luaL_error(L, "%s", err);
  lua_pushinteger(L, oc);
  lua_pushinteger(L, oh);
  lua_pushinteger(L, ow);
  lua_pushstring(L, fl ? "float32" : "uint8");
  return 4;
}

static int p_decode_scale(lua_State *L)
{
  lc_transform *t = lcb_check_transform(L, 1);
  int h = (int)luaL_checkinteger(L, 2), w = (int)luaL_checkinteger(L, 3);
  lua_pushinteger(L, lc_transform_decode_scale(t, h, w));
  return 1;
}

static int p_index(lua_State *L)
{
  const char *key = lua_tostring(L, 2);
  if (key && strcmp(key, "transforms") == 0) {
    lua_getiuservalue(L, 1, 1);
    return 1;
  }
  lua_getmetatable(L, 1);
  lua_getfield(L, -1, "methods");
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  return 1;
}

static int p_tostring(lua_State *L)
{
  lc_transform *t = lcb_check_transform(L, 1);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "Compose(");
  for (int i = 0; i < lc_transform_count(t); i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, kinds[lc_transform_op_at(t, i)->kind]);
  }
  luaL_addstring(&b, ")");
  luaL_pushresult(&b);
  return 1;
}

void lcb_open_transform(lua_State *L)
{
  if (luaL_newmetatable(L, LCB_TRANSFORM_MT)) {
    static const luaL_Reg meta[] = {{"__gc", p_gc}, {"__call", p_call}, {"__index", p_index},
                                    {"__tostring", p_tostring}, {NULL, NULL}};
    lcb_register(L, meta);
    lua_newtable(L);
    static const luaL_Reg methods[] = {{"sample", p_sample}, {"output_shape", p_output_shape},
                                       {"decode_scale", p_decode_scale}, {"apply", p_call},
                                       {NULL, NULL}};
    lcb_register(L, methods);
    lua_setfield(L, -2, "methods");
  }
  lua_pop(L, 1);
  lua_newtable(L);
  static const luaL_Reg fns[] = {{"compile", l_compile}, {"functional", l_functional}, {NULL, NULL}};
  lcb_register(L, fns);
  luaL_getmetatable(L, LCB_TRANSFORM_MT);
  lua_setfield(L, -2, "Pipeline_mt");
  lua_setfield(L, -2, "_transforms");
}
