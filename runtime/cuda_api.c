/* runtime/cuda/cuda.h in every build: forwards to runtime/cuda/ when the build has CUDA,
 * otherwise answers "no GPU". Compiled always, so callers never need #ifdefs. */
#include "runtime/cuda/cuda.h"

#include <string.h>

#include "runtime/error.h"

#ifdef LUACNN_WITH_CUDA

#include "runtime/backend.h"
#include "runtime/cuda/allocator.h"
#include "runtime/cuda/context.h"

/* The backend is NULL when no device is usable (runtime/dispatch.c asks it the same way). */
int lc_cuda_device_count(void) { return lc_backend_cuda_impl() ? lc_cuda_probe() : 0; }
bool lc_cuda_is_available(void) { return lc_cuda_device_count() > 0; }
const char *lc_cuda_unavailable_reason(void) { return lc_cuda_probe_failure(); }
const char *lc_cuda_device_name(int index) { return lc_cuda_probe_device_name(index); }

void lc_cuda_synchronize(void)
{
  if (lc_cuda_probe() > 0 && lc_cuda_context_started())
    lc_cuda_check(cudaStreamSynchronize(lc_cuda_ctx()->stream), "cuda.synchronize",
                  "cudaStreamSynchronize");
}

lc_cuda_mem_stats lc_cuda_memory_stats(void)
{
  lc_cuda_mem_stats s;
  memset(&s, 0, sizeof s);
  if (lc_cuda_context_started()) lc_cuda_allocator_stats(lc_cuda_ctx()->allocator, &s);
  return s;
}

void lc_cuda_reset_peak_memory_stats(void)
{
  if (lc_cuda_context_started()) lc_cuda_allocator_reset_peaks(lc_cuda_ctx()->allocator);
}

void lc_cuda_empty_cache(void)
{
  if (lc_cuda_context_started()) lc_cuda_allocator_empty_cache(lc_cuda_ctx()->allocator);
}

void lc_cuda_set_benchmark(bool on) { lc_cuda_context_set_conv_mode(on, lc_cuda_deterministic()); }
bool lc_cuda_benchmark(void) { return lc_cuda_conv_mode_benchmark(); }
void lc_cuda_set_deterministic(bool on) { lc_cuda_context_set_conv_mode(lc_cuda_benchmark(), on); }
bool lc_cuda_deterministic(void) { return lc_cuda_conv_mode_deterministic(); }

#else

int lc_cuda_device_count(void) { return 0; }
bool lc_cuda_is_available(void) { return false; }
const char *lc_cuda_unavailable_reason(void) { return "luacnn was built without CUDA"; }
const char *lc_cuda_device_name(int index) { return NULL; }
void lc_cuda_synchronize(void) {}

lc_cuda_mem_stats lc_cuda_memory_stats(void)
{
  lc_cuda_mem_stats s;
  memset(&s, 0, sizeof s);
  return s;
}

void lc_cuda_reset_peak_memory_stats(void) {}
void lc_cuda_empty_cache(void) {}
void lc_cuda_set_benchmark(bool on) {}
bool lc_cuda_benchmark(void) { return false; }
void lc_cuda_set_deterministic(bool on) {}
bool lc_cuda_deterministic(void) { return false; }

lc_cuda_graph *lc_cuda_graph_begin(void) { lc_error("cuda.graph: luacnn was built without CUDA"); }
void lc_cuda_graph_end(lc_cuda_graph *g) {}
void lc_cuda_graph_abort(lc_cuda_graph *g) {}
void lc_cuda_graph_replay(lc_cuda_graph *g) { lc_error("cuda.graph: luacnn was built without CUDA"); }
void lc_cuda_graph_free(lc_cuda_graph *g) {}

#endif
