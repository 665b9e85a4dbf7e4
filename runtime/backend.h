/* Per-device implementations of the primitive ops. The ops in runtime/ops_*.c do the
 * shape logic, autograd and allocation once; they call these to compute. A backend
 * receives tensors whose geometry is already resolved (broadcast inputs arrive as
 * expanded views with 0 strides, outputs are freshly allocated and contiguous unless
 * stated) and dispatches to kernels/<device>/. */
#ifndef LC_BACKEND_H
#define LC_BACKEND_H

#include "kernels/common/batchnorm.h"
#include "kernels/common/conv.h"
#include "kernels/common/optim.h"
#include "kernels/common/pool.h"
#include "runtime/tensor.h"

typedef struct lc_backend {
  const char *name;
  void *(*alloc)(size_t nbytes, lc_device device);
  void (*free)(void *ptr, size_t nbytes, lc_device device);

  /* dst = src elementwise with dtype conversion; same device, any strides. */
  void (*copy)(lc_tensor *dst, const lc_tensor *src);
  void (*fill)(lc_tensor *dst, double value);
  /* out = op(a); out and a have the same sizes, any strides, same dtype except
   * comparisons (out uint8). */
  void (*unary)(lc_unary_op op, lc_tensor *out, const lc_tensor *a, double s0, double s1);
  /* out = a op b; all three have out's sizes (a, b possibly expanded); a and b share a
   * dtype; out has it too except for comparisons (uint8). */
  void (*binary)(lc_binary_op op, lc_tensor *out, const lc_tensor *a, const lc_tensor *b);
  /* out = cond ? a : b, all of out's sizes; cond uint8. */
  void (*where)(lc_tensor *out, const lc_tensor *cond, const lc_tensor *a, const lc_tensor *b);
  /* Reduces the last `nred` dims of a (a permuted view). out (contiguous) holds the
   * leading dims; for MAX/MIN, indices (int64, may be NULL) get the flat position within
   * the reduced block, in row-major order of the reduced dims. */
  void (*reduce)(lc_reduce_op op, lc_tensor *out, lc_tensor *indices, const lc_tensor *a, int nred);
  /* c = a @ b for 2-D or batched 3-D (batch, m, k) x (batch, k, n), float dtypes;
   * each matrix has unit stride in one of its two dims; c contiguous. */
  void (*matmul)(lc_tensor *c, const lc_tensor *a, const lc_tensor *b);
  /* Fills a contiguous float tensor from the counter-based generator. */
  void (*uniform)(lc_tensor *out, uint64_t seed, uint64_t offset, double lo, double hi);
  void (*normal)(lc_tensor *out, uint64_t seed, uint64_t offset, double mean, double std);
  /* Copies between this device and the host: contiguous, same dtype, n bytes. */
  void (*to_host)(void *host, const lc_tensor *src, size_t nbytes);
  void (*from_host)(lc_tensor *dst, const void *host, size_t nbytes);

  /* ---- neural-network layers ----
   * Tensors are contiguous (NCHW for images), one float dtype per call; outputs are
   * allocated by the caller and overwritten. Shapes are the kernel headers' structs,
   * already finished (out_h, out_w set). */
  void (*conv2d_forward)(const lc_conv2d_shape *s, const lc_tensor *x, const lc_tensor *w,
                         const lc_tensor *bias /* or NULL */, lc_tensor *y);
  void (*conv2d_backward_data)(const lc_conv2d_shape *s, const lc_tensor *dy, const lc_tensor *w,
                               lc_tensor *dx);
  void (*conv2d_backward_weight)(const lc_conv2d_shape *s, const lc_tensor *x, const lc_tensor *dy,
                                 lc_tensor *dw, lc_tensor *dbias /* or NULL */);
  /* indices: int64, per output the flat position within its input plane */
  void (*max_pool2d_forward)(const lc_pool2d_shape *s, const lc_tensor *x, lc_tensor *y,
                             lc_tensor *indices);
  void (*max_pool2d_backward)(const lc_pool2d_shape *s, const lc_tensor *dy,
                              const lc_tensor *indices, lc_tensor *dx);
  void (*avg_pool2d_forward)(const lc_pool2d_shape *s, int count_include_pad,
                             int64_t divisor_override, const lc_tensor *x, lc_tensor *y);
  void (*avg_pool2d_backward)(const lc_pool2d_shape *s, int count_include_pad,
                              int64_t divisor_override, const lc_tensor *dy, lc_tensor *dx);
  /* x (N, C, H, W) -> y (N, C, OH, OW) */
  void (*adaptive_avg_pool2d_forward)(const lc_tensor *x, lc_tensor *y);
  void (*adaptive_avg_pool2d_backward)(const lc_tensor *dy, lc_tensor *dx);
  /* x viewed as (N, C, S); gamma, beta, running stats (C) may be NULL; save_* (C). */
  void (*batchnorm_forward_train)(const lc_tensor *x, const lc_tensor *gamma, const lc_tensor *beta,
                                  lc_tensor *running_mean, lc_tensor *running_var, double momentum,
                                  double eps, lc_tensor *y, lc_tensor *save_mean,
                                  lc_tensor *save_invstd);
  void (*batchnorm_forward_eval)(const lc_tensor *x, const lc_tensor *gamma, const lc_tensor *beta,
                                 const lc_tensor *running_mean, const lc_tensor *running_var,
                                 double eps, lc_tensor *y);
  /* dgamma, dbeta may be NULL */
  void (*batchnorm_backward_train)(const lc_tensor *x, const lc_tensor *dy, const lc_tensor *gamma,
                                   const lc_tensor *save_mean, const lc_tensor *save_invstd,
                                   lc_tensor *dx, lc_tensor *dgamma, lc_tensor *dbeta);
  void (*batchnorm_backward_eval)(const lc_tensor *x, const lc_tensor *dy, const lc_tensor *gamma,
                                  const lc_tensor *running_mean, const lc_tensor *running_var,
                                  double eps, lc_tensor *dx, lc_tensor *dgamma, lc_tensor *dbeta);
  /* (rows, classes) */
  void (*log_softmax_forward)(const lc_tensor *x, lc_tensor *y);
  void (*log_softmax_backward)(const lc_tensor *y, const lc_tensor *dy, lc_tensor *dx);
  /* targets int64, 0-based; loss (rows). Return 0, or -1 with *bad_row set when a target
   * is out of range (a backend that cannot check cheaply returns 0). */
  int (*cross_entropy_forward)(const lc_tensor *logits, const lc_tensor *targets,
                               double label_smoothing, lc_tensor *loss, int64_t *bad_row);
  /* dloss (rows), possibly expanded (stride 0) for mean/sum reductions */
  int (*cross_entropy_backward)(const lc_tensor *logits, const lc_tensor *targets,
                                double label_smoothing, const lc_tensor *dloss,
                                lc_tensor *dlogits, int64_t *bad_row);
  /* One optimizer step over n parameters (a fused backend does them in one launch).
   * bufs[i] / max_exp_avg_sq[i] may be NULL. */
  void (*sgd_step)(int n, lc_tensor *const *params, lc_tensor *const *grads,
                   lc_tensor *const *bufs, const lc_sgd_params *h, int first_step);
  void (*adam_step)(int n, lc_tensor *const *params, lc_tensor *const *grads,
                    lc_tensor *const *exp_avg, lc_tensor *const *exp_avg_sq,
                    lc_tensor *const *max_exp_avg_sq, const lc_adam_params *h);
  /* uint8 (N, C, H, W) -> uint8 (N, C, OH, OW), PIL-style antialiased bilinear */
  void (*resize_bilinear_u8)(const lc_tensor *src, lc_tensor *dst);
  /* dense uint8 -> dense float32 of the same shape, each byte / 255 (ToTensor). May be NULL:
   * the runtime then converts and divides with the ops above. */
  void (*bytes_to_unit)(const lc_tensor *src, lc_tensor *dst);
} lc_backend;

const lc_backend *lc_backend_for(lc_device device);
const lc_backend *lc_backend_cpu(void);
/* The CUDA backend, or NULL when the build or the machine has none. */
const lc_backend *lc_backend_cuda(void);

#endif
