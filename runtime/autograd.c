#include "runtime/autograd.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/backend.h"
#include "runtime/ops.h"

static bool grad_mode = true;

bool lc_grad_enabled(void) { return grad_mode; }

bool lc_set_grad_enabled(bool enabled)
{
  bool previous = grad_mode;
  grad_mode = enabled;
  return previous;
}

bool lc_any_requires_grad(int n, lc_tensor *const *inputs)
{
  if (!grad_mode) return false;
  for (int i = 0; i < n; i++)
    if (inputs[i] && inputs[i]->requires_grad) return true;
  return false;
}

/* ---- nodes ---- */

static void refresh_view_history(lc_tensor *view);

static _Thread_local lc_node *pending_node;
/* the node lists of a backward pass under way (the struct lives in lc_backward's frame) */
typedef struct node_list node_list;
static _Thread_local node_list *pending_lists[2];
static void free_pending_lists(void);

void lc_pending_node_release(void)
{
  lc_node *n = pending_node;
  pending_node = NULL;
  lc_node_release(n);
  free_pending_lists();
}

void lc_pending_node_forget(void)
{
  pending_node = NULL;
  pending_lists[0] = pending_lists[1] = NULL;
}

lc_node *lc_node_new(const char *name, lc_backward_fn backward, int n, lc_tensor *const *inputs)
{
  for (int i = 0; i < n; i++)
    if (inputs[i] && inputs[i]->base && inputs[i]->history != inputs[i]->base->history)
      refresh_view_history(inputs[i]);
  if (!lc_any_requires_grad(n, inputs)) return NULL;
  lc_node *node = calloc(1, sizeof *node);
  if (!node) lc_error("%s: out of memory recording the autograd graph", name);
  pending_node = node;
  node->refcount = 1;
  node->name = name;
  node->backward = backward;
  node->n_inputs = n;
  for (int i = 0; i < n; i++) {
    lc_tensor *t = inputs[i];
    lc_edge *e = &node->next[i];
    if (!t || !t->requires_grad) continue;
    if (t->grad_fn) {
      e->node = t->grad_fn;
      lc_node_retain(e->node);
    } else {
      e->leaf = lc_unhold(lc_tensor_retain(t)); /* the node owns it */
    }
    e->ndim = t->ndim;
    memcpy(e->sizes, t->sizes, sizeof e->sizes);
    e->dtype = t->dtype;
  }
  return node;
}

int lc_node_save(lc_node *node, const lc_tensor *t)
{
  if (node->n_saved == LC_MAX_SAVED) lc_error("%s: too many saved tensors", node->name);
  int k = node->n_saved++;
  node->saved[k] = lc_unhold(lc_detach(t)); /* the node owns it */
  node->saved_version[k] = t->storage->version;
  return k;
}

static _Noreturn void released_error(const lc_node *node)
{
  lc_error("backward: trying to backward through the graph a second time (at %s); "
           "pass {retain_graph = true} to the first backward", node->name);
}

static bool saved_is_stale(const lc_node *node, int k)
{
  return node->saved[k]->storage->version != node->saved_version[k];
}

static _Noreturn void stale_error(const lc_node *node, int k)
{
  lc_error("backward: a tensor saved by %s for the gradient was modified by an in-place "
           "operation (it is at version %llu, %llu was expected)", node->name,
           (unsigned long long)node->saved[k]->storage->version,
           (unsigned long long)node->saved_version[k]);
}

lc_tensor *lc_node_saved(lc_node *node, int k)
{
  if (node->released) released_error(node);
  if (saved_is_stale(node, k)) stale_error(node, k);
  return node->saved[k];
}

bool lc_node_needs(const lc_node *node, int input)
{
  return node->next[input].node || node->next[input].leaf;
}

void lc_attach(lc_tensor *out, lc_node *node)
{
  if (!node) return;
  if (pending_node == node) pending_node = NULL;
  lc_node_release(out->grad_fn);
  out->grad_fn = node;
  out->requires_grad = true;
}

void lc_node_retain(lc_node *node)
{
  if (node) node->refcount++;
}

static void release_saved(lc_node *node)
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
    release_saved(n);
    lc_tensor_release(n->grad_accum);
    free(n);
  }
  free(stack);
}

/* ---- the engine ---- */

struct node_list {
  lc_node **items;
  size_t n, cap;
};

static void free_pending_lists(void)
{
  for (int i = 0; i < 2; i++)
    if (pending_lists[i]) {
      free(pending_lists[i]->items);
      pending_lists[i] = NULL;
    }
}

static void list_push(node_list *l, lc_node *node)
{
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    lc_node **grown = realloc(l->items, l->cap * sizeof *grown);
    if (!grown) lc_error("backward: out of memory");
    l->items = grown;
  }
  l->items[l->n++] = node;
}

static uint64_t visit_generation;

static lc_grad_ready_fn grad_ready_hook;
static void *grad_ready_ctx;

void lc_set_grad_ready_hook(lc_grad_ready_fn fn, void *ctx)
{
  grad_ready_hook = fn;
  grad_ready_ctx = fn ? ctx : NULL;
}

/* Counts, for each node reachable from root, how many edges lead into it, and lists
 * the nodes. A node is ready once every consumer has sent its gradient. */
static node_list collect_graph(lc_node *root)
{
  node_list order = {0}, stack = {0};
  uint64_t mark = ++visit_generation;
  root->visit_mark = mark;
  root->dependencies = 0;
  list_push(&stack, root);
  while (stack.n) {
    lc_node *n = stack.items[--stack.n];
    list_push(&order, n);
    /* left over by a backward that failed half-way: not this pass's gradient */
    lc_tensor_release(n->grad_accum);
    n->grad_accum = NULL;
    for (int i = 0; i < n->n_inputs; i++) {
      lc_tensor *leaf = n->next[i].leaf;
      if (leaf && grad_ready_hook) { /* edges into a leaf, for the grad-ready hook */
        if (leaf->grad_pass != mark) {
          leaf->grad_pass = mark;
          leaf->grad_pending = 0;
        }
        leaf->grad_pending++;
      }
      lc_node *child = n->next[i].node;
      if (!child) continue;
      if (child->visit_mark != mark) {
        child->visit_mark = mark;
        child->dependencies = 0;
        list_push(&stack, child);
      }
      child->dependencies++;
    }
  }
  free(stack.items);
  return order;
}

/* Sums a broadcast gradient back to the shape its input had. */
static lc_tensor *fit_gradient(lc_tensor *g, const lc_edge *e)
{
  lc_tensor *fitted = lc_sum_to_size(g, e->ndim, e->sizes);
  if (fitted->dtype != e->dtype) {
    lc_tensor *cast = lc_to_dtype(fitted, e->dtype);
    lc_tensor_release(fitted);
    fitted = cast;
  }
  return fitted;
}

static void accumulate(lc_tensor **slot, lc_tensor *g)
{
  if (!*slot) {
    *slot = lc_unhold(lc_tensor_retain(g)); /* the node owns it */
    return;
  }
  lc_tensor *sum = lc_add(*slot, g);
  lc_tensor_release(*slot);
  *slot = lc_unhold(sum); /* the node owns it */
}

/* Leaves keep their own .grad tensor; it is updated in place so optimizers holding
 * it see the new values. */
static void accumulate_leaf(lc_tensor *leaf, lc_tensor *g)
{
  if (!leaf->grad) {
    leaf->grad = lc_unhold(lc_contiguous_copy(g)); /* the leaf owns it */
    return;
  }
  lc_add_(leaf->grad, g);
}

static void run_node(lc_node *n, bool retain_graph)
{
  lc_tensor *gin[LC_MAX_INPUTS] = {0};
  lc_tensor *gout = lc_hold(n->grad_accum); /* this frame owns it now */
  n->grad_accum = NULL;
  if (n->released) released_error(n);
  n->backward(n, gout, gin);
  lc_tensor_release(gout);
  for (int i = 0; i < n->n_inputs; i++) {
    lc_edge *e = &n->next[i];
    if (!gin[i]) continue;
    if (e->node || e->leaf) {
      lc_tensor *g = fit_gradient(gin[i], e);
      if (e->node) accumulate(&e->node->grad_accum, g);
      else accumulate_leaf(e->leaf, g);
      lc_tensor_release(g);
    }
    lc_tensor_release(gin[i]);
  }
  /* leaves whose every edge of this pass has now delivered (a NULL gradient delivers too) */
  for (int i = 0; i < n->n_inputs && grad_ready_hook; i++) {
    lc_tensor *leaf = n->next[i].leaf;
    if (leaf && leaf->grad_pass == visit_generation && --leaf->grad_pending == 0 && leaf->grad)
      grad_ready_hook(leaf, grad_ready_ctx);
  }
  if (!retain_graph) release_saved(n);
}

/* Raises, before anything has run, the errors that would otherwise stop backward
 * half-way (with grad mode off and some gradients accumulated): a graph already freed
 * by an earlier backward, or a saved tensor overwritten in place since it was saved. */
static void check_graph(node_list *nodes, lc_tensor *seed)
{
  for (size_t i = 0; i < nodes->n; i++) {
    lc_node *n = nodes->items[i];
    int stale = -1;
    for (int k = 0; k < n->n_saved && !n->released && stale < 0; k++)
      if (saved_is_stale(n, k)) stale = k;
    if (!n->released && stale < 0) continue;
    free(nodes->items);
    lc_tensor_release(seed);
    if (n->released) released_error(n);
    stale_error(n, stale);
  }
}

void lc_backward(lc_tensor *root, lc_tensor *grad, bool retain_graph)
{
  if (!root->requires_grad)
    lc_error("backward: the tensor does not require grad and has no grad_fn "
             "(did you set requires_grad = true on the parameters, or call it inside no_grad?)");
  lc_tensor *seed;
  if (grad) {
    if (!lc_same_shape(grad, root))
      lc_error("backward: the gradient has shape %s but the tensor has shape %s",
               lc_shape_str(grad), lc_shape_str(root));
    seed = lc_tensor_retain(grad);
  } else {
    if (lc_numel(root) != 1)
      lc_error("backward: a gradient can be created implicitly only for one-element outputs, "
               "got shape %s; pass the gradient explicitly", lc_shape_str(root));
    seed = lc_full(root->ndim, root->sizes, 1.0, root->dtype, root->storage->device);
  }
  if (!root->grad_fn) {
    bool previous = lc_set_grad_enabled(false);
    accumulate_leaf(root, seed);
    lc_tensor_release(seed);
    lc_set_grad_enabled(previous);
    if (grad_ready_hook) {
      grad_ready_hook(root, grad_ready_ctx);
      grad_ready_hook(NULL, grad_ready_ctx);
    }
    return;
  }
  node_list nodes = collect_graph(root->grad_fn);
  check_graph(&nodes, seed);
  bool previous = lc_set_grad_enabled(false);
  root->grad_fn->grad_accum = lc_unhold(seed); /* the node owns it */
  /* Kahn's order: a node runs once all its consumers have run. */
  node_list ready = {0};
  /* freed by lc_pending_node_release if a backward function raises */
  pending_lists[0] = &nodes;
  pending_lists[1] = &ready;
  list_push(&ready, root->grad_fn);
  while (ready.n) {
    lc_node *n = ready.items[--ready.n];
    run_node(n, retain_graph);
    for (int i = 0; i < n->n_inputs; i++) {
      lc_node *child = n->next[i].node;
      if (child && --child->dependencies == 0) list_push(&ready, child);
    }
  }
  for (size_t i = 0; i < nodes.n; i++) { /* gradients of unreached branches */
    lc_tensor_release(nodes.items[i]->grad_accum);
    nodes.items[i]->grad_accum = NULL;
  }
  pending_lists[0] = pending_lists[1] = NULL;
  free(nodes.items);
  free(ready.items);
  lc_set_grad_enabled(previous);
  if (grad_ready_hook) grad_ready_hook(NULL, grad_ready_ctx); /* the pass is over */
}

/* ---- in-place writes ---- */

void lc_bump_version(lc_tensor *t) { t->storage->version++; }

static void copy_slices_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  int ndim = (int)n->i[0];
  int64_t offset = n->i[1];
  const int64_t *sizes = &n->i[2], *strides = &n->i[2 + LC_MAX_DIMS];
  lc_tensor *gc = lc_contiguous_copy(g);
  lc_tensor *slice = lc_alias(gc, ndim, sizes, strides, offset);
  if (lc_node_needs(n, 1)) gin[1] = lc_contiguous_copy(slice);
  if (lc_node_needs(n, 0)) {
    lc_fill_(slice, 0);
    gin[0] = lc_tensor_retain(gc);
  }
  lc_tensor_release(slice);
  lc_tensor_release(gc);
}

static void view_of_base_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  int ndim = (int)n->i[0];
  int64_t offset = n->i[1];
  const int64_t *sizes = &n->i[2], *strides = &n->i[2 + LC_MAX_DIMS];
  const lc_edge *e = &n->next[0];
  lc_tensor *gb = lc_zeros(e->ndim, e->sizes, g->dtype, g->storage->device);
  lc_tensor *slice = lc_alias(gb, ndim, sizes, strides, offset);
  lc_backend_for(g->storage->device)->binary(LC_BIN_ADD, slice, slice, g);
  lc_tensor_release(slice);
  gin[0] = gb;
}

static void store_geometry(lc_node *n, const lc_tensor *view, const lc_tensor *base)
{
  n->i[0] = view->ndim;
  n->i[1] = view->offset - base->offset;
  memcpy(&n->i[2], view->sizes, sizeof view->sizes);
  memcpy(&n->i[2 + LC_MAX_DIMS], view->strides, sizeof view->strides);
}

/* A view made before an in-place write to its base reads the new values: its gradient
 * must flow through the base's new history, as PyTorch regenerates it. */
static void refresh_view_history(lc_tensor *view)
{
  lc_tensor *base = view->base;
  view->history = base->history;
  if (!base->requires_grad || !lc_grad_enabled()) return;
  lc_tensor *inputs[1] = {base};
  lc_node *node = lc_node_new("ViewOfBase", view_of_base_backward, 1, inputs);
  store_geometry(node, view, base);
  lc_attach(view, node);
}

void lc_assign(lc_tensor *dst, const lc_tensor *src)
{
  /* As PyTorch: elements of an expanded view share memory, so which write wins (and
   * which gets the gradient) would be arbitrary. */
  for (int d = 0; d < dst->ndim; d++)
    if (dst->strides[d] == 0 && dst->sizes[d] > 1)
      lc_error("in-place write: the tensor of shape %s is an expanded view whose elements "
               "share memory (dim %d); write into a :clone() or :contiguous() copy",
               lc_shape_str(dst), d + 1);
  lc_tensor *base = dst->base ? dst->base : dst;
  lc_tensor *inputs[2] = {base, (lc_tensor *)src};
  bool track = lc_grad_enabled() && (src->requires_grad || base->requires_grad);
  if (track && base->requires_grad && !base->grad_fn)
    lc_error("in-place write: a leaf tensor that requires grad is used in an in-place "
             "operation; wrap the update in lc.no_grad or use a copy");
  if (track && !lc_is_contiguous(base))
    lc_error("in-place write: writing with autograd into a non-contiguous tensor is not "
             "supported; use :contiguous() first");
  lc_copy_(dst, src); /* checks shapes and devices, converts dtype, broadcasts */
  if (!track) return;

  lc_node *node = lc_node_new("CopySlices", copy_slices_backward, 2, inputs);
  store_geometry(node, dst, base);
  /* CopySlices' edge 0 must be the base's history, even when the base did not
   * require grad before (then there is none). */
  lc_attach(base, node);
  base->history++;
  if (dst != base) {
    dst->history = base->history;
    lc_tensor *view_inputs[1] = {base};
    lc_node *view_node = lc_node_new("ViewOfBase", view_of_base_backward, 1, view_inputs);
    store_geometry(view_node, dst, base);
    lc_attach(dst, view_node);
  }
}
