/* `spantap traces`: a recording's request traces, slowest first, with a line of
 * totals (median and p99 duration), and why a recording has none. */
#include "reports/traces.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "reports/recording.h"
#include "reports/table_print.h"

/* Whether the recording's --events list had the `net` class (directly, or through
 * `all` or `default`). Returns -1 when the list was not stored. */
static int events_had_net(sqlite3 *db) {
  char events[256];
  spantap_recording_text(db, "SELECT text_value FROM recording WHERE key = 'events'", NULL, events,
                         sizeof events);
  if (!events[0])
    return -1;
  for (char *save = NULL, *tok = strtok_r(events, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save))
    if (strcmp(tok, "net") == 0 || strcmp(tok, "all") == 0 || strcmp(tok, "default") == 0)
      return 1;
  return 0;
}

/* Explains on OUT why a recording has no spans, from what it did record. */
static void explain_no_spans(sqlite3 *db, const char *path, FILE *out) {
  char events[256];
  fprintf(out, "no request spans in %s.\n", path);
  fprintf(out, "Spans are derived from the TCP request/response traffic of the traced\n"
               "processes (their reads and writes on connected TCP sockets).\n");
  int net = events_had_net(db);
  spantap_recording_text(db, "SELECT text_value FROM recording WHERE key = 'events'", NULL, events,
                         sizeof events);
  if (net == 0)
    fprintf(out,
            "This recording's event set was '%s', without 'net': no socket reads or\n"
            "writes were recorded. Record again with the default events, or add net:\n"
            "  --events %s,net\n",
            events, events);
  else if (net == 1)
    fprintf(out,
            "This recording had 'net' events (%lld net syscalls): the traced processes\n"
            "exchanged no TCP request and response while traced (or none completed).\n",
            (long long)spantap_recording_int(
                db, "SELECT count(*) FROM syscalls WHERE class = 'net'", 0, 0));
  else
    fprintf(out, "Either no TCP request/response traffic was recorded, or the recording used\n"
                 "an event set without 'net'.\n");
}

/* qsort order of int64_t values, ascending. */
static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

#define TRACE_FILTER                                                                               \
  " WHERE ?1 IS NULL OR EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.id AND s.service = ?1)"

/* Prints the totals line of the traces in DB that pass the filter: count, spans,
 * the median and the p99 (nearest rank) of their durations. */
static int print_trace_totals(sqlite3 *db, const char *path, const struct spantap_traces_opts *o,
                              int64_t shown, FILE *out, char *err, size_t errlen) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT t.dur_ns, t.spans FROM traces t" TRACE_FILTER " ORDER BY t.dur_ns",
                         -1, &st, NULL) != SQLITE_OK)
    return spantap_recording_failed(db, "read trace durations", path, err, errlen);
  if (o->service)
    sqlite3_bind_text(st, 1, o->service, -1, SQLITE_STATIC);
  int64_t *dur = NULL, spans = 0;
  size_t n = 0, cap = 0;
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      cap = cap ? cap * 2 : 256;
      int64_t *grown = realloc(dur, cap * sizeof *dur);
      if (!grown) {
        free(dur);
        sqlite3_finalize(st);
        snprintf(err, errlen, "Failed to allocate trace durations: traces=%zu", n);
        return -ENOMEM;
      }
      dur = grown;
    }
    dur[n++] = sqlite3_column_int64(st, 0);
    spans += sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  if (step != SQLITE_DONE) {
    free(dur);
    return spantap_recording_failed(db, "read trace durations", path, err, errlen);
  }
  qsort(dur, n, sizeof *dur, cmp_i64); /* already sorted; cheap insurance */
  double median = n == 0 ? 0 : n % 2 ? dur[n / 2] / 1e6 : (dur[n / 2 - 1] + dur[n / 2]) / 2e6;
  size_t rank99 = (size_t)((n * 99 + 99) / 100); /* ceil(0.99 n), 1-based */
  double p99 = n == 0 ? 0 : dur[rank99 - 1] / 1e6;
  fprintf(out, "%zu trace%s, %lld span%s; median %.3f ms, p99 %.3f ms", n, n == 1 ? "" : "s",
          (long long)spans, spans == 1 ? "" : "s", median, p99);
  if ((size_t)shown < n)
    fprintf(out, " (the slowest %lld shown; -n 0 for all)", (long long)shown);
  fputc('\n', out);
  free(dur);
  return 0;
}

int spantap_report_traces(const char *path, FILE *out, const struct spantap_traces_opts *o,
                          char *err, size_t errlen) {
  sqlite3 *db;
  int rc = spantap_recording_open_spans(path, &db, err, errlen);
  if (rc < 0)
    return rc;
  bool text = o->format == SPANTAP_TABLE_TEXT;
  if (rc == 0 && text && spantap_recording_int(db, "SELECT count(*) FROM spans", 0, 0) == 0) {
    explain_no_spans(db, path, out);
    sqlite3_close(db);
    return 0;
  }
  sqlite3_stmt *st = NULL;
  if (rc == 0 &&
      sqlite3_prepare_v2(db,
                         "SELECT t.trace_id AS trace, t.dur_ms, t.spans, t.depth, t.services,"
                         " t.critical_path, CASE WHEN t.complete THEN NULL ELSE 'incomplete' END"
                         " AS note FROM slowest_traces t WHERE ?1 IS NULL OR EXISTS (SELECT 1"
                         " FROM spans s WHERE s.trace_id = t.trace_id AND s.service = ?1)"
                         " ORDER BY t.dur_ms DESC, t.trace_id LIMIT ?2",
                         -1, &st, NULL) != SQLITE_OK)
    rc = spantap_recording_failed(db, "query slowest_traces", path, err, errlen);
  int64_t shown = 0;
  if (rc == 0) {
    if (o->service)
      sqlite3_bind_text(st, 1, o->service, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, o->limit > 0 ? o->limit : -1);
    struct spantap_table_opts to = {.format = o->format, .max_width = 60, .decimals = 3};
    char msg[400];
    shown = spantap_table_print_stmt(st, out, &to, msg, sizeof msg);
    if (shown < 0) {
      snprintf(err, errlen, "Failed to list traces: path=%s error=%s", path, msg);
      rc = (int)shown;
    }
  }
  sqlite3_finalize(st);
  if (rc == 0 && text && shown == 0 && o->service) {
    char services[512];
    spantap_recording_text(
        db,
        "SELECT group_concat(service, ', ') FROM (SELECT DISTINCT service FROM spans"
        " WHERE service IS NOT NULL ORDER BY 1)",
        NULL, services, sizeof services);
    fprintf(out, "no trace has a span of service '%s'; services seen: %s\n", o->service, services);
  } else if (rc == 0 && text) {
    rc = print_trace_totals(db, path, o, shown, out, err, errlen);
  }
  sqlite3_close(db);
  return rc;
}
