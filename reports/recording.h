/* A recording opened for reading by the reports, and the small reads they share:
 * one value, one text, whether a table exists, an SQL failure as a message. */
#ifndef SPANTAP_REPORTS_RECORDING_H
#define SPANTAP_REPORTS_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sqlite3;

/* Opens the recording at PATH read-only (never creating it) and checks that it
 * is a spantap recording (it has a `recording` table). Returns 0 with an owned
 * connection in *OUT (close with sqlite3_close), or a negative errno with *OUT
 * NULL and ERR saying what failed: -ENOENT (or another errno of stat) no such
 * file, -EINVAL not a spantap recording, -EIO another failure. */
int spantap_recording_open(const char *path, struct sqlite3 **out, char *err, size_t errlen);

/* Whether DB has a table or view named NAME (false when the lookup fails). */
bool spantap_recording_has_table(struct sqlite3 *db, const char *name);

/* The first column of SQL's first row, with ?1 bound to ARG when ARG > 0; DFLT
 * when there is no row, the value is NULL or the query fails. For the values
 * that only explain a result (counts in a message), never for the result. */
int64_t spantap_recording_int(struct sqlite3 *db, const char *sql, int64_t arg, int64_t dflt);

/* The text of the first column of SQL's first row, with ?1 bound to ARG (may be
 * NULL), copied into BUF; "" when there is none or the query fails. Returns BUF. */
char *spantap_recording_text(struct sqlite3 *db, const char *sql, const char *arg, char *buf,
                             size_t len);

/* Writes "Failed to WHAT: path=PATH error=<sqlite3_errmsg>" into ERR. Returns -EIO. */
int spantap_recording_failed(struct sqlite3 *db, const char *what, const char *path, char *err,
                             size_t errlen);

/* Returns 0 when DB has the spans, traces and span_edges tables, else -EINVAL
 * with ERR saying the recording was made by a spantap without spans. */
int spantap_recording_require_spans(struct sqlite3 *db, const char *path, char *err, size_t errlen);

/* spantap_recording_open, then spantap_recording_require_spans: what the span
 * reports open. On failure *OUT is NULL and nothing stays open. */
int spantap_recording_open_spans(const char *path, struct sqlite3 **out, char *err, size_t errlen);

/* The file name part of PATH (PATH itself without a slash; NULL stays NULL):
 * how the reports show a stored file or module path. */
const char *spantap_report_base_name(const char *path);

#endif
