/* float32 2-D convolution through oneDNN (Debian's libdnnl, 2.x), when the build has it.
 *
 * The same contract as kernels/cpu/conv.h (PyTorch semantics, contiguous NCHW arrays in and out,
 * outputs overwritten), for float32 only. Inside, oneDNN picks its own layouts (blocked nChw16c
 * and the like, with JIT kernels for the widest vector units it finds, whatever
 * OPENBLAS_CORETYPE says): the NCHW arrays are reordered into those layouts and back on every
 * call. Primitives (and their reorders) are built once per (direction, shape, bias or not,
 * thread count) and kept for the life of the process; temporaries come from one shared buffer
 * that grows on demand. Calls are serialised by a mutex.
 *
 * Results are close to the exact convolution (float32 rounding, a summation order of oneDNN's
 * choosing); oneDNN does not promise bit-identical results across thread counts, and neither
 * does this file.
 *
 * Without oneDNN (LUACNN_WITH_DNNL undefined) every function returns LC_CONV_DNNL_UNAVAILABLE. */
#ifndef LC_KERNELS_CPU_CONV_DNNL_H
#define LC_KERNELS_CPU_CONV_DNNL_H

#include "kernels/cpu/conv.h"

enum {
  LC_CONV_DNNL_UNAVAILABLE = -100, /* the build has no oneDNN */
  LC_CONV_DNNL_UNSUPPORTED = -101, /* oneDNN has no implementation for this shape */
  LC_CONV_DNNL_EFAILED = -102      /* oneDNN returned an error (out of memory, ...) */
};

/* 1 when the build has oneDNN and an engine could be created. */
int lc_conv2d_dnnl_available(void);

/* "oneDNN 2.6.3 (avx512_core)" or "no oneDNN in this build". */
const char *lc_conv2d_dnnl_version(void);

/* Builds (or finds) the primitive for a direction without running it: 0 = ready, else an
 * LC_CONV_DNNL_* code. dir: 0 forward, 1 backward_data, 2 backward_weight. s must be finished. */
int lc_conv2d_dnnl_prepare(int dir, const lc_conv2d_shape *s, int with_bias);

int lc_conv2d_dnnl_forward_f32(const lc_conv2d_shape *s, const float *x, const float *w,
                               const float *bias, float *y);
int lc_conv2d_dnnl_backward_data_f32(const lc_conv2d_shape *s, const float *dy, const float *w,
                                     float *dx);
/* dbias may be NULL. */
int lc_conv2d_dnnl_backward_weight_f32(const lc_conv2d_shape *s, const float *x, const float *dy,
                                       float *dw, float *dbias);

/* Frees every cached primitive and the shared buffer (tests; memory checkers). */
void lc_conv2d_dnnl_release(void);

#endif
