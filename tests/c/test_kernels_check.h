/* A small check helper shared by the kernel tests (tests/c/test_kernels_*.c): each check
 * prints one line, failures are counted, and check_done() prints the closing
 * "N passed, N failed" line and gives the exit status. Also a seeded random generator and
 * central finite differences, since every kernel test needs them. */
#ifndef LC_TEST_KERNELS_CHECK_H
#define LC_TEST_KERNELS_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int check_passed, check_failed;

static inline void check_report(int ok, const char *fmt, va_list ap)
{
  printf("%s ", ok ? "ok  " : "FAIL");
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
  if (ok) check_passed++;
  else check_failed++;
}

/* check(cond, "what %d", ...): one named check. Returns cond. */
static inline int check(int ok, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  check_report(ok, fmt, ap);
  va_end(ap);
  return ok;
}

/* Largest |a - b| / (atol + rtol |b|) over n values must be <= 1; prints the worst entry. */
static inline int check_close(const double *got, const double *want, int64_t n, double atol, double rtol,
                       const char *fmt, ...)
{
  double worst = 0, werr = 0;
  int64_t wi = -1;
  for (int64_t i = 0; i < n; i++) {
    if (got[i] == want[i]) continue;  /* also equal infinities, and exact checks (tol 0) */
    double err = fabs(got[i] - want[i]);
    double ratio = err / (atol + rtol * fabs(want[i]));
    if (!(ratio <= worst)) {  /* NaN counts as worst */
      worst = ratio;
      werr = err;
      wi = i;
    }
  }
  int ok = !(worst > 1) && worst == worst;
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (wi >= 0)
    return check(ok, "%s: max err %.3g at [%lld] (got %.9g, want %.9g)", what, werr,
                 (long long)wi, got[wi], want[wi]);
  return check(ok, "%s: %lld values equal", what, (long long)n);
}

static inline int check_done(const char *name)
{
  printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
  return check_failed ? 1 : 0;
}

/* xorshift64*: reproducible uniform numbers without touching libc's rand state. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static inline void rng_seed(uint64_t s) { rng_state = s * 2654435761ull + 0x9E3779B97F4A7C15ull; }

static inline double rng_uniform(void)  /* [0, 1) */
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

static inline int64_t rng_int(int64_t lo, int64_t hi)  /* [lo, hi] */
{
  return lo + (int64_t)(rng_uniform() * (double)(hi - lo + 1));
}

static inline double *rng_array(int64_t n, double lo, double hi)
{
  double *a = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
  for (int64_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * rng_uniform();
  return a;
}

static inline float *to_f32(const double *a, int64_t n)
{
  float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  for (int64_t i = 0; i < n; i++) f[i] = (float)a[i];
  return f;
}

static inline double *to_f64(const float *a, int64_t n)
{
  double *d = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
  for (int64_t i = 0; i < n; i++) d[i] = a[i];
  return d;
}

/* Central differences of a scalar function f(ctx) with respect to v[0..n): grad[i]. */
static inline void finite_diff(double (*f)(void *), void *ctx, double *v, int64_t n, double h,
                        double *grad)
{
  for (int64_t i = 0; i < n; i++) {
    double keep = v[i];
    v[i] = keep + h;
    double up = f(ctx);
    v[i] = keep - h;
    double down = f(ctx);
    v[i] = keep;
    grad[i] = (up - down) / (2 * h);
  }
}

static inline double dot(const double *a, const double *b, int64_t n)
{
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

#endif
