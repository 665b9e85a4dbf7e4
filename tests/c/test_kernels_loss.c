/* Loss kernels: log-softmax and cross-entropy values against PyTorch's (printed by torch 2.x
 * for the inputs below, including a row of +-1000 that overflows a naive exp), gradients
 * against central finite differences in float64 (log-softmax, cross-entropy with and without
 * label smoothing, per-row and broadcast dloss), the out-of-range target error. */
#include "kernels/cpu/loss.h"
#include "test_kernels_check.h"

static void test_against_pytorch(void)
{
  double x[6] = {1, 2, 3, 1000, 0, -1000}, y[6];
  int64_t t[2] = {2, 0};
  double ls[6] = {-2.4076059644443806, -1.4076059644443804, -0.4076059644443804, 0, -1000, -2000};
  lc_log_softmax_forward_f64(2, 3, x, y);
  check_close(y, ls, 6, 1e-14, 1e-14, "log_softmax (PyTorch), stable at +-1000");
  double loss[2], want[2] = {0.4076059644443804, 0};
  int rc = lc_cross_entropy_forward_f64(2, 3, x, t, 0, loss, NULL);
  check(rc == 0, "cross_entropy rc");
  check_close(loss, want, 2, 1e-14, 1e-14, "cross_entropy per row (PyTorch)");
  double want_ls[2] = {0.5076059644443804, 100};
  lc_cross_entropy_forward_f64(2, 3, x, t, 0.1, loss, NULL);
  check_close(loss, want_ls, 2, 1e-12, 1e-12, "cross_entropy label_smoothing 0.1 (PyTorch)");
  double one = 1, g[6];
  double want_g[6] = {0.0566972398370471, 0.21139513772146432, -0.26809237755851156,
                      0.06666666666666665, -0.03333333333333333, -0.03333333333333333};
  lc_cross_entropy_backward_f64(2, 3, x, t, 0.1, &one, 0, g, NULL);
  check_close(g, want_g, 6, 1e-14, 1e-12, "cross_entropy backward, smoothing 0.1, sum (PyTorch)");

  float xf[6] = {1, 2, 3, 1000, 0, -1000}, lf[2];
  lc_cross_entropy_forward_f32(2, 3, xf, t, 0.1, lf, NULL);
  double ld[2] = {lf[0], lf[1]};
  check_close(ld, want_ls, 2, 1e-6, 1e-6, "cross_entropy float32 (PyTorch)");

  double sm[6];
  lc_softmax_forward_f64(2, 3, x, sm);
  check(fabs(sm[0] + sm[1] + sm[2] - 1) < 1e-15 && sm[3] == 1 && sm[4] == 0,
        "softmax rows sum to 1, no overflow");
}

static void test_targets(void)
{
  double x[20] = {0}, loss[2], g[20], one = 1;
  int64_t t[2] = {3, 10}, bad = -7;
  int rc = lc_cross_entropy_forward_f64(2, 10, x, t, 0, loss, &bad);
  check(rc == LC_LOSS_ETARGET && bad == 1, "target 10 with 10 classes: error at row 1");
  int64_t t2[2] = {-1, 0};
  rc = lc_cross_entropy_backward_f64(2, 10, x, t2, 0, &one, 0, g, &bad);
  check(rc == LC_LOSS_ETARGET && bad == 0, "target -1: error at row 0 (backward too)");
  int64_t t3[2] = {0, 9};
  rc = lc_cross_entropy_forward_f64(2, 10, x, t3, 0, loss, &bad);
  check(rc == 0 && fabs(loss[1] - log(10.0)) < 1e-15,
        "targets 0 and 9 accepted; uniform logits give log(10)");
}

typedef struct fd_ctx {
  int64_t rows, classes;
  int kind;  /* 0 log_softmax, 1 cross-entropy */
  double smoothing;
  double *x, *r, *y;
  int64_t *t;
} fd_ctx;

static double fd_loss(void *p)
{
  fd_ctx *c = p;
  if (c->kind == 0) {
    lc_log_softmax_forward_f64(c->rows, c->classes, c->x, c->y);
    return dot(c->y, c->r, c->rows * c->classes);
  }
  lc_cross_entropy_forward_f64(c->rows, c->classes, c->x, c->t, c->smoothing, c->y, NULL);
  return dot(c->y, c->r, c->rows);
}

static void test_gradients(int64_t rows, int64_t classes, double smoothing)
{
  int64_t n = rows * classes;
  fd_ctx c = {rows, classes, 0, smoothing, rng_array(n, -5, 5), rng_array(n, -1, 1),
              malloc(sizeof(double) * n), malloc(sizeof(int64_t) * rows)};
  for (int64_t r = 0; r < rows; r++) c.t[r] = rng_int(0, classes - 1);
  double *dx = malloc(sizeof(double) * n), *fd = malloc(sizeof(double) * n);

  lc_log_softmax_forward_f64(rows, classes, c.x, c.y);
  lc_log_softmax_backward_f64(rows, classes, c.y, c.r, dx);
  finite_diff(fd_loss, &c, c.x, n, 1e-6, fd);
  check_close(dx, fd, n, 1e-8, 1e-7, "log_softmax backward vs finite diff (%lld x %lld)",
              (long long)rows, (long long)classes);

  c.kind = 1;  /* per-row dloss: the first `rows` values of r */
  lc_cross_entropy_backward_f64(rows, classes, c.x, c.t, smoothing, c.r, 1, dx, NULL);
  finite_diff(fd_loss, &c, c.x, n, 1e-6, fd);
  check_close(dx, fd, n, 1e-8, 1e-7,
              "cross_entropy backward vs finite diff (%lld x %lld, smoothing %g)",
              (long long)rows, (long long)classes, smoothing);

  /* mean reduction: one broadcast dloss of 1/rows */
  double inv = 1.0 / (double)rows, *dm = malloc(sizeof(double) * n);
  for (int64_t r = 0; r < rows; r++) c.r[r] = inv;
  lc_cross_entropy_backward_f64(rows, classes, c.x, c.t, smoothing, &inv, 0, dm, NULL);
  lc_cross_entropy_backward_f64(rows, classes, c.x, c.t, smoothing, c.r, 1, dx, NULL);
  check_close(dm, dx, n, 0, 1e-15, "dloss stride 0 broadcasts like a per-row dloss");

  /* float32 against float64 */
  float *xf = to_f32(c.x, n), *lf = malloc(sizeof(float) * rows);
  lc_cross_entropy_forward_f32(rows, classes, xf, c.t, smoothing, lf, NULL);
  double *xd = to_f64(xf, n), *l64 = malloc(sizeof(double) * rows);
  lc_cross_entropy_forward_f64(rows, classes, xd, c.t, smoothing, l64, NULL);
  double *lfd = to_f64(lf, rows);
  check_close(lfd, l64, rows, 1e-6, 1e-6, "cross_entropy float32 vs float64");
  free(c.x); free(c.r); free(c.y); free(c.t); free(dx); free(fd); free(dm); free(xf); free(lf);
  free(xd); free(l64); free(lfd);
}

/* Enough rows for the threaded path: rows of a big batch agree with the same rows alone. */
static void test_threaded(void)
{
  int64_t rows = 4096, classes = 10, n = rows * classes;
  double *x = rng_array(n, -3, 3), *y = malloc(sizeof(double) * n), one[10];
  lc_log_softmax_forward_f64(rows, classes, x, y);
  lc_log_softmax_forward_f64(1, classes, x + 4000 * classes, one);
  check_close(y + 4000 * classes, one, classes, 0, 0, "threaded log_softmax row 4000");
  free(x); free(y);
}

int main(void)
{
  rng_seed(11);
  test_against_pytorch();
  test_targets();
  test_gradients(5, 7, 0);
  test_gradients(4, 10, 0.1);
  test_gradients(3, 2, 0.5);
  test_gradients(1, 1, 0.2);
  test_threaded();
  return check_done("test_kernels_loss");
}
