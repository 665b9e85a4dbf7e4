/* Chart layout: where everything goes before anything is drawn. Axis limits from the data,
 * the plot area's margins (title, tick labels, axis labels), how many ticks fit, the
 * legend's size and place (inside where it hides the fewest points, or outside), and the
 * figure's grid of panels. Text is measured with cairo but nothing is drawn here. */
#include "plot/chart_internal.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- axis limits */

/* Data range of one axis over the points whose x and y are both usable. */
static void data_range(const lc_chart_panel *p, int want_x, int xlog, int ylog, double *lo,
                       double *hi, int *all_integer)
{
  *lo = INFINITY;
  *hi = -INFINITY;
  *all_integer = 1;
  for (size_t k = 0; k < p->nseries; k++) {
    const lc_chart_series *s = &p->series[k];
    for (size_t i = 0; i < s->n; i++) {
      double x = series_x(s, i), y = s->y[i];
      if (!isfinite(x) || !isfinite(y) || (xlog && x <= 0) || (ylog && y <= 0)) continue;
      double v = want_x ? x : y;
      if (v < *lo) *lo = v;
      if (v > *hi) *hi = v;
      if (v != floor(v)) *all_integer = 0;
    }
  }
}

static int any_markers(const lc_chart_panel *p)
{
  for (size_t k = 0; k < p->nseries; k++)
    if (p->series[k].marker != LC_CHART_MARKER_NONE || p->series[k].dash == LC_CHART_NOLINE)
      return 1;
  return 0;
}

/* Limits from the data (or the panel's explicit ones), with a margin when margin > 0. */
static void axis_limits(lc_chart_axis *a, double dlo, double dhi, double want_lo, double want_hi,
                        double margin)
{
  if (!(dlo <= dhi)) {   /* no data */
    dlo = a->log ? 1 : 0;
    dhi = a->log ? 10 : 1;
  }
  if (dlo == dhi) {      /* one value: open a window around it */
    if (a->log) { dlo /= 3.1623; dhi *= 3.1623; }
    else if (a->integer) { dlo -= 1; dhi += 1; }
    else if (dlo == 0) { dlo = -1; dhi = 1; }
    else { double d = fabs(dlo) * 0.1; dlo -= d; dhi += d; }
  } else if (margin > 0) {
    if (a->log) {
      double l0 = log10(dlo), l1 = log10(dhi), m = (l1 - l0) * margin;
      dlo = pow(10, l0 - m);
      dhi = pow(10, l1 + m);
    } else {
      double m = (dhi - dlo) * margin;
      dlo -= m;
      dhi += m;
    }
  }
  a->lo = isfinite(want_lo) ? want_lo : dlo;
  a->hi = isfinite(want_hi) ? want_hi : dhi;
  if (!(a->hi > a->lo)) {   /* one explicit limit on the wrong side of the data */
    if (isfinite(want_lo)) a->hi = a->log ? a->lo * 10 : a->lo + 1;
    else a->lo = a->log ? a->hi / 10 : a->hi - 1;
  }
}

/* ---------------------------------------------------------------- legend */

static void legend_measure(cairo_t *cr, const lc_chart_panel *p, double s, double maxw,
                           double max_h, lc_chart_legend_box *lb)
{
  lb->n = 0;
  double namew = 0;
  lc_chart_set_font(cr, 12 * s, 0);
  char buf[256];
  for (size_t k = 0; k < p->nseries; k++) {
    if (!has_text(p->series[k].name)) continue;
    lb->n++;
    const char *name = lc_chart_fit_text(cr, p->series[k].name, maxw, buf, sizeof buf);
    double w = lc_chart_text_width(cr, name);
    if (w > namew) namew = w;
  }
  lb->row = lc_chart_font_height(cr) * 1.25;
  lb->sample = 28 * s;
  lb->colw = lb->sample + 8 * s + namew + 10 * s;
  int fit = (int)((max_h - 14 * s) / lb->row);
  if (fit < 1) fit = 1;
  lb->ncols = lb->n > fit ? (lb->n + fit - 1) / fit : 1;
  lb->per_col = (lb->n + lb->ncols - 1) / (lb->ncols ? lb->ncols : 1);
  if (lb->per_col < 1) lb->per_col = 1;
  lb->w = 10 * s + lb->ncols * lb->colw;
  lb->h = 8 * s + lb->per_col * lb->row + 6 * s;
}

/* Points (in pixels) that the legend should avoid covering: every drawn point, and points
 * along each line segment so that a line crossing a corner counts too. */
static double legend_cost(const lc_chart_frame *f, const lc_chart_panel *p, double x, double y,
                          double w, double h)
{
  double cost = 0, pad = 4;
  for (size_t k = 0; k < p->nseries; k++) {
    const lc_chart_series *s = &p->series[k];
    double px = NAN, py = NAN;
    for (size_t i = 0; i < s->n; i++) {
      double vx = series_x(s, i), vy = s->y[i];
      if (!usable(&f->ax, vx) || !usable(&f->ay, vy)) { px = py = NAN; continue; }
      double qx = map_x(f, vx), qy = map_y(f, vy);
      int steps = (isnan(px) || s->dash == LC_CHART_NOLINE) ? 1 : 16;
      for (int j = 1; j <= steps; j++) {
        double t = (double)j / steps;
        double sx = steps == 1 ? qx : px + (qx - px) * t, sy = steps == 1 ? qy : py + (qy - py) * t;
        if (sx >= x - pad && sx <= x + w + pad && sy >= y - pad && sy <= y + h + pad)
          cost += steps == 1 ? 4 : 1;
      }
      px = qx;
      py = qy;
    }
  }
  return cost;
}

static void legend_place(const lc_chart_frame *f, const lc_chart_panel *p,
                         enum lc_chart_legend where, lc_chart_legend_box *lb)
{
  double in = 8 * f->s;
  double l = f->px + in, r = f->px + f->pw - in - lb->w, cx = f->px + (f->pw - lb->w) / 2;
  double t = f->py + in, b = f->py + f->ph - in - lb->h, cy = f->py + (f->ph - lb->h) / 2;
  /* matplotlib's order of preference for "best" */
  const double cand[8][2] = {{r, t}, {l, t}, {l, b}, {r, b}, {r, cy}, {l, cy}, {cx, b}, {cx, t}};
  int pick = 0;
  switch (where) {
  case LC_CHART_LEGEND_UPPER_RIGHT: pick = 0; break;
  case LC_CHART_LEGEND_UPPER_LEFT: pick = 1; break;
  case LC_CHART_LEGEND_LOWER_LEFT: pick = 2; break;
  case LC_CHART_LEGEND_LOWER_RIGHT: pick = 3; break;
  case LC_CHART_LEGEND_RIGHT: pick = 4; break;
  case LC_CHART_LEGEND_CENTER_LEFT: pick = 5; break;
  case LC_CHART_LEGEND_LOWER_CENTER: pick = 6; break;
  case LC_CHART_LEGEND_UPPER_CENTER: pick = 7; break;
  default: {
    double best = INFINITY;
    for (int i = 0; i < 8; i++) {
      double c = legend_cost(f, p, cand[i][0], cand[i][1], lb->w, lb->h);
      if (c < best - 1e-9) { best = c; pick = i; }
    }
  }
  }
  lb->x = cand[pick][0];
  lb->y = cand[pick][1];
}

/* ---------------------------------------------------------------- one panel */

/* Widest of the axis's tick labels in the current font. */
static double widest_label(cairo_t *cr, const lc_chart_axis *a)
{
  double maxw = 0;
  for (int i = 0; i < a->nticks; i++) {
    double tw = lc_chart_text_width(cr, a->labels[i]);
    if (tw > maxw) maxw = tw;
  }
  return maxw;
}

void lc_chart_layout_panel(cairo_t *cr, const lc_chart_panel *p, double x0, double y0,
                           double w, double h, double s, double legend_x, double legend_namew,
                           lc_chart_panel_layout *L)
{
  memset(L, 0, sizeof *L);
  lc_chart_frame *f = &L->f;
  f->cr = cr;
  f->s = s;
  double pad = L->pad = 12 * s, ticklen = L->ticklen = 5 * s;

  /* axes: kinds and limits */
  f->ax.log = p->xlog;
  f->ay.log = p->ylog;
  f->ax.categorical = p->nxticklabels > 0;
  double dlo, dhi;
  int xint, yint;
  data_range(p, 1, p->xlog, p->ylog, &dlo, &dhi, &xint);
  f->ax.integer = (xint && !p->xlog) || f->ax.categorical;
  if (f->ax.categorical) {
    f->ax.lo = isfinite(p->xmin) ? p->xmin : 0.5;
    f->ax.hi = isfinite(p->xmax) ? p->xmax : p->nxticklabels + 0.5;
  } else {
    axis_limits(&f->ax, dlo, dhi, p->xmin, p->xmax, any_markers(p) ? 0.05 : 0);
  }
  data_range(p, 0, p->xlog, p->ylog, &dlo, &dhi, &yint);
  axis_limits(&f->ay, dlo, dhi, p->ymin, p->ymax, 0.05);

  /* vertical layout: title on top; tick labels and x label below */
  lc_chart_set_font(cr, 12 * s, 0);
  double tick_h = lc_chart_font_height(cr);
  lc_chart_set_font(cr, 13.5 * s, 0);
  double label_h = lc_chart_font_height(cr);
  lc_chart_set_font(cr, 14.5 * s, 1);
  double title_h = lc_chart_font_height(cr);

  double top = y0 + pad + (has_text(p->title) ? title_h + 8 * s : 0);
  double xticks_h = tick_h;
  /* categorical labels that would collide are drawn at an angle */
  if (f->ax.categorical) {
    lc_chart_axis_ticks(&f->ax, 0, p->xticklabels, p->nxticklabels);
    lc_chart_set_font(cr, 12 * s, 0);
    double maxw = widest_label(cr, &f->ax);
    double spacing = (w - 120 * s) / (p->nxticklabels ? p->nxticklabels : 1);
    if (maxw + 8 * s > spacing) {
      L->rotate = 1;
      xticks_h = tick_h + (maxw > 140 * s ? 140 * s : maxw) * 0.6;
    }
  }
  double bottom = y0 + h - pad - (has_text(p->xlabel) ? label_h + 6 * s : 0) - xticks_h -
                  ticklen - 4 * s;
  f->py = top;
  f->ph = bottom - top;
  if (f->ph < 20) f->ph = 20;

  /* y ticks decide how wide the left margin must be */
  int ytarget = (int)(f->ph / (48 * s));
  ytarget = ytarget < 3 ? 3 : ytarget > 10 ? 10 : ytarget;
  lc_chart_axis_ticks(&f->ay, ytarget, NULL, 0);
  lc_chart_set_font(cr, 12 * s, 0);
  double ytick_w = widest_label(cr, &f->ay);
  f->px = x0 + pad + (has_text(p->ylabel) ? label_h + 8 * s : 0) + ytick_w + ticklen + 4 * s;
  double right = x0 + w - pad - 8 * s;

  /* legend inside unless it would hide too much of the plot */
  lc_chart_legend_box *lb = &L->lb;
  L->legend_maxw = legend_x >= 0 && p->legend == LC_CHART_LEGEND_OUTSIDE ? legend_namew
                                                                          : w * 0.45;
  legend_measure(cr, p, s, L->legend_maxw, f->ph, lb);
  int outside = 0;
  if (lb->n > 0 && p->legend != LC_CHART_LEGEND_NONE) {
    double pw = right - f->px;
    if (p->legend == LC_CHART_LEGEND_OUTSIDE && legend_x >= 0) {
      outside = 2;                       /* in the figure's legend column */
    } else if (p->legend == LC_CHART_LEGEND_OUTSIDE ||
        (p->legend == LC_CHART_LEGEND_BEST && (lb->w > 0.42 * pw || lb->h > 0.6 * f->ph))) {
      outside = 1;
      right -= lb->w + 4 * s;
    }
  }
  f->pw = right - f->px;
  if (f->pw < 20) f->pw = 20;

  /* x ticks: as many as fit without their labels touching */
  if (!f->ax.categorical) {
    int xtarget = (int)(f->pw / (60 * s));
    xtarget = xtarget < 2 ? 2 : xtarget > 12 ? 12 : xtarget;
    for (;;) {
      lc_chart_axis_ticks(&f->ax, xtarget, NULL, 0);
      lc_chart_set_font(cr, 12 * s, 0);
      double maxw = widest_label(cr, &f->ax);
      double spacing = f->pw;   /* the closest two labels (log ticks are uneven) */
      for (int i = 1; i < f->ax.nticks; i++) {
        double d = map_x(f, f->ax.ticks[i]) - map_x(f, f->ax.ticks[i - 1]);
        if (d < spacing) spacing = d;
      }
      if (maxw + 10 * s <= spacing || xtarget <= 2) break;
      xtarget--;
    }
  }

  /* the legend's place, now that the plot area and its data are known */
  if (lb->n > 0 && p->legend != LC_CHART_LEGEND_NONE) {
    if (outside) {
      lb->x = outside == 2 ? legend_x : f->px + f->pw + 10 * s;
      lb->y = f->py;
    } else {
      legend_place(f, p, p->legend, lb);
    }
  }
}

/* ---------------------------------------------------------------- figure */

void lc_chart_figure_grid(const lc_chart_figure *fig, int *cols, int *rows, int *width,
                          int *height)
{
  int c = fig->cols ? fig->cols : (int)fig->npanels;
  if ((size_t)c > fig->npanels) c = (int)fig->npanels;
  int r = (int)((fig->npanels + c - 1) / c);
  *cols = c;
  *rows = r;
  *width = fig->width ? fig->width : (c == 1 ? 800 : 520 * c);
  *height = fig->height ? fig->height : (r == 1 ? 500 : 420 * r);
}

double lc_chart_legend_column(cairo_t *cr, const lc_chart_figure *fig, double s, double ch,
                              double namew, int width)
{
  double reserved = 0;
  if (fig->npanels > 1)
    for (size_t i = 0; i < fig->npanels; i++) {
      if (fig->panels[i].legend != LC_CHART_LEGEND_OUTSIDE) continue;
      lc_chart_legend_box lb;
      legend_measure(cr, &fig->panels[i], s, namew, ch - 70 * s, &lb);
      if (lb.n > 0 && lb.w + 16 * s > reserved) reserved = lb.w + 16 * s;
    }
  if (reserved > width * 0.5) reserved = width * 0.5;
  return reserved;
}
