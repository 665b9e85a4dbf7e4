/* Lua binding for plot/chart: `require('luacnn.core')._chart`. The friendly API is
 * lib/luacnn/plot.lua; this layer only turns a spec table into the C structs and checks it.
 *
 *   _chart.line_png(spec)         -> PNG bytes (string)
 *   _chart.write_png(spec, path)  -> path (written atomically: temp file + rename)
 *   _chart.nice_ticks(lo, hi, target [, integer_only]) -> {ticks...}, step
 *   _chart.log_ticks(lo, hi, target) -> {ticks...}
 *   _chart.format_tick(v, step)   -> label text
 *   _chart.palette                -> {0xRRGGBB, ...} (10 colours)
 *   _chart.image_grid(spec [, path]) -> PNG bytes (or path), layout table
 *   _chart.read_png(path)         -> width, height, pixels (string of R, G, B bytes, row-major)
 *
 * spec = {width=, height=, title=, cols=, font_scale=, panels = {panel, ...}}, or a single
 * panel's fields directly. panel = {title=, xlabel=, ylabel=, xlog=, ylog=, xmin=, xmax=,
 * ymin=, ymax=, xticklabels={...}, legend='best'|'upper right'|...|'outside'|'none',
 * grid=true, series={{name=, x={...}, y={...}, color=0xRRGGBB, dash='solid'|'dashed'|
 * 'dashdot'|'dotted'|'none', marker='none'|'circle'|'square'|'triangle'|'diamond',
 * width=, alpha=}, ...}}. NaN (0/0) in y leaves a gap.
 *
 * image_grid spec = {images = uint8 contiguous CPU tensor (B, C, H, W), titles = {B strings
 * or false}, colors = {B 0xRRGGBB or -1}, cols=, scale=, font_scale=}; the layout table has
 * width, height, cols, rows, cell_w, cell_h, title_h, pad, scale (see plot/chart.h). */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <string.h>

#include "bindings/luacnn.h"
#include "plot/chart.h"
#include "runtime/tensor.h"

#include <cairo.h>

void lcb_open_chart(lua_State *L);

typedef struct {
  lua_State *L;
  const char *fn;     /* "chart.line_png" */
  int anchor;         /* stack index of a table keeping allocations and strings alive */
  int nanchor;
} ctx;

static void *anchored_alloc(ctx *c, size_t size)
{
  void *p = lua_newuserdatauv(c->L, size ? size : 1, 0);
  memset(p, 0, size ? size : 1);
  lua_rawseti(c->L, c->anchor, ++c->nanchor);
  return p;
}

/* Field of the table at idx as an optional string (NULL when absent). */
static const char *opt_string(ctx *c, int idx, const char *key, const char *where)
{
  const char *s = NULL;
  int t = lua_getfield(c->L, idx, key);
  if (t == LUA_TSTRING || t == LUA_TNUMBER) {
    s = lua_tostring(c->L, -1);
    lua_rawseti(c->L, c->anchor, ++c->nanchor);   /* keep the string alive */
    return s;
  }
  if (t != LUA_TNIL)
    luaL_error(c->L, "%s: %s%s must be a string, got %s", c->fn, where, key, luaL_typename(c->L, -1));
  lua_pop(c->L, 1);
  return s;
}

static double opt_number(ctx *c, int idx, const char *key, double dflt, const char *where)
{
  double v = dflt;
  int t = lua_getfield(c->L, idx, key);
  if (t == LUA_TNUMBER) v = lua_tonumber(c->L, -1);
  else if (t != LUA_TNIL)
    luaL_error(c->L, "%s: %s%s must be a number, got %s", c->fn, where, key, luaL_typename(c->L, -1));
  lua_pop(c->L, 1);
  return v;
}

static int opt_int(ctx *c, int idx, const char *key, const char *where)
{
  double v = opt_number(c, idx, key, 0, where);
  if (!(v >= 0 && v <= 100000) || v != floor(v))
    luaL_error(c->L, "%s: %s%s must be a non-negative integer, got %g", c->fn, where, key, v);
  return (int)v;
}

static int opt_bool(ctx *c, int idx, const char *key, int dflt, const char *where)
{
  int v = dflt;
  int t = lua_getfield(c->L, idx, key);
  if (t == LUA_TBOOLEAN) v = lua_toboolean(c->L, -1);
  else if (t != LUA_TNIL)
    luaL_error(c->L, "%s: %s%s must be a boolean, got %s", c->fn, where, key, luaL_typename(c->L, -1));
  lua_pop(c->L, 1);
  return v;
}

static int opt_choice(ctx *c, int idx, const char *key, const char *const *names, int dflt,
                      const char *where)
{
  int v = dflt;
  int t = lua_getfield(c->L, idx, key);
  if (t == LUA_TSTRING) {
    const char *s = lua_tostring(c->L, -1);
    v = -1;
    for (int i = 0; names[i]; i++)
      if (strcmp(s, names[i]) == 0) v = i;
    if (v < 0) {
      luaL_Buffer b;
      luaL_buffinit(c->L, &b);
      for (int i = 0; names[i]; i++) {
        if (i) luaL_addstring(&b, ", ");
        luaL_addchar(&b, '\'');
        luaL_addstring(&b, names[i]);
        luaL_addchar(&b, '\'');
      }
      luaL_pushresult(&b);
      luaL_error(c->L, "%s: %s%s must be one of %s, got '%s'", c->fn, where, key,
                 lua_tostring(c->L, -1), s);
    }
  } else if (t != LUA_TNIL) {
    luaL_error(c->L, "%s: %s%s must be a string, got %s", c->fn, where, key, luaL_typename(c->L, -1));
  }
  lua_pop(c->L, 1);
  return v;
}

/* A list of numbers at field key of the table at idx; *n receives its length. */
static double *number_list(ctx *c, int idx, const char *key, size_t *n, const char *where)
{
  lua_State *L = c->L;
  int t = lua_getfield(L, idx, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    *n = 0;
    return NULL;
  }
  if (t != LUA_TTABLE)
    luaL_error(L, "%s: %s%s must be a list of numbers, got %s", c->fn, where, key, luaL_typename(L, -1));
  size_t len = lua_rawlen(L, -1);
  double *v = anchored_alloc(c, len * sizeof(double));
  for (size_t i = 0; i < len; i++) {
    int ty = lua_rawgeti(L, -1, (lua_Integer)i + 1);
    if (ty == LUA_TNUMBER) v[i] = lua_tonumber(L, -1);
    else if (ty == LUA_TBOOLEAN && !lua_toboolean(L, -1)) v[i] = NAN;   /* false = gap */
    else
      luaL_error(L, "%s: %s%s[%d] must be a number, got %s", c->fn, where, key, (int)i + 1,
                 luaL_typename(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  *n = len;
  return v;
}

static const char *const dash_names[] = {"solid", "dashed", "dashdot", "dotted", "none", NULL};
static const char *const marker_names[] = {"none", "circle", "square", "triangle", "diamond", NULL};
static const char *const legend_names[] = {
  "best", "upper right", "upper left", "lower left", "lower right", "right", "center left",
  "lower center", "upper center", "outside", "none", NULL};

static void read_series(ctx *c, int idx, lc_chart_series *s, const char *where)
{
  lua_State *L = c->L;
  lc_chart_series_init(s);
  s->name = opt_string(c, idx, "name", where);
  size_t nx, ny;
  s->x = number_list(c, idx, "x", &nx, where);
  s->y = number_list(c, idx, "y", &ny, where);
  if (!s->y) luaL_error(L, "%s: %sy is missing (a list of numbers)", c->fn, where);
  if (s->x && nx != ny)
    luaL_error(L, "%s: %sx has %d values but y has %d", c->fn, where, (int)nx, (int)ny);
  s->n = ny;
  double color = opt_number(c, idx, "color", -1, where);
  if (color != -1 && !(color >= 0 && color <= 0xFFFFFF && color == floor(color)))
    luaL_error(L, "%s: %scolor must be an integer 0xRRGGBB, got %g", c->fn, where, color);
  s->color = (long)color;
  s->dash = (enum lc_chart_dash)opt_choice(c, idx, "dash", dash_names, 0, where);
  s->marker = (enum lc_chart_marker)opt_choice(c, idx, "marker", marker_names, 0, where);
  s->line_width = opt_number(c, idx, "width", 0, where);
  s->alpha = opt_number(c, idx, "alpha", 0, where);
}

static void read_panel(ctx *c, int idx, lc_chart_panel *p, int pnum, int npanels)
{
  lua_State *L = c->L;
  char where[64];
  where[0] = 0;
  if (npanels > 1) snprintf(where, sizeof where, "panel %d: ", pnum);
  lc_chart_panel_init(p);
  p->title = opt_string(c, idx, "title", where);
  p->xlabel = opt_string(c, idx, "xlabel", where);
  p->ylabel = opt_string(c, idx, "ylabel", where);
  p->xlog = opt_bool(c, idx, "xlog", 0, where);
  p->ylog = opt_bool(c, idx, "ylog", 0, where);
  p->xmin = opt_number(c, idx, "xmin", NAN, where);
  p->xmax = opt_number(c, idx, "xmax", NAN, where);
  p->ymin = opt_number(c, idx, "ymin", NAN, where);
  p->ymax = opt_number(c, idx, "ymax", NAN, where);
  p->legend = (enum lc_chart_legend)opt_choice(c, idx, "legend", legend_names, 0, where);
  p->no_grid = !opt_bool(c, idx, "grid", 1, where);

  int t = lua_getfield(L, idx, "xticklabels");
  if (t == LUA_TTABLE) {
    size_t n = lua_rawlen(L, -1);
    const char **labels = anchored_alloc(c, n * sizeof(char *));
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, -1, (lua_Integer)i + 1);
      labels[i] = luaL_tolstring(L, -1, NULL);      /* numbers and booleans as text */
      lua_rawseti(L, c->anchor, ++c->nanchor);
      lua_pop(L, 1);
    }
    p->xticklabels = labels;
    p->nxticklabels = n;
  } else if (t != LUA_TNIL) {
    luaL_error(L, "%s: %sxticklabels must be a list, got %s", c->fn, where, luaL_typename(L, -1));
  }
  lua_pop(L, 1);

  t = lua_getfield(L, idx, "series");
  if (t != LUA_TTABLE)
    luaL_error(L, "%s: %sseries must be a list of {name=, x=, y=} tables, got %s", c->fn, where,
               luaL_typename(L, -1));
  int sidx = lua_gettop(L);
  size_t n = lua_rawlen(L, sidx);
  lc_chart_series *series = anchored_alloc(c, n * sizeof *series);
  for (size_t k = 0; k < n; k++) {
    if (lua_rawgeti(L, sidx, (lua_Integer)k + 1) != LUA_TTABLE)
      luaL_error(L, "%s: %sseries[%d] must be a table, got %s", c->fn, where, (int)k + 1,
                 luaL_typename(L, -1));
    char swhere[128];
    lua_getfield(L, -1, "name");
    if (lua_type(L, -1) == LUA_TSTRING)
      snprintf(swhere, sizeof swhere, "%sseries %d ('%.40s'): ", where, (int)k + 1, lua_tostring(L, -1));
    else
      snprintf(swhere, sizeof swhere, "%sseries %d: ", where, (int)k + 1);
    lua_pop(L, 1);
    read_series(c, lua_gettop(L), &series[k], swhere);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  p->series = series;
  p->nseries = n;
}

/* Fill fig from the spec at stack index 1. Leaves the anchor table on the stack. */
static void read_figure(lua_State *L, ctx *c, lc_chart_figure *fig)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_newtable(L);
  c->L = L;
  c->anchor = lua_gettop(L);
  c->nanchor = 0;
  lc_chart_figure_init(fig);
  fig->width = opt_int(c, 1, "width", "");
  fig->height = opt_int(c, 1, "height", "");
  fig->cols = opt_int(c, 1, "cols", "");
  fig->font_scale = opt_number(c, 1, "font_scale", 0, "");

  int t = lua_getfield(L, 1, "panels");
  if (t == LUA_TNIL) {                 /* the spec is a single panel */
    lua_pop(L, 1);
    lc_chart_panel *p = anchored_alloc(c, sizeof *p);
    read_panel(c, 1, p, 1, 1);
    fig->panels = p;
    fig->npanels = 1;
    return;
  }
  if (t != LUA_TTABLE)
    luaL_error(L, "%s: panels must be a list of panel tables, got %s", c->fn, luaL_typename(L, -1));
  int pidx = lua_gettop(L);
  size_t n = lua_rawlen(L, pidx);
  if (n == 0) luaL_error(L, "%s: panels is empty (a figure needs at least one panel)", c->fn);
  lc_chart_panel *panels = anchored_alloc(c, n * sizeof *panels);
  for (size_t i = 0; i < n; i++) {
    if (lua_rawgeti(L, pidx, (lua_Integer)i + 1) != LUA_TTABLE)
      luaL_error(L, "%s: panels[%d] must be a table, got %s", c->fn, (int)i + 1, luaL_typename(L, -1));
    read_panel(c, lua_gettop(L), &panels[i], (int)i + 1, (int)n);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  fig->panels = panels;
  fig->npanels = n;
  fig->title = opt_string(c, 1, "title", "");
}

static int l_line_png(lua_State *L)
{
  ctx c = {L, "chart.line_png", 0, 0};
  lc_chart_figure fig;
  read_figure(L, &c, &fig);
  lc_chart_png png;
  char err[512];
  if (lc_chart_render_png(&fig, &png, err, sizeof err)) return luaL_error(L, "%s", err);
  lua_pushlstring(L, (const char *)png.data, png.size);
  lc_chart_png_free(&png);
  return 1;
}

static int l_write_png(lua_State *L)
{
  const char *path = luaL_checkstring(L, 2);
  ctx c = {L, "chart.write_png", 0, 0};
  lc_chart_figure fig;
  read_figure(L, &c, &fig);
  char err[512];
  if (lc_chart_write_png(&fig, path, err, sizeof err)) return luaL_error(L, "%s", err);
  lua_pushstring(L, path);
  return 1;
}

static int l_nice_ticks(lua_State *L)
{
  double lo = luaL_checknumber(L, 1), hi = luaL_checknumber(L, 2);
  int target = (int)luaL_optinteger(L, 3, 6);
  int integer_only = lua_toboolean(L, 4);
  double ticks[256], step = 0;
  int n = lc_chart_nice_ticks(lo, hi, target, integer_only, ticks, 256, &step);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, ticks[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushnumber(L, step);
  return 2;
}

static int l_log_ticks(lua_State *L)
{
  double lo = luaL_checknumber(L, 1), hi = luaL_checknumber(L, 2);
  int target = (int)luaL_optinteger(L, 3, 6);
  if (!(lo > 0)) return luaL_error(L, "chart.log_ticks: lo must be positive, got %g", lo);
  double ticks[256];
  int n = lc_chart_log_ticks(lo, hi, target, ticks, 256);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, ticks[i]);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int l_format_tick(lua_State *L)
{
  char buf[64];
  lc_chart_format_tick(luaL_checknumber(L, 1), luaL_checknumber(L, 2), buf, sizeof buf);
  lua_pushstring(L, buf);
  return 1;
}

static void push_layout(lua_State *L, const lc_chart_grid_layout *g)
{
  lua_createtable(L, 0, 9);
  int v[] = {g->width, g->height, g->cols, g->rows, g->cell_w, g->cell_h, g->title_h, g->pad};
  const char *k[] = {"width", "height", "cols", "rows", "cell_w", "cell_h", "title_h", "pad"};
  for (int i = 0; i < 8; i++) {
    lua_pushinteger(L, v[i]);
    lua_setfield(L, -2, k[i]);
  }
  lua_pushnumber(L, g->scale);
  lua_setfield(L, -2, "scale");
}

static int l_image_grid(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *path = luaL_optstring(L, 2, NULL);
  ctx c = {L, "image_grid", 0, 0};
  lua_newtable(L);
  c.anchor = lua_gettop(L);
  lc_chart_image_grid g;
  lc_chart_image_grid_init(&g);

  lua_getfield(L, 1, "images");
  lc_tensor *t = lcb_check_tensor(L, -1, "image_grid");
  lua_rawseti(L, c.anchor, ++c.nanchor);   /* keep the tensor alive */
  if (t->dtype != LC_UINT8 || t->ndim != 4 || t->storage->device.type != LC_CPU ||
      !lc_is_contiguous(t))
    return luaL_error(L, "image_grid: expected a contiguous uint8 CPU tensor (B, C, H, W), got %s %s",
                      lc_dtype_name(t->dtype), lc_shape_str(t));
  for (int d = 0; d < 4; d++)
    if (t->sizes[d] > 1 << 20)
      return luaL_error(L, "image_grid: images of shape %s are too large", lc_shape_str(t));
  g.n = (int)t->sizes[0];
  g.c = (int)t->sizes[1];
  g.h = (int)t->sizes[2];
  g.w = (int)t->sizes[3];
  g.pixels = lc_data(t);

  int ty = lua_getfield(L, 1, "titles");
  if (ty == LUA_TTABLE) {
    const char **titles = anchored_alloc(&c, (size_t)g.n * sizeof(char *));
    for (int k = 0; k < g.n; k++) {
      int tk = lua_rawgeti(L, -1, k + 1);
      if (tk == LUA_TSTRING || tk == LUA_TNUMBER) {
        titles[k] = lua_tostring(L, -1);
        lua_rawseti(L, c.anchor, ++c.nanchor);
      } else if (tk == LUA_TNIL || (tk == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
        lua_pop(L, 1);
      } else {
        return luaL_error(L, "image_grid: titles[%d] must be a string, got %s", k + 1,
                          luaL_typename(L, -1));
      }
    }
    g.titles = titles;
  } else if (ty != LUA_TNIL) {
    return luaL_error(L, "image_grid: titles must be a list of strings, got %s", luaL_typename(L, -1));
  }
  lua_pop(L, 1);

  size_t ncolors = 0;
  double *colors = number_list(&c, 1, "colors", &ncolors, "");
  if (colors) {
    long *lc = anchored_alloc(&c, (size_t)g.n * sizeof(long));
    for (int k = 0; k < g.n; k++) {
      double v = (size_t)k < ncolors ? colors[k] : -1;
      if (!(v == -1 || (v >= 0 && v <= 0xFFFFFF && v == floor(v))))
        return luaL_error(L, "image_grid: colors[%d] must be an integer 0xRRGGBB, got %g", k + 1, v);
      lc[k] = (long)v;
    }
    g.title_colors = lc;
  }
  g.cols = opt_int(&c, 1, "cols", "");
  g.scale = opt_number(&c, 1, "scale", 0, "");
  g.font_scale = opt_number(&c, 1, "font_scale", 0, "");

  char err[512];
  lc_chart_grid_layout layout;
  if (path) {
    if (lc_chart_image_grid_write(&g, path, &layout, err, sizeof err)) return luaL_error(L, "%s", err);
    lua_pushstring(L, path);
  } else {
    lc_chart_png png;
    if (lc_chart_image_grid_png(&g, &png, &layout, err, sizeof err)) return luaL_error(L, "%s", err);
    lua_pushlstring(L, (const char *)png.data, png.size);
    lc_chart_png_free(&png);
  }
  push_layout(L, &layout);
  return 2;
}

/* A PNG file's pixels through cairo (tests read charts and grids back with it). */
static int l_read_png(lua_State *L)
{
  const char *path = luaL_checkstring(L, 1);
  cairo_surface_t *s = cairo_image_surface_create_from_png(path);
  cairo_status_t st = cairo_surface_status(s);
  if (st != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(s);
    return luaL_error(L, "chart.read_png: cannot read %s: %s", path, cairo_status_to_string(st));
  }
  cairo_surface_flush(s);
  int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
  int stride = cairo_image_surface_get_stride(s);
  const unsigned char *data = cairo_image_surface_get_data(s);
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, (size_t)w * h * 3);
  for (int y = 0; y < h; y++) {
    const uint32_t *row = (const uint32_t *)(data + (size_t)y * stride);
    for (int x = 0; x < w; x++) {
      uint32_t p = row[x];   /* (premultiplied) ARGB32 or RGB24: opaque in what we write */
      char *o = out + ((size_t)y * w + x) * 3;
      o[0] = (char)((p >> 16) & 255);
      o[1] = (char)((p >> 8) & 255);
      o[2] = (char)(p & 255);
    }
  }
  luaL_pushresultsize(&b, (size_t)w * h * 3);
  cairo_surface_destroy(s);
  lua_pushinteger(L, w);
  lua_pushinteger(L, h);
  lua_rotate(L, -3, 2);
  return 3;
}

static const luaL_Reg chart_fns[] = {
  {"image_grid", l_image_grid},
  {"read_png", l_read_png},
  {"line_png", l_line_png},
  {"write_png", l_write_png},
  {"nice_ticks", l_nice_ticks},
  {"log_ticks", l_log_ticks},
  {"format_tick", l_format_tick},
  {NULL, NULL},
};

void lcb_open_chart(lua_State *L)
{
  lua_createtable(L, 0, 8);
  lcb_register(L, chart_fns);
  lua_createtable(L, LC_CHART_PALETTE_SIZE, 0);
  for (int i = 0; i < LC_CHART_PALETTE_SIZE; i++) {
    lua_pushinteger(L, lc_chart_palette(i));
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "palette");
  lua_setfield(L, -2, "_chart");
}
