/* Tensor ops: shape logic, dtype promotion, autograd recording and device dispatch,
 * defined once for every device. Every function returns a new reference (release it),
 * raises through lc_error on bad input, and takes 0-based dims (negative from the end). */
#ifndef LC_OPS_H
#define LC_OPS_H

#include "runtime/autocast.h"
#include "runtime/autograd.h"
#include "runtime/backend.h"
#include "runtime/tensor.h"

/* ---- creation ---- */
lc_tensor *lc_arange(double start, double stop, double step, lc_dtype dtype, lc_device device);
lc_tensor *lc_linspace(double start, double stop, int64_t steps, lc_dtype dtype, lc_device device);
lc_tensor *lc_eye(int64_t n, int64_t m, lc_dtype dtype, lc_device device);
lc_tensor *lc_rand(int ndim, const int64_t *sizes, lc_dtype dtype, lc_device device);
lc_tensor *lc_randn(int ndim, const int64_t *sizes, lc_dtype dtype, lc_device device);
/* Integers in [low, high). */
lc_tensor *lc_randint(int64_t low, int64_t high, int ndim, const int64_t *sizes, lc_dtype dtype,
                      lc_device device);
/* A tensor filled from a host buffer of `dtype` elements (contiguous, row-major). */
lc_tensor *lc_from_host(const void *data, int ndim, const int64_t *sizes, lc_dtype dtype,
                        lc_device device);
/* In-place random fills (no autograd; used by initialisers). */
void lc_uniform_(lc_tensor *t, double lo, double hi);
void lc_normal_(lc_tensor *t, double mean, double std);

/* ---- conversions and copies ---- */
lc_tensor *lc_to_dtype(const lc_tensor *t, lc_dtype dtype);
/* bfloat16: no kernel computes in it. An op given bfloat16 widens it to float32, computes,
 * and rounds its result back (as PyTorch's CPU kernels do); both steps are differentiable. */
lc_tensor *lc_widen_bf16(lc_tensor *t);     /* float32 when t is bfloat16, else t (retained) */
lc_tensor *lc_narrow_to_bf16(lc_tensor *t); /* t as bfloat16, releasing t */
/* Autocast's cast for the ops that run narrow: a float32 t in autocast's dtype, else t
 * (retained); NULL stays NULL. */
lc_tensor *lc_autocast_narrow(lc_tensor *t);
/* Whether an op of the float32 list (autocast.h) given t answers in float32 instead. */
bool lc_autocast_widens(const lc_tensor *t);
lc_tensor *lc_to_device(const lc_tensor *t, lc_device device);
lc_tensor *lc_contiguous(lc_tensor *t);      /* t itself (retained) when already contiguous */
/* t laid out in `format` (t itself, retained, when it already is); differentiable. */
lc_tensor *lc_contiguous_as(lc_tensor *t, lc_memory_format format);
lc_tensor *lc_contiguous_copy(const lc_tensor *t); /* always a fresh contiguous copy, no history */
lc_tensor *lc_clone(lc_tensor *t);
/* dst = src (broadcast to dst, dtype converted, same device); records nothing. */
void lc_copy_(lc_tensor *dst, const lc_tensor *src);
void lc_fill_(lc_tensor *t, double value);
/* dst += src without autograd (gradient accumulation, optimizer-free updates). */
void lc_add_(lc_tensor *dst, const lc_tensor *src);
/* Copies host memory out of a contiguous tensor of any device. */
void lc_to_host(const lc_tensor *t, void *host);

/* ---- views (share storage, record autograd) ---- */
lc_tensor *lc_view(lc_tensor *t, int ndim, const int64_t *sizes); /* one size may be -1 */
lc_tensor *lc_reshape(lc_tensor *t, int ndim, const int64_t *sizes);
lc_tensor *lc_transpose(lc_tensor *t, int d0, int d1);
lc_tensor *lc_permute(lc_tensor *t, int ndim, const int *dims);
lc_tensor *lc_narrow(lc_tensor *t, int dim, int64_t start, int64_t length);
lc_tensor *lc_select(lc_tensor *t, int dim, int64_t index);
lc_tensor *lc_squeeze(lc_tensor *t, int dim); /* dim = LC_ALL_DIMS squeezes every size-1 dim */
lc_tensor *lc_unsqueeze(lc_tensor *t, int dim);
lc_tensor *lc_expand(lc_tensor *t, int ndim, const int64_t *sizes); /* -1 keeps a size */
lc_tensor *lc_flatten(lc_tensor *t, int start_dim, int end_dim);
lc_tensor *lc_cat(int n, lc_tensor *const *ts, int dim);
lc_tensor *lc_stack(int n, lc_tensor *const *ts, int dim);

#define LC_ALL_DIMS 99


/* ---- pointwise ---- */
lc_tensor *lc_unary(lc_unary_op op, lc_tensor *a, double s0, double s1);
lc_tensor *lc_binary(lc_binary_op op, lc_tensor *a, lc_tensor *b);
lc_tensor *lc_add(lc_tensor *a, lc_tensor *b);
lc_tensor *lc_sub(lc_tensor *a, lc_tensor *b);
lc_tensor *lc_mul(lc_tensor *a, lc_tensor *b);
lc_tensor *lc_div(lc_tensor *a, lc_tensor *b);
lc_tensor *lc_where(lc_tensor *cond, lc_tensor *a, lc_tensor *b);

/* ---- reductions: dims is a 0/1 mask over a's dims; keepdim keeps them as size 1 ---- */
lc_tensor *lc_sum(lc_tensor *a, const bool *dims, bool keepdim);
lc_tensor *lc_mean(lc_tensor *a, const bool *dims, bool keepdim);
lc_tensor *lc_prod(lc_tensor *a, const bool *dims, bool keepdim);
lc_tensor *lc_var(lc_tensor *a, const bool *dims, bool keepdim, double correction);
/* max/min along one dim (values and 0-based int64 indices), or over all (dim < 0, then
 * indices index the flattened tensor). */
void lc_max(lc_tensor *a, int dim, bool keepdim, bool is_min, lc_tensor **values, lc_tensor **indices);
lc_tensor *lc_sum_to_size(lc_tensor *g, int ndim, const int64_t *sizes);

/* ---- linear algebra ---- */
lc_tensor *lc_matmul(lc_tensor *a, lc_tensor *b);

#endif
