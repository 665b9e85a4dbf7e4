/* Views (sharing storage) and joins, with their gradients. */
#include <stdlib.h>
#include <string.h>

#include "runtime/ops.h"


/* A view of t recording `backward`; parameters go in node->i from slot 0. */
static lc_tensor *make_view(lc_tensor *t, int ndim, const int64_t *sizes, const int64_t *strides,
                            int64_t offset, const char *name, lc_backward_fn backward,
                            const int64_t *params, int nparams)
{
  lc_tensor *v = lc_alias(t, ndim, sizes, strides, offset);
  v->base = lc_unhold(lc_tensor_retain(t->base ? t->base : t)); /* the view owns it */
  v->history = v->base->history;
  lc_tensor *in[1] = {t};
  lc_node *node = lc_node_new(name, backward, 1, in);
  if (node) {
    if (nparams) memcpy(node->i, params, nparams * sizeof *params);
    lc_attach(v, node);
  }
  return v;
}

/* ---- reshaping views ---- */

static void reshape_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  gin[0] = lc_reshape(g, n->next[0].ndim, n->next[0].sizes);
}

static int infer_sizes(const char *op, const lc_tensor *t, int ndim, const int64_t *sizes, int64_t *out)
{
  if (ndim > LC_MAX_DIMS) lc_error("%s: %d dimensions requested, at most %d are supported", op, ndim, LC_MAX_DIMS);
  int64_t known = 1, numel = lc_numel(t), extent = 1;
  int infer = -1;
  for (int i = 0; i < ndim; i++) {
    /* as in lc_empty: even an empty shape like (0, 2^62) must not overflow counts */
    if (sizes[i] > 1 && extent > INT64_MAX / 16 / sizes[i])
      lc_error("%s: shape %s has too many elements", op, lc_format_sizes((char[128]){0}, 128, ndim, sizes));
    if (sizes[i] > 1) extent *= sizes[i];
    if (sizes[i] == -1) {
      if (infer >= 0) lc_error("%s: only one dimension can be -1 in %s", op, lc_format_sizes((char[128]){0}, 128, ndim, sizes));
      infer = i;
    } else if (sizes[i] < 0) {
      lc_error("%s: invalid size %lld in shape %s", op, (long long)sizes[i], lc_format_sizes((char[128]){0}, 128, ndim, sizes));
    } else {
      known *= sizes[i];
    }
    out[i] = sizes[i];
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      lc_error("%s: shape %s is invalid for %lld elements", op,
               lc_format_sizes((char[128]){0}, 128, ndim, sizes), (long long)numel);
    out[infer] = numel / known;
  } else if (known != numel) {
    lc_error("%s: shape %s is invalid for %lld elements", op,
             lc_format_sizes((char[128]){0}, 128, ndim, sizes), (long long)numel);
  }
  return ndim;
}

lc_tensor *lc_view(lc_tensor *t, int ndim, const int64_t *sizes)
{
  int64_t shape[LC_MAX_DIMS], strides[LC_MAX_DIMS];
  infer_sizes("view", t, ndim, sizes, shape);
  if (!lc_is_contiguous(t))
    lc_error("view: the tensor of shape %s is not contiguous; use reshape (which copies) or "
             ":contiguous() first", lc_shape_str(t));
  lc_contiguous_strides(ndim, shape, strides);
  return make_view(t, ndim, shape, strides, t->offset, "View", reshape_backward, NULL, 0);
}

lc_tensor *lc_reshape(lc_tensor *t, int ndim, const int64_t *sizes)
{
  int64_t shape[LC_MAX_DIMS];
  infer_sizes("reshape", t, ndim, sizes, shape);
  if (lc_is_contiguous(t)) return lc_view(t, ndim, shape);
  lc_tensor *c = lc_clone(t);
  lc_tensor *v = lc_view(c, ndim, shape);
  lc_tensor_release(c);
  return v;
}

lc_tensor *lc_flatten(lc_tensor *t, int start_dim, int end_dim)
{
  if (t->ndim == 0) {
    int64_t one = 1;
    return lc_reshape(t, 1, &one);
  }
  int s = lc_wrap_dim("flatten", start_dim, t->ndim), e = lc_wrap_dim("flatten", end_dim, t->ndim);
  if (s > e) lc_error("flatten: start_dim %d comes after end_dim %d", s + 1, e + 1);
  int64_t sizes[LC_MAX_DIMS];
  int nd = 0;
  for (int d = 0; d < s; d++) sizes[nd++] = t->sizes[d];
  int64_t merged = 1;
  for (int d = s; d <= e; d++) merged *= t->sizes[d];
  sizes[nd++] = merged;
  for (int d = e + 1; d < t->ndim; d++) sizes[nd++] = t->sizes[d];
  return lc_reshape(t, nd, sizes);
}

lc_tensor *lc_squeeze(lc_tensor *t, int dim)
{
  int64_t sizes[LC_MAX_DIMS], strides[LC_MAX_DIMS];
  int nd = 0;
  int only = dim == LC_ALL_DIMS ? -1 : lc_wrap_dim("squeeze", dim, t->ndim);
  for (int d = 0; d < t->ndim; d++) {
    bool drop = t->sizes[d] == 1 && (only < 0 || only == d);
    if (drop) continue;
    sizes[nd] = t->sizes[d];
    strides[nd++] = t->strides[d];
  }
  return make_view(t, nd, sizes, strides, t->offset, "Squeeze", reshape_backward, NULL, 0);
}

lc_tensor *lc_unsqueeze(lc_tensor *t, int dim)
{
  if (t->ndim == LC_MAX_DIMS) lc_error("unsqueeze: a tensor already has the maximum %d dims", LC_MAX_DIMS);
  int at = lc_wrap_dim("unsqueeze", dim, t->ndim + 1);
  int64_t sizes[LC_MAX_DIMS], strides[LC_MAX_DIMS];
  for (int d = 0, k = 0; d <= t->ndim; d++) {
    if (d == at) {
      sizes[d] = 1;
      strides[d] = at < t->ndim ? t->sizes[at] * t->strides[at] : 1;
    } else {
      sizes[d] = t->sizes[k];
      strides[d] = t->strides[k];
      k++;
    }
  }
  return make_view(t, t->ndim + 1, sizes, strides, t->offset, "Unsqueeze", reshape_backward, NULL, 0);
}

static void expand_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  gin[0] = lc_tensor_retain(g); /* the engine sums it back to the input's shape */
}

lc_tensor *lc_expand(lc_tensor *t, int ndim, const int64_t *sizes)
{
  if (ndim < t->ndim)
    lc_error("expand: the target shape %s has fewer dims than the tensor's %s",
             lc_format_sizes((char[128]){0}, 128, ndim, sizes), lc_shape_str(t));
  if (ndim > LC_MAX_DIMS)
    lc_error("expand: %d dimensions requested, at most %d are supported", ndim, LC_MAX_DIMS);
  int64_t shape[LC_MAX_DIMS], extent = 1;
  for (int i = 0; i < ndim; i++) {
    int d = t->ndim - ndim + i;
    int64_t have = d >= 0 ? t->sizes[d] : 1;
    /* -1 keeps an existing size; a new leading dim has none to keep */
    if (sizes[i] < -1 || (sizes[i] == -1 && d < 0))
      lc_error("expand: size %lld at dim %d of %s is invalid", (long long)sizes[i], i + 1,
               lc_format_sizes((char[128]){0}, 128, ndim, sizes));
    shape[i] = sizes[i] == -1 ? have : sizes[i];
    /* a view needs no memory, but element counts must fit as they do in lc_empty */
    if (shape[i] > 1 && extent > INT64_MAX / 16 / shape[i])
      lc_error("expand: %s has too many elements", lc_format_sizes((char[128]){0}, 128, ndim, shape));
    if (shape[i] > 1) extent *= shape[i];
    if (have != shape[i] && have != 1)
      lc_error("expand: the tensor of shape %s cannot be expanded to %s (size %lld at dim %d is not 1)",
               lc_shape_str(t), lc_format_sizes((char[128]){0}, 128, ndim, sizes), (long long)have, i + 1);
  }
  lc_tensor *alias = lc_expand_alias(t, ndim, shape);
  lc_tensor *v = make_view(t, ndim, shape, alias->strides, t->offset, "Expand", expand_backward, NULL, 0);
  lc_tensor_release(alias);
  return v;
}

/* ---- permutations ---- */

static void transpose_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  gin[0] = lc_transpose(g, (int)n->i[0], (int)n->i[1]);
}

lc_tensor *lc_transpose(lc_tensor *t, int d0, int d1)
{
  d0 = lc_wrap_dim("transpose", d0, t->ndim);
  d1 = lc_wrap_dim("transpose", d1, t->ndim);
  int64_t sizes[LC_MAX_DIMS], strides[LC_MAX_DIMS];
  memcpy(sizes, t->sizes, sizeof sizes);
  memcpy(strides, t->strides, sizeof strides);
  if (t->ndim) {
    sizes[d0] = t->sizes[d1]; sizes[d1] = t->sizes[d0];
    strides[d0] = t->strides[d1]; strides[d1] = t->strides[d0];
  }
  int64_t params[2] = {d0, d1};
  return make_view(t, t->ndim, sizes, strides, t->offset, "Transpose", transpose_backward, params, 2);
}

static void permute_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  int ndim = g->ndim, inverse[LC_MAX_DIMS];
  for (int d = 0; d < ndim; d++) inverse[n->i[d]] = d;
  gin[0] = lc_permute(g, ndim, inverse);
}

lc_tensor *lc_permute(lc_tensor *t, int ndim, const int *dims)
{
  if (ndim != t->ndim)
    lc_error("permute: %d dims given for a tensor of %d dims", ndim, t->ndim);
  bool seen[LC_MAX_DIMS] = {0};
  int64_t sizes[LC_MAX_DIMS], strides[LC_MAX_DIMS], params[LC_MAX_DIMS];
  for (int i = 0; i < ndim; i++) {
    int d = lc_wrap_dim("permute", dims[i], ndim);
    if (seen[d]) lc_error("permute: dim %d appears twice", d + 1);
    seen[d] = true;
    sizes[i] = t->sizes[d];
    strides[i] = t->strides[d];
    params[i] = d;
  }
  return make_view(t, ndim, sizes, strides, t->offset, "Permute", permute_backward, params, ndim);
}

/* ---- slicing ---- */

static void narrow_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  const lc_edge *e = &n->next[0];
  lc_tensor *z = lc_zeros(e->ndim, e->sizes, g->dtype, g->storage->device);
  int dim = (int)n->i[0];
  lc_tensor *slot = n->i[2] ? lc_select(z, dim, n->i[1]) : lc_narrow(z, dim, n->i[1], g->sizes[dim]);
  lc_copy_(slot, g);
  lc_tensor_release(slot);
  gin[0] = z;
}

lc_tensor *lc_narrow(lc_tensor *t, int dim, int64_t start, int64_t length)
{
  if (t->ndim == 0) lc_error("narrow: cannot slice a 0-dim tensor");
  dim = lc_wrap_dim("narrow", dim, t->ndim);
  if (start < 0 || length < 0 || start > t->sizes[dim] || length > t->sizes[dim] - start)
    lc_error("narrow: start %lld with length %lld is out of range for dim %d of size %lld",
             (long long)start + 1, (long long)length, dim + 1, (long long)t->sizes[dim]);
  int64_t sizes[LC_MAX_DIMS];
  memcpy(sizes, t->sizes, sizeof sizes);
  sizes[dim] = length;
  int64_t params[3] = {dim, start, 0};
  return make_view(t, t->ndim, sizes, t->strides, t->offset + start * t->strides[dim], "Narrow",
                   narrow_backward, params, 3);
}

lc_tensor *lc_select(lc_tensor *t, int dim, int64_t index)
{
  if (t->ndim == 0) lc_error("select: cannot index a 0-dim tensor");
  dim = lc_wrap_dim("select", dim, t->ndim);
  if (index < 0 || index >= t->sizes[dim])
    lc_error("index %lld is out of range for dim %d of size %lld", (long long)index + 1, dim + 1,
             (long long)t->sizes[dim]);
  int64_t sizes[LC_MAX_DIMS], strides[LC_MAX_DIMS];
  for (int d = 0, k = 0; d < t->ndim; d++) {
    if (d == dim) continue;
    sizes[k] = t->sizes[d];
    strides[k++] = t->strides[d];
  }
  int64_t params[3] = {dim, index, 1};
  return make_view(t, t->ndim - 1, sizes, strides, t->offset + index * t->strides[dim], "Select",
                   narrow_backward, params, 3);
}

/* ---- joins ---- */

static void cat_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  int dim = (int)n->i[0];
  int64_t start = 0;
  for (int k = 0; k < n->n_inputs; k++) {
    int64_t len = n->next[k].sizes[dim];
    if (lc_node_needs(n, k)) {
      lc_tensor *part = lc_narrow(g, dim, start, len);
      gin[k] = lc_contiguous_copy(part);
      lc_tensor_release(part);
    }
    start += len;
  }
}

static lc_tensor *cat_chunk(int n, lc_tensor *const *ts, int dim)
{
  const lc_tensor *first = ts[0];
  int64_t sizes[LC_MAX_DIMS];
  memcpy(sizes, first->sizes, sizeof sizes);
  sizes[dim] = 0;
  lc_dtype dtype = first->dtype;
  for (int k = 0; k < n; k++) {
    sizes[dim] += ts[k]->sizes[dim];
    dtype = lc_promote(dtype, ts[k]->dtype);
  }
  lc_tensor *out = lc_empty(first->ndim, sizes, dtype, first->storage->device);
  int64_t start = 0;
  for (int k = 0; k < n; k++) {
    int64_t len = ts[k]->sizes[dim];
    if (len) {
      int64_t psizes[LC_MAX_DIMS];
      memcpy(psizes, sizes, sizeof psizes);
      psizes[dim] = len;
      lc_tensor *slot = lc_alias(out, out->ndim, psizes, out->strides, start * out->strides[dim]);
      lc_copy_(slot, ts[k]);
      lc_tensor_release(slot);
    }
    start += len;
  }
  return out;
}

/* Checked for all inputs before any chunk is joined, so a bad one leaks no chunk. */
static void check_cat(int n, lc_tensor *const *ts, int dim)
{
  const lc_tensor *first = ts[0];
  for (int k = 0; k < n; k++) {
    const lc_tensor *t = ts[k];
    lc_check_same_device("cat", first, t);
    if (t->ndim != first->ndim)
      lc_error("cat: tensor %d has %d dims but tensor 1 has %d", k + 1, t->ndim, first->ndim);
    for (int d = 0; d < t->ndim; d++)
      if (d != dim && t->sizes[d] != first->sizes[d])
        lc_error("cat: tensor %d has shape %s but tensor 1 has %s (they must match except in dim %d)",
                 k + 1, lc_shape_str(t), lc_shape_str(first), dim + 1);
  }
}

/* Inputs beyond a node's capacity are joined in chunks, each chunk one node. */
lc_tensor *lc_cat(int n, lc_tensor *const *ts, int dim)
{
  if (n == 0) lc_error("cat: expected a non-empty list of tensors");
  if (ts[0]->ndim == 0) lc_error("cat: zero-dimensional tensors cannot be concatenated");
  dim = lc_wrap_dim("cat", dim, ts[0]->ndim);
  check_cat(n, ts, dim);
  if (n > LC_MAX_INPUTS) {
    int half = n / 2;
    lc_tensor *parts[2] = {lc_cat(half, ts, dim), lc_cat(n - half, ts + half, dim)};
    lc_tensor *out = lc_cat(2, parts, dim);
    lc_tensor_release(parts[0]);
    lc_tensor_release(parts[1]);
    return out;
  }
  lc_tensor *out = cat_chunk(n, ts, dim);
  lc_node *node = lc_node_new("Cat", cat_backward, n, ts);
  if (node) {
    node->i[0] = dim;
    lc_attach(out, node);
  }
  return out;
}

lc_tensor *lc_stack(int n, lc_tensor *const *ts, int dim)
{
  if (n == 0) lc_error("stack: expected a non-empty list of tensors");
  for (int k = 1; k < n; k++)
    if (!lc_same_shape(ts[k], ts[0]))
      lc_error("stack: tensor %d has shape %s but tensor 1 has %s", k + 1, lc_shape_str(ts[k]),
               lc_shape_str(ts[0]));
  dim = lc_wrap_dim("stack", dim, ts[0]->ndim + 1);
  lc_tensor **parts = malloc(n * sizeof *parts);
  if (!parts) lc_error("stack: out of memory");
  for (int k = 0; k < n; k++) parts[k] = lc_unsqueeze(ts[k], dim);
  lc_tensor *out = lc_cat(n, parts, dim);
  for (int k = 0; k < n; k++) lc_tensor_release(parts[k]);
  free(parts);
  return out;
}
