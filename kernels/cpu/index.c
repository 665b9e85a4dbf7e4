/* Gather / index-add along one dimension (see index.h). */
#include "kernels/cpu/index.h"

#include <string.h>

/* Parallel only when there is enough to copy to pay for waking the threads. */
#define PARALLEL_BYTES (1 << 20)

void lc_cpu_gather_dim(int64_t outer, int64_t src_dim, int64_t inner, size_t elsize,
                       const int64_t *idx, int64_t n_idx, const void *src, void *dst)
{
  const size_t row = (size_t)inner * elsize;
  const int64_t rows = outer * n_idx;
  const char *s = src;
  char *d = dst;
#pragma omp parallel for schedule(static) if ((size_t)rows * row > PARALLEL_BYTES)
  for (int64_t r = 0; r < rows; r++) {
    int64_t o = r / n_idx, k = r % n_idx;
    memcpy(d + (size_t)r * row, s + ((size_t)(o * src_dim + idx[k])) * row, row);
  }
}

/* Threads split `outer` (disjoint destinations). With outer == 1 (index_select on dim 1)
 * they split `inner` into column blocks instead: each thread walks every k over its own
 * block, so repeated indices never race and every sum keeps the serial order. */
#define COLUMN_BLOCK 256
#define INDEX_ADD(NAME, T)                                                                    \
  void NAME(int64_t outer, int64_t dst_dim, int64_t inner, const int64_t *idx, int64_t n_idx, \
            const T *src, T *dst)                                                             \
  {                                                                                           \
    const int big = (size_t)(outer * n_idx * inner) * sizeof(T) > PARALLEL_BYTES;            \
    if (outer > 1) {                                                                          \
      _Pragma("omp parallel for schedule(static) if (big)")                                 \
      for (int64_t o = 0; o < outer; o++)                                                     \
        for (int64_t k = 0; k < n_idx; k++) {                                                 \
          const T *s = src + (o * n_idx + k) * inner;                                         \
          T *d = dst + (o * dst_dim + idx[k]) * inner;                                        \
          for (int64_t i = 0; i < inner; i++) d[i] += s[i];                                   \
        }                                                                                     \
      return;                                                                                 \
    }                                                                                         \
    const int64_t blocks = (inner + COLUMN_BLOCK - 1) / COLUMN_BLOCK;                         \
    _Pragma("omp parallel for schedule(static) if (big && blocks > 1)")                     \
    for (int64_t b = 0; b < blocks; b++) {                                                    \
      const int64_t i0 = b * COLUMN_BLOCK;                                                    \
      const int64_t i1 = i0 + COLUMN_BLOCK < inner ? i0 + COLUMN_BLOCK : inner;              \
      for (int64_t k = 0; k < n_idx; k++) {                                                   \
        const T *s = src + k * inner;                                                         \
        T *d = dst + idx[k] * inner;                                                          \
        for (int64_t i = i0; i < i1; i++) d[i] += s[i];                                       \
      }                                                                                       \
    }                                                                                         \
  }

INDEX_ADD(lc_cpu_index_add_f32, float)
INDEX_ADD(lc_cpu_index_add_f64, double)
