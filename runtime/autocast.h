/* Autocast (lc.autocast): mixed precision by op. While it is on, conv2d, linear and matmul
 * take their float32 inputs in the narrow dtype (bfloat16), the ops that need float32's range
 * (log_softmax, cross_entropy, exp, log, pow, reciprocal, sum, prod) widen bfloat16 inputs and
 * answer in float32, and every other op follows its inputs. float64 is never touched.
 * Parameters stay float32: the casts are differentiable, so their gradients come back float32.
 * Per thread, like grad mode. */
#ifndef LC_RUNTIME_AUTOCAST_H
#define LC_RUNTIME_AUTOCAST_H

#include <stdbool.h>

#include "runtime/tensor.h"

/* LC_BFLOAT16 turns it on, LC_NUM_DTYPES off; returns the previous setting. */
lc_dtype lc_set_autocast(lc_dtype dtype);
lc_dtype lc_autocast_dtype(void); /* LC_NUM_DTYPES when off */
/* On, and not suspended by an op that is applying it already. */
bool lc_autocast_active(void);
/* An op that has cast its inputs computes with autocast suspended, so that the ops it is
 * made of do not cast again. lc_autocast_unwind ends every suspension (an error raised
 * inside an op; the binding's error handler calls it). */
void lc_autocast_suspend(void);
void lc_autocast_resume(void);
void lc_autocast_unwind(void);

#endif
