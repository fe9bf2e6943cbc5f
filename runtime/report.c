/* Error and progress reporting shared by the machine-setup files. */
#include "runtime/report.h"

#include <stdarg.h>

void spantap_set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

void spantap_progress(FILE *f, const char *fmt, ...) {
  if (!f)
    return;
  va_list ap;
  va_start(ap, fmt);
  fputs("spantap setup: ", f);
  vfprintf(f, fmt, ap);
  fputc('\n', f);
  fflush(f);
  va_end(ap);
}
