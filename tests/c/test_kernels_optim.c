/* Optimizer kernels: three steps of SGD (momentum + dampening + weight decay, Nesterov) worked
 * out by hand below, and of Adam, AdamW and AMSGrad against the formulas evaluated here in
 * double and against the values PyTorch printed for the same run (torch 2.x, float64).
 * Parameters start at (1, -2); the gradients of the three steps are fixed. */
#include "kernels/cpu/optim.h"
#include "test_kernels_check.h"

#include <string.h>

static const double GRADS[3][2] = {{0.5, -1.0}, {0.25, 2.0}, {-1.0, 0.1}};

static void test_sgd(void)
{
  /* lr 0.1, momentum 0.9, dampening 0.1, weight_decay 0.01. First element:
   *   step 1: d = 0.5 + 0.01 * 1 = 0.51; buf = d = 0.51 (no dampening on the first step);
   *           p = 1 - 0.1 * 0.51 = 0.949
   *   step 2: d = 0.25 + 0.01 * 0.949 = 0.25949; buf = 0.9 * 0.51 + 0.9 * 0.25949 = 0.692541;
   *           p = 0.949 - 0.0692541 = 0.8797459
   *   step 3: d = -1 + 0.008797459 = -0.991202541; buf = 0.9 * 0.692541 - 0.9 * 0.991202541
   *           = -0.2687953869; p = 0.8797459 + 0.02687953869 = 0.90662543869 */
  double want[3][2] = {{0.949, -1.898}, {0.8797459, -1.9844918}, {0.90662543869, -2.06954837738}};
  lc_sgd_params h = {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01};
  double p[2] = {1, -2}, buf[2] = {123, 456};  /* garbage: ignored on the first step */
  float pf[2] = {1, -2}, buff[2] = {0, 0};
  for (int s = 0; s < 3; s++) {
    float gf[2] = {(float)GRADS[s][0], (float)GRADS[s][1]};
    lc_sgd_step_f64(2, p, GRADS[s], buf, &h, s == 0);
    lc_sgd_step_f32(2, pf, gf, buff, &h, s == 0);
    double pd[2] = {pf[0], pf[1]};
    check_close(p, want[s], 2, 1e-14, 1e-14, "SGD momentum/dampening/decay step %d", s + 1);
    check_close(pd, want[s], 2, 1e-6, 1e-6, "SGD float32 step %d", s + 1);
  }
  /* Nesterov, lr 0.1, momentum 0.9, weight_decay 0.01: step 1 d = 0.51, buf = 0.51,
   * d = 0.51 + 0.9 * 0.51 = 0.969, p = 1 - 0.0969 = 0.9031 */
  double wn[3][2] = {{0.9031, -1.8062}, {0.81257411, -2.10014822},
                     {0.942869708191, -2.201336916382}};
  lc_sgd_params hn = {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = 1};
  double q[2] = {1, -2}, bq[2];
  for (int s = 0; s < 3; s++) {
    lc_sgd_step_f64(2, q, GRADS[s], bq, &hn, s == 0);
    check_close(q, wn[s], 2, 1e-14, 1e-14, "SGD Nesterov step %d", s + 1);
  }
  /* plain SGD: no buffer needed */
  lc_sgd_params hp = {.lr = 0.5};
  double r[2] = {1, -2};
  lc_sgd_step_f64(2, r, GRADS[0], NULL, &hp, 1);
  double wr[2] = {0.75, -1.5};
  check_close(r, wr, 2, 0, 0, "plain SGD: p - 0.5 g");
}

/* Adam's update evaluated here in double, element by element, as torch.optim.Adam writes it. */
static void adam_reference(double *p, const double *g0, double *m, double *v, double *vmax,
                           const lc_adam_params *h)
{
  for (int i = 0; i < 2; i++) {
    double g = g0[i];
    if (h->decoupled) p[i] *= 1 - h->lr * h->weight_decay;
    else g += h->weight_decay * p[i];
    m[i] = h->beta1 * m[i] + (1 - h->beta1) * g;
    v[i] = h->beta2 * v[i] + (1 - h->beta2) * g * g;
    if (vmax && v[i] > vmax[i]) vmax[i] = v[i];
    double vv = vmax ? vmax[i] : v[i];
    double denom = sqrt(vv) / sqrt(1 - pow(h->beta2, (double)h->step)) + h->eps;
    p[i] -= h->lr / (1 - pow(h->beta1, (double)h->step)) * m[i] / denom;
  }
}

static void run_adam(const char *name, lc_adam_params h, int amsgrad, double torch[3][2])
{
  double p[2] = {1, -2}, m[2] = {0}, v[2] = {0}, vm[2] = {0};
  double rp[2] = {1, -2}, rm[2] = {0}, rv[2] = {0}, rvm[2] = {0};
  float pf[2] = {1, -2}, mf[2] = {0}, vf[2] = {0}, vmf[2] = {0};
  for (int s = 0; s < 3; s++) {
    h.step = s + 1;
    float gf[2] = {(float)GRADS[s][0], (float)GRADS[s][1]};
    lc_adam_step_f64(2, p, GRADS[s], m, v, amsgrad ? vm : NULL, &h);
    lc_adam_step_f32(2, pf, gf, mf, vf, amsgrad ? vmf : NULL, &h);
    adam_reference(rp, GRADS[s], rm, rv, amsgrad ? rvm : NULL, &h);
    double pd[2] = {pf[0], pf[1]};
    check_close(p, rp, 2, 1e-14, 1e-13, "%s step %d vs the formula", name, s + 1);
    check_close(p, torch[s], 2, 1e-14, 1e-13, "%s step %d vs PyTorch", name, s + 1);
    check_close(pd, torch[s], 2, 1e-6, 1e-6, "%s float32 step %d vs PyTorch", name, s + 1);
  }
}

static void test_adam(void)
{
  double adam[3][2] = {{0.9900000001666667, -1.9900000000833333},
                       {0.980465827519045, -1.9924795045009343},
                       {0.981037703897073, -1.9941013119201745}};
  run_adam("Adam (weight_decay 0.1)",
           (lc_adam_params){.lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                            .weight_decay = 0.1},
           0, adam);
  double adamw[3][2] = {{0.9890000002, -1.9880000001},
                        {0.9786892040475462, -1.9896730353471075},
                        {0.9797740850842936, -1.9907960959123814}};
  run_adam("AdamW (weight_decay 0.1)",
           (lc_adam_params){.lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                            .weight_decay = 0.1, .decoupled = 1},
           0, adamw);
  double ams[3][2] = {{0.9900000002, -1.9900000001},
                      {0.9806782040477462, -1.9936610353472075},
                      {0.9827417742885411, -1.9967737689478284}};
  run_adam("Adam amsgrad", (lc_adam_params){.lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8},
           1, ams);
}

/* A tensor large enough for the threaded path gives the same values as element-wise calls. */
static void test_threaded(void)
{
  int64_t n = 200000;
  double *p = rng_array(n, -1, 1), *g = rng_array(n, -1, 1), *b = rng_array(n, 0, 1);
  double *p2 = malloc(sizeof(double) * n), *b2 = malloc(sizeof(double) * n);
  memcpy(p2, p, sizeof(double) * n);
  memcpy(b2, b, sizeof(double) * n);
  lc_sgd_params h = {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4};
  lc_sgd_step_f64(n, p, g, b, &h, 0);
  for (int64_t i = 0; i < n; i += 9973) lc_sgd_step_f64(1, p2 + i, g + i, b2 + i, &h, 0);
  int same = 1;
  for (int64_t i = 0; i < n; i += 9973) same = same && p[i] == p2[i] && b[i] == b2[i];
  check(same, "SGD over 200000 elements (threaded) equals single-element calls");
  free(p); free(g); free(b); free(p2); free(b2);
}

int main(void)
{
  test_sgd();
  test_adam();
  test_threaded();
  return check_done("test_kernels_optim");
}
