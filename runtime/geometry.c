/* What a tensor header says without touching memory: dtypes, devices, sizes, strides, the
 * data pointer, the shape as text. Pure functions that allocate nothing and call only
 * lc_error, so the backends (runtime/backend_cpu.c, runtime/cuda/) use them without calling
 * back into tensor.c, which calls the backends to allocate (see docs/architecture.md, the
 * runtime's call order). Declared in runtime/tensor.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/tensor.h"

/* ---- dtypes ---- */

static const struct {
  const char *name;
  size_t size;
} dtype_info[LC_NUM_DTYPES] = {
  [LC_FLOAT32] = {"float32", 4},
  [LC_FLOAT64] = {"float64", 8},
  [LC_INT64] = {"int64", 8},
  [LC_UINT8] = {"uint8", 1},
  [LC_BFLOAT16] = {"bfloat16", 2},
};

size_t lc_dtype_size(lc_dtype dtype) { return dtype_info[dtype].size; }
const char *lc_dtype_name(lc_dtype dtype) { return dtype_info[dtype].name; }
bool lc_dtype_is_float(lc_dtype dtype)
{
  return dtype == LC_FLOAT32 || dtype == LC_FLOAT64 || dtype == LC_BFLOAT16;
}

bool lc_dtype_from_name(const char *name, lc_dtype *out)
{
  static const struct { const char *alias; lc_dtype dtype; } aliases[] = {
    {"float32", LC_FLOAT32}, {"float", LC_FLOAT32}, {"float64", LC_FLOAT64},
    {"double", LC_FLOAT64}, {"int64", LC_INT64}, {"long", LC_INT64},
    {"uint8", LC_UINT8}, {"byte", LC_UINT8}, {"bool", LC_UINT8},
    {"bfloat16", LC_BFLOAT16}, {"bf16", LC_BFLOAT16},
  };
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(name, aliases[i].alias) == 0) {
      *out = aliases[i].dtype;
      return true;
    }
  return false;
}

/* PyTorch's rule for tensor-tensor ops: floats win, the wider float wins (bfloat16 is the
 * narrowest float). */
lc_dtype lc_promote(lc_dtype a, lc_dtype b)
{
  if (a == b) return a;
  if (a == LC_FLOAT64 || b == LC_FLOAT64) return LC_FLOAT64;
  if (a == LC_FLOAT32 || b == LC_FLOAT32) return LC_FLOAT32;
  if (a == LC_BFLOAT16 || b == LC_BFLOAT16) return LC_BFLOAT16;
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

/* ---- geometry ---- */

void lc_contiguous_strides(int ndim, const int64_t *sizes, int64_t *strides)
{
  int64_t stride = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    strides[d] = stride;
    stride *= sizes[d] > 0 ? sizes[d] : 1;
  }
}

int64_t lc_numel(const lc_tensor *t)
{
  int64_t n = 1;
  for (int d = 0; d < t->ndim; d++) n *= t->sizes[d];
  return n;
}

bool lc_is_contiguous(const lc_tensor *t)
{
  /* an empty tensor has no element out of place, whatever its strides (as PyTorch); the API
   * fuzzer found batched matmul failing in an internal view of a transposed (2, 2, 0) */
  for (int d = 0; d < t->ndim; d++)
    if (t->sizes[d] == 0) return true;
  int64_t expected = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (t->sizes[d] == 1) continue;
    if (t->strides[d] != expected) return false;
    expected *= t->sizes[d];
  }
  return true;
}

void lc_channels_last_strides(const int64_t sizes[4], int64_t strides[4])
{
  int64_t c = sizes[1] > 1 ? sizes[1] : 1, w = sizes[3] > 1 ? sizes[3] : 1,
          h = sizes[2] > 1 ? sizes[2] : 1;
  strides[1] = 1;
  strides[3] = c;
  strides[2] = c * w;
  strides[0] = c * w * h;
}

bool lc_is_channels_last(const lc_tensor *t)
{
  if (t->ndim != 4) return false;
  for (int d = 0; d < 4; d++)
    if (t->sizes[d] == 0) return true;
  static const int inner_to_outer[4] = {1, 3, 2, 0}; /* C, W, H, N */
  int64_t expected = 1;
  for (int k = 0; k < 4; k++) {
    int d = inner_to_outer[k];
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

void lc_check_same_device(const char *op, const lc_tensor *a, const lc_tensor *b)
{
  if (!lc_device_equal(a->storage->device, b->storage->device)) {
    char da[32], db[32];
    lc_error("%s: expected all tensors on the same device, got %s and %s", op,
             lc_device_name(a->storage->device, da, sizeof da),
             lc_device_name(b->storage->device, db, sizeof db));
  }
}

int lc_broadcast_shape(const char *op, const lc_tensor *a, const lc_tensor *b, int64_t *sizes)
{
  int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int i = 0; i < nd; i++) {
    int da = a->ndim - nd + i, db = b->ndim - nd + i;
    int64_t sa = da >= 0 ? a->sizes[da] : 1, sb = db >= 0 ? b->sizes[db] : 1;
    if (sa != sb && sa != 1 && sb != 1)
      lc_error("%s: shapes %s and %s cannot be broadcast together (size %lld vs %lld at dim %d)",
               op, lc_shape_str(a), lc_shape_str(b), (long long)sa, (long long)sb, i + 1);
    sizes[i] = sa == 1 ? sb : sa;
  }
  return nd;
}

/* A matrix operand for BLAS: t's dims (d0, d1) as a row-major matrix, whether BLAS must
 * transpose it, and its leading dimension (at least what BLAS accepts for its shape). */
void lc_blas_operand(const lc_tensor *t, int d0, int d1, int *trans, int64_t *ld)
{
  if (t->strides[d1] == 1 || t->sizes[d1] == 1) {
    *trans = 0;
    *ld = t->sizes[d1] == 1 && t->strides[d1] != 1 ? 1 : t->strides[d0];
  } else {
    *trans = 1;
    *ld = t->strides[d1];
  }
  int64_t least = *trans ? t->sizes[d0] : t->sizes[d1];
  if (*ld < least) *ld = least;
  if (*ld < 1) *ld = 1;
}
