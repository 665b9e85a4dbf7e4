/* runtime/image_io: PNGs of every colour type and JPEGs made here with libpng and TurboJPEG,
 * decoded with our API and compared pixel by pixel (PNG exactly, JPEG within the codec's
 * error); DCT-scaled JPEG sizes; truncated and corrupted files at many positions (always -1
 * with a message, never a crash); file errors naming the file; atomic writes; threads. */
#define _GNU_SOURCE
#include "runtime/image_io.h"

#include <dirent.h>
#include <math.h>
#include <png.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zlib.h>

#include "tests/c/test_kernels_check.h"

/* ---- a tiny deterministic generator ---- */
static uint32_t img_rng_state = 12345;
static uint32_t rnd(void)
{
  img_rng_state ^= img_rng_state << 13;
  img_rng_state ^= img_rng_state >> 17;
  img_rng_state ^= img_rng_state << 5;
  return img_rng_state;
}

/* ---- PNG encoding into memory, with libpng ---- */
typedef struct {
  uint8_t *p;
  size_t n, cap;
} buf;

static void buf_put(buf *b, const void *src, size_t n)
{
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}

static void png_write_mem(png_structp png, png_bytep src, png_size_t n) { buf_put(png_get_io_ptr(png), src, n); }
static void png_flush_mem(png_structp png) { (void)png; }

typedef struct {
  int npalette;
  png_color palette[256];
  int ntrans;
  uint8_t trans[256];
  png_color_16 trans_color; /* for gray / RGB tRNS */
  int has_trans_color;
} png_extra;

/* samples: rows of packed samples exactly as libpng expects them (16-bit big-endian). */
static buf make_png(int w, int h, int ctype, int depth, int interlace, const uint8_t *samples,
                    const png_extra *extra)
{
  buf out = {0};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    fprintf(stderr, "test PNG encoding failed\n");
    exit(1);
  }
  png_set_write_fn(png, &out, png_write_mem, png_flush_mem);
  png_set_IHDR(png, info, w, h, depth, ctype, interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (extra && extra->npalette) png_set_PLTE(png, info, extra->palette, extra->npalette);
  if (extra && (extra->ntrans || extra->has_trans_color))
    png_set_tRNS(png, info, extra->ntrans ? extra->trans : NULL, extra->ntrans,
                 extra->has_trans_color ? (png_color_16p)&extra->trans_color : NULL);
  png_write_info(png, info);
  int channels = ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_PALETTE ? 1
                 : ctype == PNG_COLOR_TYPE_GRAY_ALPHA                           ? 2
                 : ctype == PNG_COLOR_TYPE_RGB                                  ? 3
                                                                                : 4;
  size_t rowbytes = ((size_t)w * channels * depth + 7) / 8;
  png_bytep *rows = malloc(h * sizeof *rows);
  for (int y = 0; y < h; y++) rows[y] = (png_bytep)samples + y * rowbytes;
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  free(rows);
  return out;
}

static buf make_jpeg(const uint8_t *pixels, int w, int h, int pf, int samp, int quality, int flags)
{
  tjhandle tj = tjInitCompress();
  unsigned char *jpeg = NULL;
  unsigned long size = 0;
  if (tjCompress2(tj, pixels, w, 0, h, pf, &jpeg, &size, samp, quality, flags) != 0) {
    fprintf(stderr, "test JPEG encoding failed: %s\n", tjGetErrorStr2(tj));
    exit(1);
  }
  buf out = {0};
  buf_put(&out, jpeg, size);
  tjFree(jpeg);
  tjDestroy(tj);
  return out;
}

/* A smooth image with some edges (JPEG-friendly but not trivial). */
static uint8_t *smooth_rgb(int w, int h, int c)
{
  uint8_t *p = malloc((size_t)w * h * c);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < c; k++) {
        double v = 128 + 90 * sin((x + 2 * k) * 0.15) * cos((y - k) * 0.11) + ((x / 16 + y / 16) % 2 ? 20 : -20);
        p[((size_t)y * w + x) * c + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
      }
  return p;
}

static int decode(const buf *b, int denom, int want, lc_image *out, char *err)
{
  return lc_image_decode(b->p, b->n, denom, want, out, err, 512);
}

/* ---- checks ---- */

static int same_bytes(const uint8_t *a, const uint8_t *b, size_t n, size_t *at)
{
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) {
      *at = i;
      return 0;
    }
  return 1;
}

/* Decodes b with want channels; checks shape and exact pixels against expect (HWC). */
static void check_exact(const char *what, const buf *b, int want, int w, int h, int c, const uint8_t *expect)
{
  lc_image img;
  char err[512] = "";
  int rc = decode(b, 1, want, &img, err);
  if (!check(rc == 0, "%s (want %d): decodes (%s)", what, want, err)) return;
  if (check(img.w == w && img.h == h && img.c == c, "%s (want %d): shape %dx%dx%d, expected %dx%dx%d", what, want,
            img.h, img.w, img.c, h, w, c)) {
    size_t at = 0;
    int ok = same_bytes(img.data, expect, (size_t)w * h * c, &at);
    check(ok, "%s (want %d): pixels exact%s", what, want, ok ? "" : " -- first difference below");
    if (!ok) printf("     at byte %zu: got %d, want %d\n", at, img.data[at], expect[at]);
  }
  lc_image_free(&img);
  check(img.data == NULL, "%s: lc_image_free clears the image", what);
}

static void check_probe(const char *what, const buf *b, int w, int h, int c)
{
  int ph = 0, pw = 0, pc = 0;
  char err[512] = "";
  int rc = lc_image_probe(b->p, b->n, &ph, &pw, &pc, err, sizeof err);
  check(rc == 0 && ph == h && pw == w && pc == c, "%s: probe says %dx%dx%d (%s), expected %dx%dx%d", what, ph, pw,
        pc, err, h, w, c);
}

static uint8_t luma_ref(int r, int g, int b) { return (uint8_t)floor(0.299 * r + 0.587 * g + 0.114 * b + 0.5); }

/* expand cin-channel HWC pixels to cout the way the API documents (gray from luma). */
static uint8_t *expand(const uint8_t *src, int cin, int cout, size_t npix)
{
  uint8_t *d = malloc(npix * cout);
  for (size_t i = 0; i < npix; i++) {
    const uint8_t *s = src + i * cin;
    uint8_t r, g, b, a = 255, y;
    if (cin <= 2) r = g = b = y = s[0], a = cin == 2 ? s[1] : 255;
    else r = s[0], g = s[1], b = s[2], a = cin == 4 ? s[3] : 255, y = luma_ref(r, g, b);
    uint8_t *o = d + i * cout;
    if (cout == 1) o[0] = y;
    else {
      o[0] = r, o[1] = g, o[2] = b;
      if (cout == 4) o[3] = a;
    }
  }
  return d;
}

/* gray from colour: PIL's fixed point may differ from the float formula by 1 at halves. */
static void check_gray_of(const char *what, const buf *b, int w, int h, const uint8_t *rgb, int cin)
{
  lc_image img;
  char err[512] = "";
  if (!check(decode(b, 1, LC_IMAGE_GRAY, &img, err) == 0 && img.c == 1, "%s -> gray decodes (%s)", what, err))
    return;
  int worst = 0;
  for (size_t i = 0; i < (size_t)w * h; i++) {
    const uint8_t *s = rgb + i * cin;
    int d = abs((int)img.data[i] - (int)luma_ref(s[0], s[1], s[2]));
    if (d > worst) worst = d;
  }
  check(worst <= 1, "%s -> gray is 0.299 R + 0.587 G + 0.114 B (worst difference %d)", what, worst);
  lc_image_free(&img);
}

static void test_png_colour_types(void)
{
  const int w = 37, h = 23; /* odd sizes: no row happens to be aligned */
  size_t np = (size_t)w * h;
  uint8_t *s = malloc(np * 8);
  char what[64];

  /* 8-bit gray, gray+alpha, RGB, RGBA; plain and interlaced */
  const int types[4] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGBA};
  const char *names[4] = {"gray", "gray+alpha", "RGB", "RGBA"};
  const int cins[4] = {1, 2, 3, 4};
  for (int interlace = 0; interlace < 2; interlace++)
    for (int t = 0; t < 4; t++) {
      int cin = cins[t];
      for (size_t i = 0; i < np * cin; i++) s[i] = (uint8_t)rnd();
      buf b = make_png(w, h, types[t], 8, interlace, s, NULL);
      snprintf(what, sizeof what, "PNG %s 8-bit%s", names[t], interlace ? " interlaced" : "");
      int native = cin == 1 ? 1 : cin == 3 ? 3 : 4;
      uint8_t *e = expand(s, cin, native, np);
      check_exact(what, &b, LC_IMAGE_ANY, w, h, native, e);
      free(e);
      const int wants[2] = {LC_IMAGE_RGB, LC_IMAGE_RGBA};
      for (int k = 0; k < 2; k++) {
        e = expand(s, cin, wants[k], np);
        check_exact(what, &b, wants[k], w, h, wants[k], e);
        free(e);
      }
      if (cin <= 2) {
        e = expand(s, cin, 1, np);
        check_exact(what, &b, LC_IMAGE_GRAY, w, h, 1, e);
        free(e);
      } else {
        check_gray_of(what, &b, w, h, s, cin);
      }
      check_probe(what, &b, w, h, native);
      free(b.p);
    }

  /* 16-bit gray and RGBA: scaled to 8 bits by rounding v / 257 */
  for (int t = 0; t < 2; t++) {
    int cin = t == 0 ? 1 : 4;
    uint16_t *v = malloc(np * cin * sizeof *v);
    for (size_t i = 0; i < np * cin; i++) {
      v[i] = (uint16_t)rnd();
      if (i < 4) v[i] = (uint16_t[]){0, 65535, 128, 32767}[i]; /* the ends and halves */
      s[2 * i] = (uint8_t)(v[i] >> 8), s[2 * i + 1] = (uint8_t)v[i];
    }
    buf b = make_png(w, h, t == 0 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGBA, 16, 0, s, NULL);
    uint8_t *e = malloc(np * cin);
    for (size_t i = 0; i < np * cin; i++) e[i] = (uint8_t)floor(v[i] / 257.0 + 0.5);
    snprintf(what, sizeof what, "PNG %s 16-bit", t == 0 ? "gray" : "RGBA");
    check_exact(what, &b, LC_IMAGE_ANY, w, h, cin, e);
    check_probe(what, &b, w, h, cin);
    free(e), free(v), free(b.p);
  }

  /* 4-bit gray, packed two pixels a byte: v -> v * 17 */
  {
    size_t rowbytes = (w + 1) / 2;
    uint8_t *e = malloc(np);
    memset(s, 0, rowbytes * h);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        int v = rnd() & 15;
        s[y * rowbytes + x / 2] |= (uint8_t)(x % 2 ? v : v << 4);
        e[y * w + x] = (uint8_t)(v * 17);
      }
    buf b = make_png(w, h, PNG_COLOR_TYPE_GRAY, 4, 0, s, NULL);
    check_exact("PNG gray 4-bit", &b, LC_IMAGE_ANY, w, h, 1, e);
    free(e), free(b.p);
  }

  /* palette: 8-bit indices into 200 colours, without and with tRNS (-> alpha) */
  for (int trns = 0; trns < 2; trns++) {
    png_extra x = {0};
    x.npalette = 200;
    for (int i = 0; i < 200; i++) x.palette[i] = (png_color){(uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd()};
    if (trns) {
      x.ntrans = 50; /* the first 50 entries have alpha; the others are opaque */
      for (int i = 0; i < 50; i++) x.trans[i] = (uint8_t)rnd();
    }
    int c = trns ? 4 : 3;
    uint8_t *e = malloc(np * c);
    for (size_t i = 0; i < np; i++) {
      int k = (int)(rnd() % 200);
      s[i] = (uint8_t)k;
      e[i * c] = x.palette[k].red, e[i * c + 1] = x.palette[k].green, e[i * c + 2] = x.palette[k].blue;
      if (trns) e[i * c + 3] = k < 50 ? x.trans[k] : 255;
    }
    buf b = make_png(w, h, PNG_COLOR_TYPE_PALETTE, 8, trns, s, &x); /* the tRNS one also interlaced */
    snprintf(what, sizeof what, "PNG palette%s", trns ? " + tRNS, interlaced" : "");
    check_exact(what, &b, LC_IMAGE_ANY, w, h, c, e);
    check_probe(what, &b, w, h, c);
    if (trns) { /* RGB drops the alpha */
      uint8_t *rgb = expand(e, 4, 3, np);
      check_exact(what, &b, LC_IMAGE_RGB, w, h, 3, rgb);
      free(rgb);
    }
    free(e), free(b.p);
  }

  /* gray with a tRNS colour: that gray becomes transparent */
  {
    png_extra x = {0};
    x.has_trans_color = 1;
    x.trans_color.gray = 7;
    uint8_t *e = malloc(np * 4);
    for (size_t i = 0; i < np; i++) {
      s[i] = (uint8_t)(rnd() % 16);
      e[4 * i] = e[4 * i + 1] = e[4 * i + 2] = s[i];
      e[4 * i + 3] = s[i] == 7 ? 0 : 255;
    }
    buf b = make_png(w, h, PNG_COLOR_TYPE_GRAY, 8, 0, s, &x);
    check_exact("PNG gray + tRNS colour", &b, LC_IMAGE_ANY, w, h, 4, e);
    check_probe("PNG gray + tRNS colour", &b, w, h, 4);
    free(e), free(b.p);
  }
  free(s);
}

/* mean and max |a - b| over n bytes */
static void diff_stats(const uint8_t *a, const uint8_t *b, size_t n, double *mean, int *max)
{
  double sum = 0;
  *max = 0;
  for (size_t i = 0; i < n; i++) {
    int d = abs((int)a[i] - (int)b[i]);
    sum += d;
    if (d > *max) *max = d;
  }
  *mean = sum / (double)n;
}

static void test_jpeg(void)
{
  const int w = 101, h = 77;
  size_t np = (size_t)w * h;
  uint8_t *rgb = smooth_rgb(w, h, 3);
  char err[512];
  double mean;
  int max;

  /* RGB, baseline 4:4:4 and progressive 4:2:0 */
  for (int prog = 0; prog < 2; prog++) {
    buf b = make_jpeg(rgb, w, h, TJPF_RGB, prog ? TJSAMP_420 : TJSAMP_444, 95, prog ? TJFLAG_PROGRESSIVE : 0);
    const char *what = prog ? "JPEG RGB progressive 4:2:0" : "JPEG RGB 4:4:4";
    lc_image img;
    int rc = decode(&b, 1, LC_IMAGE_ANY, &img, err);
    if (check(rc == 0 && img.w == w && img.h == h && img.c == 3, "%s decodes to %dx%dx3 (%s)", what, h, w,
              rc ? err : "ok")) {
      diff_stats(img.data, rgb, np * 3, &mean, &max);
      check(mean < 2.5 && max < 40, "%s: close to the original (mean |diff| %.2f, max %d)", what, mean, max);
    }
    lc_image_free(&img);
    check_probe(what, &b, w, h, 3);

    /* RGBA: the same colours, alpha 255; gray: luma of them */
    if (check(decode(&b, 1, LC_IMAGE_RGBA, &img, err) == 0 && img.c == 4, "%s as RGBA decodes", what)) {
      int alpha_ok = 1;
      for (size_t i = 0; i < np; i++) alpha_ok &= img.data[4 * i + 3] == 255;
      uint8_t *rgb_back = expand(img.data, 4, 3, np);
      diff_stats(rgb_back, rgb, np * 3, &mean, &max);
      check(alpha_ok && mean < 2.5, "%s as RGBA: alpha 255, colours close (mean %.2f)", what, mean);
      free(rgb_back);
    }
    lc_image_free(&img);
    if (check(decode(&b, 1, LC_IMAGE_GRAY, &img, err) == 0 && img.c == 1, "%s as gray decodes", what)) {
      uint8_t *y = expand(rgb, 3, 1, np);
      diff_stats(img.data, y, np, &mean, &max);
      check(mean < 2.5, "%s as gray: close to the luma of the original (mean %.2f)", what, mean);
      free(y);
    }
    lc_image_free(&img);

    /* DCT scaling: sizes ceil(dim / denom), content close to the box-averaged original */
    for (int denom = 2; denom <= 8; denom *= 2) {
      int ew = (w + denom - 1) / denom, eh = (h + denom - 1) / denom;
      rc = decode(&b, denom, LC_IMAGE_ANY, &img, err);
      if (check(rc == 0 && img.w == ew && img.h == eh && img.c == 3, "%s at 1/%d: %dx%d (got %dx%d)", what, denom,
                eh, ew, img.h, img.w)) {
        double sum = 0;
        int n = 0;
        for (int y = 0; y < h / denom; y++) /* whole blocks only */
          for (int x = 0; x < w / denom; x++)
            for (int k = 0; k < 3; k++) {
              double avg = 0;
              for (int dy = 0; dy < denom; dy++)
                for (int dx = 0; dx < denom; dx++) avg += rgb[(((size_t)y * denom + dy) * w + x * denom + dx) * 3 + k];
              avg /= denom * denom;
              sum += fabs(img.data[((size_t)y * ew + x) * 3 + k] - avg);
              n++;
            }
        check(sum / n < 6, "%s at 1/%d: close to the box average (mean |diff| %.2f)", what, denom, sum / n);
      }
      lc_image_free(&img);
    }
    free(b.p);
  }

  /* gray JPEG: one channel natively; as RGB three equal channels */
  {
    uint8_t *gray = smooth_rgb(w, h, 1);
    buf b = make_jpeg(gray, w, h, TJPF_GRAY, TJSAMP_GRAY, 95, 0);
    lc_image img;
    if (check(decode(&b, 1, LC_IMAGE_ANY, &img, err) == 0 && img.c == 1 && img.w == w && img.h == h,
              "JPEG gray decodes to 1 channel")) {
      diff_stats(img.data, gray, np, &mean, &max);
      check(mean < 2 && max < 30, "JPEG gray: close (mean %.2f, max %d)", mean, max);
    }
    lc_image_free(&img);
    if (check(decode(&b, 1, LC_IMAGE_RGB, &img, err) == 0 && img.c == 3, "JPEG gray as RGB decodes")) {
      int equal = 1;
      for (size_t i = 0; i < np; i++) equal &= img.data[3 * i] == img.data[3 * i + 1] && img.data[3 * i] == img.data[3 * i + 2];
      check(equal, "JPEG gray as RGB: three equal channels");
    }
    lc_image_free(&img);
    if (check(decode(&b, 4, LC_IMAGE_ANY, &img, err) == 0, "JPEG gray at 1/4 decodes"))
      check(img.w == 26 && img.h == 20 && img.c == 1, "JPEG gray at 1/4: 20x26x1 (got %dx%dx%d)", img.h, img.w, img.c);
    lc_image_free(&img);
    check_probe("JPEG gray", &b, w, h, 1);
    free(b.p), free(gray);
  }

  /* CMYK (written as YCCK, Adobe-inverted): k = 255 gives back c, m, y as R, G, B; k = 128 halves them */
  for (int kk = 0; kk < 2; kk++) {
    int k = kk ? 128 : 255;
    uint8_t *cmyk = malloc(np * 4);
    for (size_t i = 0; i < np; i++) {
      memcpy(cmyk + 4 * i, rgb + 3 * i, 3);
      cmyk[4 * i + 3] = (uint8_t)k;
    }
    buf b = make_jpeg(cmyk, w, h, TJPF_CMYK, TJSAMP_444, 95, 0);
    lc_image img;
    if (check(decode(&b, 1, LC_IMAGE_ANY, &img, err) == 0 && img.c == 3, "JPEG CMYK (k=%d) decodes to RGB (%s)", k,
              err)) {
      uint8_t *e = malloc(np * 3);
      for (size_t i = 0; i < np * 3; i++) e[i] = (uint8_t)((rgb[i] * k + 127) / 255);
      diff_stats(img.data, e, np * 3, &mean, &max);
      check(mean < 3, "JPEG CMYK (k=%d): R = C K / 255 (mean |diff| %.2f)", k, mean);
      free(e);
    }
    lc_image_free(&img);
    free(cmyk), free(b.p);
  }
  free(rgb);
}

/* Every prefix of a file must fail cleanly, with a message and no image. */
static void check_truncations(const char *what, const buf *b)
{
  int bad = 0, first_bad = -1;
  char err[512];
  for (size_t n = 0; n < b->n; n++) {
    lc_image img = {(uint8_t *)1, 1, 1, 1};
    err[0] = '\0';
    int rc = lc_image_decode(b->p, n, 1, LC_IMAGE_ANY, &img, err, sizeof err);
    if (rc != -1 || err[0] == '\0' || img.data != NULL) {
      if (first_bad < 0) first_bad = (int)n;
      bad++;
      if (rc == 0) lc_image_free(&img);
    }
  }
  check(bad == 0, "%s: each of its %zu truncations fails with a message (%d did not, first at %d bytes)", what,
        b->n, bad, first_bad);
  /* and a sample message says what is wrong */
  lc_image img;
  lc_image_decode(b->p, b->n * 2 / 3, 1, LC_IMAGE_ANY, &img, err, sizeof err);
  check(strstr(err, "truncated") != NULL || strstr(err, "Premature") || strstr(err, "end"),
        "%s cut at 2/3: the message says so: %s", what, err);
}

/* Byte flips: never a crash; PNG's CRCs catch every one after the signature. */
static void check_corruptions(const char *what, const buf *b, int must_fail, int tries)
{
  uint8_t *copy = malloc(b->n);
  int failed = 0, decoded = 0, no_msg = 0;
  char err[512];
  for (int t = 0; t < tries; t++) {
    memcpy(copy, b->p, b->n);
    size_t at = 8 + rnd() % (b->n - 8);
    int nflips = 1 + (int)(rnd() % 3);
    for (int f = 0; f < nflips; f++) copy[(at + 7 * f) % b->n] ^= (uint8_t)(1 + rnd() % 255);
    lc_image img;
    err[0] = '\0';
    int rc = lc_image_decode(copy, b->n, 1, LC_IMAGE_ANY, &img, err, sizeof err);
    if (rc == 0) {
      decoded++;
      lc_image_free(&img);
    } else {
      failed++;
      if (!err[0] || img.data) no_msg++;
    }
  }
  check(no_msg == 0, "%s: %d corrupted copies: %d failed (each with a message), %d still decoded", what, tries,
        failed, decoded);
  if (must_fail) check(decoded == 0, "%s: every corrupted copy fails (%d decoded)", what, decoded);
  free(copy);
}

static uint32_t crc_of(const uint8_t *p, size_t n) { return (uint32_t)crc32(0, p, (uInt)n); }

static void put_be32(uint8_t *p, uint32_t v) { p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = (uint8_t)v; }

static void test_bad_data(void)
{
  const int w = 40, h = 30;
  uint8_t *rgb = smooth_rgb(w, h, 3);
  buf png = make_png(w, h, PNG_COLOR_TYPE_RGB, 8, 0, rgb, NULL);
  buf ipng = make_png(w, h, PNG_COLOR_TYPE_RGB, 8, 1, rgb, NULL);
  buf jpg = make_jpeg(rgb, w, h, TJPF_RGB, TJSAMP_420, 90, 0);
  buf pjpg = make_jpeg(rgb, w, h, TJPF_RGB, TJSAMP_420, 90, TJFLAG_PROGRESSIVE);
  check_truncations("PNG", &png);
  check_truncations("interlaced PNG", &ipng);
  check_truncations("JPEG", &jpg);
  check_truncations("progressive JPEG", &pjpg);
  check_corruptions("PNG", &png, 1, 400);
  check_corruptions("JPEG", &jpg, 0, 400);
  check_corruptions("progressive JPEG", &pjpg, 0, 400);

  char err[512];
  lc_image img;
  /* a JPEG header claiming 60000 x 60000 (3.6e9 pixels) is refused before any allocation */
  {
    buf big = {0};
    buf_put(&big, jpg.p, jpg.n);
    int patched = 0;
    for (size_t i = 0; i + 9 < big.n; i++)
      if (big.p[i] == 0xff && big.p[i + 1] == 0xc0) {
        put_be32(big.p + i + 5, (60000u << 16) | 60000u); /* height, width */
        patched = 1;
        break;
      }
    int rc = decode(&big, 1, LC_IMAGE_ANY, &img, err);
    check(patched && rc == -1 && strstr(err, "pixels"), "JPEG claiming 60000x60000: refused: %s", err);
    int ph, pw, pc;
    rc = lc_image_probe(big.p, big.n, &ph, &pw, &pc, err, sizeof err);
    check(rc == -1 && strstr(err, "pixels"), "JPEG claiming 60000x60000: probe refuses too: %s", err);
    free(big.p);
  }
  /* the same for a PNG IHDR (with a valid CRC, so libpng itself accepts it) */
  {
    buf big = {0};
    buf_put(&big, png.p, png.n);
    put_be32(big.p + 16, 100000), put_be32(big.p + 20, 100000);
    put_be32(big.p + 29, crc_of(big.p + 12, 17));
    int rc = decode(&big, 1, LC_IMAGE_ANY, &img, err);
    check(rc == -1 && strstr(err, "pixels"), "PNG claiming 100000x100000: refused: %s", err);
    free(big.p);
  }
  /* not images at all, or nothing */
  {
    const char *text = "hello, this is not an image";
    int rc = lc_image_decode((const uint8_t *)text, strlen(text), 1, LC_IMAGE_ANY, &img, err, sizeof err);
    check(rc == -1 && strstr(err, "not a JPEG or PNG"), "text: %s", err);
    rc = lc_image_decode((const uint8_t *)"", 0, 1, LC_IMAGE_ANY, &img, err, sizeof err);
    check(rc == -1 && strstr(err, "empty"), "0 bytes: %s", err);
    rc = lc_image_decode(NULL, 0, 1, LC_IMAGE_ANY, &img, err, sizeof err);
    check(rc == -1 && img.data == NULL, "NULL, 0 bytes: %s", err);
  }
  /* bad arguments */
  {
    int rc = decode(&jpg, 3, LC_IMAGE_ANY, &img, err);
    check(rc == -1 && strstr(err, "scale"), "scale 1/3 refused: %s", err);
    rc = decode(&jpg, 1, 2, &img, err);
    check(rc == -1 && strstr(err, "channels"), "2 channels refused: %s", err);
    rc = decode(&png, 8, LC_IMAGE_ANY, &img, err);
    check(rc == 0 && img.w == w && img.h == h, "PNG at scale 1/8 decodes full size");
    lc_image_free(&img);
  }
  free(png.p), free(ipng.p), free(jpg.p), free(pjpg.p), free(rgb);
}

static int write_file(const char *path, const buf *b)
{
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  if (b->n) fwrite(b->p, 1, b->n, f);
  return fclose(f);
}

static int count_temp_files(const char *dir)
{
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp-") != NULL;
  if (d) closedir(d);
  return n;
}

static void test_files(const char *dir)
{
  char path[1024], err[512];
  lc_image img;
  const int w = 33, h = 17;
  uint8_t *rgba = smooth_rgb(w, h, 4);

  /* missing file, a folder, an empty file, a text file, a truncated JPEG: -1, naming the file */
  snprintf(path, sizeof path, "%s/missing.jpg", dir);
  int rc = lc_image_read_file(path, 1, LC_IMAGE_ANY, &img, err, sizeof err);
  check(rc == -1 && strstr(err, path) && strstr(err, "No such file"), "missing file: %s", err);
  rc = lc_image_read_file(dir, 1, LC_IMAGE_ANY, &img, err, sizeof err);
  check(rc == -1 && strstr(err, dir) && strstr(err, "folder"), "a folder: %s", err);
  snprintf(path, sizeof path, "%s/empty.png", dir);
  buf empty = {0};
  write_file(path, &empty);
  rc = lc_image_read_file(path, 1, LC_IMAGE_ANY, &img, err, sizeof err);
  check(rc == -1 && strstr(err, path) && strstr(err, "empty"), "empty file: %s", err);
  {
    buf jpg = make_jpeg(rgba, w, h, TJPF_RGBA, TJSAMP_444, 90, 0);
    jpg.n = jpg.n * 3 / 4;
    snprintf(path, sizeof path, "%s/cut.jpg", dir);
    write_file(path, &jpg);
    rc = lc_image_read_file(path, 1, LC_IMAGE_ANY, &img, err, sizeof err);
    check(rc == -1 && strstr(err, "cannot decode") && strstr(err, path), "truncated JPEG file: %s", err);
    free(jpg.p);
  }

  /* PNG round trips are exact for 1, 3 and 4 channels, and leave no temporary file */
  for (int c = 1; c <= 4; c++) {
    if (c == 2) continue;
    uint8_t *px = expand(rgba, 4, c, (size_t)w * h);
    lc_image src = {px, h, w, c};
    snprintf(path, sizeof path, "%s/round%d.png", dir, c);
    rc = lc_image_write_file(path, &src, 95, err, sizeof err);
    if (check(rc == 0, "write %d-channel PNG (%s)", c, rc ? err : "ok")) {
      rc = lc_image_read_file(path, 1, LC_IMAGE_ANY, &img, err, sizeof err);
      size_t at;
      check(rc == 0 && img.c == c && img.w == w && img.h == h && same_bytes(img.data, px, (size_t)w * h * c, &at),
            "%d-channel PNG round trip is exact", c);
      lc_image_free(&img);
    }
    free(px);
  }
  /* overwriting an existing file works (rename replaces it) */
  {
    lc_image src = {rgba, h, w, 4};
    snprintf(path, sizeof path, "%s/round3.png", dir);
    rc = lc_image_write_file(path, &src, 95, err, sizeof err);
    check(rc == 0 && lc_image_read_file(path, 1, LC_IMAGE_ANY, &img, err, sizeof err) == 0 && img.c == 4,
          "overwriting a PNG replaces it");
    lc_image_free(&img);
  }
  /* JPEG: close at quality 95 (.jpg and .JPEG), refuses alpha and bad qualities */
  {
    uint8_t *rgb = expand(rgba, 4, 3, (size_t)w * h);
    lc_image src = {rgb, h, w, 3};
    const char *names[2] = {"q.jpg", "Q.JPEG"};
    for (int k = 0; k < 2; k++) {
      snprintf(path, sizeof path, "%s/%s", dir, names[k]);
      rc = lc_image_write_file(path, &src, 95, err, sizeof err);
      if (check(rc == 0, "write %s (%s)", names[k], rc ? err : "ok")) {
        rc = lc_image_read_file(path, 1, LC_IMAGE_ANY, &img, err, sizeof err);
        double mean;
        int max;
        if (check(rc == 0 && img.c == 3 && img.w == w && img.h == h, "%s reads back 3 channels", names[k])) {
          diff_stats(img.data, rgb, (size_t)w * h * 3, &mean, &max);
          check(mean < 2.5, "%s round trip is close (mean |diff| %.2f, max %d)", names[k], mean, max);
        }
        lc_image_free(&img);
      }
    }
    lc_image gray = {rgb, h * 3, w, 1}; /* the same bytes as a taller gray image */
    snprintf(path, sizeof path, "%s/gray.jpg", dir);
    rc = lc_image_write_file(path, &gray, 90, err, sizeof err);
    check(rc == 0 && lc_image_read_file(path, 1, LC_IMAGE_ANY, &img, err, sizeof err) == 0 && img.c == 1 &&
              img.h == h * 3,
          "gray JPEG written and read back with 1 channel");
    lc_image_free(&img);
    lc_image four = {rgba, h, w, 4};
    snprintf(path, sizeof path, "%s/alpha.jpg", dir);
    rc = lc_image_write_file(path, &four, 90, err, sizeof err);
    check(rc == -1 && strstr(err, "alpha") && access(path, F_OK) != 0, "RGBA to JPEG refused: %s", err);
    rc = lc_image_write_file(path, &src, 0, err, sizeof err);
    check(rc == -1 && strstr(err, "quality"), "quality 0 refused: %s", err);
    free(rgb);
  }
  /* unknown extension, missing folder, bad images */
  {
    lc_image src = {rgba, h, w, 4};
    snprintf(path, sizeof path, "%s/x.bmp", dir);
    rc = lc_image_write_file(path, &src, 90, err, sizeof err);
    check(rc == -1 && strstr(err, "extension") && access(path, F_OK) != 0, "unknown extension refused: %s", err);
    snprintf(path, sizeof path, "%s/no/such/dir/x.png", dir);
    rc = lc_image_write_file(path, &src, 90, err, sizeof err);
    check(rc == -1 && strstr(err, path), "missing folder: %s", err);
    lc_image two = {rgba, h, w, 2};
    snprintf(path, sizeof path, "%s/two.png", dir);
    rc = lc_image_write_file(path, &two, 90, err, sizeof err);
    check(rc == -1 && strstr(err, "channels"), "2 channels refused: %s", err);
  }
  /* files larger than the per-thread read buffer (64 KB at first, kept up to 1 MB) */
  const int sides[3] = {200, 400, 700}; /* random RGB: ~120 KB, ~480 KB, ~1.5 MB of PNG */
  for (int k = 0; k < 3; k++) {
    int side = sides[k];
    size_t nb = (size_t)side * side * 3;
    uint8_t *px = malloc(nb);
    for (size_t i = 0; i < nb; i++) px[i] = (uint8_t)rnd();
    lc_image big = {px, side, side, 3};
    snprintf(path, sizeof path, "%s/big%d.png", dir, side);
    rc = lc_image_write_file(path, &big, 95, err, sizeof err);
    size_t at;
    check(rc == 0 && lc_image_read_file(path, 1, LC_IMAGE_ANY, &img, err, sizeof err) == 0 && img.w == side &&
              same_bytes(img.data, px, nb, &at),
          "a %dx%d random PNG (a large file) round trips exactly", side, side);
    lc_image_free(&img);
    free(px);
  }
  check(count_temp_files(dir) == 0, "no temporary files left behind");
  free(rgba);
}

/* ---- threads: the same decode on 4 threads at once gives the same pixels ---- */
typedef struct {
  const buf *b;
  const char *path; /* the same JPEG as a file: odd iterations read it (per-thread buffers) */
  const lc_image *want;
  int ok;
} thread_job;

static void *thread_main(void *arg)
{
  thread_job *j = arg;
  j->ok = 1;
  for (int it = 0; it < 50; it++) {
    lc_image img;
    char err[256];
    int denom = 1 << (it % 4);
    int rc = it % 2 ? lc_image_read_file(j->path, denom, LC_IMAGE_RGB, &img, err, sizeof err)
                    : lc_image_decode(j->b->p, j->b->n, denom, LC_IMAGE_RGB, &img, err, sizeof err);
    if (rc != 0) {
      j->ok = 0;
      continue;
    }
    if (denom == 1)
      j->ok &= img.w == j->want->w && memcmp(img.data, j->want->data, (size_t)img.w * img.h * 3) == 0;
    lc_image_free(&img);
  }
  return NULL;
}

static void test_threads(const char *dir)
{
  uint8_t *rgb = smooth_rgb(96, 64, 3);
  buf jpg = make_jpeg(rgb, 96, 64, TJPF_RGB, TJSAMP_420, 90, 0);
  char path[1024];
  snprintf(path, sizeof path, "%s/threads.jpg", dir);
  write_file(path, &jpg);
  lc_image want;
  char err[256];
  lc_image_decode(jpg.p, jpg.n, 1, LC_IMAGE_RGB, &want, err, sizeof err);
  pthread_t th[4];
  thread_job jobs[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (thread_job){&jpg, path, &want, 0};
    pthread_create(&th[i], NULL, thread_main, &jobs[i]);
  }
  int ok = 1;
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    ok &= jobs[i].ok;
  }
  check(ok, "4 threads decoding the same JPEG (bytes and file) get the same pixels");
  lc_image_free(&want);
  free(jpg.p), free(rgb);
}

int main(void)
{
  char dir[] = "/tmp/lc_test_image_XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  test_png_colour_types();
  test_jpeg();
  test_bad_data();
  test_files(dir);
  test_threads(dir);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return check_done("test_image_io");
}
