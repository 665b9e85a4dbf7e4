/* Line charts drawn with cairo into PNG images: training curves, sweep results and run
 * comparisons. Pure C (no Lua): the binding in bindings/chart.c fills these structs from
 * Lua tables.
 *
 * A figure holds one or more panels laid out in a grid; a panel holds series of (x, y)
 * points drawn as lines and/or markers, with a title, axis labels, "nice" ticks (1, 2, 2.5,
 * 5 times a power of ten, or decades on a log axis), a light grid and a legend placed where
 * it hides the least data. Non-finite y values (NaN) break a line, so gaps are explicit. */
#ifndef LUACNN_CHART_H
#define LUACNN_CHART_H

#include <stddef.h>

enum lc_chart_dash {
  LC_CHART_SOLID = 0,
  LC_CHART_DASHED,
  LC_CHART_DASHDOT,
  LC_CHART_DOTTED,
  LC_CHART_NOLINE            /* markers only (scatter) */
};

enum lc_chart_marker {
  LC_CHART_MARKER_NONE = 0,
  LC_CHART_MARKER_CIRCLE,
  LC_CHART_MARKER_SQUARE,
  LC_CHART_MARKER_TRIANGLE,
  LC_CHART_MARKER_DIAMOND
};

enum lc_chart_legend {
  LC_CHART_LEGEND_BEST = 0,  /* inside, where it covers the fewest points; outside if too big */
  LC_CHART_LEGEND_UPPER_RIGHT,
  LC_CHART_LEGEND_UPPER_LEFT,
  LC_CHART_LEGEND_LOWER_LEFT,
  LC_CHART_LEGEND_LOWER_RIGHT,
  LC_CHART_LEGEND_RIGHT,
  LC_CHART_LEGEND_CENTER_LEFT,
  LC_CHART_LEGEND_LOWER_CENTER,
  LC_CHART_LEGEND_UPPER_CENTER,
  LC_CHART_LEGEND_OUTSIDE,   /* to the right of the plot area */
  LC_CHART_LEGEND_NONE
};

#define LC_CHART_AUTO_COLOR (-1)  /* next colour of the palette */
#define LC_CHART_PALETTE_SIZE 10

typedef struct {
  const char *name;          /* legend label; NULL or "" keeps it out of the legend */
  const double *x, *y;       /* n points each; x NULL means 1, 2, ..., n */
  size_t n;
  long color;                /* 0xRRGGBB, or LC_CHART_AUTO_COLOR */
  enum lc_chart_dash dash;
  enum lc_chart_marker marker;
  double line_width;         /* pixels; 0 = default */
  double alpha;              /* opacity in (0, 1]; 0 = opaque */
} lc_chart_series;

typedef struct {
  const char *title, *xlabel, *ylabel;   /* each optional (NULL) */
  const lc_chart_series *series;
  size_t nseries;
  int xlog, ylog;                        /* logarithmic axes (non-positive values skipped) */
  double xmin, xmax, ymin, ymax;         /* axis limits; NaN = from the data */
  /* Categorical x axis: when nxticklabels > 0, x = 1..nxticklabels are labelled with these. */
  const char *const *xticklabels;
  size_t nxticklabels;
  enum lc_chart_legend legend;
  int no_grid;                           /* 1 to leave out the grid lines */
} lc_chart_panel;

typedef struct {
  int width, height;                     /* pixels; 0 = 800 x 500 per panel row */
  const char *title;                     /* over all panels (optional) */
  const lc_chart_panel *panels;
  size_t npanels;
  int cols;                              /* panels per row; 0 = all in one row */
  double font_scale;                     /* 0 = 1 */
} lc_chart_figure;

typedef struct {
  unsigned char *data;
  size_t size;
} lc_chart_png;

/* Defaults: no title/labels, automatic limits (NaN), best legend, grid on. */
void lc_chart_panel_init(lc_chart_panel *p);
void lc_chart_series_init(lc_chart_series *s);
void lc_chart_figure_init(lc_chart_figure *f);

/* Render to PNG bytes in memory (free with lc_chart_png_free). Returns 0, or -1 with a
 * message in err ("chart: ..." naming what was wrong). */
int lc_chart_render_png(const lc_chart_figure *fig, lc_chart_png *out, char *err, size_t errlen);
void lc_chart_png_free(lc_chart_png *png);

/* Render and write to path atomically (temporary file in the same folder, then rename),
 * so a reader never sees a half-written image. */
int lc_chart_write_png(const lc_chart_figure *fig, const char *path, char *err, size_t errlen);

/* ---- image grids: d2l's show_images as a PNG (plot/chart_grid.c) */

#define LC_CHART_GRID_MAX_SIDE 16000   /* pixels, either side of the whole image */
#define LC_CHART_GRID_TITLE_LINES 3    /* a title wraps at spaces onto at most this many lines */

typedef struct {
  const unsigned char *pixels;   /* n images of c x h x w uint8, planar (CHW), back to back */
  int n, c, h, w;                /* c = 1 (gray) or 3 (RGB) */
  const char *const *titles;     /* n titles (NULL entries: none), or NULL; '\n' breaks lines */
  const long *title_colors;      /* n colours 0xRRGGBB (-1: the default dark grey), or NULL */
  int cols;                      /* images per row; 0 = min(n, 8) */
  double scale;                  /* screen pixels per image pixel; 0 = automatic */
  double font_scale;             /* 0 = 1 */
} lc_chart_image_grid;

/* Where things go, in whole pixels: image k (0-based) has its top-left corner at
 * x = pad + (k % cols) * (cell_w + pad), y = pad + (k / cols) * (title_h + cell_h + pad) + title_h,
 * and its title (if any) in the title_h pixels above it. */
typedef struct {
  int width, height, cols, rows;
  int cell_w, cell_h, title_h, pad;
  double scale;                  /* the scale used (the automatic one when 0 was asked) */
} lc_chart_grid_layout;

void lc_chart_image_grid_init(lc_chart_image_grid *g);
/* Check g and compute its layout; -1 with "image_grid: ..." in err when g is unusable. */
int lc_chart_image_grid_layout(const lc_chart_image_grid *g, lc_chart_grid_layout *L, char *err,
                               size_t errlen);
/* Render as PNG bytes (free with lc_chart_png_free); L (may be NULL) receives the layout. */
int lc_chart_image_grid_png(const lc_chart_image_grid *g, lc_chart_png *out,
                            lc_chart_grid_layout *L, char *err, size_t errlen);
/* Render and write to path atomically, like lc_chart_write_png. */
int lc_chart_image_grid_write(const lc_chart_image_grid *g, const char *path,
                              lc_chart_grid_layout *L, char *err, size_t errlen);

/* Palette colour k (0-based, wraps around) as 0xRRGGBB: matplotlib's "tab10" colours. */
long lc_chart_palette(int k);

/* Ticks for a linear axis over [lo, hi]: multiples of step = {1, 2, 2.5, 5} x 10^k (only
 * {1, 2, 5} x 10^k >= 1 when integer_only) giving at most about `target` intervals. Writes
 * up to cap ticks, returns their count and sets *step. */
int lc_chart_nice_ticks(double lo, double hi, int target, int integer_only, double *ticks,
                        int cap, double *step);

/* Major ticks for a log axis over [lo, hi] (lo > 0): decades, every k-th decade when there
 * are many, with 2 and 5 added when the range spans less than about one decade. */
int lc_chart_log_ticks(double lo, double hi, int target, double *ticks, int cap);

/* Tick label text: the fewest decimals that show the step, scientific for huge or tiny. */
void lc_chart_format_tick(double v, double step, char *buf, size_t n);

#endif
