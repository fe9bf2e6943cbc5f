/* Streaming SQL reads shared by the exporters (see sql_rows.h). */
#include "export/sql_rows.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

int spantap_rows_prepare(sqlite3 *db, const char *sql, const char *what, sqlite3_stmt **st,
                         char *err, size_t errlen) {
  *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "Failed to prepare the query of %s: error=%s", what, sqlite3_errmsg(db));
    sqlite3_finalize(*st);
    *st = NULL;
    return -EIO;
  }
  return 0;
}

int spantap_rows_next(sqlite3_stmt *st, const char *what, char *err, size_t errlen) {
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    return 1;
  if (rc == SQLITE_DONE)
    return 0;
  snprintf(err, errlen, "Failed to read %s: error=%s", what, sqlite3_errmsg(sqlite3_db_handle(st)));
  return -EIO;
}

const char *spantap_rows_text(sqlite3_stmt *st, int col, const char *dflt) {
  const unsigned char *t = sqlite3_column_text(st, col);
  return t ? (const char *)t : dflt;
}

int64_t spantap_rows_int(sqlite3_stmt *st, int col) {
  return sqlite3_column_int64(st, col);
}

int spantap_rows_is_null(sqlite3_stmt *st, int col) {
  return sqlite3_column_type(st, col) == SQLITE_NULL;
}

const char *spantap_rows_basename(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash && slash[1] ? slash + 1 : path;
}
