/* Image grids: a batch of small images in rows with a title over each, as d2l's
 * show_images draws them with matplotlib, written as a PNG with cairo. The Lua side
 * (lib/luacnn/plot.lua) turns tensors into uint8 CHW pixels and predictions into titles and
 * colours; this file only lays the cells out, wraps the titles and draws. */
#include "plot/chart_internal.h"

#include <cairo.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TITLE_LEN 256
#define DEFAULT_TITLE_COLOR 0x222222

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

void lc_chart_image_grid_init(lc_chart_image_grid *g)
{
  memset(g, 0, sizeof *g);
}

/* Break s into at most LC_CHART_GRID_TITLE_LINES lines of at most maxw pixels: at '\n',
 * then at the last place that lets a line fit: a space (dropped), before '(' or after '_'
 * or '-' (class names such as "maclura_pomifera (quercus_montana)"). A line with no such
 * place, and what is left over on the last line, is cut with "...". Returns the count. */
static int wrap_title(cairo_t *cr, const char *s, double maxw,
                      char lines[LC_CHART_GRID_TITLE_LINES][TITLE_LEN])
{
  int n = 0;
  char rest[TITLE_LEN], buf[TITLE_LEN];
  snprintf(rest, sizeof rest, "%s", s);
  char *p = rest;
  while (*p && n < LC_CHART_GRID_TITLE_LINES) {
    char *nl = strchr(p, '\n');
    if (nl) *nl = 0;
    char *next = nl ? nl + 1 : NULL;   /* where the following line starts */
    if (lc_chart_text_width(cr, p) > maxw && n < LC_CHART_GRID_TITLE_LINES - 1) {
      size_t len = strlen(p), cut = 0;
      for (size_t i = 1; i < len; i++) {
        int at = p[i] == ' ' || p[i] == '(' || p[i - 1] == '_' || p[i - 1] == '-';
        if (!at || p[i - 1] == ' ') continue;
        char keep = p[i];
        p[i] = 0;
        int fits = lc_chart_text_width(cr, p) <= maxw;
        p[i] = keep;
        if (!fits) break;
        cut = i;
      }
      if (cut) {
        if (nl) *nl = '\n';            /* the rest of this line goes on with the next */
        next = p + cut + (p[cut] == ' ');
        p[cut] = p[cut] == ' ' ? 0 : p[cut];
        if (next > p + cut) {            /* cut at a space: the line ends there */
          snprintf(lines[n++], TITLE_LEN, "%s", p);
        } else {                         /* cut inside a word: copy the first cut bytes */
          snprintf(lines[n++], TITLE_LEN, "%.*s", (int)cut, p);
        }
        p = next;
        continue;
      }
    }
    snprintf(lines[n++], TITLE_LEN, "%s", lc_chart_fit_text(cr, p, maxw, buf, sizeof buf));
    if (!next) break;
    p = next;
  }
  return n;
}

static double auto_scale(int h, int w)
{
  int side = h > w ? h : w;
  if (side >= 96) return 1;
  return ceil(96.0 / side);      /* 28x28 Fashion-MNIST -> 4x, 112 pixels */
}

/* Layout with title measurement done on cr (any cairo context). */
static int layout_on(cairo_t *cr, const lc_chart_image_grid *g, lc_chart_grid_layout *L,
                     char *err, size_t errlen)
{
  if (!g) return fail(err, errlen, "image_grid: no images given");
  if (g->n <= 0) return fail(err, errlen, "image_grid: expected at least one image, got %d", g->n);
  if (!g->pixels) return fail(err, errlen, "image_grid: no pixel data given");
  if (g->c != 1 && g->c != 3)
    return fail(err, errlen, "image_grid: expected 1 (gray) or 3 (RGB) channels, got %d", g->c);
  if (g->h <= 0 || g->w <= 0)
    return fail(err, errlen, "image_grid: expected images of positive size, got %dx%d", g->h, g->w);
  if (g->cols < 0) return fail(err, errlen, "image_grid: ncols must be positive, got %d", g->cols);
  if (!(g->scale >= 0 && g->scale <= 64))
    return fail(err, errlen, "image_grid: scale must be in (0, 64], got %g", g->scale);
  if (!(g->font_scale >= 0 && g->font_scale <= 10))
    return fail(err, errlen, "image_grid: font_scale must be in (0, 10], got %g", g->font_scale);
  if (g->title_colors)
    for (int k = 0; k < g->n; k++)
      if (g->title_colors[k] < -1 || g->title_colors[k] > 0xFFFFFF)
        return fail(err, errlen, "image_grid: title colour %d must be 0xRRGGBB, got %ld", k + 1,
                    g->title_colors[k]);

  double s = g->font_scale > 0 ? g->font_scale : 1;
  L->scale = g->scale > 0 ? g->scale : auto_scale(g->h, g->w);
  L->cols = g->cols > 0 ? g->cols : (g->n < 8 ? g->n : 8);
  if (L->cols > g->n) L->cols = g->n;
  L->rows = (g->n + L->cols - 1) / L->cols;
  double cw = floor(g->w * L->scale + 0.5), ch = floor(g->h * L->scale + 0.5);
  if (cw > LC_CHART_GRID_MAX_SIDE || ch > LC_CHART_GRID_MAX_SIDE)
    return fail(err, errlen, "image_grid: a %dx%d image at scale %g is over %d pixels", g->h,
                g->w, L->scale, LC_CHART_GRID_MAX_SIDE);
  L->cell_w = cw < 1 ? 1 : (int)cw;
  L->cell_h = ch < 1 ? 1 : (int)ch;
  L->pad = (int)floor(8 * s + 0.5);

  int nlines = 0;
  if (g->titles) {
    lc_chart_set_font(cr, 12 * s, 0);
    char lines[LC_CHART_GRID_TITLE_LINES][TITLE_LEN];
    for (int k = 0; k < g->n; k++) {
      if (!has_text(g->titles[k])) continue;
      int m = wrap_title(cr, g->titles[k], L->cell_w, lines);
      if (m > nlines) nlines = m;
    }
    L->title_h = nlines ? (int)ceil(nlines * lc_chart_font_height(cr) + 3 * s) : 0;
  } else {
    L->title_h = 0;
  }
  double width = (double)L->cols * L->cell_w + (L->cols + 1.0) * L->pad;
  double height = (double)L->rows * (L->title_h + L->cell_h) + (L->rows + 1.0) * L->pad;
  if (width > LC_CHART_GRID_MAX_SIDE || height > LC_CHART_GRID_MAX_SIDE)
    return fail(err, errlen,
                "image_grid: the grid would be %.0fx%.0f pixels, over %d; use a smaller scale, "
                "more or fewer columns, or fewer images", width, height, LC_CHART_GRID_MAX_SIDE);
  L->width = (int)width;
  L->height = (int)height;
  return 0;
}

int lc_chart_image_grid_layout(const lc_chart_image_grid *g, lc_chart_grid_layout *L, char *err,
                               size_t errlen)
{
  cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
  cairo_t *cr = cairo_create(surf);
  int rc = layout_on(cr, g, L, err, errlen);
  cairo_destroy(cr);
  cairo_surface_destroy(surf);
  return rc;
}

/* Image k of g as a cairo surface (RGB24), or NULL when cairo has no memory. */
static cairo_surface_t *image_surface(const lc_chart_image_grid *g, int k)
{
  cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, g->w, g->h);
  if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(img);
    return NULL;
  }
  cairo_surface_flush(img);
  unsigned char *dst = cairo_image_surface_get_data(img);
  int stride = cairo_image_surface_get_stride(img);
  size_t plane = (size_t)g->h * g->w;
  const unsigned char *src = g->pixels + (size_t)k * g->c * plane;
  for (int y = 0; y < g->h; y++) {
    uint32_t *row = (uint32_t *)(dst + (size_t)y * stride);
    for (int x = 0; x < g->w; x++) {
      size_t i = (size_t)y * g->w + x;
      uint32_t r = src[i], gr = g->c == 3 ? src[plane + i] : r, b = g->c == 3 ? src[2 * plane + i] : r;
      row[x] = 0xFF000000u | r << 16 | gr << 8 | b;
    }
  }
  cairo_surface_mark_dirty(img);
  return img;
}

static void draw_cell(cairo_t *cr, const lc_chart_image_grid *g, const lc_chart_grid_layout *L,
                      int k, cairo_surface_t *img)
{
  int col = k % L->cols, row = k / L->cols;
  double x = L->pad + col * (L->cell_w + L->pad);
  double y = L->pad + row * (L->title_h + L->cell_h + L->pad) + L->title_h;

  cairo_save(cr);
  cairo_rectangle(cr, x, y, L->cell_w, L->cell_h);
  cairo_clip(cr);
  cairo_translate(cr, x, y);
  cairo_scale(cr, (double)L->cell_w / g->w, (double)L->cell_h / g->h);
  cairo_set_source_surface(cr, img, 0, 0);
  /* enlarged pixels stay sharp squares, as imshow shows them; shrinking averages */
  cairo_pattern_set_filter(cairo_get_source(cr),
                           L->scale >= 1 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
  cairo_paint(cr);
  cairo_restore(cr);

  const char *title = g->titles ? g->titles[k] : NULL;
  if (!has_text(title)) return;
  double s = g->font_scale > 0 ? g->font_scale : 1;
  lc_chart_set_font(cr, 12 * s, 0);
  char lines[LC_CHART_GRID_TITLE_LINES][TITLE_LEN];
  int m = wrap_title(cr, title, L->cell_w, lines);
  long color = g->title_colors && g->title_colors[k] >= 0 ? g->title_colors[k] : DEFAULT_TITLE_COLOR;
  cairo_set_source_rgb(cr, ((color >> 16) & 255) / 255.0, ((color >> 8) & 255) / 255.0,
                       (color & 255) / 255.0);
  double lh = lc_chart_font_height(cr);
  /* the lines sit right over the image, the last one 2*s above it */
  double top = y - 2 * s - m * lh;
  for (int i = 0; i < m; i++) lc_chart_text_at(cr, lines[i], x + L->cell_w / 2.0, top + i * lh, 0.5, 0);
}

int lc_chart_image_grid_png(const lc_chart_image_grid *g, lc_chart_png *out,
                            lc_chart_grid_layout *Lout, char *err, size_t errlen)
{
  if (!out) return fail(err, errlen, "image_grid: no output given");
  out->data = NULL;
  out->size = 0;
  lc_chart_grid_layout L;
  if (lc_chart_image_grid_layout(g, &L, err, errlen)) return -1;

  cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, L.width, L.height);
  if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
    cairo_status_t st = cairo_surface_status(surf);
    cairo_surface_destroy(surf);
    return fail(err, errlen, "image_grid: cannot create a %dx%d image: %s", L.width, L.height,
                cairo_status_to_string(st));
  }
  cairo_t *cr = cairo_create(surf);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  int oom = 0;
  for (int k = 0; k < g->n && !oom; k++) {
    cairo_surface_t *img = image_surface(g, k);
    if (!img) { oom = 1; break; }
    draw_cell(cr, g, &L, k, img);
    cairo_surface_destroy(img);
  }
  cairo_status_t st = cairo_status(cr);
  cairo_destroy(cr);
  if (oom || st != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surf);
    return fail(err, errlen, "image_grid: drawing failed: %s",
                oom ? "out of memory" : cairo_status_to_string(st));
  }
  int rc = lc_chart_surface_png(surf, out, "image_grid", err, errlen);
  cairo_surface_destroy(surf);
  if (rc == 0 && Lout) *Lout = L;
  return rc;
}

int lc_chart_image_grid_write(const lc_chart_image_grid *g, const char *path,
                              lc_chart_grid_layout *L, char *err, size_t errlen)
{
  if (!path || !path[0]) return fail(err, errlen, "image_grid: no output path given");
  lc_chart_png png;
  if (lc_chart_image_grid_png(g, &png, L, err, errlen)) return -1;
  int rc = lc_chart_write_file(path, &png, "image_grid", err, errlen);
  lc_chart_png_free(&png);
  return rc;
}
