/* Convolution shape checks shared by every device (see conv.h). */
#include "kernels/common/conv.h"

#include <limits.h>

const char *lc_conv2d_strerror(int code)
{
  switch (code) {
  case LC_CONV_OK: return "success";
  case LC_CONV_EBADARG: return "invalid size, stride, padding, dilation or groups";
  case LC_CONV_EGROUPS: return "groups must divide both in_channels and out_channels";
  case LC_CONV_EOUTPUT: return "the padded input is smaller than the dilated kernel";
  case LC_CONV_ETOOBIG: return "a dimension is too large for BLAS";
  case LC_CONV_ENOMEM: return "out of memory for the convolution scratch buffer";
  case LC_CONV_ESCRATCH: return "the scratch buffer is too small";
  default: return "unknown convolution error";
  }
}

int64_t lc_conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil)
{
  int64_t span = in + 2 * pad - dil * (k - 1) - 1;
  if (span < 0 || stride < 1) return 0;  /* C division truncates: keep floor() honest */
  return span / stride + 1;
}

int lc_conv2d_shape_finish(lc_conv2d_shape *s)
{
  if (s->n < 0 || s->c_in < 1 || s->h < 1 || s->w < 1 || s->c_out < 1 || s->kh < 1 ||
      s->kw < 1 || s->stride_h < 1 || s->stride_w < 1 || s->pad_h < 0 || s->pad_w < 0 ||
      s->dil_h < 1 || s->dil_w < 1 || s->groups < 1)
    return LC_CONV_EBADARG;
  if (s->c_in % s->groups || s->c_out % s->groups) return LC_CONV_EGROUPS;
  s->out_h = lc_conv_out_size(s->h, s->kh, s->stride_h, s->pad_h, s->dil_h);
  s->out_w = lc_conv_out_size(s->w, s->kw, s->stride_w, s->pad_w, s->dil_w);
  if (s->out_h < 1 || s->out_w < 1) return LC_CONV_EOUTPUT;
  /* BLAS takes int sizes and leading dimensions. */
  if (s->out_h * s->out_w > INT_MAX || s->c_in * s->kh * s->kw > INT_MAX ||
      s->c_out > INT_MAX || s->h * s->w > INT_MAX)
    return LC_CONV_ETOOBIG;
  return LC_CONV_OK;
}
