/* Line charts with cairo: see chart.h. The drawing follows matplotlib's look (white
 * background, light grid, tab10 colours, outward ticks) since d2l's readers know it. */
#define _POSIX_C_SOURCE 200809L
#include "runtime/chart.h"

#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TICKS 64
#define MAX_MINOR 256
#define MAX_PANELS 64
#define FONT "DejaVu Sans"
#define PI 3.14159265358979323846

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

/* ---------------------------------------------------------------- ticks and labels */

int lc_chart_nice_ticks(double lo, double hi, int target, int integer_only, double *ticks,
                        int cap, double *step)
{
  static const double mult[] = {1, 2, 2.5, 5, 10};
  if (!(hi > lo) || !isfinite(lo) || !isfinite(hi) || cap <= 0) {
    if (step) *step = 1;
    return 0;
  }
  if (target < 1) target = 1;
  double raw = (hi - lo) / target;
  double mag = pow(10, floor(log10(raw)));
  double st = 10 * mag;
  for (size_t i = 0; i < sizeof mult / sizeof mult[0]; i++) {
    double c = mult[i] * mag;
    if (integer_only && (mult[i] == 2.5 && mag < 10)) continue;   /* 2.5 is not an integer */
    if (c >= raw * (1 - 1e-9)) { st = c; break; }
  }
  if (integer_only && st < 1) st = 1;
  double first = ceil(lo / st - 1e-9);
  int n = 0;
  for (double k = first; n < cap; k += 1) {
    double v = k * st;
    if (v > hi + st * 1e-9) break;
    ticks[n++] = fabs(v) < st * 1e-9 ? 0 : v;   /* no "-0" */
  }
  if (step) *step = st;
  return n;
}

static int log_candidates(double lo, double hi, const double *mults, int nm, double *ticks,
                          int cap)
{
  int n = 0;
  int e0 = (int)floor(log10(lo)) - 1, e1 = (int)ceil(log10(hi)) + 1;
  for (int e = e0; e <= e1; e++)
    for (int i = 0; i < nm; i++) {
      double v = mults[i] * pow(10, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) && n < cap) ticks[n++] = v;
    }
  return n;
}

int lc_chart_log_ticks(double lo, double hi, int target, double *ticks, int cap)
{
  static const double m1[] = {1}, m125[] = {1, 2, 5}, m1235[] = {1, 2, 3, 5},
                      m19[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  if (!(lo > 0) || !(hi > lo) || !isfinite(hi) || cap <= 0) return 0;
  if (target < 2) target = 2;
  int e0 = (int)ceil(log10(lo) - 1e-9), e1 = (int)floor(log10(hi) + 1e-9);
  int ndec = e1 - e0 + 1;
  if (ndec >= 3) {
    int k = (ndec + target - 1) / target;   /* every k-th decade */
    int n = 0;
    int start = (int)(ceil((double)e0 / k) * k);
    for (int e = start; e <= e1 && n < cap; e += k) ticks[n++] = pow(10, e);
    return n;
  }
  const double *levels[] = {m1, m125, m1235, m19};
  const int sizes[] = {1, 3, 4, 9};
  int n = 0;
  for (int l = 0; l < 4; l++) {
    n = log_candidates(lo, hi, levels[l], sizes[l], ticks, cap);
    if (n >= 3) {
      if (n <= target + 1 || l == 0) return n;
      /* too many at this level: take the previous, sparser one if it had two or more */
      if (l > 0) {
        int m = log_candidates(lo, hi, levels[l - 1], sizes[l - 1], ticks, cap);
        if (m >= 2) return m;
        return log_candidates(lo, hi, levels[l], sizes[l], ticks, cap);
      }
    }
  }
  return n;
}

/* Decimals needed to write multiples of step exactly (0.25 -> 2, 5 -> 0). */
static int decimals_for(double step)
{
  step = fabs(step);
  if (step == 0 || !isfinite(step)) return 0;
  for (int d = 0; d <= 8; d++) {
    double s = step * pow(10, d);
    if (fabs(s - nearbyint(s)) <= 1e-6 * (s > 1 ? s : 1)) return d;
  }
  return 8;
}

void lc_chart_format_tick(double v, double step, char *buf, size_t n)
{
  double a = fabs(v);
  if (a < fabs(step) * 1e-9 || a == 0) { snprintf(buf, n, "0"); return; }
  if (a >= 1e6 || a < 1e-4) {
    /* scientific, tidied: 1.5e+06 -> 1.5e6, 1e-05 -> 1e-5 */
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.3g", v);
    char *e = strchr(tmp, 'e');
    if (e) {
      char mant[32];
      size_t ml = (size_t)(e - tmp);
      if (ml >= sizeof mant) ml = sizeof mant - 1;
      memcpy(mant, tmp, ml);
      mant[ml] = 0;
      int ex = atoi(e + 1);
      snprintf(buf, n, "%se%d", mant, ex);
    } else {
      snprintf(buf, n, "%s", tmp);
    }
    return;
  }
  snprintf(buf, n, "%.*f", decimals_for(step), v);
}

/* ---------------------------------------------------------------- drawing helpers */

typedef struct {
  double lo, hi;
  int log, integer, categorical;
  double ticks[MAX_TICKS];
  char labels[MAX_TICKS][40];
  int nticks;
  double minor[MAX_MINOR];
  int nminor;
} axis;

typedef struct {
  cairo_t *cr;
  double s;                       /* font and line scale */
  double px, py, pw, ph;          /* plot area */
  axis ax, ay;
} frame;

static void set_rgb(cairo_t *cr, long rgb, double alpha)
{
  cairo_set_source_rgba(cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0,
                        (rgb & 255) / 255.0, alpha);
}

static void set_font(cairo_t *cr, double size, int bold)
{
  cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

static double text_width(cairo_t *cr, const char *s)
{
  cairo_text_extents_t te;
  cairo_text_extents(cr, s, &te);
  return te.x_advance;
}

static double font_height(cairo_t *cr)
{
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  return fe.ascent + fe.descent;
}

/* Draw s with its box anchored at (x, y): ax 0/0.5/1 = left/centre/right, ay 0/0.5/1 =
 * top/middle/bottom of the font's box. */
static void text_at(cairo_t *cr, const char *s, double x, double y, double ax, double ay)
{
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  double w = text_width(cr, s), h = fe.ascent + fe.descent;
  cairo_move_to(cr, x - ax * w, y - ay * h + fe.ascent);
  cairo_show_text(cr, s);
}

/* Copy s into buf, cut (at a UTF-8 character boundary) with "..." to fit maxw pixels. */
static const char *fit_text(cairo_t *cr, const char *s, double maxw, char *buf, size_t n)
{
  if (!s) return "";
  if (text_width(cr, s) <= maxw) return s;
  size_t len = strlen(s);
  if (len + 4 > n) len = n - 4;
  while (len > 0) {
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) len--;   /* char boundary */
    memcpy(buf, s, len);
    memcpy(buf + len, "...", 4);
    if (text_width(cr, buf) <= maxw) return buf;
    len--;
  }
  return "...";
}

static int has_text(const char *s) { return s && s[0]; }

static double map_t(const axis *a, double v)
{
  if (a->log) return (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
  return (v - a->lo) / (a->hi - a->lo);
}

static double map_x(const frame *f, double v) { return f->px + map_t(&f->ax, v) * f->pw; }
static double map_y(const frame *f, double v) { return f->py + f->ph - map_t(&f->ay, v) * f->ph; }

static double series_x(const lc_chart_series *s, size_t i)
{
  return s->x ? s->x[i] : (double)(i + 1);
}

static int usable(const axis *a, double v) { return isfinite(v) && (!a->log || v > 0); }

/* ---------------------------------------------------------------- axis limits and ticks */

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
static void axis_limits(axis *a, double dlo, double dhi, double want_lo, double want_hi,
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

static void axis_ticks(axis *a, int target, const char *const *catlabels, size_t ncat)
{
  a->nminor = 0;
  if (a->categorical) {
    a->nticks = 0;
    for (size_t i = 0; i < ncat && a->nticks < MAX_TICKS; i++) {
      a->ticks[a->nticks] = (double)(i + 1);
      snprintf(a->labels[a->nticks], sizeof a->labels[0], "%s", catlabels[i] ? catlabels[i] : "");
      a->nticks++;
    }
    return;
  }
  if (a->log) {
    a->nticks = lc_chart_log_ticks(a->lo, a->hi, target, a->ticks, MAX_TICKS);
    for (int i = 0; i < a->nticks; i++)
      lc_chart_format_tick(a->ticks[i], a->ticks[i], a->labels[i], sizeof a->labels[0]);
    /* unlabelled minor ticks at 2..9 x 10^k when the majors are plain decades */
    int e0 = (int)floor(log10(a->lo)), e1 = (int)ceil(log10(a->hi));
    if (e1 - e0 <= 8)
      for (int e = e0; e <= e1; e++)
        for (int m = 2; m <= 9; m++) {
          double v = m * pow(10, e);
          if (v > a->lo && v < a->hi && a->nminor < MAX_MINOR) a->minor[a->nminor++] = v;
        }
    return;
  }
  double step;
  a->nticks = lc_chart_nice_ticks(a->lo, a->hi, target, a->integer, a->ticks, MAX_TICKS, &step);
  /* label with the decimals that the step needs, not each value's own */
  for (int i = 0; i < a->nticks; i++)
    lc_chart_format_tick(a->ticks[i], step, a->labels[i], sizeof a->labels[0]);
}

/* ---------------------------------------------------------------- legend */

typedef struct {
  int n, ncols, per_col;
  double w, h, row, sample, colw;
  double x, y;     /* placed top-left corner */
} legend_box;

/* Size of the legend: one column, or as many as needed to fit max_h pixels of height. */
static void legend_measure(cairo_t *cr, const lc_chart_panel *p, double s, double maxw,
                           double max_h, legend_box *lb)
{
  lb->n = 0;
  double namew = 0;
  set_font(cr, 12 * s, 0);
  char buf[256];
  for (size_t k = 0; k < p->nseries; k++) {
    if (!has_text(p->series[k].name)) continue;
    lb->n++;
    double w = text_width(cr, fit_text(cr, p->series[k].name, maxw, buf, sizeof buf));
    if (w > namew) namew = w;
  }
  lb->row = font_height(cr) * 1.25;
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
static double legend_cost(const frame *f, const lc_chart_panel *p, double x, double y, double w,
                          double h)
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

static void legend_place(const frame *f, const lc_chart_panel *p, enum lc_chart_legend where,
                         legend_box *lb)
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

static void draw_series(const frame *f, const lc_chart_series *s, style st)
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

static void draw_legend(const frame *f, const lc_chart_panel *p, const legend_box *lb,
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

  set_font(cr, 12 * s, 0);
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
    text_at(cr, fit_text(cr, se->name, maxw, buf, sizeof buf), sx + lb->sample + 8 * s, cy, 0, 0.5);
    row++;
  }
}

/* ---------------------------------------------------------------- one panel */

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

/* legend_x >= 0: this panel's "outside" legend goes at that x (a column the figure kept
 * free for it), so that all panels keep the same size. */
static void draw_panel(cairo_t *cr, const lc_chart_panel *p, double x0, double y0, double w,
                       double h, double s, double legend_x, double legend_namew)
{
  frame f;
  memset(&f, 0, sizeof f);
  f.cr = cr;
  f.s = s;
  double pad = 12 * s, ticklen = 5 * s;

  /* axes: kinds and limits */
  f.ax.log = p->xlog;
  f.ay.log = p->ylog;
  f.ax.categorical = p->nxticklabels > 0;
  double dlo, dhi;
  int xint, yint;
  data_range(p, 1, p->xlog, p->ylog, &dlo, &dhi, &xint);
  f.ax.integer = (xint && !p->xlog) || f.ax.categorical;
  if (f.ax.categorical) {
    f.ax.lo = isfinite(p->xmin) ? p->xmin : 0.5;
    f.ax.hi = isfinite(p->xmax) ? p->xmax : p->nxticklabels + 0.5;
  } else {
    axis_limits(&f.ax, dlo, dhi, p->xmin, p->xmax, any_markers(p) ? 0.05 : 0);
  }
  data_range(p, 0, p->xlog, p->ylog, &dlo, &dhi, &yint);
  axis_limits(&f.ay, dlo, dhi, p->ymin, p->ymax, 0.05);

  /* vertical layout: title on top; tick labels and x label below */
  set_font(cr, 12 * s, 0);
  double tick_h = font_height(cr);
  set_font(cr, 13.5 * s, 0);
  double label_h = font_height(cr);
  set_font(cr, 14.5 * s, 1);
  double title_h = font_height(cr);

  double top = y0 + pad + (has_text(p->title) ? title_h + 8 * s : 0);
  double xticks_h = tick_h;
  /* categorical labels that would collide are drawn at an angle */
  int rotate = 0;
  if (f.ax.categorical) {
    axis_ticks(&f.ax, 0, p->xticklabels, p->nxticklabels);
    set_font(cr, 12 * s, 0);
    double maxw = 0;
    for (int i = 0; i < f.ax.nticks; i++) {
      double tw = text_width(cr, f.ax.labels[i]);
      if (tw > maxw) maxw = tw;
    }
    double spacing = (w - 120 * s) / (p->nxticklabels ? p->nxticklabels : 1);
    if (maxw + 8 * s > spacing) {
      rotate = 1;
      xticks_h = tick_h + (maxw > 140 * s ? 140 * s : maxw) * 0.6;
    }
  }
  double bottom = y0 + h - pad - (has_text(p->xlabel) ? label_h + 6 * s : 0) - xticks_h -
                  ticklen - 4 * s;
  f.py = top;
  f.ph = bottom - top;
  if (f.ph < 20) f.ph = 20;

  /* y ticks decide how wide the left margin must be */
  int ytarget = (int)(f.ph / (48 * s));
  ytarget = ytarget < 3 ? 3 : ytarget > 10 ? 10 : ytarget;
  axis_ticks(&f.ay, ytarget, NULL, 0);
  set_font(cr, 12 * s, 0);
  double ytick_w = 0;
  for (int i = 0; i < f.ay.nticks; i++) {
    double tw = text_width(cr, f.ay.labels[i]);
    if (tw > ytick_w) ytick_w = tw;
  }
  f.px = x0 + pad + (has_text(p->ylabel) ? label_h + 8 * s : 0) + ytick_w + ticklen + 4 * s;
  double right = x0 + w - pad - 8 * s;

  /* legend inside unless it would hide too much of the plot */
  legend_box lb;
  double legend_maxw = legend_x >= 0 && p->legend == LC_CHART_LEGEND_OUTSIDE ? legend_namew : w * 0.45;
  legend_measure(cr, p, s, legend_maxw, f.ph, &lb);
  int outside = 0;
  if (lb.n > 0 && p->legend != LC_CHART_LEGEND_NONE) {
    double pw = right - f.px;
    if (p->legend == LC_CHART_LEGEND_OUTSIDE && legend_x >= 0) {
      outside = 2;                       /* in the figure's legend column */
    } else if (p->legend == LC_CHART_LEGEND_OUTSIDE ||
        (p->legend == LC_CHART_LEGEND_BEST && (lb.w > 0.42 * pw || lb.h > 0.6 * f.ph))) {
      outside = 1;
      right -= lb.w + 4 * s;
    }
  }
  f.pw = right - f.px;
  if (f.pw < 20) f.pw = 20;

  /* x ticks: as many as fit without their labels touching */
  if (!f.ax.categorical) {
    int xtarget = (int)(f.pw / (60 * s));
    xtarget = xtarget < 2 ? 2 : xtarget > 12 ? 12 : xtarget;
    for (;;) {
      axis_ticks(&f.ax, xtarget, NULL, 0);
      set_font(cr, 12 * s, 0);
      double maxw = 0;
      for (int i = 0; i < f.ax.nticks; i++) {
        double tw = text_width(cr, f.ax.labels[i]);
        if (tw > maxw) maxw = tw;
      }
      double spacing = f.pw;   /* the closest two labels (log ticks are uneven) */
      for (int i = 1; i < f.ax.nticks; i++) {
        double d = map_x(&f, f.ax.ticks[i]) - map_x(&f, f.ax.ticks[i - 1]);
        if (d < spacing) spacing = d;
      }
      if (maxw + 10 * s <= spacing || xtarget <= 2) break;
      xtarget--;
    }
  }

  /* background grid */
  cairo_set_line_width(cr, 1);
  if (!p->no_grid) {
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    for (int i = 0; i < f.ax.nticks; i++) {
      double gx = floor(map_x(&f, f.ax.ticks[i])) + 0.5;
      cairo_move_to(cr, gx, f.py);
      cairo_line_to(cr, gx, f.py + f.ph);
    }
    for (int i = 0; i < f.ay.nticks; i++) {
      double gy = floor(map_y(&f, f.ay.ticks[i])) + 0.5;
      cairo_move_to(cr, f.px, gy);
      cairo_line_to(cr, f.px + f.pw, gy);
    }
    cairo_stroke(cr);
  }

  /* the data, clipped to the plot area */
  cairo_save(cr);
  cairo_rectangle(cr, f.px, f.py, f.pw, f.ph);
  cairo_clip(cr);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
  int auto_k = 0;
  for (size_t k = 0; k < p->nseries; k++) {
    style st = series_style(&p->series[k], &auto_k, s);
    if (p->series[k].dash == LC_CHART_DOTTED) cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    draw_series(&f, &p->series[k], st);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
  }
  cairo_restore(cr);

  /* frame and ticks */
  cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, floor(f.px) + 0.5, floor(f.py) + 0.5, floor(f.pw), floor(f.ph));
  cairo_stroke(cr);
  double fx = floor(f.px) + 0.5, fy = floor(f.py + f.ph) + 0.5;
  for (int i = 0; i < f.ax.nticks; i++) {
    double gx = floor(map_x(&f, f.ax.ticks[i])) + 0.5;
    cairo_move_to(cr, gx, fy);
    cairo_line_to(cr, gx, fy + ticklen);
  }
  for (int i = 0; i < f.ay.nticks; i++) {
    double gy = floor(map_y(&f, f.ay.ticks[i])) + 0.5;
    cairo_move_to(cr, fx, gy);
    cairo_line_to(cr, fx - ticklen, gy);
  }
  for (int i = 0; i < f.ax.nminor; i++) {
    double gx = floor(map_x(&f, f.ax.minor[i])) + 0.5;
    cairo_move_to(cr, gx, fy);
    cairo_line_to(cr, gx, fy + ticklen * 0.55);
  }
  for (int i = 0; i < f.ay.nminor; i++) {
    double gy = floor(map_y(&f, f.ay.minor[i])) + 0.5;
    cairo_move_to(cr, fx, gy);
    cairo_line_to(cr, fx - ticklen * 0.55, gy);
  }
  cairo_stroke(cr);

  /* tick labels */
  set_font(cr, 12 * s, 0);
  cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
  char buf[256];
  for (int i = 0; i < f.ax.nticks; i++) {
    double gx = map_x(&f, f.ax.ticks[i]), gy = fy + ticklen + 3 * s;
    if (rotate) {
      cairo_save(cr);
      cairo_translate(cr, gx, gy);
      cairo_rotate(cr, -PI / 6);
      text_at(cr, fit_text(cr, f.ax.labels[i], 140 * s, buf, sizeof buf), 0, 0, 1, 0.2);
      cairo_restore(cr);
    } else {
      text_at(cr, f.ax.labels[i], gx, gy, 0.5, 0);
    }
  }
  for (int i = 0; i < f.ay.nticks; i++)
    text_at(cr, f.ay.labels[i], fx - ticklen - 4 * s, map_y(&f, f.ay.ticks[i]), 1, 0.5);

  /* axis labels and title */
  set_font(cr, 13.5 * s, 0);
  cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
  if (has_text(p->xlabel))
    text_at(cr, fit_text(cr, p->xlabel, f.pw + 40 * s, buf, sizeof buf), f.px + f.pw / 2,
            y0 + h - pad, 0.5, 1);
  if (has_text(p->ylabel)) {
    cairo_save(cr);
    cairo_translate(cr, x0 + pad, f.py + f.ph / 2);
    cairo_rotate(cr, -PI / 2);
    text_at(cr, fit_text(cr, p->ylabel, f.ph + 20 * s, buf, sizeof buf), 0, 0, 0.5, 0);
    cairo_restore(cr);
  }
  if (has_text(p->title)) {
    set_font(cr, 14.5 * s, 1);
    text_at(cr, fit_text(cr, p->title, w - 2 * pad, buf, sizeof buf), f.px + f.pw / 2,
            y0 + pad, 0.5, 0);
  }

  /* legend */
  if (lb.n > 0 && p->legend != LC_CHART_LEGEND_NONE) {
    if (outside) {
      lb.x = outside == 2 ? legend_x : f.px + f.pw + 10 * s;
      lb.y = f.py;
    } else {
      legend_place(&f, p, p->legend, &lb);
    }
    draw_legend(&f, p, &lb, legend_maxw);
  }
}

/* ---------------------------------------------------------------- figure and PNG */

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

  int cols = fig->cols ? fig->cols : (int)fig->npanels;
  if ((size_t)cols > fig->npanels) cols = (int)fig->npanels;
  int rows = (int)((fig->npanels + cols - 1) / cols);
  int width = fig->width ? fig->width : (cols == 1 ? 800 : 520 * cols);
  int height = fig->height ? fig->height : (rows == 1 ? 500 : 420 * rows);
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
    set_font(cr, 17 * s, 1);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text_at(cr, fit_text(cr, fig->title, width - 24 * s, buf, sizeof buf), width / 2.0, 10 * s,
            0.5, 0);
    top = 10 * s + font_height(cr) + 2 * s;
  }
  double ch = (height - top) / rows;
  /* with several panels, "outside" legends get a column at the right of the figure */
  double reserved = 0, namew = 320 * s;
  if (fig->npanels > 1)
    for (size_t i = 0; i < fig->npanels; i++) {
      if (fig->panels[i].legend != LC_CHART_LEGEND_OUTSIDE) continue;
      legend_box lb;
      legend_measure(cr, &fig->panels[i], s, namew, ch - 70 * s, &lb);
      if (lb.n > 0 && lb.w + 16 * s > reserved) reserved = lb.w + 16 * s;
    }
  if (reserved > width * 0.5) reserved = width * 0.5;
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
  membuf b = {NULL, 0, 0};
  st = cairo_surface_write_to_png_stream(surf, append_png, &b);
  cairo_surface_destroy(surf);
  if (st != CAIRO_STATUS_SUCCESS) {
    free(b.data);
    return fail(err, errlen, "chart: PNG encoding failed: %s", cairo_status_to_string(st));
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

  size_t n = strlen(path) + 32;
  char *tmp = malloc(n);
  if (!tmp) {
    lc_chart_png_free(&png);
    return fail(err, errlen, "chart: out of memory");
  }
  snprintf(tmp, n, "%s.tmp-%ld", path, (long)getpid());
  FILE *fp = fopen(tmp, "wb");
  int ok = fp != NULL;
  int saved = errno;
  if (ok) {
    ok = fwrite(png.data, 1, png.size, fp) == png.size && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    saved = errno;
    ok = (fclose(fp) == 0) && ok;
  }
  if (ok && rename(tmp, path) != 0) {
    ok = 0;
    saved = errno;
  }
  if (!ok) {
    remove(tmp);
    fail(err, errlen, "chart: cannot write %s: %s", path, strerror(saved));
  }
  free(tmp);
  lc_chart_png_free(&png);
  return ok ? 0 : -1;
}
