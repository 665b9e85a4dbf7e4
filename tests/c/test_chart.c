/* plot/chart: tick choice, tick labels, PNG rendering (decoded back and inspected),
 * atomic file writes, legend placement and the errors for bad figures. */
#define _POSIX_C_SOURCE 200809L
#include "plot/chart.h"

#include <cairo.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures, checks;

#define CHECK(cond, ...)                                                   \
  do {                                                                     \
    checks++;                                                              \
    if (!(cond)) {                                                         \
      failures++;                                                          \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
      fprintf(stderr, __VA_ARGS__);                                        \
      fputc('\n', stderr);                                                 \
    }                                                                      \
  } while (0)

static int near(double a, double b) { return fabs(a - b) <= 1e-9 * (fabs(b) > 1 ? fabs(b) : 1); }

static void test_nice_ticks(void)
{
  double t[64], step;
  int n = lc_chart_nice_ticks(0, 1, 5, 0, t, 64, &step);
  CHECK(n == 6 && near(step, 0.2) && near(t[0], 0) && near(t[5], 1), "n=%d step=%g", n, step);

  n = lc_chart_nice_ticks(0.8, 0.83, 6, 0, t, 64, &step);
  CHECK(near(step, 0.005) && n == 7 && near(t[0], 0.8) && near(t[6], 0.83), "n=%d step=%g", n, step);

  n = lc_chart_nice_ticks(0, 100, 4, 0, t, 64, &step);
  CHECK(near(step, 25) && n == 5, "n=%d step=%g", n, step);

  /* epochs: integer ticks only, never 2.5 */
  n = lc_chart_nice_ticks(1, 10, 4, 1, t, 64, &step);
  CHECK(near(step, 5) || near(step, 2) || near(step, 3), "step=%g", step);
  for (int i = 0; i < n; i++) CHECK(t[i] == floor(t[i]), "tick %g is not an integer", t[i]);
  n = lc_chart_nice_ticks(1, 3, 10, 1, t, 64, &step);
  CHECK(near(step, 1) && n == 3, "n=%d step=%g", n, step);

  /* negative ranges and no "-0" */
  n = lc_chart_nice_ticks(-1, 1, 4, 0, t, 64, &step);
  CHECK(n == 5 && t[2] == 0 && !signbit(t[2]), "n=%d t[2]=%g", n, t[2]);

  /* every tick within range, strictly increasing, spaced by step */
  n = lc_chart_nice_ticks(0.123, 98.7, 7, 0, t, 64, &step);
  CHECK(n >= 4 && n <= 9, "n=%d", n);
  for (int i = 0; i < n; i++) CHECK(t[i] >= 0.123 && t[i] <= 98.7, "tick %g outside", t[i]);
  for (int i = 1; i < n; i++) CHECK(near(t[i] - t[i - 1], step), "uneven spacing");

  CHECK(lc_chart_nice_ticks(1, 1, 5, 0, t, 64, &step) == 0, "empty range gives no ticks");
  CHECK(lc_chart_nice_ticks(NAN, 1, 5, 0, t, 64, &step) == 0, "NaN gives no ticks");
  CHECK(lc_chart_nice_ticks(0, 1e6, 1000000, 0, t, 64, &step) <= 64, "cap respected");
}

static void test_log_ticks(void)
{
  double t[64];
  int n = lc_chart_log_ticks(1e-5, 1, 6, t, 64);
  CHECK(n == 6 && near(t[0], 1e-5) && near(t[5], 1), "n=%d", n);

  /* less than a decade: 1, 2, 5 multiples (lr = 0.05 .. 0.8) */
  n = lc_chart_log_ticks(0.05, 0.8, 6, t, 64);
  CHECK(n == 4 && near(t[0], 0.05) && near(t[1], 0.1) && near(t[2], 0.2) && near(t[3], 0.5),
        "n=%d %g %g %g", n, t[0], t[1], t[2]);

  /* many decades: every k-th one, few enough labels */
  n = lc_chart_log_ticks(1e-12, 1e12, 6, t, 64);
  CHECK(n >= 3 && n <= 7, "n=%d", n);
  for (int i = 1; i < n; i++) CHECK(t[i] > t[i - 1], "not increasing");

  CHECK(lc_chart_log_ticks(0, 1, 6, t, 64) == 0, "non-positive range gives no ticks");
}

static void test_format(void)
{
  char b[64];
  lc_chart_format_tick(0.805, 0.005, b, sizeof b);
  CHECK(strcmp(b, "0.805") == 0, "got %s", b);
  lc_chart_format_tick(0.8, 0.005, b, sizeof b);
  CHECK(strcmp(b, "0.800") == 0, "got %s", b);
  lc_chart_format_tick(2, 0.5, b, sizeof b);
  CHECK(strcmp(b, "2.0") == 0, "got %s", b);
  lc_chart_format_tick(7.5, 2.5, b, sizeof b);
  CHECK(strcmp(b, "7.5") == 0, "got %s", b);
  lc_chart_format_tick(12000, 2000, b, sizeof b);
  CHECK(strcmp(b, "12000") == 0, "got %s", b);
  lc_chart_format_tick(-0.0, 0.1, b, sizeof b);
  CHECK(strcmp(b, "0") == 0, "got %s", b);
  lc_chart_format_tick(1e-17, 0.1, b, sizeof b);   /* rounding noise at zero */
  CHECK(strcmp(b, "0") == 0, "got %s", b);
  lc_chart_format_tick(2e6, 1e6, b, sizeof b);
  CHECK(strcmp(b, "2e6") == 0, "got %s", b);
  lc_chart_format_tick(2.5e-5, 1e-5, b, sizeof b);
  CHECK(strcmp(b, "2.5e-5") == 0, "got %s", b);
  lc_chart_format_tick(0.001, 0.001, b, sizeof b);
  CHECK(strcmp(b, "0.001") == 0, "got %s", b);
}

/* ------------------------------------------------------------ rendering */

typedef struct {
  const unsigned char *data;
  size_t size, pos;
} reader;

static cairo_status_t read_png(void *closure, unsigned char *data, unsigned int len)
{
  reader *r = closure;
  if (r->pos + len > r->size) return CAIRO_STATUS_READ_ERROR;
  memcpy(data, r->data + r->pos, len);
  r->pos += len;
  return CAIRO_STATUS_SUCCESS;
}

static cairo_surface_t *decode(const lc_chart_png *png)
{
  reader r = {png->data, png->size, 0};
  return cairo_image_surface_create_from_png_stream(read_png, &r);
}

static unsigned pixel(cairo_surface_t *s, int x, int y)
{
  unsigned char *d = cairo_image_surface_get_data(s);
  int stride = cairo_image_surface_get_stride(s);
  uint32_t v;
  memcpy(&v, d + (size_t)y * stride + 4 * (size_t)x, 4);
  return v & 0xFFFFFF;
}

/* Pixels within tol (per channel) of rgb, in the rectangle [x0, x1) x [y0, y1). */
static int count_color(cairo_surface_t *s, unsigned rgb, int tol, int x0, int y0, int x1, int y1)
{
  int n = 0;
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++) {
      unsigned p = pixel(s, x, y);
      int dr = (int)((p >> 16) & 255) - (int)((rgb >> 16) & 255);
      int dg = (int)((p >> 8) & 255) - (int)((rgb >> 8) & 255);
      int db = (int)(p & 255) - (int)(rgb & 255);
      if (abs(dr) <= tol && abs(dg) <= tol && abs(db) <= tol) n++;
    }
  return n;
}

#define NPTS 20

static void test_render(void)
{
  double x[NPTS], loss[NPTS], acc[NPTS];
  for (int i = 0; i < NPTS; i++) {
    x[i] = i + 1;
    loss[i] = 2.3 * exp(-i / 4.0) + 0.3;
    acc[i] = 0.9 - 0.6 * exp(-i / 4.0);
  }
  acc[7] = NAN;   /* a gap */
  lc_chart_series s[2];
  lc_chart_series_init(&s[0]);
  lc_chart_series_init(&s[1]);
  s[0].name = "train loss"; s[0].x = x; s[0].y = loss; s[0].n = NPTS;
  s[1].name = "test acc"; s[1].x = x; s[1].y = acc; s[1].n = NPTS;
  s[1].color = 0xd62728; s[1].dash = LC_CHART_DASHED;
  lc_chart_panel p;
  lc_chart_panel_init(&p);
  p.title = "LeNet"; p.xlabel = "epoch"; p.ylabel = "value";
  p.series = s; p.nseries = 2;
  lc_chart_figure f;
  lc_chart_figure_init(&f);
  f.panels = &p; f.npanels = 1;

  lc_chart_png png;
  char err[256] = "";
  CHECK(lc_chart_render_png(&f, &png, err, sizeof err) == 0, "render failed: %s", err);
  CHECK(png.size > 1000 && memcmp(png.data, "\x89PNG\r\n\x1a\n", 8) == 0, "not a PNG (%zu bytes)",
        png.size);
  cairo_surface_t *img = decode(&png);
  CHECK(cairo_surface_status(img) == CAIRO_STATUS_SUCCESS, "PNG does not decode");
  int w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
  CHECK(w == 800 && h == 500, "size %dx%d", w, h);
  CHECK(pixel(img, 0, 0) == 0xFFFFFF && pixel(img, w - 1, h - 1) == 0xFFFFFF, "background not white");
  /* both series are drawn in their colours: the first gets palette colour 0 */
  int blue = count_color(img, (unsigned)lc_chart_palette(0), 10, 0, 0, w, h);
  int red = count_color(img, 0xd62728, 10, 0, 0, w, h);
  CHECK(blue > 300, "first series barely drawn: %d pixels", blue);
  CHECK(red > 150, "second series barely drawn: %d pixels", red);
  /* text is drawn (dark pixels outside the plot: title, tick labels, axis labels) */
  int dark_top = count_color(img, 0x1a1a1a, 40, 0, 0, w, 40);
  int dark_left = count_color(img, 0x262626, 50, 0, 0, 60, h);
  CHECK(dark_top > 30, "no title: %d dark pixels", dark_top);
  CHECK(dark_left > 100, "no y tick labels or label: %d dark pixels", dark_left);
  cairo_surface_destroy(img);
  lc_chart_png_free(&png);

  /* same chart twice: same bytes (nothing random in the drawing) */
  lc_chart_png a, b;
  CHECK(lc_chart_render_png(&f, &a, err, sizeof err) == 0 && lc_chart_render_png(&f, &b, err, sizeof err) == 0,
        "render failed: %s", err);
  CHECK(a.size == b.size && memcmp(a.data, b.data, a.size) == 0, "rendering is not deterministic");
  lc_chart_png_free(&a);
  lc_chart_png_free(&b);

  /* odd data must not crash or fail: all NaN, one point, huge and infinite values */
  double nan3[3] = {NAN, NAN, NAN}, one[1] = {0.5}, huge[3] = {1e300, -1e300, INFINITY};
  const double *ys[3] = {nan3, one, huge};
  size_t ns[3] = {3, 1, 3};
  for (int k = 0; k < 3; k++) {
    lc_chart_series so;
    lc_chart_series_init(&so);
    so.name = "odd"; so.y = ys[k]; so.n = ns[k];
    lc_chart_panel po;
    lc_chart_panel_init(&po);
    po.series = &so; po.nseries = 1; po.ylog = k == 1;
    lc_chart_figure fo;
    lc_chart_figure_init(&fo);
    fo.panels = &po; fo.npanels = 1; fo.width = 300; fo.height = 200;
    CHECK(lc_chart_render_png(&fo, &png, err, sizeof err) == 0, "odd data %d failed: %s", k, err);
    lc_chart_png_free(&png);
  }

  /* log x axis, categorical axis, several panels with an outside legend */
  lc_chart_panel pl = p;
  pl.xlog = 1;
  const char *cats[3] = {"sgd", "adam", "adamw"};
  double cy[3] = {0.8, 0.85, 0.84};
  lc_chart_series sc;
  lc_chart_series_init(&sc);
  sc.name = "test acc"; sc.y = cy; sc.n = 3; sc.marker = LC_CHART_MARKER_CIRCLE;
  lc_chart_panel pc;
  lc_chart_panel_init(&pc);
  pc.series = &sc; pc.nseries = 1; pc.xticklabels = cats; pc.nxticklabels = 3;
  pc.legend = LC_CHART_LEGEND_OUTSIDE;
  lc_chart_panel panels[2] = {pl, pc};
  lc_chart_figure fm;
  lc_chart_figure_init(&fm);
  fm.panels = panels; fm.npanels = 2; fm.title = "two panels";
  CHECK(lc_chart_render_png(&fm, &png, err, sizeof err) == 0, "multi-panel failed: %s", err);
  img = decode(&png);
  CHECK(cairo_image_surface_get_width(img) == 1040 && cairo_image_surface_get_height(img) == 500,
        "default size for 2 panels: %dx%d", cairo_image_surface_get_width(img),
        cairo_image_surface_get_height(img));
  cairo_surface_destroy(img);
  lc_chart_png_free(&png);
}

/* "best" puts the legend where the data is not: a series in the upper right of the plot
 * leaves the legend elsewhere. The legend's place is where the images with and without it
 * differ. */
static void test_legend_best(void)
{
  double x[4] = {8, 9, 10, 10}, y[4] = {9, 10, 9, 10};
  double x2[2] = {0, 10}, y2[2] = {0, 10};   /* only to set the axes to [0, 10] */
  lc_chart_series s[2];
  lc_chart_series_init(&s[0]);
  lc_chart_series_init(&s[1]);
  s[0].name = "a series with a long name"; s[0].x = x; s[0].y = y; s[0].n = 4;
  s[0].marker = LC_CHART_MARKER_SQUARE;
  s[1].x = x2; s[1].y = y2; s[1].n = 2; s[1].dash = LC_CHART_NOLINE; s[1].alpha = 0.01;
  lc_chart_panel p;
  lc_chart_panel_init(&p);
  p.series = s; p.nseries = 2;
  lc_chart_figure f;
  lc_chart_figure_init(&f);
  f.panels = &p; f.npanels = 1;
  lc_chart_png with, without;
  char err[256];
  CHECK(lc_chart_render_png(&f, &with, err, sizeof err) == 0, "%s", err);
  p.legend = LC_CHART_LEGEND_NONE;
  CHECK(lc_chart_render_png(&f, &without, err, sizeof err) == 0, "%s", err);
  cairo_surface_t *a = decode(&with), *b = decode(&without);
  int w = cairo_image_surface_get_width(a), h = cairo_image_surface_get_height(a);
  long sx = 0, sy = 0, n = 0;
  for (int yy = 0; yy < h; yy++)
    for (int xx = 0; xx < w; xx++)
      if (pixel(a, xx, yy) != pixel(b, xx, yy)) { sx += xx; sy += yy; n++; }
  CHECK(n > 200, "legend not drawn (%ld pixels differ)", n);
  if (n > 0) {
    double cx = (double)sx / n, cy = (double)sy / n;
    CHECK(!(cx > w / 2.0 && cy < h / 2.0), "legend covers the data in the upper right (%.0f, %.0f)",
          cx, cy);
  }
  cairo_surface_destroy(a);
  cairo_surface_destroy(b);
  lc_chart_png_free(&with);
  lc_chart_png_free(&without);
}

static void test_errors(void)
{
  char err[256];
  lc_chart_png png;
  lc_chart_figure f;
  lc_chart_figure_init(&f);
  CHECK(lc_chart_render_png(&f, &png, err, sizeof err) == -1 && strstr(err, "at least one panel"),
        "empty figure: %s", err);

  double y[2] = {1, 2};
  lc_chart_series s;
  lc_chart_series_init(&s);
  s.y = y; s.n = 2;
  lc_chart_panel p;
  lc_chart_panel_init(&p);
  p.series = &s; p.nseries = 1;
  f.panels = &p; f.npanels = 1;

  f.width = 50;
  CHECK(lc_chart_render_png(&f, &png, err, sizeof err) == -1 && strstr(err, "width") && strstr(err, "50"),
        "tiny width: %s", err);
  f.width = 0;

  p.xmin = 3; p.xmax = 1;
  CHECK(lc_chart_render_png(&f, &png, err, sizeof err) == -1 && strstr(err, "xmin"), "xmin>xmax: %s", err);
  p.xmin = p.xmax = NAN;

  p.ylog = 1; p.ymin = -1;
  CHECK(lc_chart_render_png(&f, &png, err, sizeof err) == -1 && strstr(err, "log y"), "log ymin: %s", err);
  p.ylog = 0; p.ymin = NAN;

  s.y = NULL;
  CHECK(lc_chart_render_png(&f, &png, err, sizeof err) == -1 && strstr(err, "no y values"), "no y: %s", err);
  s.y = y;

  s.color = 0x1000000;
  CHECK(lc_chart_render_png(&f, &png, err, sizeof err) == -1 && strstr(err, "colour"), "colour: %s", err);
  s.color = LC_CHART_AUTO_COLOR;

  s.alpha = 2;
  CHECK(lc_chart_render_png(&f, &png, err, sizeof err) == -1 && strstr(err, "alpha"), "alpha: %s", err);
  s.alpha = 0;

  CHECK(lc_chart_render_png(&f, &png, err, sizeof err) == 0, "valid again: %s", err);
  lc_chart_png_free(&png);

  CHECK(lc_chart_write_png(&f, "/nonexistent-dir/x.png", err, sizeof err) == -1 &&
        strstr(err, "/nonexistent-dir/x.png"), "bad path: %s", err);
}

static void test_write(void)
{
  char dir[] = "/tmp/test_chart_XXXXXX";
  if (!mkdtemp(dir)) { CHECK(0, "mkdtemp failed"); return; }
  char path[256];
  snprintf(path, sizeof path, "%s/curves.png", dir);
  double y[3] = {1, 3, 2};
  lc_chart_series s;
  lc_chart_series_init(&s);
  s.name = "y"; s.y = y; s.n = 3;
  lc_chart_panel p;
  lc_chart_panel_init(&p);
  p.series = &s; p.nseries = 1;
  lc_chart_figure f;
  lc_chart_figure_init(&f);
  f.panels = &p; f.npanels = 1; f.width = 400; f.height = 300;
  char err[256];
  CHECK(lc_chart_write_png(&f, path, err, sizeof err) == 0, "write: %s", err);
  CHECK(lc_chart_write_png(&f, path, err, sizeof err) == 0, "overwrite: %s", err);
  cairo_surface_t *img = cairo_image_surface_create_from_png(path);
  CHECK(cairo_surface_status(img) == CAIRO_STATUS_SUCCESS && cairo_image_surface_get_width(img) == 400,
        "written file does not read back as a 400-wide PNG");
  cairo_surface_destroy(img);
  /* nothing else left in the folder: the temporary file was renamed away */
  DIR *d = opendir(dir);
  int entries = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      entries++;
      CHECK(strcmp(e->d_name, "curves.png") == 0, "stray file %s", e->d_name);
    }
  if (d) closedir(d);
  CHECK(entries == 1, "%d files in the folder", entries);
  remove(path);
  rmdir(dir);
}

int main(void)
{
  test_nice_ticks();
  test_log_ticks();
  test_format();
  test_render();
  test_legend_best();
  test_errors();
  test_write();
  printf("test_chart: %d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
