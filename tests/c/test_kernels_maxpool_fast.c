/* The vectorised float32 max pool (kernels/cpu/maxpool_fast.h) against the scalar kernel
 * (lc_max_pool2d_forward_f32): values and argmax indices bit-identical, for the chapter's pools
 * (GoogLeNet's 3x3 stride 1 pad 1, ResNet's 3x3 stride 2 pad 1, AlexNet's 3x3 stride 2,
 * LeNet's 2x2) and random shapes with padding, strides, ceil_mode, ties, -inf and NaN inputs,
 * under 1, 2 and 3 threads; dilation is left to the scalar kernel. */
#include "kernels/cpu/maxpool_fast.h"
#include "test_kernels_check.h"

#include <omp.h>
#include <string.h>

static int run(lc_pool2d_shape s, int special, int threads)
{
  if (lc_pool2d_shape_finish(&s, 0) != LC_POOL_OK) return -1;
  omp_set_num_threads(threads);
  int64_t nx = s.n * s.c * s.h * s.w, ny = s.n * s.c * s.out_h * s.out_w;
  float *x = malloc(sizeof(float) * (nx + 1));
  for (int64_t i = 0; i < nx; i++) {
    x[i] = (float)rng_int(-3, 3); /* many ties */
    if (special && rng_int(0, 9) == 0) x[i] = rng_int(0, 1) ? NAN : -INFINITY;
  }
  float *y1 = malloc(sizeof(float) * (ny + 1)), *y2 = malloc(sizeof(float) * (ny + 1));
  int64_t *i1 = malloc(sizeof(int64_t) * (ny + 1)), *i2 = malloc(sizeof(int64_t) * (ny + 1));
  lc_max_pool2d_forward_f32(&s, x, y1, i1);
  int handled = lc_max_pool2d_forward_fast_f32(&s, x, y2, i2);
  int same = 1;
  if (handled)
    for (int64_t i = 0; i < ny; i++)
      same &= (memcmp(&y1[i], &y2[i], sizeof(float)) == 0 || (isnan(y1[i]) && isnan(y2[i]))) &&
              i1[i] == i2[i];
  check(handled ? same : s.dil_h != 1 || s.dil_w != 1,
        "n%lld c%lld %lldx%lld k%lldx%lld s%lld,%lld p%lld,%lld d%lld ceil %d%s, %d threads: %s",
        (long long)s.n, (long long)s.c, (long long)s.h, (long long)s.w, (long long)s.kh,
        (long long)s.kw, (long long)s.stride_h, (long long)s.stride_w, (long long)s.pad_h,
        (long long)s.pad_w, (long long)s.dil_h, s.ceil_mode, special ? " nan/-inf" : "", threads,
        handled ? "identical to the scalar kernel" : "left to the scalar kernel");
  free(x), free(y1), free(y2), free(i1), free(i2);
  return handled;
}

static lc_pool2d_shape pool(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t st,
                            int64_t pad)
{
  lc_pool2d_shape s = {n, c, h, w, k, k, st, st, pad, pad, 1, 1, 0, 0, 0};
  return s;
}

int main(void)
{
  rng_seed(5);
  for (int t = 1; t <= 3; t++)
    for (int special = 0; special <= 1; special++) {
      run(pool(2, 64, 12, 12, 3, 1, 1), special, t);  /* GoogLeNet Inception */
      run(pool(2, 8, 48, 48, 3, 2, 1), special, t);   /* ResNet / GoogLeNet stem */
      run(pool(2, 8, 54, 54, 3, 2, 0), special, t);   /* AlexNet */
      run(pool(4, 6, 28, 28, 2, 2, 0), special, t);   /* LeNet (max pool variant) */
      for (int i = 0; i < 15; i++) {
        lc_pool2d_shape s;
        s.n = rng_int(1, 2), s.c = rng_int(1, 3), s.h = rng_int(1, 20), s.w = rng_int(1, 40);
        s.kh = rng_int(1, 4), s.kw = rng_int(1, 4);
        s.stride_h = rng_int(1, 3), s.stride_w = rng_int(1, 3);
        s.pad_h = rng_int(0, s.kh / 2), s.pad_w = rng_int(0, s.kw / 2);
        s.dil_h = s.dil_w = 1;
        s.ceil_mode = (int)rng_int(0, 1);
        run(s, special, t);
      }
    }
  lc_pool2d_shape d = pool(1, 2, 9, 9, 3, 1, 0);
  d.dil_h = d.dil_w = 2;
  check(run(d, 0, 2) == 0, "dilation 2 is declined");
  return check_done("test_kernels_maxpool_fast");
}
