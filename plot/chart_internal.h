/* What the chart files share (not part of the public API in chart.h): the axis, frame and
 * legend structs, the text helpers, the data-to-pixel mapping, and the layout that the
 * drawing follows. chart_ticks.c picks ticks, chart_text.c measures and writes text,
 * chart_layout.c decides where everything goes, chart.c draws it and writes the PNG. */
#ifndef LUACNN_CHART_INTERNAL_H
#define LUACNN_CHART_INTERNAL_H

#include "plot/chart.h"

#include <cairo.h>
#include <math.h>
#include <stddef.h>

#define LC_CHART_MAX_TICKS 64
#define LC_CHART_MAX_MINOR 256
#define LC_CHART_PI 3.14159265358979323846

typedef struct {
  double lo, hi;
  int log, integer, categorical;
  double ticks[LC_CHART_MAX_TICKS];
  char labels[LC_CHART_MAX_TICKS][40];
  int nticks;
  double minor[LC_CHART_MAX_MINOR];
  int nminor;
} lc_chart_axis;

typedef struct {
  cairo_t *cr;
  double s;                       /* font and line scale */
  double px, py, pw, ph;          /* plot area */
  lc_chart_axis ax, ay;
} lc_chart_frame;

typedef struct {
  int n, ncols, per_col;
  double w, h, row, sample, colw;
  double x, y;     /* placed top-left corner */
} lc_chart_legend_box;

/* Everything the drawing of one panel needs to know about where things go. */
typedef struct {
  lc_chart_frame f;               /* plot area and axes with their ticks */
  double pad, ticklen;
  int rotate;                     /* categorical x labels drawn at an angle */
  lc_chart_legend_box lb;         /* measured, and placed when it is shown */
  double legend_maxw;             /* widest legend name, in pixels */
} lc_chart_panel_layout;

/* ---- chart_ticks.c */

/* Fill a's ticks, labels and minor ticks for about target intervals; a categorical axis
 * takes x = 1..ncat labelled with catlabels instead. */
void lc_chart_axis_ticks(lc_chart_axis *a, int target, const char *const *catlabels, size_t ncat);

/* ---- chart_text.c */

void lc_chart_set_font(cairo_t *cr, double size, int bold);
double lc_chart_text_width(cairo_t *cr, const char *s);
double lc_chart_font_height(cairo_t *cr);
void lc_chart_text_at(cairo_t *cr, const char *s, double x, double y, double ax, double ay);
const char *lc_chart_fit_text(cairo_t *cr, const char *s, double maxw, char *buf, size_t n);

/* ---- chart_layout.c */

/* Lay out the panel p in the cell (x0, y0, w, h) at scale s. legend_x >= 0: the panel's
 * "outside" legend goes at that x (a column the figure kept free for it, names up to
 * legend_namew wide), so that all panels keep the same size. */
void lc_chart_layout_panel(cairo_t *cr, const lc_chart_panel *p, double x0, double y0,
                           double w, double h, double s, double legend_x, double legend_namew,
                           lc_chart_panel_layout *L);

/* Panel grid and image size of fig (width and height 0 = the defaults). */
void lc_chart_figure_grid(const lc_chart_figure *fig, int *cols, int *rows, int *width,
                          int *height);

/* Width of the column kept at the figure's right for the panels' "outside" legends (0 with
 * one panel or none of them outside); cells are ch high, names at most namew wide. */
double lc_chart_legend_column(cairo_t *cr, const lc_chart_figure *fig, double s, double ch,
                              double namew, int width);

/* ---- chart.c: PNG output shared by line charts and image grids */

/* Encode surf as PNG bytes in memory; errors start with op ("chart", "image_grid"). */
int lc_chart_surface_png(cairo_surface_t *surf, lc_chart_png *out, const char *op, char *err,
                         size_t errlen);
/* Write png to path atomically (temporary file in the same folder, fsync, rename). */
int lc_chart_write_file(const char *path, const lc_chart_png *png, const char *op, char *err,
                        size_t errlen);

/* ---- small helpers for all of them */

static inline int has_text(const char *s) { return s && s[0]; }

static inline double map_t(const lc_chart_axis *a, double v)
{
  if (a->log) return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
  return (v - a->lo) / (a->hi - a->lo);
}

static inline double map_x(const lc_chart_frame *f, double v)
{
  return f->px + map_t(&f->ax, v) * f->pw;
}

static inline double map_y(const lc_chart_frame *f, double v)
{
  return f->py + f->ph - map_t(&f->ay, v) * f->ph;
}

static inline double series_x(const lc_chart_series *s, size_t i)
{
  return s->x ? s->x[i] : (double)(i + 1);
}

static inline int usable(const lc_chart_axis *a, double v)
{
  return isfinite(v) && (!a->log || v > 0);
}

#endif
