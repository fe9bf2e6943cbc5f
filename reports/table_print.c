/* Tabular output: aligned text (columns as wide as their widest cell, numbers
 * right-aligned, long text cut with an ellipsis), CSV after RFC 4180 (CRLF line
 * ends, fields with a comma, quote or line break quoted, quotes doubled) and JSON
 * (an array of objects keyed by column name, one object a line). */
#include "reports/table_print.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* A cell as it will print: its text (NULL for SQL NULL) and whether it is a number. */
struct cell_out {
  char *text;
  bool number;
};

struct spantap_table {
  FILE *out;
  struct spantap_table_opts o;
  unsigned ncols;
  char **names;
  int64_t rows;
  /* text only: the rows kept until finish */
  struct cell_out *cells; /* rows * ncols */
  size_t cap_rows;
};

static const char ellipsis[] = "\xe2\x80\xa6"; /* U+2026, one column wide */

/* Display width of UTF-8 text: its code points (continuation bytes do not count). */
static size_t text_width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    w += ((unsigned char)*s & 0xC0) != 0x80;
  return w;
}

/* Renders a REAL: fixed DECIMALS when >= 0, else 15 significant digits with a
 * ".0" kept on whole numbers, as SQLite shows them. Non-finite values give
 * "Inf", "-Inf" or "NaN". Returns BUF. */
static char *format_real(double d, int decimals, char *buf, size_t len) {
  if (isnan(d))
    snprintf(buf, len, "NaN");
  else if (isinf(d))
    snprintf(buf, len, d < 0 ? "-Inf" : "Inf");
  else if (decimals >= 0)
    snprintf(buf, len, "%.*f", decimals, d);
  else {
    snprintf(buf, len, "%.15g", d);
    if (!strpbrk(buf, ".e"))
      strncat(buf, ".0", len - strlen(buf) - 1);
  }
  return buf;
}

/* Copies C into its printable form. Returns 0 or -ENOMEM. */
static int cell_render(const struct spantap_table *t, const struct spantap_cell *c,
                       struct cell_out *o) {
  char buf[64];
  const char *s = NULL;
  o->number = c->type == SPANTAP_CELL_INT || c->type == SPANTAP_CELL_REAL;
  switch (c->type) {
    case SPANTAP_CELL_NULL:
      o->text = NULL;
      return 0;
    case SPANTAP_CELL_INT:
      snprintf(buf, sizeof buf, "%lld", (long long)c->i);
      s = buf;
      break;
    case SPANTAP_CELL_REAL:
      s = format_real(c->d, t->o.decimals, buf, sizeof buf);
      break;
    case SPANTAP_CELL_TEXT:
      s = c->text ? c->text : "";
      break;
  }
  o->text = strdup(s);
  return o->text ? 0 : -ENOMEM;
}

/* Writes S as one CSV field, quoted when it holds a comma, quote or line break.
 * NULL writes nothing (an empty field). */
static void csv_field(FILE *out, const char *s) {
  if (!s)
    return;
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, out);
    return;
  }
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"')
      fputc('"', out);
    fputc(*s, out);
  }
  fputc('"', out);
}

/* Writes S as a JSON string, escaping quotes, backslashes and control characters. */
static void json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(out, "\\%c", ch);
    else if (ch == '\n')
      fputs("\\n", out);
    else if (ch == '\t')
      fputs("\\t", out);
    else if (ch == '\r')
      fputs("\\r", out);
    else if (ch < 0x20 || ch == 0x7f)
      fprintf(out, "\\u%04x", ch);
    else
      fputc(ch, out);
  }
  fputc('"', out);
}

/* JSON has no Inf or NaN: such numbers become null. */
static void json_value(FILE *out, const struct cell_out *c) {
  if (!c->text)
    fputs("null", out);
  else if (c->number && (strchr(c->text, 'I') || strchr(c->text, 'N')))
    fputs("null", out);
  else if (c->number)
    fputs(c->text, out);
  else
    json_string(out, c->text);
}

struct spantap_table *spantap_table_new(FILE *out, const struct spantap_table_opts *o,
                                        unsigned ncols, const char *const *names) {
  struct spantap_table *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->out = out;
  if (o)
    t->o = *o;
  else
    t->o.decimals = -1;
  t->ncols = ncols;
  t->names = calloc(ncols ? ncols : 1, sizeof *t->names);
  if (!t->names) {
    free(t);
    return NULL;
  }
  for (unsigned i = 0; i < ncols; i++) {
    t->names[i] = strdup(names[i] ? names[i] : "");
    if (!t->names[i]) {
      spantap_table_destroy(t);
      return NULL;
    }
  }
  if (t->o.format == SPANTAP_TABLE_CSV) {
    for (unsigned i = 0; i < ncols; i++) {
      if (i)
        fputc(',', out);
      csv_field(out, t->names[i]);
    }
    fputs("\r\n", out);
  }
  return t;
}

int spantap_table_add_row(struct spantap_table *t, const struct spantap_cell *cells) {
  struct cell_out *row;
  struct cell_out stream_row[16];
  bool keep = t->o.format == SPANTAP_TABLE_TEXT;
  if (keep) {
    if ((size_t)t->rows == t->cap_rows) {
      size_t cap = t->cap_rows ? t->cap_rows * 2 : 64;
      struct cell_out *n = realloc(t->cells, cap * (t->ncols ? t->ncols : 1) * sizeof *n);
      if (!n)
        return -ENOMEM;
      t->cells = n;
      t->cap_rows = cap;
    }
    row = t->cells + (size_t)t->rows * t->ncols;
  } else {
    row = t->ncols <= 16 ? stream_row : calloc(t->ncols, sizeof *row);
    if (!row)
      return -ENOMEM;
  }
  int rc = 0;
  unsigned done = 0;
  for (; done < t->ncols && rc == 0; done++)
    rc = cell_render(t, &cells[done], &row[done]);
  if (rc < 0) {
    for (unsigned i = 0; i + 1 < done; i++)
      free(row[i].text);
  } else if (keep) {
    t->rows++;
    return 0;
  } else if (t->o.format == SPANTAP_TABLE_CSV) {
    for (unsigned i = 0; i < t->ncols; i++) {
      if (i)
        fputc(',', t->out);
      csv_field(t->out, row[i].text);
    }
    fputs("\r\n", t->out);
  } else {
    fputs(t->rows ? ",\n  {" : "[\n  {", t->out);
    for (unsigned i = 0; i < t->ncols; i++) {
      if (i)
        fputs(", ", t->out);
      json_string(t->out, t->names[i]);
      fputs(": ", t->out);
      json_value(t->out, &row[i]);
    }
    fputc('}', t->out);
  }
  if (rc == 0) {
    t->rows++;
    for (unsigned i = 0; i < t->ncols; i++)
      free(row[i].text);
  }
  if (row != stream_row && !keep)
    free(row);
  return rc;
}

/* Writes S in text mode: control characters as spaces, at most MAX characters
 * (the last an ellipsis when cut; 0: no limit), padded to WIDTH on the side ALIGN
 * says unless it is the line's last cell. */
static void text_cell(FILE *out, const char *s, unsigned max, size_t width, bool right, bool last) {
  size_t w = text_width(s);
  size_t shown = max && w > max ? max : w;
  if (right)
    for (size_t i = shown; i < width; i++)
      fputc(' ', out);
  size_t cps = 0;
  for (const char *p = s; *p; p++) {
    bool start = ((unsigned char)*p & 0xC0) != 0x80;
    if (start && shown < w && cps == shown - 1) {
      fputs(ellipsis, out);
      break;
    }
    cps += start;
    fputc((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p, out);
  }
  if (!right && !last)
    for (size_t i = shown; i < width; i++)
      fputc(' ', out);
}

/* Prints the kept rows as the aligned table: header, rule, rows, footer. */
static void text_print(struct spantap_table *t) {
  size_t *width = calloc(t->ncols ? t->ncols : 1, sizeof *width);
  bool *right = calloc(t->ncols ? t->ncols : 1, sizeof *right);
  if (!width || !right) {
    free(width);
    free(right);
    return;
  }
  const char *null_text = t->o.null_text ? t->o.null_text : "";
  unsigned max = t->o.max_width;
  for (unsigned c = 0; c < t->ncols; c++) {
    size_t w = text_width(t->names[c]);
    width[c] = max && w > max ? max : w;
    bool any_number = false, any_text = false;
    for (int64_t r = 0; r < t->rows; r++) {
      const struct cell_out *cell = &t->cells[(size_t)r * t->ncols + c];
      w = text_width(cell->text ? cell->text : null_text);
      if (max && w > max)
        w = max;
      if (w > width[c])
        width[c] = w;
      if (cell->text) {
        any_number |= cell->number;
        any_text |= !cell->number;
      }
    }
    right[c] = any_number && !any_text;
  }
  for (unsigned c = 0; c < t->ncols; c++) {
    if (c)
      fputs("  ", t->out);
    text_cell(t->out, t->names[c], max, width[c], right[c], c + 1 == t->ncols);
  }
  fputc('\n', t->out);
  for (unsigned c = 0; c < t->ncols; c++) {
    if (c)
      fputs("  ", t->out);
    for (size_t i = 0; i < width[c]; i++)
      fputc('-', t->out);
  }
  fputc('\n', t->out);
  for (int64_t r = 0; r < t->rows; r++) {
    const struct cell_out *row = &t->cells[(size_t)r * t->ncols];
    /* the line ends after its last non-empty cell: no trailing blanks */
    unsigned end = t->ncols;
    while (end > 1 && !*(row[end - 1].text ? row[end - 1].text : null_text))
      end--;
    for (unsigned c = 0; c < end; c++) {
      if (c)
        fputs("  ", t->out);
      text_cell(t->out, row[c].text ? row[c].text : null_text, max, width[c], right[c],
                c + 1 == end);
    }
    fputc('\n', t->out);
  }
  if (t->o.footer)
    fprintf(t->out, "(%lld row%s)\n", (long long)t->rows, t->rows == 1 ? "" : "s");
  free(width);
  free(right);
}

int spantap_table_finish(struct spantap_table *t) {
  if (t->o.format == SPANTAP_TABLE_TEXT)
    text_print(t);
  else if (t->o.format == SPANTAP_TABLE_JSON)
    fputs(t->rows ? "\n]\n" : "[]\n", t->out);
  int rc = ferror(t->out) || fflush(t->out) != 0 ? -EIO : 0;
  spantap_table_destroy(t);
  return rc;
}

void spantap_table_destroy(struct spantap_table *t) {
  if (!t)
    return;
  if (t->cells)
    for (size_t i = 0; i < (size_t)t->rows * t->ncols; i++)
      free(t->cells[i].text);
  free(t->cells);
  for (unsigned i = 0; t->names && i < t->ncols; i++)
    free(t->names[i]);
  free(t->names);
  free(t);
}

/* Renders a BLOB as x'hex', as SQL writes it. Returns an owned string or NULL. */
static char *blob_text(const unsigned char *b, int n) {
  static const char hex[] = "0123456789abcdef";
  char *s = malloc((size_t)n * 2 + 4);
  if (!s)
    return NULL;
  char *p = s;
  *p++ = 'x';
  *p++ = '\'';
  for (int i = 0; i < n; i++) {
    *p++ = hex[b[i] >> 4];
    *p++ = hex[b[i] & 15];
  }
  *p++ = '\'';
  *p = '\0';
  return s;
}

int64_t spantap_table_print_stmt(struct sqlite3_stmt *st, FILE *out,
                                 const struct spantap_table_opts *o, char *err, size_t errlen) {
  unsigned ncols = (unsigned)sqlite3_column_count(st);
  size_t n = ncols ? ncols : 1;
  const char **names = calloc(n, sizeof *names);
  struct spantap_cell *cells = calloc(n, sizeof *cells);
  char **blobs = calloc(n, sizeof *blobs);
  struct spantap_table *t = NULL;
  for (unsigned c = 0; names && c < ncols; c++)
    names[c] = sqlite3_column_name(st, (int)c);
  if (names && cells && blobs)
    t = spantap_table_new(out, o, ncols, names);
  free(names);
  if (!t) {
    free(cells);
    free(blobs);
    snprintf(err, errlen, "Failed to allocate the result table: columns=%u", ncols);
    return -ENOMEM;
  }
  int rc = 0, step = SQLITE_DONE;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    for (unsigned c = 0; c < ncols; c++) {
      switch (sqlite3_column_type(st, (int)c)) {
        case SQLITE_INTEGER:
          cells[c] = spantap_cell_int(sqlite3_column_int64(st, (int)c));
          break;
        case SQLITE_FLOAT:
          cells[c] = spantap_cell_real(sqlite3_column_double(st, (int)c));
          break;
        case SQLITE_NULL:
          cells[c] = spantap_cell_text(NULL);
          break;
        case SQLITE_BLOB:
          blobs[c] = blob_text(sqlite3_column_blob(st, (int)c), sqlite3_column_bytes(st, (int)c));
          cells[c] = spantap_cell_text(blobs[c] ? blobs[c] : "x''");
          break;
        default: {
          const char *text = (const char *)sqlite3_column_text(st, (int)c);
          cells[c] = spantap_cell_text(text ? text : "");
          break;
        }
      }
    }
    rc = spantap_table_add_row(t, cells);
    for (unsigned c = 0; c < ncols; c++) {
      free(blobs[c]);
      blobs[c] = NULL;
    }
  }
  free(cells);
  free(blobs);
  int64_t rows = t->rows;
  if (rc < 0) {
    snprintf(err, errlen, "Failed to keep a result row: row=%lld columns=%u errno=%s",
             (long long)rows + 1, ncols, strerror(-rc));
    spantap_table_destroy(t);
    return rc;
  }
  if (step != SQLITE_DONE) {
    /* the rows before the error still print, so the user sees where it stopped */
    snprintf(err, errlen, "%s", sqlite3_errmsg(sqlite3_db_handle(st)));
    spantap_table_finish(t);
    return -EIO;
  }
  if (spantap_table_finish(t) < 0) {
    snprintf(err, errlen, "Failed to write the result: rows=%lld errno=%s", (long long)rows,
             strerror(errno));
    return -EIO;
  }
  return rows;
}
