/* `spantap traces`'s body: a recording's request traces, slowest first. */
#ifndef SPANTAP_REPORTS_TRACES_H
#define SPANTAP_REPORTS_TRACES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "reports/table_print.h"

struct spantap_traces_opts {
  int64_t limit;       /* at most this many traces; 0: all */
  const char *service; /* only traces with a span of this service; NULL: all */
  enum spantap_table_format format;
};

/* Prints the slowest traces of the recording DB to OUT, then (as text) a line
 * of totals, or why the recording has no spans. Returns 0, or a negative errno
 * with ERR saying what failed: -ENOENT no such DB, -EINVAL not a spantap
 * recording (or one without spans), -EIO an SQL failure, -ENOMEM. */
int spantap_report_traces(const char *db, FILE *out, const struct spantap_traces_opts *o, char *err,
                          size_t errlen);

#endif
