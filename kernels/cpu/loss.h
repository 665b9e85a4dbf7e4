/* Softmax, log-softmax and fused cross-entropy on the CPU, over the last dimension of a
 * contiguous (rows, classes) array. Numerically stable: the row maximum is subtracted before
 * exponentiating, and log-sum-exp is formed as max + log(sum exp(x - max)), in double.
 * Outputs are overwritten. Rows are split over OpenMP threads. float32 and float64 entry
 * points share one implementation (loss_impl.inc). */
#ifndef LC_KERNELS_CPU_LOSS_H
#define LC_KERNELS_CPU_LOSS_H

#include <stdint.h>

#include "kernels/common/loss.h" /* LC_LOSS_* */

/* y = x - logsumexp(x) per row. y may equal x (in place). */
void lc_log_softmax_forward_f32(int64_t rows, int64_t classes, const float *x, float *y);
void lc_log_softmax_forward_f64(int64_t rows, int64_t classes, const double *x, double *y);
/* From the forward output y: dx = dy - exp(y) * sum(dy) per row. dx may equal dy. */
void lc_log_softmax_backward_f32(int64_t rows, int64_t classes, const float *y, const float *dy,
                                 float *dx);
void lc_log_softmax_backward_f64(int64_t rows, int64_t classes, const double *y,
                                 const double *dy, double *dx);

/* y = exp(x - logsumexp(x)) per row (rows sum to 1). */
void lc_softmax_forward_f32(int64_t rows, int64_t classes, const float *x, float *y);
void lc_softmax_forward_f64(int64_t rows, int64_t classes, const double *x, double *y);

/* Cross-entropy from logits, one loss per row (the caller reduces: mean, sum or none):
 *   loss[r] = -(1 - eps) logp[r][t_r] - (eps / classes) sum_j logp[r][j],
 * logp = log_softmax(logits), eps = label_smoothing in [0, 1], targets 0-based.
 * Every target is checked first; on one outside [0, classes) nothing is written, *bad_row
 * (when not NULL) gets the first offending row and LC_LOSS_ETARGET is returned, so the caller
 * can say "cross_entropy: target 11 is out of range for 10 classes" in its own numbering. */
int lc_cross_entropy_forward_f32(int64_t rows, int64_t classes, const float *logits,
                                 const int64_t *targets, double label_smoothing, float *loss,
                                 int64_t *bad_row);
int lc_cross_entropy_forward_f64(int64_t rows, int64_t classes, const double *logits,
                                 const int64_t *targets, double label_smoothing, double *loss,
                                 int64_t *bad_row);

/* dlogits[r] = (softmax(logits[r]) - q_r) * dloss[r * dloss_stride], where q_r is the smoothed
 * one-hot target ((1 - eps) at t_r, plus eps / classes everywhere). dloss_stride 0 broadcasts
 * one value (a mean or sum reduction: 1/rows or 1 times the incoming gradient). Targets are
 * checked as in the forward. */
int lc_cross_entropy_backward_f32(int64_t rows, int64_t classes, const float *logits,
                                  const int64_t *targets, double label_smoothing,
                                  const float *dloss, int64_t dloss_stride, float *dlogits,
                                  int64_t *bad_row);
int lc_cross_entropy_backward_f64(int64_t rows, int64_t classes, const double *logits,
                                  const int64_t *targets, double label_smoothing,
                                  const double *dloss, int64_t dloss_stride, double *dlogits,
                                  int64_t *bad_row);

#endif
