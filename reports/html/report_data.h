/* The data of the HTML report: what `spantap report` reads from a recording
 * (read-only) and hands to the page as one JSON object (docs/report.md). */
#ifndef SPANTAP_REPORTS_HTML_REPORT_DATA_H
#define SPANTAP_REPORTS_HTML_REPORT_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sqlite3;

/* Above SPANTAP_REPORT_MAX_SPANS spans the report keeps whole traces, one in
 * K (plus the slowest), so that the page still loads in a few seconds. */
#define SPANTAP_REPORT_MAX_SPANS 100000
#define SPANTAP_REPORT_TRACES 100

struct spantap_report_data_opts {
  int64_t max_spans;        /* keep at most about this many spans; 0: the default */
  int64_t traces;           /* list this many slowest traces; 0: the default */
  const char *name;         /* the recording's name shown on the page (its path) */
  const char *compare_name; /* the --compare recording's name */
};

/* What the data holds, for the command's messages. */
struct spantap_report_data_info {
  int64_t syscalls, spans, traces; /* in the recording */
  int64_t spans_shown;             /* in the report */
  int64_t sample_every;            /* 1: all traces; K: one trace in K (plus the slowest) */
  char missing[256];               /* what the recording lacks, for the views; "" when nothing */
};

/* Writes the JSON object of the recording DB (open read-only; not closed) to
 * OUT: its metadata and health, its spans, the slowest traces with their
 * syscalls, the stacks weighted by syscall time and the dual-space matrix.
 * COMPARE, when not NULL, is a second recording whose dual space is written
 * alongside. Fills INFO when not NULL. Returns 0, or a negative errno with ERR
 * saying what failed: -EINVAL the file lacks a table of a spantap recording,
 * -EIO an SQLite or write error. */
int spantap_report_data_write(struct sqlite3 *db, struct sqlite3 *compare, FILE *out,
                              const struct spantap_report_data_opts *o,
                              struct spantap_report_data_info *info, char *err, size_t errlen);

#endif
