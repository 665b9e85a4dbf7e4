/* index_select (gather along one dim, with its index-add gradient) and randperm. */
#include "runtime/ops_index.h"

#include "kernels/common/philox.h"
#include "kernels/cpu/index.h"
#include "runtime/random.h"

/* t's data as a contiguous host tensor with no history (an alias when it already is one). */
static lc_tensor *dense_host(const lc_tensor *t)
{
  if (t->storage->device.type == LC_CPU)
    return lc_is_contiguous(t) ? lc_detach(t) : lc_contiguous_copy(t);
  lc_tensor *d = lc_detach(t);
  lc_tensor *h = lc_to_device(d, LC_DEVICE_CPU);
  lc_tensor_release(d);
  return h;
}

/* The indices as a fresh host int64 tensor with negatives wrapped to 0..size-1; an error
 * naming the first one out of range. Values v >= 0 are reported as v + 1 and negative ones as
 * they are, which is what a Lua caller wrote once the binding has shifted 1-based indices. */
static lc_tensor *checked_indices(const lc_tensor *idx, int dim, int64_t size)
{
  if (idx->dtype != LC_INT64)
    lc_error("index_select: indices must be an int64 tensor, got %s", lc_dtype_name(idx->dtype));
  if (idx->ndim > 1)
    lc_error("index_select: indices must be a 1-D tensor, got shape %s", lc_shape_str(idx));
  lc_tensor *src = dense_host(idx);
  int64_t n = lc_numel(src);
  const int64_t *in = lc_data(src);
  for (int64_t k = 0; k < n; k++) {
    int64_t v = in[k];
    if (v >= size || v < -size) {
      lc_tensor_release(src);
      lc_error("index_select: index %lld (position %lld) is out of range for dim %d of size %lld",
               (long long)(v >= 0 ? v + 1 : v), (long long)k + 1, dim + 1, (long long)size);
    }
  }
  int64_t sizes[1] = {n};
  lc_tensor *out = lc_empty(1, sizes, LC_INT64, LC_DEVICE_CPU);
  int64_t *o = lc_data(out);
  for (int64_t k = 0; k < n; k++) o[k] = in[k] < 0 ? in[k] + size : in[k];
  lc_tensor_release(src);
  return out;
}

/* (outer, dim, inner) of a contiguous tensor of these sizes. */
static void split_at(int ndim, const int64_t *sizes, int dim, int64_t *outer, int64_t *inner)
{
  *outer = 1;
  *inner = 1;
  for (int d = 0; d < dim; d++) *outer *= sizes[d];
  for (int d = dim + 1; d < ndim; d++) *inner *= sizes[d];
}

static lc_tensor *to_device_of(lc_tensor *host, const lc_tensor *like)
{
  if (like->storage->device.type == LC_CPU) return host;
  lc_tensor *out = lc_to_device(host, like->storage->device);
  lc_tensor_release(host);
  return out;
}

static void index_select_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  const lc_edge *e = &n->next[0];
  int dim = (int)n->i[0];
  lc_tensor *idx = lc_node_saved(n, 0);
  if (g->dtype != LC_FLOAT32 && g->dtype != LC_FLOAT64)
    lc_error("index_select: backward of a %s gradient is not supported", lc_dtype_name(g->dtype));
  lc_tensor *gh = dense_host(g);
  lc_tensor *acc = lc_zeros(e->ndim, e->sizes, g->dtype, LC_DEVICE_CPU);
  int64_t outer, inner, nidx = lc_numel(idx);
  split_at(e->ndim, e->sizes, dim, &outer, &inner);
  int64_t dim_size = e->ndim ? e->sizes[dim] : 1;
  if (outer * inner * nidx > 0) {
    if (g->dtype == LC_FLOAT32)
      lc_cpu_index_add_f32(outer, dim_size, inner, lc_data(idx), nidx, lc_data(gh), lc_data(acc));
    else
      lc_cpu_index_add_f64(outer, dim_size, inner, lc_data(idx), nidx, lc_data(gh), lc_data(acc));
  }
  lc_tensor_release(gh);
  gin[0] = to_device_of(acc, g);
}

lc_tensor *lc_index_select(lc_tensor *t, int dim, const lc_tensor *idx)
{
  if (t->ndim == 0) lc_error("index_select: cannot index a 0-dim tensor");
  dim = lc_wrap_dim("index_select", dim, t->ndim);
  lc_tensor *nidx = checked_indices(idx, dim, t->sizes[dim]);
  int64_t n = lc_numel(nidx), sizes[LC_MAX_DIMS], outer, inner;
  for (int d = 0; d < t->ndim; d++) sizes[d] = t->sizes[d];
  sizes[dim] = n;
  split_at(t->ndim, t->sizes, dim, &outer, &inner);

  lc_tensor *src = dense_host(t);
  lc_tensor *host_out = lc_empty(t->ndim, sizes, t->dtype, LC_DEVICE_CPU);
  if (outer * inner * n > 0)
    lc_cpu_gather_dim(outer, t->sizes[dim], inner, lc_dtype_size(t->dtype), lc_data(nidx), n,
                      lc_data(src), lc_data(host_out));
  lc_tensor_release(src);
  lc_tensor *out = to_device_of(host_out, t);

  lc_tensor *in[1] = {t};
  lc_node *node = lc_node_new("IndexSelect", index_select_backward, 1, in);
  if (node) {
    lc_node_save(node, nidx);
    node->i[0] = dim;
    lc_attach(out, node);
  }
  lc_tensor_release(nidx);
  return out;
}

lc_tensor *lc_randperm(int64_t n, lc_device device)
{
  if (n < 0) lc_error("randperm: n must be >= 0, got %lld", (long long)n);
  int64_t sizes[1] = {n};
  lc_tensor *host = lc_empty(1, sizes, LC_INT64, LC_DEVICE_CPU);
  int64_t *p = lc_data(host);
  for (int64_t i = 0; i < n; i++) p[i] = i;
  /* Two 32-bit lanes per swap, so each block of four serves two swaps: 2n values reserved. */
  uint64_t seed = lc_initial_seed(), first = lc_random_reserve(2 * n);
  lc_philox_block b = {{0, 0, 0, 0}};
  for (int64_t i = n - 1, m = 0; i > 0; i--, m++) {
    if (m % 2 == 0) b = lc_philox(seed, first + (uint64_t)(m / 2));
    int lane = (int)(m % 2) * 2;
    uint64_t r = ((uint64_t)b.v[lane] << 32) | b.v[lane + 1];
    /* j uniform in 0..i by a 64x64 -> 128-bit multiply (bias below 2^-40 for any n here) */
    int64_t j = (int64_t)(((unsigned __int128)r * (uint64_t)(i + 1)) >> 64);
    int64_t tmp = p[i];
    p[i] = p[j];
    p[j] = tmp;
  }
  if (device.type == LC_CPU) return host;
  lc_tensor *out = lc_to_device(host, device);
  lc_tensor_release(host);
  return out;
}
