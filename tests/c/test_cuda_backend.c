/* The CUDA backend against the CPU backend, entry by entry of the lc_backend vtable: the same
 * random inputs (also non-contiguous, broadcast (stride 0) and odd-sized: 1, 3, 17, 1023) go
 * through both, and the GPU's results must match the CPU's: exactly where the GPU code does
 * the CPU's arithmetic in the CPU's order (copies, integer ops, pooling, optimizer steps,
 * resize, argmax indices), within a few float32 ulps elsewhere. Also the allocator (reuse,
 * statistics, the out-of-memory message), transfers through the pinned staging buffers, the
 * generator's seeds, cuDNN's benchmark and deterministic modes, and the fused dropout.
 *
 * Exits 77 (skipped) in a build without CUDA or on a machine without a GPU. Run with
 * LUACNN_CUDA_SYNC=1 to pin an asynchronous CUDA error on the op that caused it. */
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include "runtime/cuda/cuda.h"
#include "test_kernels_check.h"

#ifdef LUACNN_WITH_CUDA

#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/image.h"
#include "runtime/backend.h"
#include "runtime/cuda/context.h"
#include "kernels/cuda/nn.h"
#include "kernels/cuda/random.h"
#include "runtime/cuda/conv_cudnn.h"
#include "runtime/tensor.h"

static const lc_backend *CPU, *GPU;
static const lc_device GPU0 = {LC_CUDA, 0};

/* ---- errors: lc_error lands here; an expected one is caught, any other ends the test ---- */

static jmp_buf *catcher;
static char caught[1024];

static void on_error(const char *message)
{
  snprintf(caught, sizeof caught, "%s", message);
  if (catcher) longjmp(*catcher, 1);
  fprintf(stderr, "FAIL unexpected error: %s\n", message);
  exit(1);
}

#define EXPECT_ERROR(stmt, substring, what)                                            \
  do {                                                                                 \
    jmp_buf jb_;                                                                       \
    caught[0] = 0;                                                                     \
    catcher = &jb_;                                                                    \
    if (!setjmp(jb_)) {                                                                \
      stmt;                                                                            \
      catcher = NULL;                                                                  \
      check(0, "%s: no error was raised", what);                                       \
    } else {                                                                           \
      catcher = NULL;                                                                  \
      check(strstr(caught, substring) != NULL, "%s: \"%s\"", what, caught);            \
    }                                                                                  \
  } while (0)

/* ---- tensors on both devices ---- */

typedef struct {
  lc_tensor *c, *g;
} twin;

static size_t nbytes(const lc_tensor *t) { return (size_t)lc_numel(t) * lc_dtype_size(t->dtype); }

static double get(const lc_tensor *t, int64_t i)
{
  const void *p = lc_data(t);
  switch (t->dtype) {
  case LC_FLOAT32: return ((const float *)p)[i];
  case LC_FLOAT64: return ((const double *)p)[i];
  case LC_INT64: return (double)((const int64_t *)p)[i];
  default: return ((const uint8_t *)p)[i];
  }
}

static void set(lc_tensor *t, int64_t i, double v)
{
  void *p = lc_data(t);
  switch (t->dtype) {
  case LC_FLOAT32: ((float *)p)[i] = (float)v; break;
  case LC_FLOAT64: ((double *)p)[i] = v; break;
  case LC_INT64: ((int64_t *)p)[i] = (int64_t)floor(v); break;
  default: ((uint8_t *)p)[i] = (uint8_t)(int64_t)floor(v); break;
  }
}

static lc_tensor *to_gpu(const lc_tensor *c)
{
  lc_tensor *g = lc_empty(c->ndim, c->sizes, c->dtype, GPU0);
  GPU->from_host(g, lc_data(c), nbytes(c));
  return g;
}

static lc_tensor *to_cpu(const lc_tensor *g)
{
  lc_tensor *c = lc_empty(g->ndim, g->sizes, g->dtype, LC_DEVICE_CPU);
  GPU->to_host(lc_data(c), g, nbytes(g));
  return c;
}

static twin twin_rand(int ndim, const int64_t *sizes, lc_dtype dtype, double lo, double hi)
{
  twin t;
  t.c = lc_empty(ndim, sizes, dtype, LC_DEVICE_CPU);
  for (int64_t i = 0; i < lc_numel(t.c); i++) set(t.c, i, lo + (hi - lo) * rng_uniform());
  t.g = to_gpu(t.c);
  return t;
}

static twin twin_empty(int ndim, const int64_t *sizes, lc_dtype dtype)
{
  twin t = {lc_empty(ndim, sizes, dtype, LC_DEVICE_CPU), lc_empty(ndim, sizes, dtype, GPU0)};
  return t;
}

/* The same view (sizes, strides, offset) of both twins' storages. */
static twin twin_view(twin base, int ndim, const int64_t *sizes, const int64_t *strides,
                      int64_t offset)
{
  twin t = {lc_alias(base.c, ndim, sizes, strides, offset), lc_alias(base.g, ndim, sizes, strides, offset)};
  return t;
}

static twin twin_transposed(twin base) /* of a 2-D base */
{
  int64_t sizes[2] = {base.c->sizes[1], base.c->sizes[0]}, strides[2] = {1, base.c->sizes[1]};
  return twin_view(base, 2, sizes, strides, 0);
}

static void twin_free(twin t)
{
  lc_tensor_release(t.c);
  lc_tensor_release(t.g);
}

/* The GPU result must match the CPU's: |got - want| <= atol + rtol |want|, NaN where NaN. */
static int same(const char *what, twin t, double atol, double rtol)
{
  lc_tensor *got = to_cpu(t.g);
  int64_t n = lc_numel(t.c);
  double *a = malloc(sizeof(double) * (size_t)(n ? n : 1)), *b = malloc(sizeof(double) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) {
    a[i] = get(got, i);
    b[i] = get(t.c, i);
    if (a[i] != a[i] && b[i] != b[i]) a[i] = b[i] = 0;
  }
  int ok = check_close(a, b, n, atol, rtol, "%s", what);
  free(a);
  free(b);
  lc_tensor_release(got);
  return ok;
}

static double tol_for(lc_dtype dtype) { return dtype == LC_FLOAT32 ? 2e-6 : dtype == LC_FLOAT64 ? 1e-13 : 0; }

/* ---- copy, fill ---- */

static void test_copy(void)
{
  static const lc_dtype all[4] = {LC_FLOAT32, LC_FLOAT64, LC_INT64, LC_UINT8};
  int64_t base_sizes[2] = {7, 13}, out_sizes[2] = {13, 7};
  for (int s = 0; s < 4; s++)
    for (int d = 0; d < 4; d++) {
      /* values a uint8 can hold where one is involved: C leaves out-of-range float to
       * uint8 conversions undefined */
      bool u8 = all[s] == LC_UINT8 || all[d] == LC_UINT8;
      twin base = twin_rand(2, base_sizes, all[s], u8 ? 0 : -50, u8 ? 256 : 300);
      twin src = twin_transposed(base);
      twin dst = twin_empty(2, out_sizes, all[d]);
      CPU->copy(dst.c, src.c);
      GPU->copy(dst.g, src.g);
      char what[96];
      snprintf(what, sizeof what, "copy %s (transposed) -> %s", lc_dtype_name(all[s]),
               lc_dtype_name(all[d]));
      same(what, dst, 0, 0);
      twin_free(src);
      twin_free(dst);
      twin_free(base);
    }
  /* contiguous, same dtype (the memcpy path), and a strided destination */
  int64_t n[1] = {1023};
  twin a = twin_rand(1, n, LC_FLOAT32, -1, 1), b = twin_empty(1, n, LC_FLOAT32);
  CPU->copy(b.c, a.c);
  GPU->copy(b.g, a.g);
  same("copy float32 contiguous (1023)", b, 0, 0);
  twin dbase = twin_rand(2, base_sizes, LC_FLOAT64, -1, 1);
  twin dview = twin_transposed(dbase);
  twin src = twin_rand(2, out_sizes, LC_INT64, -100, 100);
  CPU->copy(dview.c, src.c);
  GPU->copy(dview.g, src.g);
  same("copy int64 -> float64 into a transposed view", dbase, 0, 0);
  twin_free(a);
  twin_free(b);
  twin_free(dview);
  twin_free(dbase);
  twin_free(src);
}

static void test_fill(void)
{
  int64_t sizes[2] = {9, 10}, vs[2] = {9, 5}, vst[2] = {10, 2};
  static const lc_dtype dts[4] = {LC_FLOAT32, LC_FLOAT64, LC_INT64, LC_UINT8};
  for (int d = 0; d < 4; d++) {
    twin base = twin_rand(2, sizes, dts[d], 0, 100);
    twin v = twin_view(base, 2, vs, vst, 1);
    CPU->fill(v.c, 2.5);
    GPU->fill(v.g, 2.5);
    char what[64];
    snprintf(what, sizeof what, "fill 2.5 every other column, %s", lc_dtype_name(dts[d]));
    same(what, base, 0, 0);
    CPU->fill(base.c, 0);
    GPU->fill(base.g, 0);
    snprintf(what, sizeof what, "fill 0 contiguous, %s", lc_dtype_name(dts[d]));
    same(what, base, 0, 0);
    twin_free(v);
    twin_free(base);
  }
}

/* ---- pointwise ---- */

typedef struct {
  lc_unary_op op;
  const char *name;
  double s0, s1;
  int positive; /* inputs in (0.1, 3) instead of (-3, 3) */
  int ints;     /* also run on int64 (1) and uint8 (2: the result stays in 0..255) */
} unary_case;

static const unary_case unary_cases[] = {
  {LC_UN_NEG, "neg", 0, 0, 0, 1}, {LC_UN_EXP, "exp", 0, 0, 0, 0},
  {LC_UN_LOG, "log", 0, 0, 1, 0}, {LC_UN_SQRT, "sqrt", 0, 0, 1, 0},
  {LC_UN_ABS, "abs", 0, 0, 0, 2}, {LC_UN_SIGMOID, "sigmoid", 0, 0, 0, 0},
  {LC_UN_TANH, "tanh", 0, 0, 0, 0}, {LC_UN_RELU, "relu", 0, 0, 0, 2},
  {LC_UN_SIGN, "sign", 0, 0, 0, 2}, {LC_UN_RECIPROCAL, "reciprocal", 0, 0, 1, 0},
  {LC_UN_ADD_SCALAR, "add 1.25", 1.25, 0, 0, 2}, {LC_UN_MUL_SCALAR, "mul -0.75", -0.75, 0, 0, 1},
  {LC_UN_RSUB_SCALAR, "rsub 2", 2, 0, 0, 1}, {LC_UN_RDIV_SCALAR, "rdiv 3", 3, 0, 1, 0},
  {LC_UN_POW_SCALAR, "pow 2", 2, 0, 0, 0}, {LC_UN_POW_SCALAR, "pow 1.7", 1.7, 0, 1, 0},
  {LC_UN_RPOW_SCALAR, "rpow 2.5", 2.5, 0, 0, 0}, {LC_UN_CLAMP, "clamp -1 1", -1, 1, 0, 2},
  {LC_UN_SIGMOID_GRAD_FROM_OUTPUT, "sigmoid grad", 0, 0, 0, 0},
  {LC_UN_TANH_GRAD_FROM_OUTPUT, "tanh grad", 0, 0, 0, 0}, {LC_UN_STEP, "step", 0, 0, 0, 2},
  {LC_UN_GT_SCALAR, "gt 0.5", 0.5, 0, 0, 2}, {LC_UN_LT_SCALAR, "lt 0.5", 0.5, 0, 0, 2},
  {LC_UN_GE_SCALAR, "ge 1", 1, 0, 0, 2}, {LC_UN_LE_SCALAR, "le 1", 1, 0, 0, 2},
  {LC_UN_EQ_SCALAR, "eq 1", 1, 0, 0, 2}, {LC_UN_NE_SCALAR, "ne 1", 1, 0, 0, 2},
};

/* Input layouts: a plain vector, a transposed matrix, and a row broadcast over 5 rows. */
static twin layout(int which, lc_dtype dtype, double lo, double hi, twin *base)
{
  if (which == 0) {
    int64_t n[1] = {1023};
    *base = twin_rand(1, n, dtype, lo, hi);
    return twin_view(*base, 1, n, base->c->strides, 0);
  }
  if (which == 1) {
    int64_t s[2] = {1023, 17};
    *base = twin_rand(2, s, dtype, lo, hi);
    return twin_transposed(*base);
  }
  int64_t n[1] = {17}, sizes[2] = {5, 17}, strides[2] = {0, 1};
  *base = twin_rand(1, n, dtype, lo, hi);
  return twin_view(*base, 2, sizes, strides, 0);
}

static const char *layout_name[3] = {"(1023)", "transposed (17, 1023)", "broadcast (5, 17)"};

static void test_unary(void)
{
  static const lc_dtype dts[4] = {LC_FLOAT32, LC_FLOAT64, LC_INT64, LC_UINT8};
  for (size_t k = 0; k < sizeof unary_cases / sizeof unary_cases[0]; k++) {
    const unary_case *uc = &unary_cases[k];
    for (int d = 0; d < 4; d++) {
      if (d == 2 && !uc->ints) continue;
      if (d == 3 && uc->ints != 2) continue;
      double lo = uc->positive ? 0.1 : -3, hi = 3;
      if (dts[d] == LC_INT64) lo = -100, hi = 100;
      if (dts[d] == LC_UINT8) lo = 0, hi = 200;
      for (int l = 0; l < 3; l++) {
        twin base, a = layout(l, dts[d], lo, hi, &base);
        lc_dtype out_dtype = LC_UN_IS_COMPARISON(uc->op) ? LC_UINT8 : dts[d];
        twin out = twin_empty(a.c->ndim, a.c->sizes, out_dtype);
        CPU->unary(uc->op, out.c, a.c, uc->s0, uc->s1);
        GPU->unary(uc->op, out.g, a.g, uc->s0, uc->s1);
        char what[128];
        snprintf(what, sizeof what, "unary %s %s %s", uc->name, lc_dtype_name(dts[d]), layout_name[l]);
        same(what, out, tol_for(out_dtype) / 4, tol_for(out_dtype));
        twin_free(out);
        twin_free(a);
        twin_free(base);
      }
    }
  }
}

static void test_binary(void)
{
  static const struct {
    lc_binary_op op;
    const char *name;
  } ops[] = {{LC_BIN_ADD, "add"}, {LC_BIN_SUB, "sub"}, {LC_BIN_MUL, "mul"}, {LC_BIN_DIV, "div"},
             {LC_BIN_POW, "pow"}, {LC_BIN_MAX, "max"}, {LC_BIN_MIN, "min"}, {LC_BIN_GT, "gt"},
             {LC_BIN_LT, "lt"}, {LC_BIN_GE, "ge"}, {LC_BIN_LE, "le"}, {LC_BIN_EQ, "eq"},
             {LC_BIN_NE, "ne"}};
  static const lc_dtype dts[4] = {LC_FLOAT32, LC_FLOAT64, LC_INT64, LC_UINT8};
  int64_t out_sizes[2] = {17, 33};
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
    for (int d = 0; d < 4; d++) {
      lc_binary_op op = ops[k].op;
      bool ints = dts[d] == LC_INT64 || dts[d] == LC_UINT8;
      if (ints && op == LC_BIN_POW) continue;
      if (dts[d] == LC_UINT8 && (op == LC_BIN_SUB || op == LC_BIN_DIV)) continue;
      double alo = op == LC_BIN_POW ? 0.1 : -3, ahi = 3, blo = op == LC_BIN_DIV ? 0.5 : -3, bhi = 3;
      if (dts[d] == LC_INT64) alo = -20, ahi = 20, blo = op == LC_BIN_DIV ? 1 : -20, bhi = 20;
      if (dts[d] == LC_UINT8) alo = 0, ahi = 16, blo = 0, bhi = 16; /* results fit a uint8 */
      /* a: a column broadcast over 33 columns; b: a row broadcast over 17 rows */
      int64_t an[2] = {17, 1}, bn[1] = {33}, as[2] = {1, 0}, bs[2] = {0, 1};
      twin abase = twin_rand(2, an, dts[d], alo, ahi), bbase = twin_rand(1, bn, dts[d], blo, bhi);
      twin a = twin_view(abase, 2, out_sizes, as, 0), b = twin_view(bbase, 2, out_sizes, bs, 0);
      lc_dtype out_dtype = LC_BIN_IS_COMPARISON(op) ? LC_UINT8 : dts[d];
      twin out = twin_empty(2, out_sizes, out_dtype);
      CPU->binary(op, out.c, a.c, b.c);
      GPU->binary(op, out.g, a.g, b.g);
      char what[128];
      snprintf(what, sizeof what, "binary %s %s, broadcast (17, 1) x (33)", ops[k].name,
               lc_dtype_name(dts[d]));
      same(what, out, tol_for(out_dtype) / 4, tol_for(out_dtype));
      /* full operands, b transposed */
      int64_t tn[2] = {33, 17};
      twin a2 = twin_rand(2, out_sizes, dts[d], alo, ahi), bt = twin_rand(2, tn, dts[d], blo, bhi);
      twin b2 = twin_transposed(bt);
      CPU->binary(op, out.c, a2.c, b2.c);
      GPU->binary(op, out.g, a2.g, b2.g);
      snprintf(what, sizeof what, "binary %s %s, (17, 33) x transposed", ops[k].name,
               lc_dtype_name(dts[d]));
      same(what, out, tol_for(out_dtype) / 4, tol_for(out_dtype));
      twin tmp[] = {abase, bbase, a, b, out, a2, bt, b2};
      for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) twin_free(tmp[i]);
    }
  /* NaN propagation of max/min */
  int64_t n[1] = {6};
  twin a = twin_rand(1, n, LC_FLOAT32, -1, 1), b = twin_rand(1, n, LC_FLOAT32, -1, 1);
  set(a.c, 1, NAN);
  set(b.c, 3, NAN);
  lc_tensor_release(a.g);
  lc_tensor_release(b.g);
  a.g = to_gpu(a.c);
  b.g = to_gpu(b.c);
  twin out = twin_empty(1, n, LC_FLOAT32);
  CPU->binary(LC_BIN_MAX, out.c, a.c, b.c);
  GPU->binary(LC_BIN_MAX, out.g, a.g, b.g);
  same("binary max with NaNs", out, 0, 0);
  CPU->binary(LC_BIN_MIN, out.c, a.c, b.c);
  GPU->binary(LC_BIN_MIN, out.g, a.g, b.g);
  same("binary min with NaNs", out, 0, 0);
  twin_free(a);
  twin_free(b);
  twin_free(out);
}

static void test_where(void)
{
  static const lc_dtype dts[2] = {LC_FLOAT32, LC_INT64};
  int64_t sizes[2] = {17, 33}, cn[1] = {33}, cs[2] = {0, 1}, one[1] = {1}, ss[2] = {0, 0};
  for (int d = 0; d < 2; d++) {
    twin cbase = twin_rand(1, cn, LC_UINT8, 0, 2);
    twin cond = twin_view(cbase, 2, sizes, cs, 0);
    twin a = twin_rand(2, sizes, dts[d], -10, 10);
    twin sbase = twin_rand(1, one, dts[d], -10, 10);
    twin b = twin_view(sbase, 2, sizes, ss, 0);
    twin out = twin_empty(2, sizes, dts[d]);
    CPU->where(out.c, cond.c, a.c, b.c);
    GPU->where(out.g, cond.g, a.g, b.g);
    same(dts[d] == LC_FLOAT32 ? "where float32, broadcast cond and scalar" :
                                "where int64, broadcast cond and scalar", out, 0, 0);
    twin tmp[] = {cbase, cond, a, sbase, b, out};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) twin_free(tmp[i]);
  }
}

/* ---- reductions ---- */

static void reduce_case(const char *name, lc_reduce_op op, twin a, int nred, double tol)
{
  int nkeep = a.c->ndim - nred;
  twin out = twin_empty(nkeep, a.c->sizes, a.c->dtype);
  twin idx = twin_empty(nkeep, a.c->sizes, LC_INT64);
  bool with_idx = op == LC_RED_MAX || op == LC_RED_MIN;
  CPU->reduce(op, out.c, with_idx ? idx.c : NULL, a.c, nred);
  GPU->reduce(op, out.g, with_idx ? idx.g : NULL, a.g, nred);
  char what[160];
  snprintf(what, sizeof what, "reduce %s %s %s", op == LC_RED_SUM ? "sum" : op == LC_RED_PROD ? "prod" :
           op == LC_RED_MAX ? "max" : "min", lc_dtype_name(a.c->dtype), name);
  same(what, out, tol / 4, tol);
  if (with_idx) {
    strncat(what, " (indices)", sizeof what - strlen(what) - 1);
    same(what, idx, 0, 0);
  }
  twin_free(out);
  twin_free(idx);
}

static void test_reduce(void)
{
  static const lc_reduce_op ops[4] = {LC_RED_SUM, LC_RED_PROD, LC_RED_MAX, LC_RED_MIN};
  static const lc_dtype dts[4] = {LC_FLOAT32, LC_FLOAT64, LC_INT64, LC_UINT8};
  for (int d = 0; d < 4; d++)
    for (int k = 0; k < 4; k++) {
      lc_reduce_op op = ops[k];
      bool ints = d >= 2;
      if (ints && op == LC_RED_PROD) continue;
      if (dts[d] == LC_UINT8 && op == LC_RED_SUM) continue; /* would overflow a uint8 */
      double lo = op == LC_RED_PROD ? 0.97 : -2, hi = op == LC_RED_PROD ? 1.03 : 2;
      if (dts[d] == LC_INT64) lo = 0, hi = 5; /* ties: the first position must win */
      if (dts[d] == LC_UINT8) lo = 0, hi = 7;
      double tol = dts[d] == LC_FLOAT32 ? 2e-6 : dts[d] == LC_FLOAT64 ? 1e-12 : 0;
      int64_t s2[2] = {17, 1023}, s2t[2] = {1023, 17}, s3[3] = {4, 5, 6}, big[2] = {3, 100000},
              all[1] = {200003}, empty[2] = {3, 0};
      twin a = twin_rand(2, s2, dts[d], lo, hi);
      reduce_case("last dim of (17, 1023)", op, a, 1, tol);
      reduce_case("all of (17, 1023)", op, a, 2, tol);
      twin b = twin_rand(2, s2t, dts[d], lo, hi);
      twin bt = twin_transposed(b); /* reducing its last dim sums columns of b */
      reduce_case("first dim of (1023, 17), permuted", op, bt, 1, tol);
      twin c = twin_rand(3, s3, dts[d], lo, hi);
      int64_t ps[3] = {5, 4, 6}, pst[3] = {6, 30, 1};
      twin cp = twin_view(c, 3, ps, pst, 0);
      reduce_case("dims 1 and 3 of (4, 5, 6), permuted", op, cp, 2, tol);
      if (op != LC_RED_PROD) {
        twin e = twin_rand(2, big, dts[d], lo, hi);
        reduce_case("last dim of (3, 100000) (split)", op, e, 1, tol * 10);
        twin f = twin_rand(1, all, dts[d], lo, hi);
        reduce_case("all of (200003) (split)", op, f, 1, tol * 10);
        twin_free(e);
        twin_free(f);
      }
      twin z = twin_empty(2, empty, dts[d]);
      if (d < 2) reduce_case("last dim of (3, 0) (empty)", op, z, 1, 0);
      twin tmp[] = {a, b, bt, c, cp, z};
      for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) twin_free(tmp[i]);
    }
  /* NaN wins max and min, at its first position */
  int64_t n[2] = {3, 1023};
  twin a = twin_rand(2, n, LC_FLOAT32, -1, 1);
  set(a.c, 5, NAN);
  set(a.c, 700, NAN);
  set(a.c, 1023 + 9, NAN);
  lc_tensor_release(a.g);
  a.g = to_gpu(a.c);
  reduce_case("with NaNs", LC_RED_MAX, a, 1, 0);
  reduce_case("with NaNs", LC_RED_MIN, a, 1, 0);
  twin_free(a);
}

/* ---- matmul ---- */

static void matmul_case(lc_dtype dt, int64_t batch, int64_t m, int64_t k, int64_t n, int ta,
                        int tb, int bcast_b)
{
  twin abase, bbase, a, b;
  double atol = dt == LC_FLOAT32 ? 2e-6 * (double)k : 1e-14 * (double)k;
  double rtol = dt == LC_FLOAT32 ? 1e-5 : 1e-12;
  if (batch == 0) {
    int64_t as[2] = {ta ? k : m, ta ? m : k}, bs[2] = {tb ? n : k, tb ? k : n};
    abase = twin_rand(2, as, dt, -1, 1);
    bbase = twin_rand(2, bs, dt, -1, 1);
    a = ta ? twin_transposed(abase) : twin_view(abase, 2, abase.c->sizes, abase.c->strides, 0);
    b = tb ? twin_transposed(bbase) : twin_view(bbase, 2, bbase.c->sizes, bbase.c->strides, 0);
  } else {
    int64_t as[3] = {batch, m, k}, bs2[2] = {k, n}, bsz[3] = {batch, k, n}, bst[3] = {0, n, 1};
    abase = twin_rand(3, as, dt, -1, 1);
    a = twin_view(abase, 3, as, abase.c->strides, 0);
    if (bcast_b) {
      bbase = twin_rand(2, bs2, dt, -1, 1);
      b = twin_view(bbase, 3, bsz, bst, 0);
    } else {
      bbase = twin_rand(3, bsz, dt, -1, 1);
      b = twin_view(bbase, 3, bsz, bbase.c->strides, 0);
    }
  }
  int64_t cs[3] = {batch, m, n};
  twin c = batch ? twin_empty(3, cs, dt) : twin_empty(2, cs + 1, dt);
  CPU->matmul(c.c, a.c, b.c);
  GPU->matmul(c.g, a.g, b.g);
  char what[160];
  snprintf(what, sizeof what, "matmul %s batch %lld (%lld, %lld) x (%lld, %lld)%s%s%s",
           lc_dtype_name(dt), (long long)batch, (long long)m, (long long)k, (long long)k,
           (long long)n, ta ? " a transposed" : "", tb ? " b transposed" : "",
           bcast_b ? " b broadcast" : "");
  same(what, c, atol, rtol);
  twin tmp[] = {abase, bbase, a, b, c};
  for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) twin_free(tmp[i]);
}

static void test_matmul(void)
{
  static const int64_t shapes[][3] = {{1, 1, 1}, {3, 17, 5}, {17, 129, 33}, {64, 1023, 3}};
  for (int d = 0; d < 2; d++) {
    lc_dtype dt = d ? LC_FLOAT64 : LC_FLOAT32;
    for (int s = 0; s < 4; s++)
      for (int t = 0; t < 4; t++)
        matmul_case(dt, 0, shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t >> 1, 0);
    matmul_case(dt, 4, 17, 33, 9, 0, 0, 0);
    matmul_case(dt, 4, 17, 33, 9, 0, 0, 1);
  }
}

/* ---- generator, transfers ---- */

static void test_random(void)
{
  static const int64_t sizes[4] = {1, 17, 1023, 100003};
  for (int d = 0; d < 2; d++)
    for (int s = 0; s < 4; s++) {
      lc_dtype dt = d ? LC_FLOAT64 : LC_FLOAT32;
      twin u = twin_empty(1, &sizes[s], dt);
      CPU->uniform(u.c, 1234, 7, -2, 3);
      GPU->uniform(u.g, 1234, 7, -2, 3);
      char what[96];
      snprintf(what, sizeof what, "uniform(-2, 3) %s n %lld, same seed", lc_dtype_name(dt),
               (long long)sizes[s]);
      same(what, u, 0, 0);
      CPU->normal(u.c, 99, 123456789, 0.5, 2);
      GPU->normal(u.g, 99, 123456789, 0.5, 2);
      snprintf(what, sizeof what, "normal(0.5, 2) %s n %lld, same seed", lc_dtype_name(dt),
               (long long)sizes[s]);
      same(what, u, d ? 1e-13 : 1e-7, d ? 1e-13 : 3e-7); /* libm may differ in the last bit */
      twin_free(u);
    }
}

static void test_transfers(void)
{
  int64_t n[1] = {9 * (1 << 20) + 13}; /* three staging chunks and a bit */
  lc_tensor *c = lc_empty(1, n, LC_UINT8, LC_DEVICE_CPU);
  uint8_t *p = lc_data(c);
  for (int64_t i = 0; i < n[0]; i++) p[i] = (uint8_t)(i * 7 + (i >> 13));
  lc_tensor *g = to_gpu(c);
  memset(p, 0, (size_t)n[0]); /* the upload was staged: the source may be reused at once */
  lc_tensor *g2 = lc_empty(1, n, LC_UINT8, GPU0);
  GPU->copy(g2, g);
  lc_tensor *back = to_cpu(g2);
  const uint8_t *q = lc_data(back);
  int64_t bad = -1;
  for (int64_t i = 0; i < n[0] && bad < 0; i++)
    if (q[i] != (uint8_t)(i * 7 + (i >> 13))) bad = i;
  check(bad < 0, "9 MiB upload, device copy, download: %s (first difference at %lld)",
        bad < 0 ? "identical" : "DIFFERENT", (long long)bad);
  lc_tensor_release(c);
  lc_tensor_release(g);
  lc_tensor_release(g2);
  lc_tensor_release(back);
}

static void test_allocator(void)
{
  lc_cuda_synchronize();
  lc_cuda_mem_stats s0 = lc_cuda_memory_stats();
  int64_t big[1] = {3 << 20}, small[1] = {1000};
  lc_tensor *a = lc_empty(1, big, LC_UINT8, GPU0), *b = lc_empty(1, small, LC_UINT8, GPU0);
  lc_cuda_mem_stats s1 = lc_cuda_memory_stats();
  check(s1.allocated >= s0.allocated + (3 << 20) + 1000, "allocated grows by what was asked "
        "(%zu -> %zu)", s0.allocated, s1.allocated);
  check(s1.num_allocs == s0.num_allocs + 2, "two allocations counted");
  lc_tensor_release(a);
  lc_tensor_release(b);
  lc_cuda_mem_stats s2 = lc_cuda_memory_stats();
  check(s2.allocated == s0.allocated, "freed blocks leave allocated as it was (%zu)", s2.allocated);
  check(s2.reserved == s1.reserved, "freed blocks stay cached (reserved %zu)", s2.reserved);
  a = lc_empty(1, big, LC_UINT8, GPU0);
  b = lc_empty(1, small, LC_UINT8, GPU0);
  lc_cuda_mem_stats s3 = lc_cuda_memory_stats();
  check(s3.num_segments == s2.num_segments, "the same sizes again reuse the cache (%llu segments)",
        (unsigned long long)s3.num_segments);
  check(s3.peak_allocated >= s1.allocated, "peak allocated %zu", s3.peak_allocated);
  lc_tensor_release(a);
  lc_tensor_release(b);
  /* many sizes, freed in another order: blocks merge back */
  lc_tensor *many[64];
  for (int i = 0; i < 64; i++) {
    int64_t sz[1] = {(int64_t)(rng_uniform() * (i % 3 == 0 ? 5e6 : 2e5)) + 1};
    many[i] = lc_empty(1, sz, LC_FLOAT32, GPU0);
    GPU->fill(many[i], i);
  }
  for (int i = 0; i < 64; i++) lc_tensor_release(many[(i * 37) % 64]);
  lc_cuda_mem_stats s4 = lc_cuda_memory_stats();
  check(s4.allocated == s0.allocated, "64 mixed blocks freed: allocated back to %zu", s4.allocated);
  lc_cuda_empty_cache();
  lc_cuda_mem_stats s5 = lc_cuda_memory_stats();
  check(s5.reserved <= s4.reserved, "empty_cache releases cached segments (%zu -> %zu reserved)",
        s4.reserved, s5.reserved);
  EXPECT_ERROR(GPU->alloc((size_t)1 << 50, GPU0), "could not allocate 1048576.00 GiB",
               "allocating 1 PiB");
  lc_device other = {LC_CUDA, 7};
  EXPECT_ERROR(GPU->alloc(16, other), "cuda:7 is not available", "allocating on cuda:7");
  /* after the out-of-memory error the allocator still works */
  a = lc_empty(1, big, LC_UINT8, GPU0);
  GPU->fill(a, 3);
  lc_tensor *elem = lc_alias(a, 0, NULL, NULL, 12345);
  check(lc_item(elem) == 3, "allocation works after out-of-memory");
  lc_tensor_release(elem);
  lc_tensor_release(a);
}

/* ---- layers ---- */

static lc_conv2d_shape conv_shape(int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout,
                                  int64_t k, int64_t stride, int64_t pad, int64_t dil, int64_t groups)
{
  lc_conv2d_shape s = {n, cin, h, w, cout, k, k, stride, stride, pad, pad, dil, dil, groups, 0, 0};
  lc_conv2d_shape_finish(&s);
  return s;
}

static void conv_case(const char *name, lc_conv2d_shape s, lc_dtype dt)
{
  int64_t xs[4] = {s.n, s.c_in, s.h, s.w}, ws[4] = {s.c_out, s.c_in / s.groups, s.kh, s.kw};
  int64_t ys[4] = {s.n, s.c_out, s.out_h, s.out_w}, bs[1] = {s.c_out};
  twin x = twin_rand(4, xs, dt, -1, 1), w = twin_rand(4, ws, dt, -1, 1), b = twin_rand(1, bs, dt, -1, 1);
  twin y = twin_empty(4, ys, dt), dy = twin_rand(4, ys, dt, -1, 1);
  twin dx = twin_empty(4, xs, dt), dw = twin_empty(4, ws, dt), db = twin_empty(1, bs, dt);
  double terms = (double)(s.c_in / s.groups * s.kh * s.kw);
  double tol = dt == LC_FLOAT32 ? 2e-6 * terms : 1e-13 * terms;
  char what[160];
  CPU->conv2d_forward(&s, x.c, w.c, b.c, y.c);
  GPU->conv2d_forward(&s, x.g, w.g, b.g, y.g);
  snprintf(what, sizeof what, "conv2d forward %s %s", name, lc_dtype_name(dt));
  same(what, y, tol, tol);
  CPU->conv2d_backward_data(&s, dy.c, w.c, dx.c);
  GPU->conv2d_backward_data(&s, dy.g, w.g, dx.g);
  snprintf(what, sizeof what, "conv2d backward data %s %s", name, lc_dtype_name(dt));
  same(what, dx, tol, tol);
  CPU->conv2d_backward_weight(&s, x.c, dy.c, dw.c, db.c);
  GPU->conv2d_backward_weight(&s, x.g, dy.g, dw.g, db.g);
  double wterms = (double)(s.n * s.out_h * s.out_w);
  double wtol = dt == LC_FLOAT32 ? 2e-6 * wterms : 1e-13 * wterms;
  snprintf(what, sizeof what, "conv2d backward weight %s %s", name, lc_dtype_name(dt));
  same(what, dw, wtol, wtol);
  snprintf(what, sizeof what, "conv2d backward bias %s %s", name, lc_dtype_name(dt));
  same(what, db, wtol, wtol);
  twin tmp[] = {x, w, b, y, dy, dx, dw, db};
  for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) twin_free(tmp[i]);
}

static void test_conv(void)
{
  for (int d = 0; d < 2; d++) {
    lc_dtype dt = d ? LC_FLOAT64 : LC_FLOAT32;
    conv_case("LeNet conv1 (8, 1, 28, 28) k5 p2", conv_shape(8, 1, 28, 28, 6, 5, 1, 2, 1, 1), dt);
    conv_case("LeNet conv2 (8, 6, 14, 14) k5", conv_shape(8, 6, 14, 14, 16, 5, 1, 0, 1, 1), dt);
    conv_case("(2, 4, 11, 9) k3 s2 p1 dil2 groups2", conv_shape(2, 4, 11, 9, 6, 3, 2, 1, 2, 2), dt);
    conv_case("1x1 (3, 8, 7, 7)", conv_shape(3, 8, 7, 7, 4, 1, 1, 0, 1, 1), dt);
  }
  lc_cuda_set_benchmark(true);
  conv_case("LeNet conv2, benchmark mode", conv_shape(8, 6, 14, 14, 16, 5, 1, 0, 1, 1), LC_FLOAT32);
  lc_cuda_set_deterministic(true);
  conv_case("AlexNet-like (4, 16, 27, 27) k5 p2, deterministic",
            conv_shape(4, 16, 27, 27, 32, 5, 1, 2, 1, 1), LC_FLOAT32);
  /* deterministic: two backward-weight passes agree bit for bit */
  lc_conv2d_shape s = conv_shape(4, 16, 27, 27, 32, 5, 1, 2, 1, 1);
  int64_t xs[4] = {4, 16, 27, 27}, ws[4] = {32, 16, 5, 5}, ys[4] = {4, 32, 27, 27};
  twin x = twin_rand(4, xs, LC_FLOAT32, -1, 1), dy = twin_rand(4, ys, LC_FLOAT32, -1, 1);
  twin dw1 = twin_empty(4, ws, LC_FLOAT32), dw2 = twin_empty(4, ws, LC_FLOAT32);
  GPU->conv2d_backward_weight(&s, x.g, dy.g, dw1.g, NULL);
  GPU->conv2d_backward_weight(&s, x.g, dy.g, dw2.g, NULL);
  lc_tensor_release(dw1.c);
  dw1.c = to_cpu(dw2.g);
  same("deterministic mode: backward weight twice, bitwise equal", dw1, 0, 0);
  lc_cuda_set_deterministic(false);
  lc_cuda_set_benchmark(false);
  twin tmp[] = {x, dy, dw1, dw2};
  for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) twin_free(tmp[i]);
  /* an empty batch zeroes the weight gradient */
  lc_conv2d_shape e = conv_shape(0, 3, 8, 8, 4, 3, 1, 1, 1, 1);
  int64_t es[4] = {0, 3, 8, 8}, ews[4] = {4, 3, 3, 3}, eys[4] = {0, 4, 8, 8}, ebs[1] = {4};
  twin ex = twin_empty(4, es, LC_FLOAT32), edy = twin_empty(4, eys, LC_FLOAT32);
  twin edw = twin_rand(4, ews, LC_FLOAT32, -1, 1), edb = twin_rand(1, ebs, LC_FLOAT32, -1, 1);
  CPU->conv2d_backward_weight(&e, ex.c, edy.c, edw.c, edb.c);
  GPU->conv2d_backward_weight(&e, ex.g, edy.g, edw.g, edb.g);
  same("conv2d backward weight of an empty batch: zeros", edw, 0, 0);
  same("conv2d backward bias of an empty batch: zeros", edb, 0, 0);
  twin tmp2[] = {ex, edy, edw, edb};
  for (size_t i = 0; i < sizeof tmp2 / sizeof tmp2[0]; i++) twin_free(tmp2[i]);
}

static lc_pool2d_shape pool_shape(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k,
                                  int64_t stride, int64_t pad, int64_t dil, int ceil_mode, int avg)
{
  lc_pool2d_shape s = {n, c, h, w, k, k, stride, stride, pad, pad, dil, dil, ceil_mode, 0, 0};
  int code = lc_pool2d_shape_finish(&s, avg);
  if (code) fprintf(stderr, "bad pool shape in the test: %s\n", lc_pool2d_strerror(code));
  return s;
}

static void pool_case(const char *name, lc_pool2d_shape s, int avg, int cip, int64_t divisor, lc_dtype dt)
{
  int64_t xs[4] = {s.n, s.c, s.h, s.w}, ys[4] = {s.n, s.c, s.out_h, s.out_w};
  twin x = twin_rand(4, xs, dt, -3, 3), y = twin_empty(4, ys, dt), idx = twin_empty(4, ys, LC_INT64);
  twin dy = twin_rand(4, ys, dt, -1, 1), dx = twin_empty(4, xs, dt);
  double tol = dt == LC_FLOAT32 ? 1e-7 : 1e-15;
  char what[160];
  if (avg) {
    CPU->avg_pool2d_forward(&s, cip, divisor, x.c, y.c);
    GPU->avg_pool2d_forward(&s, cip, divisor, x.g, y.g);
    CPU->avg_pool2d_backward(&s, cip, divisor, dy.c, dx.c);
    GPU->avg_pool2d_backward(&s, cip, divisor, dy.g, dx.g);
  } else {
    CPU->max_pool2d_forward(&s, x.c, y.c, idx.c);
    GPU->max_pool2d_forward(&s, x.g, y.g, idx.g);
    snprintf(what, sizeof what, "max_pool2d %s %s indices", name, lc_dtype_name(dt));
    same(what, idx, 0, 0);
    CPU->max_pool2d_backward(&s, dy.c, idx.c, dx.c);
    GPU->max_pool2d_backward(&s, dy.g, idx.g, dx.g);
  }
  snprintf(what, sizeof what, "%s %s %s forward", avg ? "avg_pool2d" : "max_pool2d", name, lc_dtype_name(dt));
  same(what, y, tol, tol);
  snprintf(what, sizeof what, "%s %s %s backward", avg ? "avg_pool2d" : "max_pool2d", name, lc_dtype_name(dt));
  same(what, dx, tol, tol);
  twin tmp[] = {x, y, idx, dy, dx};
  for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) twin_free(tmp[i]);
}

static void adaptive_case(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow, lc_dtype dt)
{
  int64_t xs[4] = {n, c, h, w}, ys[4] = {n, c, oh, ow};
  twin x = twin_rand(4, xs, dt, -3, 3), y = twin_empty(4, ys, dt);
  twin dy = twin_rand(4, ys, dt, -1, 1), dx = twin_empty(4, xs, dt);
  CPU->adaptive_avg_pool2d_forward(x.c, y.c);
  GPU->adaptive_avg_pool2d_forward(x.g, y.g);
  CPU->adaptive_avg_pool2d_backward(dy.c, dx.c);
  GPU->adaptive_avg_pool2d_backward(dy.g, dx.g);
  double tol = dt == LC_FLOAT32 ? 1e-7 : 1e-15;
  char what[128];
  snprintf(what, sizeof what, "adaptive_avg_pool2d (%lld, %lld) -> (%lld, %lld) %s forward",
           (long long)h, (long long)w, (long long)oh, (long long)ow, lc_dtype_name(dt));
  same(what, y, tol, tol);
  snprintf(what, sizeof what, "adaptive_avg_pool2d (%lld, %lld) -> (%lld, %lld) %s backward",
           (long long)h, (long long)w, (long long)oh, (long long)ow, lc_dtype_name(dt));
  same(what, dx, tol, tol);
  twin tmp[] = {x, y, dy, dx};
  for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) twin_free(tmp[i]);
}

static void test_pool(void)
{
  for (int d = 0; d < 2; d++) {
    lc_dtype dt = d ? LC_FLOAT64 : LC_FLOAT32;
    pool_case("k3 s2 p1 (2, 3, 17, 17)", pool_shape(2, 3, 17, 17, 3, 2, 1, 1, 0, 0), 0, 0, 0, dt);
    pool_case("k3 s2 p1 ceil (2, 3, 17, 16)", pool_shape(2, 3, 17, 16, 3, 2, 1, 1, 1, 0), 0, 0, 0, dt);
    pool_case("k3 s1 p1 dil2 (1, 2, 13, 11)", pool_shape(1, 2, 13, 11, 3, 1, 1, 2, 0, 0), 0, 0, 0, dt);
    pool_case("LeNet k2 s2 (8, 6, 28, 28)", pool_shape(8, 6, 28, 28, 2, 2, 0, 1, 0, 1), 1, 1, 0, dt);
    pool_case("k3 s2 p1 ceil, count_include_pad", pool_shape(2, 3, 17, 16, 3, 2, 1, 1, 1, 1), 1, 1, 0, dt);
    pool_case("k3 s2 p1 ceil, exclude pad", pool_shape(2, 3, 17, 16, 3, 2, 1, 1, 1, 1), 1, 0, 0, dt);
    pool_case("k3 s2 p1, divisor 5", pool_shape(2, 3, 9, 10, 3, 2, 1, 1, 0, 1), 1, 1, 5, dt);
    adaptive_case(2, 3, 7, 7, 3, 3, dt);
    adaptive_case(2, 3, 5, 5, 7, 7, dt);
    adaptive_case(1, 2, 13, 10, 4, 6, dt);
    adaptive_case(2, 4, 6, 6, 1, 1, dt);
  }
}

static void bn_case(const char *name, int ndim, const int64_t *xs, int affine, int track, lc_dtype dt)
{
  int64_t c[1] = {xs[1]};
  twin x = twin_rand(ndim, xs, dt, 3, 8); /* the mean far from 0 */
  twin y = twin_empty(ndim, xs, dt), dy = twin_rand(ndim, xs, dt, -1, 1), dx = twin_empty(ndim, xs, dt);
  twin gamma = twin_rand(1, c, dt, 0.5, 1.5), beta = twin_rand(1, c, dt, -1, 1);
  twin rm = twin_rand(1, c, dt, -1, 1), rv = twin_rand(1, c, dt, 0.5, 2);
  twin sm = twin_empty(1, c, dt), si = twin_empty(1, c, dt), dg = twin_empty(1, c, dt), db = twin_empty(1, c, dt);
  double tol = dt == LC_FLOAT32 ? 2e-5 : 1e-11;
  const lc_tensor *gc = affine ? gamma.c : NULL, *gg = affine ? gamma.g : NULL;
  const lc_tensor *bc = affine ? beta.c : NULL, *bg = affine ? beta.g : NULL;
  char what[160];
#define BN_SAME(label, t)                                                                  \
  do {                                                                                     \
    snprintf(what, sizeof what, "batch_norm %s %s %s", name, lc_dtype_name(dt), label);  \
    same(what, t, tol, tol);                                                               \
  } while (0)
  CPU->batchnorm_forward_train(x.c, gc, bc, track ? rm.c : NULL, track ? rv.c : NULL, 0.1, 1e-5,
                               y.c, sm.c, si.c);
  GPU->batchnorm_forward_train(x.g, gg, bg, track ? rm.g : NULL, track ? rv.g : NULL, 0.1, 1e-5,
                               y.g, sm.g, si.g);
  BN_SAME("train y", y);
  BN_SAME("train saved mean", sm);
  BN_SAME("train saved invstd", si);
  if (track) {
    BN_SAME("running mean", rm);
    BN_SAME("running var", rv);
  }
  CPU->batchnorm_backward_train(x.c, dy.c, gc, sm.c, si.c, dx.c, dg.c, db.c);
  GPU->batchnorm_backward_train(x.g, dy.g, gg, sm.g, si.g, dx.g, dg.g, db.g);
  BN_SAME("train dx", dx);
  BN_SAME("train dgamma", dg);
  BN_SAME("train dbeta", db);
  /* eval mode, with the running statistics the CPU has now (uploaded, so both see the same) */
  lc_tensor_release(rm.g);
  lc_tensor_release(rv.g);
  rm.g = to_gpu(rm.c);
  rv.g = to_gpu(rv.c);
  CPU->batchnorm_forward_eval(x.c, gc, bc, rm.c, rv.c, 1e-5, y.c);
  GPU->batchnorm_forward_eval(x.g, gg, bg, rm.g, rv.g, 1e-5, y.g);
  BN_SAME("eval y", y);
  CPU->batchnorm_backward_eval(x.c, dy.c, gc, rm.c, rv.c, 1e-5, dx.c, dg.c, db.c);
  GPU->batchnorm_backward_eval(x.g, dy.g, gg, rm.g, rv.g, 1e-5, dx.g, dg.g, db.g);
  BN_SAME("eval dx", dx);
  BN_SAME("eval dgamma", dg);
  BN_SAME("eval dbeta", db);
  CPU->batchnorm_backward_eval(x.c, dy.c, gc, rm.c, rv.c, 1e-5, dx.c, NULL, NULL);
  GPU->batchnorm_backward_eval(x.g, dy.g, gg, rm.g, rv.g, 1e-5, dx.g, NULL, NULL);
  BN_SAME("eval dx only", dx);
#undef BN_SAME
  twin tmp[] = {x, y, dy, dx, gamma, beta, rm, rv, sm, si, dg, db};
  for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) twin_free(tmp[i]);
}

static void test_batchnorm(void)
{
  int64_t lenet[4] = {16, 6, 28, 28}, flat[2] = {17, 3}, small[4] = {4, 5, 3, 3}, one[4] = {3, 7, 1, 1};
  for (int d = 0; d < 2; d++) {
    lc_dtype dt = d ? LC_FLOAT64 : LC_FLOAT32;
    bn_case("(16, 6, 28, 28)", 4, lenet, 1, 1, dt);
    bn_case("(17, 3)", 2, flat, 1, 1, dt);
    bn_case("(4, 5, 3, 3) no affine, no running stats", 4, small, 0, 0, dt);
    bn_case("(3, 7, 1, 1)", 4, one, 1, 1, dt);
  }
  int64_t xs[2] = {1, 3}, c[1] = {3};
  twin x = twin_rand(2, xs, LC_FLOAT32, -1, 1), y = twin_empty(2, xs, LC_FLOAT32);
  twin sm = twin_empty(1, c, LC_FLOAT32), si = twin_empty(1, c, LC_FLOAT32);
  EXPECT_ERROR(GPU->batchnorm_forward_train(x.g, NULL, NULL, NULL, NULL, 0.1, 1e-5, y.g, sm.g, si.g),
               "more than one value per channel", "batch_norm training on one value per channel");
  twin tmp[] = {x, y, sm, si};
  for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) twin_free(tmp[i]);
}

static void test_loss(void)
{
  static const int64_t shapes[][2] = {{17, 10}, {3, 1000}, {1, 1}, {256, 33}};
  for (int d = 0; d < 2; d++)
    for (int k = 0; k < 4; k++) {
      lc_dtype dt = d ? LC_FLOAT64 : LC_FLOAT32;
      double tol = dt == LC_FLOAT32 ? 1e-6 : 1e-13;
      int64_t rows = shapes[k][0], classes = shapes[k][1], rs[1] = {rows}, one[1] = {1}, z[1] = {0};
      twin x = twin_rand(2, shapes[k], dt, -5, 5), y = twin_empty(2, shapes[k], dt);
      twin dy = twin_rand(2, shapes[k], dt, -1, 1), dx = twin_empty(2, shapes[k], dt);
      twin t = twin_rand(1, rs, LC_INT64, 0, (double)classes);
      twin loss = twin_empty(1, rs, dt), dl = twin_rand(1, rs, dt, -1, 1), g1 = twin_rand(1, one, dt, 0.5, 1);
      twin dl0 = twin_view(g1, 1, rs, z, 0);
      char what[128];
      CPU->log_softmax_forward(x.c, y.c);
      GPU->log_softmax_forward(x.g, y.g);
      snprintf(what, sizeof what, "log_softmax (%lld, %lld) %s", (long long)rows, (long long)classes, lc_dtype_name(dt));
      same(what, y, tol, tol);
      CPU->log_softmax_backward(y.c, dy.c, dx.c);
      GPU->log_softmax_backward(y.g, dy.g, dx.g);
      strncat(what, " backward", sizeof what - strlen(what) - 1);
      same(what, dx, tol, tol);
      for (int sm = 0; sm < 2; sm++) {
        double eps = sm ? 0.1 : 0;
        int64_t bad = -1;
        CPU->cross_entropy_forward(x.c, t.c, eps, loss.c, &bad);
        GPU->cross_entropy_forward(x.g, t.g, eps, loss.g, &bad);
        snprintf(what, sizeof what, "cross_entropy (%lld, %lld) %s smoothing %g", (long long)rows,
                 (long long)classes, lc_dtype_name(dt), eps);
        same(what, loss, tol, tol);
        CPU->cross_entropy_backward(x.c, t.c, eps, dl.c, dx.c, &bad);
        GPU->cross_entropy_backward(x.g, t.g, eps, dl.g, dx.g, &bad);
        strncat(what, " backward", sizeof what - strlen(what) - 1);
        same(what, dx, tol, tol);
        CPU->cross_entropy_backward(x.c, t.c, eps, dl0.c, dx.c, &bad);
        GPU->cross_entropy_backward(x.g, t.g, eps, dl0.g, dx.g, &bad);
        strncat(what, " (broadcast dloss)", sizeof what - strlen(what) - 1);
        same(what, dx, tol, tol);
      }
      twin tmp[] = {x, y, dy, dx, t, loss, dl, g1, dl0};
      for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) twin_free(tmp[i]);
    }
  /* an out-of-range target gives a NaN loss on the GPU (checked nowhere else without a sync) */
  int64_t xs[2] = {2, 4}, rs[1] = {2};
  twin x = twin_rand(2, xs, LC_FLOAT32, -1, 1), t = twin_rand(1, rs, LC_INT64, 0, 4);
  set(t.c, 1, 9);
  lc_tensor_release(t.g);
  t.g = to_gpu(t.c);
  twin loss = twin_empty(1, rs, LC_FLOAT32);
  int64_t bad = -1;
  GPU->cross_entropy_forward(x.g, t.g, 0, loss.g, &bad);
  lc_tensor *l = to_cpu(loss.g);
  check(!isnan(get(l, 0)) && isnan(get(l, 1)), "cross_entropy with target 9 of 4 classes: NaN "
        "loss in that row only (%g, %g)", get(l, 0), get(l, 1));
  lc_tensor_release(l);
  twin_free(x);
  twin_free(t);
  twin_free(loss);
}

#define NT 45

static void test_optim(void)
{
  twin p[NT], g[NT], s1[NT], s2[NT], s3[NT];
  lc_tensor *pc[NT], *pg[NT], *gc[NT], *gg[NT], *ac[NT], *ag[NT], *bc[NT], *bg[NT], *mc[NT], *mg[NT];
  for (int i = 0; i < NT; i++) {
    int64_t n[1] = {i == 0 ? 1 : i == 1 ? 3 : i == 2 ? 17 : i == 3 ? 5000 : 1 + (int64_t)(rng_uniform() * 3000)};
    lc_dtype dt = i % 15 == 14 ? LC_FLOAT64 : LC_FLOAT32; /* mixed dtypes */
    p[i] = twin_rand(1, n, dt, -1, 1);
    g[i] = twin_rand(1, n, dt, -1, 1);
    s1[i] = twin_rand(1, n, dt, -1, 1);
    s2[i] = twin_rand(1, n, dt, 0, 1);
    s3[i] = twin_rand(1, n, dt, 0, 1);
    pc[i] = p[i].c, pg[i] = p[i].g, gc[i] = g[i].c, gg[i] = g[i].g;
    ac[i] = s1[i].c, ag[i] = s1[i].g, bc[i] = s2[i].c, bg[i] = s2[i].g, mc[i] = s3[i].c, mg[i] = s3[i].g;
  }
  ac[5] = ag[5] = NULL; /* a parameter without a momentum buffer */
  lc_sgd_params sgd = {0.1, 0.9, 0.1, 1e-4, 0};
  for (int step = 0; step < 3; step++) {
    sgd.nesterov = step == 2;
    sgd.dampening = step == 2 ? 0 : 0.1;
    CPU->sgd_step(NT, pc, gc, ac, &sgd, step == 0);
    GPU->sgd_step(NT, pg, gg, ag, &sgd, step == 0);
  }
  int ok = 1;
  for (int i = 0; i < NT; i++) {
    char what[64];
    snprintf(what, sizeof what, "sgd 3 steps (momentum, nesterov): param %d", i);
    ok &= same(what, p[i], 0, 1e-6);
  }
  check(ok, "sgd over %d tensors (two launches of at most %d), all equal", NT, LC_CUDA_MT_MAX_TENSORS);
  ac[5] = s1[5].c, ag[5] = s1[5].g;
  lc_adam_params adam = {1e-3, 0.9, 0.999, 1e-8, 1e-2, 0, 1};
  for (int step = 1; step <= 3; step++) {
    adam.step = step;
    adam.decoupled = step == 3;
    CPU->adam_step(NT, pc, gc, ac, bc, step == 2 ? mc : NULL, &adam);
    GPU->adam_step(NT, pg, gg, ag, bg, step == 2 ? mg : NULL, &adam);
  }
  for (int i = 0; i < NT; i++) {
    char what[64];
    snprintf(what, sizeof what, "adam 3 steps (amsgrad, adamw): param %d", i);
    same(what, p[i], 0, 1e-6);
    snprintf(what, sizeof what, "adam exp_avg_sq %d", i);
    same(what, s2[i], 0, 1e-6);
  }
  for (int i = 0; i < NT; i++) {
    twin_free(p[i]);
    twin_free(g[i]);
    twin_free(s1[i]);
    twin_free(s2[i]);
    twin_free(s3[i]);
  }
}

static void test_resize(void)
{
  static const int64_t cases[][4] = {{28, 28, 224, 224}, {224, 224, 28, 28}, {100, 50, 37, 80},
                                     {37, 80, 100, 50}, {28, 28, 28, 28}, {20, 30, 20, 45},
                                     {20, 30, 41, 30}, {300, 40, 17, 39}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int64_t xs[4] = {2, 3, cases[k][0], cases[k][1]}, ys[4] = {2, 3, cases[k][2], cases[k][3]};
    twin x = twin_rand(4, xs, LC_UINT8, 0, 256), y = twin_empty(4, ys, LC_UINT8);
    CPU->resize_bilinear_u8(x.c, y.c);
    GPU->resize_bilinear_u8(x.g, y.g);
    char what[96];
    snprintf(what, sizeof what, "resize (%lld, %lld) -> (%lld, %lld), PIL-exact", (long long)xs[2],
             (long long)xs[3], (long long)ys[2], (long long)ys[3]);
    same(what, y, 0, 0);
    twin_free(x);
    twin_free(y);
  }
  int64_t n[1] = {1023};
  twin u = twin_rand(1, n, LC_UINT8, 0, 256), f = twin_empty(1, n, LC_FLOAT32);
  lc_u8_to_f32_scaled(n[0], lc_data(u.c), lc_data(f.c));
  lc_cuda_check_kernel(lc_cuda_u8_to_f32_scaled(n[0], lc_data(u.g), lc_data(f.g), lc_cuda_stream()),
                       "to float");
  same("uint8 -> float32 / 255", f, 0, 0);
  twin_free(u);
  twin_free(f);
}

static void test_dropout(void)
{
  int64_t n[1] = {1023};
  for (int d = 0; d < 2; d++) {
    lc_dtype dt = d ? LC_FLOAT64 : LC_FLOAT32;
    double p = 0.3;
    twin x = twin_rand(1, n, dt, -2, 2), y = twin_empty(1, n, dt), mask = twin_empty(1, n, dt);
    twin u = twin_empty(1, n, dt);
    /* the unfused form on the CPU: u = rand, y = x * ((u >= p) * (T)(1 / (1 - p))) */
    CPU->uniform(u.c, 42, 1000, 0, 1);
    for (int64_t i = 0; i < n[0]; i++) {
      double f = get(u.c, i) >= p ? (dt == LC_FLOAT32 ? (double)(float)(1 / (1 - p)) : 1 / (1 - p)) : 0;
      set(mask.c, i, f);
      if (dt == LC_FLOAT32) set(y.c, i, (float)get(x.c, i) * (float)f);
      else set(y.c, i, get(x.c, i) * f);
    }
    lc_cuda_check_kernel(lc_cuda_dropout(dt, n[0], lc_data(x.g), lc_data(y.g), lc_data(mask.g), p, 42,
                                         1000, lc_cuda_stream()),
                         "dropout");
    same(dt == LC_FLOAT32 ? "dropout float32: the unfused form's numbers" :
                            "dropout float64: the unfused form's numbers", y, 0, 0);
    same("dropout mask", mask, 0, 0);
    twin tmp[] = {x, y, mask, u};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) twin_free(tmp[i]);
  }
}

#endif /* LUACNN_WITH_CUDA */

int main(void)
{
#ifndef LUACNN_WITH_CUDA
  printf("skipped: %s\n", lc_cuda_unavailable_reason());
  return 77;
#else
  if (lc_cuda_device_count() == 0) {
    printf("skipped: %s\n", lc_cuda_unavailable_reason());
    return 77;
  }
  lc_set_error_handler(on_error);
  CPU = lc_backend_cpu();
  GPU = lc_backend_cuda();
  printf("device: %s\n", lc_cuda_device_name(0));
  rng_seed(20240611);
  test_copy();
  test_fill();
  test_unary();
  test_binary();
  test_where();
  test_reduce();
  test_matmul();
  test_random();
  test_transfers();
  test_allocator();
  test_conv();
  test_pool();
  test_batchnorm();
  test_loss();
  test_optim();
  test_resize();
  test_dropout();
  lc_cuda_synchronize();
  lc_cuda_mem_stats s = lc_cuda_memory_stats();
  printf("memory: %zu allocated, %zu reserved, peak %zu; %llu allocations from %llu segments\n",
         s.allocated, s.reserved, s.peak_allocated, (unsigned long long)s.num_allocs,
         (unsigned long long)s.num_segments);
  return check_done("test_cuda_backend");
#endif
}
