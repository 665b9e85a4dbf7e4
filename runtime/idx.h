/* Reader of IDX files (the format of MNIST and Fashion-MNIST), gzip-compressed or raw:
 * a big-endian header (magic 0x000008NN: unsigned bytes, NN dimensions; then NN 32-bit
 * sizes) followed by exactly prod(sizes) bytes, row-major. */
#ifndef LC_IDX_H
#define LC_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/tensor.h"

#define LC_IDX_MAX_DIMS 4

typedef struct {
  int ndim;
  int64_t dims[LC_IDX_MAX_DIMS];
  int64_t numel;
  uint8_t *data; /* numel bytes, malloc'ed: release with lc_idx_free */
} lc_idx;

/* Reads the whole file (gzip or raw, told apart by zlib from the content). Returns 0, or -1
 * with a message in err that names the file and what is wrong with it: cannot be opened,
 * shorter than a header, bad magic number (not an IDX file of unsigned bytes, e.g.
 * 0x00000803 images, 0x00000801 labels), truncated (fewer bytes than the header promises),
 * trailing data (more bytes than it promises), corrupt gzip data. Nothing to free then. */
int lc_idx_read(const char *path, lc_idx *out, char *err, size_t err_cap);
void lc_idx_free(lc_idx *idx);

/* The file as a CPU uint8 tensor of the header's dims; raises lc_error("read_idx: ...")
 * with the message above. */
lc_tensor *lc_read_idx(const char *path);

#endif
