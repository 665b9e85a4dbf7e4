/* Iteration over strided N-d operands: dims that are laid out back to back in every
 * operand are merged, then the work is a set of 1-D "runs" along the last dim. */
#ifndef LC_CPU_STRIDED_H
#define LC_CPU_STRIDED_H

#include <stdint.h>

#define LC_ITER_MAX_OPS 4
#define LC_ITER_MAX_DIMS 8

typedef struct {
  int ndim, nops;
  int64_t sizes[LC_ITER_MAX_DIMS];
  int64_t strides[LC_ITER_MAX_OPS][LC_ITER_MAX_DIMS];
} lc_cpu_iter;

/* strides[k] are operand k's element strides over the shared sizes. */
void lc_cpu_iter_init(lc_cpu_iter *it, int ndim, const int64_t *sizes, int nops,
                      const int64_t *const *strides);
/* Number of runs and the length of each. */
int64_t lc_cpu_iter_runs(const lc_cpu_iter *it);
int64_t lc_cpu_iter_run_length(const lc_cpu_iter *it);
int64_t lc_cpu_iter_run_stride(const lc_cpu_iter *it, int op);
/* Element offsets at which run r starts, one per operand. */
void lc_cpu_iter_offsets(const lc_cpu_iter *it, int64_t run, int64_t *offsets);

#endif
