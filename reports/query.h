/* `spantap query`'s body: any read-only SQL over a recording, as tables. */
#ifndef SPANTAP_REPORTS_QUERY_H
#define SPANTAP_REPORTS_QUERY_H

#include <stddef.h>
#include <stdio.h>

#include "reports/table_print.h"

/* Runs the `;`-separated statements of SQL over the recording DB (opened
 * read-only) in order, printing each one's rows to OUT as a table in the format
 * of O. Returns 0, or a negative errno with ERR saying what failed with which
 * values: -ENOENT no such DB, -EINVAL not a spantap recording or an SQL error,
 * -EROFS a statement that would write, -EIO another failure. */
int spantap_report_query(const char *db, const char *sql, FILE *out,
                         const struct spantap_table_opts *o, char *err, size_t errlen);

#endif
