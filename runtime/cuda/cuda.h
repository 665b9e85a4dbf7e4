/* The CUDA-facing functions the rest of luacnn may call in every build. In a build without
 * CUDA (runtime/cuda_api.c) they report no device: counts are 0, names NULL, and
 * synchronize, empty_cache and the cuDNN switches do nothing. Pure C: no CUDA header here. */
#ifndef LC_CUDA_H
#define LC_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Devices luacnn can use (0 without a driver or a GPU, or in a build without CUDA). Never
 * raises; the first call probes the driver. */
int lc_cuda_device_count(void);
bool lc_cuda_is_available(void);
/* Why lc_cuda_device_count() is 0, e.g. "luacnn was built without CUDA" or the driver's
 * message; NULL when a device is available. */
const char *lc_cuda_unavailable_reason(void);
/* "NVIDIA H100 80GB HBM3", or NULL for an index that is not a device. */
const char *lc_cuda_device_name(int index);
/* Waits for all work queued on the GPU; raises (naming the CUDA error) if that work failed. */
void lc_cuda_synchronize(void);

/* The caching device allocator's counters, in bytes. */
typedef struct lc_cuda_mem_stats {
  size_t allocated;       /* in blocks handed out now */
  size_t reserved;        /* obtained from cudaMalloc: handed out or cached */
  size_t peak_allocated;  /* maxima since start or lc_cuda_reset_peak_memory_stats */
  size_t peak_reserved;
  uint64_t num_allocs;    /* allocations served */
  uint64_t num_segments;  /* cudaMalloc calls that succeeded */
  uint64_t num_cache_flushes; /* times cached blocks were released to retry a cudaMalloc */
} lc_cuda_mem_stats;

lc_cuda_mem_stats lc_cuda_memory_stats(void);
void lc_cuda_reset_peak_memory_stats(void);
/* Returns cached, unused blocks to the driver (memory held by live tensors stays). */
void lc_cuda_empty_cache(void);

/* cuDNN convolution algorithm choice. Benchmark mode times the candidate algorithms once per
 * shape and keeps the fastest (PyTorch's cudnn.benchmark); otherwise cuDNN's heuristics pick.
 * Deterministic mode allows only algorithms that give bitwise-reproducible results (it wins
 * over benchmark mode where the two disagree). Both are off by default; changing either
 * forgets the cached choices. */
void lc_cuda_set_benchmark(bool on);
bool lc_cuda_benchmark(void);
void lc_cuda_set_deterministic(bool on);
bool lc_cuda_deterministic(void);

/* CUDA graphs (runtime/cuda/graph.c): begin starts capturing the work queued on luacnn's
 * stream (raises without a GPU), end finishes and instantiates the graph, abort abandons a
 * capture, replay relaunches the graph, free releases it. Blocks allocated during the
 * capture come from a pool private to the graph. */
typedef struct lc_cuda_graph lc_cuda_graph;
lc_cuda_graph *lc_cuda_graph_begin(void);
void lc_cuda_graph_end(lc_cuda_graph *g);
void lc_cuda_graph_abort(lc_cuda_graph *g);
void lc_cuda_graph_replay(lc_cuda_graph *g);
void lc_cuda_graph_free(lc_cuda_graph *g);

#endif
