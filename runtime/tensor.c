#include "runtime/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/bf16.h"
#include "runtime/autograd.h"
#include "runtime/backend.h"

/* ---- storage ---- */

static size_t live_bytes[2];
static int64_t live_tensors;

/* ---- fault injection ---- */

static int64_t fail_after = -2; /* -2: not read from the environment yet; -1: off */

int64_t lc_fault_fail_alloc_after(int64_t n)
{
  int64_t before = __atomic_exchange_n(&fail_after, n < 0 ? -1 : n, __ATOMIC_RELAXED);
  return before < 0 ? -1 : before;
}

static void fault_point(const char *what, size_t nbytes)
{
  int64_t left = __atomic_load_n(&fail_after, __ATOMIC_RELAXED);
  if (left == -2) {
    const char *env = getenv("LUACNN_FAIL_ALLOC_AFTER");
    int64_t v = env && *env ? strtoll(env, NULL, 10) : -1;
    __atomic_compare_exchange_n(&fail_after, &left, v < 0 ? -1 : v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    left = __atomic_load_n(&fail_after, __ATOMIC_RELAXED);
  }
  if (left < 0) return;
  if (left == 0) {
    __atomic_store_n(&fail_after, -1, __ATOMIC_RELAXED);
    lc_error("out of memory (injected fault) allocating %s of %zu bytes", what, nbytes);
  }
  __atomic_fetch_sub(&fail_after, 1, __ATOMIC_RELAXED);
}

/* ---- references recorded for unwinding (see tensor.h) ---- */

/* One record per owned reference (a tensor retained twice by an op has two); t->held_slot
 * counts a tensor's records, so most releases need no search. */
static _Thread_local lc_tensor **held;
static _Thread_local int held_top, held_cap, scope_mark = -1;

static void hold(lc_tensor *t)
{
  if (scope_mark < 0 || !t) return;
  if (held_top == held_cap) {
    int cap = held_cap ? 2 * held_cap : 256;
    lc_tensor **more = realloc(held, (size_t)cap * sizeof *more);
    if (!more) return; /* not recorded: at worst a leak on an error */
    held = more;
    held_cap = cap;
  }
  held[held_top++] = t;
  t->held_slot++;
}

/* Forgets one record of t (the most recent), or all of them. */
static void unhold(lc_tensor *t, bool all)
{
  for (int i = held_top - 1; i >= 0 && t->held_slot > 0; i--)
    if (held[i] == t) {
      held[i] = NULL;
      t->held_slot--;
      if (!all) break;
    }
  if (all) t->held_slot = 0;
  int floor = scope_mark > 0 ? scope_mark : 0;
  while (held_top > floor && !held[held_top - 1]) held_top--;
}

lc_tensor *lc_hold(lc_tensor *t)
{
  hold(t);
  return t;
}

lc_tensor *lc_unhold(lc_tensor *t)
{
  if (t && t->held_slot) unhold(t, false);
  return t;
}

int lc_scope_begin(void)
{
  int saved = scope_mark;
  scope_mark = held_top;
  return saved;
}

static void forget_above(int mark)
{
  for (int i = held_top - 1; i >= mark; i--)
    if (held[i] && held[i]->held_slot > 0) held[i]->held_slot--;
  held_top = mark;
}

/* The node an op has made but not attached yet (lc_node_new, lc_attach): an error in between
 * (saving its tensors allocates) releases it; a call that returns forgets it. */
static _Thread_local lc_node *pending_node;

void lc_hold_node(lc_node *node) { pending_node = node; }

void lc_unhold_node(lc_node *node)
{
  if (pending_node == node) pending_node = NULL;
}

static void release_pending_node(void)
{
  lc_node *n = pending_node;
  pending_node = NULL;
  lc_node_release(n);
}

void lc_scope_end(int saved)
{
  pending_node = NULL;
  if (scope_mark >= 0) forget_above(scope_mark);
  scope_mark = saved;
}

void lc_release_held(void)
{
  if (scope_mark < 0) return;
  int n = held_top - scope_mark;
  if (n <= 0) {
    release_pending_node();
    return;
  }
  /* taken off the record first, so the releases' cascades see plain tensors */
  lc_tensor **batch = malloc((size_t)n * sizeof *batch);
  if (!batch) {
    forget_above(scope_mark);
    release_pending_node();
    return;
  }
  int k = 0;
  for (int i = held_top - 1; i >= scope_mark; i--)
    if (held[i]) {
      held[i]->held_slot--;
      batch[k++] = held[i];
    }
  held_top = scope_mark;
  /* the unattached node after the records are off: its releases must not take them */
  release_pending_node();
  for (int i = 0; i < k; i++) lc_tensor_release(batch[i]);
  free(batch);
}

/* ---- autograd nodes' lifetime: a tensor owns its history node, a node its saved tensors,
 * so their releases live together (the node itself is autograd.h's) ---- */

void lc_node_retain(lc_node *node)
{
  if (node) node->refcount++;
}

void lc_node_release_saved(lc_node *node)
{
  for (int k = 0; k < node->n_saved; k++) {
    lc_tensor_release(node->saved[k]);
    node->saved[k] = NULL;
  }
  node->released = true;
}

/* Iterative, since a long loop of ops builds chains far deeper than the C stack. */
void lc_node_release(lc_node *node)
{
  if (!node || --node->refcount > 0) return;
  size_t cap = 64, top = 0;
  lc_node **stack = malloc(cap * sizeof *stack);
  if (!stack) abort();
  stack[top++] = node;
  while (top) {
    lc_node *n = stack[--top];
    for (int i = 0; i < n->n_inputs; i++) {
      lc_node *child = n->next[i].node;
      lc_tensor_release(n->next[i].leaf);
      if (child && --child->refcount == 0) {
        if (top == cap) {
          cap *= 2;
          lc_node **grown = realloc(stack, cap * sizeof *stack);
          if (!grown) abort();
          stack = grown;
        }
        stack[top++] = child;
      }
    }
    lc_node_release_saved(n);
    lc_tensor_release(n->grad_accum);
    free(n);
  }
  free(stack);
}

lc_storage *lc_storage_new(size_t nbytes, lc_device device)
{
  const lc_backend *backend = lc_backend_for(device);
  fault_point("a storage", nbytes);
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
int64_t lc_tensor_live_count(void) { return __atomic_load_n(&live_tensors, __ATOMIC_RELAXED); }

/* ---- tensors ---- */

lc_tensor *lc_tensor_retain(lc_tensor *t)
{
  if (t) {
    t->refcount++;
    hold(t); /* owned by the running op until released, returned to Lua or stored */
  }
  return t;
}

/* direct: called by the holder of a reference (forgets a creation record); a cascade from
 * a dying tensor forgets it only when it dies too */
static void release(lc_tensor *t, bool direct)
{
  if (!t) return;
  if (t->held_slot && direct) unhold(t, false);
  if (--t->refcount > 0) return;
  if (t->held_slot) unhold(t, true);
  release(t->grad, false);
  lc_node_release(t->grad_fn);
  release(t->base, false);
  lc_storage_release(t->storage);
  free(t);
  __atomic_fetch_sub(&live_tensors, 1, __ATOMIC_RELAXED);
}

void lc_tensor_release(lc_tensor *t) { release(t, true); }

static lc_tensor *tensor_header(void)
{
  fault_point("a tensor header", sizeof(lc_tensor));
  lc_tensor *t = calloc(1, sizeof *t);
  if (!t) lc_error("out of memory allocating a tensor header");
  t->refcount = 1;
  __atomic_fetch_add(&live_tensors, 1, __ATOMIC_RELAXED);
  hold(t);
  return t;
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
  if (dtype == LC_BFLOAT16 && device.type != LC_CPU)
    lc_error("tensor: bfloat16 tensors are CPU-only in this version (the GPU's bfloat16 kernels "
             "are not written yet); keep float32 on the GPU");
  lc_tensor *t = tensor_header(); /* first: recorded, so a failing storage leaks nothing */
  t->storage = lc_storage_new((size_t)numel * lc_dtype_size(dtype), device);
  t->ndim = ndim;
  t->dtype = dtype;
  if (ndim) memcpy(t->sizes, sizes, ndim * sizeof *sizes); /* sizes may be NULL for a scalar */
  lc_contiguous_strides(ndim, sizes, t->strides);
  return t;
}

lc_tensor *lc_full(int ndim, const int64_t *sizes, double value, lc_dtype dtype, lc_device device)
{
  lc_tensor *t = lc_empty(ndim, sizes, dtype, device);
  if (lc_numel(t)) lc_backend_for(t->storage->device)->fill(t, value);
  return t;
}

lc_tensor *lc_zeros(int ndim, const int64_t *sizes, lc_dtype dtype, lc_device device)
{
  return lc_full(ndim, sizes, 0, dtype, device);
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
  lc_tensor *base = src->base ? lc_unhold(lc_tensor_retain(src->base)) : NULL; /* t owns it */
  lc_tensor_release(t->base);
  t->base = base;
  t->history = base ? base->history : 0;
}

lc_tensor *lc_expand_alias(const lc_tensor *t, int ndim, const int64_t *sizes)
{
  int64_t strides[LC_MAX_DIMS];
  for (int i = 0; i < ndim; i++) {
    int d = t->ndim - ndim + i;
    strides[i] = d >= 0 && t->sizes[d] == sizes[i] ? t->strides[d] : 0;
  }
  return lc_alias(t, ndim, sizes, strides, t->offset);
}

lc_tensor *lc_detach(const lc_tensor *t)
{
  return lc_alias(t, t->ndim, t->sizes, t->strides, t->offset);
}

double lc_item(const lc_tensor *t)
{
  if (lc_numel(t) != 1)
    lc_error("item: a tensor with one element was expected, got shape %s", lc_shape_str(t));
  union { float f; double d; int64_t i; uint8_t u; uint16_t h; } v;
  const lc_backend *backend = lc_backend_for(t->storage->device);
  if (t->storage->device.type == LC_CPU)
    memcpy(&v, lc_data(t), lc_dtype_size(t->dtype));
  else
    backend->to_host(&v, t, lc_dtype_size(t->dtype));
  switch (t->dtype) {
  case LC_FLOAT32: return v.f;
  case LC_FLOAT64: return v.d;
  case LC_INT64: return (double)v.i;
  case LC_BFLOAT16: return lc_bf16_to_float(v.h);
  default: return v.u;
  }
}
