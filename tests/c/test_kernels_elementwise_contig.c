/* The vectorised contiguous float32 loops (kernels/cpu/elementwise_contig.h) against the
 * generic strided loops of lc_cpu_binary / lc_cpu_copy, which they replace for contiguous
 * operands: the same bits for every binary and unary op, length (vector bodies and tails), a
 * broadcast scalar and aliasing of the output with an input, NaN and infinities; the byte
 * conversion for every byte value. */
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/elementwise_contig.h"
#include "test_kernels_check.h"

#include <string.h>

static const lc_binary_op ops[] = {LC_BIN_ADD, LC_BIN_SUB, LC_BIN_MUL, LC_BIN_DIV,
                                   LC_BIN_SIGMOID_BACKWARD, LC_BIN_TANH_BACKWARD,
                                   LC_BIN_RELU_BACKWARD};

/* The generic loop's answer: the operands laid out with stride 2, which the contiguous
 * paths never take. */
static void strided_reference(lc_binary_op op, int64_t n, const float *a, const float *b,
                              int b_scalar, float *out)
{
  float *a2 = calloc((size_t)(2 * n + 1), sizeof(float)), *b2 = calloc((size_t)(2 * n + 1), sizeof(float));
  float *o2 = calloc((size_t)(2 * n + 1), sizeof(float));
  for (int64_t i = 0; i < n; i++) a2[2 * i] = a[i], b2[2 * i] = b_scalar ? b[0] : b[i];
  int64_t two = 2;
  lc_cpu_operand O = {o2, &two}, A = {a2, &two}, B = {b2, &two};
  lc_cpu_binary(op, LC_FLOAT32, 1, &n, O, A, B);
  for (int64_t i = 0; i < n; i++) out[i] = o2[2 * i];
  free(a2); free(b2); free(o2);
}

static void test_op(lc_binary_op op, int64_t n)
{
  double *ad = rng_array(n, -3, 3), *bd = rng_array(n, -3, 3);
  float *a = to_f32(ad, n), *b = to_f32(bd, n);
  if (n > 2) a[1] = NAN, b[2] = INFINITY;  /* special values travel the same way */
  float *want = malloc(sizeof(float) * (size_t)(n + 1)), *got = malloc(sizeof(float) * (size_t)(n + 1));
  strided_reference(op, n, a, b, 0, want);
  check(lc_cpu_binary_contig_f32(op, n, got, a, b) == 1, "op %d covered", (int)op);
  check(!memcmp(got, want, sizeof(float) * (size_t)n), "op %d, %lld elements: same bits as the strided loop",
        (int)op, (long long)n);
  /* through lc_cpu_binary with contiguous strides (the path the runtime takes) */
  int64_t one = 1;
  lc_cpu_operand O = {got, &one}, A = {a, &one}, B = {b, &one};
  lc_cpu_binary(op, LC_FLOAT32, 1, &n, O, A, B);
  check(!memcmp(got, want, sizeof(float) * (size_t)n), "op %d via lc_cpu_binary, %lld elements",
        (int)op, (long long)n);
  /* output aliasing the first input */
  float *alias = malloc(sizeof(float) * (size_t)(n + 1));
  memcpy(alias, a, sizeof(float) * (size_t)n);
  lc_cpu_binary_contig_f32(op, n, alias, alias, b);
  check(!memcmp(alias, want, sizeof(float) * (size_t)n), "op %d in place, %lld elements", (int)op,
        (long long)n);
  /* b broadcast: stride 0 */
  strided_reference(op, n, a, b + 1 < b + n ? b + 1 : b, 1, want);
  int64_t zero = 0;
  lc_cpu_operand S = {n > 1 ? b + 1 : b, &zero};
  lc_cpu_binary(op, LC_FLOAT32, 1, &n, O, A, S);
  check(!memcmp(got, want, sizeof(float) * (size_t)n), "op %d with a broadcast scalar, %lld elements",
        (int)op, (long long)n);
  free(ad); free(bd); free(a); free(b); free(want); free(got); free(alias);
}

static const lc_unary_op unary_ops[] = {
  LC_UN_NEG, LC_UN_ABS, LC_UN_RELU, LC_UN_RECIPROCAL, LC_UN_ADD_SCALAR,
  LC_UN_MUL_SCALAR, LC_UN_RSUB_SCALAR, LC_UN_RDIV_SCALAR, LC_UN_DIV_SCALAR, LC_UN_CLAMP,
  LC_UN_SIGMOID_GRAD_FROM_OUTPUT, LC_UN_TANH_GRAD_FROM_OUTPUT, LC_UN_STEP};

static void test_unary(lc_unary_op op, int64_t n)
{
  double *ad = rng_array(n, -3, 3);
  float *a = to_f32(ad, n);
  if (n > 3) a[1] = NAN, a[2] = -INFINITY, a[3] = 0.0f * -1.0f;
  float *a2 = calloc((size_t)(2 * n + 1), sizeof(float)), *o2 = calloc((size_t)(2 * n + 1), sizeof(float));
  float *got = malloc(sizeof(float) * (size_t)(n + 1));
  for (int64_t i = 0; i < n; i++) a2[2 * i] = a[i];
  int64_t one = 1, two = 2;
  const double s0 = -0.7, s1 = 1.3; /* the scalar, and clamp's bounds */
  lc_cpu_unary(op, LC_FLOAT32, 1, &n, (lc_cpu_operand){o2, &two}, (lc_cpu_operand){a2, &two}, s0, s1);
  lc_cpu_unary(op, LC_FLOAT32, 1, &n, (lc_cpu_operand){got, &one}, (lc_cpu_operand){a, &one}, s0, s1);
  int same = 1;
  for (int64_t i = 0; i < n; i++) same = same && !memcmp(&got[i], &o2[2 * i], sizeof(float));
  check(same, "unary op %d, %lld elements: same bits as the strided loop", (int)op, (long long)n);
  free(ad); free(a); free(a2); free(o2); free(got);
}

static void test_bytes(void)
{
  uint8_t bytes[300];
  for (int i = 0; i < 300; i++) bytes[i] = (uint8_t)(i * 7 + 3);
  float got[300];
  int64_t n = 300, one = 1;
  lc_cpu_operand D = {got, &one}, S = {bytes, &one};
  lc_cpu_copy(LC_FLOAT32, LC_UINT8, 1, &n, D, S);
  int ok = 1;
  for (int i = 0; i < 300; i++) ok = ok && got[i] == (float)bytes[i];
  check(ok, "uint8 -> float32 of 300 bytes (every value)");
  float unit[300];
  lc_cpu_u8_to_unit_f32(300, unit, bytes);
  ok = 1;
  for (int i = 0; i < 300; i++) {
    volatile float b = (float)bytes[i], d = 255.0f; /* a true float division, not a product */
    ok = ok && unit[i] == b / d;
  }
  check(ok, "uint8 -> float32 / 255 of 300 bytes: the true division's bits");
}

int main(void)
{
  rng_seed(7);
  const int64_t lengths[] = {1, 2, 7, 15, 16, 17, 31, 33, 64, 100, 1000, 40000, 70001};
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) test_op(ops[k], lengths[i]);
  check(lc_cpu_binary_contig_f32(LC_BIN_MAX, 0, NULL, NULL, NULL) == 0,
        "max is left to the generic loop (its NaN rule)");
  for (size_t k = 0; k < sizeof unary_ops / sizeof unary_ops[0]; k++) {
    check(lc_cpu_unary_contig_f32(unary_ops[k], 0, NULL, NULL, 0, 0) == 1, "unary op %d covered",
          (int)unary_ops[k]);
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) test_unary(unary_ops[k], lengths[i]);
  }
  check(lc_cpu_unary_contig_f32(LC_UN_EXP, 0, NULL, NULL, 0, 0) == 0, "exp is left to its own loops");
  test_bytes();
  return check_done("test_kernels_elementwise_contig");
}
