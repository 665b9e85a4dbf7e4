/* Pointwise ops with broadcasting, dtype promotion and their gradients. */
#include <math.h>
#include <string.h>

#include "runtime/ops.h"

static const lc_backend *backend_of(const lc_tensor *t) { return lc_backend_for(t->storage->device); }

/* ---- unary ---- */

static const char *unary_name(lc_unary_op op)
{
  static const char *names[LC_UN_COUNT] = {
    [LC_UN_NEG] = "neg", [LC_UN_EXP] = "exp", [LC_UN_LOG] = "log", [LC_UN_SQRT] = "sqrt",
    [LC_UN_ABS] = "abs", [LC_UN_SIGMOID] = "sigmoid", [LC_UN_TANH] = "tanh",
    [LC_UN_RELU] = "relu", [LC_UN_SIGN] = "sign", [LC_UN_RECIPROCAL] = "reciprocal",
    [LC_UN_ADD_SCALAR] = "add", [LC_UN_MUL_SCALAR] = "mul", [LC_UN_RSUB_SCALAR] = "sub",
    [LC_UN_RDIV_SCALAR] = "div", [LC_UN_DIV_SCALAR] = "div", [LC_UN_POW_SCALAR] = "pow", [LC_UN_RPOW_SCALAR] = "pow",
    [LC_UN_CLAMP] = "clamp", [LC_UN_SIGMOID_GRAD_FROM_OUTPUT] = "sigmoid_backward",
    [LC_UN_TANH_GRAD_FROM_OUTPUT] = "tanh_backward", [LC_UN_STEP] = "step",
    [LC_UN_GT_SCALAR] = "gt", [LC_UN_LT_SCALAR] = "lt", [LC_UN_GE_SCALAR] = "ge",
    [LC_UN_LE_SCALAR] = "le", [LC_UN_EQ_SCALAR] = "eq", [LC_UN_NE_SCALAR] = "ne",
  };
  return names[op];
}

static bool is_integral(double v) { return v == floor(v) && fabs(v) < 9e15; }

/* The dtype an op computes in: PyTorch sends integers to float32 for ops whose
 * results are not integers. */
static lc_dtype unary_compute_dtype(lc_unary_op op, lc_dtype in, double s0, double s1)
{
  if (lc_dtype_is_float(in) || LC_UN_IS_COMPARISON(op)) return in;
  switch (op) {
  case LC_UN_NEG: case LC_UN_ABS: case LC_UN_RELU: case LC_UN_SIGN: case LC_UN_STEP:
    return in == LC_UINT8 && op == LC_UN_NEG ? LC_INT64 : in;
  case LC_UN_ADD_SCALAR: case LC_UN_MUL_SCALAR: case LC_UN_RSUB_SCALAR:
    return is_integral(s0) ? in : LC_FLOAT32; /* uint8 + 1 stays uint8, wrapping as PyTorch */
  case LC_UN_CLAMP: /* an infinite bound is a missing one: clamp(1) keeps integers */
    return (isinf(s0) || is_integral(s0)) && (isinf(s1) || is_integral(s1)) ? in : LC_FLOAT32;
  case LC_UN_POW_SCALAR:
    return is_integral(s0) && s0 >= 0 ? in : LC_FLOAT32;
  default:
    return LC_FLOAT32;
  }
}

static lc_tensor *mul_scalar(lc_tensor *a, double s) { return lc_unary(LC_UN_MUL_SCALAR, a, s, 0); }

/* g * f, releasing f: the common shape of unary gradients. */
static lc_tensor *times(lc_tensor *g, lc_tensor *f)
{
  lc_tensor *r = lc_mul(g, f);
  lc_tensor_release(f);
  return r;
}

static void unary_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  lc_unary_op op = (lc_unary_op)n->i[0];
  double s0 = n->d[0], s1 = n->d[1];
  int saves = (int)n->i[1], k = 0;
  lc_tensor *x = saves & 1 ? lc_node_saved(n, k++) : NULL; /* input */
  lc_tensor *y = saves & 2 ? lc_node_saved(n, k++) : NULL; /* output */
  switch (op) {
  case LC_UN_NEG: gin[0] = mul_scalar(g, -1); break;
  case LC_UN_EXP: gin[0] = lc_mul(g, y); break;
  case LC_UN_LOG: gin[0] = lc_div(g, x); break;
  case LC_UN_SQRT: gin[0] = times(g, lc_unary(LC_UN_RDIV_SCALAR, y, 0.5, 0)); break;
  case LC_UN_ABS: gin[0] = times(g, lc_unary(LC_UN_SIGN, x, 0, 0)); break;
  case LC_UN_SIGMOID: gin[0] = lc_binary(LC_BIN_SIGMOID_BACKWARD, g, y); break;
  case LC_UN_TANH: gin[0] = lc_binary(LC_BIN_TANH_BACKWARD, g, y); break;
  case LC_UN_RELU: gin[0] = lc_binary(LC_BIN_RELU_BACKWARD, g, y); break;
  case LC_UN_RECIPROCAL: { /* d(1/x) = -y^2 */
    lc_tensor *y2 = lc_mul(y, y);
    gin[0] = times(g, mul_scalar(y2, -1));
    lc_tensor_release(y2);
    break;
  }
  case LC_UN_ADD_SCALAR: gin[0] = lc_tensor_retain(g); break;
  case LC_UN_MUL_SCALAR: gin[0] = mul_scalar(g, s0); break;
  case LC_UN_DIV_SCALAR: gin[0] = lc_unary(LC_UN_DIV_SCALAR, g, s0, 0); break;
  case LC_UN_RSUB_SCALAR: gin[0] = mul_scalar(g, -1); break;
  case LC_UN_RDIV_SCALAR: { /* d(s/x) = -y / x */
    lc_tensor *q = lc_div(y, x);
    gin[0] = times(g, mul_scalar(q, -1));
    lc_tensor_release(q);
    break;
  }
  case LC_UN_POW_SCALAR: { /* s * x^(s-1) */
    lc_tensor *p = lc_unary(LC_UN_POW_SCALAR, x, s0 - 1, 0);
    gin[0] = times(g, mul_scalar(p, s0));
    lc_tensor_release(p);
    break;
  }
  case LC_UN_RPOW_SCALAR: gin[0] = times(g, mul_scalar(y, log(s0))); break;
  case LC_UN_CLAMP: { /* passes where lo <= x <= hi */
    lc_tensor *lo = lc_unary(LC_UN_GE_SCALAR, x, s0, 0), *hi = lc_unary(LC_UN_LE_SCALAR, x, s1, 0);
    lc_tensor *inside = lc_mul(lo, hi);
    lc_tensor *mask = lc_to_dtype(inside, g->dtype);
    gin[0] = times(g, mask);
    lc_tensor_release(lo);
    lc_tensor_release(hi);
    lc_tensor_release(inside);
    break;
  }
  default: /* sign, step and comparisons are flat */
    gin[0] = lc_zeros(g->ndim, g->sizes, g->dtype, g->storage->device);
    break;
  }
}

/* What each op's gradient needs: 1 = its input, 2 = its output. */
static int unary_saves(lc_unary_op op)
{
  switch (op) {
  case LC_UN_LOG: case LC_UN_ABS: case LC_UN_POW_SCALAR: case LC_UN_CLAMP: return 1;
  case LC_UN_EXP: case LC_UN_SQRT: case LC_UN_SIGMOID: case LC_UN_TANH: case LC_UN_RELU:
  case LC_UN_RECIPROCAL: case LC_UN_RPOW_SCALAR: return 2;
  case LC_UN_RDIV_SCALAR: return 3;
  default: return 0;
  }
}

/* Autocast's float32 list among the unary ops (runtime/autocast.h). */
static bool unary_needs_float32(lc_unary_op op)
{
  return op == LC_UN_EXP || op == LC_UN_LOG || op == LC_UN_RECIPROCAL || op == LC_UN_RDIV_SCALAR ||
         op == LC_UN_POW_SCALAR || op == LC_UN_RPOW_SCALAR;
}

lc_tensor *lc_unary(lc_unary_op op, lc_tensor *a, double s0, double s1)
{
  if (a->dtype == LC_BFLOAT16) {
    bool answer_float32 = LC_UN_IS_COMPARISON(op) || (unary_needs_float32(op) && lc_autocast_widens(a));
    lc_tensor *wide = lc_widen_bf16(a);
    lc_tensor *out = lc_unary(op, wide, s0, s1);
    lc_tensor_release(wide);
    return answer_float32 ? out : lc_narrow_to_bf16(out);
  }
  lc_dtype dtype = unary_compute_dtype(op, a->dtype, s0, s1);
  lc_tensor *x = dtype == a->dtype ? lc_tensor_retain(a) : lc_to_dtype(a, dtype);
  lc_tensor *out = lc_empty(x->ndim, x->sizes, LC_UN_IS_COMPARISON(op) ? LC_UINT8 : dtype,
                            x->storage->device);
  if (lc_numel(out)) backend_of(x)->unary(op, out, x, s0, s1);
  if (lc_dtype_is_float(out->dtype)) {
    lc_tensor *in[1] = {x};
    lc_node *node = lc_node_new(unary_name(op), unary_backward, 1, in);
    if (node) {
      node->i[0] = op;
      node->d[0] = s0;
      node->d[1] = s1;
      int saves = unary_saves(op);
      node->i[1] = saves;
      if (saves & 1) lc_node_save(node, x);
      if (saves & 2) lc_node_save(node, out);
      lc_attach(out, node);
    }
  }
  lc_tensor_release(x);
  return out;
}

/* ---- binary ---- */


static const char *binary_name(lc_binary_op op)
{
  static const char *names[LC_BIN_COUNT] = {
    [LC_BIN_ADD] = "add", [LC_BIN_SUB] = "sub", [LC_BIN_MUL] = "mul", [LC_BIN_DIV] = "div",
    [LC_BIN_POW] = "pow", [LC_BIN_MAX] = "maximum", [LC_BIN_MIN] = "minimum",
    [LC_BIN_SIGMOID_BACKWARD] = "sigmoid_backward", [LC_BIN_TANH_BACKWARD] = "tanh_backward",
    [LC_BIN_RELU_BACKWARD] = "relu_backward",
    [LC_BIN_GT] = "gt", [LC_BIN_LT] = "lt", [LC_BIN_GE] = "ge", [LC_BIN_LE] = "le",
    [LC_BIN_EQ] = "eq", [LC_BIN_NE] = "ne",
  };
  return names[op];
}

static void binary_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  lc_binary_op op = (lc_binary_op)n->i[0];
  lc_tensor *a = n->n_saved > 0 ? lc_node_saved(n, 0) : NULL;
  lc_tensor *b = n->n_saved > 1 ? lc_node_saved(n, 1) : NULL;
  lc_tensor *y = n->n_saved > 2 ? lc_node_saved(n, 2) : NULL;
  bool need_a = lc_node_needs(n, 0), need_b = lc_node_needs(n, 1);
  switch (op) {
  case LC_BIN_ADD:
    if (need_a) gin[0] = lc_tensor_retain(g);
    if (need_b) gin[1] = lc_tensor_retain(g);
    break;
  case LC_BIN_SUB:
    if (need_a) gin[0] = lc_tensor_retain(g);
    if (need_b) gin[1] = mul_scalar(g, -1);
    break;
  case LC_BIN_MUL:
    if (need_a) gin[0] = lc_mul(g, b);
    if (need_b) gin[1] = lc_mul(g, a);
    break;
  case LC_BIN_DIV:
    if (need_a) gin[0] = lc_div(g, b);
    if (need_b) { /* -g * y / b */
      lc_tensor *q = lc_div(y, b);
      gin[1] = times(g, mul_scalar(q, -1));
      lc_tensor_release(q);
    }
    break;
  case LC_BIN_POW:
    if (need_a) { /* b * a^(b - 1) */
      lc_tensor *bm1 = lc_unary(LC_UN_ADD_SCALAR, b, -1, 0);
      lc_tensor *p = lc_binary(LC_BIN_POW, a, bm1);
      lc_tensor *f = lc_mul(p, b);
      gin[0] = times(g, f);
      lc_tensor_release(p);
      lc_tensor_release(bm1);
    }
    if (need_b) { /* y * log(a) */
      lc_tensor *la = lc_unary(LC_UN_LOG, a, 0, 0);
      gin[1] = times(g, lc_mul(y, la));
      lc_tensor_release(la);
    }
    break;
  case LC_BIN_MAX: case LC_BIN_MIN: { /* the winner takes the gradient */
    lc_tensor *wins = lc_binary(op == LC_BIN_MAX ? LC_BIN_GE : LC_BIN_LE, a, b);
    lc_tensor *mask = lc_to_dtype(wins, g->dtype);
    if (need_a) gin[0] = lc_mul(g, mask);
    if (need_b) gin[1] = times(g, lc_unary(LC_UN_RSUB_SCALAR, mask, 1, 0));
    lc_tensor_release(mask);
    lc_tensor_release(wins);
    break;
  }
  default:
    break;
  }
}

/* PyTorch's rule (torch.result_type): a 0-dim tensor does not widen a dimensioned one of the
 * same kind (float32 tensor + float64 scalar tensor is float32), but a float one makes an
 * integer tensor float, of the 0-dim tensor's own dtype (int64 tensor + float64 0-dim tensor
 * is float64: the API fuzzer found float32 here). A Lua number is a float32 0-dim tensor by
 * then, so x + 1.5 stays float32 as in PyTorch. Otherwise the wider dtype wins. */
static lc_dtype result_dtype(const lc_tensor *a, const lc_tensor *b)
{
  if ((a->ndim == 0) != (b->ndim == 0)) {
    const lc_tensor *dimmed = a->ndim ? a : b, *scalar = a->ndim ? b : a;
    if (lc_dtype_is_float(dimmed->dtype) || !lc_dtype_is_float(scalar->dtype)) return dimmed->dtype;
    return scalar->dtype;
  }
  return lc_promote(a->dtype, b->dtype);
}

lc_tensor *lc_binary(lc_binary_op op, lc_tensor *a, lc_tensor *b)
{
  const char *name = binary_name(op);
  lc_check_same_device(name, a, b);
  int64_t sizes[LC_MAX_DIMS];
  int nd = lc_broadcast_shape(name, a, b, sizes);
  lc_dtype dtype = result_dtype(a, b);
  if (op == LC_BIN_DIV && !lc_dtype_is_float(dtype)) dtype = LC_FLOAT32;
  if (dtype == LC_BFLOAT16) {
    bool answer_float32 = LC_BIN_IS_COMPARISON(op) ||
                          (op == LC_BIN_POW && lc_autocast_active()); /* autocast's float32 list */
    lc_tensor *wa = lc_widen_bf16(a), *wb = lc_widen_bf16(b);
    lc_tensor *out = lc_binary(op, wa, wb);
    lc_tensor_release(wa);
    lc_tensor_release(wb);
    return answer_float32 ? out : lc_narrow_to_bf16(out);
  }
  lc_tensor *ca = a->dtype == dtype ? lc_tensor_retain(a) : lc_to_dtype(a, dtype);
  lc_tensor *cb = b->dtype == dtype ? lc_tensor_retain(b) : lc_to_dtype(b, dtype);
  lc_tensor *out = lc_empty(nd, sizes, LC_BIN_IS_COMPARISON(op) ? LC_UINT8 : dtype,
                            a->storage->device);
  if (lc_numel(out)) {
    lc_tensor *ea = lc_expand_alias(ca, nd, sizes), *eb = lc_expand_alias(cb, nd, sizes);
    backend_of(out)->binary(op, out, ea, eb);
    lc_tensor_release(ea);
    lc_tensor_release(eb);
  }
  if (lc_dtype_is_float(out->dtype)) {
    lc_tensor *in[2] = {ca, cb};
    lc_node *node = lc_node_new(name, binary_backward, 2, in);
    if (node) {
      node->i[0] = op;
      if (op != LC_BIN_ADD && op != LC_BIN_SUB) {
        lc_node_save(node, ca);
        lc_node_save(node, cb);
        if (op == LC_BIN_DIV || op == LC_BIN_POW) lc_node_save(node, out);
      }
      lc_attach(out, node);
    }
  }
  lc_tensor_release(ca);
  lc_tensor_release(cb);
  return out;
}

lc_tensor *lc_add(lc_tensor *a, lc_tensor *b) { return lc_binary(LC_BIN_ADD, a, b); }
lc_tensor *lc_sub(lc_tensor *a, lc_tensor *b) { return lc_binary(LC_BIN_SUB, a, b); }
lc_tensor *lc_mul(lc_tensor *a, lc_tensor *b) { return lc_binary(LC_BIN_MUL, a, b); }
lc_tensor *lc_div(lc_tensor *a, lc_tensor *b) { return lc_binary(LC_BIN_DIV, a, b); }

/* ---- where ---- */

static void where_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  lc_tensor *cond = lc_node_saved(n, 0);
  lc_tensor *zero = lc_zeros(0, NULL, g->dtype, g->storage->device);
  if (lc_node_needs(n, 1)) gin[1] = lc_where(cond, g, zero);
  if (lc_node_needs(n, 2)) gin[2] = lc_where(cond, zero, g);
  lc_tensor_release(zero);
}

lc_tensor *lc_where(lc_tensor *cond, lc_tensor *a, lc_tensor *b)
{
  lc_check_same_device("where", cond, a);
  lc_check_same_device("where", a, b);
  int64_t sizes[LC_MAX_DIMS];
  lc_tensor shape_ab = {0}; /* a bare header holding the broadcast shape of a and b */
  shape_ab.ndim = lc_broadcast_shape("where", a, b, shape_ab.sizes);
  int nd = lc_broadcast_shape("where", cond, &shape_ab, sizes);
  lc_dtype dtype = lc_promote(a->dtype, b->dtype);
  if (dtype == LC_BFLOAT16) {
    lc_tensor *wa = lc_widen_bf16(a), *wb = lc_widen_bf16(b);
    lc_tensor *out = lc_where(cond, wa, wb);
    lc_tensor_release(wa);
    lc_tensor_release(wb);
    return lc_narrow_to_bf16(out);
  }
  lc_tensor *ca = a->dtype == dtype ? lc_tensor_retain(a) : lc_to_dtype(a, dtype);
  lc_tensor *cb = b->dtype == dtype ? lc_tensor_retain(b) : lc_to_dtype(b, dtype);
  lc_tensor *cc = cond->dtype == LC_UINT8 ? lc_tensor_retain(cond) : lc_unary(LC_UN_NE_SCALAR, cond, 0, 0);
  lc_tensor *out = lc_empty(nd, sizes, dtype, a->storage->device);
  if (lc_numel(out)) {
    lc_tensor *ec = lc_expand_alias(cc, nd, sizes), *ea = lc_expand_alias(ca, nd, sizes),
              *eb = lc_expand_alias(cb, nd, sizes);
    backend_of(out)->where(out, ec, ea, eb);
    lc_tensor_release(ec);
    lc_tensor_release(ea);
    lc_tensor_release(eb);
  }
  lc_tensor *in[3] = {NULL, ca, cb};
  lc_node *node = lc_node_new("where", where_backward, 3, in);
  if (node) {
    lc_node_save(node, cc);
    lc_attach(out, node);
  }
  lc_tensor_release(cc);
  lc_tensor_release(ca);
  lc_tensor_release(cb);
  return out;
}
