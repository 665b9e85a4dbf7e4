/* Compiled transform pipelines (see transform.h).
 *
 * apply keeps the geometry as a lazy "view" per axis: the source box a virtual image covers,
 * the crop box the filter may read, the window of the virtual image that is the current
 * image, and a flip. Crops move the window, flips toggle, a Resize turns the window into the
 * new box; nothing is computed until an op needs pixels (rotation, colour jitter, a second
 * Resize, the end), and then one lc_aug_resample does crop + resize + flips in one pass. At
 * the end the last resample writes its rows straight into the CHW float (ToTensor +
 * Normalize) or uint8 output. The results are those of running torchvision's ops one after
 * the other on uint8 tensors, except that rounding to uint8 happens once per resample
 * instead of after each op (crops and flips do not round, so this changes nothing there). */
#include "runtime/transform.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/philox.h"
#include "kernels/cpu/augment.h"
#include "runtime/errbuf.h"

struct lc_transform {
  int refs;
  int n;
  lc_transform_op *ops;
};

static const char *kind_name(lc_transform_kind k)
{
  static const char *names[] = {"Resize", "CenterCrop", "RandomResizedCrop",
                                "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation",
                                "ColorJitter", "ToTensor", "Normalize", "RandomCrop"};
  return k >= 0 && k < LC_TF_NUM_KINDS ? names[k] : "transform";
}

/* ---- building ---- */

static int check_range(const char *who, const char *what, const double *r, double lo, double hi,
                       char *err, size_t errlen)
{
  if (!(r[0] >= lo && r[0] <= r[1] && r[1] <= hi))
    return lc_fail(err, errlen, "%s: %s must be {lo, hi} with %g <= lo <= hi <= %g, got {%g, %g}",
                who, what, lo, hi, r[0], r[1]);
  return 0;
}

static int check_op(const lc_transform_op *op, int index, int after_tensor, char *err,
                    size_t errlen)
{
  const char *who = kind_name(op->kind);
  switch (op->kind) {
  case LC_TF_RESIZE:
  case LC_TF_CENTER_CROP:
  case LC_TF_RANDOM_CROP:
  case LC_TF_RANDOM_RESIZED_CROP:
    if (op->kind == LC_TF_RANDOM_CROP)
      for (int k = 0; k < 4; k++)
        if (op->pad[k] < 0 || op->pad[k] > 65536)
          return lc_fail(err, errlen, "RandomCrop: padding must be >= 0, got %d", op->pad[k]);
    if (op->size_h < 1 || op->size_w < 0 || (op->kind != LC_TF_RESIZE && op->size_w < 1) ||
        op->size_h > 65536 || op->size_w > 65536)
      return lc_fail(err, errlen, "%s: size must be positive, got (%d, %d)", who, op->size_h, op->size_w);
    if (op->kind == LC_TF_RANDOM_RESIZED_CROP) {
      if (!(op->scale[0] > 0 && op->scale[0] <= op->scale[1] && op->scale[1] <= 1))
        return lc_fail(err, errlen, "%s: scale must be {lo, hi} with 0 < lo <= hi <= 1, got {%g, %g}",
                    who, op->scale[0], op->scale[1]);
      if (!(op->ratio[0] > 0 && op->ratio[0] <= op->ratio[1] && isfinite(op->ratio[1])))
        return lc_fail(err, errlen, "%s: ratio must be {lo, hi} with 0 < lo <= hi, got {%g, %g}", who,
                    op->ratio[0], op->ratio[1]);
    }
    break;
  case LC_TF_HFLIP:
  case LC_TF_VFLIP:
    if (!(op->p >= 0 && op->p <= 1)) return lc_fail(err, errlen, "%s: p must be in [0, 1], got %g", who, op->p);
    break;
  case LC_TF_ROTATION:
    if (!(isfinite(op->degrees[0]) && isfinite(op->degrees[1]) && op->degrees[0] <= op->degrees[1]))
      return lc_fail(err, errlen, "%s: degrees must be {lo, hi} with lo <= hi, got {%g, %g}", who,
                  op->degrees[0], op->degrees[1]);
    break;
  case LC_TF_COLOR_JITTER:
    if (op->has_brightness && check_range(who, "brightness", op->brightness, 0, INFINITY, err, errlen)) return -1;
    if (op->has_contrast && check_range(who, "contrast", op->contrast, 0, INFINITY, err, errlen)) return -1;
    if (op->has_saturation && check_range(who, "saturation", op->saturation, 0, INFINITY, err, errlen)) return -1;
    if (op->has_hue && check_range(who, "hue", op->hue, -0.5, 0.5, err, errlen)) return -1;
    break;
  case LC_TF_TO_TENSOR:
    break;
  case LC_TF_NORMALIZE:
    if (!after_tensor)
      return lc_fail(err, errlen, "Normalize: works on float tensors; put ToTensor() before it "
                               "(transform %d)", index + 1);
    if (op->n < 1 || op->n > LC_TF_MAX_CHANNELS)
      return lc_fail(err, errlen, "Normalize: mean and std need 1 to %d values, got %d",
                  LC_TF_MAX_CHANNELS, op->n);
    for (int k = 0; k < op->n; k++)
      if (!(op->std[k] > 0) || !isfinite(op->std[k]) || !isfinite(op->mean[k]))
        return lc_fail(err, errlen, "Normalize: std must be positive and mean finite, got mean %g, "
                                 "std %g (channel %d)", op->mean[k], op->std[k], k + 1);
    break;
  default:
    return lc_fail(err, errlen, "transform %d: unknown kind %d", index + 1, (int)op->kind);
  }
  if (after_tensor && op->kind != LC_TF_NORMALIZE)
    return lc_fail(err, errlen, "%s: comes after ToTensor (transform %d); only Normalize may follow "
                             "ToTensor: put the image transforms before it", who, index + 1);
  return 0;
}

lc_transform *lc_transform_new(const lc_transform_op *ops, int n, char *err, size_t errlen)
{
  if (n < 0 || (n > 0 && !ops)) {
    lc_fail(err, errlen, "Compose: expected a list of transforms");
    return NULL;
  }
  int after_tensor = 0;
  for (int i = 0; i < n; i++) {
    if (ops[i].kind == LC_TF_TO_TENSOR && after_tensor) {
      lc_fail(err, errlen, "ToTensor: appears twice (transform %d)", i + 1);
      return NULL;
    }
    if (check_op(&ops[i], i, after_tensor, err, errlen)) return NULL;
    if (ops[i].kind == LC_TF_TO_TENSOR) after_tensor = 1;
  }
  lc_transform *t = calloc(1, sizeof *t);
  if (!t || !(t->ops = malloc(sizeof(lc_transform_op) * (size_t)(n > 0 ? n : 1)))) {
    free(t);
    lc_fail(err, errlen, "Compose: out of memory");
    return NULL;
  }
  if (n) memcpy(t->ops, ops, sizeof(lc_transform_op) * (size_t)n);
  t->n = n;
  t->refs = 1;
  return t;
}

void lc_transform_retain(lc_transform *t)
{
  if (t) __atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
}

void lc_transform_release(lc_transform *t)
{
  if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0) {
    free(t->ops);
    free(t);
  }
}

int lc_transform_count(const lc_transform *t) { return t->n; }
const lc_transform_op *lc_transform_op_at(const lc_transform *t, int i)
{
  return i >= 0 && i < t->n ? &t->ops[i] : NULL;
}

/* ---- shapes ---- */

/* torchvision's _compute_resized_output_size: an int size sets the smaller edge. */
static void resize_dims(const lc_transform_op *op, int h, int w, int *nh, int *nw)
{
  if (op->size_w > 0) {
    *nh = op->size_h;
    *nw = op->size_w;
    return;
  }
  int s = op->size_h;
  if (w <= h) {
    *nw = s;
    *nh = (int)((double)s * h / w);
  } else {
    *nh = s;
    *nw = (int)((double)s * w / h);
  }
  if (*nh < 1) *nh = 1;
  if (*nw < 1) *nw = 1;
}

int lc_transform_output_shape(const lc_transform *t, int c, int h, int w, int *oc, int *oh,
                              int *ow, int *is_float, char *err, size_t errlen)
{
  if (c < 1 || c > LC_TF_MAX_CHANNELS || h < 1 || w < 1)
    return lc_fail(err, errlen, "transform: expected an image of 1 to %d channels and positive size, "
                             "got %d x %d x %d", LC_TF_MAX_CHANNELS, c, h, w);
  int fl = 0;
  for (int i = 0; i < t->n; i++) {
    const lc_transform_op *op = &t->ops[i];
    switch (op->kind) {
    case LC_TF_RESIZE: resize_dims(op, h, w, &h, &w); break;
    case LC_TF_CENTER_CROP:
    case LC_TF_RANDOM_CROP:
    case LC_TF_RANDOM_RESIZED_CROP:
      h = op->size_h;
      w = op->size_w;
      break;
    case LC_TF_TO_TENSOR: fl = 1; break;
    case LC_TF_NORMALIZE:
      if (op->n != c && op->n != 1)
        return lc_fail(err, errlen, "Normalize: has %d means and stds but the image has %d channels",
                    op->n, c);
      break;
    default: break;
    }
  }
  *oc = c;
  *oh = h;
  *ow = w;
  *is_float = fl;
  return 0;
}

int lc_transform_decode_scale(const lc_transform *t, int orig_h, int orig_w)
{
  if (orig_h < 1 || orig_w < 1) return 1;
  double h = orig_h, w = orig_w, ry = 1, rx = 1; /* original pixels per current pixel, at least */
  for (int i = 0; i < t->n; i++) {
    const lc_transform_op *op = &t->ops[i];
    if (op->kind == LC_TF_RESIZE) {
      int nh, nw;
      resize_dims(op, (int)h, (int)w, &nh, &nw);
      ry *= h / nh;
      rx *= w / nw;
      h = nh;
      w = nw;
    } else if (op->kind == LC_TF_CENTER_CROP || op->kind == LC_TF_RANDOM_CROP) {
      h = op->size_h;
      w = op->size_w;
    } else if (op->kind == LC_TF_RANDOM_RESIZED_CROP) {
      double area = h * w;
      double wmin = floor(sqrt(area * op->scale[0] * op->ratio[0]));
      double hmin = floor(sqrt(area * op->scale[0] / op->ratio[1]));
      if (wmin > w) wmin = w;
      if (hmin > h) hmin = h;
      if (wmin < 1) wmin = 1;
      if (hmin < 1) hmin = 1;
      ry *= hmin / op->size_h;
      rx *= wmin / op->size_w;
      h = op->size_h;
      w = op->size_w;
    }
  }
  double r = ry < rx ? ry : rx;
  for (int d = 8; d > 1; d /= 2)
    if (r + 1e-9 >= d) return d;
  return 1;
}

/* ---- randomness: Philox keyed by (seed, stream) ---- */

typedef struct tf_rng {
  uint64_t key, base, k;
  lc_philox_block blk;
  int lane;
} tf_rng;

static void rng_init(tf_rng *r, uint64_t seed, uint64_t stream)
{
  /* block k of a stream is counter (stream << 16) + k; the stream's top bits go in the key */
  r->key = seed ^ 0x7472616e73666f72ull ^ ((stream >> 48) * 0x9E3779B97F4A7C15ull);
  r->base = stream << 16;
  r->k = 0;
  r->lane = 4;
}

static uint32_t rng_u32(tf_rng *r)
{
  if (r->lane == 4) {
    r->blk = lc_philox(r->key, r->base + r->k++);
    r->lane = 0;
  }
  return r->blk.v[r->lane++];
}

static double rng_uniform(tf_rng *r, double lo, double hi) /* [lo, hi) */
{
  uint64_t a = rng_u32(r), b = rng_u32(r);
  double u = (double)((a << 21) ^ (b >> 11)) * (1.0 / 9007199254740992.0);
  return lo + (hi - lo) * u;
}

static int rng_int(tf_rng *r, int n) /* [0, n) */
{
  int v = (int)(rng_uniform(r, 0, 1) * n);
  return v >= n ? n - 1 : v;
}

/* ---- the lazy view ---- */

typedef struct vaxis {
  double b0, bl;
  int vn, c0, c1, w0, n, flip;
} vaxis;

typedef struct state {
  const uint8_t *src; /* current pixels: HWC, sh x sw x c */
  uint8_t *owned;     /* src when it is ours */
  int sh, sw, c;
  vaxis y, x;
  int resized; /* a Resize is pending in the view */
} state;

static vaxis axis_identity(int n)
{
  vaxis a = {0, n, n, 0, n, 0, n, 0};
  return a;
}

static int axis_is_identity(const vaxis *a, int src_n)
{
  return a->b0 == 0 && a->bl == src_n && a->vn == src_n && a->c0 == 0 && a->c1 == src_n &&
         a->w0 == 0 && a->n == src_n && !a->flip;
}

static lc_aug_axis to_aug(const vaxis *a, int src_n)
{
  lc_aug_axis r = {src_n, a->b0, a->bl, a->vn, a->c0, a->c1, a->w0, a->n, a->flip};
  return r;
}

/* Computes the view into a new buffer: the view becomes the identity over it. */
static int materialize(state *s, char *err, size_t errlen)
{
  if (axis_is_identity(&s->y, s->sh) && axis_is_identity(&s->x, s->sw)) {
    s->resized = 0;
    return 0;
  }
  int nh = s->y.n, nw = s->x.n;
  uint8_t *buf = malloc((size_t)nh * nw * s->c);
  if (!buf) return lc_fail(err, errlen, "transform: out of memory for a %d x %d image", nh, nw);
  lc_aug_axis ay = to_aug(&s->y, s->sh), ax = to_aug(&s->x, s->sw);
  int rc = lc_aug_resample(s->src, s->sh, s->sw, s->c, &ay, &ax, buf, NULL);
  if (rc) {
    free(buf);
    return lc_fail(err, errlen, "transform: resampling failed (%s)", rc == LC_AUG_ENOMEM ? "out of memory" : "bad geometry");
  }
  free(s->owned);
  s->owned = buf;
  s->src = buf;
  s->sh = nh;
  s->sw = nw;
  s->y = axis_identity(nh);
  s->x = axis_identity(nw);
  s->resized = 0;
  return 0;
}

/* A writable copy of the current pixels (for in-place colour ops). */
static int make_writable(state *s, char *err, size_t errlen)
{
  if (materialize(s, err, errlen)) return -1;
  if (s->owned) return 0;
  size_t bytes = (size_t)s->sh * s->sw * s->c;
  uint8_t *buf = malloc(bytes);
  if (!buf) return lc_fail(err, errlen, "transform: out of memory");
  memcpy(buf, s->src, bytes);
  s->owned = buf;
  s->src = buf;
  return 0;
}

/* Crop [t, t + n) of the current image along an axis: composable when the new window lies in
 * the old one, or the old one is the whole virtual image (zeros beyond stay zeros). */
static int crop_composable(const vaxis *a, int t, int n)
{
  if (a->flip) t = a->n - t - n;
  int lo = a->w0 + t, hi = lo + n;
  return (lo >= a->w0 && hi <= a->w0 + a->n) || (a->w0 == 0 && a->n == a->vn);
}

static void crop_axis(vaxis *a, int t, int n)
{
  if (a->flip) t = a->n - t - n;
  a->w0 += t;
  a->n = n;
}

static int do_crop(state *s, int top, int left, int h, int w, char *err, size_t errlen)
{
  if (!crop_composable(&s->y, top, h) || !crop_composable(&s->x, left, w))
    if (materialize(s, err, errlen)) return -1;
  crop_axis(&s->y, top, h);
  crop_axis(&s->x, left, w);
  return 0;
}

static void resize_axis(vaxis *a, int n)
{
  double px = a->bl / a->vn; /* source pixels per virtual pixel */
  double b0 = a->b0 + a->w0 * px, bl = a->n * px;
  int c0 = (int)floor(b0 + 1e-9), c1 = (int)ceil(b0 + bl - 1e-9);
  if (c0 < a->c0) c0 = a->c0;
  if (c1 > a->c1) c1 = a->c1;
  if (c1 <= c0) c1 = c0 + 1;
  a->b0 = b0;
  a->bl = bl;
  a->c0 = c0;
  a->c1 = c1;
  a->vn = n;
  a->w0 = 0;
  a->n = n;
}

static int window_inside(const vaxis *a) { return a->w0 >= 0 && a->w0 + a->n <= a->vn; }

static int do_resize(state *s, int h, int w, char *err, size_t errlen)
{
  if (h == s->y.n && w == s->x.n) return 0; /* torchvision returns the image unchanged */
  if (s->resized || !window_inside(&s->y) || !window_inside(&s->x))
    if (materialize(s, err, errlen)) return -1;
  resize_axis(&s->y, h);
  resize_axis(&s->x, w);
  s->resized = 1;
  return 0;
}

/* torchvision's RandomResizedCrop.get_params on a height x width image. */
static void rrc_params(tf_rng *r, const lc_transform_op *op, int height, int width, int *ti,
                       int *tj, int *th, int *tw)
{
  double area = (double)height * width;
  double lr0 = log(op->ratio[0]), lr1 = log(op->ratio[1]);
  for (int attempt = 0; attempt < 10; attempt++) {
    double target = area * rng_uniform(r, op->scale[0], op->scale[1]);
    double aspect = exp(rng_uniform(r, lr0, lr1));
    int w = (int)nearbyint(sqrt(target * aspect)); /* Python's round: half to even */
    int h = (int)nearbyint(sqrt(target / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      *ti = rng_int(r, height - h + 1);
      *tj = rng_int(r, width - w + 1);
      *th = h;
      *tw = w;
      return;
    }
  }
  double in_ratio = (double)width / height;
  int w, h;
  if (in_ratio < op->ratio[0]) {
    w = width;
    h = (int)nearbyint(w / op->ratio[0]);
  } else if (in_ratio > op->ratio[1]) {
    h = height;
    w = (int)nearbyint(h * op->ratio[1]);
  } else {
    w = width;
    h = height;
  }
  if (h < 1) h = 1;
  if (w < 1) w = 1;
  *ti = (height - h) / 2;
  *tj = (width - w) / 2;
  *th = h;
  *tw = w;
}

/* torchvision's center_crop: pads with zeros when the crop is larger than the image. */
static int center_offset(int size, int crop)
{
  if (crop > size) return -((crop - size) / 2);
  return (int)nearbyint((size - crop) / 2.0);
}

typedef struct emit_ctx {
  void *out;
  int is_float, w, c;
  int64_t plane;
  float scale[LC_TF_MAX_CHANNELS], shift[LC_TF_MAX_CHANNELS];
} emit_ctx;

static void emit_row(void *ctx, int y, const uint8_t *row)
{
  emit_ctx *e = ctx;
  if (e->is_float) lc_aug_row_to_chw_f32(row, e->w, e->c, e->scale, e->shift, e->plane, y, e->out);
  else lc_aug_row_to_chw_u8(row, e->w, e->c, e->plane, y, e->out);
}

static void jitter(state *s, const lc_transform_op *op, tf_rng *r, lc_transform_trace *tr)
{
  int order[4] = {0, 1, 2, 3};
  for (int i = 3; i > 0; i--) { /* a random permutation, as torch.randperm(4) */
    int j = rng_int(r, i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  double b = NAN, c = NAN, sa = NAN, hu = NAN;
  if (op->has_brightness) b = rng_uniform(r, op->brightness[0], op->brightness[1]);
  if (op->has_contrast) c = rng_uniform(r, op->contrast[0], op->contrast[1]);
  if (op->has_saturation) sa = rng_uniform(r, op->saturation[0], op->saturation[1]);
  if (op->has_hue) hu = rng_uniform(r, op->hue[0], op->hue[1]);
  uint8_t *img = s->owned;
  for (int i = 0; i < 4; i++) {
    switch (order[i]) {
    case 0: if (op->has_brightness) lc_aug_brightness(img, s->sh, s->sw, s->c, b); break;
    case 1: if (op->has_contrast) lc_aug_contrast(img, s->sh, s->sw, s->c, c); break;
    case 2: if (op->has_saturation) lc_aug_saturation(img, s->sh, s->sw, s->c, sa); break;
    default: if (op->has_hue) lc_aug_hue(img, s->sh, s->sw, s->c, hu); break;
    }
  }
  if (tr) {
    tr->brightness = b;
    tr->contrast = c;
    tr->saturation = sa;
    tr->hue = hu;
    memcpy(tr->jitter_order, order, sizeof order);
  }
}

/* The JPEG scale of a decode: the d in {1, 2, 4, 8} with ceil(orig / d) == decoded, else 0. */
static int decoded_denominator(int orig_h, int orig_w, int h, int w)
{
  for (int d = 1; d <= 8; d *= 2)
    if ((orig_h + d - 1) / d == h && (orig_w + d - 1) / d == w) return d;
  return 0;
}

int lc_transform_apply_traced(const lc_transform *t, const lc_image *in, int orig_h, int orig_w,
                              uint64_t seed, uint64_t stream, void *out, lc_transform_trace *trace,
                              char *err, size_t errlen)
{
  if (!t || !in || !in->data || !out) return lc_fail(err, errlen, "transform: missing argument");
  if (in->c < 1 || in->c > LC_TF_MAX_CHANNELS || in->h < 1 || in->w < 1)
    return lc_fail(err, errlen, "transform: expected an image of 1 to %d channels, got %d x %d x %d",
                LC_TF_MAX_CHANNELS, in->h, in->w, in->c);
  if (orig_h < 1 || orig_w < 1) {
    orig_h = in->h;
    orig_w = in->w;
  }
  if (trace) {
    memset(trace, 0, sizeof *trace);
    trace->crop_top = trace->crop_left = trace->crop_h = trace->crop_w = -1;
    trace->brightness = trace->contrast = trace->saturation = trace->hue = NAN;
  }
  int oc, oh, ow, is_float;
  if (lc_transform_output_shape(t, in->c, orig_h, orig_w, &oc, &oh, &ow, &is_float, err, errlen))
    return -1;
  state s = {in->data, NULL, in->h, in->w, in->c, axis_identity(in->h), axis_identity(in->w), 0};
  /* the original image as a virtual image over the decoded one */
  int d = decoded_denominator(orig_h, orig_w, in->h, in->w);
  s.y.bl = d ? (double)orig_h / d : in->h;
  s.x.bl = d ? (double)orig_w / d : in->w;
  s.y.vn = s.y.n = orig_h;
  s.x.vn = s.x.n = orig_w;
  tf_rng r;
  rng_init(&r, seed, stream);
  float scale[LC_TF_MAX_CHANNELS], shift[LC_TF_MAX_CHANNELS];
  for (int k = 0; k < LC_TF_MAX_CHANNELS; k++) {
    scale[k] = 1.0f / 255.0f;
    shift[k] = 0;
  }
  int rc = 0;
  for (int i = 0; i < t->n && rc == 0; i++) {
    const lc_transform_op *op = &t->ops[i];
    int h = s.y.n, w = s.x.n;
    switch (op->kind) {
    case LC_TF_RESIZE: {
      int nh, nw;
      resize_dims(op, h, w, &nh, &nw);
      rc = do_resize(&s, nh, nw, err, errlen);
      break;
    }
    case LC_TF_CENTER_CROP:
      rc = do_crop(&s, center_offset(h, op->size_h), center_offset(w, op->size_w), op->size_h,
                   op->size_w, err, errlen);
      break;
    case LC_TF_RANDOM_RESIZED_CROP: {
      int ti, tj, th, tw;
      rrc_params(&r, op, h, w, &ti, &tj, &th, &tw);
      if (trace) {
        trace->crop_top = ti;
        trace->crop_left = tj;
        trace->crop_h = th;
        trace->crop_w = tw;
      }
      rc = do_crop(&s, ti, tj, th, tw, err, errlen);
      if (!rc) rc = do_resize(&s, op->size_h, op->size_w, err, errlen);
      break;
    }
    case LC_TF_RANDOM_CROP: {
      /* torchvision: pad (left, top, right, bottom), then pad_if_needed pads both sides of a
       * short dimension by the shortfall, then a uniform position (none drawn when the
       * padded image is exactly the crop) */
      int pl = op->pad[0], pt = op->pad[1], ph = h + op->pad[1] + op->pad[3],
          pw = w + op->pad[0] + op->pad[2];
      if (op->pad_if_needed && ph < op->size_h) {
        pt += op->size_h - ph;
        ph += 2 * (op->size_h - ph);
      }
      if (op->pad_if_needed && pw < op->size_w) {
        pl += op->size_w - pw;
        pw += 2 * (op->size_w - pw);
      }
      if (ph < op->size_h || pw < op->size_w) {
        rc = lc_fail(err, errlen, "RandomCrop: the crop (%d, %d) is larger than the (padded) image "
                               "(%d, %d); pass pad_if_needed = true or a padding", op->size_h,
                  op->size_w, ph, pw);
        break;
      }
      int ti = 0, tj = 0;
      if (!(ph == op->size_h && pw == op->size_w)) {
        ti = rng_int(&r, ph - op->size_h + 1);
        tj = rng_int(&r, pw - op->size_w + 1);
      }
      if (trace) {
        trace->crop_top = ti - pt;
        trace->crop_left = tj - pl;
        trace->crop_h = op->size_h;
        trace->crop_w = op->size_w;
      }
      rc = do_crop(&s, ti - pt, tj - pl, op->size_h, op->size_w, err, errlen);
      break;
    }
    case LC_TF_HFLIP:
    case LC_TF_VFLIP: {
      int flip = rng_uniform(&r, 0, 1) < op->p;
      if (flip) {
        vaxis *a = op->kind == LC_TF_HFLIP ? &s.x : &s.y;
        a->flip = !a->flip;
      }
      if (trace) {
        if (op->kind == LC_TF_HFLIP) trace->hflip ^= flip;
        else trace->vflip ^= flip;
      }
      break;
    }
    case LC_TF_ROTATION: {
      double angle = rng_uniform(&r, op->degrees[0], op->degrees[1]);
      if (trace) trace->angle = angle;
      rc = materialize(&s, err, errlen);
      if (rc) break;
      uint8_t *buf = malloc((size_t)s.sh * s.sw * s.c);
      if (!buf) {
        rc = lc_fail(err, errlen, "RandomRotation: out of memory");
        break;
      }
      lc_aug_rotate(s.src, s.sh, s.sw, s.c, angle, op->fill, buf);
      free(s.owned);
      s.owned = buf;
      s.src = buf;
      break;
    }
    case LC_TF_COLOR_JITTER:
      rc = make_writable(&s, err, errlen);
      if (!rc) jitter(&s, op, &r, trace);
      break;
    case LC_TF_TO_TENSOR:
      break;
    case LC_TF_NORMALIZE:
      for (int k = 0; k < s.c; k++) {
        float m = op->mean[op->n == 1 ? 0 : k], sd = op->std[op->n == 1 ? 0 : k];
        scale[k] = scale[k] / sd;
        shift[k] = (shift[k] - m) / sd;
      }
      break;
    default:
      rc = lc_fail(err, errlen, "transform: unknown op");
    }
  }
  if (rc == 0) {
    if (s.y.n != oh || s.x.n != ow) {
      rc = lc_fail(err, errlen, "transform: internal error: output %d x %d, expected %d x %d", s.y.n,
                s.x.n, oh, ow);
    } else {
      emit_ctx e = {out, is_float, ow, s.c, (int64_t)oh * ow, {0}, {0}};
      memcpy(e.scale, scale, sizeof scale);
      memcpy(e.shift, shift, sizeof shift);
      if (axis_is_identity(&s.y, s.sh) && axis_is_identity(&s.x, s.sw)) {
        for (int y = 0; y < oh; y++) emit_row(&e, y, s.src + (size_t)y * ow * s.c);
      } else {
        lc_aug_axis ay = to_aug(&s.y, s.sh), ax = to_aug(&s.x, s.sw);
        lc_aug_emit em = {emit_row, &e};
        int k = lc_aug_resample(s.src, s.sh, s.sw, s.c, &ay, &ax, NULL, &em);
        if (k) rc = lc_fail(err, errlen, "transform: resampling failed (%s)", k == LC_AUG_ENOMEM ? "out of memory" : "bad geometry");
      }
    }
  }
  free(s.owned);
  return rc;
}

int lc_transform_apply(const lc_transform *t, const lc_image *in, int orig_h, int orig_w,
                       uint64_t seed, uint64_t stream, void *out, char *err, size_t errlen)
{
  return lc_transform_apply_traced(t, in, orig_h, orig_w, seed, stream, out, NULL, err, errlen);
}
