/* The recording an export reads: the checks that it has the tables and
 * columns the exporters read (recordings carry no schema version number, so
 * the columns are the version), and the metadata every format needs. */
#ifndef SPANTAP_EXPORT_EXPORT_DB_H
#define SPANTAP_EXPORT_EXPORT_DB_H

#include <stdint.h>
#include <stddef.h>

#include "export/ids.h"

struct sqlite3;

struct spantap_export_recording {
  struct sqlite3 *db; /* borrowed: the caller opened it and closes it */
  struct spantap_export_salt salt;
  int64_t wall_clock_offset_ns; /* add to a CLOCK_MONOTONIC time for the wall clock (0: unknown) */
  int64_t started_ns;           /* tracing started (0: unknown, e.g. an import) */
  int64_t ended_ns;
  char hostname[256]; /* "" when not recorded */
  char kernel[256];
  char runtime[32];
  int64_t complete, events_lost;
};

/* Checks that DB (a spantap recording opened read-only) has every table and
 * column the exporters read and fills *REC. Returns 0, or -EINVAL when the
 * schema differs (ERR names the missing table or column), -EIO on another
 * database error. DB stays the caller's. */
int spantap_export_recording_open(struct sqlite3 *db, struct spantap_export_recording *rec,
                                  char *err, size_t errlen);

#endif
