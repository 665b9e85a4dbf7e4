/* Creation, conversion and copying. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/bf16.h"
#include "runtime/ops.h"
#include "runtime/random.h"

static const lc_backend *backend_of(const lc_tensor *t) { return lc_backend_for(t->storage->device); }

lc_tensor *lc_from_host(const void *data, int ndim, const int64_t *sizes, lc_dtype dtype,
                        lc_device device)
{
  lc_tensor *t = lc_empty(ndim, sizes, dtype, device);
  size_t nbytes = (size_t)lc_numel(t) * lc_dtype_size(dtype);
  if (nbytes) backend_of(t)->from_host(t, data, nbytes);
  return t;
}

/* arange and linspace stage their values in a host array of doubles; beyond this many,
 * its byte count would overflow (lc_empty has the same bound). */
#define LC_MAX_HOST_VALUES (INT64_MAX / 16)

/* A 1-D tensor of n staged doubles (freed here), converted to dtype on device. */
static lc_tensor *vector_from_doubles(double *values, int64_t n, lc_dtype dtype, lc_device device)
{
  lc_tensor *f = lc_from_host(values, 1, &n, LC_FLOAT64, LC_DEVICE_CPU);
  free(values);
  lc_tensor *typed = lc_to_dtype(f, dtype);
  lc_tensor_release(f);
  lc_tensor *out = lc_to_device(typed, device);
  lc_tensor_release(typed);
  return out;
}

lc_tensor *lc_arange(double start, double stop, double step, lc_dtype dtype, lc_device device)
{
  lc_backend_for(device); /* an unavailable device raises here, before anything is allocated */
  if (!isfinite(start) || !isfinite(stop) || !isfinite(step))
    lc_error("arange: start, stop and step must be finite, got %g, %g and %g", start, stop, step);
  if (step == 0) lc_error("arange: step must be nonzero");
  if ((stop - start) / step < 0)
    lc_error("arange: the range from %g to %g never ends with step %g", start, stop, step);
  double count = ceil((stop - start) / step);
  if (count > (double)LC_MAX_HOST_VALUES)
    lc_error("arange: %.0f values is too many", count);
  int64_t n = (int64_t)count;
  double *values = malloc((n ? n : 1) * sizeof *values);
  if (!values) lc_error("arange: out of memory for %lld values", (long long)n);
  for (int64_t i = 0; i < n; i++) values[i] = start + (double)i * step;
  return vector_from_doubles(values, n, dtype, device);
}

lc_tensor *lc_linspace(double start, double stop, int64_t steps, lc_dtype dtype, lc_device device)
{
  lc_backend_for(device);
  if (steps < 0) lc_error("linspace: number of steps must be non-negative, got %lld", (long long)steps);
  if (steps > LC_MAX_HOST_VALUES) lc_error("linspace: %lld steps is too many", (long long)steps);
  if (!isfinite(start) || !isfinite(stop))
    lc_error("linspace: start and stop must be finite, got %g and %g", start, stop);
  double *values = malloc((steps ? steps : 1) * sizeof *values);
  if (!values) lc_error("linspace: out of memory");
  for (int64_t i = 0; i < steps; i++)
    values[i] = steps == 1 ? start : start + (stop - start) * (double)i / (double)(steps - 1);
  return vector_from_doubles(values, steps, dtype, device);
}

lc_tensor *lc_eye(int64_t n, int64_t m, lc_dtype dtype, lc_device device)
{
  int64_t sizes[2] = {n, m};
  lc_tensor *t = lc_zeros(2, sizes, dtype, device);
  int64_t diag = n < m ? n : m;
  int64_t strides[1] = {diag ? m + 1 : 1}; /* m + 1 overflows for eye(0, INT64_MAX) */
  lc_tensor *d = lc_alias(t, 1, &diag, strides, 0);
  if (diag) backend_of(t)->fill(d, 1);
  lc_tensor_release(d);
  return t;
}

static void require_float(const char *op, lc_dtype dtype)
{
  if (!lc_dtype_is_float(dtype))
    lc_error("%s: a floating dtype (float32, float64 or bfloat16) was expected, got %s", op,
             lc_dtype_name(dtype));
}

/* The largest value of t's dtype below hi. A draw lo + (hi - lo) * u with u < 1 can still
 * round to hi once stored (1 - 2^-30 is 1.0f in float32), so uniform_ clamps to it. */
static double below(double hi, lc_dtype dtype)
{
  if (dtype == LC_FLOAT64) return nextafter(hi, -INFINITY);
  if (dtype == LC_BFLOAT16) {
    uint16_t b = lc_bf16_from_float((float)hi);
    float v = lc_bf16_to_float(b);
    while (v >= hi) { /* one bfloat16 step down at a time: at most two */
      b = v > 0 ? (uint16_t)(b - 1) : v == 0 ? 0x8001 : (uint16_t)(b + 1);
      v = lc_bf16_to_float(b);
    }
    return v;
  }
  float h = (float)hi;
  return (double)h >= hi ? nextafterf(h, -INFINITY) : h;
}

/* Where random draws are made: t itself when it is contiguous, else a contiguous copy of its
 * shape, float32 for bfloat16 (the generators write float32 or float64). */
static lc_tensor *draw_buffer(lc_tensor *t)
{
  if (t->dtype == LC_BFLOAT16)
    return lc_empty(t->ndim, t->sizes, LC_FLOAT32, t->storage->device);
  return lc_is_contiguous(t) ? lc_tensor_retain(t) : lc_empty_like(t);
}

void lc_uniform_(lc_tensor *t, double lo, double hi)
{
  require_float("uniform_", t->dtype);
  lc_tensor *tmp = draw_buffer(t);
  backend_of(t)->uniform(tmp, lc_initial_seed(), lc_random_reserve(lc_numel(t)), lo, hi);
  if (hi > lo && lc_numel(tmp)) backend_of(t)->unary(LC_UN_CLAMP, tmp, tmp, -INFINITY, below(hi, t->dtype));
  if (tmp != t) lc_copy_(t, tmp);
  lc_tensor_release(tmp);
  lc_bump_version(t);
}

void lc_normal_(lc_tensor *t, double mean, double std)
{
  require_float("normal_", t->dtype);
  lc_tensor *tmp = draw_buffer(t);
  backend_of(t)->normal(tmp, lc_initial_seed(), lc_random_reserve(lc_numel(t)), mean, std);
  if (tmp != t) lc_copy_(t, tmp);
  lc_tensor_release(tmp);
  lc_bump_version(t);
}

lc_tensor *lc_rand(int ndim, const int64_t *sizes, lc_dtype dtype, lc_device device)
{
  require_float("rand", dtype);
  lc_tensor *t = lc_empty(ndim, sizes, dtype, device);
  lc_uniform_(t, 0, 1);
  return t;
}

lc_tensor *lc_randn(int ndim, const int64_t *sizes, lc_dtype dtype, lc_device device)
{
  require_float("randn", dtype);
  lc_tensor *t = lc_empty(ndim, sizes, dtype, device);
  lc_normal_(t, 0, 1);
  return t;
}

/* op(t) for an int64 tensor, whose result stays int64 and has no gradient (lc_unary's rule
 * for integral scalars), without the pointwise ops above this file. */
static lc_tensor *int_unary(lc_unary_op op, const lc_tensor *t, double s0, double s1)
{
  lc_tensor *out = lc_empty_like(t);
  if (lc_numel(out)) backend_of(t)->unary(op, out, t, s0, s1);
  return out;
}

lc_tensor *lc_randint(int64_t low, int64_t high, int ndim, const int64_t *sizes, lc_dtype dtype,
                      lc_device device)
{
  if (high <= low) lc_error("randint: low (%lld) must be less than high (%lld)", (long long)low, (long long)high);
  /* high - low overflows int64 for the widest ranges, and a double draw is exact only to 2^53 */
  double range = (double)high - (double)low;
  if (range > 9007199254740992.0)
    lc_error("randint: high - low must be at most 2^53, got low %lld and high %lld", (long long)low,
             (long long)high);
  lc_tensor *u = lc_empty(ndim, sizes, LC_FLOAT64, device);
  lc_uniform_(u, 0, range);
  lc_tensor *k = lc_to_dtype(u, LC_INT64); /* truncation is floor for non-negative values */
  lc_tensor_release(u);
  lc_tensor *shifted = int_unary(LC_UN_ADD_SCALAR, k, (double)low, 0);
  lc_tensor_release(k);
  lc_tensor *bounded = int_unary(LC_UN_CLAMP, shifted, (double)low, (double)(high - 1));
  lc_tensor_release(shifted);
  lc_tensor *out = lc_to_dtype(bounded, dtype);
  lc_tensor_release(bounded);
  return out;
}

/* ---- conversions ---- */

lc_tensor *lc_contiguous_copy(const lc_tensor *t)
{
  lc_tensor *out = lc_empty(t->ndim, t->sizes, t->dtype, t->storage->device);
  if (lc_numel(t)) backend_of(t)->copy(out, t);
  return out;
}

static void to_dtype_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  gin[0] = lc_to_dtype(g, n->next[0].dtype);
}

lc_tensor *lc_to_dtype(const lc_tensor *t, lc_dtype dtype)
{
  lc_tensor *out = lc_empty(t->ndim, t->sizes, dtype, t->storage->device);
  if (lc_numel(t)) backend_of(t)->copy(out, t);
  if (lc_dtype_is_float(dtype)) {
    lc_tensor *in[1] = {(lc_tensor *)t};
    lc_attach(out, lc_node_new("ToDtype", to_dtype_backward, 1, in));
  }
  return out;
}

lc_tensor *lc_widen_bf16(lc_tensor *t)
{
  return t->dtype == LC_BFLOAT16 ? lc_to_dtype(t, LC_FLOAT32) : lc_tensor_retain(t);
}

lc_tensor *lc_narrow_to_bf16(lc_tensor *t)
{
  lc_tensor *out = lc_to_dtype(t, LC_BFLOAT16);
  lc_tensor_release(t);
  return out;
}

lc_tensor *lc_autocast_narrow(lc_tensor *t)
{
  if (!t) return NULL;
  lc_dtype narrow = lc_autocast_dtype();
  if (t->dtype == LC_FLOAT32 && narrow != LC_NUM_DTYPES) return lc_to_dtype(t, narrow);
  return lc_tensor_retain(t);
}

bool lc_autocast_widens(const lc_tensor *t)
{
  return t->dtype == LC_BFLOAT16 && lc_autocast_active();
}

static void to_device_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  lc_device device = {(lc_device_type)n->i[0], (int)n->i[1]};
  gin[0] = lc_to_device(g, device);
}

lc_tensor *lc_to_device(const lc_tensor *t, lc_device device)
{
  if (lc_device_equal(t->storage->device, device)) return lc_tensor_retain((lc_tensor *)t);
  lc_tensor *out = lc_empty(t->ndim, t->sizes, t->dtype, device); /* raises first: nothing to leak */
  lc_tensor *src = lc_contiguous_copy(t);
  size_t nbytes = (size_t)lc_numel(t) * lc_dtype_size(t->dtype);
  if (nbytes) {
    if (device.type == LC_CPU) {
      backend_of(src)->to_host(lc_data(out), src, nbytes);
    } else if (src->storage->device.type == LC_CPU) {
      lc_backend_for(device)->from_host(out, lc_data(src), nbytes);
    } else { /* GPU to GPU through the host: rare, and correct */
      void *host = malloc(nbytes);
      if (!host) lc_error("to: out of memory staging %zu bytes", nbytes);
      backend_of(src)->to_host(host, src, nbytes);
      lc_backend_for(device)->from_host(out, host, nbytes);
      free(host);
    }
  }
  lc_tensor_release(src);
  lc_tensor *in[1] = {(lc_tensor *)t};
  lc_node *node = lc_node_new("ToDevice", to_device_backward, 1, in);
  if (node) {
    node->i[0] = t->storage->device.type;
    node->i[1] = t->storage->device.index;
  }
  lc_attach(out, node);
  return out;
}

void lc_to_host(const lc_tensor *t, void *host)
{
  lc_tensor *c = lc_is_contiguous(t) ? lc_tensor_retain((lc_tensor *)t) : lc_contiguous_copy(t);
  size_t nbytes = (size_t)lc_numel(c) * lc_dtype_size(c->dtype);
  if (nbytes) backend_of(c)->to_host(host, c, nbytes);
  lc_tensor_release(c);
}

static void identity_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  gin[0] = lc_tensor_retain(g);
}

lc_tensor *lc_clone(lc_tensor *t)
{
  lc_tensor *out = lc_contiguous_copy(t);
  lc_tensor *in[1] = {t};
  lc_attach(out, lc_node_new("Clone", identity_backward, 1, in));
  return out;
}

lc_tensor *lc_contiguous(lc_tensor *t)
{
  if (lc_is_contiguous(t)) return lc_tensor_retain(t);
  return lc_clone(t);
}

lc_tensor *lc_contiguous_as(lc_tensor *t, lc_memory_format format)
{
  if (format == LC_CONTIGUOUS_FORMAT) return lc_contiguous(t);
  if (t->ndim != 4)
    lc_error("contiguous: channels_last needs a 4-D (N, C, H, W) tensor, got shape %s",
             lc_shape_str(t));
  if (lc_is_channels_last(t)) return lc_tensor_retain(t);
  lc_tensor *out = lc_empty(4, t->sizes, t->dtype, t->storage->device);
  lc_channels_last_strides(t->sizes, out->strides);
  if (lc_numel(t)) backend_of(t)->copy(out, t);
  lc_tensor *in[1] = {t};
  lc_attach(out, lc_node_new("ToChannelsLast", identity_backward, 1, in));
  return out;
}

/* copy_'s rule: src broadcasts to dst's shape */
static void require_broadcasts_to(const char *op, const lc_tensor *dst, const lc_tensor *src)
{
  int64_t sizes[LC_MAX_DIMS];
  int nd = lc_broadcast_shape(op, dst, src, sizes);
  if (nd != dst->ndim || memcmp(sizes, dst->sizes, nd * sizeof *sizes) != 0)
    lc_error("%s: a tensor of shape %s cannot be written into a slice of shape %s", op,
             lc_shape_str(src), lc_shape_str(dst));
}

void lc_copy_(lc_tensor *dst, const lc_tensor *src)
{
  lc_check_same_device("copy_", dst, src);
  require_broadcasts_to("copy_", dst, src);
  lc_tensor *e = lc_expand_alias(src, dst->ndim, dst->sizes);
  /* Aliasing source and destination (t[{..}] = t[{..}]) must read before writing. */
  lc_tensor *from = e->storage == dst->storage ? lc_contiguous_copy(e) : lc_tensor_retain(e);
  if (lc_numel(dst)) backend_of(dst)->copy(dst, from);
  lc_tensor_release(from);
  lc_tensor_release(e);
  lc_bump_version(dst);
}

void lc_fill_(lc_tensor *t, double value)
{
  if (lc_numel(t)) backend_of(t)->fill(t, value);
  lc_bump_version(t);
}

void lc_add_(lc_tensor *dst, const lc_tensor *src)
{
  lc_check_same_device("add_", dst, src);
  require_broadcasts_to("add_", dst, src);
  lc_tensor *e = lc_expand_alias(src, dst->ndim, dst->sizes);
  lc_tensor *s = e->dtype == dst->dtype ? lc_tensor_retain(e) : lc_to_dtype(e, dst->dtype);
  bool previous = lc_set_grad_enabled(false);
  if (lc_numel(dst) && dst->dtype == LC_BFLOAT16) { /* summed in float32, rounded once */
    lc_tensor *sum = lc_to_dtype(dst, LC_FLOAT32), *wide = lc_to_dtype(s, LC_FLOAT32);
    backend_of(dst)->binary(LC_BIN_ADD, sum, sum, wide);
    backend_of(dst)->copy(dst, sum);
    lc_tensor_release(sum);
    lc_tensor_release(wide);
  } else if (lc_numel(dst)) {
    backend_of(dst)->binary(LC_BIN_ADD, dst, dst, s);
  }
  lc_set_grad_enabled(previous);
  lc_tensor_release(s);
  lc_tensor_release(e);
  lc_bump_version(dst);
}
