/* Streaming reads of a recording: a statement prepared once, its rows stepped
 * through one at a time (SQLite sorts and groups in its own bounded cache,
 * spilling to temporary files), and errors that name the query and quote
 * SQLite's message. */
#ifndef SPANTAP_EXPORT_SQL_ROWS_H
#define SPANTAP_EXPORT_SQL_ROWS_H

#include <stddef.h>
#include <stdint.h>

struct sqlite3;
struct sqlite3_stmt;

/* Prepares SQL on DB into *ST (finalize with sqlite3_finalize). WHAT names the
 * query in messages. Returns 0 or -EIO with ERR quoting sqlite3_errmsg. */
int spantap_rows_prepare(struct sqlite3 *db, const char *sql, const char *what,
                         struct sqlite3_stmt **st, char *err, size_t errlen);

/* Steps ST: 1 a row is ready, 0 no more rows, -EIO an error (ERR says which
 * query, WHAT, failed and quotes SQLite). */
int spantap_rows_next(struct sqlite3_stmt *st, const char *what, char *err, size_t errlen);

/* Column COL of the current row as text, or DFLT when it is NULL. The text
 * lives until the next step. */
const char *spantap_rows_text(struct sqlite3_stmt *st, int col, const char *dflt);

/* Column COL as an integer (0 when NULL), and whether it is NULL. */
int64_t spantap_rows_int(struct sqlite3_stmt *st, int col);
int spantap_rows_is_null(struct sqlite3_stmt *st, int col);

/* The last path component of PATH (PATH itself without a '/'). */
const char *spantap_rows_basename(const char *path);

#endif
