/* Batch-norm kernels: a hand-computed case (statistics, running-stat update with the unbiased
 * variance), forwards against a naive two-pass reference, training- and eval-mode backwards
 * against central finite differences in float64 (x, gamma, beta), BatchNorm1d's s = 1,
 * affine-free and stats-free calls, float32 precision with a large mean. */
#include "kernels/cpu/batchnorm.h"
#include "test_kernels_check.h"

#include <string.h>

static void test_hand(void)
{
  /* (n, c, s) = (2, 1, 2): x = 1, 2 | 3, 4: mean 2.5, biased var 1.25, unbiased 5/3 */
  double x[4] = {1, 2, 3, 4}, y[4], mean, invstd, rm = 0, rv = 1, g = 2, b = 0.5;
  int rc = lc_batchnorm_forward_train_f64(2, 1, 2, x, &g, &b, &rm, &rv, 0.1, 1e-5, y, &mean,
                                          &invstd);
  double is = 1 / sqrt(1.25 + 1e-5);
  double want[4] = {-1.5 * is * 2 + 0.5, -0.5 * is * 2 + 0.5, 0.5 * is * 2 + 0.5,
                    1.5 * is * 2 + 0.5};
  check(rc == 0, "forward_train rc");
  check_close(y, want, 4, 1e-12, 1e-12, "hand case y = (x - 2.5) / sqrt(1.25 + eps) * 2 + 0.5");
  check(fabs(mean - 2.5) < 1e-15 && fabs(invstd - is) < 1e-12, "saved mean 2.5, invstd");
  check(fabs(rm - 0.25) < 1e-15, "running_mean 0.9 * 0 + 0.1 * 2.5 = 0.25 (got %.17g)", rm);
  check(fabs(rv - (0.9 + 0.1 * 5.0 / 3.0)) < 1e-15,
        "running_var moves to the unbiased 5/3: 0.9 + 0.1 * 5/3 (got %.17g)", rv);
  float xf[2] = {3, 3}, yf[2], mf, sf;
  check(lc_batchnorm_forward_train_f32(1, 2, 1, xf, NULL, NULL, NULL, NULL, 0.1, 1e-5, yf, &mf,
                                       &sf) == LC_BN_ETOOFEW,
        "one value per channel in training is refused (LC_BN_ETOOFEW)");
  /* eval: running statistics, not the batch's */
  double rmean = 1, rvar = 4, ye[4];
  lc_batchnorm_forward_eval_f64(2, 1, 2, x, &g, &b, &rmean, &rvar, 0, ye);
  double we[4] = {0.5, 1.5, 2.5, 3.5};
  check_close(ye, we, 4, 1e-12, 1e-12, "eval y = (x - 1) / 2 * 2 + 0.5");
}

/* Naive per-channel statistics over (n, s), straight from the definition. */
static void naive_train(int64_t n, int64_t c, int64_t s, const double *x, const double *g,
                        const double *b, double eps, double *y, double *mean, double *var)
{
  for (int64_t ch = 0; ch < c; ch++) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < s; j++) sum += x[(i * c + ch) * s + j];
    double m = sum / (double)(n * s);
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < s; j++) sq += pow(x[(i * c + ch) * s + j] - m, 2);
    double v = sq / (double)(n * s);
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < s; j++) {
        int64_t k = (i * c + ch) * s + j;
        y[k] = (x[k] - m) / sqrt(v + eps) * (g ? g[ch] : 1) + (b ? b[ch] : 0);
      }
    mean[ch] = m;
    var[ch] = v;
  }
}

typedef struct fd_ctx {
  int64_t n, c, s;
  int train;
  double *x, *g, *b, *rm, *rv, *r, *y, *mean, *invstd;
} fd_ctx;

static double fd_loss(void *p)
{
  fd_ctx *k = p;
  if (k->train)
    lc_batchnorm_forward_train_f64(k->n, k->c, k->s, k->x, k->g, k->b, NULL, NULL, 0.1, 1e-5,
                                   k->y, k->mean, k->invstd);
  else
    lc_batchnorm_forward_eval_f64(k->n, k->c, k->s, k->x, k->g, k->b, k->rm, k->rv, 1e-5, k->y);
  return dot(k->y, k->r, k->n * k->c * k->s);
}

static void test_case(int64_t n, int64_t c, int64_t s, int affine)
{
  int64_t total = n * c * s;
  fd_ctx k = {n, c, s, 1, rng_array(total, -2, 3), affine ? rng_array(c, 0.5, 1.5) : NULL,
              affine ? rng_array(c, -1, 1) : NULL, rng_array(c, -1, 1), rng_array(c, 0.5, 2),
              rng_array(total, -1, 1), malloc(sizeof(double) * total), malloc(sizeof(double) * c),
              malloc(sizeof(double) * c)};
  double *want = malloc(sizeof(double) * total), *wm = malloc(sizeof(double) * c);
  double *wv = malloc(sizeof(double) * c), *rm = malloc(sizeof(double) * c);
  double *rv = malloc(sizeof(double) * c), *wrm = malloc(sizeof(double) * c);
  double *wrv = malloc(sizeof(double) * c), *wis = malloc(sizeof(double) * c);
  memcpy(rm, k.rm, sizeof(double) * c);
  memcpy(rv, k.rv, sizeof(double) * c);
  naive_train(n, c, s, k.x, k.g, k.b, 1e-5, want, wm, wv);
  for (int64_t ch = 0; ch < c; ch++) {
    wrm[ch] = 0.9 * rm[ch] + 0.1 * wm[ch];
    wrv[ch] = 0.9 * rv[ch] + 0.1 * wv[ch] * (double)(n * s) / (double)(n * s - 1);
    wis[ch] = 1 / sqrt(wv[ch] + 1e-5);
  }
  lc_batchnorm_forward_train_f64(n, c, s, k.x, k.g, k.b, rm, rv, 0.1, 1e-5, k.y, k.mean,
                                 k.invstd);
  check_close(k.y, want, total, 1e-12, 1e-12, "train forward (%lld, %lld, %lld) affine %d",
              (long long)n, (long long)c, (long long)s, affine);
  check_close(k.mean, wm, c, 1e-12, 1e-12, "saved mean");
  check_close(k.invstd, wis, c, 1e-12, 1e-12, "saved invstd");
  check_close(rm, wrm, c, 1e-12, 1e-12, "running_mean update");
  check_close(rv, wrv, c, 1e-12, 1e-12, "running_var update (unbiased)");

  /* training backward against finite differences of the training forward */
  double *dx = malloc(sizeof(double) * total), *dg = malloc(sizeof(double) * c);
  double *db = malloc(sizeof(double) * c), *fx = malloc(sizeof(double) * total);
  double *fg = malloc(sizeof(double) * c), *fb = malloc(sizeof(double) * c);
  lc_batchnorm_backward_train_f64(n, c, s, k.x, k.r, k.g, k.mean, k.invstd, dx,
                                  affine ? dg : NULL, affine ? db : NULL);
  finite_diff(fd_loss, &k, k.x, total, 1e-5, fx);
  check_close(dx, fx, total, 1e-6, 1e-6, "train backward dx vs finite diff");
  if (affine) {
    finite_diff(fd_loss, &k, k.g, c, 1e-5, fg);
    finite_diff(fd_loss, &k, k.b, c, 1e-5, fb);
    check_close(dg, fg, c, 1e-6, 1e-6, "train backward dgamma vs finite diff");
    check_close(db, fb, c, 1e-6, 1e-6, "train backward dbeta vs finite diff");
  }

  /* eval mode: forward against the formula, backward against finite differences */
  k.train = 0;
  lc_batchnorm_forward_eval_f64(n, c, s, k.x, k.g, k.b, k.rm, k.rv, 1e-5, k.y);
  for (int64_t i = 0; i < total; i++) {
    int64_t ch = i / s % c;
    want[i] = (k.x[i] - k.rm[ch]) / sqrt(k.rv[ch] + 1e-5) * (affine ? k.g[ch] : 1) +
              (affine ? k.b[ch] : 0);
  }
  check_close(k.y, want, total, 1e-12, 1e-12, "eval forward");
  lc_batchnorm_backward_eval_f64(n, c, s, k.x, k.r, k.g, k.rm, k.rv, 1e-5, dx,
                                 affine ? dg : NULL, affine ? db : NULL);
  finite_diff(fd_loss, &k, k.x, total, 1e-5, fx);
  check_close(dx, fx, total, 1e-7, 1e-7, "eval backward dx vs finite diff");
  if (affine) {
    finite_diff(fd_loss, &k, k.g, c, 1e-5, fg);
    finite_diff(fd_loss, &k, k.b, c, 1e-5, fb);
    check_close(dg, fg, c, 1e-7, 1e-7, "eval backward dgamma vs finite diff");
    check_close(db, fb, c, 1e-7, 1e-7, "eval backward dbeta vs finite diff");
  }

  /* float32 agrees with float64 */
  float *xf = to_f32(k.x, total), *gf = affine ? to_f32(k.g, c) : NULL;
  float *bf = affine ? to_f32(k.b, c) : NULL, *rf = to_f32(k.r, total);
  float *yf = malloc(sizeof(float) * total), *mf = malloc(sizeof(float) * c);
  float *sf = malloc(sizeof(float) * c), *dxf = malloc(sizeof(float) * total);
  lc_batchnorm_forward_train_f32(n, c, s, xf, gf, bf, NULL, NULL, 0.1, 1e-5, yf, mf, sf);
  lc_batchnorm_forward_train_f64(n, c, s, k.x, k.g, k.b, NULL, NULL, 0.1, 1e-5, k.y, k.mean,
                                 k.invstd);
  lc_batchnorm_backward_train_f32(n, c, s, xf, rf, gf, mf, sf, dxf, NULL, NULL);
  lc_batchnorm_backward_train_f64(n, c, s, k.x, k.r, k.g, k.mean, k.invstd, dx, NULL, NULL);
  double *yd = to_f64(yf, total), *dxd = to_f64(dxf, total);
  check_close(yd, k.y, total, 1e-5, 1e-5, "train forward f32 vs f64");
  check_close(dxd, dx, total, 1e-5, 1e-4, "train backward f32 vs f64");

  free(k.x); free(k.g); free(k.b); free(k.rm); free(k.rv); free(k.r); free(k.y); free(k.mean);
  free(k.invstd); free(want); free(wm); free(wv); free(rm); free(rv); free(wrm); free(wrv);
  free(wis); free(dx); free(dg); free(db); free(fx); free(fg); free(fb); free(xf); free(gf);
  free(bf); free(rf); free(yf); free(mf); free(sf); free(dxf); free(yd); free(dxd);
}

/* float32 input with a mean far from zero: the normalisation must subtract before scaling. */
static void test_large_mean(void)
{
  int64_t n = 64, c = 2, s = 16, total = n * c * s;
  double *x = rng_array(total, -0.01, 0.01);
  for (int64_t i = 0; i < total; i++) x[i] += 1000;
  float *xf = to_f32(x, total), *yf = malloc(sizeof(float) * total), mf[2], sf[2];
  double *xd = to_f64(xf, total), *y = malloc(sizeof(double) * total), m[2], is[2];
  lc_batchnorm_forward_train_f32(n, c, s, xf, NULL, NULL, NULL, NULL, 0.1, 1e-5, yf, mf, sf);
  lc_batchnorm_forward_train_f64(n, c, s, xd, NULL, NULL, NULL, NULL, 0.1, 1e-5, y, m, is);
  double *yd = to_f64(yf, total);
  check_close(yd, y, total, 1e-5, 0, "float32 with mean 1000, spread 0.006: y within 1e-5");
  free(x); free(xf); free(yf); free(xd); free(y); free(yd);
}

/* Large enough for the threaded path. */
static void test_threaded(void)
{
  int64_t n = 32, c = 16, s = 196, total = n * c * s;
  double *x = rng_array(total, -1, 1), *y = malloc(sizeof(double) * total);
  double *want = malloc(sizeof(double) * total), m[16], v[16], sm[16], si[16];
  naive_train(n, c, s, x, NULL, NULL, 1e-5, want, m, v);
  lc_batchnorm_forward_train_f64(n, c, s, x, NULL, NULL, NULL, NULL, 0.1, 1e-5, y, sm, si);
  check_close(y, want, total, 1e-12, 1e-12, "BN2d (32, 16, 14x14) threaded forward");
  free(x); free(y); free(want);
}

int main(void)
{
  rng_seed(3);
  test_hand();
  test_case(4, 3, 5, 1);     /* BatchNorm2d-like */
  test_case(3, 2, 1, 1);     /* BatchNorm1d on (3, 2) */
  test_case(8, 5, 1, 0);     /* BatchNorm1d, affine = false */
  test_case(2, 1, 7, 0);
  test_large_mean();
  test_threaded();
  return check_done("test_kernels_batchnorm");
}
