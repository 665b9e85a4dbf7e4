/* Indexing by a list of positions, and random permutations. 0-based like the rest of the
 * runtime; the bindings convert from Lua's 1-based indices. */
#ifndef LC_OPS_INDEX_H
#define LC_OPS_INDEX_H

#include "runtime/ops.h"

/* The slices idx[0], idx[1], ... of t along dim, stacked in that order along dim:
 * out.sizes[dim] = numel(idx). idx is an int64 tensor of 0 or 1 dims, on any device; a
 * negative index counts from the end (-1 is the last). Indices may repeat. The result is a
 * new contiguous tensor on t's device (not a view). Differentiable in t: the gradient adds
 * each slice of the output's gradient into the slice it came from (zeros elsewhere).
 * On the CPU a gather kernel does the work; on another device t (and, in backward, the
 * gradient) makes a round trip through the host, correct but not fast: the data loaders
 * gather uint8 batches on the host before they move them. */
lc_tensor *lc_index_select(lc_tensor *t, int dim, const lc_tensor *idx);

/* A random permutation of 0..n-1 (int64, 1-D) on `device`, drawn from the global Philox
 * generator (runtime/random.h), so lc_manual_seed makes it reproducible: a Fisher-Yates
 * shuffle whose swaps take 64-bit draws (two Philox lanes each). Always computed on the host,
 * hence the same permutation on every device. */
lc_tensor *lc_randperm(int64_t n, lc_device device);

#endif
