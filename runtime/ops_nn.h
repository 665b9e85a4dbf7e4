/* Neural-network ops with their gradients (runtime/ops_nn.c). Conventions as ops.h:
 * new references returned, 0-based class targets, errors through lc_error. */
#ifndef LC_OPS_NN_H
#define LC_OPS_NN_H

#include "runtime/ops.h"

/* Every op validates its arguments here, in the runtime, with one message per mistake (the op,
 * what was expected, what was given); lib/luacnn only turns option tables into arguments. The
 * image ops take a batch (N, C, H, W) or one image (C, H, W). The *_check functions are the
 * option checks alone, for a layer's constructor to fail early with the op's own message. */
typedef struct {
  int64_t stride[2], padding[2], dilation[2], groups;
  bool same; /* padding='same': padding is computed from the kernel and dilation */
} lc_conv2d_options;

lc_tensor *lc_conv2d(lc_tensor *x, lc_tensor *w, lc_tensor *bias, const lc_conv2d_options *o);
/* The options of a convolution from in_channels to out_channels with this kernel; resolves
 * 'same' into o->padding. */
void lc_conv2d_check(int64_t in_channels, int64_t out_channels, const int64_t kernel[2],
                     lc_conv2d_options *o);
lc_tensor *lc_max_pool2d(lc_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                         const int64_t padding[2], const int64_t dilation[2], bool ceil_mode);
/* divisor_override: 0 for none */
lc_tensor *lc_avg_pool2d(lc_tensor *x, const int64_t kernel[2], const int64_t stride[2],
                         const int64_t padding[2], bool ceil_mode, bool count_include_pad,
                         int64_t divisor_override);
/* A pooling window's options: kernel, stride, dilation >= 1, 0 <= padding <= kernel / 2. */
void lc_pool2d_check(const char *op, const int64_t kernel[2], const int64_t stride[2],
                     const int64_t padding[2], const int64_t dilation[2]);
lc_tensor *lc_adaptive_avg_pool2d(lc_tensor *x, int64_t out_h, int64_t out_w);
void lc_adaptive_avg_pool2d_check(int64_t out_h, int64_t out_w);
/* Updates the running statistics in place when training. */
lc_tensor *lc_batch_norm(lc_tensor *x, lc_tensor *running_mean, lc_tensor *running_var,
                         lc_tensor *weight, lc_tensor *bias, bool training, double momentum,
                         double eps);
lc_tensor *lc_log_softmax(lc_tensor *x, int dim);
lc_tensor *lc_softmax(lc_tensor *x, int dim);
typedef enum { LC_REDUCE_NONE, LC_REDUCE_MEAN, LC_REDUCE_SUM } lc_reduction;
lc_tensor *lc_cross_entropy(lc_tensor *logits, lc_tensor *targets, lc_reduction reduction,
                            double label_smoothing);
lc_tensor *lc_linear(lc_tensor *x, lc_tensor *w, lc_tensor *bias);
lc_tensor *lc_dropout(lc_tensor *x, double p, bool training);
lc_tensor *lc_resize(lc_tensor *x, int64_t out_h, int64_t out_w);
/* uint8 images -> float32 in [0, 1]: x / 255 as torchvision's ToTensor (a new tensor, no grad). */
lc_tensor *lc_bytes_to_unit(lc_tensor *x);

void lc_sgd_step(int n, lc_tensor *const *params, lc_tensor *const *grads, lc_tensor *const *bufs,
                 const lc_sgd_params *h, bool first_step);
void lc_adam_step(int n, lc_tensor *const *params, lc_tensor *const *grads,
                  lc_tensor *const *exp_avg, lc_tensor *const *exp_avg_sq,
                  lc_tensor *const *max_exp_avg_sq, const lc_adam_params *h);

#endif
