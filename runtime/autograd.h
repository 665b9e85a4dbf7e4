/* Reverse-mode autograd, recorded in C.
 *
 * Each op that produces a tensor from inputs requiring grad attaches a node to it.
 * A node's edges point at what its inputs were at the time of the op: the input's
 * node, or the input itself when it is a leaf. Edges point at nodes rather than
 * tensors so that a later in-place write, which gives a tensor a new node, cannot
 * re-route gradients recorded before it. Backward formulas are written with the ops
 * themselves (grad mode off), so every device gets them for free. */
#ifndef LC_AUTOGRAD_H
#define LC_AUTOGRAD_H

#include "runtime/tensor.h"

#define LC_MAX_INPUTS 8
#define LC_MAX_SAVED 6

typedef struct {
  lc_node *node;   /* the input's history, or */
  lc_tensor *leaf; /* the input itself when it is a leaf that requires grad */
  int ndim;        /* the input's shape: gradients are summed back to it */
  int64_t sizes[LC_MAX_DIMS];
  lc_dtype dtype;
} lc_edge;

/* grad_in[i] is set for each input i that needs a gradient (lc_node_needs); it may
 * have the output's broadcast shape: the engine sums it back to the input's shape. */
typedef void (*lc_backward_fn)(lc_node *node, lc_tensor *grad_out, lc_tensor **grad_in);

struct lc_node {
  int refcount;
  const char *name;
  lc_backward_fn backward;
  int n_inputs;
  lc_edge next[LC_MAX_INPUTS];
  int n_saved;
  lc_tensor *saved[LC_MAX_SAVED];
  uint64_t saved_version[LC_MAX_SAVED];
  bool released; /* saved data freed after a backward without retain_graph */
  /* op parameters */
  double d[4];
  int64_t i[2 * LC_MAX_DIMS + 4];
  /* engine scratch */
  lc_tensor *grad_accum;
  int dependencies;
  uint64_t visit_mark;
};

bool lc_grad_enabled(void);
/* Returns the previous setting. */
bool lc_set_grad_enabled(bool enabled);

/* Whether an op over these inputs must record a node. */
bool lc_any_requires_grad(int n, lc_tensor *const *inputs);
/* A node over the inputs (NULL entries allowed), or NULL when no input requires grad
 * or grad mode is off. The caller saves what backward needs and attaches it. */
lc_node *lc_node_new(const char *name, lc_backward_fn backward, int n, lc_tensor *const *inputs);
/* Saves a history-free alias of t and remembers its version. Returns its slot. */
int lc_node_save(lc_node *node, const lc_tensor *t);
/* The saved tensor of slot k, checked against in-place writes since it was saved. */
lc_tensor *lc_node_saved(lc_node *node, int k);
bool lc_node_needs(const lc_node *node, int input);
/* Makes node the history of out (out->requires_grad becomes true). Consumes the caller's
 * reference to node. */
void lc_attach(lc_tensor *out, lc_node *node);
/* in tensor.c, beside the tensors' lifetime (a tensor owns its node, a node its tensors) */
void lc_node_retain(lc_node *node);
void lc_node_release(lc_node *node);
/* Frees the saved tensors (after a backward without retain_graph); node->released says so. */
void lc_node_release_saved(lc_node *node);
/* Leak-free errors (runtime/tensor.h): the node lists of a backward pass that an error
 * interrupts are freed by this, which the error handler calls after lc_release_held. */
void lc_backward_unwind(void);

/* Whether a node's saved tensors are still there and unchanged; if not, the error saying why. */
bool lc_node_usable(const lc_node *node);
_Noreturn void lc_node_unusable_error(const lc_node *node);
/* In-place writes: a view's node that reads through its base (ViewOfBase) and the geometry
 * such a node keeps. */
void lc_attach_view_of_base(lc_tensor *view);
void lc_node_store_view(lc_node *n, const lc_tensor *view, const lc_tensor *base);

/* ---- the engine (runtime/backward.c) ---- */

/* The grad-ready hook: called during lc_backward when a leaf that requires grad has received
 * every gradient this pass sends it, so its .grad is complete (PyTorch's post-accumulate-grad
 * hook; DistributedDataParallel starts reducing a bucket of gradients from it), then once
 * with leaf NULL when the pass is over (PyTorch's queued engine callback: DDP waits for its
 * reductions there). One per process; NULL removes it. It may raise (lc_error). */
typedef void (*lc_grad_ready_fn)(lc_tensor *leaf, void *ctx);
void lc_set_grad_ready_hook(lc_grad_ready_fn fn, void *ctx);

/* Backpropagates from root. grad may be NULL for a one-element root. */
void lc_backward(lc_tensor *root, lc_tensor *grad, bool retain_graph);

/* In-place write of src into dst (a view or a whole tensor) that keeps autograd right:
 * the base's history becomes "copy into a slice". Broadcasts src to dst's shape. */
void lc_assign(lc_tensor *dst, const lc_tensor *src);
/* Marks an in-place write to t's storage that autograd need not track (no grad involved). */
void lc_bump_version(lc_tensor *t);

#endif
