/* Tabular output of spantap's read commands: an aligned text table, CSV
 * (RFC 4180) or a JSON array of objects, fed row by row or straight from an
 * SQLite statement. Text is buffered to size the columns; CSV and JSON stream. */
#ifndef SPANTAP_REPORTS_TABLE_PRINT_H
#define SPANTAP_REPORTS_TABLE_PRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sqlite3_stmt;

enum spantap_table_format { SPANTAP_TABLE_TEXT, SPANTAP_TABLE_CSV, SPANTAP_TABLE_JSON };

struct spantap_table_opts {
  enum spantap_table_format format;
  unsigned max_width;    /* text: a longer cell is cut to this many characters, the last
                          * one an ellipsis; 0: no limit */
  int decimals;          /* REAL values with this many decimals; below 0: 15 significant
                          * digits, as SQLite renders them */
  const char *null_text; /* text: how NULL shows (NULL: an empty cell) */
  bool footer;           /* text: "(N rows)" after the table */
};

enum spantap_cell_type {
  SPANTAP_CELL_NULL,
  SPANTAP_CELL_INT,
  SPANTAP_CELL_REAL,
  SPANTAP_CELL_TEXT
};

/* One value. TEXT is borrowed for the duration of spantap_table_add_row. */
struct spantap_cell {
  enum spantap_cell_type type;
  int64_t i;
  double d;
  const char *text;
};

static inline struct spantap_cell spantap_cell_int(int64_t v) {
  return (struct spantap_cell){.type = SPANTAP_CELL_INT, .i = v};
}
static inline struct spantap_cell spantap_cell_real(double v) {
  return (struct spantap_cell){.type = SPANTAP_CELL_REAL, .d = v};
}
/* A NULL T makes a NULL cell. */
static inline struct spantap_cell spantap_cell_text(const char *t) {
  return (struct spantap_cell){.type = t ? SPANTAP_CELL_TEXT : SPANTAP_CELL_NULL, .text = t};
}

struct spantap_table;

/* Starts a table of NCOLS columns named NAMES (copied) written to OUT with the
 * options O (copied; NULL: text, no width limit). Returns an owned table (end it
 * with spantap_table_finish or spantap_table_destroy), NULL when out of memory. */
struct spantap_table *spantap_table_new(FILE *out, const struct spantap_table_opts *o,
                                        unsigned ncols, const char *const *names);

/* Adds a row of the table's NCOLS CELLS (copied). CSV and JSON print it at once,
 * text keeps it for spantap_table_finish. Returns 0 or -ENOMEM. */
int spantap_table_add_row(struct spantap_table *t, const struct spantap_cell *cells);

/* Prints what is left (the whole text table, JSON's closing bracket) and frees T
 * whatever the result. Returns 0, or -EIO when writing to OUT failed. */
int spantap_table_finish(struct spantap_table *t);

/* Frees T without printing anything more. NULL is a no-op. */
void spantap_table_destroy(struct spantap_table *t);

/* Steps ST to its end and prints its rows as a table whose columns are the
 * statement's result columns (BLOBs as x'hex' text). ST stays owned by the
 * caller, reset or not. Returns the number of rows, or -EIO with SQLite's
 * message in ERR (rows printed before the error stay printed), -ENOMEM. */
int64_t spantap_table_print_stmt(struct sqlite3_stmt *st, FILE *out,
                                 const struct spantap_table_opts *o, char *err, size_t errlen);

#endif
