/* The caching device allocator and the pinned upload buffers (see allocator.h). */
#include "runtime/cuda/allocator.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cuda/context.h"
#include "runtime/error.h"

#define ROUND 512
#define SMALL_LIMIT ((size_t)1 << 20)       /* requests up to 1 MiB use the small pool */
#define SMALL_SEGMENT ((size_t)2 << 20)
#define LARGE_SHARED_LIMIT ((size_t)10 << 20) /* large requests under 10 MiB share... */
#define LARGE_SEGMENT ((size_t)20 << 20)      /* ...segments of 20 MiB */
#define SEGMENT_ROUND ((size_t)2 << 20)
#define MIN_LARGE_SPLIT ((size_t)1 << 20)   /* split a large block only if more remains */
#define NCLASSES 64

typedef struct pool pool;

typedef struct block {
  char *ptr;
  size_t size;
  pool *pool;
  bool allocated;
  struct block *prev, *next;           /* neighbours in the segment, by address */
  struct block *free_prev, *free_next; /* the free list of its size class */
  struct block *hash_next;             /* chain in the table of handed-out blocks */
} block;

struct pool {
  cudaStream_t stream; /* or a capture key */
  bool small;
  bool pinned; /* a graph's private pool: its segments are never released */
  block *free[NCLASSES];
  pool *next;
};

struct lc_cuda_allocator {
  int device;
  cudaStream_t capture_key; /* non-NULL while a CUDA graph is captured */
  pool *pools;
  block **table; /* handed-out blocks by address */
  size_t table_size, table_count;
  lc_cuda_mem_stats stats;
};

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

static int size_class(size_t size) { return 63 - __builtin_clzll((unsigned long long)size); }

static void *xcalloc(size_t n, size_t size)
{
  void *p = calloc(n, size);
  if (!p) lc_error("cuda allocator: out of host memory for its bookkeeping");
  return p;
}

/* "1.50 GiB" */
static const char *human(char *buf, size_t cap, size_t bytes)
{
  if (bytes >= ((size_t)1 << 30))
    snprintf(buf, cap, "%.2f GiB", bytes / (double)((size_t)1 << 30));
  else if (bytes >= ((size_t)1 << 20))
    snprintf(buf, cap, "%.2f MiB", bytes / (double)((size_t)1 << 20));
  else
    snprintf(buf, cap, "%zu bytes", bytes);
  return buf;
}

/* ---- the table of handed-out blocks ---- */

static size_t hash_ptr(const void *p, size_t table_size)
{
  uint64_t h = ((uint64_t)(uintptr_t)p >> 9) * 0x9E3779B97F4A7C15ULL;
  return (size_t)(h >> 20) & (table_size - 1);
}

static void table_grow(lc_cuda_allocator *a)
{
  size_t size = a->table_size ? a->table_size * 2 : 1024;
  block **table = xcalloc(size, sizeof *table);
  for (size_t i = 0; i < a->table_size; i++) {
    block *b = a->table[i];
    while (b) {
      block *next = b->hash_next;
      size_t h = hash_ptr(b->ptr, size);
      b->hash_next = table[h];
      table[h] = b;
      b = next;
    }
  }
  free(a->table);
  a->table = table;
  a->table_size = size;
}

static void table_insert(lc_cuda_allocator *a, block *b)
{
  if (a->table_count >= a->table_size) table_grow(a);
  size_t h = hash_ptr(b->ptr, a->table_size);
  b->hash_next = a->table[h];
  a->table[h] = b;
  a->table_count++;
}

static block *table_find(const lc_cuda_allocator *a, const void *ptr, block ***link)
{
  if (!a->table_size) return NULL;
  block **l = &a->table[hash_ptr(ptr, a->table_size)];
  for (; *l; l = &(*l)->hash_next)
    if ((*l)->ptr == (const char *)ptr) {
      if (link) *link = l;
      return *l;
    }
  return NULL;
}

/* ---- free lists ---- */

static void free_insert(pool *p, block *b)
{
  int c = size_class(b->size);
  b->free_prev = NULL;
  b->free_next = p->free[c];
  if (p->free[c]) p->free[c]->free_prev = b;
  p->free[c] = b;
}

static void free_remove(pool *p, block *b)
{
  int c = size_class(b->size);
  if (b->free_prev) b->free_prev->free_next = b->free_next;
  else p->free[c] = b->free_next;
  if (b->free_next) b->free_next->free_prev = b->free_prev;
  b->free_prev = b->free_next = NULL;
}

/* The smallest free block of at least `size` (the lowest address among equals). */
static block *find_free(pool *p, size_t size)
{
  for (int c = size_class(size); c < NCLASSES; c++) {
    block *best = NULL;
    for (block *b = p->free[c]; b; b = b->free_next)
      if (b->size >= size &&
          (!best || b->size < best->size || (b->size == best->size && b->ptr < best->ptr)))
        best = b;
    if (best) return best;
  }
  return NULL;
}

static pool *get_pool(lc_cuda_allocator *a, cudaStream_t stream, bool small, bool pinned)
{
  for (pool *p = a->pools; p; p = p->next)
    if (p->stream == stream && p->small == small) return p;
  pool *p = xcalloc(1, sizeof *p);
  p->stream = stream;
  p->small = small;
  p->pinned = pinned;
  p->next = a->pools;
  a->pools = p;
  return p;
}

/* ---- segments ---- */

/* Frees every cached segment that is wholly unused. Waits for the device first: a block
 * freed by the runtime may still be read by queued kernels. */
static void release_cached(lc_cuda_allocator *a)
{
  lc_cuda_check(cudaDeviceSynchronize(), "cuda allocator", "cudaDeviceSynchronize");
  for (pool *p = a->pools; p; p = p->next)
    for (int c = 0; c < NCLASSES && !p->pinned; c++) {
      block *b = p->free[c];
      while (b) {
        block *next = b->free_next;
        if (!b->prev && !b->next) {
          free_remove(p, b);
          lc_cuda_check(cudaFree(b->ptr), "cuda allocator", "cudaFree");
          a->stats.reserved -= b->size;
          free(b);
        }
        b = next;
      }
    }
}

_Noreturn static void out_of_memory(lc_cuda_allocator *a, size_t size)
{
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) (void)cudaGetLastError();
  char asked[32], live[32], held[32], freeb[32], total[32];
  lc_error("cuda: out of memory: could not allocate %s on cuda:%d; luacnn holds %s (%s of it "
           "in live tensors, the rest cached and unusable for this request), and the device "
           "has %s free of %s",
           human(asked, sizeof asked, size), a->device,
           human(held, sizeof held, a->stats.reserved), human(live, sizeof live, a->stats.allocated),
           human(freeb, sizeof freeb, free_bytes), human(total, sizeof total, total_bytes));
}

/* A new segment of at least `size` bytes for pool p, as one block (not in a free list); on
 * out-of-memory, NULL when may_fail, else the error. */
static block *new_segment(lc_cuda_allocator *a, pool *p, size_t size, bool may_fail)
{
  size_t seg = p->small ? SMALL_SEGMENT
               : size < LARGE_SHARED_LIMIT ? LARGE_SEGMENT : round_up(size, SEGMENT_ROUND);
  block *b = xcalloc(1, sizeof *b);
  void *ptr = NULL;
  cudaError_t err = cudaMalloc(&ptr, seg);
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    if (!a->capture_key) { /* a flush synchronises the device: not inside a capture */
      release_cached(a);
      a->stats.num_cache_flushes++;
      err = cudaMalloc(&ptr, seg);
    }
    if (err == cudaErrorMemoryAllocation && seg > round_up(size, SEGMENT_ROUND)) {
      (void)cudaGetLastError();
      seg = round_up(size, SEGMENT_ROUND);
      err = cudaMalloc(&ptr, seg);
    }
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      free(b);
      if (may_fail) return NULL;
      out_of_memory(a, size);
    }
  }
  if (err != cudaSuccess) free(b);
  lc_cuda_check(err, "cuda allocator", "cudaMalloc");
  b->ptr = ptr;
  b->size = seg;
  b->pool = p;
  a->stats.reserved += seg;
  if (a->stats.reserved > a->stats.peak_reserved) a->stats.peak_reserved = a->stats.reserved;
  a->stats.num_segments++;
  return b;
}

/* ---- the interface ---- */

lc_cuda_allocator *lc_cuda_allocator_new(int device)
{
  lc_cuda_allocator *a = xcalloc(1, sizeof *a);
  a->device = device;
  return a;
}

static void *allocate(lc_cuda_allocator *a, size_t nbytes, cudaStream_t stream, bool may_fail)
{
  if (nbytes > ((size_t)1 << 60)) {
    if (may_fail) return NULL;
    char asked[32];
    lc_error("cuda: out of memory: %s cannot be allocated", human(asked, sizeof asked, nbytes));
  }
  size_t size = round_up(nbytes ? nbytes : 1, ROUND);
  bool small = size <= SMALL_LIMIT;
  pool *p = a->capture_key ? get_pool(a, a->capture_key, small, true) : get_pool(a, stream, small, false);
  block *b = find_free(p, size);
  if (b) free_remove(p, b);
  else if (!(b = new_segment(a, p, size, may_fail))) return NULL;

  size_t rest = b->size - size;
  if (small ? rest >= ROUND : rest > MIN_LARGE_SPLIT) {
    block *r = xcalloc(1, sizeof *r);
    r->ptr = b->ptr + size;
    r->size = rest;
    r->pool = p;
    r->prev = b;
    r->next = b->next;
    if (b->next) b->next->prev = r;
    b->next = r;
    b->size = size;
    free_insert(p, r);
  }
  b->allocated = true;
  table_insert(a, b);
  a->stats.allocated += b->size;
  if (a->stats.allocated > a->stats.peak_allocated) a->stats.peak_allocated = a->stats.allocated;
  a->stats.num_allocs++;
  return b->ptr;
}

void *lc_cuda_allocator_alloc(lc_cuda_allocator *a, size_t nbytes, cudaStream_t stream)
{
  return allocate(a, nbytes, stream, false);
}

void *lc_cuda_allocator_try_alloc(lc_cuda_allocator *a, size_t nbytes, cudaStream_t stream)
{
  return allocate(a, nbytes, stream, true);
}

void lc_cuda_allocator_free(lc_cuda_allocator *a, void *ptr)
{
  if (!ptr) return;
  block **link = NULL;
  block *b = table_find(a, ptr, &link);
  if (!b) lc_error("cuda allocator: %p was not allocated by it (double free?)", ptr);
  *link = b->hash_next;
  b->hash_next = NULL;
  a->table_count--;
  b->allocated = false;
  a->stats.allocated -= b->size;

  pool *p = b->pool;
  if (b->prev && !b->prev->allocated) {
    block *q = b->prev;
    free_remove(p, q);
    q->size += b->size;
    q->next = b->next;
    if (b->next) b->next->prev = q;
    free(b);
    b = q;
  }
  if (b->next && !b->next->allocated) {
    block *q = b->next;
    free_remove(p, q);
    b->size += q->size;
    b->next = q->next;
    if (q->next) q->next->prev = b;
    free(q);
  }
  free_insert(p, b);
}

size_t lc_cuda_allocator_block_size(const lc_cuda_allocator *a, const void *ptr)
{
  block *b = table_find(a, ptr, NULL);
  return b ? b->size : 0;
}

void lc_cuda_allocator_set_capture_key(lc_cuda_allocator *a, cudaStream_t key) { a->capture_key = key; }

void lc_cuda_allocator_empty_cache(lc_cuda_allocator *a)
{
  if (!a->capture_key) release_cached(a);
}

void lc_cuda_allocator_stats(const lc_cuda_allocator *a, lc_cuda_mem_stats *out) { *out = a->stats; }

void lc_cuda_allocator_reset_peaks(lc_cuda_allocator *a)
{
  a->stats.peak_allocated = a->stats.allocated;
  a->stats.peak_reserved = a->stats.reserved;
}

/* ---- pinned staging for uploads ---- */

#define STAGING_BYTES ((size_t)4 << 20)

struct lc_cuda_staging {
  void *buf[2];
  cudaEvent_t done[2];
  int next;
  bool pinned; /* false if pinned memory was refused: uploads then go straight from pageable memory */
};

lc_cuda_staging *lc_cuda_staging_new(void)
{
  lc_cuda_staging *s = xcalloc(1, sizeof *s);
  s->pinned = true;
  for (int i = 0; i < 2; i++) {
    if (cudaHostAlloc(&s->buf[i], STAGING_BYTES, cudaHostAllocDefault) != cudaSuccess) {
      (void)cudaGetLastError();
      s->buf[i] = NULL;
      s->pinned = false;
    }
  }
  if (!s->pinned) {
    for (int i = 0; i < 2; i++)
      if (s->buf[i]) cudaFreeHost(s->buf[i]);
    return s;
  }
  for (int i = 0; i < 2; i++)
    lc_cuda_check(cudaEventCreateWithFlags(&s->done[i], cudaEventDisableTiming), "to cuda",
                  "cudaEventCreateWithFlags");
  return s;
}

void lc_cuda_staging_upload(lc_cuda_staging *s, void *dst, const void *src, size_t n,
                            cudaStream_t stream)
{
  if (!s->pinned) {
    /* From pageable memory the call returns once the source has been staged by the driver. */
    lc_cuda_check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream), "to cuda",
                  "cudaMemcpyAsync");
    return;
  }
  for (size_t off = 0; off < n;) {
    size_t len = n - off < STAGING_BYTES ? n - off : STAGING_BYTES;
    int i = s->next;
    s->next ^= 1;
    /* the previous copy out of this buffer must be done before it is refilled */
    lc_cuda_check(cudaEventSynchronize(s->done[i]), "to cuda", "cudaEventSynchronize");
    memcpy(s->buf[i], (const char *)src + off, len);
    lc_cuda_check(cudaMemcpyAsync((char *)dst + off, s->buf[i], len, cudaMemcpyHostToDevice, stream),
                  "to cuda", "cudaMemcpyAsync");
    lc_cuda_check(cudaEventRecord(s->done[i], stream), "to cuda", "cudaEventRecord");
    off += len;
  }
}
