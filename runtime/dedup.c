/* Identical-file groups (see dedup.h). */
#include "runtime/dedup.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/csv.h"

static inline uint64_t mum(uint64_t a, uint64_t b)
{
  __uint128_t p = (__uint128_t)a * b;
  return (uint64_t)p ^ (uint64_t)(p >> 64);
}

uint64_t lc_hash64(const void *data, size_t n, uint64_t seed)
{
  const uint8_t *p = data;
  const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull, k2 = 0x8ebc6af09c88c6e3ull;
  uint64_t h = seed ^ mum(n ^ k0, k1);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    uint64_t a, b;
    memcpy(&a, p + i, 8);
    memcpy(&b, p + i + 8, 8);
    h = mum(a ^ k1 ^ h, b ^ k2);
  }
  uint64_t a = 0, b = 0;
  size_t rest = n - i;
  if (rest > 8) {
    memcpy(&a, p + i, 8);
    memcpy(&b, p + i + 8, rest - 8);
  } else {
    memcpy(&a, p + i, rest);
  }
  h = mum(a ^ k1 ^ h, b ^ k2 ^ rest);
  return mum(h ^ k0, k2 ^ n);
}

typedef struct {
  const char *const *paths;
  int64_t n;
  uint64_t *hash;
  int64_t *size;
  uint8_t *bad;
  atomic_llong next;
} hash_job;

static void *hash_worker(void *arg)
{
  hash_job *job = arg;
  for (;;) {
    int64_t i = atomic_fetch_add(&job->next, 1);
    if (i >= job->n) break;
    uint8_t *data;
    size_t len;
    char err[8];
    if (lc_read_whole_file(job->paths[i], &data, &len, err, sizeof err) != 0) {
      job->bad[i] = 1;
      job->hash[i] = 0;
      job->size[i] = -1;
      continue;
    }
    job->hash[i] = lc_hash64(data, len, 0);
    job->size[i] = (int64_t)len;
    free(data);
  }
  return NULL;
}

static const uint64_t *sort_hash;
static const int64_t *sort_size;
static int by_key(const void *pa, const void *pb)
{
  int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
  if (sort_hash[a] != sort_hash[b]) return sort_hash[a] < sort_hash[b] ? -1 : 1;
  if (sort_size[a] != sort_size[b]) return sort_size[a] < sort_size[b] ? -1 : 1;
  return a < b ? -1 : a > b;
}

static int same_bytes(const char *p, const char *q)
{
  uint8_t *a, *b;
  size_t na, nb;
  char err[8];
  if (lc_read_whole_file(p, &a, &na, err, sizeof err) != 0) return 0;
  if (lc_read_whole_file(q, &b, &nb, err, sizeof err) != 0) {
    free(a);
    return 0;
  }
  int same = na == nb && memcmp(a, b, na) == 0;
  free(a);
  free(b);
  return same;
}

static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

int lc_dedup_files(const char *const *paths, int64_t n, int threads, int64_t *group,
                   uint8_t *unreadable, char *err, size_t errlen)
{
  if (n <= 0) return 0;
  if (threads <= 0) threads = 2;
  if (threads > 64) threads = 64;
  hash_job job = {.paths = paths, .n = n};
  job.hash = malloc((size_t)n * sizeof *job.hash);
  job.size = malloc((size_t)n * sizeof *job.size);
  job.bad = calloc((size_t)n, 1);
  int64_t *order = malloc((size_t)n * sizeof *order);
  if (!job.hash || !job.size || !job.bad || !order) {
    free(job.hash); free(job.size); free(job.bad); free(order);
    snprintf(err, errlen, "dedup: out of memory for %lld files", (long long)n);
    return -1;
  }
  atomic_init(&job.next, 0);
  pthread_t tid[64];
  int started = 0;
  for (int t = 1; t < threads; t++)
    if (pthread_create(&tid[started], NULL, hash_worker, &job) == 0) started++;
  hash_worker(&job);
  for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);

  for (int64_t i = 0; i < n; i++) {
    order[i] = i;
    group[i] = i;
  }
  pthread_mutex_lock(&sort_lock);
  sort_hash = job.hash;
  sort_size = job.size;
  qsort(order, (size_t)n, sizeof *order, by_key);
  pthread_mutex_unlock(&sort_lock);
  /* runs of equal (hash, size): each member joins the first earlier member with equal bytes
   * (almost always the run's first: different files in one run need a 64-bit collision) */
  for (int64_t s = 0; s < n;) {
    int64_t e = s + 1;
    while (e < n && job.hash[order[e]] == job.hash[order[s]] && job.size[order[e]] == job.size[order[s]]) e++;
    for (int64_t k = s + 1; k < e; k++) {
      int64_t i = order[k];
      if (job.bad[i]) continue;
      for (int64_t m = s; m < k; m++) {
        int64_t j = order[m];
        if (job.bad[j] || group[j] != j) continue; /* compare with group leaders only */
        if (same_bytes(paths[j], paths[i])) {
          group[i] = j;
          break;
        }
      }
    }
    s = e;
  }
  if (unreadable) memcpy(unreadable, job.bad, (size_t)n);
  free(job.hash); free(job.size); free(job.bad); free(order);
  return 0;
}
