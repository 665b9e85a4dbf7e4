/* Fused optimizer steps on the GPU (see nn.h): kernels/cpu/optim_impl.inc over many tensors
 * per launch. The tensor pointers travel in the kernel's arguments (a table of up to
 * LC_CUDA_MT_MAX_TENSORS entries, about 2.5 KB, within the 4 KB every GPU accepts); each block
 * updates one chunk of one tensor, found from the table's running block counts. The
 * per-element arithmetic is the CPU's, in the element type, with round-to-nearest intrinsics
 * so no multiply-add is fused: updates match the CPU bit for bit. */
#include <math.h>

#include "kernels/cuda/nn.h"

#include "kernels/cuda/common.cuh"

#define CHUNK 2048 /* elements per block */

struct mt_table {
  int count;
  int64_t numel[LC_CUDA_MT_MAX_TENSORS];
  int64_t block_start[LC_CUDA_MT_MAX_TENSORS + 1];
  void *param[LC_CUDA_MT_MAX_TENSORS];
  const void *grad[LC_CUDA_MT_MAX_TENSORS];
  void *s1[LC_CUDA_MT_MAX_TENSORS]; /* SGD: momentum buffer; Adam: exp_avg */
  void *s2[LC_CUDA_MT_MAX_TENSORS]; /* Adam: exp_avg_sq */
  void *s3[LC_CUDA_MT_MAX_TENSORS]; /* Adam: max_exp_avg_sq */
};

/* The tensor and element range of block b. */
__device__ __forceinline__ int mt_locate(const mt_table &t, int64_t b, int64_t *i0, int64_t *i1)
{
  int k = 0;
  while (k + 1 < t.count && t.block_start[k + 1] <= b) k++;
  *i0 = (b - t.block_start[k]) * CHUNK;
  *i1 = *i0 + CHUNK < t.numel[k] ? *i0 + CHUNK : t.numel[k];
  return k;
}

template <typename T> struct sgd_consts {
  T lr, wd, mom, damp;
  int use_wd, use_mom, nesterov, first_step;
};

template <typename T>
__global__ void sgd_kernel(mt_table t, sgd_consts<T> h)
{
  for (int64_t b = blockIdx.x; b < t.block_start[t.count]; b += gridDim.x) {
    int64_t i0, i1;
    int k = mt_locate(t, b, &i0, &i1);
    T *p = (T *)t.param[k], *buf = (T *)t.s1[k];
    const T *g = (const T *)t.grad[k];
    const bool use_mom = h.use_mom && buf;
    for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) {
      T d = g[i];
      if (h.use_wd) d = rn_add(d, rn_mul(h.wd, p[i]));
      if (use_mom) {
        T v = h.first_step ? d : rn_add(rn_mul(h.mom, buf[i]), rn_mul(h.damp, d));
        buf[i] = v;
        d = h.nesterov ? rn_add(d, rn_mul(h.mom, v)) : v;
      }
      p[i] = rn_sub(p[i], rn_mul(h.lr, d));
    }
  }
}

template <typename T> struct adam_consts {
  T step_size, bc2_sqrt, one_m_b1, beta1, b2, one_m_b2, eps, wd, decay;
  int use_wd, decoupled, lerp_low;
};

template <typename T>
__global__ void adam_kernel(mt_table t, adam_consts<T> h)
{
  for (int64_t b = blockIdx.x; b < t.block_start[t.count]; b += gridDim.x) {
    int64_t i0, i1;
    int k = mt_locate(t, b, &i0, &i1);
    T *param = (T *)t.param[k], *exp_avg = (T *)t.s1[k], *exp_avg_sq = (T *)t.s2[k];
    T *max_sq = (T *)t.s3[k];
    const T *grad = (const T *)t.grad[k];
    for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x) {
      T p = param[i], g = grad[i];
      if (h.use_wd) {
        if (h.decoupled) p = rn_mul(p, h.decay);
        else g = rn_add(g, rn_mul(h.wd, p));
      }
      T ea = exp_avg[i];
      /* torch.lerp's two-sided formula, exact at both ends */
      T m = h.lerp_low ? rn_add(ea, rn_mul(h.one_m_b1, rn_sub(g, ea)))
                       : rn_sub(g, rn_mul(rn_sub(g, ea), h.beta1));
      T v = rn_add(rn_mul(h.b2, exp_avg_sq[i]), rn_mul(rn_mul(h.one_m_b2, g), g));
      exp_avg[i] = m;
      exp_avg_sq[i] = v;
      if (max_sq) {
        if (v > max_sq[i]) max_sq[i] = v;
        v = max_sq[i];
      }
      T denom = rn_add(rn_div(rn_sqrt(v), h.bc2_sqrt), h.eps);
      param[i] = rn_sub(p, rn_mul(h.step_size, rn_div(m, denom)));
    }
  }
}

/* Fills a table with tensors [first, first + n) and returns the blocks it needs. */
static int64_t mt_fill(mt_table *t, int first, int n, const int64_t *numels, void *const *params,
                       const void *const *grads, void *const *s1, void *const *s2, void *const *s3)
{
  t->count = n;
  t->block_start[0] = 0;
  for (int k = 0; k < n; k++) {
    int i = first + k;
    t->numel[k] = numels[i] > 0 ? numels[i] : 0;
    t->param[k] = params[i];
    t->grad[k] = grads[i];
    t->s1[k] = s1 ? s1[i] : NULL;
    t->s2[k] = s2 ? s2[i] : NULL;
    t->s3[k] = s3 ? s3[i] : NULL;
    t->block_start[k + 1] = t->block_start[k] + (t->numel[k] + CHUNK - 1) / CHUNK;
  }
  return t->block_start[n];
}

static unsigned mt_grid(int64_t blocks) { return (unsigned)(blocks < (1 << 20) ? blocks : (1 << 20)); }

template <typename T>
static int sgd(int count, const int64_t *numels, void *const *params, const void *const *grads,
               void *const *bufs, const lc_sgd_params *hp, int first_step, cudaStream_t stream)
{
  sgd_consts<T> h;
  h.lr = (T)hp->lr;
  h.wd = (T)hp->weight_decay;
  h.mom = (T)hp->momentum;
  h.damp = (T)(1 - hp->dampening);
  h.use_wd = hp->weight_decay != 0;
  h.use_mom = hp->momentum != 0;
  h.nesterov = hp->nesterov;
  h.first_step = first_step;
  for (int first = 0; first < count; first += LC_CUDA_MT_MAX_TENSORS) {
    int n = count - first < LC_CUDA_MT_MAX_TENSORS ? count - first : LC_CUDA_MT_MAX_TENSORS;
    mt_table t;
    int64_t blocks = mt_fill(&t, first, n, numels, params, grads, h.use_mom ? bufs : NULL, NULL, NULL);
    if (blocks == 0) continue;
    sgd_kernel<T><<<mt_grid(blocks), LC_THREADS, 0, stream>>>(t, h);
    LC_CUDA_TRY(lc_cuda_launch_status(stream));
  }
  return 0;
}

template <typename T>
static int adam(int count, const int64_t *numels, void *const *params, const void *const *grads,
                void *const *exp_avg, void *const *exp_avg_sq, void *const *max_exp_avg_sq,
                const lc_adam_params *hp, cudaStream_t stream)
{
  const double bc1 = 1 - pow(hp->beta1, (double)hp->step);
  const double bc2 = 1 - pow(hp->beta2, (double)hp->step);
  adam_consts<T> h;
  h.step_size = (T)(hp->lr / bc1);
  h.bc2_sqrt = (T)sqrt(bc2);
  h.one_m_b1 = (T)(1 - hp->beta1);
  h.beta1 = (T)hp->beta1;
  h.b2 = (T)hp->beta2;
  h.one_m_b2 = (T)(1 - hp->beta2);
  h.eps = (T)hp->eps;
  h.wd = (T)hp->weight_decay;
  h.decay = (T)(1 - hp->lr * hp->weight_decay);
  h.use_wd = hp->weight_decay != 0;
  h.decoupled = hp->decoupled;
  h.lerp_low = 1 - hp->beta1 < 0.5;
  for (int first = 0; first < count; first += LC_CUDA_MT_MAX_TENSORS) {
    int n = count - first < LC_CUDA_MT_MAX_TENSORS ? count - first : LC_CUDA_MT_MAX_TENSORS;
    mt_table t;
    int64_t blocks = mt_fill(&t, first, n, numels, params, grads, exp_avg, exp_avg_sq,
                             max_exp_avg_sq);
    if (blocks == 0) continue;
    adam_kernel<T><<<mt_grid(blocks), LC_THREADS, 0, stream>>>(t, h);
    LC_CUDA_TRY(lc_cuda_launch_status(stream));
  }
  return 0;
}

extern "C" int lc_cuda_sgd_step(lc_dtype dtype, int count, const int64_t *numels,
                                void *const *params, const void *const *grads,
                                void *const *bufs, const lc_sgd_params *h, int first_step,
                                cudaStream_t stream)
{
  if (count <= 0) return 0;
  if (dtype == LC_FLOAT32) return sgd<float>(count, numels, params, grads, bufs, h, first_step, stream);
  if (dtype == LC_FLOAT64) return sgd<double>(count, numels, params, grads, bufs, h, first_step, stream);
  return LC_CUDA_EDTYPE;
}

extern "C" int lc_cuda_adam_step(lc_dtype dtype, int count, const int64_t *numels,
                                 void *const *params, const void *const *grads,
                                 void *const *exp_avg, void *const *exp_avg_sq,
                                 void *const *max_exp_avg_sq, const lc_adam_params *h,
                                 cudaStream_t stream)
{
  if (count <= 0) return 0;
  if (dtype == LC_FLOAT32)
    return adam<float>(count, numels, params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq, h, stream);
  if (dtype == LC_FLOAT64)
    return adam<double>(count, numels, params, grads, exp_avg, exp_avg_sq, max_exp_avg_sq, h, stream);
  return LC_CUDA_EDTYPE;
}
