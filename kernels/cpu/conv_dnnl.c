/* float32 2-D convolution through oneDNN (see conv_dnnl.h). */
#include "kernels/cpu/conv_dnnl.h"

#ifndef LUACNN_WITH_DNNL

int lc_conv2d_dnnl_available(void) { return 0; }
const char *lc_conv2d_dnnl_version(void) { return "no oneDNN in this build"; }
int lc_conv2d_dnnl_prepare(int dir, const lc_conv2d_shape *s, int with_bias)
{
  (void)dir, (void)s, (void)with_bias;
  return LC_CONV_DNNL_UNAVAILABLE;
}
int lc_conv2d_dnnl_forward_f32(const lc_conv2d_shape *s, const float *x, const float *w,
                               const float *bias, float *y)
{
  (void)s, (void)x, (void)w, (void)bias, (void)y;
  return LC_CONV_DNNL_UNAVAILABLE;
}
int lc_conv2d_dnnl_backward_data_f32(const lc_conv2d_shape *s, const float *dy, const float *w,
                                     float *dx)
{
  (void)s, (void)dy, (void)w, (void)dx;
  return LC_CONV_DNNL_UNAVAILABLE;
}
int lc_conv2d_dnnl_backward_weight_f32(const lc_conv2d_shape *s, const float *x, const float *dy,
                                       float *dw, float *dbias)
{
  (void)s, (void)x, (void)dy, (void)dw, (void)dbias;
  return LC_CONV_DNNL_UNAVAILABLE;
}
void lc_conv2d_dnnl_release(void) {}

#else

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { FWD, BWD_DATA, BWD_WEIGHT };
enum { MAX_ARGS = 3 };

/* One tensor argument that oneDNN may want in another layout than NCHW. */
typedef struct plan_arg {
  int arg;                    /* DNNL_ARG_SRC, ... */
  int is_output;
  dnnl_memory_t user;         /* the caller's NCHW array */
  dnnl_memory_t inner;        /* what the convolution reads or writes (== user if no reorder) */
  dnnl_primitive_t reorder;   /* user -> inner (inputs) or inner -> user (outputs); NULL if none */
  size_t offset;              /* of inner in the shared buffer, when reordered */
} plan_arg;

typedef struct plan {
  int dir, with_bias, threads;
  lc_conv2d_shape s;
  int status;                 /* 0 ready, or an LC_CONV_DNNL_* code (remembered failures) */
  dnnl_primitive_t conv;
  plan_arg args[MAX_ARGS];
  int nargs;
  dnnl_memory_t bias;         /* bias (forward) or diff_bias (backward_weight), plain */
  dnnl_memory_t scratchpad;
  size_t scratchpad_offset;
  size_t buffer_bytes;        /* reorder temporaries + scratchpad */
  struct plan *next;
} plan;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine;
static dnnl_stream_t stream;
static int engine_state; /* 0 untried, 1 ready, -1 failed */
static plan *plans;
static void *buffer;
static size_t buffer_capacity;

static int init_engine(void)
{
  if (engine_state == 0) {
    engine_state = -1;
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success) {
      if (dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) == dnnl_success)
        engine_state = 1;
      else
        dnnl_engine_destroy(engine);
    }
  }
  return engine_state == 1;
}

int lc_conv2d_dnnl_available(void)
{
  pthread_mutex_lock(&lock);
  int ok = init_engine();
  pthread_mutex_unlock(&lock);
  return ok;
}

const char *lc_conv2d_dnnl_version(void)
{
  static char text[96];
  const dnnl_version_t *v = dnnl_version();
  const char *isa = "?";
  switch ((int)dnnl_get_effective_cpu_isa()) {
  case dnnl_cpu_isa_sse41: isa = "sse41"; break;
  case dnnl_cpu_isa_avx: isa = "avx"; break;
  case dnnl_cpu_isa_avx2: isa = "avx2"; break;
  case dnnl_cpu_isa_avx2_vnni: isa = "avx2_vnni"; break;
  case dnnl_cpu_isa_avx512_core: isa = "avx512_core"; break;
  case dnnl_cpu_isa_avx512_core_vnni: isa = "avx512_core_vnni"; break;
  case dnnl_cpu_isa_avx512_core_bf16: isa = "avx512_core_bf16"; break;
  case dnnl_cpu_isa_avx512_core_amx: isa = "avx512_core_amx"; break;
  default: break;
  }
  snprintf(text, sizeof text, "oneDNN %d.%d.%d (%s)", v->major, v->minor, v->patch, isa);
  return text;
}

static int same_shape(const lc_conv2d_shape *a, const lc_conv2d_shape *b)
{
  return a->n == b->n && a->c_in == b->c_in && a->h == b->h && a->w == b->w &&
         a->c_out == b->c_out && a->kh == b->kh && a->kw == b->kw &&
         a->stride_h == b->stride_h && a->stride_w == b->stride_w && a->pad_h == b->pad_h &&
         a->pad_w == b->pad_w && a->dil_h == b->dil_h && a->dil_w == b->dil_w &&
         a->groups == b->groups;
}

static size_t align_up(size_t n) { return (n + 63) & ~(size_t)63; }

static void plain_md(dnnl_memory_desc_t *md, int64_t a, int64_t b, int64_t c, int64_t d)
{
  dnnl_dims_t dims = {a, b, c, d};
  dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_nchw);
}

static void weights_md(dnnl_memory_desc_t *md, const lc_conv2d_shape *s, int any)
{
  int64_t g = s->groups;
  if (g == 1) {
    dnnl_dims_t dims = {s->c_out, s->c_in, s->kh, s->kw};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, any ? dnnl_format_tag_any : dnnl_oihw);
  } else {
    dnnl_dims_t dims = {g, s->c_out / g, s->c_in / g, s->kh, s->kw};
    dnnl_memory_desc_init_by_tag(md, 5, dims, dnnl_f32, any ? dnnl_format_tag_any : dnnl_goihw);
  }
}

static void any_md(dnnl_memory_desc_t *md, int64_t a, int64_t b, int64_t c, int64_t d)
{
  dnnl_dims_t dims = {a, b, c, d};
  dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_format_tag_any);
}

/* Geometry in oneDNN's terms: dilation counts the gaps (PyTorch's dilation - 1), and the right
 * padding is what makes the output exactly out_h x out_w (PyTorch floors, so it may be less
 * than the left padding, or negative: oneDNN 2.6 accepts that, and the tests check it, e.g.
 * AlexNet's 11x11 stride-4 layer on 224, whose last two input rows are never read). */
static int geometry(const lc_conv2d_shape *s, dnnl_dims_t strides, dnnl_dims_t dil,
                    dnnl_dims_t pad_l, dnnl_dims_t pad_r)
{
  strides[0] = s->stride_h, strides[1] = s->stride_w;
  dil[0] = s->dil_h - 1, dil[1] = s->dil_w - 1;
  pad_l[0] = s->pad_h, pad_l[1] = s->pad_w;
  pad_r[0] = (s->out_h - 1) * s->stride_h + (s->kh - 1) * s->dil_h + 1 - s->h - s->pad_h;
  pad_r[1] = (s->out_w - 1) * s->stride_w + (s->kw - 1) * s->dil_w + 1 - s->w - s->pad_w;
  return 1;
}

/* Adds an argument whose caller layout is `user` and whose primitive layout is `want`. */
static int add_arg(plan *p, int arg, int is_output, const dnnl_memory_desc_t *user,
                   const dnnl_memory_desc_t *want)
{
  plan_arg *a = &p->args[p->nargs++];
  a->arg = arg;
  a->is_output = is_output;
  if (dnnl_memory_create(&a->user, user, engine, DNNL_MEMORY_NONE) != dnnl_success) return 0;
  if (dnnl_memory_desc_equal(user, want)) {
    a->inner = a->user;
    return 1;
  }
  if (dnnl_memory_create(&a->inner, want, engine, DNNL_MEMORY_NONE) != dnnl_success) return 0;
  dnnl_primitive_desc_t rpd;
  if (dnnl_reorder_primitive_desc_create(&rpd, is_output ? want : user, engine,
                                         is_output ? user : want, engine, NULL) != dnnl_success)
    return 0;
  dnnl_status_t st = dnnl_primitive_create(&a->reorder, rpd);
  dnnl_primitive_desc_destroy(rpd);
  if (st != dnnl_success) return 0;
  a->offset = p->buffer_bytes;
  p->buffer_bytes += align_up(dnnl_memory_desc_get_size(want));
  return 1;
}

static const dnnl_memory_desc_t *query(const_dnnl_primitive_desc_t pd, dnnl_query_t what, int i)
{
  return dnnl_primitive_desc_query_md(pd, what, i);
}

static dnnl_primitive_desc_t forward_pd(const lc_conv2d_shape *s, int with_bias,
                                        const_dnnl_primitive_attr_t attr)
{
  dnnl_memory_desc_t src, wei, bias, dst;
  dnnl_dims_t st, dil, pl, pr;
  geometry(s, st, dil, pl, pr);
  any_md(&src, s->n, s->c_in, s->h, s->w);
  weights_md(&wei, s, 1);
  any_md(&dst, s->n, s->c_out, s->out_h, s->out_w);
  dnnl_dims_t bdims = {s->c_out};
  dnnl_memory_desc_init_by_tag(&bias, 1, bdims, dnnl_f32, dnnl_x);
  dnnl_convolution_desc_t cd;
  if (dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_training,
                                                 dnnl_convolution_direct, &src, &wei,
                                                 with_bias ? &bias : NULL, &dst, st, dil, pl,
                                                 pr) != dnnl_success)
    return NULL;
  dnnl_primitive_desc_t pd = NULL;
  if (dnnl_primitive_desc_create(&pd, &cd, attr, engine, NULL) != dnnl_success) return NULL;
  return pd;
}

static int build(plan *p)
{
  const lc_conv2d_shape *s = &p->s;
  dnnl_dims_t st, dil, pl, pr;
  if (s->n < 1 || !geometry(s, st, dil, pl, pr)) return LC_CONV_DNNL_UNSUPPORTED;

  dnnl_primitive_attr_t attr;
  if (dnnl_primitive_attr_create(&attr) != dnnl_success) return LC_CONV_DNNL_EFAILED;
  dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);

  dnnl_memory_desc_t x_md, y_md, w_md, b_md;
  plain_md(&x_md, s->n, s->c_in, s->h, s->w);
  plain_md(&y_md, s->n, s->c_out, s->out_h, s->out_w);
  weights_md(&w_md, s, 0);
  dnnl_dims_t bdims = {s->c_out};
  dnnl_memory_desc_init_by_tag(&b_md, 1, bdims, dnnl_f32, dnnl_x);

  int status = LC_CONV_DNNL_UNSUPPORTED;
  dnnl_primitive_desc_t fwd = forward_pd(s, p->with_bias, p->dir == FWD ? attr : NULL);
  dnnl_primitive_desc_t pd = NULL;
  if (!fwd) goto done;
  if (p->dir == FWD) {
    pd = fwd;
    fwd = NULL;
  } else {
    dnnl_memory_desc_t a, b, c;
    dnnl_convolution_desc_t cd;
    dnnl_status_t ok;
    if (p->dir == BWD_DATA) {
      any_md(&a, s->n, s->c_in, s->h, s->w);
      weights_md(&b, s, 1);
      any_md(&c, s->n, s->c_out, s->out_h, s->out_w);
      ok = dnnl_dilated_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &a, &b,
                                                            &c, st, dil, pl, pr);
    } else {
      any_md(&a, s->n, s->c_in, s->h, s->w);
      weights_md(&b, s, 1);
      any_md(&c, s->n, s->c_out, s->out_h, s->out_w);
      ok = dnnl_dilated_convolution_backward_weights_desc_init(
          &cd, dnnl_convolution_direct, &a, &b, p->with_bias ? &b_md : NULL, &c, st, dil, pl, pr);
    }
    if (ok != dnnl_success || dnnl_primitive_desc_create(&pd, &cd, attr, engine, fwd) !=
                                  dnnl_success) {
      pd = NULL;
      goto done;
    }
  }

  status = LC_CONV_DNNL_EFAILED;
  int ok = 1;
  if (p->dir == FWD) {
    ok = add_arg(p, DNNL_ARG_SRC, 0, &x_md, query(pd, dnnl_query_src_md, 0)) &&
         add_arg(p, DNNL_ARG_WEIGHTS, 0, &w_md, query(pd, dnnl_query_weights_md, 0)) &&
         add_arg(p, DNNL_ARG_DST, 1, &y_md, query(pd, dnnl_query_dst_md, 0));
  } else if (p->dir == BWD_DATA) {
    ok = add_arg(p, DNNL_ARG_DIFF_DST, 0, &y_md, query(pd, dnnl_query_diff_dst_md, 0)) &&
         add_arg(p, DNNL_ARG_WEIGHTS, 0, &w_md, query(pd, dnnl_query_weights_md, 0)) &&
         add_arg(p, DNNL_ARG_DIFF_SRC, 1, &x_md, query(pd, dnnl_query_diff_src_md, 0));
  } else {
    ok = add_arg(p, DNNL_ARG_SRC, 0, &x_md, query(pd, dnnl_query_src_md, 0)) &&
         add_arg(p, DNNL_ARG_DIFF_DST, 0, &y_md, query(pd, dnnl_query_diff_dst_md, 0)) &&
         add_arg(p, DNNL_ARG_DIFF_WEIGHTS, 1, &w_md, query(pd, dnnl_query_diff_weights_md, 0));
  }
  if (!ok) goto done;
  if (p->with_bias && dnnl_memory_create(&p->bias, &b_md, engine, DNNL_MEMORY_NONE) != dnnl_success)
    goto done;
  const dnnl_memory_desc_t *sp = query(pd, dnnl_query_scratchpad_md, 0);
  size_t sp_bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
  if (sp_bytes > 0) {
    if (dnnl_memory_create(&p->scratchpad, sp, engine, DNNL_MEMORY_NONE) != dnnl_success) goto done;
    p->scratchpad_offset = p->buffer_bytes;
    p->buffer_bytes += align_up(sp_bytes);
  }
  if (dnnl_primitive_create(&p->conv, pd) != dnnl_success) goto done;
  status = 0;

done:
  if (fwd) dnnl_primitive_desc_destroy(fwd);
  if (pd) dnnl_primitive_desc_destroy(pd);
  dnnl_primitive_attr_destroy(attr);
  return status;
}

/* Destroys the oneDNN objects of p (a failed build may have made some of them). */
static void release_objects(plan *p)
{
  for (int i = 0; i < p->nargs; i++) {
    plan_arg *a = &p->args[i];
    if (a->reorder) dnnl_primitive_destroy(a->reorder);
    if (a->inner && a->inner != a->user) dnnl_memory_destroy(a->inner);
    if (a->user) dnnl_memory_destroy(a->user);
  }
  if (p->bias) dnnl_memory_destroy(p->bias);
  if (p->scratchpad) dnnl_memory_destroy(p->scratchpad);
  if (p->conv) dnnl_primitive_destroy(p->conv);
  memset(p->args, 0, sizeof p->args);
  p->nargs = 0;
  p->bias = p->scratchpad = NULL;
  p->conv = NULL;
}

static void destroy(plan *p)
{
  release_objects(p);
  free(p);
}

/* The plan for (dir, s, bias, threads), built on first use. Called with the lock held. */
static plan *find(int dir, const lc_conv2d_shape *s, int with_bias)
{
  int threads = omp_get_max_threads();
  for (plan *p = plans; p; p = p->next)
    if (p->dir == dir && p->with_bias == with_bias && p->threads == threads &&
        same_shape(&p->s, s))
      return p;
  plan *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->dir = dir;
  p->with_bias = with_bias;
  p->threads = threads;
  p->s = *s;
  /* oneDNN sizes its thread partition when a primitive is created: with the thread count of
   * this plan. */
  p->status = init_engine() ? build(p) : LC_CONV_DNNL_UNAVAILABLE;
  if (p->status != 0) release_objects(p); /* keep only the verdict */
  p->next = plans;
  plans = p;
  return p;
}

static int reserve(size_t bytes)
{
  if (bytes <= buffer_capacity) return 1;
  free(buffer);
  buffer = aligned_alloc(64, align_up(bytes));
  buffer_capacity = buffer ? align_up(bytes) : 0;
  return buffer != NULL;
}

/* Runs plan p on the caller's arrays ptr[i] (in the order of p->args) and bias. */
static int execute(plan *p, void *const *ptr, void *bias)
{
  if (!reserve(p->buffer_bytes)) return LC_CONV_DNNL_EFAILED;
  dnnl_exec_arg_t args[MAX_ARGS + 2];
  int n = 0;
  char *base = buffer;
  for (int i = 0; i < p->nargs; i++) {
    plan_arg *a = &p->args[i];
    dnnl_memory_set_data_handle(a->user, ptr[i]);
    if (a->reorder) dnnl_memory_set_data_handle(a->inner, base + a->offset);
    if (a->reorder && !a->is_output) {
      dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, a->user}, {DNNL_ARG_TO, a->inner}};
      if (dnnl_primitive_execute(a->reorder, stream, 2, r) != dnnl_success)
        return LC_CONV_DNNL_EFAILED;
    }
    args[n++] = (dnnl_exec_arg_t){a->arg, a->inner};
  }
  if (p->bias) {
    dnnl_memory_set_data_handle(p->bias, bias);
    args[n++] = (dnnl_exec_arg_t){p->dir == FWD ? DNNL_ARG_BIAS : DNNL_ARG_DIFF_BIAS, p->bias};
  }
  if (p->scratchpad) {
    dnnl_memory_set_data_handle(p->scratchpad, base + p->scratchpad_offset);
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratchpad};
  }
  if (dnnl_primitive_execute(p->conv, stream, n, args) != dnnl_success)
    return LC_CONV_DNNL_EFAILED;
  for (int i = 0; i < p->nargs; i++) {
    plan_arg *a = &p->args[i];
    if (a->reorder && a->is_output) {
      dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, a->inner}, {DNNL_ARG_TO, a->user}};
      if (dnnl_primitive_execute(a->reorder, stream, 2, r) != dnnl_success)
        return LC_CONV_DNNL_EFAILED;
    }
  }
  return dnnl_stream_wait(stream) == dnnl_success ? 0 : LC_CONV_DNNL_EFAILED;
}

static int run(int dir, const lc_conv2d_shape *s, int with_bias, void *const *ptr, void *bias)
{
  pthread_mutex_lock(&lock);
  plan *p = find(dir, s, with_bias);
  int status = !p ? LC_CONV_DNNL_EFAILED : p->status ? p->status : execute(p, ptr, bias);
  pthread_mutex_unlock(&lock);
  return status;
}

int lc_conv2d_dnnl_prepare(int dir, const lc_conv2d_shape *s, int with_bias)
{
  pthread_mutex_lock(&lock);
  plan *p = find(dir, s, with_bias);
  int status = !p ? LC_CONV_DNNL_EFAILED : p->status;
  pthread_mutex_unlock(&lock);
  return status;
}

int lc_conv2d_dnnl_forward_f32(const lc_conv2d_shape *s, const float *x, const float *w,
                               const float *bias, float *y)
{
  void *ptr[3] = {(void *)x, (void *)w, y};
  return run(FWD, s, bias != NULL, ptr, (void *)bias);
}

int lc_conv2d_dnnl_backward_data_f32(const lc_conv2d_shape *s, const float *dy, const float *w,
                                     float *dx)
{
  void *ptr[3] = {(void *)dy, (void *)w, dx};
  return run(BWD_DATA, s, 0, ptr, NULL);
}

int lc_conv2d_dnnl_backward_weight_f32(const lc_conv2d_shape *s, const float *x, const float *dy,
                                       float *dw, float *dbias)
{
  void *ptr[3] = {(void *)x, (void *)dy, dw};
  return run(BWD_WEIGHT, s, dbias != NULL, ptr, dbias);
}

void lc_conv2d_dnnl_release(void)
{
  pthread_mutex_lock(&lock);
  while (plans) {
    plan *next = plans->next;
    destroy(plans);
    plans = next;
  }
  free(buffer);
  buffer = NULL;
  buffer_capacity = 0;
  pthread_mutex_unlock(&lock);
}

#endif
