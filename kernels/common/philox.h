/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11):
 * a counter-based generator. Output block c of seed k is a pure function of (k, c),
 * so the CPU and a GPU produce the same stream, and any element can be computed
 * independently: element i of a draw uses block (offset + i / 4), lane i % 4. */
#ifndef LC_PHILOX_H
#define LC_PHILOX_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define LC_HOST_DEVICE __host__ __device__
#else
#define LC_HOST_DEVICE
#endif

typedef struct {
  uint32_t v[4];
} lc_philox_block;

static inline LC_HOST_DEVICE uint32_t lc_mulhilo(uint32_t a, uint32_t b, uint32_t *hi)
{
  uint64_t p = (uint64_t)a * b;
  *hi = (uint32_t)(p >> 32);
  return (uint32_t)p;
}

static inline LC_HOST_DEVICE lc_philox_block lc_philox(uint64_t seed, uint64_t counter)
{
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int round = 0; round < 10; round++) {
    uint32_t hi0, hi1;
    uint32_t lo0 = lc_mulhilo(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = lc_mulhilo(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  lc_philox_block b = {{c0, c1, c2, c3}};
  return b;
}

/* A uniform float in (0, 1]: never 0, so log() in Box-Muller is finite. */
static inline LC_HOST_DEVICE double lc_uniform01(uint32_t x)
{
  return ((double)x + 1.0) * (1.0 / 4294967296.0);
}

/* Element `lane` (0..3) of block `b` as a uniform in [lo, hi). */
static inline LC_HOST_DEVICE double lc_philox_uniform(lc_philox_block b, int lane, double lo, double hi)
{
  double u = 1.0 - lc_uniform01(b.v[lane]); /* [0, 1) */
  return lo + (hi - lo) * u;
}

/* Element `lane` of block `b` as a standard normal: lanes (0, 1) and (2, 3) are
 * Box-Muller pairs. */
static inline LC_HOST_DEVICE double lc_philox_normal(lc_philox_block b, int lane)
{
  int pair = lane & 2;
  double u1 = lc_uniform01(b.v[pair]), u2 = lc_uniform01(b.v[pair + 1]);
  double r = sqrt(-2.0 * log(u1));
  double theta = 6.283185307179586 * u2;
  return (lane & 1) ? r * sin(theta) : r * cos(theta);
}

#endif
