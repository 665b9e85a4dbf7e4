/* A threaded image loader: N worker threads decode image files (lc_image_*) and run a compiled
 * transform pipeline (lc_transform_*) on them, filling whole batches in a bounded queue of
 * `prefetch` batches; the main thread takes batches in order.
 *
 * Reproducibility: the epoch's order is a Philox-keyed permutation of (seed, epoch), and each
 * sample's transform is keyed by (seed mixed with epoch, sample index), so a batch holds the
 * same bytes whatever the number of workers and whichever worker made which sample.
 *
 * Threads: only the main thread calls these functions. Workers never allocate tensors nor
 * raise (lc_error): their errors are recorded per sample and reported by lc_loader_next in
 * batch order. The decoded-image cache (cache = 1) is written by the one worker that decodes a
 * sample in an epoch (a sample is in an epoch once) and read in later epochs, after the
 * earlier workers were joined (pthread_join orders the accesses). */
#ifndef LC_LOADER_H
#define LC_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/tensor.h"

typedef struct lc_loader lc_loader;
struct lc_transform;

typedef struct lc_loader_config {
  int64_t n;                    /* samples */
  const char *const *paths;     /* n file paths (copied) */
  const int64_t *labels;        /* n labels (copied, returned as is), or NULL */
  const int64_t *rows;          /* n CSV line numbers for messages (copied), or NULL */
  struct lc_transform *transform; /* retained */
  int batch_size;
  int drop_last, shuffle;
  int workers;                  /* 0: batches are made by the calling thread; < 0: the cores */
  int prefetch;                 /* batches made ahead (>= 1); <= 0: 2 * workers (at least 2) */
  int cache;                    /* keep decoded images in memory */
  int skip_errors;              /* 1: drop a sample that fails; 0: fail the batch */
  int decode_scale;             /* 0: the pipeline's lossless JPEG scale; 1, 2, 4, 8: this one
                                 * (a smaller decode: faster, a smaller cache, less detail) */
  uint64_t seed;
} lc_loader_config;

lc_loader *lc_loader_new(const lc_loader_config *cfg, char *err, size_t errlen);
void lc_loader_free(lc_loader *l); /* stops a running epoch first */

/* A data-parallel run's share (lc.dist): this process takes positions rank, rank + count, ...
 * of every epoch's order (the same order on every rank), padded from the order's start to
 * ceil(n / count) samples when pad (equal batch counts for training), else n / count or one
 * more (evaluation: each sample once). batch_size is the per-rank batch (at most the
 * configured one). count 1 takes every sample again. Not while an epoch runs. */
int lc_loader_set_shard(lc_loader *l, int rank, int count, int pad, int batch_size, char *err,
                        size_t errlen);
/* The seed of the next epochs' order and augmentation (a data-parallel run takes rank 0's). */
void lc_loader_set_seed(lc_loader *l, uint64_t seed);
int64_t lc_loader_num_batches(const lc_loader *l);
int lc_loader_workers(const lc_loader *l);
int64_t lc_loader_skipped(const lc_loader *l);      /* samples dropped so far (all epochs) */
size_t lc_loader_cache_bytes(const lc_loader *l);
/* The output of one sample: c, h, w and whether float32 (else uint8). */
void lc_loader_sample_shape(const lc_loader *l, int *c, int *h, int *w, int *is_float);

/* The epoch's permutation (0-based) of n, as the loader makes it. */
void lc_loader_permutation(int64_t n, uint64_t seed, uint64_t stream, int64_t *out);
uint64_t lc_loader_mix(uint64_t a, uint64_t b);

/* Starts an epoch (stopping a running one). May raise (lc_error) on out of memory only. */
int lc_loader_start(lc_loader *l, uint64_t epoch, char *err, size_t errlen);
/* The next batch of the running epoch, as new references: X (B, C, H, W), y (B) int64 or NULL
 * without labels, index (B) int64 1-based. Returns 1 with a batch, 0 at the end of the epoch
 * (the workers are joined), -1 on a sample error (message in err names the file and CSV row;
 * the epoch is stopped). */
int lc_loader_next(lc_loader *l, lc_tensor **X, lc_tensor **y, lc_tensor **index, char *err, size_t errlen);
/* Stops the running epoch: cancels and joins the workers, frees its buffers. Idempotent. */
void lc_loader_stop(lc_loader *l);
int lc_loader_running(const lc_loader *l);

#endif
