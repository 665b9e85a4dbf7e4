/* 2-D convolution through cuDNN (see conv_cudnn.h).
 *
 * cuDNN 9 keeps the descriptor-based ("legacy") convolution API working but marks it
 * deprecated in favour of its graph API. The legacy API is a fraction of the code for the same
 * kernels, so it is used here and the deprecation warnings are silenced for this file. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda/context.h"
#include "runtime/cuda/conv_cudnn.h"
#include "runtime/error.h"

enum { FWD, BWD_DATA, BWD_FILTER, NDIRS };
static const char *const dir_name[NDIRS] = {"conv2d", "conv2d backward (input)",
                                            "conv2d backward (weight)"};

/* The largest workspace benchmark mode lets cuDNN try algorithms with. */
#define BENCHMARK_WORKSPACE_CAP ((size_t)1 << 30)

/* Descriptors and chosen algorithms of one (shape, dtype). */
typedef struct lc_cuda_conv_plan {
  lc_conv2d_shape s;
  lc_dtype dtype;
  cudnnDataType_t dt;
  cudnnTensorDescriptor_t x, y, bias;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  unsigned generation; /* of the conv modes the choices below were made under */
  bool chosen[NDIRS];
  int algo[NDIRS];
  cudnnMathType_t math[NDIRS];
  size_t workspace[NDIRS];
  struct lc_cuda_conv_plan *next;
} conv_plan; /* listed from lc_cuda_ctx()->conv_plans */

static bool same_shape(const lc_conv2d_shape *a, const lc_conv2d_shape *b)
{
  return a->n == b->n && a->c_in == b->c_in && a->h == b->h && a->w == b->w &&
         a->c_out == b->c_out && a->kh == b->kh && a->kw == b->kw &&
         a->stride_h == b->stride_h && a->stride_w == b->stride_w && a->pad_h == b->pad_h &&
         a->pad_w == b->pad_w && a->dil_h == b->dil_h && a->dil_w == b->dil_w &&
         a->groups == b->groups && a->out_h == b->out_h && a->out_w == b->out_w;
}

static const char *shape_str(const lc_conv2d_shape *s)
{
  static char buf[256];
  snprintf(buf, sizeof buf,
           "input (%lld, %lld, %lld, %lld), weight (%lld, %lld, %lld, %lld), stride (%lld, %lld), "
           "padding (%lld, %lld), dilation (%lld, %lld), groups %lld",
           (long long)s->n, (long long)s->c_in, (long long)s->h, (long long)s->w,
           (long long)s->c_out, (long long)(s->groups ? s->c_in / s->groups : 0), (long long)s->kh,
           (long long)s->kw, (long long)s->stride_h, (long long)s->stride_w, (long long)s->pad_h,
           (long long)s->pad_w, (long long)s->dil_h, (long long)s->dil_w, (long long)s->groups);
  return buf;
}

static void check(cudnnStatus_t status, int dir, const lc_conv2d_shape *s, const char *call)
{
  if (status == CUDNN_STATUS_SUCCESS) return;
  char op[512];
  snprintf(op, sizeof op, "%s [%s]", dir_name[dir], shape_str(s));
  lc_cuda_check_cudnn(status, op, call);
}

static bool fits_int(const lc_conv2d_shape *s)
{
  const int64_t v[] = {s->n, s->c_in, s->h, s->w, s->c_out, s->kh, s->kw, s->stride_h,
                       s->stride_w, s->pad_h, s->pad_w, s->dil_h, s->dil_w, s->groups,
                       s->out_h, s->out_w};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
    if (v[i] > INT_MAX) return false;
  /* cuDNN also indexes whole tensors with int */
  return s->n * s->c_in * s->h * s->w <= INT_MAX && s->n * s->c_out * s->out_h * s->out_w <= INT_MAX;
}

static void destroy_plan(conv_plan *p)
{
  if (p->x) cudnnDestroyTensorDescriptor(p->x);
  if (p->y) cudnnDestroyTensorDescriptor(p->y);
  if (p->bias) cudnnDestroyTensorDescriptor(p->bias);
  if (p->w) cudnnDestroyFilterDescriptor(p->w);
  if (p->conv) cudnnDestroyConvolutionDescriptor(p->conv);
  free(p);
}

void lc_cuda_conv_cache_clear(void)
{
  if (!lc_cuda_context_started()) return;
  lc_cuda_context *c = lc_cuda_ctx();
  while (c->conv_plans) {
    conv_plan *next = c->conv_plans->next;
    destroy_plan(c->conv_plans);
    c->conv_plans = next;
  }
}

static conv_plan *make_plan(const lc_conv2d_shape *s, lc_dtype dtype)
{
  conv_plan *p = calloc(1, sizeof *p);
  if (!p) lc_error("conv2d: out of host memory");
  p->s = *s;
  p->dtype = dtype;
  p->dt = dtype == LC_FLOAT64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  check(cudnnCreateTensorDescriptor(&p->x), FWD, s, "cudnnCreateTensorDescriptor");
  check(cudnnCreateTensorDescriptor(&p->y), FWD, s, "cudnnCreateTensorDescriptor");
  check(cudnnCreateTensorDescriptor(&p->bias), FWD, s, "cudnnCreateTensorDescriptor");
  check(cudnnCreateFilterDescriptor(&p->w), FWD, s, "cudnnCreateFilterDescriptor");
  check(cudnnCreateConvolutionDescriptor(&p->conv), FWD, s, "cudnnCreateConvolutionDescriptor");
  check(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NCHW, p->dt, (int)s->n, (int)s->c_in,
                                   (int)s->h, (int)s->w), FWD, s, "cudnnSetTensor4dDescriptor");
  check(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NCHW, p->dt, (int)s->n, (int)s->c_out,
                                   (int)s->out_h, (int)s->out_w), FWD, s,
        "cudnnSetTensor4dDescriptor");
  check(cudnnSetTensor4dDescriptor(p->bias, CUDNN_TENSOR_NCHW, p->dt, 1, (int)s->c_out, 1, 1),
        FWD, s, "cudnnSetTensor4dDescriptor");
  check(cudnnSetFilter4dDescriptor(p->w, p->dt, CUDNN_TENSOR_NCHW, (int)s->c_out,
                                   (int)(s->c_in / s->groups), (int)s->kh, (int)s->kw), FWD, s,
        "cudnnSetFilter4dDescriptor");
  check(cudnnSetConvolution2dDescriptor(p->conv, (int)s->pad_h, (int)s->pad_w, (int)s->stride_h,
                                        (int)s->stride_w, (int)s->dil_h, (int)s->dil_w,
                                        CUDNN_CROSS_CORRELATION, p->dt), FWD, s,
        "cudnnSetConvolution2dDescriptor");
  check(cudnnSetConvolutionGroupCount(p->conv, (int)s->groups), FWD, s,
        "cudnnSetConvolutionGroupCount");
  /* cuDNN's own idea of the output size must be ours. */
  int n, c, h, w;
  check(cudnnGetConvolution2dForwardOutputDim(p->conv, p->x, p->w, &n, &c, &h, &w), FWD, s,
        "cudnnGetConvolution2dForwardOutputDim");
  if (n != s->n || c != s->c_out || h != s->out_h || w != s->out_w)
    lc_error("conv2d [%s]: cuDNN computes an output of (%d, %d, %d, %d), luacnn (%lld, %lld, "
             "%lld, %lld)", shape_str(s), n, c, h, w, (long long)s->n, (long long)s->c_out,
             (long long)s->out_h, (long long)s->out_w);
  /* Linked only when complete: after an error above, a later call starts afresh (the
   * half-made plan leaks a few descriptors, which only a cuDNN failure costs). */
  lc_cuda_context *ctx = lc_cuda_ctx();
  p->next = ctx->conv_plans;
  ctx->conv_plans = p;
  return p;
}

static conv_plan *get_plan(const lc_conv2d_shape *s, lc_dtype dtype)
{
  conv_plan *p = lc_cuda_ctx()->conv_plans;
  while (p && !(p->dtype == dtype && same_shape(&p->s, s))) p = p->next;
  if (!p) p = make_plan(s, dtype);
  unsigned generation = lc_cuda_conv_mode_generation();
  if (p->generation != generation) {
    memset(p->chosen, 0, sizeof p->chosen);
    p->generation = generation;
  }
  return p;
}

/* ---- algorithm choice ----
 * The three directions have their own perf structs with the same leading fields; they are
 * copied into this one so the choice (choose) is written once for all three. */
typedef struct {
  int algo;
  cudnnStatus_t status;
  size_t memory;
  cudnnDeterminism_t determinism;
  cudnnMathType_t mathType;
} perf_t;

/* Deterministic mode keeps to the plain GEMM-based algorithms of each direction: on the H200
 * a heuristic "deterministic" pick for a 5x5 backward-weight (an FFT or Winograd variant) gave
 * gradients off by 30%, where these agree with the CPU. Bit masks of cuDNN algorithm numbers. */
static const unsigned deterministic_algos[NDIRS] = {
  [FWD] = (1u << CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM) |
          (1u << CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) |
          (1u << CUDNN_CONVOLUTION_FWD_ALGO_GEMM),
  [BWD_DATA] = 1u << CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
  [BWD_FILTER] = 1u << CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1,
};

/* float32 must not use TF32 tensor cores: FMA math first, then default math (which cuDNN may
 * still run in full float32), then whatever cuDNN offers. */
static int pick(const conv_plan *p, int dir, const perf_t *perf, int count)
{
  bool deterministic = lc_cuda_conv_mode_deterministic();
  for (int pass = 0; pass < 3; pass++)
    for (int i = 0; i < count; i++) {
      if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
      if (deterministic && (perf[i].determinism != CUDNN_DETERMINISTIC ||
                            !(deterministic_algos[dir] & (1u << perf[i].algo))))
        continue;
      if (p->dt == CUDNN_DATA_FLOAT) {
        if (pass == 0 && perf[i].mathType != CUDNN_FMA_MATH) continue;
        if (pass == 1 && perf[i].mathType != CUDNN_DEFAULT_MATH) continue;
      }
      return i;
    }
  return -1;
}

static void set_math(conv_plan *p, int dir, cudnnMathType_t math)
{
  check(cudnnSetConvolutionMathType(p->conv, math), dir, &p->s, "cudnnSetConvolutionMathType");
}

/* The math type cuDNN's search starts from. */
static cudnnMathType_t base_math(const conv_plan *p)
{
  return p->dt == CUDNN_DATA_FLOAT ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

/* Scratch for benchmark mode's search, as large as the hungriest algorithm asks (capped);
 * less if the memory is not there (cuDNN then skips the algorithms that need more). */
static void *search_workspace(const size_t *sizes, int count, size_t *bytes)
{
  size_t want = 0;
  for (int i = 0; i < count; i++)
    if (sizes[i] > want && sizes[i] <= BENCHMARK_WORKSPACE_CAP) want = sizes[i];
  void *ws = NULL;
  while (want > 0 && !(ws = lc_cuda_try_malloc(want))) want /= 2;
  *bytes = ws ? want : 0;
  return ws;
}

/* The cuDNN calls that differ between the directions, behind one signature each: the
 * workspace size of an algorithm, and the list of candidate algorithms (measured in benchmark
 * mode, from cuDNN's heuristics otherwise). a and b are the direction's inputs, out its
 * output: forward (x, w) -> y, backward data (w, dy) -> dx, backward filter (x, dy) -> dw. */
#define MAX_ALGOS 16
_Static_assert(CUDNN_CONVOLUTION_FWD_ALGO_COUNT <= MAX_ALGOS &&
               CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT <= MAX_ALGOS &&
               CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT <= MAX_ALGOS, "MAX_ALGOS");
static const int algo_count[NDIRS] = {CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                      CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT};

static cudnnStatus_t workspace_size(const conv_plan *p, int dir, int algo, size_t *bytes)
{
  cudnnHandle_t h = lc_cuda_cudnn();
  switch (dir) {
  case FWD:
    return cudnnGetConvolutionForwardWorkspaceSize(h, p->x, p->w, p->conv, p->y,
                                                   (cudnnConvolutionFwdAlgo_t)algo, bytes);
  case BWD_DATA:
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p->w, p->y, p->conv, p->x,
                                                        (cudnnConvolutionBwdDataAlgo_t)algo, bytes);
  default:
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p->x, p->y, p->conv, p->w,
                                                          (cudnnConvolutionBwdFilterAlgo_t)algo, bytes);
  }
}

/* One direction's candidates: its perf struct type, and the measured search and the
 * heuristic list as calls (names for the error). The perf structs share their leading
 * fields, copied into perf_t. */
#define CANDIDATES(type, find, find_call, get, get_call)                                    \
  do {                                                                                       \
    type raw[MAX_ALGOS];                                                                     \
    call = search ? find : get;                                                              \
    st = search ? find_call : get_call;                                                      \
    for (int i = 0; st == CUDNN_STATUS_SUCCESS && i < n; i++)                                \
      perf[i] = (perf_t){(int)raw[i].algo, raw[i].status, raw[i].memory, raw[i].determinism, \
                         raw[i].mathType};                                                   \
  } while (0)

/* search: time the algorithms on the real buffers with workspace ws (freed here); otherwise
 * cuDNN's heuristic list. */
static int candidates(const conv_plan *p, int dir, const void *a, const void *b, void *out,
                      void *ws, size_t bytes, bool search, perf_t *perf)
{
  cudnnHandle_t h = lc_cuda_cudnn();
  int n = 0, max = algo_count[dir];
  cudnnStatus_t st;
  const char *call;
  if (dir == FWD)
    CANDIDATES(cudnnConvolutionFwdAlgoPerf_t,
               "cudnnFindConvolutionForwardAlgorithmEx",
               cudnnFindConvolutionForwardAlgorithmEx(h, p->x, a, p->w, b, p->conv, p->y, out, max,
                                                      &n, raw, ws, bytes),
               "cudnnGetConvolutionForwardAlgorithm_v7",
               cudnnGetConvolutionForwardAlgorithm_v7(h, p->x, p->w, p->conv, p->y, max, &n, raw));
  else if (dir == BWD_DATA)
    CANDIDATES(cudnnConvolutionBwdDataAlgoPerf_t,
               "cudnnFindConvolutionBackwardDataAlgorithmEx",
               cudnnFindConvolutionBackwardDataAlgorithmEx(h, p->w, a, p->y, b, p->conv, p->x, out,
                                                           max, &n, raw, ws, bytes),
               "cudnnGetConvolutionBackwardDataAlgorithm_v7",
               cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p->w, p->y, p->conv, p->x, max, &n,
                                                           raw));
  else
    CANDIDATES(cudnnConvolutionBwdFilterAlgoPerf_t,
               "cudnnFindConvolutionBackwardFilterAlgorithmEx",
               cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p->x, a, p->y, b, p->conv, p->w,
                                                             out, max, &n, raw, ws, bytes),
               "cudnnGetConvolutionBackwardFilterAlgorithm_v7",
               cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p->x, p->y, p->conv, p->w, max,
                                                             &n, raw));
  if (search) lc_cuda_free(ws);
  check(st, dir, &p->s, call);
  return n;
}

/* Chooses the algorithm of one direction for plan p (see pick) and its workspace. */
static void choose(conv_plan *p, int dir, const void *a, const void *b, void *out)
{
  perf_t perf[MAX_ALGOS];
  int count;
  set_math(p, dir, base_math(p));
  if (lc_cuda_conv_mode_benchmark()) {
    size_t sizes[MAX_ALGOS] = {0}, bytes;
    for (int algo = 0; algo < algo_count[dir]; algo++)
      if (workspace_size(p, dir, algo, &sizes[algo]) != CUDNN_STATUS_SUCCESS) sizes[algo] = 0;
    void *ws = search_workspace(sizes, algo_count[dir], &bytes);
    count = candidates(p, dir, a, b, out, ws, bytes, true, perf);
  } else {
    count = candidates(p, dir, a, b, out, NULL, 0, false, perf);
  }
  int i = pick(p, dir, perf, count);
  if (i < 0)
    lc_error("%s [%s]: cuDNN offers no usable algorithm%s", dir_name[dir], shape_str(&p->s),
             lc_cuda_conv_mode_deterministic() ? " in deterministic mode" : "");
  p->algo[dir] = perf[i].algo;
  p->math[dir] = perf[i].mathType;
  set_math(p, dir, p->math[dir]);
  static const char *const size_call[NDIRS] = {"cudnnGetConvolutionForwardWorkspaceSize",
                                               "cudnnGetConvolutionBackwardDataWorkspaceSize",
                                               "cudnnGetConvolutionBackwardFilterWorkspaceSize"};
  check(workspace_size(p, dir, p->algo[dir], &p->workspace[dir]), dir, &p->s, size_call[dir]);
  p->chosen[dir] = true;
}

/* ---- the calls ---- */

/* alpha = 1, beta = 0 (or 1 for the bias add), as cuDNN wants them: float for float data,
 * double for double. */
typedef struct {
  float f[2];
  double d[2];
} scalars;

static const scalars ONE_ZERO = {{1.0f, 0.0f}, {1.0, 0.0}};

static const void *one(const conv_plan *p)
{
  return p->dt == CUDNN_DATA_DOUBLE ? (const void *)&ONE_ZERO.d[0] : (const void *)&ONE_ZERO.f[0];
}

static const void *zero(const conv_plan *p)
{
  return p->dt == CUDNN_DATA_DOUBLE ? (const void *)&ONE_ZERO.d[1] : (const void *)&ONE_ZERO.f[1];
}

static int prepare(lc_dtype dtype, const lc_conv2d_shape *s)
{
  if (dtype != LC_FLOAT32 && dtype != LC_FLOAT64)
    lc_error("conv2d: float32 or float64 was expected on cuda, got %s", lc_dtype_name(dtype));
  return fits_int(s) ? LC_CONV_OK : LC_CONV_ETOOBIG;
}

int lc_cuda_conv2d_forward(lc_dtype dtype, const lc_conv2d_shape *s, const void *x, const void *w,
                           const void *bias, void *y)
{
  int code = prepare(dtype, s);
  if (code != LC_CONV_OK || s->n == 0) return code;
  conv_plan *p = get_plan(s, dtype);
  if (!p->chosen[FWD]) choose(p, FWD, x, w, y);
  cudnnHandle_t h = lc_cuda_cudnn();
  set_math(p, FWD, p->math[FWD]);
  void *ws = p->workspace[FWD] ? lc_cuda_malloc(p->workspace[FWD]) : NULL;
  cudnnStatus_t st = cudnnConvolutionForward(h, one(p), p->x, x, p->w, w, p->conv,
                                             (cudnnConvolutionFwdAlgo_t)p->algo[FWD], ws,
                                             p->workspace[FWD], zero(p), p->y, y);
  lc_cuda_free(ws); /* stream-ordered: reused only by later work */
  check(st, FWD, s, "cudnnConvolutionForward");
  if (bias)
    check(cudnnAddTensor(h, one(p), p->bias, bias, one(p), p->y, y), FWD, s, "cudnnAddTensor");
  return LC_CONV_OK;
}

int lc_cuda_conv2d_backward_data(lc_dtype dtype, const lc_conv2d_shape *s, const void *dy,
                                 const void *w, void *dx)
{
  int code = prepare(dtype, s);
  if (code != LC_CONV_OK || s->n == 0) return code;
  conv_plan *p = get_plan(s, dtype);
  if (!p->chosen[BWD_DATA]) choose(p, BWD_DATA, w, dy, dx);
  cudnnHandle_t h = lc_cuda_cudnn();
  set_math(p, BWD_DATA, p->math[BWD_DATA]);
  void *ws = p->workspace[BWD_DATA] ? lc_cuda_malloc(p->workspace[BWD_DATA]) : NULL;
  cudnnStatus_t st = cudnnConvolutionBackwardData(
      h, one(p), p->w, w, p->y, dy, p->conv, (cudnnConvolutionBwdDataAlgo_t)p->algo[BWD_DATA], ws,
      p->workspace[BWD_DATA], zero(p), p->x, dx);
  lc_cuda_free(ws);
  check(st, BWD_DATA, s, "cudnnConvolutionBackwardData");
  return LC_CONV_OK;
}

int lc_cuda_conv2d_backward_weight(lc_dtype dtype, const lc_conv2d_shape *s, const void *x,
                                   const void *dy, void *dw, void *dbias)
{
  int code = prepare(dtype, s);
  if (code != LC_CONV_OK) return code;
  size_t esize = dtype == LC_FLOAT64 ? 8 : 4;
  if (s->n == 0) { /* an empty batch: the gradients are zero */
    cudaStream_t stream = lc_cuda_stream();
    size_t wbytes = (size_t)(s->c_out * (s->c_in / s->groups) * s->kh * s->kw) * esize;
    lc_cuda_check(cudaMemsetAsync(dw, 0, wbytes, stream), dir_name[BWD_FILTER], "cudaMemsetAsync");
    if (dbias)
      lc_cuda_check(cudaMemsetAsync(dbias, 0, (size_t)s->c_out * esize, stream),
                    dir_name[BWD_FILTER], "cudaMemsetAsync");
    return LC_CONV_OK;
  }
  conv_plan *p = get_plan(s, dtype);
  if (!p->chosen[BWD_FILTER]) choose(p, BWD_FILTER, x, dy, dw);
  cudnnHandle_t h = lc_cuda_cudnn();
  set_math(p, BWD_FILTER, p->math[BWD_FILTER]);
  void *ws = p->workspace[BWD_FILTER] ? lc_cuda_malloc(p->workspace[BWD_FILTER]) : NULL;
  cudnnStatus_t st = cudnnConvolutionBackwardFilter(
      h, one(p), p->x, x, p->y, dy, p->conv, (cudnnConvolutionBwdFilterAlgo_t)p->algo[BWD_FILTER],
      ws, p->workspace[BWD_FILTER], zero(p), p->w, dw);
  lc_cuda_free(ws);
  check(st, BWD_FILTER, s, "cudnnConvolutionBackwardFilter");
  if (dbias)
    check(cudnnConvolutionBackwardBias(h, one(p), p->y, dy, zero(p), p->bias, dbias), BWD_FILTER,
          s, "cudnnConvolutionBackwardBias");
  return LC_CONV_OK;
}
