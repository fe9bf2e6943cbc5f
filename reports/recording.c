/* Opening a recording for the reports: read-only, never created, refused unless
 * it is a spantap recording, so that every report refuses the same files the same
 * way; and the small reads the reports share. */
#include "reports/recording.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int spantap_recording_open(const char *path, struct sqlite3 **out, char *err, size_t errlen) {
  *out = NULL;
  struct stat st;
  if (stat(path, &st) < 0) {
    int e = errno;
    snprintf(err, errlen, "Failed to open recording: path=%s errno=%s", path, strerror(e));
    return -e;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "Failed to open recording: path=%s is not a regular file", path);
    return -EINVAL;
  }
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "Failed to open recording: path=%s error=%s", path,
             db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return -EIO;
  }
  /* a recording still being written is readable; wait out its commits */
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt *st_check = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT 1 FROM sqlite_master WHERE type = 'table'"
                              " AND name = 'recording'",
                              -1, &st_check, NULL);
  int step = rc == SQLITE_OK ? sqlite3_step(st_check) : rc;
  sqlite3_finalize(st_check);
  if (step == SQLITE_DONE) {
    snprintf(err, errlen, "not a spantap recording: path=%s has no 'recording' table", path);
    sqlite3_close(db);
    return -EINVAL;
  }
  if (step != SQLITE_ROW) {
    bool not_a_db = sqlite3_errcode(db) == SQLITE_NOTADB;
    snprintf(err, errlen, "Failed to read recording: path=%s error=%s%s", path, sqlite3_errmsg(db),
             not_a_db ? " (not a spantap recording)" : "");
    sqlite3_close(db);
    return not_a_db ? -EINVAL : -EIO;
  }
  *out = db;
  return 0;
}

/* Whether DB has a table or view named NAME. */
bool spantap_recording_has_table(sqlite3 *db, const char *name) {
  sqlite3_stmt *st;
  bool found = false;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = ?", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return found;
}

/* The first column of the first row of SQL with ?1 bound to ARG (when > 0), or DEFAULT. */
int64_t spantap_recording_int(sqlite3 *db, const char *sql, int64_t arg, int64_t dflt) {
  sqlite3_stmt *st;
  int64_t v = dflt;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return dflt;
  if (arg > 0)
    sqlite3_bind_int64(st, 1, arg);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* The text of the first column of SQL's first row with ?1 bound to ARG (may be
 * NULL), copied into BUF; "" when there is none. Returns BUF. */
char *spantap_recording_text(sqlite3 *db, const char *sql, const char *arg, char *buf, size_t len) {
  sqlite3_stmt *st;
  buf[0] = '\0';
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return buf;
  if (arg)
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return buf;
}

/* Writes "Failed to WHAT" with PATH and SQLite's last message into ERR. Returns -EIO. */
int spantap_recording_failed(sqlite3 *db, const char *what, const char *path, char *err,
                             size_t errlen) {
  snprintf(err, errlen, "Failed to %s: path=%s error=%s", what, path, sqlite3_errmsg(db));
  return -EIO;
}

/* A recording made before spans were derived has no spans table. */
int spantap_recording_require_spans(sqlite3 *db, const char *path, char *err, size_t errlen) {
  if (spantap_recording_has_table(db, "spans") && spantap_recording_has_table(db, "traces") &&
      spantap_recording_has_table(db, "span_edges"))
    return 0;
  snprintf(err, errlen,
           "recording has no spans or traces tables: path=%s (made by an older spantap;"
           " import its saved stream again)",
           path);
  return -EINVAL;
}

/* The file name part of PATH (PATH itself without a slash; NULL stays NULL). */
const char *spantap_report_base_name(const char *path) {
  const char *slash = path ? strrchr(path, '/') : NULL;
  return slash ? slash + 1 : path;
}

int spantap_recording_open_spans(const char *path, struct sqlite3 **out, char *err, size_t errlen) {
  int rc = spantap_recording_open(path, out, err, errlen);
  if (rc == 0)
    rc = spantap_recording_require_spans(*out, path, err, errlen);
  if (rc < 0 && *out) {
    sqlite3_close(*out);
    *out = NULL;
  }
  return rc;
}
