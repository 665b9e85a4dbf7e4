/* The choice between im2col + OpenBLAS and oneDNN for float32 convolutions (see
 * conv_cpu_select.h). */
#include "runtime/conv_cpu_select.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/conv_direct.h"
#include "kernels/cpu/conv_dnnl.h"

enum { FWD, BWD_DATA, BWD_WEIGHT, NDIRS };
enum { PATH_IM2COL = 1, PATH_DNNL = 2 };
static const char *const dir_name[NDIRS] = {"forward", "backward_data", "backward_weight"};

/* oneDNN must be this much faster to be kept: on a tie im2col's thread-count-independent
 * results win. */
#define DNNL_MARGIN 0.95
/* Past this many seconds for the first two runs, the choice is made on them alone. */
#define LONG_CALL 1.0

typedef struct choice {
  int dir, with_bias, threads, path;
  lc_conv2d_shape s;
  struct choice *next;
} choice;

static choice *choices;
static int mode = -1; /* -1: not read from the environment yet */
static int last_path[NDIRS];
static int verbose;

typedef struct call {
  int dir;
  const lc_conv2d_shape *s;
  const float *a, *b; /* forward: x, w; backward_data: dy, w; backward_weight: x, dy */
  const float *bias;  /* forward */
  float *out, *dbias; /* y, dx or dw; backward_weight's dbias */
  void *scratch;
  size_t scratch_bytes;
} call;

static void read_env(void)
{
  if (mode >= 0) return;
  mode = LC_CPU_CONV_AUTO;
  const char *m = getenv("LUACNN_CPU_CONV");
  if (m && !strcmp(m, "im2col")) mode = LC_CPU_CONV_IM2COL;
  if (m && (!strcmp(m, "dnnl") || !strcmp(m, "onednn"))) mode = LC_CPU_CONV_DNNL;
  if (m && !strcmp(m, "benchmark")) mode = LC_CPU_CONV_BENCHMARK;
  const char *v = getenv("LUACNN_CPU_CONV_VERBOSE");
  verbose = v && *v && strcmp(v, "0");
}

lc_cpu_conv_mode lc_cpu_conv_get_mode(void)
{
  read_env();
  return (lc_cpu_conv_mode)mode;
}

void lc_cpu_conv_set_mode(lc_cpu_conv_mode m)
{
  read_env();
  mode = m;
  while (choices) {
    choice *next = choices->next;
    free(choices);
    choices = next;
  }
}

const char *lc_cpu_conv_last_path(int dir)
{
  if (dir < 0 || dir >= NDIRS) return "none";
  return last_path[dir] == PATH_DNNL ? "dnnl" : last_path[dir] == PATH_IM2COL ? "im2col" : "none";
}

static int run_im2col(const call *c)
{
  switch (c->dir) {
  case FWD:
    return lc_conv2d_forward_f32(c->s, c->a, c->b, c->bias, c->out, c->scratch, c->scratch_bytes);
  case BWD_DATA:
    return lc_conv2d_backward_data_f32(c->s, c->a, c->b, c->out, c->scratch, c->scratch_bytes);
  default:
    return lc_conv2d_backward_weight_f32(c->s, c->a, c->b, c->out, c->dbias, c->scratch,
                                         c->scratch_bytes);
  }
}

static int run_dnnl(const call *c)
{
  switch (c->dir) {
  case FWD: return lc_conv2d_dnnl_forward_f32(c->s, c->a, c->b, c->bias, c->out);
  case BWD_DATA: return lc_conv2d_dnnl_backward_data_f32(c->s, c->a, c->b, c->out);
  default: return lc_conv2d_dnnl_backward_weight_f32(c->s, c->a, c->b, c->out, c->dbias);
  }
}

static int has_bias(const call *c) { return c->dir == FWD ? c->bias != NULL : c->dir == BWD_WEIGHT && c->dbias != NULL; }

static int same_shape(const lc_conv2d_shape *a, const lc_conv2d_shape *b)
{
  return a->n == b->n && a->c_in == b->c_in && a->h == b->h && a->w == b->w &&
         a->c_out == b->c_out && a->kh == b->kh && a->kw == b->kw &&
         a->stride_h == b->stride_h && a->stride_w == b->stride_w && a->pad_h == b->pad_h &&
         a->pad_w == b->pad_w && a->dil_h == b->dil_h && a->dil_w == b->dil_w &&
         a->groups == b->groups;
}

static choice *remember(const call *c, int path)
{
  choice *ch = calloc(1, sizeof *ch);
  if (!ch) return NULL;
  ch->dir = c->dir;
  ch->with_bias = has_bias(c);
  ch->threads = omp_get_max_threads();
  ch->s = *c->s;
  ch->path = path;
  ch->next = choices;
  choices = ch;
  return ch;
}

static choice *lookup(const call *c)
{
  int threads = omp_get_max_threads(), bias = has_bias(c);
  for (choice *ch = choices; ch; ch = ch->next)
    if (ch->dir == c->dir && ch->with_bias == bias && ch->threads == threads &&
        same_shape(&ch->s, c->s))
      return ch;
  return NULL;
}

static void describe(const lc_conv2d_shape *s, char *buf, size_t n)
{
  snprintf(buf, n, "n%lld c%lld->%lld %lldx%lld k%lldx%lld s%lld p%lld g%lld",
           (long long)s->n, (long long)s->c_in, (long long)s->c_out, (long long)s->h,
           (long long)s->w, (long long)s->kh, (long long)s->kw, (long long)s->stride_h,
           (long long)s->pad_h, (long long)s->groups);
}

/* Times both paths on this call's arrays and returns the faster; the outputs hold the result
 * of the returned path when it returns (code in *status). */
static int measure(const call *c, int *status)
{
  double t_im = 1e30, t_dn = 1e30;
  int rounds = 2;
  for (int r = 0; r < rounds; r++) {
    double t0 = omp_get_wtime();
    int st = run_im2col(c);
    double t1 = omp_get_wtime();
    if (st != LC_CONV_OK) {
      *status = st;
      return PATH_IM2COL;
    }
    int sd = run_dnnl(c);
    double t2 = omp_get_wtime();
    if (sd != 0) { /* oneDNN failed at run time: im2col, recomputed */
      *status = run_im2col(c);
      return PATH_IM2COL;
    }
    if (t1 - t0 < t_im) t_im = t1 - t0;
    if (t2 - t1 < t_dn) t_dn = t2 - t1;
    if (r == 0 && t2 - t0 > LONG_CALL) break;
  }
  int path = t_dn < DNNL_MARGIN * t_im ? PATH_DNNL : PATH_IM2COL;
  if (verbose) {
    char d[160];
    describe(c->s, d, sizeof d);
    fprintf(stderr, "luacnn conv2d %s %s threads %d: im2col %.3f ms, oneDNN %.3f ms -> %s\n",
            dir_name[c->dir], d, omp_get_max_threads(), t_im * 1e3, t_dn * 1e3,
            path == PATH_DNNL ? "oneDNN" : "im2col");
  }
  *status = path == PATH_DNNL ? LC_CONV_OK : run_im2col(c);
  return path;
}

/* auto mode's rule (see the header): measured on the chapter's networks, 2 threads. The
 * direct kernels of the im2col path (forward, backward_weight) beat oneDNN wherever they fit:
 * VGG's first layer on one channel at 224, 1 -> 16: forward 3.8 against 10.5 ms, weight
 * gradient 8.9 against 12.6 ms (batch 32). */
static int rule_prefers_dnnl(const call *c)
{
  if (c->dir != BWD_DATA && lc_conv2d_direct_fits(c->s)) return 0;
  return c->s->c_out / c->s->groups >= 16;
}

static int dispatch(const call *c)
{
  read_env();
  int path = PATH_IM2COL;
  if (mode != LC_CPU_CONV_IM2COL && c->s->n > 0) {
    choice *ch = lookup(c);
    if (ch) {
      path = ch->path;
    } else {
      int ready = (mode != LC_CPU_CONV_AUTO || rule_prefers_dnnl(c)) &&
                  lc_conv2d_dnnl_prepare(c->dir, c->s, has_bias(c)) == 0;
      if (!ready) {
        path = PATH_IM2COL;
      } else if (mode != LC_CPU_CONV_BENCHMARK) {
        path = PATH_DNNL;
      } else {
        int status;
        path = measure(c, &status);
        remember(c, path);
        last_path[c->dir] = path;
        return status;
      }
      remember(c, path);
      if (verbose && mode != LC_CPU_CONV_BENCHMARK) {
        char d[160];
        describe(c->s, d, sizeof d);
        fprintf(stderr, "luacnn conv2d %s %s threads %d -> %s\n", dir_name[c->dir], d,
                omp_get_max_threads(), path == PATH_DNNL ? "oneDNN" : "im2col");
      }
    }
  }
  last_path[c->dir] = path;
  if (path == PATH_DNNL) {
    if (run_dnnl(c) == 0) return LC_CONV_OK;
    last_path[c->dir] = PATH_IM2COL;
    choice *ch = lookup(c);
    if (ch) ch->path = PATH_IM2COL;
  }
  return run_im2col(c);
}

int lc_cpu_conv2d_forward_f32(const lc_conv2d_shape *s, const float *x, const float *w,
                              const float *bias, float *y, void *scratch, size_t scratch_bytes)
{
  call c = {FWD, s, x, w, bias, y, NULL, scratch, scratch_bytes};
  return dispatch(&c);
}

int lc_cpu_conv2d_backward_data_f32(const lc_conv2d_shape *s, const float *dy, const float *w,
                                    float *dx, void *scratch, size_t scratch_bytes)
{
  call c = {BWD_DATA, s, dy, w, NULL, dx, NULL, scratch, scratch_bytes};
  return dispatch(&c);
}

int lc_cpu_conv2d_backward_weight_f32(const lc_conv2d_shape *s, const float *x, const float *dy,
                                      float *dw, float *dbias, void *scratch, size_t scratch_bytes)
{
  call c = {BWD_WEIGHT, s, x, dy, NULL, dw, dbias, scratch, scratch_bytes};
  return dispatch(&c);
}
