/* Text on a chart: choosing the font, measuring text, cutting it to a width and writing it
 * anchored at a point. Every label, title and legend entry goes through here. */
#include "plot/chart_internal.h"

#include <string.h>

#define FONT "DejaVu Sans"

void lc_chart_set_font(cairo_t *cr, double size, int bold)
{
  cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

double lc_chart_text_width(cairo_t *cr, const char *s)
{
  cairo_text_extents_t te;
  cairo_text_extents(cr, s, &te);
  return te.x_advance;
}

double lc_chart_font_height(cairo_t *cr)
{
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  return fe.ascent + fe.descent;
}

/* Draw s with its box anchored at (x, y): ax 0/0.5/1 = left/centre/right, ay 0/0.5/1 =
 * top/middle/bottom of the font's box. */
void lc_chart_text_at(cairo_t *cr, const char *s, double x, double y, double ax, double ay)
{
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  double w = lc_chart_text_width(cr, s), h = fe.ascent + fe.descent;
  cairo_move_to(cr, x - ax * w, y - ay * h + fe.ascent);
  cairo_show_text(cr, s);
}

/* Copy s into buf, cut (at a UTF-8 character boundary) with "..." to fit maxw pixels. */
const char *lc_chart_fit_text(cairo_t *cr, const char *s, double maxw, char *buf, size_t n)
{
  if (!s) return "";
  if (lc_chart_text_width(cr, s) <= maxw) return s;
  size_t len = strlen(s);
  if (len + 4 > n) len = n - 4;
  while (len > 0) {
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) len--;   /* char boundary */
    memcpy(buf, s, len);
    memcpy(buf + len, "...", 4);
    if (lc_chart_text_width(cr, buf) <= maxw) return buf;
    len--;
  }
  return "...";
}
