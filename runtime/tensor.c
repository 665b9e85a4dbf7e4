#include "runtime/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/autograd.h"
#include "runtime/backend.h"

/* ---- dtypes ---- */

static const struct {
  const char *name;
  size_t size;
} dtype_info[LC_NUM_DTYPES] = {
  [LC_FLOAT32] = {"float32", 4},
  [LC_FLOAT64] = {"float64", 8},
  [LC_INT64] = {"int64", 8},
  [LC_UINT8] = {"uint8", 1},
};

size_t lc_dtype_size(lc_dtype dtype) { return dtype_info[dtype].size; }
const char *lc_dtype_name(lc_dtype dtype) { return dtype_info[dtype].name; }
bool lc_dtype_is_float(lc_dtype dtype) { return dtype == LC_FLOAT32 || dtype == LC_FLOAT64; }

bool lc_dtype_from_name(const char *name, lc_dtype *out)
{
  static const struct { const char *alias; lc_dtype dtype; } aliases[] = {
    {"float32", LC_FLOAT32}, {"float", LC_FLOAT32}, {"float64", LC_FLOAT64},
    {"double", LC_FLOAT64}, {"int64", LC_INT64}, {"long", LC_INT64},
    {"uint8", LC_UINT8}, {"byte", LC_UINT8}, {"bool", LC_UINT8},
  };
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(name, aliases[i].alias) == 0) {
      *out = aliases[i].dtype;
      return true;
    }
  return false;
}

/* PyTorch's rule for tensor-tensor ops: floats win, the wider float wins. */
lc_dtype lc_promote(lc_dtype a, lc_dtype b)
{
  if (a == b) return a;
  if (a == LC_FLOAT64 || b == LC_FLOAT64) return LC_FLOAT64;
  if (a == LC_FLOAT32 || b == LC_FLOAT32) return LC_FLOAT32;
  return LC_INT64;
}

/* ---- devices ---- */

const lc_device LC_DEVICE_CPU = {LC_CPU, 0};

bool lc_device_equal(lc_device a, lc_device b)
{
  return a.type == b.type && (a.type == LC_CPU || a.index == b.index);
}

const char *lc_device_name(lc_device device, char *buf, int cap)
{
  if (device.type == LC_CPU)
    snprintf(buf, cap, "cpu");
  else
    snprintf(buf, cap, "cuda:%d", device.index);
  return buf;
}

bool lc_device_from_name(const char *name, lc_device *out)
{
  if (strcmp(name, "cpu") == 0) {
    *out = LC_DEVICE_CPU;
    return true;
  }
  if (strncmp(name, "cuda", 4) == 0) {
    int index = 0;
    if (name[4] == ':') {
      char *end;
      long v = strtol(name + 5, &end, 10);
      if (*end || end == name + 5 || v < 0) return false;
      index = (int)v;
    } else if (name[4]) {
      return false;
    }
    out->type = LC_CUDA;
    out->index = index;
    return true;
  }
  return false;
}

/* ---- storage ---- */

static size_t live_bytes[2];

lc_storage *lc_storage_new(size_t nbytes, lc_device device)
{
  const lc_backend *backend = lc_backend_for(device);
  /* the data first: its allocation is what fails, and the header would leak */
  void *data = nbytes ? backend->alloc(nbytes, device) : NULL;
  lc_storage *s = calloc(1, sizeof *s);
  if (!s) {
    if (data) backend->free(data, nbytes, device);
    lc_error("out of memory allocating a storage header");
  }
  s->data = data;
  s->refcount = 1;
  s->nbytes = nbytes;
  s->device = device;
  live_bytes[device.type] += nbytes;
  return s;
}

void lc_storage_retain(lc_storage *s) { s->refcount++; }

void lc_storage_release(lc_storage *s)
{
  if (!s || --s->refcount > 0) return;
  if (s->data) lc_backend_for(s->device)->free(s->data, s->nbytes, s->device);
  live_bytes[s->device.type] -= s->nbytes;
  free(s);
}

size_t lc_storage_live_bytes(lc_device_type type) { return live_bytes[type]; }

/* ---- tensors ---- */

lc_tensor *lc_tensor_retain(lc_tensor *t)
{
  if (t) t->refcount++;
  return t;
}

void lc_tensor_release(lc_tensor *t)
{
  if (!t || --t->refcount > 0) return;
  lc_tensor_release(t->grad);
  lc_node_release(t->grad_fn);
  lc_tensor_release(t->base);
  lc_storage_release(t->storage);
  free(t);
}

static lc_tensor *tensor_header(void)
{
  lc_tensor *t = calloc(1, sizeof *t);
  if (!t) lc_error("out of memory allocating a tensor header");
  t->refcount = 1;
  return t;
}

void lc_contiguous_strides(int ndim, const int64_t *sizes, int64_t *strides)
{
  int64_t stride = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= sizes[d] > 0 ? sizes[d] : 1;
  }
}

lc_tensor *lc_empty(int ndim, const int64_t *sizes, lc_dtype dtype, lc_device device)
{
  if (ndim < 0 || ndim > LC_MAX_DIMS)
    lc_error("tensor: %d dimensions requested, at most %d are supported", ndim, LC_MAX_DIMS);
  int64_t numel = 1;
  for (int d = 0; d < ndim; d++) {
    if (sizes[d] < 0) lc_error("tensor: size %lld of dim %d is negative", (long long)sizes[d], d + 1);
    if (sizes[d] && numel > INT64_MAX / 16 / sizes[d])
      lc_error("tensor: %s elements is too many", lc_format_sizes((char[128]){0}, 128, ndim, sizes));
    numel *= sizes[d];
  }
  lc_storage *storage = lc_storage_new((size_t)numel * lc_dtype_size(dtype), device);
  lc_tensor *t = tensor_header();
  t->storage = storage;
  t->ndim = ndim;
  t->dtype = dtype;
  if (ndim) memcpy(t->sizes, sizes, ndim * sizeof *sizes); /* sizes may be NULL for a scalar */
  lc_contiguous_strides(ndim, sizes, t->strides);
  return t;
}

lc_tensor *lc_empty_like(const lc_tensor *t)
{
  return lc_empty(t->ndim, t->sizes, t->dtype, t->storage->device);
}

lc_tensor *lc_alias(const lc_tensor *t, int ndim, const int64_t *sizes, const int64_t *strides,
                    int64_t offset)
{
  lc_tensor *v = tensor_header();
  v->storage = t->storage;
  lc_storage_retain(t->storage);
  v->ndim = ndim;
  v->dtype = t->dtype;
  v->offset = offset;
  if (ndim) {
    memcpy(v->sizes, sizes, ndim * sizeof *sizes);
    memcpy(v->strides, strides, ndim * sizeof *strides);
  }
  return v;
}

void lc_set_(lc_tensor *t, const lc_tensor *src)
{
  if (t == src) return;
  lc_storage_retain(src->storage);
  lc_storage_release(t->storage);
  t->storage = src->storage;
  t->offset = src->offset;
  t->ndim = src->ndim;
  t->dtype = src->dtype;
  memcpy(t->sizes, src->sizes, sizeof t->sizes);
  memcpy(t->strides, src->strides, sizeof t->strides);
  lc_tensor *base = src->base ? lc_tensor_retain(src->base) : NULL;
  lc_tensor_release(t->base);
  t->base = base;
  t->history = base ? base->history : 0;
}

lc_tensor *lc_detach(const lc_tensor *t)
{
  return lc_alias(t, t->ndim, t->sizes, t->strides, t->offset);
}

int64_t lc_numel(const lc_tensor *t)
{
  int64_t n = 1;
  for (int d = 0; d < t->ndim; d++) n *= t->sizes[d];
  return n;
}

bool lc_is_contiguous(const lc_tensor *t)
{
  int64_t expected = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->sizes[d] == 1) continue;
    if (t->strides[d] != expected) return false;
    expected *= t->sizes[d];
  }
  return true;
}

bool lc_same_shape(const lc_tensor *a, const lc_tensor *b)
{
  if (a->ndim != b->ndim) return false;
  for (int d = 0; d < a->ndim; d++)
    if (a->sizes[d] != b->sizes[d]) return false;
  return true;
}

void *lc_data(const lc_tensor *t)
{
  return (char *)t->storage->data + t->offset * (int64_t)lc_dtype_size(t->dtype);
}

int lc_wrap_dim(const char *op, int dim, int ndim)
{
  int n = ndim > 0 ? ndim : 1;
  if (dim < -n || dim >= n)
    lc_error("%s: dim %d is out of range for a tensor of %d dimensions", op,
             dim >= 0 ? dim + 1 : dim, ndim);
  return dim < 0 ? dim + n : dim;
}

const char *lc_shape_str(const lc_tensor *t)
{
  static char ring[4][160];
  static int next;
  char *buf = ring[next++ & 3];
  return lc_format_sizes(buf, sizeof ring[0], t->ndim, t->sizes);
}

double lc_item(const lc_tensor *t)
{
  if (lc_numel(t) != 1)
    lc_error("item: a tensor with one element was expected, got shape %s", lc_shape_str(t));
  union { float f; double d; int64_t i; uint8_t u; } v;
  const lc_backend *backend = lc_backend_for(t->storage->device);
  if (t->storage->device.type == LC_CPU)
    memcpy(&v, lc_data(t), lc_dtype_size(t->dtype));
  else
    backend->to_host(&v, t, lc_dtype_size(t->dtype));
  switch (t->dtype) {
  case LC_FLOAT32: return v.f;
  case LC_FLOAT64: return v.d;
  case LC_INT64: return (double)v.i;
  default: return v.u;
  }
}
