/* Augmentation kernels (kernels/cpu/augment.c) against hand-worked values and against
 * torchvision 0.29 outputs printed for the small inputs below (transforms.v2.functional for
 * the resampling, whose uint8 path is the same fixed-point algorithm; transforms.functional
 * for rotate and the colour adjustments): constant images stay constant, a 4x4 -> 2x2
 * antialiased reduction by hand, crop boxes with zero padding, flips (alone and folded into a
 * resample), rotation by 90 degrees exact, colour jitter on known pixels, ToTensor +
 * Normalize. Also the pipeline (runtime/transform.c): determinism per (seed, stream), the
 * RandomResizedCrop box inside the image, geometry independent of the decoded JPEG scale. */
#include "kernels/cpu/augment.h"
#include "runtime/transform.h"
#include "test_kernels_check.h"

#include <pthread.h>
#include <string.h>

static int first_diff(const uint8_t *a, const uint8_t *b, int n)
{
  for (int i = 0; i < n; i++)
    if (a[i] != b[i]) return i;
  return -1;
}

static void check_bytes(const char *what, const uint8_t *got, const uint8_t *want, int n)
{
  int at = first_diff(got, want, n);
  if (at < 0) check(1, "%s", what);
  else check(0, "%s: [%d] is %d, want %d", what, at, got[at], want[at]);
}

static void test_constant(void)
{
  static uint8_t src[3 * 37 * 53], dst[3 * 80 * 90];
  for (int i = 0; i < 37 * 53; i++) {
    src[3 * i] = 17;
    src[3 * i + 1] = 200;
    src[3 * i + 2] = 255;
  }
  int sizes[][2] = {{5, 7}, {80, 90}, {37, 11}, {1, 1}, {60, 20}};
  for (int k = 0; k < 5; k++) {
    int oh = sizes[k][0], ow = sizes[k][1], ok = 1;
    lc_aug_resize(src, 37, 53, 3, oh, ow, dst);
    for (int i = 0; i < oh * ow; i++)
      if (dst[3 * i] != 17 || dst[3 * i + 1] != 200 || dst[3 * i + 2] != 255) ok = 0;
    check(ok, "constant 37x53 image resized to %dx%d stays constant", oh, ow);
  }
  lc_aug_resized_crop(src, 37, 53, 3, 3, 4, 20, 9, 64, 64, dst);
  int ok = 1;
  for (int i = 0; i < 64 * 64; i++) ok &= dst[3 * i] == 17 && dst[3 * i + 2] == 255;
  check(ok, "constant image: a resized crop stays constant");
}

static void test_hand(void)
{
  /* 4 -> 2 widens the triangle to support 2: output 0 (centre 1) weighs inputs 0, 1, 2 by
   * 0.75, 0.75, 0.25 -> 3/7, 3/7, 1/7; output 1 (centre 3) inputs 1, 2, 3 by 1/7, 3/7, 3/7.
   * Largest weight 3/7 -> 16 fraction bits: 28087, 28087, 9362 (sum 65536). Input 16 * (4i + j):
   * rows give 64 i + 80/7 -> 11 and 64 i + 256/7 -> 37 (11.43, 36.57 before rounding; in fixed
   * point 11.93 -> 11 and 37.07 -> 37, truncation after + 1/2), i.e. 11 37 | 75 101 | 139 165 |
   * 203 229; columns: (3*11 + 3*75 + 139) / 7 = 56.7 -> 57, (3*37 + 3*101 + 165) / 7 = 82.7 -> 83,
   * (75 + 3*139 + 3*203) / 7 = 157.3 -> 157, (101 + 3*165 + 3*229) / 7 = 183.3 -> 183. */
  uint8_t src[16], want[4] = {57, 83, 157, 183}, got[4];
  for (int i = 0; i < 16; i++) src[i] = (uint8_t)(16 * i);
  lc_aug_resize(src, 4, 4, 1, 2, 2, got);
  check_bytes("4x4 -> 2x2 antialiased, by hand", got, want, 4);

  /* 2 -> 4 (upscale, support 1): weights (1), (0.75, 0.25), (0.25, 0.75), (1); row 10 200 ->
   * 10, 57.5 -> 58, 152.5 -> 153, 200 (halves round up) */
  uint8_t row[2] = {10, 200}, up[4], up_want[4] = {10, 58, 153, 200};
  lc_aug_resize(row, 1, 2, 1, 1, 4, up);
  check_bytes("1x2 -> 1x4 upscale, by hand", up, up_want, 4);
}

/* torchvision 0.29 on a 1 x 6 x 7 image (torch.Generator().manual_seed(5)) */
static const uint8_t g_x[42] = {99, 206, 239, 189, 230, 118, 144, 73, 8, 228, 231, 190, 155, 112,
                                158, 208, 7, 204, 143, 113, 181, 231, 80, 27, 44, 205, 203, 65,
                                175, 30, 212, 86, 125, 146, 254, 121, 137, 106, 41, 233, 190, 129};

static void test_torchvision_resample(void)
{
  /* v2.functional.resized_crop(x, 1, 2, 4, 5, [7, 3]) */
  static const uint8_t rc[21] = {229, 191, 130, 180, 176, 138, 101, 153, 150, 63, 160,
                                 138, 43, 166, 130, 114, 138, 178, 158, 121, 208};
  /* v2.functional.resize(x, [4, 3]) */
  static const uint8_t rs[12] = {139, 206, 150, 121, 154, 146, 125, 106, 162, 124, 119, 178};
  uint8_t got[64];
  lc_aug_resized_crop(g_x, 6, 7, 1, 1, 2, 4, 5, 7, 3, got);
  check_bytes("resized_crop (1, 2, 4, 5) -> 7x3 equals torchvision", got, rc, 21);
  lc_aug_resize(g_x, 6, 7, 1, 4, 3, got);
  check_bytes("resize 6x7 -> 4x3 equals torchvision", got, rs, 12);
}

static void test_crop_flip(void)
{
  uint8_t src[2 * 3 * 4], got[64];
  for (int i = 0; i < 24; i++) src[i] = (uint8_t)(i + 1); /* 3 x 4, 2 channels */
  /* rows 1..2, columns 1..3 */
  uint8_t in_box[12] = {11, 12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 24};
  lc_aug_crop(src, 3, 4, 2, 1, 1, 2, 3, got);
  check_bytes("crop (1, 1, 2, 3) inside the image", got, in_box, 12);
  /* a box sticking out top-left by one pixel: zero padding there */
  uint8_t padded[8] = {0, 0, 0, 0, 0, 0, 1, 2};
  lc_aug_crop(src, 3, 4, 2, -1, -1, 2, 2, got);
  check_bytes("crop (-1, -1, 2, 2) pads with zeros", got, padded, 8);
  uint8_t outside[8];
  memset(outside, 0xAB, 8);
  lc_aug_crop(src, 3, 4, 2, 5, 5, 2, 2, got);
  memset(outside, 0, 8);
  check_bytes("crop entirely outside the image is all zeros", got, outside, 8);

  uint8_t hf[24], vf[24], want_h[24], want_v[24];
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 4; x++)
      for (int k = 0; k < 2; k++) {
        want_h[(y * 4 + (3 - x)) * 2 + k] = src[(y * 4 + x) * 2 + k];
        want_v[((2 - y) * 4 + x) * 2 + k] = src[(y * 4 + x) * 2 + k];
      }
  lc_aug_hflip(src, 3, 4, 2, hf);
  lc_aug_vflip(src, 3, 4, 2, vf);
  check_bytes("hflip mirrors columns, channels kept together", hf, want_h, 24);
  check_bytes("vflip mirrors rows", vf, want_v, 24);

  /* flips folded into a resample equal a resample then a flip */
  static uint8_t big[3 * 37 * 53], a[3 * 20 * 31], b[3 * 20 * 31], c[3 * 20 * 31];
  rng_seed(3);
  for (int i = 0; i < 3 * 37 * 53; i++) big[i] = (uint8_t)rng_int(0, 255);
  lc_aug_resized_crop(big, 37, 53, 3, 4, 6, 25, 40, 20, 31, a);
  lc_aug_hflip(a, 20, 31, 3, b);
  lc_aug_vflip(b, 20, 31, 3, c);
  lc_aug_axis ay = {37, 4, 25, 20, 4, 29, 0, 20, 1}, ax = {53, 6, 40, 31, 6, 46, 0, 31, 1};
  lc_aug_resample(big, 37, 53, 3, &ay, &ax, a, NULL);
  check_bytes("resample with both flips == resized crop then hflip, vflip", a, c, 3 * 20 * 31);
}

static void test_rotate(void)
{
  /* 90 degrees counter-clockwise: out[y][x] = in[x][n - 1 - y] */
  uint8_t src[4 * 4 * 3], got[48], want[48];
  for (int i = 0; i < 48; i++) src[i] = (uint8_t)(i * 5 + 1);
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 4; x++)
      for (int k = 0; k < 3; k++) want[(y * 4 + x) * 3 + k] = src[(x * 4 + (3 - y)) * 3 + k];
  lc_aug_rotate(src, 4, 4, 3, 90, NULL, got);
  check_bytes("rotate 90 degrees on 4x4 is exact (counter-clockwise)", got, want, 48);
  uint8_t s3[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, g3[9], w3[9] = {3, 6, 9, 2, 5, 8, 1, 4, 7};
  lc_aug_rotate(s3, 3, 3, 1, 90, NULL, g3);
  check_bytes("rotate 90 degrees on 3x3 (odd size) is exact", g3, w3, 9);
  uint8_t w180[9] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
  lc_aug_rotate(s3, 3, 3, 1, 180, NULL, g3);
  check_bytes("rotate 180 degrees reverses", g3, w180, 9);
  /* torchvision functional.rotate(x, 33.3): nearest, same size, 0 outside */
  static const uint8_t r33[42] = {0, 0, 230, 230, 155, 181, 0, 206, 239, 231, 190, 113, 113, 65,
                                  206, 228, 7, 204, 205, 203, 254, 73, 208, 7, 44, 205, 125, 190,
                                  158, 80, 80, 212, 86, 233, 190, 0, 231, 30, 106, 106, 0, 0};
  uint8_t g33[42];
  lc_aug_rotate(g_x, 6, 7, 1, 33.3, NULL, g33);
  check_bytes("rotate 33.3 degrees equals torchvision", g33, r33, 42);
  uint8_t fill = 77;
  lc_aug_rotate(g_x, 6, 7, 1, 33.3, &fill, g33);
  check(g33[0] == 77 && g33[1] == 77 && g33[2] == 230, "rotate fills outside with `fill`");
}

static void test_jitter(void)
{
  uint8_t px[6] = {100, 200, 50, 0, 10, 255};
  lc_aug_brightness(px, 1, 2, 3, 1.5);
  uint8_t wb[6] = {150, 255, 75, 0, 15, 255};
  check_bytes("brightness 1.5: scaled, clamped at 255", px, wb, 6);
  uint8_t p2[6] = {100, 200, 50, 0, 10, 255};
  lc_aug_brightness(p2, 1, 2, 3, 0.3);
  uint8_t wb2[6] = {30, 60, 15, 0, 3, 76}; /* 76.5 truncates to 76 */
  check_bytes("brightness 0.3: truncated as .to(uint8)", p2, wb2, 6);

  /* contrast: gray = trunc(0.2989 R + 0.587 G + 0.114 B): pixel 1 -> 152 (152.99), pixel 2 ->
   * 34 (34.94); mean 93; factor 2: 2 v - 93 -> 107, 307 -> 255, 7; -93 -> 0, -73 -> 0,
   * 417 -> 255 */
  uint8_t p3[6] = {100, 200, 50, 0, 10, 255};
  lc_aug_contrast(p3, 1, 2, 3, 2.0);
  uint8_t wc[6] = {107, 255, 7, 0, 0, 255};
  check_bytes("contrast 2 about the mean of the grayscale", p3, wc, 6);
  uint8_t p4[6] = {100, 200, 50, 0, 10, 255};
  lc_aug_saturation(p4, 1, 2, 3, 0.0);
  uint8_t ws[6] = {152, 152, 152, 34, 34, 34};
  check_bytes("saturation 0 gives the grayscale", p4, ws, 6);

  /* torchvision functional on a 3 x 2 x 3 image (shown HWC) */
  static const uint8_t x3[18] = {210, 0, 179, 103, 208, 27, 144, 132, 31, 206, 110, 2, 5, 164, 68, 58, 105, 38};
  static const uint8_t h01[18] = {210, 0, 53, 27, 208, 59, 88, 144, 31, 180, 206, 2, 5, 164, 164, 38, 105, 58};
  static const uint8_t h37[18] = {0, 210, 195, 208, 27, 143, 107, 31, 144, 65, 2, 206, 164, 33, 5, 105, 38, 73};
  static const uint8_t c17[18] = {255, 0, 225, 96, 255, 0, 165, 145, 0, 255, 108, 0, 0, 199, 36, 19, 99, 0};
  static const uint8_t s03[18] = {121, 58, 111, 139, 170, 116, 130, 126, 96, 150, 121, 88, 75, 122, 93, 75, 89, 69};
  uint8_t t[18];
  memcpy(t, x3, 18);
  lc_aug_hue(t, 2, 3, 3, 0.1);
  check_bytes("hue +0.1 equals torchvision", t, h01, 18);
  memcpy(t, x3, 18);
  lc_aug_hue(t, 2, 3, 3, -0.37);
  check_bytes("hue -0.37 equals torchvision", t, h37, 18);
  memcpy(t, x3, 18);
  lc_aug_contrast(t, 2, 3, 3, 1.7);
  check_bytes("contrast 1.7 equals torchvision", t, c17, 18);
  memcpy(t, x3, 18);
  lc_aug_saturation(t, 2, 3, 3, 0.3);
  check_bytes("saturation 0.3 equals torchvision", t, s03, 18);
  uint8_t g1[4] = {0, 100, 200, 255};
  lc_aug_saturation(g1, 2, 2, 1, 0.0);
  lc_aug_hue(g1, 2, 2, 1, 0.3);
  check(g1[1] == 100 && g1[2] == 200, "saturation and hue leave a 1-channel image alone");
}

static void test_normalize(void)
{
  uint8_t src[2 * 2 * 3] = {0, 255, 51, 255, 0, 102, 0, 0, 0, 255, 255, 255};
  float mean[3] = {0.5f, 0.25f, 0.0f}, sd[3] = {0.5f, 0.25f, 2.0f};
  float out[12];
  lc_aug_to_chw_f32(src, 2, 2, 3, mean, sd, out);
  double got[12], want[12] = {-1, 1, -1, 1, 3, -1, -1, 3, 0.1, 0.2, 0, 0.5};
  for (int i = 0; i < 12; i++) got[i] = out[i];
  check_close(got, want, 12, 1e-6, 1e-6, "ToTensor + Normalize to CHW");
  lc_aug_to_chw_f32(src, 2, 2, 3, NULL, NULL, out);
  check(out[0] == 0.0f && out[1] == 1.0f && fabs(out[8] - 0.2) < 1e-7, "ToTensor alone is x / 255");
}

/* Threads share one compiled pipeline: each stream's output must equal the serial one. */
typedef struct job {
  const lc_transform *t;
  const lc_image *in;
  int first, count;
  float *out; /* count outputs of n floats */
  int n, failed;
} job;

static void *run_job(void *arg)
{
  job *j = arg;
  char err[256];
  for (int k = 0; k < j->count; k++)
    if (lc_transform_apply(j->t, j->in, j->in->h, j->in->w, 99, (uint64_t)(j->first + k),
                           j->out + (size_t)k * j->n, err, sizeof err))
      j->failed = 1;
  return NULL;
}

static void test_threads(const lc_transform *t, const lc_image *in, int n)
{
  enum { STREAMS = 64 };
  float *serial = malloc(sizeof(float) * (size_t)n * STREAMS);
  float *par = malloc(sizeof(float) * (size_t)n * STREAMS);
  job s = {t, in, 0, STREAMS, serial, n, 0};
  run_job(&s);
  job a = {t, in, 0, STREAMS / 2, par, n, 0};
  job b = {t, in, STREAMS / 2, STREAMS / 2, par + (size_t)n * (STREAMS / 2), n, 0};
  pthread_t ta, tb;
  pthread_create(&ta, NULL, run_job, &a);
  pthread_create(&tb, NULL, run_job, &b);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  check(!s.failed && !a.failed && !b.failed &&
            memcmp(serial, par, sizeof(float) * (size_t)n * STREAMS) == 0,
        "two threads sharing a pipeline give the serial results stream by stream");
  free(serial);
  free(par);
}

static void test_pipeline(void)
{
  lc_transform_op ops[4] = {{0}};
  ops[0].kind = LC_TF_RANDOM_RESIZED_CROP;
  ops[0].size_h = ops[0].size_w = 32;
  ops[0].scale[0] = 0.08; ops[0].scale[1] = 1;
  ops[0].ratio[0] = 0.75; ops[0].ratio[1] = 4.0 / 3;
  ops[1].kind = LC_TF_HFLIP;
  ops[1].p = 0.5;
  ops[2].kind = LC_TF_TO_TENSOR;
  ops[3].kind = LC_TF_NORMALIZE;
  ops[3].n = 1;
  ops[3].mean[0] = 0.5f;
  ops[3].std[0] = 0.25f;
  char err[256] = "";
  lc_transform *t = lc_transform_new(ops, 4, err, sizeof err);
  check(t != NULL, "pipeline compiles (%s)", err);
  if (!t) return;
  static uint8_t img[64 * 96 * 3];
  rng_seed(11);
  for (int i = 0; i < 64 * 96 * 3; i++) img[i] = (uint8_t)rng_int(0, 255);
  lc_image in = {img, 64, 96, 3};
  static float a[3 * 32 * 32], b[3 * 32 * 32];
  int oc, oh, ow, fl;
  check(lc_transform_output_shape(t, 3, 64, 96, &oc, &oh, &ow, &fl, err, sizeof err) == 0 &&
            oc == 3 && oh == 32 && ow == 32 && fl == 1, "output shape 3 x 32 x 32 float");
  lc_transform_apply(t, &in, 64, 96, 7, 3, a, err, sizeof err);
  lc_transform_apply(t, &in, 64, 96, 7, 3, b, err, sizeof err);
  check(memcmp(a, b, sizeof a) == 0, "same (seed, stream): same output");
  lc_transform_apply(t, &in, 64, 96, 7, 4, b, err, sizeof err);
  check(memcmp(a, b, sizeof a) != 0, "another stream: another output");
  int inside = 1, flips = 0;
  for (int s = 0; s < 200; s++) {
    lc_transform_trace tr;
    lc_transform_apply_traced(t, &in, 64, 96, 1, (uint64_t)s, a, &tr, err, sizeof err);
    inside &= tr.crop_top >= 0 && tr.crop_left >= 0 && tr.crop_h >= 1 && tr.crop_w >= 1 &&
              tr.crop_top + tr.crop_h <= 64 && tr.crop_left + tr.crop_w <= 96 &&
              tr.crop_h * tr.crop_w <= 64 * 96;
    flips += tr.hflip;
  }
  check(inside, "200 RandomResizedCrop boxes lie inside the image");
  check(flips > 70 && flips < 130, "flip p = 0.5: %d of 200", flips);
  test_threads(t, &in, 3 * 32 * 32);

  /* the same geometry from a decode at 1/2: a 2x reduction stands in for the JPEG scale */
  static uint8_t half[32 * 48 * 3];
  lc_aug_resize(img, 64, 96, 3, 32, 48, half);
  lc_image hin = {half, 32, 48, 3};
  lc_transform_trace t1, t2;
  lc_transform_apply_traced(t, &in, 64, 96, 9, 1, a, &t1, err, sizeof err);
  lc_transform_apply_traced(t, &hin, 64, 96, 9, 1, b, &t2, err, sizeof err);
  check(t1.crop_top == t2.crop_top && t1.crop_left == t2.crop_left && t1.crop_h == t2.crop_h &&
            t1.crop_w == t2.crop_w && t1.hflip == t2.hflip,
        "a half-size decode draws the same box in original coordinates");
  lc_transform_release(t);

  ops[0].kind = LC_TF_RESIZE;
  ops[0].size_h = 16;
  ops[0].size_w = 0;
  t = lc_transform_new(ops, 1, err, sizeof err);
  check(lc_transform_decode_scale(t, 224, 224) == 8 && lc_transform_decode_scale(t, 100, 200) == 4,
        "decode_scale of Resize(16): 8 for 224x224, 4 for 100x200");
  lc_transform_release(t);
  ops[0].kind = LC_TF_RANDOM_RESIZED_CROP;
  ops[0].size_h = ops[0].size_w = 64;
  ops[0].scale[0] = 0.5;
  t = lc_transform_new(ops, 1, err, sizeof err);
  /* smallest crop side: sqrt(0.5 * 224^2 * 3/4) = 137 -> 137 / 64 = 2.1 -> 2 */
  check(lc_transform_decode_scale(t, 224, 224) == 2, "decode_scale of RandomResizedCrop(64, scale 0.5) is 2");
  lc_transform_release(t);

  ops[0].scale[0] = 0.5;
  ops[0].scale[1] = 0.1;
  t = lc_transform_new(ops, 1, err, sizeof err);
  check(t == NULL && strstr(err, "RandomResizedCrop: scale") != NULL, "bad scale refused: %s", err);
  ops[0].kind = LC_TF_NORMALIZE;
  ops[0].n = 1;
  ops[0].std[0] = 1;
  t = lc_transform_new(ops, 1, err, sizeof err);
  check(t == NULL && strstr(err, "ToTensor") != NULL, "Normalize without ToTensor refused: %s", err);
}

int main(void)
{
  test_constant();
  test_hand();
  test_torchvision_resample();
  test_crop_flip();
  test_rotate();
  test_jitter();
  test_normalize();
  test_pipeline();
  return check_done("test_kernels_augment");
}
