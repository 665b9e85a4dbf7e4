#include "kernels/cpu/strided.h"

void lc_cpu_iter_init(lc_cpu_iter *it, int ndim, const int64_t *sizes, int nops,
                      const int64_t *const *strides)
{
  it->nops = nops;
  it->ndim = 0;
  /* Drop size-1 dims, then merge d into the previous kept dim when every operand
   * steps over it contiguously. */
  for (int d = 0; d < ndim; d++) {
    if (sizes[d] == 1) continue;
    int n = it->ndim;
    if (n > 0) {
      int mergeable = 1;
      for (int k = 0; k < nops; k++)
        if (strides[k][d] * sizes[d] != it->strides[k][n - 1]) mergeable = 0;
      if (mergeable) {
        it->sizes[n - 1] *= sizes[d];
        for (int k = 0; k < nops; k++) it->strides[k][n - 1] = strides[k][d];
        continue;
      }
    }
    it->sizes[n] = sizes[d];
    for (int k = 0; k < nops; k++) it->strides[k][n] = strides[k][d];
    it->ndim++;
  }
  for (int d = 0; d < ndim; d++)
    if (sizes[d] == 0) { /* empty: one run of length 0 */
      it->ndim = 1;
      it->sizes[0] = 0;
      for (int k = 0; k < nops; k++) it->strides[k][0] = 1;
      return;
    }
  if (it->ndim == 0) { /* a single element */
    it->ndim = 1;
    it->sizes[0] = 1;
    for (int k = 0; k < nops; k++) it->strides[k][0] = 1;
  }
}

int64_t lc_cpu_iter_runs(const lc_cpu_iter *it)
{
  int64_t runs = 1;
  for (int d = 0; d < it->ndim - 1; d++) runs *= it->sizes[d];
  return runs;
}

int64_t lc_cpu_iter_run_length(const lc_cpu_iter *it) { return it->sizes[it->ndim - 1]; }

int64_t lc_cpu_iter_run_stride(const lc_cpu_iter *it, int op)
{
  return it->strides[op][it->ndim - 1];
}

void lc_cpu_iter_offsets(const lc_cpu_iter *it, int64_t run, int64_t *offsets)
{
  for (int k = 0; k < it->nops; k++) offsets[k] = 0;
  for (int d = it->ndim - 2; d >= 0; d--) {
    int64_t i = run % it->sizes[d];
    run /= it->sizes[d];
    for (int k = 0; k < it->nops; k++) offsets[k] += i * it->strides[k][d];
  }
}
