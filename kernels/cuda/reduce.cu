/* Reductions on the GPU. Each output is reduced by a "group" of G threads of a 256-thread
 * block: G = 1 (one thread per output, coalesced when the outputs are the contiguous dim, as
 * for column sums) or G = 32..256 threads (when the reduced dim is contiguous, as for row
 * sums, or there are few outputs). A long reduction into few outputs is split over several
 * groups that write (value, index) partials, which a second kernel combines in order.
 * Everything accumulates in double, as the CPU kernel does. */
#include "kernels/cuda/reduce.h"

#include "kernels/cuda/common.cuh"

#define RED_MAX_DIMS 8

struct red_geom {
  int nkeep, nred;
  int64_t outer, inner;
  int64_t ksizes[RED_MAX_DIMS], kstrides[RED_MAX_DIMS];
  int64_t rsizes[RED_MAX_DIMS], rstrides[RED_MAX_DIMS];
};

/* Merges adjacent dims laid out back to back; row-major positions are unchanged by this, so
 * output order and argmax positions stay those of the original dims. */
static int merge_dims(int n, const int64_t *sizes, const int64_t *strides, int64_t *osizes,
                      int64_t *ostrides)
{
  int m = 0;
  for (int d = 0; d < n; d++) {
    if (sizes[d] == 1) continue;
    if (m > 0 && ostrides[m - 1] == strides[d] * sizes[d]) {
      osizes[m - 1] *= sizes[d];
      ostrides[m - 1] = strides[d];
      continue;
    }
    osizes[m] = sizes[d];
    ostrides[m] = strides[d];
    m++;
  }
  if (m == 0) {
    osizes[0] = 1;
    ostrides[0] = 0;
    m = 1;
  }
  return m;
}

/* Splits per output: only when few outputs each reduce many elements, so that the GPU gets
 * enough blocks. Depends on the sizes alone, so the workspace query agrees with the launch. */
static int64_t plan_splits(int64_t outer, int64_t inner)
{
  if (outer >= 256 || inner <= 8192) return 1;
  int64_t by_size = (inner + 4095) / 4096;
  int64_t by_fill = (1024 + outer - 1) / outer;
  int64_t s = by_size < by_fill ? by_size : by_fill;
  if (s > 1024) s = 1024;
  return s < 1 ? 1 : s;
}

static void outer_inner(int ndim, const int64_t *sizes, int nred, int64_t *outer, int64_t *inner)
{
  *outer = 1;
  *inner = 1;
  for (int d = 0; d < ndim - nred; d++) *outer *= sizes[d];
  for (int d = ndim - nred; d < ndim; d++) *inner *= sizes[d];
}

extern "C" size_t lc_cuda_reduce_workspace(int ndim, const int64_t *sizes, int nred)
{
  int64_t outer, inner;
  outer_inner(ndim, sizes, nred, &outer, &inner);
  int64_t s = plan_splits(outer, inner);
  return s > 1 ? (size_t)(outer * s) * (sizeof(double) + sizeof(int64_t)) : 0;
}

/* ---- accumulation ---- */

/* A running result: v, and for MAX/MIN the position i of the winner (-1: nothing seen). */
struct red_acc {
  double v;
  int64_t i;
};

__device__ __forceinline__ red_acc red_init(lc_reduce_op op)
{
  red_acc a;
  a.v = op == LC_RED_PROD ? 1.0 : 0.0;
  a.i = -1;
  return a;
}

/* Folds candidate (v2, i2) into a. For MAX/MIN the result is the one a sequential scan in
 * position order would keep: NaN beats everything, then the larger (smaller) value, then the
 * lower position; so partial results can be combined in any order. */
__device__ __forceinline__ void red_fold(lc_reduce_op op, red_acc &a, double v2, int64_t i2)
{
  switch (op) {
  case LC_RED_SUM: a.v += v2; return;
  case LC_RED_PROD: a.v *= v2; return;
  default: break;
  }
  if (i2 < 0) return;
  if (a.i < 0) {
    a.v = v2;
    a.i = i2;
    return;
  }
  bool n1 = a.v != a.v, n2 = v2 != v2;
  bool take;
  if (n1 || n2)
    take = n1 && n2 ? i2 < a.i : n2;
  else if (v2 == a.v)
    take = i2 < a.i;
  else
    take = op == LC_RED_MAX ? v2 > a.v : v2 < a.v;
  if (take) {
    a.v = v2;
    a.i = i2;
  }
}

/* The final value of a MAX/MIN over nothing (an empty reduced block) is NaN at position 0,
 * what the CPU kernel returns. */
__device__ __forceinline__ void red_finish(lc_reduce_op op, red_acc &a)
{
  if (a.i < 0) {
    if (op == LC_RED_MAX || op == LC_RED_MIN) a.v = __longlong_as_double(0x7ff8000000000000LL);
    a.i = 0; /* also what SUM and PROD report as their "index", as on the CPU */
  }
}

__device__ __forceinline__ int64_t red_offset(int n, const int64_t *sizes, const int64_t *strides,
                                              int64_t idx)
{
  if (n == 1) return idx * strides[0]; /* the common case, after merging: no division */
  int64_t off = 0;
  for (int d = n - 1; d >= 0; d--) {
    int64_t q = idx / sizes[d];
    off += (idx - q * sizes[d]) * strides[d];
    idx = q;
  }
  return off;
}

/* blockDim = (G, 256 / G): threadIdx.y picks the group, threadIdx.x the lane within it. Every
 * thread of a block runs the same number of rounds, since the reduction uses __syncthreads. */
template <typename T>
__global__ void reduce_kernel(lc_reduce_op op, red_geom g, int64_t nsplit, const T *in, T *out,
                              int64_t *indices, double *pval, int64_t *pidx)
{
  __shared__ double sv[LC_THREADS];
  __shared__ int64_t si[LC_THREADS];
  const int G = blockDim.x, lane = threadIdx.x, tid = threadIdx.y * blockDim.x + threadIdx.x;
  const int64_t groups = g.outer * nsplit;
  const int64_t chunk = (g.inner + nsplit - 1) / nsplit;
  for (int64_t first = (int64_t)blockIdx.x * blockDim.y; first < groups;
       first += (int64_t)gridDim.x * blockDim.y) {
    int64_t grp = first + threadIdx.y;
    red_acc a = red_init(op);
    if (grp < groups) {
      int64_t o = grp / nsplit, c = grp - o * nsplit;
      int64_t base = red_offset(g.nkeep, g.ksizes, g.kstrides, o);
      int64_t k0 = c * chunk, k1 = k0 + chunk < g.inner ? k0 + chunk : g.inner;
      for (int64_t k = k0 + lane; k < k1; k += G) {
        double v = (double)in[base + red_offset(g.nred, g.rsizes, g.rstrides, k)];
        red_fold(op, a, v, k);
      }
    }
    if (G > 1) {
      sv[tid] = a.v;
      si[tid] = a.i;
      __syncthreads();
      for (int s = G / 2; s > 0; s >>= 1) {
        if (lane < s) {
          red_fold(op, a, sv[tid + s], si[tid + s]);
          sv[tid] = a.v;
          si[tid] = a.i;
        }
        __syncthreads();
      }
    }
    if (lane == 0 && grp < groups) {
      if (nsplit > 1) {
        pval[grp] = a.v;
        pidx[grp] = a.i;
      } else {
        red_finish(op, a);
        out[grp] = lc_cvt<T>(a.v);
        if (indices) indices[grp] = a.i;
      }
    }
  }
}

/* Combines each output's nsplit partials, in split order. */
template <typename T>
__global__ void reduce_finish_kernel(lc_reduce_op op, int64_t outer, int64_t nsplit,
                                     const double *pval, const int64_t *pidx, T *out,
                                     int64_t *indices)
{
  for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < outer;
       o += (int64_t)gridDim.x * blockDim.x) {
    red_acc a = red_init(op);
    for (int64_t c = 0; c < nsplit; c++) red_fold(op, a, pval[o * nsplit + c], pidx[o * nsplit + c]);
    red_finish(op, a);
    out[o] = lc_cvt<T>(a.v);
    if (indices) indices[o] = a.i;
  }
}

template <typename T>
static int launch(lc_reduce_op op, const red_geom &g, int64_t nsplit, int G, const void *in,
                  void *out, int64_t *indices, void *workspace, cudaStream_t stream)
{
  double *pval = NULL;
  int64_t *pidx = NULL;
  if (nsplit > 1) {
    pval = (double *)workspace;
    pidx = (int64_t *)(pval + g.outer * nsplit);
  }
  dim3 block(G, LC_THREADS / G);
  unsigned blocks = lc_blocks_for(g.outer * nsplit, LC_THREADS / G);
  reduce_kernel<T><<<blocks, block, 0, stream>>>(op, g, nsplit, (const T *)in, (T *)out, indices,
                                                 pval, pidx);
  LC_CUDA_TRY(lc_cuda_launch_status(stream));
  if (nsplit > 1) {
    reduce_finish_kernel<T><<<lc_blocks_for(g.outer, LC_THREADS), LC_THREADS, 0, stream>>>(
        op, g.outer, nsplit, pval, pidx, (T *)out, indices);
    LC_CUDA_TRY(lc_cuda_launch_status(stream));
  }
  return 0;
}

extern "C" int lc_cuda_reduce(lc_reduce_op op, lc_dtype dtype, int ndim, const int64_t *sizes,
                              const int64_t *strides, int nred, const void *in, void *out,
                              int64_t *indices, void *workspace, cudaStream_t stream)
{
  if (ndim > RED_MAX_DIMS || nred < 0 || nred > ndim)
    return LC_CUDA_EUNSUPPORTED;
  red_geom g;
  outer_inner(ndim, sizes, nred, &g.outer, &g.inner);
  if (g.outer == 0) return 0;
  int nkeep = ndim - nred;
  g.nkeep = merge_dims(nkeep, sizes, strides, g.ksizes, g.kstrides);
  g.nred = merge_dims(nred, sizes + nkeep, strides + nkeep, g.rsizes, g.rstrides);
  if (g.inner == 0) g.nred = 0; /* nothing is read */

  int64_t nsplit = plan_splits(g.outer, g.inner);
  if (nsplit > 1 && !workspace)
    return LC_CUDA_EWORKSPACE;
  /* Many threads per output when they read contiguous memory or there are few outputs;
   * otherwise one thread per output, neighbouring threads on neighbouring outputs. */
  bool red_contig = g.rstrides[g.nred > 0 ? g.nred - 1 : 0] == 1;
  int G = 1;
  if ((red_contig && g.inner >= 16) || (g.outer < 256 && g.inner >= 64)) {
    G = 32;
    while (G < LC_THREADS && G < g.inner / (nsplit > 1 ? nsplit : 1)) G *= 2;
  }
  switch (dtype) {
  case LC_FLOAT32: return launch<float>(op, g, nsplit, G, in, out, indices, workspace, stream);
  case LC_FLOAT64: return launch<double>(op, g, nsplit, G, in, out, indices, workspace, stream);
  case LC_INT64: return launch<int64_t>(op, g, nsplit, G, in, out, indices, workspace, stream);
  case LC_UINT8: return launch<uint8_t>(op, g, nsplit, G, in, out, indices, workspace, stream);
  default: return LC_CUDA_EDTYPE;
  }
}
