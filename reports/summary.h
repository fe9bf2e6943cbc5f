/* Recording summary: what a user sees when recording ends, read back from the
 * database so that it reports exactly what was stored. */
#ifndef SPANTAP_REPORTS_SUMMARY_H
#define SPANTAP_REPORTS_SUMMARY_H

#include <stddef.h>
#include <stdio.h>

/* Prints the summary of the recording in DB_PATH to OUT: processes traced,
 * events by kind, events lost, malformed lines, and the top TOP syscalls by
 * total time with their application call sites. Returns 0, or a negative errno
 * with ERR saying what failed (the query and SQLite's message), and then prints
 * nothing: -ENOENT no such DB, -EINVAL not a spantap recording, -EIO a failed
 * query or write, -ENOMEM. */
int spantap_summary_print(const char *db_path, FILE *out, int top, char *err, size_t errlen);

#endif
