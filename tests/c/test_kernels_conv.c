/* Convolution kernels: forward against a direct 7-loop convolution (float32 and float64, random
 * shapes with padding, stride, dilation, groups, odd sizes, batch 1), the three backward
 * results against central finite differences in float64, thread-count independence, scratch
 * handling and shape errors; the direct kernels for few input channels (conv_direct.h) on the
 * shapes they serve. */
#include "kernels/cpu/conv.h"
#include "kernels/cpu/conv_direct.h"
#include "test_kernels_check.h"

#include <omp.h>
#include <string.h>

static int64_t numel_x(const lc_conv2d_shape *s) { return s->n * s->c_in * s->h * s->w; }
static int64_t numel_y(const lc_conv2d_shape *s) { return s->n * s->c_out * s->out_h * s->out_w; }
static int64_t numel_w(const lc_conv2d_shape *s)
{
  return s->c_out * (s->c_in / s->groups) * s->kh * s->kw;
}

/* The definition, written independently of the kernel: every output, every tap. */
static void naive_conv(const lc_conv2d_shape *s, const double *x, const double *w,
                       const double *b, double *y)
{
  int64_t cig = s->c_in / s->groups, cog = s->c_out / s->groups;
  for (int64_t n = 0; n < s->n; n++)
    for (int64_t co = 0; co < s->c_out; co++)
      for (int64_t oh = 0; oh < s->out_h; oh++)
        for (int64_t ow = 0; ow < s->out_w; ow++) {
          double acc = b ? b[co] : 0;
          int64_t g = co / cog;
          for (int64_t ci = 0; ci < cig; ci++)
            for (int64_t ki = 0; ki < s->kh; ki++)
              for (int64_t kj = 0; kj < s->kw; kj++) {
                int64_t ih = oh * s->stride_h - s->pad_h + ki * s->dil_h;
                int64_t iw = ow * s->stride_w - s->pad_w + kj * s->dil_w;
                if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w) continue;
                acc += x[((n * s->c_in + g * cig + ci) * s->h + ih) * s->w + iw] *
                       w[((co * cig + ci) * s->kh + ki) * s->kw + kj];
              }
          y[((n * s->c_out + co) * s->out_h + oh) * s->out_w + ow] = acc;
        }
}

static lc_conv2d_shape random_shape(void)
{
  lc_conv2d_shape s;
  for (;;) {
    s.groups = rng_int(1, 3);
    s.n = rng_int(1, 3);
    s.c_in = s.groups * rng_int(1, 3);
    s.c_out = s.groups * rng_int(1, 3);
    s.h = rng_int(1, 9);
    s.w = rng_int(1, 9);
    s.kh = rng_int(1, 4);
    s.kw = rng_int(1, 4);
    s.stride_h = rng_int(1, 3);
    s.stride_w = rng_int(1, 3);
    s.pad_h = rng_int(0, 2);
    s.pad_w = rng_int(0, 2);
    s.dil_h = rng_int(1, 2);
    s.dil_w = rng_int(1, 2);
    if (lc_conv2d_shape_finish(&s) == LC_CONV_OK) return s;
  }
}

static void describe(const lc_conv2d_shape *s, char *buf, size_t n)
{
  snprintf(buf, n,
           "n%lld cin%lld %lldx%lld cout%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld g%lld",
           (long long)s->n, (long long)s->c_in, (long long)s->h, (long long)s->w,
           (long long)s->c_out, (long long)s->kh, (long long)s->kw, (long long)s->stride_h,
           (long long)s->stride_w, (long long)s->pad_h, (long long)s->pad_w,
           (long long)s->dil_h, (long long)s->dil_w, (long long)s->groups);
}

static void test_forward(const lc_conv2d_shape *s, int with_bias)
{
  char d[200];
  describe(s, d, sizeof d);
  int64_t nx = numel_x(s), nw = numel_w(s), ny = numel_y(s);
  double *x = rng_array(nx, -1, 1), *w = rng_array(nw, -1, 1), *b = rng_array(s->c_out, -1, 1);
  double *want = malloc(sizeof(double) * ny), *y = malloc(sizeof(double) * ny);
  naive_conv(s, x, w, with_bias ? b : NULL, want);

  for (int64_t i = 0; i < ny; i++) y[i] = NAN;  /* every output must be written */
  int rc = lc_conv2d_forward_f64(s, x, w, with_bias ? b : NULL, y, NULL, 0);
  check(rc == 0, "forward f64 rc %d", rc);
  check_close(y, want, ny, 1e-12, 1e-12, "forward f64 %s%s", d, with_bias ? " bias" : "");

  float *xf = to_f32(x, nx), *wf = to_f32(w, nw), *bf = to_f32(b, s->c_out);
  float *yf = malloc(sizeof(float) * ny);
  for (int64_t i = 0; i < ny; i++) yf[i] = NAN;
  rc = lc_conv2d_forward_f32(s, xf, wf, with_bias ? bf : NULL, yf, NULL, 0);
  double *yd = to_f64(yf, ny);
  check(rc == 0, "forward f32 rc %d", rc);
  check_close(yd, want, ny, 1e-5, 1e-5, "forward f32 %s%s", d, with_bias ? " bias" : "");
  free(x); free(w); free(b); free(want); free(y); free(xf); free(wf); free(bf); free(yf);
  free(yd);
}

/* L(x, w, b) = sum(conv(x, w, b) * r): dL/dy = r, so the backward kernels fed r must give the
 * finite-difference gradients of L. */
typedef struct fd_ctx {
  const lc_conv2d_shape *s;
  double *x, *w, *b, *r, *y;
} fd_ctx;

static double fd_loss(void *p)
{
  fd_ctx *c = p;
  lc_conv2d_forward_f64(c->s, c->x, c->w, c->b, c->y, NULL, 0);
  return dot(c->y, c->r, numel_y(c->s));
}

static void test_gradients(const lc_conv2d_shape *s)
{
  char d[200];
  describe(s, d, sizeof d);
  int64_t nx = numel_x(s), nw = numel_w(s), ny = numel_y(s);
  fd_ctx c = {s, rng_array(nx, -1, 1), rng_array(nw, -1, 1), rng_array(s->c_out, -1, 1),
              rng_array(ny, -1, 1), malloc(sizeof(double) * ny)};
  double *dx = malloc(sizeof(double) * nx), *dw = malloc(sizeof(double) * nw);
  double *db = malloc(sizeof(double) * s->c_out);
  double *fx = malloc(sizeof(double) * nx), *fw = malloc(sizeof(double) * nw);
  double *fb = malloc(sizeof(double) * s->c_out);
  for (int64_t i = 0; i < nx; i++) dx[i] = NAN;  /* overwritten, not accumulated */
  for (int64_t i = 0; i < nw; i++) dw[i] = NAN;
  for (int64_t i = 0; i < s->c_out; i++) db[i] = NAN;
  int rc1 = lc_conv2d_backward_data_f64(s, c.r, c.w, dx, NULL, 0);
  int rc2 = lc_conv2d_backward_weight_f64(s, c.x, c.r, dw, db, NULL, 0);
  check(rc1 == 0 && rc2 == 0, "backward f64 rc %d %d", rc1, rc2);
  finite_diff(fd_loss, &c, c.x, nx, 1e-5, fx);
  finite_diff(fd_loss, &c, c.w, nw, 1e-5, fw);
  finite_diff(fd_loss, &c, c.b, s->c_out, 1e-5, fb);
  check_close(dx, fx, nx, 1e-7, 1e-7, "backward_data vs finite diff %s", d);
  check_close(dw, fw, nw, 1e-7, 1e-7, "backward_weight vs finite diff %s", d);
  check_close(db, fb, s->c_out, 1e-7, 1e-7, "backward bias vs finite diff %s", d);

  /* float32 agrees with float64 */
  float *rf = to_f32(c.r, ny), *wf = to_f32(c.w, nw), *xf = to_f32(c.x, nx);
  float *dxf = malloc(sizeof(float) * nx), *dwf = malloc(sizeof(float) * nw);
  float *dbf = malloc(sizeof(float) * s->c_out);
  lc_conv2d_backward_data_f32(s, rf, wf, dxf, NULL, 0);
  lc_conv2d_backward_weight_f32(s, xf, rf, dwf, dbf, NULL, 0);
  double *t1 = to_f64(dxf, nx), *t2 = to_f64(dwf, nw), *t3 = to_f64(dbf, s->c_out);
  check_close(t1, dx, nx, 1e-4, 1e-4, "backward_data f32 vs f64 %s", d);
  check_close(t2, dw, nw, 1e-4, 1e-4, "backward_weight f32 vs f64 %s", d);
  check_close(t3, db, s->c_out, 1e-4, 1e-4, "backward bias f32 vs f64 %s", d);
  free(c.x); free(c.w); free(c.b); free(c.r); free(c.y); free(dx); free(dw); free(db);
  free(fx); free(fw); free(fb); free(rf); free(wf); free(xf); free(dxf); free(dwf); free(dbf);
  free(t1); free(t2); free(t3);
}

/* A bigger layer (several tiles per image, several channel blocks) computed with 1, 2 and 3
 * threads and with a caller scratch sized for one thread: forward and backward_data must be
 * bit-identical (the work split does not change any sum, whatever OpenBLAS kernel runs),
 * backward_weight close. Batch 1 also takes the path that cuts images into more tiles. */
static void test_threads_and_scratch(int64_t n)
{
  lc_conv2d_shape s = {.n = n, .c_in = 16, .h = 61, .w = 57, .c_out = 24, .kh = 3, .kw = 3,
                       .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1, .dil_h = 1,
                       .dil_w = 1, .groups = 2};
  check(lc_conv2d_shape_finish(&s) == 0, "big shape ok");
  int64_t nx = numel_x(&s), nw = numel_w(&s), ny = numel_y(&s);
  double *xd = rng_array(nx, -1, 1), *wd = rng_array(nw, -1, 1), *dyd = rng_array(ny, -1, 1);
  float *x = to_f32(xd, nx), *w = to_f32(wd, nw), *dy = to_f32(dyd, ny);
  float *y[3], *dx[3], *dw[3];
  int threads[3] = {1, 2, 3};
  int saved = omp_get_max_threads();
  for (int t = 0; t < 3; t++) {
    omp_set_num_threads(threads[t]);
    y[t] = malloc(sizeof(float) * ny);
    dx[t] = malloc(sizeof(float) * nx);
    dw[t] = malloc(sizeof(float) * nw);
    lc_conv2d_forward_f32(&s, x, w, NULL, y[t], NULL, 0);
    lc_conv2d_backward_data_f32(&s, dy, w, dx[t], NULL, 0);
    lc_conv2d_backward_weight_f32(&s, x, dy, dw[t], NULL, NULL, 0);
  }
  omp_set_num_threads(saved);
  for (int t = 1; t < 3; t++) {
    check(!memcmp(y[0], y[t], sizeof(float) * ny), "forward identical with %d threads",
          threads[t]);
    check(!memcmp(dx[0], dx[t], sizeof(float) * nx), "backward_data identical with %d threads",
          threads[t]);
    double *a = to_f64(dw[t], nw), *b = to_f64(dw[0], nw);
    check_close(a, b, nw, 1e-3, 1e-4, "backward_weight with %d threads", threads[t]);
    free(a); free(b);
  }

  /* a reference in double from the naive loop */
  double *want = malloc(sizeof(double) * ny);
  naive_conv(&s, xd, wd, NULL, want);
  double *got = to_f64(y[0], ny);
  check_close(got, want, ny, 1e-4, 1e-4, "big forward vs naive");

  /* caller scratch: the full size, a too-small one, and one for a single thread */
  size_t full = lc_conv2d_scratch_bytes(&s, sizeof(float));
  void *buf = malloc(full);
  float *y2 = malloc(sizeof(float) * ny), *dx2 = malloc(sizeof(float) * nx);
  float *dw2 = malloc(sizeof(float) * nw);
  int rc = lc_conv2d_forward_f32(&s, x, w, NULL, y2, buf, full);
  check(rc == 0 && !memcmp(y2, y[0], sizeof(float) * ny), "forward with caller scratch");
  rc = lc_conv2d_forward_f32(&s, x, w, NULL, y2, buf, 16);
  check(rc == LC_CONV_ESCRATCH, "tiny scratch gives LC_CONV_ESCRATCH (%s)",
        lc_conv2d_strerror(rc));
  omp_set_num_threads(1);
  size_t one = lc_conv2d_scratch_bytes(&s, sizeof(float));
  omp_set_num_threads(saved);
  check(one < full || saved == 1, "one thread needs less scratch (%zu < %zu)", one, full);
  rc = lc_conv2d_backward_data_f32(&s, dy, w, dx2, buf, one);
  check(rc == 0 && !memcmp(dx2, dx[0], sizeof(float) * nx), "backward_data in 1-thread scratch");
  rc = lc_conv2d_backward_weight_f32(&s, x, dy, dw2, NULL, buf, one);
  check(rc == 0 && !memcmp(dw2, dw[0], sizeof(float) * nw),
        "backward_weight in 1-thread scratch equals the 1-thread result");
  /* the adjoint identities in float64 on this multi-tile shape, for every thread count:
   * <conv(x, w), dy> = <x, backward_data(dy)> = <w, backward_weight(x, dy)> */
  double *yd = malloc(sizeof(double) * ny), *dxd = malloc(sizeof(double) * nx);
  double *dwd = malloc(sizeof(double) * nw);
  for (int t = 0; t < 3; t++) {
    omp_set_num_threads(threads[t]);
    lc_conv2d_forward_f64(&s, xd, wd, NULL, yd, NULL, 0);
    lc_conv2d_backward_data_f64(&s, dyd, wd, dxd, NULL, 0);
    lc_conv2d_backward_weight_f64(&s, xd, dyd, dwd, NULL, NULL, 0);
    double a = dot(yd, dyd, ny), b = dot(xd, dxd, nx), c = dot(wd, dwd, nw);
    check(fabs(a - b) < 1e-9 * fabs(a) && fabs(a - c) < 1e-9 * fabs(a),
          "adjoint identities with %d threads: %.12g %.12g %.12g", threads[t], a, b, c);
  }
  omp_set_num_threads(saved);
  free(yd); free(dxd); free(dwd);
  for (int t = 0; t < 3; t++) { free(y[t]); free(dx[t]); free(dw[t]); }
  free(xd); free(wd); free(dyd); free(x); free(w); free(dy); free(want); free(got); free(buf);
  free(y2); free(dx2); free(dw2);
}

/* Batch 1 on several threads: images are cut into row tiles (forward, backward_weight) and
 * channel blocks (backward_data). The adjoint identities hold, and forward equals the naive
 * convolution, with 2 and 3 threads. */
static void test_batch_one(void)
{
  lc_conv2d_shape s = {.n = 1, .c_in = 8, .h = 23, .w = 19, .c_out = 5, .kh = 3, .kw = 5,
                       .stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 2, .dil_h = 1,
                       .dil_w = 2, .groups = 1};
  lc_conv2d_shape_finish(&s);
  int64_t nx = numel_x(&s), nw = numel_w(&s), ny = numel_y(&s);
  double *x = rng_array(nx, -1, 1), *w = rng_array(nw, -1, 1), *dy = rng_array(ny, -1, 1);
  double *y = malloc(sizeof(double) * ny), *want = malloc(sizeof(double) * ny);
  double *dx = malloc(sizeof(double) * nx), *dw = malloc(sizeof(double) * nw);
  naive_conv(&s, x, w, NULL, want);
  int saved = omp_get_max_threads();
  for (int t = 2; t <= 3; t++) {
    omp_set_num_threads(t);
    lc_conv2d_forward_f64(&s, x, w, NULL, y, NULL, 0);
    lc_conv2d_backward_data_f64(&s, dy, w, dx, NULL, 0);
    lc_conv2d_backward_weight_f64(&s, x, dy, dw, NULL, NULL, 0);
    check_close(y, want, ny, 1e-12, 1e-12, "batch 1 forward with %d threads", t);
    double a = dot(y, dy, ny), b = dot(x, dx, nx), c = dot(w, dw, nw);
    check(fabs(a - b) < 1e-10 * fabs(a) && fabs(a - c) < 1e-10 * fabs(a),
          "batch 1 adjoint identities with %d threads: %.12g %.12g %.12g", t, a, b, c);
  }
  omp_set_num_threads(saved);
  free(x); free(w); free(dy); free(y); free(want); free(dx); free(dw);
}

static void test_shapes(void)
{
  check(lc_conv_out_size(28, 5, 1, 2, 1) == 28, "out size 28, k5 p2 -> 28");
  check(lc_conv_out_size(14, 5, 1, 0, 1) == 10, "out size 14, k5 -> 10");
  check(lc_conv_out_size(224, 11, 4, 1, 1) == 54, "out size 224, k11 s4 p1 -> 54");
  check(lc_conv_out_size(7, 3, 2, 1, 2) == 3, "out size 7, k3 s2 p1 d2 -> 3");
  check(lc_conv_out_size(2, 5, 1, 0, 1) < 1, "out size 2, k5 -> none");
  lc_conv2d_shape s = {.n = 1, .c_in = 3, .h = 8, .w = 8, .c_out = 4, .kh = 3, .kw = 3,
                       .stride_h = 1, .stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 2};
  check(lc_conv2d_shape_finish(&s) == LC_CONV_EGROUPS, "groups 2 with 3 channels: %s",
        lc_conv2d_strerror(LC_CONV_EGROUPS));
  s.c_in = 4;
  s.stride_w = 0;
  check(lc_conv2d_shape_finish(&s) == LC_CONV_EBADARG, "stride 0 rejected");
  s.stride_w = 1;
  s.kh = 9;
  check(lc_conv2d_shape_finish(&s) == LC_CONV_EOUTPUT, "kernel 9 on 8 rows rejected");
  s.pad_h = 1;
  check(lc_conv2d_shape_finish(&s) == 0 && s.out_h == 2 && s.out_w == 6,
        "kernel 9x3 pad 1x0 on 8x8 -> 2x6");
  /* batch 0: nothing to do, weight gradient zero */
  s.n = 0;
  double w[4 * 2 * 9 * 3], dw[4 * 2 * 9 * 3], db[4] = {1, 2, 3, 4};
  for (int i = 0; i < 4 * 2 * 9 * 3; i++) dw[i] = w[i] = 1;
  int rc = lc_conv2d_backward_weight_f64(&s, NULL, NULL, dw, db, NULL, 0);
  int zero = rc == 0 && db[3] == 0;
  for (int i = 0; i < 4 * 2 * 9 * 3; i++) zero = zero && dw[i] == 0;
  check(zero, "batch 0: backward_weight gives zeros");
  check(lc_conv2d_forward_f64(&s, NULL, w, NULL, NULL, NULL, 0) == 0, "batch 0: forward no-op");
}

/* A shape the direct kernels serve: stride 1, 1 to 4 input channels, kernel width 3, 5 or 7,
 * rows of 1 to 3 vector chunks, output channels across several register blocks. */
static lc_conv2d_shape random_direct_shape(void)
{
  static const int64_t widths[3] = {3, 5, 7};
  lc_conv2d_shape s;
  for (;;) {
    s = (lc_conv2d_shape){.n = rng_int(1, 3), .c_in = rng_int(1, 4), .c_out = rng_int(1, 17),
                          .kh = rng_int(1, 7), .kw = widths[rng_int(0, 2)], .stride_h = 1,
                          .stride_w = 1, .dil_h = 1, .dil_w = 1, .groups = 1};
    s.pad_h = rng_int(0, 3);
    s.pad_w = rng_int(0, 3);
    s.h = rng_int(1, 12);
    s.w = rng_int(1, 45);
    if (lc_conv2d_shape_finish(&s) == LC_CONV_OK) return s;
  }
}

/* The direct kernels against the definition (forward) and against the float64 general path
 * (backward_weight, which the float64 entry point always takes), through the public entry
 * points and called directly with 1, 2 and 3 threads: forward bit-identical across them. */
static void test_direct(const lc_conv2d_shape *s)
{
  char d[200];
  describe(s, d, sizeof d);
  check(lc_conv2d_direct_fits(s), "direct kernels serve %s", d);
  int64_t nx = numel_x(s), nw = numel_w(s), ny = numel_y(s);
  double *x = rng_array(nx, -1, 1), *w = rng_array(nw, -1, 1), *b = rng_array(s->c_out, -1, 1);
  double *dy = rng_array(ny, -1, 1), *want = malloc(sizeof(double) * ny);
  double *dw = malloc(sizeof(double) * nw), *db = malloc(sizeof(double) * s->c_out);
  naive_conv(s, x, w, b, want);
  lc_conv2d_backward_weight_f64(s, x, dy, dw, db, NULL, 0);
  float *xf = to_f32(x, nx), *wf = to_f32(w, nw), *bf = to_f32(b, s->c_out), *dyf = to_f32(dy, ny);
  float *y[3], *dwf = malloc(sizeof(float) * nw), *dbf = malloc(sizeof(float) * s->c_out);
  for (int t = 0; t < 3; t++) {
    y[t] = malloc(sizeof(float) * ny);
    for (int64_t i = 0; i < ny; i++) y[t][i] = NAN;  /* every output must be written */
    int rc = t == 0 ? lc_conv2d_forward_f32(s, xf, wf, bf, y[t], NULL, 0)
                    : lc_conv2d_direct_forward_f32(s, xf, wf, bf, y[t], t + 1);
    double *yd = to_f64(y[t], ny);
    check(rc == 0, "direct forward rc %d", rc);
    check_close(yd, want, ny, 1e-5, 1e-5, "direct forward %s, %s", d,
                t == 0 ? "public entry" : t == 1 ? "2 threads" : "3 threads");
    if (t > 0) check(!memcmp(y[0], y[t], sizeof(float) * ny), "direct forward identical, %d threads %s", t + 1, d);
    free(yd);
    for (int64_t i = 0; i < nw; i++) dwf[i] = NAN;
    for (int64_t i = 0; i < s->c_out; i++) dbf[i] = NAN;
    rc = t == 0 ? lc_conv2d_backward_weight_f32(s, xf, dyf, dwf, dbf, NULL, 0)
                : lc_conv2d_direct_backward_weight_f32(s, xf, dyf, dwf, dbf, t + 1);
    double *a = to_f64(dwf, nw), *c = to_f64(dbf, s->c_out);
    check(rc == 0, "direct backward_weight rc %d", rc);
    check_close(a, dw, nw, 1e-4, 1e-4, "direct backward_weight %s (%d threads)", d, t + 1);
    check_close(c, db, s->c_out, 1e-4, 1e-4, "direct backward bias %s (%d threads)", d, t + 1);
    free(a); free(c);
  }
  /* no bias: forward starts from zero, and a NULL dbias is not written */
  lc_conv2d_direct_forward_f32(s, xf, wf, NULL, y[1], 2);
  naive_conv(s, x, w, NULL, want);
  double *yd = to_f64(y[1], ny);
  check_close(yd, want, ny, 1e-5, 1e-5, "direct forward without bias %s", d);
  check(lc_conv2d_direct_backward_weight_f32(s, xf, dyf, dwf, NULL, 2) == 0,
        "direct backward_weight without bias %s", d);
  free(yd);
  for (int t = 0; t < 3; t++) free(y[t]);
  free(x); free(w); free(b); free(dy); free(want); free(dw); free(db); free(xf); free(wf);
  free(bf); free(dyf); free(dwf); free(dbf);
}

static void test_direct_paths(void)
{
  lc_conv2d_shape lenet = {1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 0, 0};
  lc_conv2d_shape_finish(&lenet);
  if (!lc_conv2d_direct_fits(&lenet)) {
    /* the kernels need AVX-512: say loudly that this machine did not run them */
    fprintf(stderr, "SKIPPED: the direct convolution kernels need AVX-512, which this "
                    "processor lacks; the general path served every shape\n");
    return;
  }
  lenet.n = 5;
  test_direct(&lenet);
  lc_conv2d_shape vgg = {2, 1, 40, 37, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  lc_conv2d_shape_finish(&vgg);
  test_direct(&vgg);
  for (int i = 0; i < 40; i++) {
    lc_conv2d_shape s = random_direct_shape();
    test_direct(&s);
  }
  /* what it does not serve */
  lc_conv2d_shape other[] = {
    {1, 5, 9, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0},  /* 5 input channels */
    {1, 2, 9, 9, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 0},  /* stride 2 */
    {1, 2, 9, 9, 4, 3, 4, 1, 1, 1, 1, 1, 1, 1, 0, 0},  /* kernel width 4 */
    {1, 2, 9, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2, 0, 0},  /* groups */
    {1, 1, 9, 300, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0}, /* rows over 256 columns */
  };
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
    lc_conv2d_shape_finish(&other[i]);
    check(!lc_conv2d_direct_fits(&other[i]), "direct kernels decline case %zu", i);
  }
}

int main(void)
{
  rng_seed(42);
  test_shapes();
  /* fixed cases first: LeNet's layers at batch 1, a 1x1 conv (no im2col), a strided 1x1,
   * a depthwise conv, an asymmetric one */
  lc_conv2d_shape fixed[] = {
    {1, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 0, 0},
    {2, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1, 0, 0},
    {2, 8, 5, 7, 6, 1, 1, 1, 1, 0, 0, 1, 1, 2, 0, 0},
    {2, 4, 7, 7, 6, 1, 1, 2, 2, 0, 0, 1, 1, 1, 0, 0},
    {2, 4, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 4, 0, 0},
    {1, 3, 9, 11, 2, 2, 4, 3, 2, 1, 2, 2, 1, 1, 0, 0},
  };
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    lc_conv2d_shape_finish(&fixed[i]);
    test_forward(&fixed[i], (int)(i % 2));
  }
  for (int i = 0; i < 40; i++) {
    lc_conv2d_shape s = random_shape();
    test_forward(&s, i % 2);
  }
  for (size_t i = 2; i < sizeof fixed / sizeof fixed[0]; i++) test_gradients(&fixed[i]);
  for (int i = 0; i < 12; i++) {
    lc_conv2d_shape s = random_shape();
    test_gradients(&s);
  }
  test_threads_and_scratch(3);
  test_threads_and_scratch(1);
  test_batch_one();
  test_direct_paths();
  return check_done("test_kernels_conv");
}
