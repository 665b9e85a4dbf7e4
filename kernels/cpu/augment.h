/* Augmentation kernels on uint8 HWC (interleaved) images, with torchvision's semantics on
 * uint8 tensors: antialiased bilinear resampling of a box (crop, resize, resized crop and
 * flips in one pass), rotation, colour adjustments, and the final HWC uint8 -> CHW float
 * (ToTensor, / 255) fused with Normalize. No Lua and no randomness here: runtime/transform.c
 * draws the parameters and chains these.
 *
 * Resampling: a separable triangle filter whose support widens with the downscale factor
 * (torchvision's Resize(antialias=True) on tensors, PIL's BILINEAR), pixel centres at +0.5,
 * weights normalised per output pixel and held in fixed point; a horizontal pass into uint8
 * (rounded, clamped) then a vertical one, each skipped when its axis is a plain copy.
 * This is bit-exact with torchvision.transforms.v2 on uint8 tensors (and F.interpolate on
 * uint8); torchvision.transforms (v1) on tensors resamples in float and rounds once, which
 * differs by 1 in some pixels. Rotation and the colour ops match torchvision exactly. */
#ifndef LC_KERNELS_CPU_AUGMENT_H
#define LC_KERNELS_CPU_AUGMENT_H

#include <stdint.h>

enum { LC_AUG_OK = 0, LC_AUG_EBADARG = -1, LC_AUG_ENOMEM = -2 };

/* One axis of a resampling. The source has src_n pixels along it. A "virtual" image of vn
 * pixels covers the source box [b0, b0 + bl) (continuous coordinates, pixel i spans [i, i+1)):
 * virtual pixel v is centred at b0 + (v + 0.5) * bl / vn. The filter only reads source pixels
 * in [c0, c1) (the crop box: taps outside it are dropped before normalising, as when the crop
 * is cut out first); those of [c0, c1) outside [0, src_n) read as 0 (zero padding).
 * Output pixel u (0 <= u < n) shows virtual pixel w0 + u, or w0 + n - 1 - u when flip;
 * a virtual pixel outside [0, vn) is 0 (a window beyond the image pads with zeros). */
typedef struct lc_aug_axis {
  int src_n;
  double b0, bl;
  int vn;
  int c0, c1;
  int w0, n;
  int flip;
} lc_aug_axis;

/* The identity axis over src_n pixels: box [0, src_n), no flip, window the whole. */
lc_aug_axis lc_aug_axis_identity(int src_n);

/* Output rows of a resampling go to an emitter instead of memory when it is given: the last
 * step of a pipeline writes CHW floats straight from each finished row. */
typedef struct lc_aug_emit {
  /* called with output row y (n_x * c uint8, interleaved) */
  void (*row)(void *ctx, int y, const uint8_t *row);
  void *ctx;
} lc_aug_emit;

/* Resamples src (sh x sw x c, HWC) into ay.n x ax.n x c: into dst (HWC) when emit is NULL,
 * else row by row to emit. Returns LC_AUG_OK, LC_AUG_EBADARG or LC_AUG_ENOMEM. */
int lc_aug_resample(const uint8_t *src, int sh, int sw, int c, const lc_aug_axis *ay,
                    const lc_aug_axis *ax, uint8_t *dst, const lc_aug_emit *emit);

/* Convenience forms of lc_aug_resample. */
/* Resize the whole image to oh x ow (torchvision Resize, antialias=True). */
int lc_aug_resize(const uint8_t *src, int sh, int sw, int c, int oh, int ow, uint8_t *dst);
/* Crop (top, left, h, w): pixels outside the image are 0 (torchvision's F.crop). */
int lc_aug_crop(const uint8_t *src, int sh, int sw, int c, int top, int left, int h, int w,
                uint8_t *dst);
/* Crop (top, left, h, w) and resize it to oh x ow in one pass (F.resized_crop). */
int lc_aug_resized_crop(const uint8_t *src, int sh, int sw, int c, int top, int left, int h,
                        int w, int oh, int ow, uint8_t *dst);
/* Mirror left-right (hflip) or top-bottom (vflip) into dst (dst != src). */
void lc_aug_hflip(const uint8_t *src, int h, int w, int c, uint8_t *dst);
void lc_aug_vflip(const uint8_t *src, int h, int w, int c, uint8_t *dst);

/* Rotation by `degrees` counter-clockwise about the image centre, same size (expand=False),
 * nearest neighbour, `fill` outside: torchvision's F.rotate on tensors (its affine grid and
 * grid_sample with align_corners=False; nearest rounds half to even). dst != src. */
void lc_aug_rotate(const uint8_t *src, int h, int w, int c, double degrees, const uint8_t *fill,
                   uint8_t *dst);

/* torchvision's adjust_* on uint8 images, in place; results computed in float32, clamped to
 * [0, 255] and truncated to uint8, as its _blend. Grayscale is 0.2989 R + 0.587 G + 0.114 B
 * truncated to uint8 (rgb_to_grayscale). Hue goes through float HSV and back as
 * convert_image_dtype (x / 255 in, x * 255.999 truncated out). Saturation and hue leave
 * 1-channel images alone;
 * with c == 4 the alpha channel is left alone. */
void lc_aug_brightness(uint8_t *img, int h, int w, int c, double factor);
void lc_aug_contrast(uint8_t *img, int h, int w, int c, double factor);
void lc_aug_saturation(uint8_t *img, int h, int w, int c, double factor);
void lc_aug_hue(uint8_t *img, int h, int w, int c, double factor); /* factor in [-0.5, 0.5] */

/* HWC uint8 -> CHW float32 as ToTensor then Normalize: dst[k][y][x] = (src/255 - mean[k]) /
 * std[k]. mean/std NULL: plain ToTensor. */
void lc_aug_to_chw_f32(const uint8_t *src, int h, int w, int c, const float *mean,
                       const float *std, float *dst);
/* One HWC row of w pixels -> row y of each of the c planes of a CHW float image of plane
 * size plane (= h * w): dst[k * plane + y * w + x] = src[x * c + k] * scale[k] + shift[k]. */
void lc_aug_row_to_chw_f32(const uint8_t *src, int w, int c, const float *scale,
                           const float *shift, int64_t plane, int y, float *dst);
/* HWC uint8 -> CHW uint8 (no ToTensor in the pipeline). */
void lc_aug_to_chw_u8(const uint8_t *src, int h, int w, int c, uint8_t *dst);
void lc_aug_row_to_chw_u8(const uint8_t *src, int w, int c, int64_t plane, int y, uint8_t *dst);

#endif
