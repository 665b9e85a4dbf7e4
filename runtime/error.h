/* Errors raised by the runtime.
 *
 * The runtime knows nothing of Lua, yet a bad call deep inside an op must reach the
 * script as a catchable error. So the runtime reports through one handler that never
 * returns: the bindings install one that raises a Lua error. Ops validate their
 * arguments before they allocate, so a bad argument leaves nothing behind. A failure found
 * after an op has allocated (a kernel out of scratch memory, a CUDA error) unwinds past the
 * op's temporaries (lc_conv2d's contiguous copies and output, for one): the handler, which
 * does the unwinding, first releases what the unwound ops still hold (lc_release_held,
 * runtime/tensor.h; bindings/common.c does). error.c calls nothing else in the runtime, so
 * every runtime file may call it. Kernels never call this: they return codes, which the runtime turns into errors. */
#ifndef LC_ERROR_H
#define LC_ERROR_H

#include <stdint.h>

typedef void (*lc_error_handler)(const char *message);

/* Installs the handler; it must not return (it longjmps, as lua_error does). */
void lc_set_error_handler(lc_error_handler handler);

/* Formats a message and hands it to the handler. Without a handler it prints and aborts. */
#ifdef __cplusplus
extern "C" [[noreturn]] void lc_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#else
_Noreturn void lc_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif

/* Writes "(2, 3, 4)" for a size list into buf. Returns buf. */
char *lc_format_sizes(char *buf, int cap, int ndim, const int64_t *sizes);

#endif
