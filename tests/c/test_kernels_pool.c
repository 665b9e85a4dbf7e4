/* Pooling kernels: output sizes and values against PyTorch's (printed by torch 2.x for the
 * inputs below), forwards against naive references on random shapes, backwards against
 * central finite differences in float64 (avg with and without count_include_pad, ceil_mode,
 * adaptive), max-pool backward against the scatter of its indices. */
#include "kernels/cpu/pool.h"
#include "test_kernels_check.h"

#include <string.h>

static lc_pool2d_shape pool_shape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k,
                                  int64_t stride, int64_t pad, int64_t dil, int ceil_mode)
{
  lc_pool2d_shape s = {n, c, h, w, k, k, stride, stride, pad, pad, dil, dil, ceil_mode, 0, 0};
  return s;
}

static void test_out_sizes(void)
{
  /* (h, k, s, p, ceil) -> PyTorch's avg_pool2d output size */
  int64_t cases[][6] = {{5, 2, 2, 1, 1, 3}, {4, 3, 2, 1, 1, 3}, {6, 3, 3, 1, 1, 3},
                        {7, 2, 2, 0, 1, 4}, {7, 2, 2, 0, 0, 3}, {10, 3, 2, 1, 1, 6},
                        {28, 2, 2, 0, 0, 14}, {55, 3, 2, 0, 0, 27}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t *c = cases[i];
    int64_t got = lc_pool_out_size(c[0], c[1], c[2], c[3], 1, (int)c[4]);
    check(got == c[5], "pool out size h%lld k%lld s%lld p%lld ceil%lld: %lld (PyTorch %lld)",
          (long long)c[0], (long long)c[1], (long long)c[2], (long long)c[3], (long long)c[4],
          (long long)got, (long long)c[5]);
  }
  lc_pool2d_shape s = pool_shape(1, 1, 5, 5, 2, 2, 2, 1, 0);
  check(lc_pool2d_shape_finish(&s, 0) == LC_POOL_EPAD, "pad 2 > kernel 2 / 2 rejected: %s",
        lc_pool2d_strerror(LC_POOL_EPAD));
  s = pool_shape(1, 1, 2, 2, 3, 1, 0, 1, 0);
  check(lc_pool2d_shape_finish(&s, 0) == LC_POOL_EOUTPUT, "kernel 3 on 2x2 rejected");
  s = pool_shape(1, 1, 5, 5, 3, 1, 0, 2, 0);
  check(lc_pool2d_shape_finish(&s, 1) == LC_POOL_EDILATION, "avg pool with dilation rejected");
  s = pool_shape(1, 1, 5, 5, 3, 0, 0, 1, 0);
  check(lc_pool2d_shape_finish(&s, 0) == LC_POOL_EBADARG, "stride 0 rejected");
}

/* x = 1..25 as a 5x5 image, the values PyTorch gives. */
static void test_against_pytorch(void)
{
  double x[25], y[16], want[16];
  int64_t idx[16];
  for (int i = 0; i < 25; i++) x[i] = i + 1;

  lc_pool2d_shape s = pool_shape(1, 1, 5, 5, 3, 2, 1, 1, 1);
  lc_pool2d_shape_finish(&s, 1);
  double cip[9] = {16 / 9., 33 / 9., 28 / 9., 69 / 9., 13, 87 / 9., 76 / 9., 123 / 9., 88 / 9.};
  lc_avg_pool2d_forward_f64(&s, 1, 0, x, y);
  check_close(y, cip, 9, 1e-12, 1e-12, "avg k3 s2 p1 ceil count_include_pad (PyTorch)");
  double nocip[9] = {4, 5.5, 7, 11.5, 13, 14.5, 19, 20.5, 22};
  lc_avg_pool2d_forward_f64(&s, 0, 0, x, y);
  check_close(y, nocip, 9, 1e-12, 1e-12, "avg k3 s2 p1 ceil no count_include_pad (PyTorch)");
  for (int i = 0; i < 9; i++) want[i] = cip[i] * 9 / 4;  /* divisor_override 4 */
  lc_avg_pool2d_forward_f64(&s, 1, 4, x, y);
  check_close(y, want, 9, 1e-12, 1e-12, "avg divisor_override 4");

  s = pool_shape(1, 1, 5, 5, 2, 2, 1, 1, 1);
  lc_pool2d_shape_finish(&s, 1);
  double cip2[9] = {0.25, 1.25, 2.25, 4.25, 10, 12, 9.25, 20, 22};
  lc_avg_pool2d_forward_f64(&s, 1, 0, x, y);
  check_close(y, cip2, 9, 1e-12, 1e-12, "avg k2 s2 p1 ceil count_include_pad (PyTorch)");

  s = pool_shape(1, 1, 5, 5, 2, 3, 0, 1, 1);
  lc_pool2d_shape_finish(&s, 1);
  double ceil3[4] = {4, 7, 19, 22};
  lc_avg_pool2d_forward_f64(&s, 1, 0, x, y);
  check(s.out_h == 2 && s.out_w == 2, "avg k2 s3 ceil on 5x5 is 2x2");
  check_close(y, ceil3, 4, 1e-12, 1e-12, "avg k2 s3 ceil (PyTorch)");

  s = pool_shape(1, 1, 5, 5, 2, 2, 1, 1, 1);
  lc_pool2d_shape_finish(&s, 0);
  double mx[9] = {1, 3, 5, 11, 13, 15, 21, 23, 25};
  int64_t mi[9] = {0, 2, 4, 10, 12, 14, 20, 22, 24};
  lc_max_pool2d_forward_f64(&s, x, y, idx);
  check_close(y, mx, 9, 0, 0, "max k2 s2 p1 ceil (PyTorch)");
  check(!memcmp(idx, mi, sizeof mi), "max k2 s2 p1 ceil indices (PyTorch)");

  s = pool_shape(1, 1, 5, 5, 3, 2, 1, 2, 0);
  lc_pool2d_shape_finish(&s, 0);
  lc_max_pool2d_forward_f64(&s, x, y, idx);
  check(s.out_h == 2 && s.out_w == 2 && y[0] == 19 && y[3] == 19 && idx[0] == 18 && idx[3] == 18,
        "max k3 s2 p1 dilation 2: 2x2 of 19 at index 18 (PyTorch)");

  double ad[6] = {4.5, 6.5, 12, 14, 19.5, 21.5};
  lc_adaptive_avg_pool2d_forward_f64(1, 5, 5, 3, 2, x, y);
  check_close(y, ad, 6, 1e-12, 1e-12, "adaptive avg 5x5 -> 3x2 (PyTorch)");

  /* NaN propagates through max pooling; ties pick the first position */
  double z[4] = {1, NAN, 3, 3};
  lc_pool2d_shape s2 = pool_shape(1, 1, 2, 2, 2, 2, 0, 1, 0);
  lc_pool2d_shape_finish(&s2, 0);
  lc_max_pool2d_forward_f64(&s2, z, y, idx);
  check(isnan(y[0]) && idx[0] == 1, "max pool: NaN wins");
  double t[4] = {2, 5, 5, 1};
  lc_max_pool2d_forward_f64(&s2, t, y, idx);
  check(y[0] == 5 && idx[0] == 1, "max pool: first of equal maxima");
  /* 1x6 input, kernel 2x4 dilation 2 pad 1: the rows -1 and 1 are both outside */
  lc_pool2d_shape s3 = pool_shape(1, 1, 1, 6, 2, 2, 1, 2, 1);
  s3.kw = 4;
  check(lc_pool2d_shape_finish(&s3, 0) == 0 && s3.out_h == 1 && s3.out_w == 2,
        "max k2x4 d2 p1 ceil on 1x6 -> 1x2 (PyTorch)");
  lc_max_pool2d_forward_f64(&s3, x, y, idx);
  check(y[0] == -INFINITY && idx[0] == -1 && idx[1] == -1, "empty window: -inf, index -1");
  double d1[6] = {9, 9, 9, 9, 9, 9}, g[2] = {1, 1};
  lc_max_pool2d_backward_f64(&s3, g, idx, d1);
  int zero = 1;
  for (int i = 0; i < 6; i++) zero = zero && d1[i] == 0;
  check(zero, "empty window: backward leaves zeros");
}

/* Naive references: walk every kernel tap of every window, with padding explicit. */
static void naive_max(const lc_pool2d_shape *s, const double *x, double *y, int64_t *idx)
{
  for (int64_t p = 0; p < s->n * s->c; p++)
    for (int64_t oh = 0; oh < s->out_h; oh++)
      for (int64_t ow = 0; ow < s->out_w; ow++) {
        double m = -INFINITY;
        int64_t best = -1;
        for (int64_t i = 0; i < s->kh; i++)
          for (int64_t j = 0; j < s->kw; j++) {
            int64_t ih = oh * s->stride_h - s->pad_h + i * s->dil_h;
            int64_t iw = ow * s->stride_w - s->pad_w + j * s->dil_w;
            if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w) continue;
            double v = x[p * s->h * s->w + ih * s->w + iw];
            if (best < 0 || v > m) {
              m = v;
              best = ih * s->w + iw;
            }
          }
        y[(p * s->out_h + oh) * s->out_w + ow] = m;
        idx[(p * s->out_h + oh) * s->out_w + ow] = best;
      }
}

static void naive_avg(const lc_pool2d_shape *s, int cip, const double *x, double *y)
{
  for (int64_t p = 0; p < s->n * s->c; p++)
    for (int64_t oh = 0; oh < s->out_h; oh++)
      for (int64_t ow = 0; ow < s->out_w; ow++) {
        double sum = 0;
        int64_t real = 0, padded = 0;
        for (int64_t i = 0; i < s->kh; i++)
          for (int64_t j = 0; j < s->kw; j++) {
            int64_t ih = oh * s->stride_h - s->pad_h + i, iw = ow * s->stride_w - s->pad_w + j;
            /* taps beyond the padded input (ceil mode) count for nothing */
            if (ih >= -s->pad_h && ih < s->h + s->pad_h && iw >= -s->pad_w &&
                iw < s->w + s->pad_w)
              padded++;
            if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w) continue;
            sum += x[p * s->h * s->w + ih * s->w + iw];
            real++;
          }
        y[(p * s->out_h + oh) * s->out_w + ow] = real ? sum / (double)(cip ? padded : real) : 0;
      }
}

static lc_pool2d_shape random_pool(int avg)
{
  for (;;) {
    int64_t k = rng_int(1, 4);
    lc_pool2d_shape s = pool_shape(rng_int(1, 2), rng_int(1, 3), rng_int(1, 9), rng_int(1, 9),
                                   k, rng_int(1, 3), rng_int(0, k / 2), avg ? 1 : rng_int(1, 2),
                                   (int)rng_int(0, 1));
    s.kw = rng_int(1, 4);
    s.stride_w = rng_int(1, 3);
    s.pad_w = rng_int(0, s.kw / 2);
    if (lc_pool2d_shape_finish(&s, avg) == LC_POOL_OK) return s;
  }
}

static void describe(const lc_pool2d_shape *s, char *buf, size_t n)
{
  snprintf(buf, n, "%lldx%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld ceil%d -> %lldx%lld",
           (long long)s->h, (long long)s->w, (long long)s->kh, (long long)s->kw,
           (long long)s->stride_h, (long long)s->stride_w, (long long)s->pad_h,
           (long long)s->pad_w, (long long)s->dil_h, s->ceil_mode, (long long)s->out_h,
           (long long)s->out_w);
}

typedef struct fd_ctx {
  const lc_pool2d_shape *s;
  int kind, cip;  /* kind 0 avg, 1 adaptive, 2 max */
  int64_t oh, ow;
  double *x, *r, *y;
  int64_t *idx;
} fd_ctx;

static fd_ctx fd_make(const lc_pool2d_shape *s, int kind, int cip, int64_t oh, int64_t ow)
{
  fd_ctx c = {s, kind, cip, oh, ow, rng_array(s->n * s->c * s->h * s->w, -1, 1), NULL, NULL,
              NULL};
  return c;
}

static int64_t fd_out_numel(const fd_ctx *c)
{
  return c->s->n * c->s->c * (c->kind == 1 ? c->oh * c->ow : c->s->out_h * c->s->out_w);
}

static double fd_loss(void *p)
{
  fd_ctx *c = p;
  const lc_pool2d_shape *s = c->s;
  if (c->kind == 0) lc_avg_pool2d_forward_f64(s, c->cip, 0, c->x, c->y);
  else if (c->kind == 1)
    lc_adaptive_avg_pool2d_forward_f64(s->n * s->c, s->h, s->w, c->oh, c->ow, c->x, c->y);
  else lc_max_pool2d_forward_f64(s, c->x, c->y, c->idx);
  return dot(c->y, c->r, fd_out_numel(c));
}

static void gradient_check(fd_ctx *c, const char *what)
{
  const lc_pool2d_shape *s = c->s;
  int64_t nx = s->n * s->c * s->h * s->w, ny = fd_out_numel(c);
  c->y = malloc(sizeof(double) * ny);
  c->r = rng_array(ny, -1, 1);
  c->idx = malloc(sizeof(int64_t) * ny);
  double *dx = malloc(sizeof(double) * nx), *fd = malloc(sizeof(double) * nx);
  for (int64_t i = 0; i < nx; i++) dx[i] = NAN;
  fd_loss(c);
  if (c->kind == 0) lc_avg_pool2d_backward_f64(s, c->cip, 0, c->r, dx);
  else if (c->kind == 1)
    lc_adaptive_avg_pool2d_backward_f64(s->n * s->c, s->h, s->w, c->oh, c->ow, c->r, dx);
  else lc_max_pool2d_backward_f64(s, c->r, c->idx, dx);
  finite_diff(fd_loss, c, c->x, nx, 1e-6, fd);
  char d[160];
  describe(s, d, sizeof d);
  check_close(dx, fd, nx, 1e-7, 1e-7, "%s backward vs finite diff %s", what, d);
  free(c->y); free(c->r); free(c->idx); free(dx); free(fd);
}

static void test_random(void)
{
  for (int t = 0; t < 30; t++) {
    int avg = t % 2;
    lc_pool2d_shape s = random_pool(avg);
    char d[160];
    describe(&s, d, sizeof d);
    int64_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.c * s.out_h * s.out_w;
    double *x = rng_array(nx, -1, 1), *y = malloc(sizeof(double) * ny);
    double *want = malloc(sizeof(double) * ny);
    int64_t *idx = malloc(sizeof(int64_t) * ny), *widx = malloc(sizeof(int64_t) * ny);
    if (avg) {
      int cip = (int)rng_int(0, 1);
      naive_avg(&s, cip, x, want);
      lc_avg_pool2d_forward_f64(&s, cip, 0, x, y);
      check_close(y, want, ny, 1e-12, 1e-12, "avg forward %s cip%d", d, cip);
      float *xf = to_f32(x, nx), *yf = malloc(sizeof(float) * ny);
      lc_avg_pool2d_forward_f32(&s, cip, 0, xf, yf);
      double *yd = to_f64(yf, ny);
      check_close(yd, want, ny, 1e-6, 1e-6, "avg forward f32 %s cip%d", d, cip);
      free(xf); free(yf); free(yd);
    } else {
      naive_max(&s, x, want, widx);
      lc_max_pool2d_forward_f64(&s, x, y, idx);
      check_close(y, want, ny, 0, 0, "max forward %s", d);
      check(!memcmp(idx, widx, sizeof(int64_t) * ny), "max indices %s", d);
      float *xf = to_f32(x, nx), *yf = malloc(sizeof(float) * ny);
      lc_max_pool2d_forward_f32(&s, xf, yf, idx);
      double *yd = to_f64(yf, ny);
      check_close(yd, want, ny, 1e-7, 1e-7, "max forward f32 %s", d);
      free(xf); free(yf); free(yd);
    }
    free(x); free(y); free(want); free(idx); free(widx);
  }
}

static void test_gradients(void)
{
  /* the cases that exercise PyTorch's border rules, then random ones */
  lc_pool2d_shape fixed[] = {pool_shape(2, 2, 5, 5, 3, 2, 1, 1, 1),
                             pool_shape(1, 3, 6, 7, 2, 2, 1, 1, 1),
                             pool_shape(2, 1, 7, 5, 3, 3, 1, 1, 0)};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    lc_pool2d_shape_finish(&fixed[i], 1);
    for (int cip = 0; cip < 2; cip++) {
      fd_ctx c = fd_make(&fixed[i], 0, cip, 0, 0);
      gradient_check(&c, cip ? "avg count_include_pad" : "avg exclude pad");
      free(c.x);
    }
  }
  for (int t = 0; t < 10; t++) {
    int kind = t % 3;
    lc_pool2d_shape s = random_pool(kind != 2);
    fd_ctx c = fd_make(&s, kind, (int)rng_int(0, 1), rng_int(1, s.h + 2), rng_int(1, s.w + 2));
    gradient_check(&c, kind == 0 ? "avg" : kind == 1 ? "adaptive avg" : "max");
    free(c.x);
  }
  /* adaptive: the LeNet/ResNet head (7x7 -> 1x1) and a non-divisible upsample */
  lc_pool2d_shape s = pool_shape(2, 3, 7, 7, 1, 1, 0, 1, 0);
  lc_pool2d_shape_finish(&s, 1);
  fd_ctx c = fd_make(&s, 1, 0, 1, 1);
  gradient_check(&c, "adaptive avg 7x7 -> 1x1");
  c.oh = 3;
  c.ow = 10;
  gradient_check(&c, "adaptive avg 7x7 -> 3x10");
  free(c.x);
}

/* A plane count large enough for the threaded path, against the serial naive reference. */
static void test_threaded(void)
{
  lc_pool2d_shape s = pool_shape(64, 6, 28, 28, 2, 2, 0, 1, 0);
  lc_pool2d_shape_finish(&s, 1);
  int64_t nx = 64 * 6 * 28 * 28, ny = 64 * 6 * 14 * 14;
  double *x = rng_array(nx, -1, 1), *y = malloc(sizeof(double) * ny);
  double *want = malloc(sizeof(double) * ny);
  naive_avg(&s, 1, x, want);
  lc_avg_pool2d_forward_f64(&s, 1, 0, x, y);
  check_close(y, want, ny, 1e-12, 1e-12, "LeNet avg pool 2x2 on (64, 6, 28, 28)");
  free(x); free(y); free(want);
}

/* Windows that tile the input take a shorter loop (stride = kernel, no padding); it must give
 * the general loop's bits, forward and backward, in float32 too. divisor_override equal to the
 * window's size sends the same pooling through the general loop. Odd sizes leave a border
 * that no window covers: its gradient is zero. */
static void test_tiled_matches_general(void)
{
  const int64_t cases[][4] = {{28, 28, 2, 2}, {10, 10, 2, 2}, {7, 9, 2, 2}, {9, 11, 3, 3}, {6, 6, 1, 1}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    lc_pool2d_shape s = pool_shape(3, 5, cases[k][0], cases[k][1], cases[k][2], cases[k][3], 0, 1, 0);
    lc_pool2d_shape_finish(&s, 1);
    int64_t nx = 15 * s.h * s.w, ny = 15 * s.out_h * s.out_w, window = s.kh * s.kw;
    float *x = malloc(sizeof(float) * nx), *dy = malloc(sizeof(float) * ny);
    float *y1 = malloc(sizeof(float) * ny), *y2 = malloc(sizeof(float) * ny);
    float *dx1 = malloc(sizeof(float) * nx), *dx2 = malloc(sizeof(float) * nx);
    double *dx64 = rng_array(nx, -3, 3), *dy64 = rng_array(ny, -3, 3);
    for (int64_t i = 0; i < nx; i++) { x[i] = (float)dx64[i]; dx1[i] = dx2[i] = 7; }
    for (int64_t i = 0; i < ny; i++) dy[i] = (float)dy64[i];
    lc_avg_pool2d_forward_f32(&s, 1, 0, x, y1);
    lc_avg_pool2d_forward_f32(&s, 1, window, x, y2);
    lc_avg_pool2d_backward_f32(&s, 1, 0, dy, dx1);
    lc_avg_pool2d_backward_f32(&s, 1, window, dy, dx2);
    char what[96];
    snprintf(what, sizeof what, "avg pool %lldx%lld k%lld: tiled loop = general loop, forward",
             (long long)s.h, (long long)s.w, (long long)s.kh);
    check(memcmp(y1, y2, sizeof(float) * ny) == 0, what);
    snprintf(what, sizeof what, "avg pool %lldx%lld k%lld: tiled loop = general loop, backward",
             (long long)s.h, (long long)s.w, (long long)s.kh);
    check(memcmp(dx1, dx2, sizeof(float) * nx) == 0, what);
    free(x); free(dy); free(y1); free(y2); free(dx1); free(dx2); free(dx64); free(dy64);
  }
}

int main(void)
{
  rng_seed(7);
  test_out_sizes();
  test_against_pytorch();
  test_random();
  test_gradients();
  test_threaded();
  test_tiled_matches_general();
  return check_done("test_kernels_pool");
}
