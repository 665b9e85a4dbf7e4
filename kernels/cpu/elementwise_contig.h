/* float32 loops over contiguous arrays, vectorised for the processor's widest units
 * (kernels/cpu/elementwise_contig.c): the training step's gradient products, ReLU, the
 * scalar arithmetic and the data loader's byte-to-float conversion, whose generic strided
 * loops the compiler leaves scalar. */
#ifndef LC_CPU_ELEMENTWISE_CONTIG_H
#define LC_CPU_ELEMENTWISE_CONTIG_H

#include <stdint.h>

#include "kernels/common/ops.h"

/* o[i] = op(a[i], b[i]) for i < n, bit for bit what the generic loop computes. Returns 0 (and
 * writes nothing) for an op it does not cover. o may alias a or b. */
int lc_cpu_binary_contig_f32(lc_binary_op op, int64_t n, float *o, const float *a, const float *b);

/* The same with b one value for every element (a broadcast scalar). */
int lc_cpu_binary_scalar_f32(lc_binary_op op, int64_t n, float *o, const float *a, float b);

/* o[i] = op(a[i]) with the scalars s0, s1 (lc_cpu_unary's), for the arithmetic ops (ReLU,
 * the scalar forms of + - * /, clamp, ...); 0 for the others (exp, log, comparisons). */
int lc_cpu_unary_contig_f32(lc_unary_op op, int64_t n, float *o, const float *a, double s0,
                            double s1);

/* o[i] = a[i] / 255 in float32 (torchvision's ToTensor: a true division, the same bits as
 * converting, then dividing by a float32 255). */
void lc_cpu_u8_to_unit_f32(int64_t n, float *o, const uint8_t *a);

/* o[i] = a[i] as a float. */
void lc_cpu_u8_to_f32(int64_t n, float *o, const uint8_t *a);

#endif
