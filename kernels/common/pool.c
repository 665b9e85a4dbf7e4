/* Pooling shape checks shared by every device (see pool.h). */
#include "kernels/common/pool.h"

const char *lc_pool2d_strerror(int code)
{
  switch (code) {
  case LC_POOL_OK: return "success";
  case LC_POOL_EBADARG: return "kernel size, stride and dilation must be positive and padding "
                               "non-negative";
  case LC_POOL_EPAD: return "pad should be at most half of kernel size";
  case LC_POOL_EOUTPUT: return "output size is too small";
  case LC_POOL_EDILATION: return "avg pooling does not take a dilation";
  default: return "unknown pooling error";
  }
}

/* Division rounding towards minus infinity (the numerator may be negative). */
static int64_t div_floor(int64_t a, int64_t b)
{
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t lc_pool_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil,
                         int ceil_mode)
{
  int64_t out = div_floor(in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0),
                          stride) + 1;
  /* the last window must start inside the input or its left padding */
  if (ceil_mode && (out - 1) * stride >= in + pad) out--;
  return out;
}

int lc_pool2d_shape_finish(lc_pool2d_shape *s, int avg)
{
  if (s->n < 0 || s->c < 0 || s->h < 1 || s->w < 1 || s->kh < 1 || s->kw < 1 ||
      s->stride_h < 1 || s->stride_w < 1 || s->pad_h < 0 || s->pad_w < 0 || s->dil_h < 1 ||
      s->dil_w < 1)
    return LC_POOL_EBADARG;
  if (avg && (s->dil_h != 1 || s->dil_w != 1)) return LC_POOL_EDILATION;
  if (s->pad_h > s->kh / 2 || s->pad_w > s->kw / 2) return LC_POOL_EPAD;
  s->out_h = lc_pool_out_size(s->h, s->kh, s->stride_h, s->pad_h, s->dil_h, s->ceil_mode);
  s->out_w = lc_pool_out_size(s->w, s->kw, s->stride_w, s->pad_w, s->dil_w, s->ceil_mode);
  if (s->out_h < 1 || s->out_w < 1) return LC_POOL_EOUTPUT;
  return LC_POOL_OK;
}
