/* A caching allocator for device memory, in the manner of PyTorch's: cudaMalloc and cudaFree
 * are slow and synchronise the device, so freed blocks are kept and reused.
 *
 * - Requests are rounded up to 512 bytes. Requests up to 1 MiB come from 2 MiB segments
 *   (the small pool); larger ones from segments of 20 MiB (requests under 10 MiB) or of the
 *   request rounded up to 2 MiB (the large pool).
 * - Free blocks sit in free lists by size class (powers of two), one set per pool and per
 *   stream: a block freed on a stream is reused by work on that stream only, which is
 *   stream-ordered, so no event is needed between a free and a reuse.
 * - The best-fitting free block is split when the rest is worth keeping (512 bytes in the
 *   small pool, over 1 MiB in the large pool); on free, a block merges with free neighbours
 *   of its segment.
 * - When cudaMalloc fails, the cached segments that are wholly free are released and the
 *   call retried (also with a segment cut to the request); if that fails too, the error
 *   says how much was asked, how much luacnn holds and how much the device has free.
 * - Segments are only returned to the driver by lc_cuda_allocator_empty_cache or that
 *   retry: a block address stays valid for as long as a CUDA graph that captured it
 *   (graph capture will want a private pool: give it its own stream key).
 *
 * Not thread-safe: the runtime calls it from one thread. */
#ifndef LC_CUDA_ALLOCATOR_H
#define LC_CUDA_ALLOCATOR_H

#include <stddef.h>

#include <cuda_runtime_api.h>

#include "runtime/cuda/cuda.h"

typedef struct lc_cuda_allocator lc_cuda_allocator;

lc_cuda_allocator *lc_cuda_allocator_new(int device);
/* A block of at least nbytes for work on `stream`; raises on out-of-memory. */
void *lc_cuda_allocator_alloc(lc_cuda_allocator *a, size_t nbytes, cudaStream_t stream);
/* The same, but NULL instead of the error when the memory cannot be had (for optional
 * scratch, such as a workspace that lets cuDNN try faster algorithms). */
void *lc_cuda_allocator_try_alloc(lc_cuda_allocator *a, size_t nbytes, cudaStream_t stream);
/* Returns a block to its pool; raises if ptr did not come from lc_cuda_allocator_alloc. */
void lc_cuda_allocator_free(lc_cuda_allocator *a, void *ptr);
/* Bytes of the block ptr heads (the rounded size), 0 if ptr is unknown. */
size_t lc_cuda_allocator_block_size(const lc_cuda_allocator *a, const void *ptr);
/* While a capture key is set (non-NULL), allocations come from pools of that key instead of
 * their stream's: a CUDA graph's private memory, which eager work never reuses and which
 * neither empty_cache nor an out-of-memory retry returns to the driver (the graph keeps
 * pointing at it). Blocks go back to the pool they came from, whatever the key when freed.
 * No cache flush happens while a key is set (it would synchronise inside the capture). */
void lc_cuda_allocator_set_capture_key(lc_cuda_allocator *a, cudaStream_t key);
void lc_cuda_allocator_empty_cache(lc_cuda_allocator *a);
void lc_cuda_allocator_stats(const lc_cuda_allocator *a, lc_cuda_mem_stats *out);
void lc_cuda_allocator_reset_peaks(lc_cuda_allocator *a);

/* Pinned host buffers for uploads: a pair, used in turn, each guarded by an event so a
 * buffer is refilled only once the copy out of it has finished. */
typedef struct lc_cuda_staging lc_cuda_staging;

lc_cuda_staging *lc_cuda_staging_new(void);
/* Copies n bytes from pageable host memory to the device on `stream`. */
void lc_cuda_staging_upload(lc_cuda_staging *s, void *dst, const void *src, size_t n,
                            cudaStream_t stream);

#endif
