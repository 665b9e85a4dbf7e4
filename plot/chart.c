/* Drawing a chart with cairo and writing it as PNG: checks the figure, draws each panel
 * (grid, data, frame, ticks, labels, legend) where chart_layout.c put things, and encodes
 * the image in memory or writes it to a file atomically. The look follows matplotlib's
 * (white background, light grid, tab10 colours, outward ticks) since d2l's readers know it. */
#define _POSIX_C_SOURCE 200809L
#include "plot/chart_internal.h"

#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PANELS 64
#define PI LC_CHART_PI

static const long palette[LC_CHART_PALETTE_SIZE] = {
  0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
  0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf,
};

long lc_chart_palette(int k)
{
  int m = k % LC_CHART_PALETTE_SIZE;
  return palette[m < 0 ? m + LC_CHART_PALETTE_SIZE : m];
}

void lc_chart_series_init(lc_chart_series *s)
{
  memset(s, 0, sizeof *s);
  s->color = LC_CHART_AUTO_COLOR;
}

void lc_chart_panel_init(lc_chart_panel *p)
{
  memset(p, 0, sizeof *p);
  p->xmin = p->xmax = p->ymin = p->ymax = NAN;
  p->legend = LC_CHART_LEGEND_BEST;
}

void lc_chart_figure_init(lc_chart_figure *f)
{
  memset(f, 0, sizeof *f);
}

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

/* ---------------------------------------------------------------- checking the figure */

static int check_panel(const lc_chart_panel *p, size_t idx, char *err, size_t errlen)
{
  if (p->nseries && !p->series)
    return fail(err, errlen, "chart: panel %zu has %zu series but no series array", idx + 1,
                p->nseries);
  for (size_t k = 0; k < p->nseries; k++) {
    const lc_chart_series *s = &p->series[k];
    if (s->n && !s->y)
      return fail(err, errlen, "chart: panel %zu, series %zu has %zu points but no y values",
                  idx + 1, k + 1, s->n);
    if (s->color != LC_CHART_AUTO_COLOR && (s->color < 0 || s->color > 0xFFFFFF))
      return fail(err, errlen, "chart: series %zu: colour must be 0xRRGGBB, got %ld", k + 1,
                  s->color);
    if (!(s->alpha >= 0 && s->alpha <= 1))
      return fail(err, errlen, "chart: series %zu: alpha must be in [0, 1], got %g", k + 1,
                  s->alpha);
    if (!(s->line_width >= 0 && s->line_width <= 50))
      return fail(err, errlen, "chart: series %zu: line width must be in [0, 50], got %g",
                  k + 1, s->line_width);
    if ((unsigned)s->dash > LC_CHART_NOLINE || (unsigned)s->marker > LC_CHART_MARKER_DIAMOND)
      return fail(err, errlen, "chart: series %zu: unknown line or marker style", k + 1);
  }
  if (isfinite(p->xmin) && isfinite(p->xmax) && !(p->xmin < p->xmax))
    return fail(err, errlen, "chart: panel %zu: xmin (%g) must be less than xmax (%g)", idx + 1,
                p->xmin, p->xmax);
  if (isfinite(p->ymin) && isfinite(p->ymax) && !(p->ymin < p->ymax))
    return fail(err, errlen, "chart: panel %zu: ymin (%g) must be less than ymax (%g)", idx + 1,
                p->ymin, p->ymax);
  if (p->xlog && ((isfinite(p->xmin) && p->xmin <= 0) || (isfinite(p->xmax) && p->xmax <= 0)))
    return fail(err, errlen, "chart: panel %zu: a log x axis needs positive limits", idx + 1);
  if (p->ylog && ((isfinite(p->ymin) && p->ymin <= 0) || (isfinite(p->ymax) && p->ymax <= 0)))
    return fail(err, errlen, "chart: panel %zu: a log y axis needs positive limits", idx + 1);
  if (p->xlog && p->nxticklabels)
    return fail(err, errlen, "chart: panel %zu: a categorical x axis cannot be logarithmic",
                idx + 1);
  if ((unsigned)p->legend > LC_CHART_LEGEND_NONE)
    return fail(err, errlen, "chart: panel %zu: unknown legend position %d", idx + 1,
                (int)p->legend);
  return 0;
}
static int check_figure(const lc_chart_figure *fig, char *err, size_t errlen)
{
  if (!fig) return fail(err, errlen, "chart: no figure given");
  if (!fig->panels || fig->npanels == 0)
    return fail(err, errlen, "chart: a figure needs at least one panel, got none");
  if (fig->npanels > MAX_PANELS)
    return fail(err, errlen, "chart: at most %d panels per figure, got %zu", MAX_PANELS,
                fig->npanels);
  if (fig->width && (fig->width < 100 || fig->width > 8000))
    return fail(err, errlen, "chart: width must be 100 to 8000 pixels, got %d", fig->width);
  if (fig->height && (fig->height < 100 || fig->height > 8000))
    return fail(err, errlen, "chart: height must be 100 to 8000 pixels, got %d", fig->height);
  if (fig->cols < 0) return fail(err, errlen, "chart: cols must be positive, got %d", fig->cols);
  if (!(fig->font_scale >= 0 && fig->font_scale <= 10))
    return fail(err, errlen, "chart: font_scale must be in (0, 10], got %g", fig->font_scale);
  for (size_t i = 0; i < fig->npanels; i++)
    if (check_panel(&fig->panels[i], i, err, errlen)) return -1;
  return 0;
}

/* ---------------------------------------------------------------- drawing */

static void set_rgb(cairo_t *cr, long rgb, double alpha)
{
  cairo_set_source_rgba(cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0,
                        (rgb & 255) / 255.0, alpha);
}

static void set_dash(cairo_t *cr, enum lc_chart_dash d, double lw)
{
  double u = lw < 1 ? 1 : lw;
  double dashed[] = {3.7 * u, 1.6 * u}, dashdot[] = {6.4 * u, 1.6 * u, 1 * u, 1.6 * u},
         dotted[] = {1 * u, 1.65 * u};
  switch (d) {
  case LC_CHART_DASHED: cairo_set_dash(cr, dashed, 2, 0); break;
  case LC_CHART_DASHDOT: cairo_set_dash(cr, dashdot, 4, 0); break;
  case LC_CHART_DOTTED: cairo_set_dash(cr, dotted, 2, 0); break;
  default: cairo_set_dash(cr, NULL, 0, 0); break;
  }
}

static void draw_marker(cairo_t *cr, enum lc_chart_marker m, double x, double y, double r)
{
  switch (m) {
  case LC_CHART_MARKER_SQUARE:
    cairo_rectangle(cr, x - r * 0.9, y - r * 0.9, 1.8 * r, 1.8 * r);
    break;
  case LC_CHART_MARKER_TRIANGLE:
    cairo_move_to(cr, x, y - r * 1.2);
    cairo_line_to(cr, x + r * 1.1, y + r * 0.8);
    cairo_line_to(cr, x - r * 1.1, y + r * 0.8);
    cairo_close_path(cr);
    break;
  case LC_CHART_MARKER_DIAMOND:
    cairo_move_to(cr, x, y - r * 1.3);
    cairo_line_to(cr, x + r, y);
    cairo_line_to(cr, x, y + r * 1.3);
    cairo_line_to(cr, x - r, y);
    cairo_close_path(cr);
    break;
  default:
    cairo_new_sub_path(cr);
    cairo_arc(cr, x, y, r, 0, 2 * PI);
    break;
  }
  cairo_fill(cr);
}

typedef struct {
  long color;
  double lw, alpha;
} style;

static style series_style(const lc_chart_series *s, int *auto_k, double scale)
{
  style st;
  st.color = s->color == LC_CHART_AUTO_COLOR ? lc_chart_palette((*auto_k)++) : s->color;
  st.lw = (s->line_width > 0 ? s->line_width : 2.0) * scale;
  st.alpha = s->alpha > 0 ? s->alpha : 1.0;
  return st;
}

static void draw_series(const lc_chart_frame *f, const lc_chart_series *s, style st)
{
  cairo_t *cr = f->cr;
  if (s->dash != LC_CHART_NOLINE) {
    cairo_new_path(cr);
    int open = 0;
    for (size_t i = 0; i < s->n; i++) {
      double x = series_x(s, i), y = s->y[i];
      if (!usable(&f->ax, x) || !usable(&f->ay, y)) { open = 0; continue; }
      if (open) cairo_line_to(cr, map_x(f, x), map_y(f, y));
      else cairo_move_to(cr, map_x(f, x), map_y(f, y));
      /* a lone point between gaps still shows, as a dot */
      int next_ok = i + 1 < s->n && usable(&f->ax, series_x(s, i + 1)) && usable(&f->ay, s->y[i + 1]);
      if (!open && !next_ok && s->marker == LC_CHART_MARKER_NONE)
        cairo_line_to(cr, map_x(f, x) + 0.01, map_y(f, y));
      open = 1;
    }
    set_rgb(cr, st.color, st.alpha);
    cairo_set_line_width(cr, st.lw);
    set_dash(cr, s->dash, st.lw);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
  }
  if (s->marker != LC_CHART_MARKER_NONE || s->dash == LC_CHART_NOLINE) {
    enum lc_chart_marker m = s->marker == LC_CHART_MARKER_NONE ? LC_CHART_MARKER_CIRCLE : s->marker;
    set_rgb(cr, st.color, st.alpha);
    for (size_t i = 0; i < s->n; i++) {
      double x = series_x(s, i), y = s->y[i];
      if (usable(&f->ax, x) && usable(&f->ay, y))
        draw_marker(cr, m, map_x(f, x), map_y(f, y), 3.6 * f->s);
    }
  }
}

static void draw_legend(const lc_chart_frame *f, const lc_chart_panel *p, const lc_chart_legend_box *lb,
                        double maxw)
{
  cairo_t *cr = f->cr;
  double s = f->s, r = 4 * s, x = lb->x, y = lb->y, w = lb->w, h = lb->h;
  cairo_new_sub_path(cr);
  cairo_arc(cr, x + w - r, y + r, r, -PI / 2, 0);
  cairo_arc(cr, x + w - r, y + h - r, r, 0, PI / 2);
  cairo_arc(cr, x + r, y + h - r, r, PI / 2, PI);
  cairo_arc(cr, x + r, y + r, r, PI, 1.5 * PI);
  cairo_close_path(cr);
  cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
  cairo_fill_preserve(cr);
  cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);

  lc_chart_set_font(cr, 12 * s, 0);
  char buf[256];
  int auto_k = 0, row = 0;
  for (size_t k = 0; k < p->nseries; k++) {
    const lc_chart_series *se = &p->series[k];
    style st = series_style(se, &auto_k, s);
    if (!has_text(se->name)) continue;
    double cy = y + 8 * s + (row % lb->per_col + 0.5) * lb->row;
    double sx = x + 10 * s + (row / lb->per_col) * lb->colw;
    if (se->dash != LC_CHART_NOLINE) {
      cairo_move_to(cr, sx, cy);
      cairo_line_to(cr, sx + lb->sample, cy);
      set_rgb(cr, st.color, st.alpha < 0.6 ? 0.6 : st.alpha);
      cairo_set_line_width(cr, st.lw);
      set_dash(cr, se->dash, st.lw);
      cairo_stroke(cr);
      cairo_set_dash(cr, NULL, 0, 0);
    }
    if (se->marker != LC_CHART_MARKER_NONE || se->dash == LC_CHART_NOLINE) {
      set_rgb(cr, st.color, st.alpha < 0.6 ? 0.6 : st.alpha);
      draw_marker(cr, se->marker == LC_CHART_MARKER_NONE ? LC_CHART_MARKER_CIRCLE : se->marker,
                  sx + lb->sample / 2, cy, 3.6 * s);
    }
    cairo_set_source_rgb(cr, 0.13, 0.13, 0.13);
    lc_chart_text_at(cr, lc_chart_fit_text(cr, se->name, maxw, buf, sizeof buf),
                     sx + lb->sample + 8 * s, cy, 0, 0.5);
    row++;
  }
}

/* Draw panel p in the cell (x0, y0, w, h); legend_x and legend_namew as for
 * lc_chart_layout_panel. */
static void draw_panel(cairo_t *cr, const lc_chart_panel *p, double x0, double y0, double w,
                       double h, double s, double legend_x, double legend_namew)
{
  lc_chart_panel_layout L;
  lc_chart_layout_panel(cr, p, x0, y0, w, h, s, legend_x, legend_namew, &L);
  const lc_chart_frame *f = &L.f;
  double pad = L.pad, ticklen = L.ticklen;

  /* background grid */
  cairo_set_line_width(cr, 1);
  if (!p->no_grid) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    for (int i = 0; i < f->ax.nticks; i++) {
      double gx = floor(map_x(f, f->ax.ticks[i])) + 0.5;
      cairo_move_to(cr, gx, f->py);
      cairo_line_to(cr, gx, f->py + f->ph);
    }
    for (int i = 0; i < f->ay.nticks; i++) {
      double gy = floor(map_y(f, f->ay.ticks[i])) + 0.5;
      cairo_move_to(cr, f->px, gy);
      cairo_line_to(cr, f->px + f->pw, gy);
    }
    cairo_stroke(cr);
  }

  /* the data, clipped to the plot area */
  cairo_save(cr);
  cairo_rectangle(cr, f->px, f->py, f->pw, f->ph);
  cairo_clip(cr);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
  int auto_k = 0;
  for (size_t k = 0; k < p->nseries; k++) {
    style st = series_style(&p->series[k], &auto_k, s);
    if (p->series[k].dash == LC_CHART_DOTTED) cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    draw_series(f, &p->series[k], st);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
  }
  cairo_restore(cr);

  /* frame and ticks */
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, floor(f->px) + 0.5, floor(f->py) + 0.5, floor(f->pw), floor(f->ph));
  cairo_stroke(cr);
  double fx = floor(f->px) + 0.5, fy = floor(f->py + f->ph) + 0.5;
  for (int i = 0; i < f->ax.nticks; i++) {
    double gx = floor(map_x(f, f->ax.ticks[i])) + 0.5;
    cairo_move_to(cr, gx, fy);
    cairo_line_to(cr, gx, fy + ticklen);
  }
  for (int i = 0; i < f->ay.nticks; i++) {
    double gy = floor(map_y(f, f->ay.ticks[i])) + 0.5;
    cairo_move_to(cr, fx, gy);
    cairo_line_to(cr, fx - ticklen, gy);
  }
  for (int i = 0; i < f->ax.nminor; i++) {
    double gx = floor(map_x(f, f->ax.minor[i])) + 0.5;
    cairo_move_to(cr, gx, fy);
    cairo_line_to(cr, gx, fy + ticklen * 0.55);
  }
  for (int i = 0; i < f->ay.nminor; i++) {
    double gy = floor(map_y(f, f->ay.minor[i])) + 0.5;
    cairo_move_to(cr, fx, gy);
    cairo_line_to(cr, fx - ticklen * 0.55, gy);
  }
  cairo_stroke(cr);

  /* tick labels */
  lc_chart_set_font(cr, 12 * s, 0);
  cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
  char buf[256];
  for (int i = 0; i < f->ax.nticks; i++) {
    double gx = map_x(f, f->ax.ticks[i]), gy = fy + ticklen + 3 * s;
    if (L.rotate) {
      cairo_save(cr);
      cairo_translate(cr, gx, gy);
      cairo_rotate(cr, -PI / 6);
      lc_chart_text_at(cr, lc_chart_fit_text(cr, f->ax.labels[i], 140 * s, buf, sizeof buf), 0, 0,
                       1, 0.2);
      cairo_restore(cr);
    } else {
      lc_chart_text_at(cr, f->ax.labels[i], gx, gy, 0.5, 0);
    }
  }
  for (int i = 0; i < f->ay.nticks; i++)
    lc_chart_text_at(cr, f->ay.labels[i], fx - ticklen - 4 * s, map_y(f, f->ay.ticks[i]), 1,
                     0.5);

  /* axis labels and title */
  lc_chart_set_font(cr, 13.5 * s, 0);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  if (has_text(p->xlabel))
    lc_chart_text_at(cr, lc_chart_fit_text(cr, p->xlabel, f->pw + 40 * s, buf, sizeof buf),
                     f->px + f->pw / 2, y0 + h - pad, 0.5, 1);
  if (has_text(p->ylabel)) {
    cairo_save(cr);
    cairo_translate(cr, x0 + pad, f->py + f->ph / 2);
    cairo_rotate(cr, -PI / 2);
    lc_chart_text_at(cr, lc_chart_fit_text(cr, p->ylabel, f->ph + 20 * s, buf, sizeof buf), 0, 0,
                     0.5, 0);
    cairo_restore(cr);
  }
  if (has_text(p->title)) {
    lc_chart_set_font(cr, 14.5 * s, 1);
    lc_chart_text_at(cr, lc_chart_fit_text(cr, p->title, w - 2 * pad, buf, sizeof buf),
                     f->px + f->pw / 2, y0 + pad, 0.5, 0);
  }

  /* legend */
  if (L.lb.n > 0 && p->legend != LC_CHART_LEGEND_NONE) draw_legend(f, p, &L.lb, L.legend_maxw);
}

/* ---------------------------------------------------------------- PNG output */

typedef struct {
  unsigned char *data;
  size_t size, cap;
} membuf;

static cairo_status_t append_png(void *closure, const unsigned char *data, unsigned int len)
{
  membuf *b = closure;
  if (b->size + len > b->cap) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->size + len) cap *= 2;
    unsigned char *p = realloc(b->data, cap);
    if (!p) return CAIRO_STATUS_NO_MEMORY;
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->size, data, len);
  b->size += len;
  return CAIRO_STATUS_SUCCESS;
}

int lc_chart_render_png(const lc_chart_figure *fig, lc_chart_png *out, char *err, size_t errlen)
{
  if (!out) return fail(err, errlen, "chart: no output given");
  out->data = NULL;
  out->size = 0;
  if (check_figure(fig, err, errlen)) return -1;

  int cols, rows, width, height;
  lc_chart_figure_grid(fig, &cols, &rows, &width, &height);
  double s = fig->font_scale > 0 ? fig->font_scale : 1;

  cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surf);
    return fail(err, errlen, "chart: cannot create a %dx%d image: %s", width, height,
                cairo_status_to_string(cairo_surface_status(surf)));
  }
  cairo_t *cr = cairo_create(surf);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);

  double top = 0;
  if (has_text(fig->title)) {
    char buf[256];
    lc_chart_set_font(cr, 17 * s, 1);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    lc_chart_text_at(cr, lc_chart_fit_text(cr, fig->title, width - 24 * s, buf, sizeof buf),
                     width / 2.0, 10 * s, 0.5, 0);
    top = 10 * s + lc_chart_font_height(cr) + 2 * s;
  }
  double ch = (height - top) / rows;
  /* with several panels, "outside" legends get a column at the right of the figure */
  double namew = 320 * s;
  double reserved = lc_chart_legend_column(cr, fig, s, ch, namew, width);
  double cw = (width - reserved) / cols;
  for (size_t i = 0; i < fig->npanels; i++) {
    int r = (int)(i / cols), c = (int)(i % cols);
    draw_panel(cr, &fig->panels[i], c * cw, top + r * ch, cw, ch, s,
               reserved > 0 ? width - reserved + 4 * s : -1, namew);
  }

  cairo_status_t st = cairo_status(cr);
  cairo_destroy(cr);
  if (st != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surf);
    return fail(err, errlen, "chart: drawing failed: %s", cairo_status_to_string(st));
  }
  int rc = lc_chart_surface_png(surf, out, "chart", err, errlen);
  cairo_surface_destroy(surf);
  return rc;
}

int lc_chart_surface_png(cairo_surface_t *surf, lc_chart_png *out, const char *op, char *err,
                         size_t errlen)
{
  membuf b = {NULL, 0, 0};
  cairo_status_t st = cairo_surface_write_to_png_stream(surf, append_png, &b);
  if (st != CAIRO_STATUS_SUCCESS) {
    free(b.data);
    return fail(err, errlen, "%s: PNG encoding failed: %s", op, cairo_status_to_string(st));
  }
  out->data = b.data;
  out->size = b.size;
  return 0;
}

void lc_chart_png_free(lc_chart_png *png)
{
  if (!png) return;
  free(png->data);
  png->data = NULL;
  png->size = 0;
}

int lc_chart_write_png(const lc_chart_figure *fig, const char *path, char *err, size_t errlen)
{
  if (!path || !path[0]) return fail(err, errlen, "chart: no output path given");
  lc_chart_png png;
  if (lc_chart_render_png(fig, &png, err, errlen)) return -1;
  int rc = lc_chart_write_file(path, &png, "chart", err, errlen);
  lc_chart_png_free(&png);
  return rc;
}

int lc_chart_write_file(const char *path, const lc_chart_png *png, const char *op, char *err,
                        size_t errlen)
{
  size_t n = strlen(path) + 32;
  char *tmp = malloc(n);
  if (!tmp) return fail(err, errlen, "%s: out of memory", op);
  snprintf(tmp, n, "%s.tmp-%ld", path, (long)getpid());
  FILE *fp = fopen(tmp, "wb");
  int ok = fp != NULL;
  int saved = errno;
  if (ok) {
    ok = fwrite(png->data, 1, png->size, fp) == png->size && fflush(fp) == 0 &&
         fsync(fileno(fp)) == 0;
    saved = errno;
    ok = (fclose(fp) == 0) && ok;
  }
  if (ok && rename(tmp, path) != 0) {
    ok = 0;
    saved = errno;
  }
  if (!ok) {
    remove(tmp);
    fail(err, errlen, "%s: cannot write %s: %s", op, path, strerror(saved));
  }
  free(tmp);
  return ok ? 0 : -1;
}
