/* bfloat16 <-> float32: a bfloat16 is the upper 16 bits of a float32. Narrowing rounds to
 * nearest, ties to even (as PyTorch and the hardware do); a NaN stays a NaN. */
#ifndef LC_KERNELS_COMMON_BF16_H
#define LC_KERNELS_COMMON_BF16_H

#include <stdint.h>
#include <string.h>

static inline uint16_t lc_bf16_from_float(float f)
{
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static inline float lc_bf16_to_float(uint16_t h)
{
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

#endif
