/* Batch normalisation on the GPU (see nn.h), over contiguous (n, c, s) arrays.
 *
 * Each op is: a sums kernel (channel ch's n * s values split into `nsplit` chunks, one block
 * per chunk, double sums reduced in the block), a finish kernel (one thread per channel: adds
 * the chunks in order, then computes the statistics, the running averages, the gradients of
 * gamma and beta, and the per-channel coefficients), and an elementwise kernel. Forward eval
 * needs no sums. The elementwise arithmetic is the CPU's, operation for operation, in the
 * element type with round-to-nearest intrinsics (no fused multiply-adds).
 *
 * Statistics use shifted sums: d = x - K with K the channel's first value, so var =
 * (sum d^2 - (sum d)^2 / m) / m does not cancel catastrophically when |mean| >> std. */
#include "kernels/cuda/nn.h"

#include "kernels/cuda/common.cuh"

struct bn_dims {
  int64_t n, c, s, m;   /* m = n * s values per channel */
  int64_t nsplit, chunk;
};

static int64_t bn_splits(int64_t m, int64_t c)
{
  if (c <= 0) return 1;
  int64_t by_size = (m + 2047) / 2048, by_fill = (1024 + c - 1) / c;
  int64_t s = by_size < by_fill ? by_size : by_fill;
  if (s > 1024) s = 1024;
  return s < 1 ? 1 : s;
}

static bn_dims bn_make(int64_t n, int64_t c, int64_t s)
{
  bn_dims d;
  d.n = n;
  d.c = c;
  d.s = s;
  d.m = n * s;
  d.nsplit = bn_splits(d.m, c);
  d.chunk = (d.m + d.nsplit - 1) / d.nsplit;
  if (d.chunk < 1) d.chunk = 1;
  return d;
}

/* Workspace: the partial sums (2 doubles per chunk), then 3 coefficient arrays of c doubles
 * (used as arrays of the element type). */
extern "C" size_t lc_cuda_batchnorm_workspace(lc_dtype dtype, int64_t n, int64_t c, int64_t s)
{
  bn_dims d = bn_make(n, c, s);
  return (size_t)(c * d.nsplit * 2 + 3 * c) * sizeof(double);
}

/* ---- kernels ---- */

/* GRAD = false: (sum (x - K), sum (x - K)^2), K = the channel's first value.
 * GRAD = true:  (sum dy, sum dy (x - mean[ch])). */
template <typename T, bool GRAD>
__global__ void bn_sums_kernel(bn_dims d, const T *x, const T *dy, const T *mean, double *partial)
{
  __shared__ double sa[LC_THREADS], sb[LC_THREADS];
  const int64_t blocks = d.c * d.nsplit;
  for (int64_t blk = blockIdx.x; blk < blocks; blk += gridDim.x) {
    int64_t ch = blk / d.nsplit, sp = blk - ch * d.nsplit;
    int64_t e0 = sp * d.chunk, e1 = e0 + d.chunk < d.m ? e0 + d.chunk : d.m;
    double a = 0, b = 0;
    double shift = GRAD ? (double)mean[ch] : (d.m > 0 ? (double)x[ch * d.s] : 0.0);
    for (int64_t e = e0 + threadIdx.x; e < e1; e += blockDim.x) {
      int64_t i = e / d.s, j = e - i * d.s;
      int64_t idx = (i * d.c + ch) * d.s + j;
      double v = (double)x[idx] - shift;
      if (GRAD) {
        double g = (double)dy[idx];
        a += g;
        b += g * v;
      } else {
        a += v;
        b += v * v;
      }
    }
    sa[threadIdx.x] = a;
    sb[threadIdx.x] = b;
    __syncthreads();
    for (int k = blockDim.x / 2; k > 0; k >>= 1) {
      if (threadIdx.x < k) {
        sa[threadIdx.x] += sa[threadIdx.x + k];
        sb[threadIdx.x] += sb[threadIdx.x + k];
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) {
      partial[2 * blk] = sa[0];
      partial[2 * blk + 1] = sb[0];
    }
    __syncthreads(); /* sa/sb are rewritten by the next round */
  }
}

__device__ __forceinline__ void bn_total(const bn_dims &d, const double *partial, int64_t ch,
                                         double *a, double *b)
{
  double sa = 0, sb = 0;
  for (int64_t sp = 0; sp < d.nsplit; sp++) {
    sa += partial[2 * (ch * d.nsplit + sp)];
    sb += partial[2 * (ch * d.nsplit + sp) + 1];
  }
  *a = sa;
  *b = sb;
}

template <typename T>
__global__ void bn_train_finish_kernel(bn_dims d, const double *partial, const T *x, const T *gamma,
                                       const T *beta, T *running_mean, T *running_var,
                                       double momentum, double eps, T *save_mean, T *save_invstd,
                                       T *coef_a, T *coef_b)
{
  for (int64_t ch = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; ch < d.c;
       ch += (int64_t)gridDim.x * blockDim.x) {
    double s1, s2, m = (double)d.m;
    bn_total(d, partial, ch, &s1, &s2);
    double mean = (double)x[ch * d.s] + s1 / m;
    double var = (s2 - s1 * s1 / m) / m;
    if (var < 0) var = 0;
    double invstd = 1.0 / sqrt(var + eps);
    save_mean[ch] = (T)mean;
    save_invstd[ch] = (T)invstd;
    if (running_mean) running_mean[ch] = (T)((1 - momentum) * (double)running_mean[ch] + momentum * mean);
    if (running_var)
      running_var[ch] = (T)((1 - momentum) * (double)running_var[ch] + momentum * var * m / (m - 1));
    double g = gamma ? (double)gamma[ch] : 1.0, b = beta ? (double)beta[ch] : 0.0;
    coef_a[ch] = (T)(invstd * g);
    coef_b[ch] = (T)b;
  }
}

template <typename T>
__global__ void bn_eval_coef_kernel(int64_t c, const T *gamma, const T *beta, const T *running_var,
                                    double eps, T *coef_a, T *coef_b)
{
  for (int64_t ch = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; ch < c;
       ch += (int64_t)gridDim.x * blockDim.x) {
    double invstd = 1.0 / sqrt((double)running_var[ch] + eps);
    double g = gamma ? (double)gamma[ch] : 1.0, b = beta ? (double)beta[ch] : 0.0;
    coef_a[ch] = (T)(invstd * g);
    coef_b[ch] = (T)b;
  }
}

/* y = (x - mean) * a + b, per channel. */
template <typename T>
__global__ void bn_affine_kernel(int64_t total, int64_t c, int64_t s, const T *x, const T *mean,
                                 const T *a, const T *b, T *y)
{
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t ch = (e / s) % c;
    y[e] = rn_add(rn_mul(rn_sub(x[e], mean[ch]), a[ch]), b[ch]);
  }
}

/* Training backward coefficients: dx = dy k + (x - mean) kx + k0. */
template <typename T>
__global__ void bn_train_grad_finish_kernel(bn_dims d, const double *partial, const T *gamma,
                                            const T *save_invstd, T *dgamma, T *dbeta, T *rk,
                                            T *rkx, T *rk0)
{
  for (int64_t ch = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; ch < d.c;
       ch += (int64_t)gridDim.x * blockDim.x) {
    double sum_dy, sum_dy_xmu, m = (double)d.m;
    bn_total(d, partial, ch, &sum_dy, &sum_dy_xmu);
    double invstd = (double)save_invstd[ch];
    if (dgamma) dgamma[ch] = (T)(sum_dy_xmu * invstd);
    if (dbeta) dbeta[ch] = (T)sum_dy;
    double k = (gamma ? (double)gamma[ch] : 1.0) * invstd;
    rk[ch] = (T)k;
    rkx[ch] = (T)(-k * invstd * invstd * sum_dy_xmu / m);
    rk0[ch] = (T)(-k * sum_dy / m);
  }
}

template <typename T>
__global__ void bn_train_dx_kernel(int64_t total, int64_t c, int64_t s, const T *x, const T *dy,
                                   const T *mean, const T *rk, const T *rkx, const T *rk0, T *dx)
{
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t ch = (e / s) % c;
    T v = rn_add(rn_mul(dy[e], rk[ch]), rn_mul(rn_sub(x[e], mean[ch]), rkx[ch]));
    dx[e] = rn_add(v, rk0[ch]);
  }
}

/* Eval backward: the statistics are constants. partial may be NULL (no dgamma, dbeta). */
template <typename T>
__global__ void bn_eval_grad_finish_kernel(bn_dims d, const double *partial, const T *gamma,
                                           const T *running_var, double eps, T *dgamma, T *dbeta,
                                           T *rk)
{
  for (int64_t ch = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; ch < d.c;
       ch += (int64_t)gridDim.x * blockDim.x) {
    double invstd = 1.0 / sqrt((double)running_var[ch] + eps);
    if (partial) {
      double sum_dy, sum_dy_xmu;
      bn_total(d, partial, ch, &sum_dy, &sum_dy_xmu);
      if (dgamma) dgamma[ch] = (T)(sum_dy_xmu * invstd);
      if (dbeta) dbeta[ch] = (T)sum_dy;
    }
    rk[ch] = (T)((gamma ? (double)gamma[ch] : 1.0) * invstd);
  }
}

template <typename T>
__global__ void bn_eval_dx_kernel(int64_t total, int64_t c, int64_t s, const T *dy, const T *rk, T *dx)
{
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    int64_t ch = (e / s) % c;
    dx[e] = rn_mul(dy[e], rk[ch]);
  }
}

/* ---- launchers ---- */

struct bn_space {
  double *partial;
  void *coef[3]; /* c elements each */
};

static bn_space bn_split_workspace(const bn_dims &d, void *workspace)
{
  bn_space w;
  w.partial = (double *)workspace;
  double *rest = w.partial + d.c * d.nsplit * 2;
  for (int k = 0; k < 3; k++) w.coef[k] = rest + k * d.c;
  return w;
}

static unsigned sums_blocks(const bn_dims &d)
{
  int64_t b = d.c * d.nsplit;
  return (unsigned)(b < (1 << 20) ? b : (1 << 20));
}

template <typename T>
static int forward_train(const bn_dims &d, const T *x, const T *gamma, const T *beta,
                         T *running_mean, T *running_var, double momentum, double eps, T *y,
                         T *save_mean, T *save_invstd, bn_space w, cudaStream_t stream)
{
  bn_sums_kernel<T, false><<<sums_blocks(d), LC_THREADS, 0, stream>>>(d, x, NULL, NULL, w.partial);
  LC_CUDA_TRY(lc_cuda_launch_status(stream));
  bn_train_finish_kernel<T><<<lc_blocks_for(d.c, LC_THREADS), LC_THREADS, 0, stream>>>(
      d, w.partial, x, gamma, beta, running_mean, running_var, momentum, eps, save_mean,
      save_invstd, (T *)w.coef[0], (T *)w.coef[1]);
  LC_CUDA_TRY(lc_cuda_launch_status(stream));
  int64_t total = d.n * d.c * d.s;
  bn_affine_kernel<T><<<lc_blocks_for(total, LC_THREADS), LC_THREADS, 0, stream>>>(
      total, d.c, d.s, x, save_mean, (const T *)w.coef[0], (const T *)w.coef[1], y);
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_batchnorm_forward_train(lc_dtype dtype, int64_t n, int64_t c, int64_t s,
                                               const void *x, const void *gamma, const void *beta,
                                               void *running_mean, void *running_var,
                                               double momentum, double eps, void *y,
                                               void *save_mean, void *save_invstd,
                                               void *workspace, cudaStream_t stream)
{
  if (n * s <= 1) return LC_BN_ETOOFEW;
  if (c <= 0) return LC_BN_OK;
  bn_dims d = bn_make(n, c, s);
  bn_space w = bn_split_workspace(d, workspace);
  LC_FLOAT_SWITCH(dtype, LC_CUDA_TRY(forward_train<T>(
      d, (const T *)x, (const T *)gamma, (const T *)beta, (T *)running_mean, (T *)running_var,
      momentum, eps, (T *)y, (T *)save_mean, (T *)save_invstd, w, stream)));
  return LC_BN_OK;
}

template <typename T>
static int forward_eval(const bn_dims &d, const T *x, const T *gamma, const T *beta,
                        const T *running_mean, const T *running_var, double eps, T *y,
                        bn_space w, cudaStream_t stream)
{
  bn_eval_coef_kernel<T><<<lc_blocks_for(d.c, LC_THREADS), LC_THREADS, 0, stream>>>(
      d.c, gamma, beta, running_var, eps, (T *)w.coef[0], (T *)w.coef[1]);
  LC_CUDA_TRY(lc_cuda_launch_status(stream));
  int64_t total = d.n * d.c * d.s;
  bn_affine_kernel<T><<<lc_blocks_for(total, LC_THREADS), LC_THREADS, 0, stream>>>(
      total, d.c, d.s, x, running_mean, (const T *)w.coef[0], (const T *)w.coef[1], y);
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_batchnorm_forward_eval(lc_dtype dtype, int64_t n, int64_t c, int64_t s,
                                              const void *x, const void *gamma, const void *beta,
                                              const void *running_mean, const void *running_var,
                                              double eps, void *y, void *workspace,
                                              cudaStream_t stream)
{
  if (c <= 0 || n * s <= 0) return 0;
  bn_dims d = bn_make(n, c, s);
  bn_space w = bn_split_workspace(d, workspace);
  LC_FLOAT_SWITCH(dtype, LC_CUDA_TRY(forward_eval<T>(
      d, (const T *)x, (const T *)gamma, (const T *)beta, (const T *)running_mean,
      (const T *)running_var, eps, (T *)y, w, stream)));
  return 0;
}

template <typename T>
static int backward_train(const bn_dims &d, const T *x, const T *dy, const T *gamma,
                          const T *save_mean, const T *save_invstd, T *dx, T *dgamma, T *dbeta,
                          bn_space w, cudaStream_t stream)
{
  bn_sums_kernel<T, true><<<sums_blocks(d), LC_THREADS, 0, stream>>>(d, x, dy, save_mean, w.partial);
  LC_CUDA_TRY(lc_cuda_launch_status(stream));
  bn_train_grad_finish_kernel<T><<<lc_blocks_for(d.c, LC_THREADS), LC_THREADS, 0, stream>>>(
      d, w.partial, gamma, save_invstd, dgamma, dbeta, (T *)w.coef[0], (T *)w.coef[1],
      (T *)w.coef[2]);
  LC_CUDA_TRY(lc_cuda_launch_status(stream));
  int64_t total = d.n * d.c * d.s;
  if (!dx || total == 0) return 0;
  bn_train_dx_kernel<T><<<lc_blocks_for(total, LC_THREADS), LC_THREADS, 0, stream>>>(
      total, d.c, d.s, x, dy, save_mean, (const T *)w.coef[0], (const T *)w.coef[1],
      (const T *)w.coef[2], dx);
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_batchnorm_backward_train(lc_dtype dtype, int64_t n, int64_t c, int64_t s,
                                                const void *x, const void *dy, const void *gamma,
                                                const void *save_mean, const void *save_invstd,
                                                void *dx, void *dgamma, void *dbeta,
                                                void *workspace, cudaStream_t stream)
{
  if (c <= 0) return 0;
  bn_dims d = bn_make(n, c, s);
  bn_space w = bn_split_workspace(d, workspace);
  LC_FLOAT_SWITCH(dtype, LC_CUDA_TRY(backward_train<T>(
      d, (const T *)x, (const T *)dy, (const T *)gamma, (const T *)save_mean,
      (const T *)save_invstd, (T *)dx, (T *)dgamma, (T *)dbeta, w, stream)));
  return 0;
}

template <typename T>
static int backward_eval(const bn_dims &d, const T *x, const T *dy, const T *gamma,
                         const T *running_mean, const T *running_var, double eps, T *dx,
                         T *dgamma, T *dbeta, bn_space w, cudaStream_t stream)
{
  const double *partial = NULL;
  if (dgamma || dbeta) {
    bn_sums_kernel<T, true><<<sums_blocks(d), LC_THREADS, 0, stream>>>(d, x, dy, running_mean,
                                                                       w.partial);
    LC_CUDA_TRY(lc_cuda_launch_status(stream));
    partial = w.partial;
  }
  bn_eval_grad_finish_kernel<T><<<lc_blocks_for(d.c, LC_THREADS), LC_THREADS, 0, stream>>>(
      d, partial, gamma, running_var, eps, dgamma, dbeta, (T *)w.coef[0]);
  LC_CUDA_TRY(lc_cuda_launch_status(stream));
  int64_t total = d.n * d.c * d.s;
  if (!dx || total == 0) return 0;
  bn_eval_dx_kernel<T><<<lc_blocks_for(total, LC_THREADS), LC_THREADS, 0, stream>>>(
      total, d.c, d.s, dy, (const T *)w.coef[0], dx);
  return lc_cuda_launch_status(stream);
}

extern "C" int lc_cuda_batchnorm_backward_eval(lc_dtype dtype, int64_t n, int64_t c, int64_t s,
                                               const void *x, const void *dy, const void *gamma,
                                               const void *running_mean, const void *running_var,
                                               double eps, void *dx, void *dgamma, void *dbeta,
                                               void *workspace, cudaStream_t stream)
{
  if (c <= 0) return 0;
  bn_dims d = bn_make(n, c, s);
  bn_space w = bn_split_workspace(d, workspace);
  LC_FLOAT_SWITCH(dtype, LC_CUDA_TRY(backward_eval<T>(
      d, (const T *)x, (const T *)dy, (const T *)gamma, (const T *)running_mean,
      (const T *)running_var, eps, (T *)dx, (T *)dgamma, (T *)dbeta, w, stream)));
  return 0;
}
