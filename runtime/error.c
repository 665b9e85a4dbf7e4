#include "runtime/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static lc_error_handler current_handler;

void lc_set_error_handler(lc_error_handler handler) { current_handler = handler; }

void lc_error(const char *fmt, ...)
{
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  if (current_handler) current_handler(message);
  fprintf(stderr, "luacnn: fatal: %s\n", message);
  abort();
}

char *lc_format_sizes(char *buf, int cap, int ndim, const int64_t *sizes)
{
  int n = snprintf(buf, cap, "(");
  for (int i = 0; i < ndim && n < cap; i++)
    n += snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)sizes[i]);
  if (n < cap)
    snprintf(buf + n, cap - n, ")");
  return buf;
}
