/* The threaded image loader (see loader.h).
 *
 * Work is handed out one sample at a time: a worker claims the next position of the epoch's
 * order, provided its batch lies in the window [consumed, consumed + prefetch), decodes and
 * transforms it straight into that batch's output tensor (slot (batch % prefetch)), and counts
 * the batch down. The main thread waits for the batch it wants to count down to zero, takes its
 * tensor, gets the slot ready for batch + prefetch, and only then moves the window on. */
#include "runtime/loader.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/common/philox.h"
#include "runtime/csv.h"
#include "runtime/image_io.h"
#include "runtime/transform.h"
#include "runtime/errbuf.h"

static uint64_t fmix(uint64_t z)
{
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t lc_loader_mix(uint64_t a, uint64_t b) { return fmix(a ^ fmix(b)); }

void lc_loader_permutation(int64_t n, uint64_t seed, uint64_t stream, int64_t *out)
{
  uint64_t key = lc_loader_mix(seed, stream);
  for (int64_t i = 0; i < n; i++) out[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    lc_philox_block b = lc_philox(key, (uint64_t)i);
    uint64_t r = ((uint64_t)b.v[0] << 32) | b.v[1];
    int64_t j = (int64_t)(r % (uint64_t)(i + 1));
    int64_t t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
}

#define MSG 768

typedef struct {
  lc_image img; /* data == NULL: not decoded yet */
  int orig_h, orig_w;
} cache_entry;

typedef struct {
  int64_t batch;
  lc_tensor *X;
  uint8_t *xdata;
  int count, remaining;
  int64_t first_bad; /* lowest failing position of the batch, -1 if none */
  uint8_t *ok;
  char msg[MSG];
} slot;

struct lc_loader {
  int64_t n;
  char **paths;
  int64_t *labels, *rows;
  lc_transform *tf;
  int bs, drop_last, shuffle, workers, prefetch, cache, skip, decode_scale;
  uint64_t seed;
  int oc, oh, ow, is_float;
  size_t sample_bytes;
  int64_t nbatches, total;
  /* a data-parallel share (lc_loader_set_shard): count 0 when the loader takes every sample */
  int shard_rank, shard_count, shard_pad;
  int64_t shard_n, *full_order;
  cache_entry *cache_tab;
  size_t cache_bytes;
  int64_t skipped;

  /* the running epoch */
  int running, nthreads;
  uint64_t epoch_seed;
  int64_t *order;
  slot *slots;
  pthread_t *tids;
  pthread_mutex_t mu;
  pthread_cond_t ready, space;
  int64_t next_pos, consumed;
  int cancel;
};

/* "PATH (CSV row R, sample I): what went wrong" (the decoder's message names the file too:
 * that prefix is not repeated). */
static void sample_error(const lc_loader *l, int64_t idx, const char *inner, char *err, size_t errlen)
{
  const char *path = l->paths[idx];
  size_t plen = strlen(path);
  if (strncmp(inner, path, plen) == 0 && inner[plen] == ':') inner += plen + 1;
  while (*inner == ' ') inner++;
  if (l->rows)
    snprintf(err, errlen, "ImageLoader: %s (CSV row %lld, sample %lld): %s", path,
             (long long)l->rows[idx], (long long)idx + 1, inner);
  else
    snprintf(err, errlen, "ImageLoader: %s (sample %lld): %s", path, (long long)idx + 1, inner);
}

/* Decodes sample idx at the scale the pipeline needs (or takes it from the cache) and runs the
 * pipeline into out. Never raises. */
static int make_sample(lc_loader *l, int64_t idx, uint64_t seed, void *out, char *err, size_t errlen)
{
  char inner[MSG];
  lc_image img = {0};
  int orig_h, orig_w, owned = 0;
  cache_entry *ce = l->cache ? &l->cache_tab[idx] : NULL;
  if (ce && ce->img.data) {
    img = ce->img;
    orig_h = ce->orig_h;
    orig_w = ce->orig_w;
  } else {
    uint8_t *bytes;
    size_t n;
    int c;
    if (lc_read_whole_file(l->paths[idx], &bytes, &n, inner, sizeof inner) != 0) goto error;
    if (lc_image_probe(bytes, n, &orig_h, &orig_w, &c, inner, sizeof inner) != 0) {
      free(bytes);
      goto error;
    }
    int scale = l->decode_scale ? l->decode_scale : lc_transform_decode_scale(l->tf, orig_h, orig_w);
    if (scale != 1 && scale != 2 && scale != 4 && scale != 8) scale = 1;
    int rc = lc_image_decode(bytes, n, scale, LC_IMAGE_RGB, &img, inner, sizeof inner);
    free(bytes);
    if (rc != 0) goto error;
    if (ce) {
      ce->img = img;
      ce->orig_h = orig_h;
      ce->orig_w = orig_w;
      __atomic_add_fetch(&l->cache_bytes, (size_t)img.h * img.w * img.c, __ATOMIC_RELAXED);
    } else {
      owned = 1;
    }
  }
  int oc, oh, ow, is_float;
  if (lc_transform_output_shape(l->tf, 3, orig_h, orig_w, &oc, &oh, &ow, &is_float, inner, sizeof inner) != 0)
    goto error;
  if (oc != l->oc || oh != l->oh || ow != l->ow || is_float != l->is_float) {
    snprintf(inner, sizeof inner, "the transform makes a %dx%dx%d %s sample of this %dx%d image, but the "
             "batch holds %dx%dx%d %s samples (end the pipeline with a fixed size: Resize, CenterCrop "
             "or RandomResizedCrop)", oc, oh, ow, is_float ? "float32" : "uint8", orig_h, orig_w,
             l->oc, l->oh, l->ow, l->is_float ? "float32" : "uint8");
    goto error;
  }
  int rc = lc_transform_apply(l->tf, &img, orig_h, orig_w, seed, (uint64_t)idx, out, inner, sizeof inner);
  if (owned) lc_image_free(&img);
  if (rc != 0) goto error_noimg;
  return 0;
error:
  if (owned) lc_image_free(&img);
error_noimg:
  sample_error(l, idx, inner, err, errlen);
  return -1;
}

static void free_all(lc_loader *l)
{
  if (l->paths)
    for (int64_t i = 0; i < l->n; i++) free(l->paths[i]);
  free(l->paths);
  free(l->labels);
  free(l->rows);
  if (l->cache_tab) {
    for (int64_t i = 0; i < l->n; i++)
      if (l->cache_tab[i].img.data) lc_image_free(&l->cache_tab[i].img);
    free(l->cache_tab);
  }
  if (l->slots)
    for (int k = 0; k < l->prefetch; k++) free(l->slots[k].ok);
  free(l->slots);
  free(l->order);
  free(l->full_order);
  free(l->tids);
  if (l->tf) lc_transform_release(l->tf);
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->ready);
  pthread_cond_destroy(&l->space);
  free(l);
}

lc_loader *lc_loader_new(const lc_loader_config *cfg, char *err, size_t errlen)
{
  if (cfg->n < 0 || !cfg->transform || cfg->batch_size < 1) {
    lc_fail(err, errlen, "ImageLoader: bad configuration (n %lld, batch_size %d, transform %s)",
         (long long)cfg->n, cfg->batch_size, cfg->transform ? "given" : "missing");
    return NULL;
  }
  lc_loader *l = calloc(1, sizeof *l);
  if (!l) {
    lc_fail(err, errlen, "ImageLoader: out of memory");
    return NULL;
  }
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->ready, NULL);
  pthread_cond_init(&l->space, NULL);
  l->n = cfg->n;
  l->tf = cfg->transform;
  lc_transform_retain(l->tf);
  l->bs = cfg->batch_size;
  l->drop_last = cfg->drop_last != 0;
  l->shuffle = cfg->shuffle != 0;
  l->workers = cfg->workers;
  if (l->workers < 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    l->workers = cores > 0 ? (int)cores : 1;
  }
  if (l->workers > 256) l->workers = 256;
  l->prefetch = cfg->prefetch > 0 ? cfg->prefetch : 2 * l->workers;
  if (l->prefetch < 2) l->prefetch = 2;
  l->cache = cfg->cache != 0;
  l->skip = cfg->skip_errors != 0;
  l->decode_scale = cfg->decode_scale;
  if (l->decode_scale != 0 && l->decode_scale != 1 && l->decode_scale != 2 && l->decode_scale != 4 &&
      l->decode_scale != 8) {
    lc_fail(err, errlen, "ImageLoader: decode_scale must be 1, 2, 4 or 8, got %d", l->decode_scale);
    free_all(l);
    return NULL;
  }
  l->seed = cfg->seed;
  size_t n = (size_t)(l->n ? l->n : 1);
  l->paths = calloc(n, sizeof *l->paths);
  l->order = malloc(n * sizeof *l->order);
  l->slots = calloc((size_t)l->prefetch, sizeof *l->slots);
  l->tids = calloc((size_t)(l->workers ? l->workers : 1), sizeof *l->tids);
  if (cfg->labels) l->labels = malloc(n * sizeof *l->labels);
  if (cfg->rows) l->rows = malloc(n * sizeof *l->rows);
  if (l->cache) l->cache_tab = calloc(n, sizeof *l->cache_tab);
  int oom = !l->paths || !l->order || !l->slots || !l->tids || (cfg->labels && !l->labels) ||
            (cfg->rows && !l->rows) || (l->cache && !l->cache_tab);
  for (int k = 0; !oom && k < l->prefetch; k++) {
    l->slots[k].ok = malloc((size_t)l->bs);
    oom = !l->slots[k].ok;
  }
  for (int64_t i = 0; !oom && i < l->n; i++) {
    l->paths[i] = strdup(cfg->paths[i]);
    oom = !l->paths[i];
  }
  if (oom) {
    free_all(l);
    lc_fail(err, errlen, "ImageLoader: out of memory for %lld samples", (long long)cfg->n);
    return NULL;
  }
  if (cfg->labels) memcpy(l->labels, cfg->labels, n * sizeof *l->labels);
  if (cfg->rows) memcpy(l->rows, cfg->rows, n * sizeof *l->rows);
  l->nbatches = l->drop_last ? l->n / l->bs : (l->n + l->bs - 1) / l->bs;
  l->total = l->drop_last ? l->nbatches * l->bs : l->n;

  /* The sample shape: the pipeline's output for the first file whose header reads. */
  int found = 0;
  char first_err[MSG] = "";
  for (int64_t i = 0; i < l->n && !found; i++) {
    uint8_t *bytes;
    size_t nb;
    int h, w, c;
    char inner[MSG];
    int rc = lc_read_whole_file(l->paths[i], &bytes, &nb, inner, sizeof inner);
    if (rc == 0) {
      rc = lc_image_probe(bytes, nb, &h, &w, &c, inner, sizeof inner);
      free(bytes);
    }
    if (rc == 0)
      rc = lc_transform_output_shape(l->tf, 3, h, w, &l->oc, &l->oh, &l->ow, &l->is_float, inner, sizeof inner);
    if (rc == 0) {
      found = 1;
    } else {
      sample_error(l, i, inner, first_err, sizeof first_err);
      if (!l->skip) break;
    }
  }
  if (!found && l->n > 0) {
    lc_fail(err, errlen, "%s", first_err[0] ? first_err : "ImageLoader: no readable image");
    free_all(l);
    return NULL;
  }
  l->sample_bytes = (size_t)l->oc * l->oh * l->ow * (l->is_float ? 4 : 1);
  return l;
}

int lc_loader_set_shard(lc_loader *l, int rank, int count, int pad, int batch_size, char *err,
                        size_t errlen)
{
  if (l->running) return lc_fail(err, errlen, "ImageLoader: cannot shard while an epoch runs");
  if (count < 1 || rank < 0 || rank >= count)
    return lc_fail(err, errlen, "ImageLoader: shard rank %d of %d is out of range", rank, count);
  if (batch_size < 1 || batch_size > l->bs)
    return lc_fail(err, errlen, "ImageLoader: a shard's batch_size must be in [1, %d], got %d",
                   l->bs, batch_size);
  if (count > 1 && !l->full_order) {
    l->full_order = malloc((size_t)(l->n ? l->n : 1) * sizeof *l->full_order);
    if (!l->full_order) return lc_fail(err, errlen, "ImageLoader: out of memory");
  }
  int64_t n = l->n, m = n;
  if (count > 1) m = pad ? (n + count - 1) / count : n / count + (rank < n % count ? 1 : 0);
  l->shard_rank = rank;
  l->shard_count = count > 1 ? count : 0;
  l->shard_pad = pad != 0;
  l->shard_n = m;
  l->bs = batch_size;
  l->nbatches = l->drop_last ? m / l->bs : (m + l->bs - 1) / l->bs;
  l->total = l->drop_last ? l->nbatches * l->bs : m;
  return 0;
}

void lc_loader_set_seed(lc_loader *l, uint64_t seed) { l->seed = seed; }

int64_t lc_loader_num_batches(const lc_loader *l) { return l->nbatches; }
int lc_loader_workers(const lc_loader *l) { return l->workers; }
int64_t lc_loader_skipped(const lc_loader *l) { return l->skipped; }
size_t lc_loader_cache_bytes(const lc_loader *l) { return __atomic_load_n(&l->cache_bytes, __ATOMIC_RELAXED); }
int lc_loader_running(const lc_loader *l) { return l->running; }
void lc_loader_sample_shape(const lc_loader *l, int *c, int *h, int *w, int *is_float)
{
  *c = l->oc;
  *h = l->oh;
  *w = l->ow;
  *is_float = l->is_float;
}

/* Main thread: gets slot k ready for batch b (its tensor may be allocated: lc_empty). */
static void prepare_slot(lc_loader *l, slot *s, int64_t b)
{
  int64_t start = b * l->bs;
  int count = (int)(l->total - start < l->bs ? l->total - start : l->bs);
  int64_t sizes[4] = {count, l->oc, l->oh, l->ow};
  /* the slot owns it beyond this call: not released if the call later raises (tensor.h) */
  s->X = lc_unhold(lc_empty(4, sizes, l->is_float ? LC_FLOAT32 : LC_UINT8, LC_DEVICE_CPU));
  s->xdata = lc_data(s->X);
  /* A batch at 224 is ~38 MB of fresh memory: ask for huge pages before the workers first touch
   * it (512x fewer page faults; only a hint, ignored where transparent huge pages are off). */
  size_t bytes = (size_t)count * l->sample_bytes, huge = (size_t)2 << 20;
  uintptr_t lo = ((uintptr_t)s->xdata + huge - 1) & ~(uintptr_t)(huge - 1);
  uintptr_t hi = ((uintptr_t)s->xdata + bytes) & ~(uintptr_t)(huge - 1);
  if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
  s->batch = b;
  s->count = count;
  s->remaining = count;
  s->first_bad = -1;
  s->msg[0] = '\0';
  memset(s->ok, 1, (size_t)count);
}

/* One sample's result into its slot (the caller holds the lock when workers run). */
static void record(lc_loader *l, slot *s, int64_t pos, int rc, const char *msg)
{
  if (rc != 0) {
    s->ok[pos % l->bs] = 0;
    if (s->first_bad < 0 || pos < s->first_bad) {
      s->first_bad = pos;
      snprintf(s->msg, sizeof s->msg, "%s", msg);
    }
  }
  s->remaining--;
}

static void *worker(void *arg)
{
  lc_loader *l = arg;
  char msg[MSG];
  pthread_mutex_lock(&l->mu);
  for (;;) {
    while (!l->cancel && l->next_pos < l->total && l->next_pos / l->bs >= l->consumed + l->prefetch)
      pthread_cond_wait(&l->space, &l->mu);
    if (l->cancel || l->next_pos >= l->total) break;
    int64_t pos = l->next_pos++;
    slot *s = &l->slots[(pos / l->bs) % l->prefetch];
    void *out = s->xdata + (size_t)(pos % l->bs) * l->sample_bytes;
    int64_t idx = l->order[pos];
    uint64_t seed = l->epoch_seed;
    pthread_mutex_unlock(&l->mu);
    int rc = make_sample(l, idx, seed, out, msg, sizeof msg);
    pthread_mutex_lock(&l->mu);
    record(l, s, pos, rc, msg);
    if (s->remaining == 0) pthread_cond_broadcast(&l->ready);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

void lc_loader_stop(lc_loader *l)
{
  if (!l || !l->running) return;
  pthread_mutex_lock(&l->mu);
  l->cancel = 1;
  pthread_cond_broadcast(&l->space);
  pthread_mutex_unlock(&l->mu);
  for (int t = 0; t < l->nthreads; t++) pthread_join(l->tids[t], NULL);
  l->nthreads = 0;
  for (int k = 0; k < l->prefetch; k++) {
    if (l->slots[k].X) lc_tensor_release(l->slots[k].X);
    l->slots[k].X = NULL;
    l->slots[k].xdata = NULL;
  }
  l->running = 0;
}

void lc_loader_free(lc_loader *l)
{
  if (!l) return;
  lc_loader_stop(l);
  free_all(l);
}

int lc_loader_start(lc_loader *l, uint64_t epoch, char *err, size_t errlen)
{
  lc_loader_stop(l);
  l->epoch_seed = lc_loader_mix(l->seed, epoch);
  int64_t *order = l->shard_count ? l->full_order : l->order;
  if (l->shuffle)
    lc_loader_permutation(l->n, l->seed, epoch, order);
  else
    for (int64_t i = 0; i < l->n; i++) order[i] = i;
  /* this rank's positions of the epoch's order: rank, rank + count, ... (padding wraps) */
  for (int64_t k = 0; l->shard_count && k < l->shard_n; k++)
    l->order[k] = order[(l->shard_rank + k * l->shard_count) % l->n];
  l->next_pos = 0;
  l->consumed = 0;
  l->cancel = 0;
  for (int k = 0; k < l->prefetch; k++) {
    l->slots[k].X = NULL;
    l->slots[k].batch = -1;
  }
  l->running = 1; /* from here stop() frees what prepare_slot allocated, even if it raises */
  for (int64_t b = 0; b < l->nbatches && b < l->prefetch; b++) prepare_slot(l, &l->slots[b], b);
  l->nthreads = 0;
  int want = l->workers;
  if (want > l->total) want = (int)l->total;
  for (int t = 0; t < want; t++)
    if (pthread_create(&l->tids[l->nthreads], NULL, worker, l) == 0) l->nthreads++;
  if (want > 0 && l->nthreads == 0) {
    lc_loader_stop(l);
    return lc_fail(err, errlen, "ImageLoader: could not start any worker thread");
  }
  return 0;
}

int lc_loader_next(lc_loader *l, lc_tensor **X, lc_tensor **y, lc_tensor **index, char *err, size_t errlen)
{
  *X = *y = *index = NULL;
  for (;;) {
    if (!l->running) return 0;
    int64_t b = l->consumed;
    if (b >= l->nbatches) {
      lc_loader_stop(l);
      return 0;
    }
    slot *s = &l->slots[b % l->prefetch];
    int64_t start = b * l->bs;
    if (l->nthreads == 0) {
      char msg[MSG];
      for (int k = 0; k < s->count; k++) {
        int64_t pos = start + k;
        int rc = make_sample(l, l->order[pos], l->epoch_seed, s->xdata + (size_t)k * l->sample_bytes, msg, sizeof msg);
        record(l, s, pos, rc, msg);
      }
    } else {
      pthread_mutex_lock(&l->mu);
      while (s->remaining > 0) pthread_cond_wait(&l->ready, &l->mu);
      pthread_mutex_unlock(&l->mu);
    }
    /* batch b is complete; no worker touches slot s until the window moves past b */
    if (s->first_bad >= 0 && !l->skip) {
      snprintf(err, errlen, "%s", s->msg);
      lc_loader_stop(l);
      return -1;
    }
    int good = 0;
    for (int k = 0; k < s->count; k++) good += s->ok[k];
    lc_tensor *x = NULL, *yy = NULL, *ix = NULL;
    if (good > 0) {
      int64_t one[1] = {good};
      ix = lc_empty(1, one, LC_INT64, LC_DEVICE_CPU);
      if (l->labels) yy = lc_empty(1, one, LC_INT64, LC_DEVICE_CPU);
      if (good == s->count) {
        x = s->X;
      } else {
        int64_t sizes[4] = {good, l->oc, l->oh, l->ow};
        x = lc_empty(4, sizes, l->is_float ? LC_FLOAT32 : LC_UINT8, LC_DEVICE_CPU);
        uint8_t *dst = lc_data(x);
        for (int k = 0, j = 0; k < s->count; k++)
          if (s->ok[k]) memcpy(dst + (size_t)j++ * l->sample_bytes, s->xdata + (size_t)k * l->sample_bytes, l->sample_bytes);
        lc_tensor_release(s->X);
      }
      int64_t *pi = lc_data(ix), *py = yy ? lc_data(yy) : NULL;
      for (int k = 0, j = 0; k < s->count; k++) {
        if (!s->ok[k]) continue;
        int64_t idx = l->order[start + k];
        pi[j] = idx + 1;
        if (py) py[j] = l->labels[idx];
        j++;
      }
    } else {
      lc_tensor_release(s->X);
    }
    l->skipped += s->count - good;
    s->X = NULL;
    s->xdata = NULL;
    if (b + l->prefetch < l->nbatches) prepare_slot(l, s, b + l->prefetch);
    pthread_mutex_lock(&l->mu);
    l->consumed = b + 1;
    pthread_cond_broadcast(&l->space);
    pthread_mutex_unlock(&l->mu);
    if (good > 0) {
      *X = x;
      *y = yy;
      *index = ix;
      return 1;
    }
  }
}
