/* libFuzzer harness for the IDX reader (runtime/idx.c), raw and gzip-compressed: the bytes
 * go to a file (lc_idx_read takes a path) and are read back. Any outcome but a clean 0 or
 * -1 with a message naming the file is a bug; a success must hold exactly what the header
 * promises. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/idx.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!path[0]) snprintf(path, sizeof path, "/tmp/luacnn-fuzz-idx-%d", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);
  lc_idx x;
  char err[512];
  err[0] = 0;
  int rc = lc_idx_read(path, &x, err, sizeof err);
  if (rc == 0) {
    int64_t n = 1;
    for (int d = 0; d < x.ndim; d++) n *= x.dims[d];
    if (x.ndim < 1 || x.ndim > LC_IDX_MAX_DIMS || n != x.numel) abort();
    volatile uint8_t sum = 0;
    for (int64_t i = 0; i < x.numel; i++) sum += x.data[i]; /* every promised byte is there */
    lc_idx_free(&x);
  } else if (rc != -1 || strncmp(err, path, strlen(path)) != 0 || x.data != NULL) {
    fprintf(stderr, "lc_idx_read returned %d with message '%s'\n", rc, err);
    abort();
  }
  return 0;
}
