/* Gather and scatter-add along one dimension of a contiguous array, seen as
 * (outer, dim, inner): the kernels behind index_select and its gradient. */
#ifndef LC_KERNELS_CPU_INDEX_H
#define LC_KERNELS_CPU_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* dst (outer, n_idx, inner) = src (outer, src_dim, inner)[:, idx, :], for elements of
 * `elsize` bytes (any dtype). Every idx[k] must be in [0, src_dim): the caller checks. */
void lc_cpu_gather_dim(int64_t outer, int64_t src_dim, int64_t inner, size_t elsize,
                       const int64_t *idx, int64_t n_idx, const void *src, void *dst);

/* dst (outer, dst_dim, inner)[:, idx[k], :] += src (outer, n_idx, inner)[:, k, :], in order of
 * k, so repeated indices accumulate (the gradient of a gather). idx as above. */
void lc_cpu_index_add_f32(int64_t outer, int64_t dst_dim, int64_t inner, const int64_t *idx,
                          int64_t n_idx, const float *src, float *dst);
void lc_cpu_index_add_f64(int64_t outer, int64_t dst_dim, int64_t inner, const int64_t *idx,
                          int64_t n_idx, const double *src, double *dst);

#endif
