/* Recording summary, computed with SQL over the stored recording. */
#include "reports/summary.h"

#include <errno.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reports/recording.h"

/* The recording being summarized. The first query that fails is kept in ERR
 * (RC < 0), so that the summary is never printed with a made-up value. */
struct summary_db {
  sqlite3 *conn;
  const char *path;
  int rc;
  char *err;
  size_t errlen;
};

/* Records that SQL failed on DB (the first failure only). */
static void query_failed(struct summary_db *db, const char *sql) {
  if (db->rc < 0)
    return;
  snprintf(db->err, db->errlen, "Failed to query recording: path=%s sql='%.80s' error=%s", db->path,
           sql, sqlite3_errmsg(db->conn));
  db->rc = -EIO;
}

/* Prepares SQL on DB. Returns the statement, or NULL after query_failed. */
static sqlite3_stmt *prepare(struct summary_db *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL) != SQLITE_OK) {
    query_failed(db, sql);
    sqlite3_finalize(st);
    return NULL;
  }
  return st;
}

/* Finalizes ST, whose last step returned STEP: anything but the end of its rows
 * is a failure. */
static void finish(struct summary_db *db, sqlite3_stmt *st, int step) {
  if (step != SQLITE_DONE && step != SQLITE_ROW)
    query_failed(db, sqlite3_sql(st));
  sqlite3_finalize(st);
}

/* The first column of SQL's first row; 0 when there is no row or on failure. */
static int64_t scalar(struct summary_db *db, const char *sql) {
  sqlite3_stmt *st = prepare(db, sql);
  int64_t v = 0;
  if (!st)
    return 0;
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  finish(db, st, step);
  return v;
}

static const char *meta_text(struct summary_db *db, const char *key, char *buf, size_t len) {
  sqlite3_stmt *st =
      prepare(db, "SELECT coalesce(text_value, num_value) FROM recording WHERE key = ?");
  snprintf(buf, len, "?");
  if (!st)
    return buf;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
  finish(db, st, step);
  return buf;
}

static void print_call_sites(struct summary_db *db, FILE *out, const char *name) {
  static const char sql[] =
      "SELECT coalesce(f.function || printf('+0x%x', f.offset), printf('0x%x', f.rel_addr)),"
      " f.file, f.line, count(*), sum(s.dur_ns) FROM syscalls s"
      " JOIN stacks st ON st.id = s.stack_id JOIN frames f ON f.id = st.app_frame_id"
      " WHERE s.name = ? GROUP BY f.id ORDER BY 5 DESC LIMIT 3";
  sqlite3_stmt *st = prepare(db, sql);
  if (!st)
    return;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    const char *file = (const char *)sqlite3_column_text(st, 1);
    fprintf(out, "      from %s", (const char *)sqlite3_column_text(st, 0));
    if (file)
      fprintf(out, " (%s:%d)", file, sqlite3_column_int(st, 2));
    fprintf(out, "  %lld calls, %.3f ms\n", (long long)sqlite3_column_int64(st, 3),
            sqlite3_column_int64(st, 4) / 1e6);
  }
  finish(db, st, step);
}

/* Frames left without a function, by reason (recording keys frames_unsymbolized_*). */
static void print_unsymbolized(struct summary_db *db, FILE *out) {
  static const struct {
    const char *key, *what;
  } reasons[] = {{"frames_unsymbolized_no_mapping", "outside any file mapping"},
                 {"frames_unsymbolized_no_file", "file not readable here"},
                 {"frames_unsymbolized_not_elf", "not ELF or outside its segments"},
                 {"frames_unsymbolized_no_symbol", "no symbol covers them"},
                 {"frames_unsymbolized_failed", "symbolizer out of memory"},
                 {"frames_unsymbolized_build_id_mismatch", "file here of another build"}};
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
static void print_spans(struct summary_db *db, FILE *out) {
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
  sqlite3_stmt *st =
      prepare(db, "SELECT trace_id, dur_ms, spans, critical_path FROM slowest_traces LIMIT 3");
  if (!st)
    return;
  bool first = true;
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (first)
      fprintf(out, "  slowest traces (spantap traces DB for all, spantap tree DB ID for one):\n");
    first = false;
    const char *path = (const char *)sqlite3_column_text(st, 3);
    fprintf(out, "    trace %-6lld %10.3f ms  %3lld spans  %.60s\n",
            (long long)sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1),
            (long long)sqlite3_column_int64(st, 2), path ? path : "");
  }
  finish(db, st, step);
}

/* The events the summary counts, in the order it prints them. */
static const struct {
  const char *what, *sql;
} event_counts[] = {{"syscalls", "SELECT count(*) FROM syscalls"},
                    {"process events", "SELECT count(*) FROM process_events"},
                    {"tcp states", "SELECT count(*) FROM tcp_states"},
                    {"off-cpu", "SELECT count(*) FROM offcpu"},
                    {"page faults", "SELECT count(*) FROM page_faults"}};

/* Prints the summary of DB to OUT; a failed query leaves DB->rc < 0. */
static void print_summary(struct summary_db *db, FILE *out, int top) {
  const char *db_path = db->path;
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
  fprintf(out, "  events:     ");
  for (size_t i = 0; i < sizeof event_counts / sizeof event_counts[0]; i++)
    fprintf(out, "%s%lld %s", i ? ", " : "", (long long)scalar(db, event_counts[i].sql),
            event_counts[i].what);
  fputc('\n', out);
  fprintf(out, "  stacks:     %lld distinct, %lld frames\n",
          (long long)scalar(db, "SELECT count(*) FROM stacks"),
          (long long)scalar(db, "SELECT count(*) FROM frames"));
  print_unsymbolized(db, out);
  fprintf(out, "  lost:       %s events", meta_text(db, "events_lost", buf, sizeof buf));
  fprintf(out, ", %s malformed lines\n", meta_text(db, "lines_malformed", buf, sizeof buf));
  print_spans(db, out);
  sqlite3_stmt *st = prepare(db, "SELECT name, count(*), sum(dur_ns) FROM syscalls GROUP BY name"
                                 " ORDER BY 3 DESC LIMIT ?");
  if (st) {
    sqlite3_bind_int(st, 1, top);
    fprintf(out, "  top syscalls by total time:\n");
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
      const char *name = (const char *)sqlite3_column_text(st, 0);
      fprintf(out, "    %-16s %8lld calls %12.3f ms\n", name ? name : "?",
              (long long)sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2) / 1e6);
      if (name)
        print_call_sites(db, out, name);
    }
    finish(db, st, step);
  }
}

int spantap_summary_print(const char *db_path, FILE *out, int top, char *err, size_t errlen) {
  struct summary_db db = {.path = db_path, .err = err, .errlen = errlen};
  int rc = spantap_recording_open(db_path, &db.conn, err, errlen);
  if (rc < 0)
    return rc;
  /* printed aside first: a summary with a failed query is not printed at all */
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  if (!mem) {
    rc = -errno;
    snprintf(err, errlen, "Failed to buffer the summary: path=%s errno=%s", db_path, strerror(-rc));
    sqlite3_close(db.conn);
    return rc;
  }
  print_summary(&db, mem, top);
  sqlite3_close(db.conn);
  if (fclose(mem) != 0 && db.rc == 0) {
    db.rc = -ENOMEM;
    snprintf(err, errlen, "Failed to buffer the summary: path=%s", db_path);
  }
  if (db.rc == 0 && fwrite(text, 1, len, out) != len) {
    db.rc = -EIO;
    snprintf(err, errlen, "Failed to write the summary: path=%s errno=%s", db_path,
             strerror(errno));
  }
  free(text);
  return db.rc;
}
