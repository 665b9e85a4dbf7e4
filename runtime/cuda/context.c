/* The process's CUDA context (see context.h). */
#include "runtime/cuda/context.h"

#include <stdio.h>
#include <string.h>

#include "runtime/cuda/allocator.h"
#include "runtime/error.h"

#define MAX_NAMED_DEVICES 16
#define CUBLAS_WORKSPACE_BYTES ((size_t)32 << 20)

static struct {
  bool probed;
  int count;
  char failure[320];
  bool named[MAX_NAMED_DEVICES];
  char names[MAX_NAMED_DEVICES][256];

  bool started;
  lc_cuda_context ctx;

  bool benchmark, deterministic;
  unsigned generation;
} state;

/* ---- probing (never raises) ---- */

int lc_cuda_probe(void)
{
  if (state.probed) return state.count;
  state.probed = true;
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    snprintf(state.failure, sizeof state.failure, "no usable CUDA driver or GPU (%s: %s)",
             cudaGetErrorName(err), cudaGetErrorString(err));
    n = 0;
  } else if (n == 0) {
    snprintf(state.failure, sizeof state.failure, "no CUDA device found");
  }
  state.count = n;
  return n;
}

const char *lc_cuda_probe_failure(void) { return lc_cuda_probe() > 0 ? NULL : state.failure; }

const char *lc_cuda_probe_device_name(int index)
{
  if (index < 0 || index >= lc_cuda_probe() || index >= MAX_NAMED_DEVICES) return NULL;
  if (!state.named[index]) {
    struct cudaDeviceProp prop;
    cudaError_t err = cudaGetDeviceProperties(&prop, index);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      return NULL;
    }
    snprintf(state.names[index], sizeof state.names[index], "%s", prop.name);
    state.named[index] = true;
  }
  return state.names[index];
}

/* ---- the context ---- */

bool lc_cuda_context_started(void) { return state.started; }

lc_cuda_context *lc_cuda_ctx(void)
{
  if (state.started) return &state.ctx;
  if (lc_cuda_probe() == 0) lc_error("cuda: no GPU is available: %s", state.failure);
  lc_cuda_context *c = &state.ctx;
  memset(c, 0, sizeof *c);
  c->device = 0;
  lc_cuda_check(cudaSetDevice(c->device), "cuda", "cudaSetDevice");
  lc_cuda_check(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "cuda",
                "cudaStreamCreateWithFlags");
  lc_cuda_check(cudaDeviceGetAttribute(&c->sm_count, cudaDevAttrMultiProcessorCount, c->device),
                "cuda", "cudaDeviceGetAttribute");
  size_t free_bytes = 0;
  lc_cuda_check(cudaMemGetInfo(&free_bytes, &c->total_memory), "cuda", "cudaMemGetInfo");
  c->allocator = lc_cuda_allocator_new(c->device);
  state.started = true;
  return c;
}

cudaStream_t lc_cuda_stream(void) { return lc_cuda_ctx()->stream; }

cublasHandle_t lc_cuda_cublas(void)
{
  lc_cuda_context *c = lc_cuda_ctx();
  if (!c->cublas) {
    cublasHandle_t h;
    lc_cuda_check_cublas(cublasCreate(&h), "cuda", "cublasCreate");
    lc_cuda_check_cublas(cublasSetStream(h, c->stream), "cuda", "cublasSetStream");
    /* A workspace of our own (NVIDIA's advice for Hopper: 32 MiB), set after the stream since
     * cublasSetStream resets it: cuBLAS then never allocates while a CUDA graph is captured. */
    void *ws = lc_cuda_malloc(CUBLAS_WORKSPACE_BYTES);
    lc_cuda_check_cublas(cublasSetWorkspace(h, ws, CUBLAS_WORKSPACE_BYTES), "cuda",
                         "cublasSetWorkspace");
    c->cublas = h;
  }
  return c->cublas;
}

cudnnHandle_t lc_cuda_cudnn(void)
{
  lc_cuda_context *c = lc_cuda_ctx();
  if (!c->cudnn) {
    cudnnHandle_t h;
    lc_cuda_check_cudnn(cudnnCreate(&h), "cuda", "cudnnCreate");
    lc_cuda_check_cudnn(cudnnSetStream(h, c->stream), "cuda", "cudnnSetStream");
    c->cudnn = h;
  }
  return c->cudnn;
}

void lc_cuda_check_device(const char *op, lc_device device)
{
  lc_cuda_context *c = lc_cuda_ctx();
  if (device.type != LC_CUDA || device.index != c->device)
    lc_error("%s: cuda:%d is not available: luacnn drives one GPU, cuda:%d (%d visible; pick "
             "another with CUDA_VISIBLE_DEVICES)", op, device.index, c->device, lc_cuda_probe());
}

/* ---- memory ---- */

void *lc_cuda_malloc(size_t nbytes)
{
  lc_cuda_context *c = lc_cuda_ctx();
  return lc_cuda_allocator_alloc(c->allocator, nbytes, c->stream);
}

void *lc_cuda_try_malloc(size_t nbytes)
{
  lc_cuda_context *c = lc_cuda_ctx();
  return lc_cuda_allocator_try_alloc(c->allocator, nbytes, c->stream);
}

void lc_cuda_free(void *ptr)
{
  if (!ptr || !state.started) return;
  lc_cuda_allocator_free(state.ctx.allocator, ptr);
}

void lc_cuda_upload(void *dst_device, const void *src_host, size_t n)
{
  lc_cuda_context *c = lc_cuda_ctx();
  if (n == 0) return;
  if (!c->staging) c->staging = lc_cuda_staging_new();
  lc_cuda_staging_upload(c->staging, dst_device, src_host, n, c->stream);
}

void lc_cuda_download(void *dst_host, const void *src_device, size_t n)
{
  lc_cuda_context *c = lc_cuda_ctx();
  if (n == 0) return;
  lc_cuda_check(cudaMemcpyAsync(dst_host, src_device, n, cudaMemcpyDeviceToHost, c->stream),
                "to cpu", "cudaMemcpyAsync");
  lc_cuda_check(cudaStreamSynchronize(c->stream), "to cpu", "cudaStreamSynchronize");
}

/* ---- cuDNN modes ---- */

void lc_cuda_context_set_conv_mode(bool benchmark, bool deterministic)
{
  if (benchmark != state.benchmark || deterministic != state.deterministic) state.generation++;
  state.benchmark = benchmark;
  state.deterministic = deterministic;
}

bool lc_cuda_conv_mode_benchmark(void) { return state.benchmark; }
bool lc_cuda_conv_mode_deterministic(void) { return state.deterministic; }
unsigned lc_cuda_conv_mode_generation(void) { return state.generation; }
