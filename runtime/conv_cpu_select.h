/* The CPU backend's float32 convolution: im2col + OpenBLAS (kernels/cpu/conv.h) or oneDNN
 * (kernels/cpu/conv_dnnl.h), chosen per (direction, shape, bias, thread count), like cuDNN's
 * benchmark mode.
 *
 * Mode (environment LUACNN_CPU_CONV, or lc_cpu_conv_set_mode):
 *   auto      (default) a fixed rule measured on the chapter's networks: oneDNN wherever it
 *             has an implementation and the convolution has at least 16 output channels per
 *             group (oneDNN's blocked layouts pad channels to 16: LeNet's 6-channel first
 *             layer is faster with im2col), im2col elsewhere and in a build without oneDNN;
 *             and im2col wherever its direct kernels serve the forward or weight gradient
 *             (stride 1, at most 4 input channels: kernels/cpu/conv_direct.h). The same
 *             shape takes the same path in every run, so runs repeat exactly.
 *   benchmark the first call of a (direction, shape, bias, thread count) runs both paths, times
 *             them and keeps the faster for the rest of the process, like cuDNN's benchmark
 *             mode (the result returned is always the kept path's). On a busy machine the
 *             timings, hence the choices, vary from run to run.
 *   im2col    always im2col + OpenBLAS: forward and backward_data bit-identical on any thread
 *             count (see conv.h).
 *   dnnl      oneDNN wherever it has an implementation, im2col elsewhere.
 * Results of the oneDNN path are close to the exact convolution, not bit-identical to im2col's
 * nor across thread counts. Not thread-safe across callers (the runtime runs ops one at a time).
 * LUACNN_CPU_CONV_VERBOSE=1 prints each choice (and benchmark mode's timings) to stderr.
 *
 * Each function returns an LC_CONV_* code (conv.h); a oneDNN failure falls back to im2col. */
#ifndef LC_RUNTIME_CONV_CPU_SELECT_H
#define LC_RUNTIME_CONV_CPU_SELECT_H

#include <stddef.h>

#include "kernels/cpu/conv.h"

typedef enum {
  LC_CPU_CONV_AUTO = 0,
  LC_CPU_CONV_IM2COL = 1,
  LC_CPU_CONV_DNNL = 2,
  LC_CPU_CONV_BENCHMARK = 3
} lc_cpu_conv_mode;

lc_cpu_conv_mode lc_cpu_conv_get_mode(void);
/* Also forgets the choices made so far. */
void lc_cpu_conv_set_mode(lc_cpu_conv_mode mode);
/* The path the last call of a direction took: "im2col" or "dnnl" ("none" before any); for
 * tests and benchmarks. dir: 0 forward,
 * 1 backward_data, 2 backward_weight. */
const char *lc_cpu_conv_last_path(int dir);

int lc_cpu_conv2d_forward_f32(const lc_conv2d_shape *s, const float *x, const float *w,
                              const float *bias, float *y, void *scratch, size_t scratch_bytes);
int lc_cpu_conv2d_backward_data_f32(const lc_conv2d_shape *s, const float *dy, const float *w,
                                    float *dx, void *scratch, size_t scratch_bytes);
int lc_cpu_conv2d_backward_weight_f32(const lc_conv2d_shape *s, const float *x, const float *dy,
                                      float *dw, float *dbias, void *scratch, size_t scratch_bytes);

#endif
