/* Convolution kernel benchmark: forward, backward_data and backward_weight of the conv layers
 * that dominate LeNet (batch 256) and a ResNet stage (batch 8), in GFLOP/s.
 *
 *   cpu_conv_bench [--threads N] [--f64] [--min-time SECONDS] [--alloc] [--cpu-time]
 *
 * --threads sets the OpenMP thread count (default: omp_get_max_threads(), i.e. OMP_NUM_THREADS
 * or the core count). --alloc lets each call allocate its scratch (scratch == NULL) instead of
 * reusing one buffer, as a runtime with a cached buffer would. --cpu-time measures the process's
 * CPU time instead of wall time: with --threads 1 that is a fair figure on a machine busy with
 * other work (the time spent descheduled is not counted). bench/cpu_conv_torch.py prints
 * the same table for PyTorch. FLOPs are counted as 2 * n * c_out * out_h * out_w * c_in/groups
 * * kh * kw for each of the three passes. The time reported is per call, from the fastest of
 * repeated rounds of calls (each round at least 50 ms), so that other processes on a shared
 * machine disturb the figure as little as possible. */
#include "kernels/cpu/conv.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct layer {
  const char *name;
  int64_t n, c_in, hw, c_out, k, stride, pad;
} layer;

static const layer LAYERS[] = {
  {"lenet.conv1", 256, 1, 28, 6, 5, 1, 2},
  {"lenet.conv2", 256, 6, 14, 16, 5, 1, 0},
  {"resnet.3x3", 8, 64, 56, 64, 3, 1, 1},
};

static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void)
{
  struct timespec t;
  clock_gettime(bench_clock, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *filled(size_t count, size_t elem, unsigned *seed)
{
  void *p = malloc(count * elem);
  if (!p) {
    fprintf(stderr, "cpu_conv_bench: out of memory\n");
    exit(1);
  }
  for (size_t i = 0; i < count; i++) {
    double v = (double)rand_r(seed) / RAND_MAX - 0.5;
    if (elem == sizeof(float)) ((float *)p)[i] = (float)v;
    else ((double *)p)[i] = v;
  }
  return p;
}

typedef struct run_args {
  const lc_conv2d_shape *s;
  int f64, pass;
  void *x, *w, *b, *y, *dy, *dx, *dw, *db, *scratch;
  size_t scratch_bytes;
} run_args;

static int run_once(const run_args *a)
{
  const lc_conv2d_shape *s = a->s;
  if (!a->f64) {
    switch (a->pass) {
    case 0: return lc_conv2d_forward_f32(s, a->x, a->w, a->b, a->y, a->scratch, a->scratch_bytes);
    case 1: return lc_conv2d_backward_data_f32(s, a->dy, a->w, a->dx, a->scratch, a->scratch_bytes);
    default: return lc_conv2d_backward_weight_f32(s, a->x, a->dy, a->dw, a->db, a->scratch,
                                                  a->scratch_bytes);
    }
  }
  switch (a->pass) {
  case 0: return lc_conv2d_forward_f64(s, a->x, a->w, a->b, a->y, a->scratch, a->scratch_bytes);
  case 1: return lc_conv2d_backward_data_f64(s, a->dy, a->w, a->dx, a->scratch, a->scratch_bytes);
  default: return lc_conv2d_backward_weight_f64(s, a->x, a->dy, a->dw, a->db, a->scratch,
                                                a->scratch_bytes);
  }
}

int main(int argc, char **argv)
{
  int f64 = 0, alloc = 0;
  double min_time = 1.0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) omp_set_num_threads(atoi(argv[++i]));
    else if (!strcmp(argv[i], "--f64")) f64 = 1;
    else if (!strcmp(argv[i], "--alloc")) alloc = 1;
    else if (!strcmp(argv[i], "--cpu-time")) bench_clock = CLOCK_PROCESS_CPUTIME_ID;
    else if (!strcmp(argv[i], "--min-time") && i + 1 < argc) min_time = atof(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--threads N] [--f64] [--min-time S] [--alloc] [--cpu-time]\n",
              argv[0]);
      return 2;
    }
  }
  size_t elem = f64 ? sizeof(double) : sizeof(float);
  printf("# luacnn cpu conv, threads %d, %s, scratch %s, %s time\n", omp_get_max_threads(),
         f64 ? "float64" : "float32", alloc ? "allocated per call" : "reused",
         bench_clock == CLOCK_MONOTONIC ? "wall" : "cpu");
  printf("%-13s %-16s %9s %9s\n", "layer", "pass", "ms", "GFLOP/s");
  static const char *PASS[] = {"forward", "backward_data", "backward_weight"};
  unsigned seed = 1;
  for (size_t l = 0; l < sizeof LAYERS / sizeof LAYERS[0]; l++) {
    const layer *L = &LAYERS[l];
    lc_conv2d_shape s = {.n = L->n, .c_in = L->c_in, .h = L->hw, .w = L->hw, .c_out = L->c_out,
                         .kh = L->k, .kw = L->k, .stride_h = L->stride, .stride_w = L->stride,
                         .pad_h = L->pad, .pad_w = L->pad, .dil_h = 1, .dil_w = 1, .groups = 1};
    int rc = lc_conv2d_shape_finish(&s);
    if (rc) {
      fprintf(stderr, "%s: %s\n", L->name, lc_conv2d_strerror(rc));
      return 1;
    }
    size_t nx = (size_t)(s.n * s.c_in * s.h * s.w), ny = (size_t)(s.n * s.c_out * s.out_h * s.out_w);
    size_t nw = (size_t)(s.c_out * s.c_in * s.kh * s.kw);
    run_args a = {.s = &s, .f64 = f64};
    a.x = filled(nx, elem, &seed);
    a.w = filled(nw, elem, &seed);
    a.b = filled((size_t)s.c_out, elem, &seed);
    a.dy = filled(ny, elem, &seed);
    a.y = filled(ny, elem, &seed);
    a.dx = filled(nx, elem, &seed);
    a.dw = filled(nw, elem, &seed);
    a.db = filled((size_t)s.c_out, elem, &seed);
    a.scratch_bytes = alloc ? 0 : lc_conv2d_scratch_bytes(&s, elem);
    a.scratch = alloc ? NULL : malloc(a.scratch_bytes);
    double flops = 2.0 * (double)ny * (double)(s.c_in / s.groups * s.kh * s.kw);
    for (a.pass = 0; a.pass < 3; a.pass++) {
      for (int i = 0; i < 2; i++) run_once(&a);  /* warm-up: page faults, thread start */
      double best = 1e30, start = now();
      do {
        int reps = 0;
        double t0 = now(), el;
        do {
          if ((rc = run_once(&a))) {
            fprintf(stderr, "%s %s: %s\n", L->name, PASS[a.pass], lc_conv2d_strerror(rc));
            return 1;
          }
          reps++;
          el = now() - t0;
        } while (el < 0.05 || reps < 3);
        if (el / reps < best) best = el / reps;
      } while (now() - start < min_time);
      double sec = best;
      printf("%-13s %-16s %9.3f %9.1f\n", L->name, PASS[a.pass], sec * 1e3, flops / sec / 1e9);
      fflush(stdout);
    }
    free(a.x); free(a.w); free(a.b); free(a.dy); free(a.y); free(a.dx); free(a.dw); free(a.db);
    free(a.scratch);
  }
  return 0;
}
