#include "kernels/cpu/reduce.h"

#include <math.h>

static double load(lc_dtype dtype, const void *p, int64_t i)
{
  switch (dtype) {
  case LC_FLOAT32: return ((const float *)p)[i];
  case LC_FLOAT64: return ((const double *)p)[i];
  case LC_INT64: return (double)((const int64_t *)p)[i];
  default: return ((const uint8_t *)p)[i];
  }
}

static void store(lc_dtype dtype, void *p, int64_t i, double v)
{
  switch (dtype) {
  case LC_FLOAT32: ((float *)p)[i] = (float)v; break;
  case LC_FLOAT64: ((double *)p)[i] = v; break;
  case LC_INT64: ((int64_t *)p)[i] = (int64_t)v; break;
  default: ((uint8_t *)p)[i] = (uint8_t)v; break;
  }
}

/* Sum of a contiguous float run, the common case (row sums, whole-tensor sums). */
static double sum_contiguous_f32(const float *x, int64_t n)
{
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += x[i];
  return s;
}

static double reduce_block(lc_reduce_op op, lc_dtype dtype, const void *in, int64_t base,
                           int nred, const int64_t *sizes, const int64_t *strides,
                           int64_t *winner)
{
  int64_t count = 1;
  for (int d = 0; d < nred; d++) count *= sizes[d];
  if (op == LC_RED_SUM && dtype == LC_FLOAT32 && nred == 1 && strides[0] == 1)
    return sum_contiguous_f32((const float *)in + base, count);

  int64_t idx[8] = {0};
  int64_t offset = base;
  double acc = op == LC_RED_SUM ? 0 : op == LC_RED_PROD ? 1 : NAN;
  int64_t best = 0;
  for (int64_t k = 0; k < count; k++) {
    double v = load(dtype, in, offset);
    switch (op) {
    case LC_RED_SUM: acc += v; break;
    case LC_RED_PROD: acc *= v; break;
    case LC_RED_MAX:
      if (k == 0 || (acc == acc && (v > acc || v != v))) { acc = v; best = k; }
      break;
    case LC_RED_MIN:
      if (k == 0 || (acc == acc && (v < acc || v != v))) { acc = v; best = k; }
      break;
    default: break;
    }
    for (int d = nred - 1; d >= 0; d--) { /* odometer step */
      offset += strides[d];
      if (++idx[d] < sizes[d]) break;
      offset -= strides[d] * sizes[d];
      idx[d] = 0;
    }
  }
  if (winner) *winner = best;
  return acc;
}

void lc_cpu_reduce(lc_reduce_op op, lc_dtype dtype, int ndim, const int64_t *sizes,
                   const int64_t *strides, int nred, const void *in, void *out, int64_t *indices)
{
  int nkeep = ndim - nred;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < nkeep; d++) outer *= sizes[d];
  for (int d = nkeep; d < ndim; d++) inner *= sizes[d];
#pragma omp parallel for if (outer * inner > 65536 && outer > 1)
  for (int64_t o = 0; o < outer; o++) {
    int64_t base = 0, rest = o;
    for (int d = nkeep - 1; d >= 0; d--) {
      base += (rest % sizes[d]) * strides[d];
      rest /= sizes[d];
    }
    int64_t winner = 0;
    double v = reduce_block(op, dtype, in, base, nred, sizes + nkeep, strides + nkeep, &winner);
    store(dtype, out, o, v);
    if (indices) indices[o] = winner;
  }
}
