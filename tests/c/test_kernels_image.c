/* Image kernels: bilinear resize against values worked out by hand (2x2 -> 4x4 and
 * 4x4 -> 2x2, fixed-point rounding included) and against PIL's output for two small random
 * images (printed by Pillow 13 for the inputs below, one of them taking the vertical-first
 * order), identity and single-axis resizes, several planes at once, ToTensor's scaling. */
#include "kernels/cpu/image.h"
#include "test_kernels_check.h"

#include <string.h>

static int same_u8(const uint8_t *a, const uint8_t *b, int64_t n, int64_t *at)
{
  for (int64_t i = 0; i < n; i++)
    if (a[i] != b[i]) {
      *at = i;
      return 0;
    }
  *at = -1;
  return 1;
}

static void check_resize(const char *what, const uint8_t *src, int64_t planes, int64_t h,
                         int64_t w, int64_t oh, int64_t ow, const uint8_t *want)
{
  int64_t n = planes * oh * ow, at;
  uint8_t *out = malloc((size_t)n);
  memset(out, 0xAB, (size_t)n);
  int rc = lc_resize_bilinear_u8(planes, h, w, oh, ow, src, out);
  int ok = rc == 0 && same_u8(out, want, n, &at);
  if (ok) check(1, "%s", what);
  else if (rc) check(0, "%s: rc %d", what, rc);
  else check(0, "%s: [%lld] is %d, want %d", what, (long long)at, out[at], want[at]);
  free(out);
}

static void test_hand(void)
{
  /* Upscaling 2 -> 4 uses weights (1), (0.75, 0.25), (0.25, 0.75), (1) along each axis
   * (centres at 0.25, 0.75, 1.25, 1.75 in input pixels, clamped at the edges).
   * Rows first: 10 200 -> 10, 57.5 -> 58, 152.5 -> 153, 200 and 50 90 -> 50, 60, 80, 90
   * (0.75 and 0.25 are exact in 22-bit fixed point; halves round up). Then columns:
   * row 1 = 0.75 r0 + 0.25 r1 = 20, 58.5 -> 59, 134.75 -> 135, 172.5 -> 173;
   * row 2 = 0.25 r0 + 0.75 r1 = 40, 59.5 -> 60, 98.25 -> 98, 117.5 -> 118. */
  uint8_t up_src[4] = {10, 200, 50, 90};
  uint8_t up_want[16] = {10, 58, 153, 200, 20, 59, 135, 173, 40, 60, 98, 118, 50, 60, 80, 90};
  check_resize("2x2 -> 4x4 by hand", up_src, 1, 2, 2, 4, 4, up_want);

  /* Downscaling 4 -> 2 widens the triangle to support 2: output 0 (centre 1) weighs inputs
   * 0, 1, 2 by 0.75, 0.75, 0.25 -> 3/7, 3/7, 1/7; output 1 (centre 3) inputs 1, 2, 3 by
   * 1/7, 3/7, 3/7. Input 16 * (4 i + j): each row gives 64 i + 80/7 and 64 i + 256/7,
   * i.e. 11, 37 | 75, 101 | 139, 165 | 203, 229 after rounding; the columns then give
   * (3*11 + 3*75 + 139) / 7 = 56.7 -> 57, (3*37 + 3*101 + 165) / 7 = 82.7 -> 83,
   * (75 + 3*139 + 3*203) / 7 = 157.3 -> 157, (101 + 3*165 + 3*229) / 7 = 183.3 -> 183. */
  uint8_t down_src[16], down_want[4] = {57, 83, 157, 183};
  for (int i = 0; i < 16; i++) down_src[i] = (uint8_t)(16 * i);
  check_resize("4x4 -> 2x2 by hand", down_src, 1, 4, 4, 2, 2, down_want);

  /* one axis only: the other is copied untouched */
  uint8_t row_want[8] = {10, 58, 153, 200, 50, 60, 80, 90};
  check_resize("2x2 -> 2x4 (width only)", up_src, 1, 2, 2, 2, 4, row_want);
  check_resize("4x4 -> 4x4 is a copy", down_src, 1, 4, 4, 4, 4, down_src);
  /* a constant image stays constant at any scale */
  uint8_t flat[35], flat_want[6 * 11];
  memset(flat, 77, sizeof flat);
  memset(flat_want, 77, sizeof flat_want);
  check_resize("constant 5x7 -> 6x11 stays constant", flat, 1, 5, 7, 6, 11, flat_want);
  uint8_t white[9], white_want[4];
  memset(white, 255, 9);
  memset(white_want, 255, 4);
  check_resize("255 stays 255 (no overflow)", white, 1, 3, 3, 2, 2, white_want);
}

static void test_pil(void)
{
  /* 9x4 -> 2x3: the height shrinks by 7 > 2 * 1, so PIL runs the vertical pass first */
  uint8_t a[36] = {139, 74,  229, 241, 169, 65,  6,   160, 149, 106, 38,  175,
                   188, 205, 175, 229, 98,  249, 10,  148, 95,  86,  147, 198,
                   66,  39,  106, 213, 171, 45,  167, 57,  69,  81,  55,  14};
  uint8_t a_want[6] = {141, 109, 161, 104, 103, 130};
  check_resize("9x4 -> 2x3 (vertical first) equals PIL", a, 1, 9, 4, 2, 3, a_want);
  uint8_t b[30] = {153, 178, 215, 76, 52,  39,  250, 72, 215, 50,  161, 223, 112, 172, 161,
                   233, 38,  17,  89, 1,   221, 6,   242, 127, 143, 6,  60,  210, 94,  25};
  uint8_t b_want[24] = {173, 138, 50,  171, 134, 103, 168, 132, 165, 153, 160, 93,
                        122, 156, 89,  75,  120, 153, 71,  115, 115, 72,  114, 81};
  check_resize("5x6 -> 8x3 equals PIL", b, 1, 5, 6, 8, 3, b_want);

  /* three planes at once: each plane as if alone (as PIL's RGB, channel by channel) */
  uint8_t planes[3 * 30], want3[3 * 24];
  for (int p = 0; p < 3; p++) {
    memcpy(planes + 30 * p, b, 30);
    memcpy(want3 + 24 * p, b_want, 24);
  }
  planes[30] = planes[31] = 0;  /* plane 1 differs: its result must be its own */
  uint8_t own[24];
  lc_resize_bilinear_u8(1, 5, 6, 8, 3, planes + 30, own);
  memcpy(want3 + 24, own, 24);
  check(memcmp(own, b_want, 24) != 0, "a changed plane resizes differently");
  check_resize("3 planes 5x6 -> 8x3", planes, 3, 5, 6, 8, 3, want3);
}

static void test_errors_and_totensor(void)
{
  uint8_t x[4] = {0}, y[4];
  check(lc_resize_bilinear_u8(1, 0, 2, 2, 2, x, y) == LC_IMAGE_EBADARG, "height 0 rejected");
  check(lc_resize_bilinear_u8(1, 2, 2, 2, 0, x, y) == LC_IMAGE_EBADARG, "out width 0 rejected");
  uint8_t v[4] = {0, 1, 128, 255};
  float f[4];
  lc_u8_to_f32_scaled(4, v, f);
  check(f[0] == 0.0f && f[1] == 1.0f / 255.0f && f[2] == 128.0f / 255.0f && f[3] == 1.0f,
        "ToTensor: v / 255 in float32 (0, 1/255, 128/255, 1)");
}

/* Fashion-MNIST's 28 -> 224 on a batch big enough for the threaded path: every image equals
 * its own single-image resize. */
static void test_batch(void)
{
  int64_t n = 8, in = 28 * 28, out = 224 * 224;
  uint8_t *src = malloc((size_t)(n * in)), *dst = malloc((size_t)(n * out));
  uint8_t *one = malloc((size_t)out);
  for (int64_t i = 0; i < n * in; i++) src[i] = (uint8_t)rng_int(0, 255);
  lc_resize_bilinear_u8(n, 28, 28, 224, 224, src, dst);
  lc_resize_bilinear_u8(1, 28, 28, 224, 224, src + 5 * in, one);
  check(!memcmp(dst + 5 * out, one, (size_t)out), "batch of 8 28x28 -> 224x224: image 5 as alone");
  free(src); free(dst); free(one);
}

int main(void)
{
  rng_seed(5);
  test_hand();
  test_pil();
  test_errors_and_totensor();
  test_batch();
  return check_done("test_kernels_image");
}
