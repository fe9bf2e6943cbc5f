/* The HTML report page: one self-contained file (its styles, d3 and its
 * script inlined, the recording's data as JSON) that opens offline. */
#ifndef SPANTAP_REPORTS_HTML_REPORT_PAGE_H
#define SPANTAP_REPORTS_HTML_REPORT_PAGE_H

#include <stddef.h>

#include "reports/html/report_data.h"

struct sqlite3;

/* Writes the report of recording DB (open read-only; COMPARE a second one or
 * NULL) to the file PATH: first to a temporary file in PATH's directory, which
 * replaces PATH only once complete, so that a failure leaves nothing
 * half-written (the temporary file is removed). The file is created mode 0600,
 * like the recording. Fills INFO when not NULL. Returns 0 or a negative errno
 * with ERR saying what failed: the errno of creating or writing the file, or
 * what spantap_report_data_write returns. */
int spantap_report_page_write(const char *path, struct sqlite3 *db, struct sqlite3 *compare,
                              const struct spantap_report_data_opts *o,
                              struct spantap_report_data_info *info, char *err, size_t errlen);

#endif
