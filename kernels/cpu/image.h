/* Image kernels on the CPU: PIL-exact bilinear resize of uint8 images and the uint8 -> float
 * conversion of torchvision's ToTensor. */
#ifndef LC_KERNELS_CPU_IMAGE_H
#define LC_KERNELS_CPU_IMAGE_H

#include <stdint.h>

#include "kernels/common/image.h" /* LC_IMAGE_* */

/* Resizes planes * (h, w) uint8 images to (out_h, out_w), as PIL's
 * Image.resize((out_w, out_h), Image.BILINEAR) does for an 'L' (or, channel by channel, 'RGB')
 * image, which is what torchvision's Resize runs on PIL images. The result is bit-exact with
 * PIL: a separable triangle filter whose support grows with the downscale factor (so a
 * reduction averages every input pixel, an antialias), pixel centres at +0.5, weights
 * normalised and turned into 22-bit fixed point; two passes, each rounding to nearest and
 * clamping to 0..255 in uint8: horizontal then vertical, except that the vertical pass goes
 * first when the height shrinks by more than twice what the width shrinks (PIL >= 11.1; older
 * PIL always went horizontal first, which can differ by 1 in some pixels for such shapes).
 * A dimension whose size does not change is copied, not filtered. Images are split over
 * OpenMP threads. Returns LC_IMAGE_OK, LC_IMAGE_EBADARG or LC_IMAGE_ENOMEM. */
int lc_resize_bilinear_u8(int64_t planes, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                          const uint8_t *src, uint8_t *dst);

/* dst[i] = src[i] / 255 in float32, as ToTensor's img.float().div(255). */
void lc_u8_to_f32_scaled(int64_t n, const uint8_t *src, float *dst);

#endif
