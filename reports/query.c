/* `spantap query`: runs any read-only SQL over a recording and prints each
 * statement's rows as a table (text, CSV or JSON). */
#include "reports/query.h"

#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include "reports/recording.h"

/* The first line of a statement's text, at most 80 characters, for messages. */
static const char *statement_excerpt(sqlite3_stmt *st, char *buf, size_t len) {
  const char *sql = sqlite3_sql(st);
  size_t n = strcspn(sql ? sql : "", "\n");
  if (n > 80)
    n = 80;
  snprintf(buf, len, "%.*s%s", (int)n, sql ? sql : "", sql && sql[n] ? " ..." : "");
  return buf;
}

int spantap_report_query(const char *db_path, const char *sql, FILE *out,
                         const struct spantap_table_opts *o, char *err, size_t errlen) {
  sqlite3 *db;
  int rc = spantap_recording_open(db_path, &db, err, errlen);
  if (rc < 0)
    return rc;
  const char *tail = sql;
  int n = 0, tables = 0;
  char excerpt[100];
  while (rc == 0 && tail && *tail) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, tail, -1, &st, &tail) != SQLITE_OK) {
      snprintf(err, errlen, "SQL error in statement %d: %s", n + 1, sqlite3_errmsg(db));
      rc = -EINVAL;
      break;
    }
    if (!st) /* only blanks or a comment left */
      continue;
    n++;
    if (!sqlite3_stmt_readonly(st)) {
      snprintf(err, errlen,
               "refused statement %d: it would write to the database, and spantap query is"
               " read-only: %s",
               n, statement_excerpt(st, excerpt, sizeof excerpt));
      rc = -EROFS;
    } else if (sqlite3_column_count(st) == 0) {
      int step;
      while ((step = sqlite3_step(st)) == SQLITE_ROW)
        ;
      if (step != SQLITE_DONE) {
        snprintf(err, errlen, "SQL error in statement %d: %s", n, sqlite3_errmsg(db));
        rc = sqlite3_errcode(db) == SQLITE_READONLY ? -EROFS : -EINVAL;
      }
    } else {
      /* result sets apart: a blank line (CRLF in CSV); JSON arrays follow each other */
      if (tables++ && o && o->format != SPANTAP_TABLE_JSON)
        fputs(o->format == SPANTAP_TABLE_CSV ? "\r\n" : "\n", out);
      char msg[400];
      int64_t rows = spantap_table_print_stmt(st, out, o, msg, sizeof msg);
      if (rows < 0) {
        snprintf(err, errlen, "SQL error in statement %d: %s", n, msg);
        rc = sqlite3_errcode(db) == SQLITE_READONLY ? -EROFS : rows == -EIO ? -EINVAL : (int)rows;
      }
    }
    sqlite3_finalize(st);
  }
  if (rc == 0 && n == 0) {
    snprintf(err, errlen, "no SQL statement given: sql='%s'", sql ? sql : "");
    rc = -EINVAL;
  }
  sqlite3_close(db);
  return rc;
}
