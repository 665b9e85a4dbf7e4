/* A cache of large freed CPU tensor blocks (see cpu_block_cache.h). */
#include "runtime/cpu_block_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BLOCKS 512

typedef struct {
  void *p;
  size_t nbytes;
} block;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static block blocks[MAX_BLOCKS]; /* oldest first */
static int count;
static size_t held, cap;
static int configured;

static void configure(void)
{
  if (configured) return;
  configured = 1;
  const char *e = getenv("LUACNN_CPU_CACHE_MB");
  if (e && *e) {
    cap = (size_t)strtoull(e, NULL, 10) << 20;
    return;
  }
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  size_t quarter = pages > 0 && page > 0 ? (size_t)pages * (size_t)page / 4 : (size_t)1 << 30;
  size_t most = (size_t)4096 << 20;
  cap = quarter < most ? quarter : most;
}

void *lc_cpu_cache_take(size_t nbytes)
{
  if (nbytes < LC_CPU_CACHE_MIN) return NULL;
  void *p = NULL;
  pthread_mutex_lock(&lock);
  for (int i = count - 1; i >= 0; i--)
    if (blocks[i].nbytes == nbytes) {
      p = blocks[i].p;
      held -= nbytes;
      memmove(&blocks[i], &blocks[i + 1], sizeof(block) * (size_t)(count - 1 - i));
      count--;
      break;
    }
  pthread_mutex_unlock(&lock);
  return p;
}

int lc_cpu_cache_give(void *p, size_t nbytes)
{
  if (!p || nbytes < LC_CPU_CACHE_MIN) return 0;
  pthread_mutex_lock(&lock);
  configure();
  if (nbytes > cap) {
    pthread_mutex_unlock(&lock);
    return 0;
  }
  /* make room: the oldest blocks go first */
  int drop = 0;
  size_t freed = 0;
  while (drop < count && (held - freed + nbytes > cap || count - drop >= MAX_BLOCKS))
    freed += blocks[drop++].nbytes;
  block gone[MAX_BLOCKS];
  memcpy(gone, blocks, sizeof(block) * (size_t)drop);
  memmove(blocks, blocks + drop, sizeof(block) * (size_t)(count - drop));
  count -= drop;
  held -= freed;
  blocks[count++] = (block){p, nbytes};
  held += nbytes;
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < drop; i++) free(gone[i].p);
  return 1;
}

void lc_cpu_cache_trim(void)
{
  pthread_mutex_lock(&lock);
  block gone[MAX_BLOCKS];
  int n = count;
  memcpy(gone, blocks, sizeof(block) * (size_t)n);
  count = 0;
  held = 0;
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < n; i++) free(gone[i].p);
}

size_t lc_cpu_cache_bytes(void)
{
  pthread_mutex_lock(&lock);
  size_t h = held;
  pthread_mutex_unlock(&lock);
  return h;
}
