/* 2-D convolution: the shape struct, the error codes and the shape checks shared by every
 * convolution implementation (kernels/cpu/conv.c, cuDNN in runtime/cuda/conv_cudnn.c), so the
 * devices agree on what a valid convolution is and say so in the same words.
 * Layout and semantics (PyTorch's, NCHW): see kernels/cpu/conv.h. */
#ifndef LC_KERNELS_COMMON_CONV_H
#define LC_KERNELS_COMMON_CONV_H

#include <stdint.h>

typedef struct lc_conv2d_shape {
  int64_t n, c_in, h, w;          /* input */
  int64_t c_out, kh, kw;          /* weight: (c_out, c_in / groups, kh, kw) */
  int64_t stride_h, stride_w;     /* >= 1 */
  int64_t pad_h, pad_w;           /* >= 0, zero padding on both sides */
  int64_t dil_h, dil_w;           /* >= 1 */
  int64_t groups;                 /* >= 1, divides c_in and c_out */
  int64_t out_h, out_w;           /* filled in by lc_conv2d_shape_finish */
} lc_conv2d_shape;

enum {
  LC_CONV_OK = 0,
  LC_CONV_EBADARG = -1,   /* a size is negative or zero where it must be positive */
  LC_CONV_EGROUPS = -2,   /* groups does not divide c_in or c_out */
  LC_CONV_EOUTPUT = -3,   /* the (padded) input is smaller than the (dilated) kernel */
  LC_CONV_ETOOBIG = -4,   /* a matrix dimension exceeds what BLAS can index (INT_MAX) */
  LC_CONV_ENOMEM = -5,    /* scratch == NULL and the allocation failed */
  LC_CONV_ESCRATCH = -6   /* the caller's scratch cannot hold even one thread's share */
};

/* A short English description of an LC_CONV_* code, for the caller's error message. */
const char *lc_conv2d_strerror(int code);

/* floor((in + 2 pad - dil (k - 1) - 1) / stride) + 1, the output size along one dimension.
 * Returns a value < 1 when the kernel does not fit (callers report LC_CONV_EOUTPUT). */
int64_t lc_conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil);

/* Checks the fields of s and fills s->out_h and s->out_w. n may be 0 (every call is then a
 * no-op, except that backward_weight zeroes dw and dbias). Returns LC_CONV_OK or an error. */
int lc_conv2d_shape_finish(lc_conv2d_shape *s);

#endif
