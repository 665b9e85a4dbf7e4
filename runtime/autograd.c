/* The autograd tape: grad mode, the nodes ops record (lc_node_new, lc_node_save, lc_attach)
 * and the view-of-base history of in-place writes. Below the ops: it calls tensor.c and the
 * backends only, so every op may call it; the engine that runs the tape (lc_backward) is
 * runtime/backward.c, above the ops. */
#include "runtime/autograd.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/backend.h"

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

lc_node *lc_node_new(const char *name, lc_backward_fn backward, int n, lc_tensor *const *inputs)
{
  for (int i = 0; i < n; i++)
    if (inputs[i] && inputs[i]->base && inputs[i]->history != inputs[i]->base->history)
      refresh_view_history(inputs[i]);
  if (!lc_any_requires_grad(n, inputs)) return NULL;
  lc_node *node = calloc(1, sizeof *node);
  if (!node) lc_error("%s: out of memory recording the autograd graph", name);
  lc_hold_node(node); /* released if an error comes before lc_attach */
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

bool lc_node_usable(const lc_node *node)
{
  if (node->released) return false;
  for (int k = 0; k < node->n_saved; k++)
    if (saved_is_stale(node, k)) return false;
  return true;
}

void lc_node_unusable_error(const lc_node *node)
{
  if (node->released) released_error(node);
  for (int k = 0; k < node->n_saved; k++)
    if (saved_is_stale(node, k)) stale_error(node, k);
  lc_error("backward: %s cannot be used", node->name);
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
  lc_unhold_node(node);
  lc_node_release(out->grad_fn);
  out->grad_fn = node;
  out->requires_grad = true;
}

/* ---- in-place writes ---- */

void lc_bump_version(lc_tensor *t) { t->storage->version++; }

static void view_of_base_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  int ndim = (int)n->i[0];
  int64_t offset = n->i[1];
  const int64_t *sizes = &n->i[2], *strides = &n->i[2 + LC_MAX_DIMS];
  const lc_edge *e = &n->next[0];
  lc_tensor *gb = lc_full(e->ndim, e->sizes, 0, g->dtype, g->storage->device);
  lc_tensor *slice = lc_alias(gb, ndim, sizes, strides, offset);
  lc_backend_for(g->storage->device)->binary(LC_BIN_ADD, slice, slice, g);
  lc_tensor_release(slice);
  gin[0] = gb;
}

void lc_node_store_view(lc_node *n, const lc_tensor *view, const lc_tensor *base)
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
  lc_attach_view_of_base(view);
}

void lc_attach_view_of_base(lc_tensor *view)
{
  lc_tensor *inputs[1] = {view->base};
  lc_node *node = lc_node_new("ViewOfBase", view_of_base_backward, 1, inputs);
  if (!node) return;
  lc_node_store_view(node, view, view->base);
  lc_attach(view, node);
}
