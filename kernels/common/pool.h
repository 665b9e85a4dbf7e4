/* 2-D pooling: the shape struct, the error codes and the shape checks shared by the CPU
 * (kernels/cpu/pool.h) and CUDA (kernels/cuda/nn.h) kernels: PyTorch's rules for max_pool2d
 * and avg_pool2d. */
#ifndef LC_KERNELS_COMMON_POOL_H
#define LC_KERNELS_COMMON_POOL_H

#include <stdint.h>

typedef struct lc_pool2d_shape {
  int64_t n, c, h, w;
  int64_t kh, kw;
  int64_t stride_h, stride_w;  /* PyTorch's default stride is the kernel size */
  int64_t pad_h, pad_w;        /* implicit -inf (max) or zero (avg) padding, both sides */
  int64_t dil_h, dil_w;        /* max pooling only; 1 for avg pooling */
  int ceil_mode;
  int64_t out_h, out_w;        /* filled in by lc_pool2d_shape_finish */
} lc_pool2d_shape;

enum {
  LC_POOL_OK = 0,
  LC_POOL_EBADARG = -1,  /* kernel, stride or dilation < 1, padding < 0, or a size < 0 */
  LC_POOL_EPAD = -2,     /* padding larger than half the kernel */
  LC_POOL_EOUTPUT = -3,  /* the output would be empty */
  LC_POOL_EDILATION = -4 /* avg pooling with dilation != 1 */
};

const char *lc_pool2d_strerror(int code);

/* PyTorch's pooling output size: floor (or ceil, with ceil_mode) of
 * (in + 2 pad - dil (k - 1) - 1) / stride, plus 1; in ceil mode a last window that would start
 * in the right padding (or beyond) is dropped. May return < 1 (LC_POOL_EOUTPUT). */
int64_t lc_pool_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil,
                         int ceil_mode);

/* Checks s as PyTorch's max_pool2d / avg_pool2d do (pad <= kernel / 2, non-empty output) and
 * fills out_h, out_w. `avg` selects avg pooling's rules (dilation must be 1). */
int lc_pool2d_shape_finish(lc_pool2d_shape *s, int avg);

#endif
