/* Tick choice and tick labels: "nice" linear ticks, decades on log axes, the fewest
 * decimals that show a step, and the ticks and labels of one chart axis. No drawing. */
#include "plot/chart_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void lc_chart_axis_ticks(lc_chart_axis *a, int target, const char *const *catlabels, size_t ncat)
{
  a->nminor = 0;
  if (a->categorical) {
    a->nticks = 0;
    for (size_t i = 0; i < ncat && a->nticks < LC_CHART_MAX_TICKS; i++) {
      a->ticks[a->nticks] = (double)(i + 1);
      snprintf(a->labels[a->nticks], sizeof a->labels[0], "%s", catlabels[i] ? catlabels[i] : "");
      a->nticks++;
    }
    return;
  }
  if (a->log) {
    a->nticks = lc_chart_log_ticks(a->lo, a->hi, target, a->ticks, LC_CHART_MAX_TICKS);
    for (int i = 0; i < a->nticks; i++)
      lc_chart_format_tick(a->ticks[i], a->ticks[i], a->labels[i], sizeof a->labels[0]);
    /* unlabelled minor ticks at 2..9 x 10^k when the majors are plain decades */
    int e0 = (int)floor(log10(a->lo)), e1 = (int)ceil(log10(a->hi));
    if (e1 - e0 <= 8)
      for (int e = e0; e <= e1; e++)
        for (int m = 2; m <= 9; m++) {
          double v = m * pow(10, e);
          if (v > a->lo && v < a->hi && a->nminor < LC_CHART_MAX_MINOR) a->minor[a->nminor++] = v;
        }
    return;
  }
  double step;
  a->nticks = lc_chart_nice_ticks(a->lo, a->hi, target, a->integer, a->ticks,
                                  LC_CHART_MAX_TICKS, &step);
  /* label with the decimals that the step needs, not each value's own */
  for (int i = 0; i < a->nticks; i++)
    lc_chart_format_tick(a->ticks[i], step, a->labels[i], sizeof a->labels[0]);
}

