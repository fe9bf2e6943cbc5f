/* `spantap tree`'s body: one trace's spans as an indented tree. */
#ifndef SPANTAP_REPORTS_TREE_H
#define SPANTAP_REPORTS_TREE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Prints the spans of trace TRACE_ID of the recording DB to OUT as a tree.
 * Returns 0, or a negative errno with ERR saying what failed: -ENOENT no such
 * DB or trace, -EINVAL not a spantap recording (or one without spans), -EIO an
 * SQL or write failure, -ENOMEM. */
int spantap_report_tree(const char *db, int64_t trace_id, FILE *out, char *err, size_t errlen);

#endif
