/* The global generator: a Philox seed and a counter offset. Each draw of n values
 * takes ceil(n / 4) counters, so a seed gives the same stream on every device. */
#ifndef LC_RANDOM_H
#define LC_RANDOM_H

#include <stdint.h>

void lc_manual_seed(uint64_t seed);
uint64_t lc_initial_seed(void);
/* Reserves counters for n values; returns the first. */
uint64_t lc_random_reserve(int64_t n);
/* Save and restore the generator (checkpoints, reproducible sub-streams). */
void lc_random_get_state(uint64_t *seed, uint64_t *offset);
void lc_random_set_state(uint64_t seed, uint64_t offset);

#endif
