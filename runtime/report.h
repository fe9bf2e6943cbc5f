/* Error and progress reporting shared by the machine-setup files: errors go
 * into the caller's buffer, progress lines to an optional stream. */
#ifndef SPANTAP_REPORT_H
#define SPANTAP_REPORT_H

#include <stddef.h>
#include <stdio.h>

/* Formats into ERR (ERRLEN bytes); does nothing when ERR is NULL or ERRLEN 0. */
void spantap_set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "spantap setup: <message>\n" to F and flushes; F may be NULL. */
void spantap_progress(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
