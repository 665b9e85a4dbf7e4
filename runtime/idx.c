/* IDX reader over zlib's gz* functions, which read gzip and plain files alike. */
#include "runtime/idx.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "runtime/ops.h"

/* Files larger than this are surely a corrupt header (MNIST's biggest is 47 MB). */
#define MAX_PAYLOAD ((int64_t)1 << 40)
/* Reads go through gzread in chunks it can count in an int. */
#define CHUNK (16 << 20)

typedef struct {
  gzFile f;
  const char *path;
  char *err;
  size_t cap;
} reader;

static int fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(reader *r, const char *fmt, ...)
{
  int n = snprintf(r->err, r->cap, "%s: ", r->path);
  if (n < 0 || (size_t)n >= r->cap) return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->err + n, r->cap - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

/* Up to len bytes into buf; the count read, or -1 after a read error (message set). A short
 * count means the end of the data, or a gzip stream cut short (Z_BUF_ERROR), which the
 * callers report as a truncated file. */
static int64_t read_some(reader *r, void *buf, int64_t len)
{
  int64_t got = 0;
  while (got < len) {
    unsigned want = (unsigned)(len - got < CHUNK ? len - got : CHUNK);
    int n = gzread(r->f, (char *)buf + got, want);
    if (n < 0) {
      int code;
      const char *msg = gzerror(r->f, &code);
      if (code == Z_ERRNO) return fail(r, "read error: %s", strerror(errno));
      return fail(r, "corrupt gzip data: %s", msg);
    }
    if (n == 0) break;
    got += n;
  }
  return got;
}

/* Whether the gzip stream ended early (as opposed to a clean end of file). */
static const char *cut_short(reader *r)
{
  int code;
  gzerror(r->f, &code);
  return code == Z_BUF_ERROR ? " (the gzip stream is cut short)" : "";
}

static void describe_dims(const lc_idx *x, char *buf, size_t cap)
{
  size_t used = 0;
  buf[0] = 0;
  for (int d = 0; d < x->ndim && used < cap; d++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%lld", d ? " x " : "", (long long)x->dims[d]);
}

static int read_header(reader *r, lc_idx *x)
{
  unsigned char h[4 + 4 * LC_IDX_MAX_DIMS];
  int64_t n = read_some(r, h, 4);
  if (n < 0) return -1;
  if (n < 4)
    return fail(r, "too short to be an IDX file (%lld bytes, a header needs at least 8)%s",
                (long long)n, cut_short(r));
  uint32_t magic = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
  if (h[0] != 0 || h[1] != 0 || h[2] != 0x08 || h[3] < 1 || h[3] > LC_IDX_MAX_DIMS)
    return fail(r, "bad magic number 0x%08x: expected an IDX file of unsigned bytes "
                   "(0x00000803 for images, 0x00000801 for labels)", (unsigned)magic);
  x->ndim = h[3];
  n = read_some(r, h + 4, 4 * x->ndim);
  if (n < 0) return -1;
  if (n < 4 * x->ndim)
    return fail(r, "truncated header: magic 0x%08x announces %d dimension sizes but the file "
                   "ends after %lld bytes%s", (unsigned)magic, x->ndim, (long long)(4 + n), cut_short(r));
  x->numel = 1;
  for (int d = 0; d < x->ndim; d++) {
    const unsigned char *p = h + 4 + 4 * d;
    x->dims[d] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    /* numel <= 2^40 and a size < 2^32: the product itself could overflow, so divide */
    if (x->dims[d] > MAX_PAYLOAD || (x->dims[d] && x->numel > MAX_PAYLOAD / x->dims[d])) {
      char dims[128];
      describe_dims(x, dims, sizeof dims);
      return fail(r, "implausible sizes in the header (%s...): a corrupt file", dims);
    }
    x->numel *= x->dims[d];
  }
  return 0;
}

/* The payload, growing the buffer as data arrives, so that a corrupt header promising
 * terabytes fails on the missing data rather than on an allocation. */
static int read_payload(reader *r, lc_idx *x)
{
  int64_t cap = x->numel < (64 << 20) ? x->numel : (64 << 20), got = 0;
  uint8_t *buf = malloc(cap > 0 ? (size_t)cap : 1);
  if (!buf) return fail(r, "out of memory reading %lld bytes", (long long)x->numel);
  for (;;) {
    int64_t n = read_some(r, buf + got, cap - got);
    if (n < 0) {
      free(buf);
      return -1;
    }
    got += n;
    if (got < cap || cap == x->numel) break;
    int64_t grown = cap * 2 < x->numel ? cap * 2 : x->numel;
    uint8_t *more = realloc(buf, (size_t)grown);
    if (!more) {
      free(buf);
      return fail(r, "out of memory reading %lld bytes", (long long)x->numel);
    }
    buf = more;
    cap = grown;
  }
  if (got < x->numel) {
    char dims[128];
    describe_dims(x, dims, sizeof dims);
    const char *why = cut_short(r);
    free(buf);
    int64_t item = x->dims[0] ? x->numel / x->dims[0] : 1;
    return fail(r, "truncated: the header promises %s = %lld bytes of data but the file holds "
                   "only %lld (%lld complete items of %lld)%s; the download may be incomplete",
                dims, (long long)x->numel, (long long)got, (long long)(item ? got / item : 0),
                (long long)x->dims[0], why);
  }
  x->data = buf;
  return 0;
}

/* Reading past the promised end also makes zlib check the gzip trailer (CRC and length). */
static int check_end(reader *r, const lc_idx *x)
{
  unsigned char scratch[1 << 14];
  int64_t extra = 0, n;
  while ((n = read_some(r, scratch, sizeof scratch)) > 0) extra += n;
  if (n < 0) return -1;
  if (extra > 0)
    return fail(r, "%lld bytes of trailing data after the %lld the header promises: not a "
                   "well-formed IDX file (wrong header, or two files joined?)",
                (long long)extra, (long long)x->numel);
  if (*cut_short(r)) return fail(r, "the gzip stream is cut short after the data (truncated file)");
  return 0;
}

int lc_idx_read(const char *path, lc_idx *out, char *err, size_t err_cap)
{
  memset(out, 0, sizeof *out);
  reader r = {NULL, path, err, err_cap};
  errno = 0;
  r.f = gzopen(path, "rb");
  if (!r.f) return fail(&r, "cannot open: %s", errno ? strerror(errno) : "out of memory");
  gzbuffer(r.f, 1 << 18);
  int status = read_header(&r, out);
  if (status == 0) status = read_payload(&r, out);
  if (status == 0) status = check_end(&r, out);
  gzclose_r(r.f);
  if (status != 0) lc_idx_free(out);
  return status;
}

void lc_idx_free(lc_idx *idx)
{
  free(idx->data);
  idx->data = NULL;
}

lc_tensor *lc_read_idx(const char *path)
{
  char err[1024];
  lc_idx x;
  if (lc_idx_read(path, &x, err, sizeof err) != 0) lc_error("read_idx: %s", err);
  lc_tensor *t = lc_empty(x.ndim, x.dims, LC_UINT8, LC_DEVICE_CPU);
  if (x.numel) memcpy(lc_data(t), x.data, (size_t)x.numel);
  lc_idx_free(&x);
  return t;
}
