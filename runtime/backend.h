/* Per-device implementations of the primitive ops. The ops in runtime/ops_*.c do the
 * shape logic, autograd and allocation once; they call these to compute. A backend
 * receives tensors whose geometry is already resolved (broadcast inputs arrive as
 * expanded views with 0 strides, outputs are freshly allocated and contiguous unless
 * stated) and dispatches to kernels/<device>/. */
#ifndef LC_BACKEND_H
#define LC_BACKEND_H

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
} lc_backend;

const lc_backend *lc_backend_for(lc_device device);
const lc_backend *lc_backend_cpu(void);
/* The CUDA backend, or NULL when the build or the machine has none. */
const lc_backend *lc_backend_cuda(void);

#endif
