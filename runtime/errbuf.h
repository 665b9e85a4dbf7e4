/* The error convention of runtime's C-only parts (CSV, image files, transforms, the loader):
 * a function returns -1 and leaves a message in the caller's buffer, which the binding turns
 * into a Lua error. They run on worker threads too, where lc_error's unwinding cannot reach. */
#ifndef LC_RUNTIME_ERRBUF_H
#define LC_RUNTIME_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Writes the message into err (when there is one) and returns -1, so `return lc_fail(...)`
 * reads as what it does. */
__attribute__((format(printf, 3, 4)))
static inline int lc_fail(char *err, size_t errlen, const char *fmt, ...)
{
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

#endif
