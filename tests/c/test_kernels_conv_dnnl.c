/* float32 convolutions through oneDNN (kernels/cpu/conv_dnnl.h) and the CPU backend's choice
 * between it and im2col (runtime/conv_cpu_select.h): forward, backward_data and backward_weight
 * (with and without bias) against an exact float64 reference, for the chapter's layer shapes
 * (batch cut down) and odd ones (strides, padding, dilation, groups, depthwise, 1x1, batch 1,
 * odd sizes, random shapes), under 1, 2 and 3 OpenMP threads.
 *
 * What is asserted is what oneDNN promises: results within float32's worst-case rounding
 * bound of the exact value, |got - exact| <= terms * 2^-24 * sum |products| (any summation
 * order meets it; a wrong tap, layout or padding misses it by orders of magnitude). No
 * bit-identity across thread counts is asserted for oneDNN (test_kernels_conv does that for
 * im2col). In a build without oneDNN the oneDNN checks are skipped (said so) and the choice
 * layer is checked to fall back to im2col. */
#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_dnnl.h"
#include "runtime/conv_cpu_select.h"
#include "test_kernels_check.h"

#include <omp.h>
#include <string.h>

static int64_t numel_x(const lc_conv2d_shape *s) { return s->n * s->c_in * s->h * s->w; }
static int64_t numel_y(const lc_conv2d_shape *s) { return s->n * s->c_out * s->out_h * s->out_w; }
static int64_t numel_w(const lc_conv2d_shape *s)
{
  return s->c_out * (s->c_in / s->groups) * s->kh * s->kw;
}

/* Exact (float64) forward y, backward dx and dw, dbias, and for each the sum of |products|. */
typedef struct ref {
  double *y, *ya, *dx, *dxa, *dw, *dwa, *db, *dba;
} ref;

static ref reference(const lc_conv2d_shape *s, const float *x, const float *w, const float *b,
                     const float *dy)
{
  int64_t nx = numel_x(s), nw = numel_w(s), ny = numel_y(s);
  ref r = {calloc(ny, 8), calloc(ny, 8), calloc(nx, 8), calloc(nx, 8),
           calloc(nw, 8), calloc(nw, 8), calloc(s->c_out, 8), calloc(s->c_out, 8)};
  int64_t cig = s->c_in / s->groups, cog = s->c_out / s->groups;
  for (int64_t n = 0; n < s->n; n++)
    for (int64_t co = 0; co < s->c_out; co++)
      for (int64_t oh = 0; oh < s->out_h; oh++)
        for (int64_t ow = 0; ow < s->out_w; ow++) {
          int64_t yi = ((n * s->c_out + co) * s->out_h + oh) * s->out_w + ow;
          double g_out = dy[yi];
          r.y[yi] = b[co];
          r.ya[yi] = fabs((double)b[co]);
          r.db[co] += g_out;
          r.dba[co] += fabs(g_out);
          int64_t g = co / cog;
          for (int64_t ci = 0; ci < cig; ci++)
            for (int64_t ki = 0; ki < s->kh; ki++)
              for (int64_t kj = 0; kj < s->kw; kj++) {
                int64_t ih = oh * s->stride_h - s->pad_h + ki * s->dil_h;
                int64_t iw = ow * s->stride_w - s->pad_w + kj * s->dil_w;
                if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w) continue;
                int64_t xi = ((n * s->c_in + g * cig + ci) * s->h + ih) * s->w + iw;
                int64_t wi = ((co * cig + ci) * s->kh + ki) * s->kw + kj;
                double xv = x[xi], wv = w[wi];
                r.y[yi] += xv * wv;
                r.ya[yi] += fabs(xv * wv);
                r.dx[xi] += g_out * wv;
                r.dxa[xi] += fabs(g_out * wv);
                r.dw[wi] += g_out * xv;
                r.dwa[wi] += fabs(g_out * xv);
              }
        }
  return r;
}

static void free_ref(ref *r)
{
  free(r->y), free(r->ya), free(r->dx), free(r->dxa), free(r->dw), free(r->dwa), free(r->db),
      free(r->dba);
}

/* got within terms * 2^-24 * abs_sum (+ a hair for the exactly-zero sums) of want. */
static int check_bound(const float *got, const double *want, const double *abs_sum, int64_t n,
                       double terms, const char *what, const char *shape, int threads)
{
  double worst = 0;
  int64_t wi = -1;
  for (int64_t i = 0; i < n; i++) {
    double bound = (terms + 2) * 0x1p-24 * abs_sum[i] + 1e-30;
    double ratio = fabs(got[i] - want[i]) / bound;
    if (!(ratio <= worst)) {
      worst = ratio;
      wi = i;
    }
  }
  int ok = worst <= 1;
  if (wi >= 0)
    return check(ok, "%s %s threads %d: worst |err|/bound %.3g at [%lld] (got %.9g, want %.9g)",
                 what, shape, threads, worst, (long long)wi, got[wi], want[wi]);
  return check(ok, "%s %s threads %d", what, shape, threads);
}

static float *random_floats(int64_t n)
{
  float *a = malloc(sizeof(float) * (n ? n : 1));
  for (int64_t i = 0; i < n; i++) a[i] = (float)(2 * rng_uniform() - 1);
  return a;
}

static void describe(const lc_conv2d_shape *s, char *buf, size_t n)
{
  snprintf(buf, n, "[n%lld c%lld->%lld %lldx%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld,%lld g%lld]",
           (long long)s->n, (long long)s->c_in, (long long)s->c_out, (long long)s->h,
           (long long)s->w, (long long)s->kh, (long long)s->kw, (long long)s->stride_h,
           (long long)s->stride_w, (long long)s->pad_h, (long long)s->pad_w, (long long)s->dil_h,
           (long long)s->dil_w, (long long)s->groups);
}

static int have_dnnl;
static int dnnl_ran; /* shapes oneDNN took, to make sure the checks checked something */

typedef int (*fwd_fn)(const lc_conv2d_shape *, const float *, const float *, const float *, float *);

/* Runs the three directions one way (0: oneDNN directly, 1: the backend's choice in its
 * current mode) and checks them against r. */
static void check_directions(int way, const lc_conv2d_shape *s, const float *x, const float *w,
                             const float *b, const float *dy, const ref *r, const char *shape,
                             int threads)
{
  int64_t nx = numel_x(s), nw = numel_w(s), ny = numel_y(s);
  float *y = malloc(4 * ny), *dx = malloc(4 * nx), *dw = malloc(4 * nw), *db = malloc(4 * s->c_out);
  double kf = (double)(s->c_in / s->groups) * s->kh * s->kw + 1;
  double kd = (double)(s->c_out / s->groups) * s->kh * s->kw;
  double kw = (double)s->n * s->out_h * s->out_w;
  const char *tag = way == 0 ? "oneDNN" : "select";
  for (int bias = 0; bias <= 1; bias++) {
    memset(y, 0xff, 4 * ny); /* NaN: an output left unwritten fails */
    memset(dw, 0xff, 4 * nw);
    memset(db, 0xff, 4 * s->c_out);
    int st1, st3;
    if (way == 0) {
      st1 = lc_conv2d_dnnl_forward_f32(s, x, w, bias ? b : NULL, y);
      st3 = lc_conv2d_dnnl_backward_weight_f32(s, x, dy, dw, bias ? db : NULL);
    } else {
      st1 = lc_cpu_conv2d_forward_f32(s, x, w, bias ? b : NULL, y, NULL, 0);
      st3 = lc_cpu_conv2d_backward_weight_f32(s, x, dy, dw, bias ? db : NULL, NULL, 0);
    }
    if (way == 0 && st1 == LC_CONV_DNNL_UNSUPPORTED) {
      check(st3 == LC_CONV_DNNL_UNSUPPORTED, "%s %s: unsupported forward, unsupported backward too",
            tag, shape);
      continue;
    }
    if (way == 0) dnnl_ran++;
    char what[64];
    snprintf(what, sizeof what, "%s forward%s", tag, bias ? "+bias" : "");
    if (check(st1 == 0, "%s %s returns 0 (got %d)", what, shape, st1)) {
      if (bias) {
        check_bound(y, r->y, r->ya, ny, kf, what, shape, threads);
      } else { /* the reference has the bias in: take it out */
        double *y0 = malloc(8 * ny);
        for (int64_t i = 0; i < ny; i++)
          y0[i] = r->y[i] - b[(i / (s->out_h * s->out_w)) % s->c_out];
        check_bound(y, y0, r->ya, ny, kf, what, shape, threads);
        free(y0);
      }
    }
    snprintf(what, sizeof what, "%s backward_weight%s", tag, bias ? "+bias" : "");
    if (check(st3 == 0, "%s %s returns 0 (got %d)", what, shape, st3)) {
      check_bound(dw, r->dw, r->dwa, nw, kw, what, shape, threads);
      if (bias) check_bound(db, r->db, r->dba, s->c_out, kw, "  dbias", shape, threads);
    }
  }
  memset(dx, 0xff, 4 * nx);
  int st2 = way == 0 ? lc_conv2d_dnnl_backward_data_f32(s, dy, w, dx)
                     : lc_cpu_conv2d_backward_data_f32(s, dy, w, dx, NULL, 0);
  if (!(way == 0 && st2 == LC_CONV_DNNL_UNSUPPORTED)) {
    char what[64];
    snprintf(what, sizeof what, "%s backward_data", tag);
    if (check(st2 == 0, "%s %s returns 0 (got %d)", what, shape, st2))
      check_bound(dx, r->dx, r->dxa, nx, kd, what, shape, threads);
  }
  free(y), free(dx), free(dw), free(db);
}

static void test_shape(lc_conv2d_shape s)
{
  if (!check(lc_conv2d_shape_finish(&s) == LC_CONV_OK, "shape finishes")) return;
  char shape[200];
  describe(&s, shape, sizeof shape);
  float *x = random_floats(numel_x(&s)), *w = random_floats(numel_w(&s));
  float *b = random_floats(s.c_out), *dy = random_floats(numel_y(&s));
  ref r = reference(&s, x, w, b, dy);
  for (int threads = 1; threads <= 3; threads++) {
    omp_set_num_threads(threads);
    if (have_dnnl) check_directions(0, &s, x, w, b, dy, &r, shape, threads);
    check_directions(1, &s, x, w, b, dy, &r, shape, threads);
  }
  omp_set_num_threads(2);
  free_ref(&r);
  free(x), free(w), free(b), free(dy);
}

static lc_conv2d_shape shape(int64_t n, int64_t c_in, int64_t h, int64_t w, int64_t c_out,
                             int64_t k, int64_t stride, int64_t pad)
{
  lc_conv2d_shape s = {n, c_in, h, w, c_out, k, k, stride, stride, pad, pad, 1, 1, 1, 0, 0};
  return s;
}

int main(void)
{
  rng_seed(13);
  have_dnnl = lc_conv2d_dnnl_available();
  printf("# %s\n", lc_conv2d_dnnl_version());
  if (!have_dnnl) printf("# SKIPPED: the oneDNN checks (no oneDNN in this build); im2col fallback only\n");

  /* The chapter's layers (batch and sometimes size cut down to keep the reference fast). */
  test_shape(shape(4, 1, 28, 28, 6, 5, 1, 2));    /* LeNet conv1 */
  test_shape(shape(4, 6, 14, 14, 16, 5, 1, 0));   /* LeNet conv2 */
  test_shape(shape(1, 1, 67, 67, 96, 11, 4, 1));  /* AlexNet conv1 (224 cut to 67) */
  test_shape(shape(1, 96, 13, 13, 64, 5, 1, 2));  /* AlexNet conv2-like */
  test_shape(shape(2, 3, 24, 24, 64, 7, 2, 3));   /* ResNet stem, RGB */
  test_shape(shape(2, 64, 12, 12, 64, 3, 1, 1));  /* ResNet 3x3 */
  test_shape(shape(2, 64, 12, 12, 128, 3, 2, 1)); /* ResNet downsampling 3x3 */
  test_shape(shape(2, 64, 12, 12, 128, 1, 2, 0)); /* ResNet 1x1 shortcut, stride 2 */
  test_shape(shape(2, 192, 6, 6, 64, 1, 1, 0));   /* GoogLeNet 1x1 */
  test_shape(shape(1, 16, 9, 9, 32, 3, 1, 1));    /* batch 1 */
  /* Odd ones. */
  lc_conv2d_shape s = shape(2, 6, 11, 9, 8, 3, 1, 1);
  s.groups = 2;
  test_shape(s);                                   /* groups */
  s = shape(2, 16, 10, 10, 16, 3, 1, 1);
  s.groups = 16;
  test_shape(s);                                   /* depthwise */
  s = shape(2, 4, 13, 10, 5, 3, 2, 2);
  s.dil_h = 2, s.dil_w = 3;
  test_shape(s);                                   /* dilation */
  s = shape(3, 3, 10, 13, 4, 3, 1, 0);
  s.kw = 2, s.stride_w = 3, s.pad_h = 2;
  test_shape(s);                                   /* asymmetric kernel, stride, padding */
  test_shape(shape(1, 2, 6, 6, 3, 1, 2, 0));       /* 1x1 stride 2 on an even size (floor) */
  test_shape(shape(1, 2, 1, 1, 3, 1, 1, 0));       /* 1x1 image */
  test_shape(shape(2, 3, 7, 7, 4, 7, 1, 0));       /* kernel as large as the input */
  for (int i = 0; i < 12; i++) {                   /* random small shapes */
    lc_conv2d_shape r;
    do {
      r.groups = rng_int(1, 3);
      r.n = rng_int(1, 3);
      r.c_in = r.groups * rng_int(1, 4);
      r.c_out = r.groups * rng_int(1, 4);
      r.h = rng_int(1, 12), r.w = rng_int(1, 12);
      r.kh = rng_int(1, 4), r.kw = rng_int(1, 4);
      r.stride_h = rng_int(1, 3), r.stride_w = rng_int(1, 3);
      r.pad_h = rng_int(0, 2), r.pad_w = rng_int(0, 2);
      r.dil_h = rng_int(1, 2), r.dil_w = rng_int(1, 2);
    } while (lc_conv2d_shape_finish(&r) != LC_CONV_OK);
    test_shape(r);
  }
  if (have_dnnl) check(dnnl_ran > 0, "oneDNN ran on %d shape/thread/bias cases", dnnl_ran);

  /* The choice: forced oneDNN takes oneDNN where it can; forced im2col never does. */
  omp_set_num_threads(2);
  lc_conv2d_shape big = shape(2, 32, 16, 16, 32, 3, 1, 1);
  lc_conv2d_shape_finish(&big);
  float *x = random_floats(numel_x(&big)), *w = random_floats(numel_w(&big));
  float *y = malloc(4 * numel_y(&big));
  lc_cpu_conv_set_mode(LC_CPU_CONV_DNNL);
  lc_cpu_conv2d_forward_f32(&big, x, w, NULL, y, NULL, 0);
  check(!strcmp(lc_cpu_conv_last_path(0), have_dnnl ? "dnnl" : "im2col"),
        "mode dnnl takes %s (took %s)", have_dnnl ? "dnnl" : "im2col", lc_cpu_conv_last_path(0));
  lc_cpu_conv_set_mode(LC_CPU_CONV_IM2COL);
  lc_cpu_conv2d_forward_f32(&big, x, w, NULL, y, NULL, 0);
  check(!strcmp(lc_cpu_conv_last_path(0), "im2col"), "mode im2col takes im2col");
  lc_cpu_conv_set_mode(LC_CPU_CONV_AUTO);
  lc_cpu_conv2d_forward_f32(&big, x, w, NULL, y, NULL, 0);
  check(!strcmp(lc_cpu_conv_last_path(0), have_dnnl ? "dnnl" : "im2col"),
        "auto: 32 output channels take %s (took %s)", have_dnnl ? "dnnl" : "im2col",
        lc_cpu_conv_last_path(0));
  lc_conv2d_shape lenet1 = shape(2, 1, 28, 28, 6, 5, 1, 2);
  lc_conv2d_shape_finish(&lenet1);
  float *y6 = malloc(4 * numel_y(&lenet1));
  lc_cpu_conv2d_forward_f32(&lenet1, x, w, NULL, y6, NULL, 0);
  check(!strcmp(lc_cpu_conv_last_path(0), "im2col"), "auto: LeNet's 6-channel layer takes im2col");
  free(y6);
  /* one input channel, 16 outputs (VGG's first layer): the direct kernels of the im2col path
   * where they serve the shape, oneDNN for the input gradient they lack */
  lc_conv2d_shape vgg1 = shape(2, 1, 20, 20, 16, 3, 1, 1);
  lc_conv2d_shape_finish(&vgg1);
  float *y16 = malloc(4 * numel_y(&vgg1)), *dx16 = malloc(4 * numel_x(&vgg1));
  lc_cpu_conv2d_forward_f32(&vgg1, x, w, NULL, y16, NULL, 0);
  const char *want = lc_conv2d_direct_fits(&vgg1) || !have_dnnl ? "im2col" : "dnnl";
  check(!strcmp(lc_cpu_conv_last_path(0), want), "auto: 1 -> 16 channels forward takes %s (took %s)",
        want, lc_cpu_conv_last_path(0));
  lc_cpu_conv2d_backward_data_f32(&vgg1, y16, w, dx16, NULL, 0);
  check(!strcmp(lc_cpu_conv_last_path(1), have_dnnl ? "dnnl" : "im2col"),
        "auto: 1 -> 16 channels backward_data takes %s (took %s)", have_dnnl ? "dnnl" : "im2col",
        lc_cpu_conv_last_path(1));
  free(y16);
  free(dx16);
  lc_cpu_conv_set_mode(LC_CPU_CONV_BENCHMARK);
  lc_cpu_conv2d_forward_f32(&big, x, w, NULL, y, NULL, 0);
  const char *first = lc_cpu_conv_last_path(0);
  float *y2 = malloc(4 * numel_y(&big));
  lc_cpu_conv2d_forward_f32(&big, x, w, NULL, y2, NULL, 0);
  check(!strcmp(first, lc_cpu_conv_last_path(0)) && !memcmp(y, y2, 4 * numel_y(&big)),
        "benchmark keeps its choice (%s) and the first call's result is the kept path's", first);
  /* batch 0: backward_weight still zeroes dw and dbias */
  lc_conv2d_shape empty = shape(0, 2, 5, 5, 3, 3, 1, 1);
  lc_conv2d_shape_finish(&empty);
  float dw[54], db[3];
  memset(dw, 0xff, sizeof dw), memset(db, 0xff, sizeof db);
  int st = lc_cpu_conv2d_backward_weight_f32(&empty, x, x, dw, db, NULL, 0);
  int zero = st == 0;
  for (int i = 0; i < 54; i++) zero &= dw[i] == 0;
  for (int i = 0; i < 3; i++) zero &= db[i] == 0;
  check(zero, "batch 0: backward_weight zeroes dw and dbias");
  free(x), free(w), free(y), free(y2);
  lc_conv2d_dnnl_release();
  return check_done("test_kernels_conv_dnnl");
}
