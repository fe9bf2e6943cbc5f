/* `spantap stacks`'s body: application call sites by total syscall time. */
#ifndef SPANTAP_REPORTS_STACKS_H
#define SPANTAP_REPORTS_STACKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "reports/table_print.h"

struct spantap_stacks_opts {
  int64_t limit;   /* at most this many call sites; 0: all */
  int64_t span_id; /* only the syscalls of this span; 0: all syscalls */
  enum spantap_table_format format;
};

/* Prints the call sites of the recording DB to OUT, hottest first, then (as
 * text) a line of totals. Returns 0, or a negative errno with ERR saying what
 * failed: -ENOENT no such DB or span, -EINVAL not a spantap recording, -EIO an
 * SQL or write failure, -ENOMEM. */
int spantap_report_stacks(const char *db, FILE *out, const struct spantap_stacks_opts *o, char *err,
                          size_t errlen);

#endif
