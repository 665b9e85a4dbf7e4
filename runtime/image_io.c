/* JPEG and PNG decoding and encoding (see image_io.h).
 *
 * JPEG goes through TurboJPEG: one handle per call, TJFLAG_STOPONWARNING so libjpeg's
 * "premature end of data" warnings (a truncated file) are errors, not grey padding. PNG goes
 * through libpng with our own error and warning callbacks: errors longjmp back here with the
 * message kept, warnings are dropped, nothing is printed. */
#define _GNU_SOURCE /* strerror_r returning char * */
#include "runtime/image_io.h"
#include "runtime/errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

static const uint8_t PNG_MAGIC[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static int is_png(const uint8_t *b, size_t n) { return n >= 8 && memcmp(b, PNG_MAGIC, 8) == 0; }
static int is_jpeg(const uint8_t *b, size_t n) { return n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff; }

static int check_size(int64_t h, int64_t w, char *err, size_t errlen)
{
  if (h <= 0 || w <= 0) return lc_fail(err, errlen, "invalid size %lld x %lld in the header", (long long)w, (long long)h);
  /* PNG sizes go up to 2^32 - 1: divide rather than multiply (the fuzzer's 4294967295^2) */
  if (h > LC_IMAGE_MAX_PIXELS / w)
    return lc_fail(err, errlen, "%lld x %lld pixels is more than the %lld allowed (corrupt header?)",
                (long long)w, (long long)h, (long long)LC_IMAGE_MAX_PIXELS);
  return 0;
}

/* What sniffing found, for the error when it finds nothing. */
static int not_an_image(const uint8_t *b, size_t n, char *err, size_t errlen)
{
  if (n == 0) return lc_fail(err, errlen, "the data is empty (0 bytes)");
  char hex[3 * 8 + 1] = "";
  size_t k = n < 8 ? n : 8;
  for (size_t i = 0; i < k; i++) snprintf(hex + 3 * i, 4, "%02x ", b[i]);
  hex[3 * k - 1] = '\0';
  return lc_fail(err, errlen, "not a JPEG or PNG image (%zu bytes starting %s)", n, hex);
}

/* ---- channel conversion ---- */

/* ITU-R 601 luma in 16-bit fixed point, as PIL's RGB -> L. */
static inline uint8_t luma(const uint8_t *p)
{
  return (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
}

/* npix pixels of cin channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) -> cout (1, 3, 4). */
static void convert(const uint8_t *src, int cin, uint8_t *dst, int cout, size_t npix)
{
  for (size_t i = 0; i < npix; i++, src += cin, dst += cout) {
    uint8_t g, r, gg, b, a = 255;
    if (cin <= 2) {
      r = gg = b = g = src[0];
      if (cin == 2) a = src[1];
    } else {
      r = src[0], gg = src[1], b = src[2];
      if (cin == 4) a = src[3];
      g = cout == 1 ? luma(src) : 0;
    }
    if (cout == 1) {
      dst[0] = g;
    } else {
      dst[0] = r, dst[1] = gg, dst[2] = b;
      if (cout == 4) dst[3] = a;
    }
  }
}

/* cin channels in -> the channels ANY keeps. */
static int native_channels(int cin) { return cin == 1 ? 1 : cin == 3 ? 3 : 4; }

/* Replaces *data (cin channels) by a converted copy when cout differs. */
static int convert_in_place(uint8_t **data, int cin, int cout, size_t npix, char *err, size_t errlen)
{
  if (cin == cout) return 0;
  uint8_t *dst = malloc(npix * (size_t)cout);
  if (!dst) return lc_fail(err, errlen, "out of memory converting %zu pixels", npix);
  convert(*data, cin, dst, cout, npix);
  free(*data);
  *data = dst;
  return 0;
}

/* ---- JPEG ---- */

static int jpeg_header(tjhandle tj, const uint8_t *bytes, size_t n, int *w, int *h, int *cs,
                       char *err, size_t errlen)
{
  int subsamp;
  if (tjDecompressHeader3(tj, bytes, (unsigned long)n, w, h, &subsamp, cs) != 0)
    return lc_fail(err, errlen, "corrupt or truncated JPEG header: %s", tjGetErrorStr2(tj));
  return check_size(*h, *w, err, errlen);
}

static int decode_jpeg(const uint8_t *bytes, size_t n, int denom, int want_c, lc_image *out,
                       char *err, size_t errlen)
{
  tjhandle tj = tjInitDecompress();
  if (!tj) return lc_fail(err, errlen, "cannot start a JPEG decoder: %s", tjGetErrorStr2(NULL));
  uint8_t *data = NULL;
  int w, h, cs;
  if (jpeg_header(tj, bytes, n, &w, &h, &cs, err, errlen)) goto error;

  int nsf;
  tjscalingfactor *sfs = tjGetScalingFactors(&nsf), sf = {0, 0};
  for (int i = 0; sfs && i < nsf; i++)
    if (sfs[i].num == 1 && sfs[i].denom == denom) sf = sfs[i];
  if (!sf.num) {
    lc_fail(err, errlen, "this libjpeg-turbo cannot decode at scale 1/%d", denom);
    goto error;
  }
  int sw = TJSCALED(w, sf), sh = TJSCALED(h, sf);

  int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
  int native = cs == TJCS_GRAY ? 1 : 3;
  int c = want_c == LC_IMAGE_ANY ? native : want_c;
  /* libjpeg converts gray <-> colour itself; CMYK it leaves to us. */
  int pf = cmyk ? TJPF_CMYK : c == 1 ? TJPF_GRAY : c == 3 ? TJPF_RGB : TJPF_RGBA;
  int got_c = cmyk ? 4 : c;
  size_t npix = (size_t)sw * (size_t)sh;
  data = malloc(npix * (size_t)got_c);
  if (!data) {
    lc_fail(err, errlen, "out of memory for a %d x %d image", sw, sh);
    goto error;
  }
  if (tjDecompress2(tj, bytes, (unsigned long)n, data, sw, 0, sh, pf, TJFLAG_STOPONWARNING) != 0) {
    lc_fail(err, errlen, "corrupt or truncated JPEG data: %s", tjGetErrorStr2(tj));
    goto error;
  }
  if (cmyk) {
    /* Adobe writes inverted CMYK: stored c, m, y, k give R = c * k / 255 and so on. */
    for (size_t i = 0; i < npix; i++) {
      uint8_t *p = data + 4 * i;
      unsigned k = p[3];
      p[0] = (uint8_t)((p[0] * k + 127) / 255);
      p[1] = (uint8_t)((p[1] * k + 127) / 255);
      p[2] = (uint8_t)((p[2] * k + 127) / 255);
      p[3] = 255;
    }
    if (convert_in_place(&data, 4, c, npix, err, errlen)) goto error;
  }
  tjDestroy(tj);
  out->data = data, out->h = sh, out->w = sw, out->c = c;
  return 0;
error:
  free(data);
  tjDestroy(tj);
  return -1;
}

/* ---- PNG ---- */

typedef struct {
  const uint8_t *bytes;
  size_t n, pos;
  char msg[200];
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg)
{
  png_ctx *c = png_get_error_ptr(png);
  snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "unknown libpng error");
  png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static void png_read_mem(png_structp png, png_bytep dst, png_size_t len)
{
  png_ctx *c = png_get_io_ptr(png);
  if (c->n - c->pos < len) png_error(png, "truncated (the file ends early)");
  memcpy(dst, c->bytes + c->pos, len);
  c->pos += len;
}

static int decode_png(const uint8_t *bytes, size_t n, int want_c, lc_image *out, char *err,
                      size_t errlen)
{
  png_ctx ctx = {bytes, n, 0, ""};
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
  if (!png) return lc_fail(err, errlen, "cannot start a PNG decoder (out of memory)");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    return lc_fail(err, errlen, "cannot start a PNG decoder (out of memory)");
  }
  uint8_t *volatile data = NULL;
  png_bytep *volatile rows = NULL;
  if (setjmp(png_jmpbuf(png))) {
    free(data);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return lc_fail(err, errlen, "corrupt or truncated PNG: %s", ctx.msg);
  }
  png_set_read_fn(png, &ctx, png_read_mem);
  png_read_info(png, info);
  png_uint_32 w, h;
  int depth, ctype, interlace;
  png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
  if (check_size(h, w, err, errlen)) {
    png_destroy_read_struct(&png, &info, NULL);
    return -1;
  }
  png_set_expand(png); /* palette -> RGB, 1/2/4-bit gray -> 8, tRNS -> alpha */
  if (depth == 16) png_set_scale_16(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  int cin = png_get_channels(png, info);
  size_t rowbytes = png_get_rowbytes(png, info);
  if (cin < 1 || cin > 4 || rowbytes != (size_t)w * (size_t)cin)
    png_error(png, "unexpected pixel layout after conversion to 8 bits");
  data = malloc((size_t)h * rowbytes);
  rows = malloc((size_t)h * sizeof *rows);
  if (!data || !rows) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < h; y++) rows[y] = data + (size_t)y * rowbytes;
  png_read_image(png, rows);
  png_read_end(png, NULL); /* checks the rest (a missing IEND is a truncated file) */
  png_destroy_read_struct(&png, &info, NULL);
  free(rows);

  uint8_t *pixels = data;
  int c = want_c == LC_IMAGE_ANY ? native_channels(cin) : want_c;
  if (convert_in_place(&pixels, cin, c, (size_t)w * h, err, errlen)) {
    free(pixels);
    return -1;
  }
  out->data = pixels, out->h = (int)h, out->w = (int)w, out->c = c;
  return 0;
}

static uint32_t be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int probe_png(const uint8_t *b, size_t n, int *h, int *w, int *c, char *err, size_t errlen)
{
  if (n < 33 || memcmp(b + 12, "IHDR", 4) != 0 || be32(b + 8) != 13)
    return lc_fail(err, errlen, "corrupt or truncated PNG (no IHDR header)");
  uint32_t pw = be32(b + 16), ph = be32(b + 20);
  if (check_size(ph, pw, err, errlen)) return -1;
  int ctype = b[25], alpha = ctype & 4;
  int colour = ctype & 2;
  if (ctype != 0 && ctype != 2 && ctype != 3 && ctype != 4 && ctype != 6)
    return lc_fail(err, errlen, "corrupt PNG (colour type %d)", ctype);
  /* A tRNS chunk before the data turns into alpha, as decode does. */
  for (size_t pos = 33; !alpha && pos + 8 <= n;) {
    uint32_t len = be32(b + pos);
    if (memcmp(b + pos + 4, "tRNS", 4) == 0) alpha = 1;
    if (memcmp(b + pos + 4, "IDAT", 4) == 0 || len > n) break;
    pos += 12 + (size_t)len;
  }
  *h = (int)ph, *w = (int)pw;
  *c = alpha ? 4 : colour ? 3 : 1;
  return 0;
}

/* ---- public decode ---- */

int lc_image_decode(const uint8_t *bytes, size_t n, int scale_denom, int want_c, lc_image *out,
                    char *err, size_t errlen)
{
  if (out) out->data = NULL, out->h = out->w = out->c = 0;
  if (!out) return lc_fail(err, errlen, "no output image given");
  if (scale_denom != 1 && scale_denom != 2 && scale_denom != 4 && scale_denom != 8)
    return lc_fail(err, errlen, "scale_denom must be 1, 2, 4 or 8, got %d", scale_denom);
  if (want_c != LC_IMAGE_ANY && want_c != 1 && want_c != 3 && want_c != 4)
    return lc_fail(err, errlen, "channels must be 0 (any), 1, 3 or 4, got %d", want_c);
  if (!bytes && n) return lc_fail(err, errlen, "no data given");
  if (is_jpeg(bytes, n)) return decode_jpeg(bytes, n, scale_denom, want_c, out, err, errlen);
  if (is_png(bytes, n)) return decode_png(bytes, n, want_c, out, err, errlen);
  return not_an_image(bytes, n, err, errlen);
}

int lc_image_probe(const uint8_t *bytes, size_t n, int *h, int *w, int *c, char *err, size_t errlen)
{
  if (is_png(bytes, n)) return probe_png(bytes, n, h, w, c, err, errlen);
  if (!is_jpeg(bytes, n)) return not_an_image(bytes, n, err, errlen);
  tjhandle tj = tjInitDecompress();
  if (!tj) return lc_fail(err, errlen, "cannot start a JPEG decoder: %s", tjGetErrorStr2(NULL));
  int jw, jh, cs;
  int rc = jpeg_header(tj, bytes, n, &jw, &jh, &cs, err, errlen);
  tjDestroy(tj);
  if (rc) return -1;
  *h = jh, *w = jw, *c = cs == TJCS_GRAY ? 1 : 3;
  return 0;
}

/* Files are read into a buffer kept per thread (freed when the thread ends), so a loader
 * decoding thousands of small files allocates once instead of once a file. Files above
 * SCRATCH_KEEP get a buffer of their own, freed after the decode. */
#define SCRATCH_KEEP ((size_t)1 << 20)
typedef struct {
  size_t cap;
  uint8_t data[];
} scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_ok;
static void scratch_init(void) { scratch_ok = pthread_key_create(&scratch_key, free) == 0; }

/* A buffer of at least n bytes: the thread's (*own = 0) or a new one (*own = 1, to free). */
static uint8_t *buffer_for(size_t n, int *own)
{
  pthread_once(&scratch_once, scratch_init);
  *own = 0;
  if (scratch_ok && n <= SCRATCH_KEEP) {
    scratch *s = pthread_getspecific(scratch_key);
    if (s && s->cap >= n) return s->data;
    size_t cap = n < 65536 ? 65536 : n + n / 2 < SCRATCH_KEEP ? n + n / 2 : SCRATCH_KEEP;
    scratch *bigger = malloc(sizeof *bigger + cap);
    if (bigger && pthread_setspecific(scratch_key, bigger) == 0) {
      free(s);
      bigger->cap = cap;
      return bigger->data;
    }
    free(bigger);
  }
  *own = 1;
  return malloc(n ? n : 1);
}

/* Whole file into memory; on failure err says "cannot read 'path': why". */
static int slurp(const char *path, uint8_t **bytes, size_t *n, int *own, char *err, size_t errlen)
{
  char ebuf[128];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lc_fail(err, errlen, "cannot read '%s': %s", path, strerror_r(errno, ebuf, sizeof ebuf));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return lc_fail(err, errlen, "cannot read '%s': %s", path, strerror_r(e, ebuf, sizeof ebuf));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return lc_fail(err, errlen, "cannot read '%s': %s", path,
                S_ISDIR(st.st_mode) ? "it is a folder" : "not a regular file");
  }
  size_t size = (size_t)st.st_size, got = 0;
  uint8_t *buf = buffer_for(size, own);
  if (!buf) {
    close(fd);
    return lc_fail(err, errlen, "cannot read '%s': out of memory for %zu bytes", path, size);
  }
  while (got < size) {
    ssize_t r = read(fd, buf + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = r < 0 ? errno : 0;
      close(fd);
      if (*own) free(buf);
      return lc_fail(err, errlen, "cannot read '%s': %s", path,
                  e ? strerror_r(e, ebuf, sizeof ebuf) : "the file shrank while being read");
    }
    got += (size_t)r;
  }
  close(fd);
  *bytes = buf, *n = size;
  return 0;
}

int lc_image_read_file(const char *path, int scale_denom, int want_c, lc_image *out, char *err,
                       size_t errlen)
{
  if (out) out->data = NULL, out->h = out->w = out->c = 0;
  if (!path) return lc_fail(err, errlen, "no path given");
  uint8_t *bytes = NULL;
  size_t n = 0;
  int own = 0;
  if (slurp(path, &bytes, &n, &own, err, errlen)) return -1;
  char why[300];
  int rc = lc_image_decode(bytes, n, scale_denom, want_c, out, why, sizeof why);
  if (own) free(bytes);
  if (rc) return lc_fail(err, errlen, "cannot decode '%s': %s", path, why);
  return 0;
}

void lc_image_free(lc_image *img)
{
  if (!img) return;
  free(img->data);
  img->data = NULL;
  img->h = img->w = img->c = 0;
}

/* ---- writing ---- */

static int write_png(FILE *fp, const lc_image *img, char *err, size_t errlen)
{
  png_ctx ctx = {NULL, 0, 0, ""};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
  if (!png) return lc_fail(err, errlen, "cannot start a PNG encoder (out of memory)");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return lc_fail(err, errlen, "cannot start a PNG encoder (out of memory)");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return lc_fail(err, errlen, "PNG encoding failed (%s)", ctx.msg);
  }
  png_init_io(png, fp);
  int ctype = img->c == 1 ? PNG_COLOR_TYPE_GRAY : img->c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
  png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8, ctype, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  size_t rowbytes = (size_t)img->w * (size_t)img->c;
  for (int y = 0; y < img->h; y++) png_write_row(png, img->data + (size_t)y * rowbytes);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return 0;
}

static int write_jpeg(FILE *fp, const lc_image *img, int quality, char *err, size_t errlen)
{
  if (img->c == 4)
    return lc_fail(err, errlen, "JPEG has no alpha channel: give 1 or 3 channels, not 4 (or write a .png)");
  if (img->w > 65535 || img->h > 65535)
    return lc_fail(err, errlen, "JPEG images are at most 65535 pixels a side, got %d x %d", img->w, img->h);
  tjhandle tj = tjInitCompress();
  if (!tj) return lc_fail(err, errlen, "cannot start a JPEG encoder: %s", tjGetErrorStr2(NULL));
  unsigned char *jpeg = NULL;
  unsigned long size = 0;
  int samp = img->c == 1 ? TJSAMP_GRAY : quality >= 90 ? TJSAMP_444 : TJSAMP_420;
  int rc = tjCompress2(tj, img->data, img->w, 0, img->h, img->c == 1 ? TJPF_GRAY : TJPF_RGB, &jpeg,
                       &size, samp, quality, 0);
  if (rc != 0) {
    lc_fail(err, errlen, "JPEG encoding failed (%s)", tjGetErrorStr2(tj));
  } else if (fwrite(jpeg, 1, size, fp) != size) {
    char ebuf[128];
    rc = lc_fail(err, errlen, "write failed: %s", strerror_r(errno, ebuf, sizeof ebuf));
  }
  tjFree(jpeg);
  tjDestroy(tj);
  return rc ? -1 : 0;
}

static int ends_with(const char *s, const char *suffix)
{
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

int lc_image_write_file(const char *path, const lc_image *img, int jpeg_quality, char *err,
                        size_t errlen)
{
  if (!path) return lc_fail(err, errlen, "no path given");
  int png = ends_with(path, ".png");
  int jpeg = ends_with(path, ".jpg") || ends_with(path, ".jpeg");
  if (!png && !jpeg)
    return lc_fail(err, errlen, "cannot write '%s': unknown extension (expected .png, .jpg or .jpeg)", path);
  if (!img || !img->data || img->h <= 0 || img->w <= 0)
    return lc_fail(err, errlen, "cannot write '%s': empty image", path);
  if (img->c != 1 && img->c != 3 && img->c != 4)
    return lc_fail(err, errlen, "cannot write '%s': images have 1, 3 or 4 channels, got %d", path, img->c);
  if ((int64_t)img->h * img->w > LC_IMAGE_MAX_PIXELS)
    return lc_fail(err, errlen, "cannot write '%s': %d x %d pixels is too many", path, img->w, img->h);
  if (jpeg && (jpeg_quality < 1 || jpeg_quality > 100))
    return lc_fail(err, errlen, "cannot write '%s': JPEG quality must be in 1..100, got %d", path, jpeg_quality);

  static atomic_uint counter;
  size_t tlen = strlen(path) + 64;
  char *tmp = malloc(tlen);
  if (!tmp) return lc_fail(err, errlen, "cannot write '%s': out of memory", path);
  snprintf(tmp, tlen, "%s.tmp-%ld-%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
  char ebuf[128], why[300] = "";
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (!fp) {
    int e = errno;
    if (fd >= 0) close(fd);
    free(tmp);
    return lc_fail(err, errlen, "cannot write '%s': %s", path, strerror_r(e, ebuf, sizeof ebuf));
  }
  int rc = png ? write_png(fp, img, why, sizeof why) : write_jpeg(fp, img, jpeg_quality, why, sizeof why);
  if (fflush(fp) != 0 && rc == 0) rc = lc_fail(why, sizeof why, "%s", strerror_r(errno, ebuf, sizeof ebuf));
  if (fclose(fp) != 0 && rc == 0) rc = lc_fail(why, sizeof why, "%s", strerror_r(errno, ebuf, sizeof ebuf));
  if (rc == 0 && rename(tmp, path) != 0) rc = lc_fail(why, sizeof why, "%s", strerror_r(errno, ebuf, sizeof ebuf));
  if (rc) remove(tmp);
  free(tmp);
  return rc ? lc_fail(err, errlen, "cannot write '%s': %s", path, why) : 0;
}
