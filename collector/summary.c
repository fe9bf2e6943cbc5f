/* Recording summary, computed with SQL over the stored recording. */
#include "collector/summary.h"

#include <errno.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>

static int64_t scalar(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st;
  int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return -1;
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static const char *meta_text(sqlite3 *db, const char *key, char *buf, size_t len) {
  sqlite3_stmt *st;
  snprintf(buf, len, "?");
  if (sqlite3_prepare_v2(db, "SELECT coalesce(text_value, num_value) FROM recording WHERE key = ?",
                         -1, &st, NULL) != SQLITE_OK)
    return buf;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return buf;
}

static void print_call_sites(sqlite3 *db, FILE *out, const char *name) {
  static const char sql[] =
      "SELECT coalesce(f.function || printf('+0x%x', f.offset), printf('0x%x', f.rel_addr)),"
      " f.file, f.line, count(*), sum(s.dur_ns) FROM syscalls s"
      " JOIN stacks st ON st.id = s.stack_id JOIN frames f ON f.id = st.app_frame_id"
      " WHERE s.name = ? GROUP BY f.id ORDER BY 5 DESC LIMIT 3";
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *file = (const char *)sqlite3_column_text(st, 1);
    fprintf(out, "      from %s", (const char *)sqlite3_column_text(st, 0));
    if (file)
      fprintf(out, " (%s:%d)", file, sqlite3_column_int(st, 2));
    fprintf(out, "  %lld calls, %.3f ms\n", (long long)sqlite3_column_int64(st, 3),
            sqlite3_column_int64(st, 4) / 1e6);
  }
  sqlite3_finalize(st);
}

/* Frames left without a function, by reason (recording keys frames_unsymbolized_*). */
static void print_unsymbolized(sqlite3 *db, FILE *out) {
  static const struct {
    const char *key, *what;
  } reasons[] = {{"frames_unsymbolized_no_mapping", "outside any file mapping"},
                 {"frames_unsymbolized_no_file", "file not readable here"},
                 {"frames_unsymbolized_not_elf", "not ELF or outside its segments"},
                 {"frames_unsymbolized_no_symbol", "no symbol covers them"},
                 {"frames_unsymbolized_failed", "symbolizer out of memory"}};
  char buf[256];
  const char *sep = "  unsymbolized frames: ";
  for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
    meta_text(db, reasons[i].key, buf, sizeof buf);
    if (strcmp(buf, "?") == 0 || strcmp(buf, "0") == 0)
      continue;
    fprintf(out, "%s%s %s", sep, buf, reasons[i].what);
    sep = ", ";
  }
  if (sep[0] == ',')
    fprintf(out, "\n");
  if (strcmp(meta_text(db, "symbolize_error", buf, sizeof buf), "?") != 0)
    fprintf(out, "              first symbolizer error: %s\n", buf);
}

/* Spans and traces derived, what did not fit the model, and the slowest traces. */
static void print_spans(sqlite3 *db, FILE *out) {
  char buf[64];
  fprintf(out,
          "  spans:      %lld server, %lld client, in %lld traces (%s server spans joined to a "
          "traced client)\n",
          (long long)scalar(db, "SELECT count(*) FROM spans WHERE kind = 'server'"),
          (long long)scalar(db, "SELECT count(*) FROM spans WHERE kind = 'client'"),
          (long long)scalar(db, "SELECT count(*) FROM traces"),
          meta_text(db, "spans_joined", buf, sizeof buf));
  int64_t odd = scalar(db, "SELECT sum(num_value) FROM recording WHERE key IN"
                           " ('stray_responses', 'stray_replies', 'spans_no_response',"
                           " 'spans_unfinished')");
  int64_t lossy = scalar(db, "SELECT num_value FROM recording WHERE key = 'spans_in_loss'");
  if (lossy > 0)
    fprintf(out,
            "              %lld spans were open when events were lost: status 'loss', their "
            "traces incomplete\n",
            (long long)lossy);
  if (odd > 0)
    fprintf(out,
            "              %lld exchanges did not fit (responses without request, requests "
            "without response; see the recording table)\n",
            (long long)odd);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT trace_id, dur_ms, spans, critical_path FROM slowest_traces"
                         " LIMIT 3",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  bool first = true;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (first)
      fprintf(out, "  slowest traces (spantap traces DB for all, spantap tree DB ID for one):\n");
    first = false;
    const char *path = (const char *)sqlite3_column_text(st, 3);
    fprintf(out, "    trace %-6lld %10.3f ms  %3lld spans  %.60s\n",
            (long long)sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1),
            (long long)sqlite3_column_int64(st, 2), path ? path : "");
  }
  sqlite3_finalize(st);
}

int spantap_summary_print(const char *db_path, FILE *out, int top, char *err, size_t errlen) {
  sqlite3 *db;
  if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    snprintf(err, errlen, "Failed to open recording: path=%s error=%s", db_path,
             sqlite3_errmsg(db));
    sqlite3_close(db);
    return -EIO;
  }
  char buf[256];
  fprintf(out, "\nspantap recording %s\n", db_path);
  fprintf(out, "  status:     %s",
          meta_text(db, "complete", buf, sizeof buf)[0] == '1' ? "complete" : "INCOMPLETE");
  if (buf[0] != '1') {
    meta_text(db, "incomplete_reason", buf, sizeof buf);
    fprintf(out, " (%s)",
            strcmp(buf, "?") != 0 ? buf
                                  : "spantap stopped before the recording ended: "
                                    "everything up to its last committed batch is here");
  }
  fprintf(out, "\n  runtime:    %s, stack mode %s", meta_text(db, "runtime", buf, sizeof buf),
          meta_text(db, "stack_mode", buf + 64, sizeof buf - 64));
  fprintf(out, ", depth %s\n", meta_text(db, "stack_depth", buf, sizeof buf));
  fprintf(out, "  processes:  %lld traced\n",
          (long long)scalar(db, "SELECT count(*) FROM processes"));
  fprintf(out,
          "  events:     %lld syscalls, %lld process events, %lld tcp states, %lld off-cpu, "
          "%lld page faults\n",
          (long long)scalar(db, "SELECT count(*) FROM syscalls"),
          (long long)scalar(db, "SELECT count(*) FROM process_events"),
          (long long)scalar(db, "SELECT count(*) FROM tcp_states"),
          (long long)scalar(db, "SELECT count(*) FROM offcpu"),
          (long long)scalar(db, "SELECT count(*) FROM page_faults"));
  fprintf(out, "  stacks:     %lld distinct, %lld frames\n",
          (long long)scalar(db, "SELECT count(*) FROM stacks"),
          (long long)scalar(db, "SELECT count(*) FROM frames"));
  print_unsymbolized(db, out);
  fprintf(out, "  lost:       %s events", meta_text(db, "events_lost", buf, sizeof buf));
  fprintf(out, ", %s malformed lines\n", meta_text(db, "lines_malformed", buf, sizeof buf));
  print_spans(db, out);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT name, count(*), sum(dur_ns) FROM syscalls GROUP BY name"
                         " ORDER BY 3 DESC LIMIT ?",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int(st, 1, top);
    fprintf(out, "  top syscalls by total time:\n");
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *name = (const char *)sqlite3_column_text(st, 0);
      fprintf(out, "    %-16s %8lld calls %12.3f ms\n", name ? name : "?",
              (long long)sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2) / 1e6);
      if (name)
        print_call_sites(db, out, name);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return 0;
}
