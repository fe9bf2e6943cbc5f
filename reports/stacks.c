/* `spantap stacks`: application call sites ranked by the time of the syscalls
 * made from them, with their top syscalls and file:line. */
#include "reports/stacks.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "reports/recording.h"
#include "reports/table_print.h"

/* One row per (call site, syscall name), ranked by the call site's total time. */
static const char stacks_sql[] =
    "WITH per AS (SELECT coalesce(cs.call_site, '(no stack)') AS site, cs.module AS module,"
    "  cs.file AS file, cs.line AS line, s.name AS name, count(*) AS calls, sum(s.dur_ns) AS ns"
    "  FROM syscalls s LEFT JOIN call_sites cs ON cs.stack_id = s.stack_id"
    "  WHERE ?1 IS NULL OR s.span_id = ?1 GROUP BY 1, 2, 3, 4, 5),"
    " sites AS (SELECT *, sum(ns) OVER w AS site_ns, sum(calls) OVER w AS site_calls,"
    "  count(*) OVER w AS site_names FROM per"
    "  WINDOW w AS (PARTITION BY site, module, file, line)),"
    " ranked AS (SELECT dense_rank() OVER (ORDER BY site_ns DESC, site, module, file, line)"
    "  AS rank, * FROM sites)"
    " SELECT rank, site, module, file, line, name, calls, site_ns, site_calls, site_names"
    " FROM ranked WHERE ?2 < 0 OR rank <= ?2 ORDER BY rank, ns DESC, calls DESC, name";

#define STACKS_TOP_NAMES 3

/* Adds one call site's row to TAB. */
static int stacks_row(struct spantap_table *tab, const char *site, const char *where, int64_t ns,
                      int64_t calls, const char *names) {
  struct spantap_cell row[] = {spantap_cell_text(site), spantap_cell_real(ns / 1e6),
                               spantap_cell_int(calls), spantap_cell_text(names),
                               spantap_cell_text(where[0] ? where : NULL)};
  return spantap_table_add_row(tab, row);
}

int spantap_report_stacks(const char *path, FILE *out, const struct spantap_stacks_opts *o,
                          char *err, size_t errlen) {
  sqlite3 *db;
  /* only the syscalls of one span need the spans */
  int rc = o->span_id > 0 ? spantap_recording_open_spans(path, &db, err, errlen)
                          : spantap_recording_open(path, &db, err, errlen);
  if (rc < 0)
    return rc;
  if (o->span_id > 0 &&
      spantap_recording_int(db, "SELECT count(*) FROM spans WHERE id = ?1", o->span_id, 0) == 0) {
    snprintf(err, errlen, "no such span: id=%lld in %s ('spantap tree %s TRACE_ID' shows span ids)",
             (long long)o->span_id, path, path);
    rc = -ENOENT;
  }
  sqlite3_stmt *st = NULL;
  if (rc == 0 && sqlite3_prepare_v2(db, stacks_sql, -1, &st, NULL) != SQLITE_OK)
    rc = spantap_recording_failed(db, "query call sites", path, err, errlen);
  if (rc < 0) {
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
  }
  if (o->span_id > 0)
    sqlite3_bind_int64(st, 1, o->span_id);
  sqlite3_bind_int64(st, 2, o->limit > 0 ? o->limit : -1);
  static const char *const cols[] = {"call_site", "total_ms", "calls", "syscalls", "where"};
  struct spantap_table_opts to = {.format = o->format, .max_width = 60, .decimals = 3};
  struct spantap_table *tab = spantap_table_new(out, &to, 5, cols);
  if (!tab) {
    sqlite3_finalize(st);
    sqlite3_close(db);
    snprintf(err, errlen, "Failed to allocate the call site table: path=%s", path);
    return -ENOMEM;
  }
  int64_t rank = 0, sites = 0, all_calls = 0, all_ns = 0;
  char site[512] = "", where[512] = "", names[512] = "";
  int64_t site_ns = 0, site_calls = 0;
  int in_site = 0, step = SQLITE_DONE;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    if (sqlite3_column_int64(st, 0) != rank) {
      if (rank)
        rc = stacks_row(tab, site, where, site_ns, site_calls, names);
      rank = sqlite3_column_int64(st, 0);
      sites++;
      in_site = 0;
      names[0] = '\0';
      const char *s = (const char *)sqlite3_column_text(st, 1);
      const char *module = (const char *)sqlite3_column_text(st, 2);
      const char *file = (const char *)sqlite3_column_text(st, 3);
      snprintf(site, sizeof site, "%s", s ? s : "?");
      if (file)
        snprintf(where, sizeof where, "%s:%d", spantap_report_base_name(file),
                 sqlite3_column_int(st, 4));
      else
        snprintf(where, sizeof where, "%s", module ? spantap_report_base_name(module) : "");
      site_ns = sqlite3_column_int64(st, 7);
      site_calls = sqlite3_column_int64(st, 8);
      all_ns += site_ns;
      all_calls += site_calls;
    }
    if (in_site < STACKS_TOP_NAMES) {
      const char *name = (const char *)sqlite3_column_text(st, 5);
      size_t used = strlen(names);
      snprintf(names + used, sizeof names - used, "%s%s x%lld", in_site ? ", " : "",
               name ? name : "?", (long long)sqlite3_column_int64(st, 6));
    } else if (in_site == STACKS_TOP_NAMES) {
      size_t used = strlen(names);
      snprintf(names + used, sizeof names - used, ", +%lld more",
               (long long)sqlite3_column_int64(st, 9) - STACKS_TOP_NAMES);
    }
    in_site++;
  }
  if (rc == 0 && step != SQLITE_DONE)
    rc = spantap_recording_failed(db, "read call sites", path, err, errlen);
  if (rc == 0 && rank)
    rc = stacks_row(tab, site, where, site_ns, site_calls, names);
  sqlite3_finalize(st);
  if (rc == -ENOMEM)
    snprintf(err, errlen, "Failed to allocate the call site table: path=%s sites=%lld", path,
             (long long)sites);
  if (rc < 0) {
    spantap_table_destroy(tab);
    sqlite3_close(db);
    return rc;
  }
  bool text = o->format == SPANTAP_TABLE_TEXT;
  if (text && sites == 0) {
    spantap_table_destroy(tab);
    if (o->span_id > 0)
      fprintf(out, "span %lld made no syscalls.\n", (long long)o->span_id);
    else
      fprintf(out, "no syscalls in %s.\n", path);
    sqlite3_close(db);
    return 0;
  }
  if (spantap_table_finish(tab) < 0) {
    snprintf(err, errlen, "Failed to write the call sites: path=%s errno=%s", path,
             strerror(errno));
    rc = -EIO;
  }
  if (rc == 0 && text) {
    int64_t total = spantap_recording_int(
        db, "SELECT count(*) FROM syscalls WHERE ?1 IS NULL OR span_id = ?1", o->span_id, 0);
    fprintf(out, "%lld call site%s shown, %lld syscalls, %.3f ms", (long long)sites,
            sites == 1 ? "" : "s", (long long)all_calls, all_ns / 1e6);
    if (all_calls < total)
      fprintf(out, " (of %lld syscalls; -n 0 for all sites)", (long long)total);
    if (o->span_id > 0)
      fprintf(out, ", in span %lld", (long long)o->span_id);
    fputc('\n', out);
  }
  sqlite3_close(db);
  return rc;
}
