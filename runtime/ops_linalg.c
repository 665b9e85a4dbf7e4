/* Matrix products: one primitive for 2-D and batched 3-D products, and matmul's
 * PyTorch rules (vectors, batch broadcasting) built from differentiable views. */
#include <string.h>

#include "runtime/ops.h"

/* An operand BLAS can read in place: one dim of each matrix has unit stride and the other
 * a stride of at least the matrix's extent along the first (BLAS's leading dimension).
 * Size-1 dims never step, so their strides are made canonical first: a column picked out
 * of a wider tensor qualifies. Stride-0 rows (expand) or overlapping strides do not, and
 * are copied. Batch strides may be anything, 0 included. */
static lc_tensor *blas_ready(lc_tensor *t, int r)
{
  int64_t strides[LC_MAX_DIMS];
  memcpy(strides, t->strides, sizeof strides);
  int64_t rows = t->sizes[r], cols = t->sizes[r + 1];
  if (cols == 1) strides[r + 1] = 1;
  if (rows == 1) strides[r] = strides[r + 1] == 1 ? (cols > 1 ? cols : 1) : 1;
  bool plain = strides[r + 1] == 1 && strides[r] >= (cols > 1 ? cols : 1);
  bool transposed = strides[r] == 1 && strides[r + 1] >= (rows > 1 ? rows : 1);
  if (plain || transposed) return lc_alias(t, t->ndim, t->sizes, strides, t->offset);
  return lc_contiguous_copy(t);
}

static lc_tensor *mm_primitive(lc_tensor *a, lc_tensor *b);

/* A matrix stored column by column, as a transposed view of a contiguous one is: nn.Linear's
 * weight enters its product as w:t(). */
static bool column_major(const lc_tensor *t, int r)
{
  return t->sizes[r] > 1 && t->sizes[r + 1] > 1 && t->strides[r] == 1 && t->strides[r + 1] != 1;
}

/* x y, stored column-major as (y^T x^T)^T when the gradient should have its input's layout:
 * then the transpose that input came through hands its leaf a contiguous gradient, which the
 * leaf keeps instead of copying it transposed (AlexNet's 26M-weight layer, every step). */
static lc_tensor *product(lc_tensor *x, lc_tensor *y, int r, bool as_column_major)
{
  if (!as_column_major) return mm_primitive(x, y);
  lc_tensor *xt = lc_transpose(x, r, r + 1), *yt = lc_transpose(y, r, r + 1);
  lc_tensor *p = mm_primitive(yt, xt);
  lc_tensor *out = lc_transpose(p, r, r + 1);
  lc_tensor_release(p);
  lc_tensor_release(yt);
  lc_tensor_release(xt);
  return out;
}

static void mm_backward(lc_node *n, lc_tensor *g, lc_tensor **gin)
{
  lc_tensor *a = lc_node_saved(n, 0), *b = lc_node_saved(n, 1);
  int r = a->ndim - 2;
  if (lc_node_needs(n, 0)) {
    lc_tensor *bt = lc_transpose(b, r, r + 1);
    gin[0] = product(g, bt, r, column_major(a, r));
    lc_tensor_release(bt);
  }
  if (lc_node_needs(n, 1)) {
    lc_tensor *at = lc_transpose(a, r, r + 1);
    gin[1] = product(at, g, r, column_major(b, r));
    lc_tensor_release(at);
  }
}

/* (m, k) x (k, n) or (B, m, k) x (B, k, n) */
static lc_tensor *mm_primitive(lc_tensor *a, lc_tensor *b)
{
  int r = a->ndim - 2;
  int64_t sizes[3];
  if (r) sizes[0] = a->sizes[0];
  sizes[r] = a->sizes[r];
  sizes[r + 1] = b->sizes[r + 1];
  lc_tensor *out = lc_empty(a->ndim, sizes, a->dtype, a->storage->device);
  if (lc_numel(out)) {
    if (a->sizes[r + 1] == 0) {
      lc_fill_(out, 0);
    } else {
      lc_tensor *ca = blas_ready(a, r), *cb = blas_ready(b, r);
      lc_backend_for(out->storage->device)->matmul(out, ca, cb);
      lc_tensor_release(ca);
      lc_tensor_release(cb);
    }
  }
  lc_tensor *in[2] = {a, b};
  lc_node *node = lc_node_new("MatMul", mm_backward, 2, in);
  if (node) {
    lc_node_save(node, a);
    lc_node_save(node, b);
    lc_attach(out, node);
  }
  return out;
}

static void check_operands(const lc_tensor *a, const lc_tensor *b)
{
  lc_check_same_device("matmul", a, b);
  if (a->ndim == 0 || b->ndim == 0)
    lc_error("matmul: both arguments need at least 1 dim, got shapes %s and %s",
             lc_shape_str(a), lc_shape_str(b));
  if (!lc_dtype_is_float(a->dtype) || !lc_dtype_is_float(b->dtype))
    lc_error("matmul: float tensors were expected, got %s and %s", lc_dtype_name(a->dtype),
             lc_dtype_name(b->dtype));
  int64_t ka = a->sizes[a->ndim - 1], kb = b->sizes[b->ndim == 1 ? 0 : b->ndim - 2];
  if (ka != kb)
    lc_error("matmul: sizes %s and %s do not align (%lld vs %lld)", lc_shape_str(a),
             lc_shape_str(b), (long long)ka, (long long)kb);
  /* batch dims (all but the last two; vectors have none) must broadcast */
  int ba = a->ndim > 2 ? a->ndim - 2 : 0, bb = b->ndim > 2 ? b->ndim - 2 : 0;
  for (int i = 1; i <= ba && i <= bb; i++) {
    int64_t sa = a->sizes[ba - i], sb = b->sizes[bb - i];
    if (sa != sb && sa != 1 && sb != 1)
      lc_error("matmul: batch dims of %s and %s cannot be broadcast", lc_shape_str(a), lc_shape_str(b));
  }
}

lc_tensor *lc_matmul(lc_tensor *a, lc_tensor *b)
{
  if (lc_autocast_active()) { /* autocast: runs narrow */
    lc_autocast_suspend();
    lc_tensor *na = lc_autocast_narrow(a), *nb = lc_autocast_narrow(b);
    lc_tensor *out = lc_matmul(na, nb);
    lc_autocast_resume();
    lc_tensor_release(na);
    lc_tensor_release(nb);
    return out;
  }
  check_operands(a, b);
  lc_dtype dtype = lc_promote(a->dtype, b->dtype);
  if (dtype == LC_BFLOAT16) { /* products accumulate in float32 and round once */
    lc_tensor *wa = lc_widen_bf16(a), *wb = lc_widen_bf16(b);
    lc_tensor *out = lc_matmul(wa, wb);
    lc_tensor_release(wa);
    lc_tensor_release(wb);
    return lc_narrow_to_bf16(out);
  }
  lc_tensor *ca = a->dtype == dtype ? lc_tensor_retain(a) : lc_to_dtype(a, dtype);
  lc_tensor *cb = b->dtype == dtype ? lc_tensor_retain(b) : lc_to_dtype(b, dtype);
  lc_tensor *a2 = ca->ndim == 1 ? lc_unsqueeze(ca, 0) : lc_tensor_retain(ca);
  lc_tensor *b2 = cb->ndim == 1 ? lc_unsqueeze(cb, 1) : lc_tensor_retain(cb);
  lc_tensor *out;
  if (a2->ndim == 2 && b2->ndim == 2) {
    out = mm_primitive(a2, b2);
  } else {
    /* broadcast the batch dims, fold them into one, multiply, unfold */
    int ba = a2->ndim - 2, bb = b2->ndim - 2, nb = ba > bb ? ba : bb;
    int64_t batch[LC_MAX_DIMS], ea[LC_MAX_DIMS], eb[LC_MAX_DIMS];
    int64_t total = 1;
    for (int i = 0; i < nb; i++) {
      int da = ba - nb + i, db = bb - nb + i;
      int64_t sa = da >= 0 ? a2->sizes[da] : 1, sb = db >= 0 ? b2->sizes[db] : 1;
      if (sa != sb && sa != 1 && sb != 1)
        lc_error("matmul: batch dims of %s and %s cannot be broadcast", lc_shape_str(a), lc_shape_str(b));
      batch[i] = sa == 1 ? sb : sa;
      total *= batch[i];
    }
    memcpy(ea, batch, nb * sizeof *ea);
    memcpy(eb, batch, nb * sizeof *eb);
    ea[nb] = a2->sizes[ba]; ea[nb + 1] = a2->sizes[ba + 1];
    eb[nb] = b2->sizes[bb]; eb[nb + 1] = b2->sizes[bb + 1];
    lc_tensor *xa = lc_expand(a2, nb + 2, ea), *xb = lc_expand(b2, nb + 2, eb);
    int64_t fa[3] = {total, ea[nb], ea[nb + 1]}, fb[3] = {total, eb[nb], eb[nb + 1]};
    lc_tensor *ra = lc_reshape(xa, 3, fa), *rb = lc_reshape(xb, 3, fb);
    lc_tensor *prod = mm_primitive(ra, rb);
    int64_t osizes[LC_MAX_DIMS];
    memcpy(osizes, batch, nb * sizeof *osizes);
    osizes[nb] = ea[nb];
    osizes[nb + 1] = eb[nb + 1];
    out = lc_reshape(prod, nb + 2, osizes);
    lc_tensor *tmp[] = {xa, xb, ra, rb, prod};
    for (int k = 0; k < 5; k++) lc_tensor_release(tmp[k]);
  }
  /* drop the dims added for vectors */
  if (cb->ndim == 1) {
    lc_tensor *s = lc_squeeze(out, -1);
    lc_tensor_release(out);
    out = s;
  }
  if (ca->ndim == 1) {
    lc_tensor *s = lc_squeeze(out, out->ndim - (cb->ndim == 1 ? 1 : 2));
    lc_tensor_release(out);
    out = s;
  }
  lc_tensor_release(a2);
  lc_tensor_release(b2);
  lc_tensor_release(ca);
  lc_tensor_release(cb);
  return out;
}
