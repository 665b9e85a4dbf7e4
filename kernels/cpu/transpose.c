/* Cache-blocked transposed copy (see transpose.h). */
#include "kernels/cpu/transpose.h"

#define TILE 32
#define MIN_ELEMENTS (1 << 14)

#define TRANSPOSE(T)                                                                       \
  do {                                                                                     \
    T *d = (T *)dst.data;                                                                  \
    const T *s = (const T *)src.data;                                                      \
    _Pragma("omp parallel for schedule(static)")                                           \
    for (int64_t ib = 0; ib < rows; ib += TILE) {                                          \
      int64_t ie = ib + TILE < rows ? ib + TILE : rows;                                    \
      for (int64_t jb = 0; jb < cols; jb += TILE) {                                        \
        int64_t je = jb + TILE < cols ? jb + TILE : cols;                                  \
        for (int64_t j = jb; j < je; j++)                                                  \
          for (int64_t i = ib; i < ie; i++) d[i * cols + j] = s[j * ld + i];               \
      }                                                                                    \
    }                                                                                      \
  } while (0)

int lc_cpu_copy_transposed(lc_dtype dst_dtype, lc_dtype src_dtype, int ndim, const int64_t *sizes,
                           lc_cpu_operand dst, lc_cpu_operand src)
{
  if (ndim != 2 || dst_dtype != src_dtype) return 0;
  int64_t rows = sizes[0], cols = sizes[1];
  if (rows < 2 || cols < 2 || rows * cols < MIN_ELEMENTS) return 0;
  if (dst.strides[0] != cols || dst.strides[1] != 1) return 0;
  int64_t ld = src.strides[1];
  if (src.strides[0] != 1 || ld < rows) return 0;
  switch (dst_dtype) {
  case LC_FLOAT32: TRANSPOSE(float); return 1;
  case LC_FLOAT64: TRANSPOSE(double); return 1;
  case LC_INT64: TRANSPOSE(int64_t); return 1;
  case LC_BFLOAT16: TRANSPOSE(uint16_t); return 1;
  default: return 0;
  }
}
