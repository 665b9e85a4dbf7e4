/* Codes shared by the runtime and every kernel family: element types and the
 * pointwise/reduction op codes. Plain enums, so kernels need nothing above them. */
#ifndef LC_KERNEL_OPS_H
#define LC_KERNEL_OPS_H

/* LC_BFLOAT16: the upper half of a float32 (8-bit exponent, 7-bit mantissa), stored as uint16.
 * The CPU kernels do not compute in it: the runtime widens it to float32 around every op. */
typedef enum { LC_FLOAT32, LC_FLOAT64, LC_INT64, LC_UINT8, LC_BFLOAT16, LC_NUM_DTYPES } lc_dtype;

typedef enum {
  LC_UN_NEG, LC_UN_EXP, LC_UN_LOG, LC_UN_SQRT, LC_UN_ABS, LC_UN_SIGMOID, LC_UN_TANH,
  LC_UN_RELU, LC_UN_SIGN, LC_UN_RECIPROCAL,
  /* with scalar parameters s0, s1 */
  LC_UN_ADD_SCALAR,  /* x + s0 */
  LC_UN_MUL_SCALAR,  /* x * s0 */
  LC_UN_RSUB_SCALAR, /* s0 - x */
  LC_UN_RDIV_SCALAR, /* s0 / x */
  LC_UN_DIV_SCALAR,  /* x / s0, a true division (x * (1 / s0) can differ in the last bit) */
  LC_UN_POW_SCALAR,  /* x ^ s0 */
  LC_UN_RPOW_SCALAR, /* s0 ^ x */
  LC_UN_CLAMP,       /* min(max(x, s0), s1) */
  /* gradient helpers */
  LC_UN_SIGMOID_GRAD_FROM_OUTPUT, /* y * (1 - y) */
  LC_UN_TANH_GRAD_FROM_OUTPUT,    /* 1 - y * y */
  LC_UN_STEP,                     /* x > 0 ? 1 : 0 (relu's derivative) */
  /* comparisons with the scalar s0: output uint8 */
  LC_UN_GT_SCALAR, LC_UN_LT_SCALAR, LC_UN_GE_SCALAR, LC_UN_LE_SCALAR, LC_UN_EQ_SCALAR,
  LC_UN_NE_SCALAR,
  LC_UN_COUNT
} lc_unary_op;

#define LC_UN_IS_COMPARISON(op) ((op) >= LC_UN_GT_SCALAR)

typedef enum {
  LC_BIN_ADD, LC_BIN_SUB, LC_BIN_MUL, LC_BIN_DIV, LC_BIN_POW, LC_BIN_MAX, LC_BIN_MIN,
  /* activation gradients in one pass, a = the incoming gradient, b = the saved output */
  LC_BIN_SIGMOID_BACKWARD, /* a * b * (1 - b) */
  LC_BIN_TANH_BACKWARD,    /* a * (1 - b * b) */
  LC_BIN_RELU_BACKWARD,    /* b > 0 ? a : 0 */
  /* comparisons: output uint8 (0/1) */
  LC_BIN_GT, LC_BIN_LT, LC_BIN_GE, LC_BIN_LE, LC_BIN_EQ, LC_BIN_NE,
  LC_BIN_COUNT
} lc_binary_op;

#define LC_BIN_IS_COMPARISON(op) ((op) >= LC_BIN_GT)

typedef enum { LC_RED_SUM, LC_RED_PROD, LC_RED_MAX, LC_RED_MIN, LC_RED_COUNT } lc_reduce_op;

#endif
