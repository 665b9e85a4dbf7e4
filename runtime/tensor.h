/* The tensor model: a tensor is a strided view (dtype, device, sizes, strides, offset)
 * over a reference-counted storage, as in Torch7's TH. Autograd state lives on the
 * tensor too (requires_grad, grad, grad_fn), so ops record the graph in C.
 *
 * Dimensions and indices are 0-based here; the bindings convert from Lua's 1-based
 * world exactly once. */
#ifndef LC_TENSOR_H
#define LC_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/common/ops.h"
#include "runtime/error.h"

#define LC_MAX_DIMS 8

typedef enum { LC_CPU = 0, LC_CUDA = 1 } lc_device_type;

typedef struct {
  lc_device_type type;
  int index;
} lc_device;

typedef struct lc_storage {
  int refcount;
  void *data;
  size_t nbytes;
  lc_device device;
  /* Bumped by every in-place write; autograd compares it with the version a
   * saved tensor had, to refuse gradients computed from overwritten data. */
  uint64_t version;
} lc_storage;

typedef struct lc_node lc_node;

typedef struct lc_tensor {
  int refcount;
  lc_storage *storage;
  int64_t offset; /* in elements */
  int ndim;
  int64_t sizes[LC_MAX_DIMS];
  int64_t strides[LC_MAX_DIMS]; /* in elements */
  lc_dtype dtype;

  bool requires_grad;
  struct lc_tensor *grad;
  lc_node *grad_fn; /* NULL for leaves */
  /* The tensor whose storage this one views, or NULL when it owns its layout.
   * In-place writes through a view rewrite the base's history. */
  struct lc_tensor *base;
  /* On a base: how many tracked in-place writes have rewritten its history. On a view:
   * that count when the view's history was made; when they differ, the view's history is
   * stale and is remade from the base's before the view is used. */
  uint64_t history;
  int held_slot; /* 1 + index in this thread's record of creation references, or 0 */
  /* A leaf during a backward pass with a grad-ready hook (runtime/autograd.h): the pass that
   * counted it, and how many of its gradient edges have not delivered yet. */
  uint64_t grad_pass;
  int grad_pending;
} lc_tensor;

/* ---- dtypes and devices (runtime/geometry.c: no allocation, no backend) ---- */
size_t lc_dtype_size(lc_dtype dtype);
const char *lc_dtype_name(lc_dtype dtype);
bool lc_dtype_from_name(const char *name, lc_dtype *out);
bool lc_dtype_is_float(lc_dtype dtype);
lc_dtype lc_promote(lc_dtype a, lc_dtype b);

extern const lc_device LC_DEVICE_CPU;
bool lc_device_equal(lc_device a, lc_device b);
/* "cpu", "cuda:0" */
const char *lc_device_name(lc_device device, char *buf, int cap);
bool lc_device_from_name(const char *name, lc_device *out);

/* ---- storage ---- */
lc_storage *lc_storage_new(size_t nbytes, lc_device device);
void lc_storage_retain(lc_storage *s);
void lc_storage_release(lc_storage *s);
/* Bytes currently held by storages, per device type; the bindings use it to pace Lua's GC. */
size_t lc_storage_live_bytes(lc_device_type type);
/* Tensor headers alive now (a leak check for tests). */
int64_t lc_tensor_live_count(void);

/* Fault injection (tests): after n more successful allocations (storages and tensor
 * headers), the next one fails as out-of-memory would, and injection switches off; n < 0
 * switches it off. Also set from the environment: LUACNN_FAIL_ALLOC_AFTER=n. Returns how many
 * allocations were left before the fault (n given before, minus those made), or -1 if off. */
int64_t lc_fault_fail_alloc_after(int64_t n);

/* Leak-free errors. While a binding call runs (a scope: lc_scope_begin/lc_scope_end), every
 * tensor the runtime creates is recorded with its creation reference, which the unwinding C
 * code owns until it is released, handed to Lua (lcb_push_tensor) or stored into a structure
 * (lc_unhold: a leaf's .grad, an autograd node's saved tensors). The error handler
 * (bindings/common.c) releases the creation references still recorded before it unwinds, so an error raised after an op has
 * allocated (out of memory, a backend failure) leaks nothing. Per thread; threads outside a
 * scope record nothing. A direct release forgets the record (conservative: the worst case is
 * a leak, never a double free). */
int lc_scope_begin(void);      /* returns what lc_scope_end needs */
void lc_scope_end(int saved);  /* the call returned normally: forget its records */
lc_tensor *lc_unhold(lc_tensor *t);
lc_tensor *lc_hold(lc_tensor *t); /* a reference taken out of a structure: recorded again */
void lc_release_held(void);    /* the error handler: release this scope's records */
/* The node an op has made and not yet attached (lc_node_new .. lc_attach): released with the
 * records when an error unwinds the op. */
void lc_hold_node(lc_node *node);
void lc_unhold_node(lc_node *node);

/* ---- lifetime ---- */
lc_tensor *lc_tensor_retain(lc_tensor *t);
void lc_tensor_release(lc_tensor *t);

/* ---- creation (uninitialised memory unless stated) ---- */
lc_tensor *lc_empty(int ndim, const int64_t *sizes, lc_dtype dtype, lc_device device);
lc_tensor *lc_empty_like(const lc_tensor *t);
lc_tensor *lc_full(int ndim, const int64_t *sizes, double value, lc_dtype dtype, lc_device device);
lc_tensor *lc_zeros(int ndim, const int64_t *sizes, lc_dtype dtype, lc_device device);
/* A new tensor header sharing t's storage with the given geometry (no autograd links). */
lc_tensor *lc_alias(const lc_tensor *t, int ndim, const int64_t *sizes,
                    const int64_t *strides, int64_t offset);
/* Re-points t at src's storage and geometry (t keeps its identity and autograd flags):
 * how a module moves its parameters to another device without optimizers losing them. */
void lc_set_(lc_tensor *t, const lc_tensor *src);
/* Internal: a broadcast view of t with the given sizes (stride 0 on expanded dims),
 * recording no history. t's shape must broadcast to sizes. */
lc_tensor *lc_expand_alias(const lc_tensor *t, int ndim, const int64_t *sizes);
/* The same data, no history: what autograd saves and what `detach` returns. */
lc_tensor *lc_detach(const lc_tensor *t);

/* ---- geometry (runtime/geometry.c, lc_item aside) ---- */
int64_t lc_numel(const lc_tensor *t);
bool lc_is_contiguous(const lc_tensor *t);
void lc_contiguous_strides(int ndim, const int64_t *sizes, int64_t *strides);
/* Channels-last: a 4-D (N, C, H, W) tensor laid out as (N, H, W, C) in memory, the layout
 * cuDNN's and oneDNN's fastest convolutions read. */
typedef enum { LC_CONTIGUOUS_FORMAT, LC_CHANNELS_LAST } lc_memory_format;
bool lc_is_channels_last(const lc_tensor *t);
void lc_channels_last_strides(const int64_t sizes[4], int64_t strides[4]);
bool lc_same_shape(const lc_tensor *a, const lc_tensor *b);
/* Element pointer of the first element (host pointer on the CPU, device pointer on a GPU). */
void *lc_data(const lc_tensor *t);
/* Normalises a possibly negative 0-based dim; raises "<op>: dim ... out of range". */
int lc_wrap_dim(const char *op, int dim, int ndim);
/* A matrix operand for BLAS: t's dims (d0, d1) as a row-major matrix, whether BLAS must
 * transpose it, and its leading dimension (at least what BLAS accepts for its shape). */
void lc_blas_operand(const lc_tensor *t, int d0, int d1, int *trans, int64_t *ld);
/* The broadcast shape of a and b, or an error naming op. */
int lc_broadcast_shape(const char *op, const lc_tensor *a, const lc_tensor *b, int64_t *sizes);
/* Raises "<op>: expected all tensors on the same device, got ..." unless they are. */
void lc_check_same_device(const char *op, const lc_tensor *a, const lc_tensor *b);
/* "(2, 3)" of t's shape, in a small rotating static buffer (for error messages). */
const char *lc_shape_str(const lc_tensor *t);

/* Scalar read of a one-element tensor (any device). */
double lc_item(const lc_tensor *t);

#endif
