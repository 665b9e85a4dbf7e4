#include "runtime/random.h"

#include <time.h>

static uint64_t current_seed = 0x853c49e6748fea9bULL;
static uint64_t current_offset;

void lc_manual_seed(uint64_t seed)
{
  current_seed = seed;
  current_offset = 0;
}

uint64_t lc_initial_seed(void) { return current_seed; }

uint64_t lc_random_reserve(int64_t n)
{
  uint64_t first = current_offset;
  current_offset += (uint64_t)(n + 3) / 4;
  return first;
}

void lc_random_get_state(uint64_t *seed, uint64_t *offset)
{
  *seed = current_seed;
  *offset = current_offset;
}

void lc_random_set_state(uint64_t seed, uint64_t offset)
{
  current_seed = seed;
  current_offset = offset;
}
