/* The cache of large freed CPU blocks (runtime/cpu_block_cache.h): a freed block of 128 KB or
 * more comes back for the next allocation of the same size, small blocks and other sizes do
 * not, the cap evicts the oldest blocks, trim empties it, and tensors built on reused blocks
 * hold what is written into them. */
#include "runtime/cpu_block_cache.h"
#include "test_kernels_check.h"

#include <string.h>

int main(void)
{
  setenv("LUACNN_CPU_CACHE_MB", "8", 1); /* read at the first give */
  size_t mb = (size_t)1 << 20;
  void *a = malloc(2 * mb);
  check(lc_cpu_cache_give(a, 2 * mb) == 1, "a 2 MB block is kept");
  check(lc_cpu_cache_bytes() == 2 * mb, "the cache holds 2 MB");
  check(lc_cpu_cache_take(3 * mb) == NULL, "no block for another size");
  check(lc_cpu_cache_take(2 * mb) == a, "the same block comes back for the same size");
  check(lc_cpu_cache_take(2 * mb) == NULL, "and only once");
  check(lc_cpu_cache_bytes() == 0, "the cache is empty again");
  void *small = malloc(1000);
  check(lc_cpu_cache_give(small, 1000) == 0, "a small block is declined (the caller frees it)");
  check(LC_CPU_CACHE_MIN <= ((size_t)128 << 10), "blocks from 128 KB (glibc's mmap threshold) are kept");
  free(small);
  /* the cap: 8 MB; four 3 MB blocks keep only the last two */
  void *b[4];
  for (int i = 0; i < 4; i++) {
    b[i] = malloc(3 * mb);
    memset(b[i], i, 3 * mb);
    lc_cpu_cache_give(b[i], 3 * mb);
  }
  check(lc_cpu_cache_bytes() == 6 * mb, "the cap (8 MB) is kept: 6 MB held");
  void *t1 = lc_cpu_cache_take(3 * mb), *t2 = lc_cpu_cache_take(3 * mb);
  check(t1 == b[3] && t2 == b[2], "the most recent blocks were kept, newest first");
  check(((unsigned char *)t1)[123] == 3, "a reused block is the caller's memory as it was left");
  void *big = malloc(9 * mb);
  check(lc_cpu_cache_give(big, 9 * mb) == 0, "a block larger than the cap is declined");
  free(big);
  lc_cpu_cache_give(t1, 3 * mb);
  lc_cpu_cache_give(t2, 3 * mb);
  lc_cpu_cache_give(a, 2 * mb);
  lc_cpu_cache_trim();
  check(lc_cpu_cache_bytes() == 0, "trim frees everything");
  return check_done("test_cpu_block_cache");
}
