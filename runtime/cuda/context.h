/* The one CUDA context of the process: the device, the stream all work goes to, the cuBLAS
 * and cuDNN handles, the caching allocator, the pinned upload buffers, the cuDNN plan cache
 * and the graph under capture: the GPU side's whole state. Everything is
 * created lazily, on the first GPU tensor; a build with CUDA on a machine without a driver
 * or a GPU only ever runs lc_cuda_probe, which fails quietly.
 *
 * All work is queued on one non-blocking stream (never the legacy default stream), so a
 * training step can later be captured into a CUDA graph as it is. luacnn drives one GPU:
 * cuda:0, i.e. the first device CUDA_VISIBLE_DEVICES leaves visible. The runtime is
 * single-threaded (one Lua state), and so is this context. */
#ifndef LC_CUDA_CONTEXT_H
#define LC_CUDA_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "runtime/backend.h"

struct lc_cuda_allocator;
struct lc_cuda_staging;
struct lc_cuda_conv_plan;
struct lc_cuda_graph;

typedef struct lc_cuda_context {
  int device;                 /* the CUDA device index in use */
  cudaStream_t stream;
  cublasHandle_t cublas;      /* created on first use */
  cudnnHandle_t cudnn;        /* created on first use */
  struct lc_cuda_allocator *allocator;
  struct lc_cuda_staging *staging;
  int sm_count;
  size_t total_memory;
  /* cuDNN descriptors and algorithm choices per (shape, dtype), conv_cudnn.c's */
  struct lc_cuda_conv_plan *conv_plans;
  /* the graph being captured (at most one at a time), or NULL: graph.c's */
  struct lc_cuda_graph *capturing;
} lc_cuda_context;

/* Number of usable devices, probed once; 0 when there is no driver or no device. Never
 * raises. lc_cuda_probe_failure says why it is 0 (NULL otherwise). */
int lc_cuda_probe(void);
const char *lc_cuda_probe_failure(void);
const char *lc_cuda_probe_device_name(int index);

/* The context, created on first call; raises when no device is usable. */
lc_cuda_context *lc_cuda_ctx(void);
bool lc_cuda_context_started(void);
cudaStream_t lc_cuda_stream(void);
cublasHandle_t lc_cuda_cublas(void);
cudnnHandle_t lc_cuda_cudnn(void);
/* Raises "<op>: cuda:N is not available ..." unless device is the context's device. */
void lc_cuda_check_device(const char *op, lc_device device);

/* Device memory from the context's caching allocator, usable on its stream. lc_cuda_malloc
 * raises a clear out-of-memory error when even a flushed cache cannot serve the request. */
void *lc_cuda_malloc(size_t nbytes);
void lc_cuda_free(void *ptr);
/* NULL instead of the out-of-memory error. */
void *lc_cuda_try_malloc(size_t nbytes);

/* Host <-> device copies of n bytes. Uploads go through pinned staging buffers, so they
 * are asynchronous for the host once the data is staged (the caller may reuse `src` on
 * return); downloads wait for the stream and the copy. */
void lc_cuda_upload(void *dst_device, const void *src_host, size_t n);
void lc_cuda_download(void *dst_host, const void *src_device, size_t n);

/* Error checks: each raises through lc_error with the op, the call and the library's
 * message, and does nothing on success. */
void lc_cuda_check(cudaError_t err, const char *op, const char *call);
void lc_cuda_check_cublas(cublasStatus_t status, const char *op, const char *call);
void lc_cuda_check_cudnn(cudnnStatus_t status, const char *op, const char *call);
/* The status a kernel of kernels/cuda returned (kernels/cuda/status.h): raises naming op. */
void lc_cuda_check_kernel(int status, const char *op);

/* cuDNN convolution modes (see lc_cuda_set_benchmark in runtime/cuda/cuda.h). The
 * generation changes whenever a mode does, so caches of algorithm choices know to forget. */
void lc_cuda_context_set_conv_mode(bool benchmark, bool deterministic);
bool lc_cuda_conv_mode_benchmark(void);
bool lc_cuda_conv_mode_deterministic(void);
unsigned lc_cuda_conv_mode_generation(void);

/* Defined in backend_cuda.c: the backend vtable, or NULL without a usable device. */
const lc_backend *lc_backend_cuda_impl(void);

#endif
