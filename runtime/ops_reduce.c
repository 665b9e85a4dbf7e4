/* Reductions and their gradients. */
#include <string.h>

#include "runtime/ops.h"

static const lc_backend *backend_of(const lc_tensor *t) { return lc_backend_for(t->storage->device); }

/* a permuted so kept dims come first; fills out_sizes (kept dims) and keep_sizes
 * (the keepdim shape). Returns the number of reduced dims. */
static int split_dims(const lc_tensor *a, const bool *dims, lc_tensor **permuted, int64_t *out_sizes,
                      int *out_ndim, int64_t *keep_sizes)
{
  int64_t sizes[LC_MAX_DIMS], strides[LC_MAX_DIMS];
  int nk = 0, nr = 0;
  for (int d = 0; d < a->ndim; d++)
    if (!dims[d]) {
      sizes[nk] = a->sizes[d];
      strides[nk] = a->strides[d];
      out_sizes[nk++] = a->sizes[d];
    }
  for (int d = 0; d < a->ndim; d++) {
    keep_sizes[d] = dims[d] ? 1 : a->sizes[d];
    if (dims[d]) {
      sizes[nk + nr] = a->sizes[d];
      strides[nk + nr] = a->strides[d];
      nr++;
    }
  }
  *permuted = lc_alias(a, a->ndim, sizes, strides, a->offset);
  *out_ndim = nk;
  return nr;
}

static void sum_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  const lc_edge *e = &n->next[0];
  int64_t keep[LC_MAX_DIMS];
  for (int d = 0; d < e->ndim; d++) keep[d] = n->i[d] ? 1 : e->sizes[d];
  lc_tensor *r = lc_reshape(g, e->ndim, keep);
  gin[0] = lc_expand(r, e->ndim, e->sizes);
  lc_tensor_release(r);
}

static lc_tensor *reduce(const char *name, lc_reduce_op op, lc_tensor *a, const bool *dims, bool keepdim)
{
  lc_tensor *permuted;
  int64_t out_sizes[LC_MAX_DIMS], keep_sizes[LC_MAX_DIMS];
  int out_ndim;
  int nred = split_dims(a, dims, &permuted, out_sizes, &out_ndim, keep_sizes);
  lc_dtype dtype = lc_dtype_is_float(a->dtype) ? a->dtype : LC_INT64;
  lc_tensor *src = permuted;
  if (dtype != a->dtype) {
    src = lc_to_dtype(permuted, dtype);
    lc_tensor_release(permuted);
  }
  lc_tensor *out = lc_empty(out_ndim, out_sizes, dtype, a->storage->device);
  if (lc_numel(out)) {
    if (lc_numel(src) == 0) backend_of(out)->fill(out, op == LC_RED_PROD ? 1 : 0);
    else backend_of(out)->reduce(op, out, NULL, src, nred);
  }
  lc_tensor_release(src);
  if (keepdim) {
    lc_tensor *k = lc_alias(out, a->ndim, keep_sizes, (int64_t[LC_MAX_DIMS]){0}, 0);
    lc_contiguous_strides(a->ndim, keep_sizes, k->strides);
    lc_tensor_release(out);
    out = k;
  }
  return out;
}

/* A bfloat16 reduction accumulates in float32 (call, on `wide`) and rounds once; sum and
 * prod, on autocast's float32 list, answer in float32 while autocast is on. */
#define RETURN_IN_FLOAT32(call, keep_float32)                                                \
  do {                                                                                     \
    lc_tensor *wide = lc_widen_bf16(a);                                                    \
    lc_tensor *result_ = (call);                                                           \
    lc_tensor_release(wide);                                                               \
    return (keep_float32) ? result_ : lc_narrow_to_bf16(result_);                          \
  } while (0)

lc_tensor *lc_sum(lc_tensor *a, const bool *dims, bool keepdim)
{
  if (a->dtype == LC_BFLOAT16) RETURN_IN_FLOAT32(lc_sum(wide, dims, keepdim), lc_autocast_widens(a));
  lc_tensor *out = reduce("sum", LC_RED_SUM, a, dims, keepdim);
  lc_tensor *in[1] = {a};
  lc_node *node = lc_node_new("Sum", sum_backward, 1, in);
  if (node) {
    for (int d = 0; d < a->ndim; d++) node->i[d] = dims[d];
    lc_attach(out, node);
  }
  return out;
}

static int64_t reduced_count(const lc_tensor *a, const bool *dims)
{
  int64_t count = 1;
  for (int d = 0; d < a->ndim; d++)
    if (dims[d]) count *= a->sizes[d];
  return count;
}

lc_tensor *lc_mean(lc_tensor *a, const bool *dims, bool keepdim)
{
  if (a->dtype == LC_BFLOAT16) RETURN_IN_FLOAT32(lc_mean(wide, dims, keepdim), false);
  if (!lc_dtype_is_float(a->dtype))
    lc_error("mean: a floating dtype was expected, got %s (convert with :float())", lc_dtype_name(a->dtype));
  lc_tensor *s = lc_sum(a, dims, keepdim);
  int64_t count = reduced_count(a, dims);
  lc_tensor *m = lc_unary(LC_UN_MUL_SCALAR, s, count ? 1.0 / (double)count : 0.0 / 0.0, 0);
  lc_tensor_release(s);
  return m;
}

lc_tensor *lc_var(lc_tensor *a, const bool *dims, bool keepdim, double correction)
{
  if (a->dtype == LC_BFLOAT16) RETURN_IN_FLOAT32(lc_var(wide, dims, keepdim, correction), false);
  if (!lc_dtype_is_float(a->dtype))
    lc_error("var: a floating dtype was expected, got %s", lc_dtype_name(a->dtype));
  lc_tensor *m = lc_mean(a, dims, true);
  lc_tensor *d = lc_sub(a, m);
  lc_tensor *sq = lc_mul(d, d);
  lc_tensor *s = lc_sum(sq, dims, keepdim);
  double denom = (double)reduced_count(a, dims) - correction;
  lc_tensor *v = lc_unary(LC_UN_MUL_SCALAR, s, denom > 0 ? 1.0 / denom : 0.0 / 0.0, 0);
  lc_tensor_release(m);
  lc_tensor_release(d);
  lc_tensor_release(sq);
  lc_tensor_release(s);
  return v;
}

/* d prod / d x_i is the product of the other elements. g * y / x gives it only where
 * x_i is nonzero and its group has no zero: a group with one zero sends the product of
 * its other elements to that zero and nothing elsewhere; a group with two sends nothing. */
static void prod_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  lc_tensor *x = lc_node_saved(n, 0);
  const lc_edge *e = &n->next[0];
  bool dims[LC_MAX_DIMS] = {0};
  int64_t keep[LC_MAX_DIMS];
  for (int d = 0; d < e->ndim; d++) {
    dims[d] = n->i[d];
    keep[d] = n->i[d] ? 1 : e->sizes[d];
  }
  lc_tensor *gk = lc_reshape(g, e->ndim, keep);
  lc_tensor *is_zero = lc_unary(LC_UN_EQ_SCALAR, x, 0, 0);
  lc_tensor *one = lc_full(0, NULL, 1, x->dtype, x->storage->device);
  lc_tensor *x1 = lc_where(is_zero, one, x);        /* zeros replaced by 1 */
  lc_tensor *p1 = lc_prod(x1, dims, true);          /* product of the nonzeros */
  lc_tensor *zf = lc_to_dtype(is_zero, x->dtype);
  lc_tensor *zeros = lc_sum(zf, dims, true);        /* zeros per group */
  lc_tensor *none_u8 = lc_unary(LC_UN_EQ_SCALAR, zeros, 0, 0), *one_u8 = lc_unary(LC_UN_EQ_SCALAR, zeros, 1, 0);
  lc_tensor *none = lc_to_dtype(none_u8, x->dtype), *single = lc_to_dtype(one_u8, x->dtype);
  lc_tensor *q = lc_div(p1, x1);
  lc_tensor *at_nonzero = lc_mul(q, none), *at_zero = lc_mul(p1, single);
  lc_tensor *others = lc_where(is_zero, at_zero, at_nonzero);
  gin[0] = lc_mul(gk, others);
  lc_tensor *objs[] = {gk, is_zero, one, x1, p1, zf, zeros, none_u8, one_u8, none, single, q,
                       at_nonzero, at_zero, others};
  for (size_t k = 0; k < sizeof objs / sizeof objs[0]; k++) lc_tensor_release(objs[k]);
}

lc_tensor *lc_prod(lc_tensor *a, const bool *dims, bool keepdim)
{
  if (a->dtype == LC_BFLOAT16) RETURN_IN_FLOAT32(lc_prod(wide, dims, keepdim), lc_autocast_widens(a));
  lc_tensor *out = reduce("prod", LC_RED_PROD, a, dims, keepdim);
  lc_tensor *in[1] = {a};
  lc_node *node = lc_node_new("Prod", prod_backward, 1, in);
  if (node) {
    for (int d = 0; d < a->ndim; d++) node->i[d] = dims[d];
    lc_node_save(node, a);
    lc_attach(out, node);
  }
  return out;
}

/* The gradient flows to the winning position only: a one-hot mask built by comparing
 * the saved indices with positions along the dim. */
static void max_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  lc_tensor *idx = lc_node_saved(n, 0);
  const lc_edge *e = &n->next[0];
  int dim = (int)n->i[0];
  bool keepdim = n->i[1];
  lc_tensor *gk = keepdim ? lc_tensor_retain(g) : lc_unsqueeze(g, dim);
  lc_tensor *ik = keepdim ? lc_tensor_retain(idx) : lc_unsqueeze(idx, dim);
  lc_tensor *pos = lc_arange(0, (double)e->sizes[dim], 1, LC_INT64, g->storage->device);
  int64_t shape[LC_MAX_DIMS];
  for (int d = 0; d < e->ndim; d++) shape[d] = d == dim ? e->sizes[d] : 1;
  lc_tensor *posv = lc_reshape(pos, e->ndim, shape);
  lc_tensor *hit = lc_binary(LC_BIN_EQ, posv, ik);
  lc_tensor *mask = lc_to_dtype(hit, g->dtype);
  gin[0] = lc_mul(mask, gk);
  lc_tensor *objs[] = {gk, ik, pos, posv, hit, mask};
  for (size_t k = 0; k < sizeof objs / sizeof objs[0]; k++) lc_tensor_release(objs[k]);
}

void lc_max(lc_tensor *a, int dim, bool keepdim, bool is_min, lc_tensor **values, lc_tensor **indices)
{
  if (a->dtype == LC_BFLOAT16) { /* exact: the values are the inputs' */
    lc_tensor *wide = lc_widen_bf16(a), *v;
    lc_max(wide, dim, keepdim, is_min, &v, indices);
    lc_tensor_release(wide);
    *values = lc_narrow_to_bf16(v);
    return;
  }
  const char *name = is_min ? "min" : "max";
  if (dim < 0 && dim != -LC_ALL_DIMS) dim = lc_wrap_dim(name, dim, a->ndim);
  if (dim == -LC_ALL_DIMS) { /* over everything: flatten, then reduce dim 0 */
    if (lc_numel(a) == 0) lc_error("%s: the tensor is empty", name);
    lc_tensor *flat = lc_reshape(a, 1, (int64_t[1]){-1});
    lc_tensor *v, *i;
    lc_max(flat, 0, false, is_min, &v, &i);
    lc_tensor_release(flat);
    *values = v;
    *indices = i;
    return;
  }
  if (a->ndim == 0) {
    *values = lc_clone(a);
    *indices = lc_zeros(0, NULL, LC_INT64, a->storage->device);
    return;
  }
  dim = lc_wrap_dim(name, dim, a->ndim);
  if (a->sizes[dim] == 0) lc_error("%s: dim %d is empty", name, dim + 1);
  bool dims[LC_MAX_DIMS] = {0};
  dims[dim] = true;
  lc_tensor *permuted;
  int64_t out_sizes[LC_MAX_DIMS], keep_sizes[LC_MAX_DIMS];
  int out_ndim;
  split_dims(a, dims, &permuted, out_sizes, &out_ndim, keep_sizes);
  lc_tensor *v = lc_empty(out_ndim, out_sizes, a->dtype, a->storage->device);
  lc_tensor *i = lc_empty(out_ndim, out_sizes, LC_INT64, a->storage->device);
  if (lc_numel(v)) backend_of(a)->reduce(is_min ? LC_RED_MIN : LC_RED_MAX, v, i, permuted, 1);
  lc_tensor_release(permuted);
  if (keepdim) {
    lc_tensor *vk = lc_reshape(v, a->ndim, keep_sizes), *ik = lc_reshape(i, a->ndim, keep_sizes);
    lc_tensor_release(v);
    lc_tensor_release(i);
    v = vk;
    i = ik;
  }
  if (lc_dtype_is_float(a->dtype)) {
    lc_tensor *in[1] = {a};
    lc_node *node = lc_node_new(is_min ? "Min" : "Max", max_backward, 1, in);
    if (node) {
      node->i[0] = dim;
      node->i[1] = keepdim;
      lc_node_save(node, i);
      lc_attach(v, node);
    }
  }
  *values = v;
  *indices = i;
}

lc_tensor *lc_sum_to_size(lc_tensor *g, int ndim, const int64_t *sizes)
{
  if (g->ndim == ndim && memcmp(g->sizes, sizes, ndim * sizeof *sizes) == 0)
    return lc_tensor_retain(g);
  bool dims[LC_MAX_DIMS] = {0};
  int lead = g->ndim - ndim;
  for (int d = 0; d < g->ndim; d++) {
    int k = d - lead;
    dims[d] = k < 0 || (sizes[k] == 1 && g->sizes[d] != 1);
  }
  lc_tensor *s = lc_sum(g, dims, true);
  lc_tensor *r = lc_reshape(s, ndim, sizes);
  lc_tensor_release(s);
  return r;
}
