/* The float and double instances of a kernel family: a .c file defines LC_REAL_IMPL as the
 * path of its _impl.inc and includes this, which includes the .inc twice, with `real` float
 * and FN(name) name##_f32, then `real` double and FN(name) name##_f64. No include guard: it is
 * meant to be included once per family. */
#ifndef LC_REAL_IMPL
#error "define LC_REAL_IMPL (the _impl.inc to instantiate) before including float_pair.h"
#endif

#define real float
#define FN(name) name##_f32
#include LC_REAL_IMPL
#undef real
#undef FN

#define real double
#define FN(name) name##_f64
#include LC_REAL_IMPL
#undef real
#undef FN

#undef LC_REAL_IMPL
