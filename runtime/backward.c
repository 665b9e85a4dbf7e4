/* The autograd engine: lc_backward runs the tape (runtime/autograd.c) in reverse, with the
 * ops themselves (grad mode off), and lc_assign records an in-place write. Above the ops in
 * the runtime's call order (docs/architecture.md): it calls them, they never call it. */
#include <stdlib.h>
#include <string.h>

#include "runtime/autograd.h"
#include "runtime/ops.h"

/* the node lists of a backward pass under way (the struct lives in lc_backward's frame) */
typedef struct node_list node_list;
static _Thread_local node_list *pending_lists[2];

struct node_list {
  lc_node **items;
  size_t n, cap;
};

void lc_backward_unwind(void)
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

/* True when nothing but this pass can reach g's memory: g is held only by the caller's
 * `frame_refs` references, it lays out its whole storage contiguously, and the storage's
 * other reference, if any, is g's own base, which only g holds. */
static bool exclusively_owned(const lc_tensor *g, int frame_refs)
{
  const lc_tensor *base = g->base;
  size_t bytes = (size_t)lc_numel(g) * lc_dtype_size(g->dtype);
  return g->refcount == frame_refs && !g->grad_fn && g->offset == 0 && lc_is_contiguous(g) &&
         g->storage->nbytes == bytes && g->storage->refcount == 1 + (base != NULL) &&
         (!base || (base->refcount == 1 && !base->grad_fn));
}

/* Leaves keep their own .grad tensor; it is updated in place so optimizers holding
 * it see the new values. A first gradient the pass owns outright becomes .grad as it is
 * (a new header over its storage), as PyTorch steals it: no copy of every weight's gradient
 * each step. */
static void accumulate_leaf(lc_tensor *leaf, lc_tensor *g, int frame_refs)
{
  if (leaf->grad) {
    lc_add_(leaf->grad, g);
  } else if (g->dtype == leaf->dtype && exclusively_owned(g, frame_refs)) {
    leaf->grad = lc_unhold(lc_alias(g, g->ndim, g->sizes, g->strides, 0)); /* the leaf owns it */
  } else {
    leaf->grad = lc_unhold(lc_contiguous_copy(g)); /* the leaf owns it */
  }
}

static void run_node(lc_node *n, bool retain_graph)
{
  lc_tensor *gin[LC_MAX_INPUTS] = {0};
  lc_tensor *gout = lc_hold(n->grad_accum); /* this frame owns it now */
  n->grad_accum = NULL;
  if (n->released) lc_node_unusable_error(n);
  n->backward(n, gout, gin);
  lc_tensor_release(gout);
  for (int i = 0; i < n->n_inputs; i++) {
    lc_edge *e = &n->next[i];
    if (!gin[i]) continue;
    if (e->node || e->leaf) {
      lc_tensor *g = fit_gradient(gin[i], e);
      if (e->node) accumulate(&e->node->grad_accum, g);
      else accumulate_leaf(e->leaf, g, g == gin[i] ? 2 : 1);
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
  if (!retain_graph) lc_node_release_saved(n);
}

/* Raises, before anything has run, the errors that would otherwise stop backward
 * half-way (with grad mode off and some gradients accumulated): a graph already freed
 * by an earlier backward, or a saved tensor overwritten in place since it was saved. */
static void check_graph(node_list *nodes, lc_tensor *seed)
{
  for (size_t i = 0; i < nodes->n; i++) {
    lc_node *n = nodes->items[i];
    if (lc_node_usable(n)) continue;
    free(nodes->items);
    lc_tensor_release(seed);
    lc_node_unusable_error(n);
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
    accumulate_leaf(root, seed, 1);
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
  /* freed by lc_backward_unwind if a backward function raises */
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
  lc_node_store_view(node, dst, base);
  /* CopySlices' edge 0 must be the base's history, even when the base did not
   * require grad before (then there is none). */
  lc_attach(base, node);
  base->history++;
  if (dst != base) {
    dst->history = base->history;
    lc_attach_view_of_base(dst);
  }
}
