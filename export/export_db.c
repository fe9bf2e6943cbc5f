/* The recording an export reads: schema check and metadata (export_db.h). */
#include "export/export_db.h"

#include <errno.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "export/sql_rows.h"

/* Every table and column an exporter reads. A recording written by a spantap
 * whose schema differs is refused up front, naming what is missing, rather
 * than half-way through an export. */
static const struct {
  const char *table, *columns;
} required[] = {
    {"recording", "key, text_value, num_value"},
    {"processes", "pid, exe"},
    {"threads", "tid, pid"},
    {"connections", "id, family, proto, laddr, lport, raddr, rport"},
    {"syscalls", "id, ts_ns, dur_ns, pid, tid, name, class, ret, stack_id, span_id"},
    {"offcpu", "ts_ns, dur_ns, pid, tid, state, span_id"},
    {"page_faults", "ts_ns, pid, span_id"},
    {"tcp_states", "ts_ns"},
    {"process_events", "ts_ns"},
    {"stacks", "id, depth, app_frame_id"},
    {"stack_frames", "stack_id, idx, frame_id"},
    {"frames", "id, module_id, rel_addr, function, offset, file, line"},
    {"modules", "id, path, build_id"},
    {"spans", "id, trace_id, parent_id, kind, pid, tid, service, conn_id, start_ns, end_ns, "
              "dur_ns, status, depth, critical, bytes_in, bytes_out, syscalls, net_ns, file_ns, "
              "mem_ns, proc_ns, other_ns, offcpu_ns, switches, page_faults, start_stack_id, "
              "end_stack_id"},
    {"span_edges", "parent_id, child_id, kind"},
    {"traces", "id, root_span_id"},
    {"call_sites", "stack_id, call_site"},
};

static int check_schema(sqlite3 *db, char *err, size_t errlen) {
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s LIMIT 0", required[i].columns, required[i].table);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
      const char *msg = sqlite3_errmsg(db);
      bool schema = strstr(msg, "no such") != NULL;
      snprintf(err, errlen,
               schema ? "the recording's schema is not the one this spantap exports (recorded by"
                        " another version?): table=%s error=%s"
                      : "Failed to read the recording's schema: table=%s error=%s",
               required[i].table, msg);
      sqlite3_finalize(st);
      return schema ? -EINVAL : -EIO;
    }
    sqlite3_finalize(st);
  }
  return 0;
}

int spantap_export_recording_open(sqlite3 *db, struct spantap_export_recording *rec, char *err,
                                  size_t errlen) {
  memset(rec, 0, sizeof *rec);
  rec->db = db;
  int rc = check_schema(db, err, errlen);
  if (rc < 0)
    return rc;
  /* The salt: the metadata that tells recordings apart (machine, kernel, when
   * tracing started and ended and the clock offset, the command line, and for
   * imports the stream file and its line count). The recording table is
   * written once, so the salt, and every id, is the same at each export. */
  static const char *const salt_keys[] = {
      "hostname",     "kernel", "started_ns", "ended_ns", "wall_clock_offset_ns",
      "command_line", "source", "lines",      "runtime"};
  sqlite3_stmt *st;
  rc = spantap_rows_prepare(db, "SELECT text_value, num_value FROM recording WHERE key = ?",
                            "the recording's metadata", &st, err, errlen);
  if (rc < 0)
    return rc;
  spantap_export_salt_init(&rec->salt);
  for (size_t i = 0; rc == 0 && i < sizeof salt_keys / sizeof salt_keys[0]; i++) {
    const char *key = salt_keys[i];
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int got = spantap_rows_next(st, "the recording's metadata", err, errlen);
    if (got < 0) {
      rc = got;
      break;
    }
    char value[600];
    const char *text = got ? spantap_rows_text(st, 0, NULL) : NULL;
    int64_t num = got ? spantap_rows_int(st, 1) : 0;
    snprintf(value, sizeof value, "%s|%lld", text ? text : "", (long long)num);
    spantap_export_salt_add(&rec->salt, key, got ? value : NULL);
    if (strcmp(key, "hostname") == 0 && text)
      snprintf(rec->hostname, sizeof rec->hostname, "%s", text);
    else if (strcmp(key, "kernel") == 0 && text)
      snprintf(rec->kernel, sizeof rec->kernel, "%s", text);
    else if (strcmp(key, "runtime") == 0 && text)
      snprintf(rec->runtime, sizeof rec->runtime, "%s", text);
    else if (strcmp(key, "started_ns") == 0)
      rec->started_ns = num;
    else if (strcmp(key, "ended_ns") == 0)
      rec->ended_ns = num;
    else if (strcmp(key, "wall_clock_offset_ns") == 0)
      rec->wall_clock_offset_ns = num;
  }
  static const char *const more[] = {"complete", "events_lost"};
  for (size_t i = 0; rc == 0 && i < 2; i++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, more[i], -1, SQLITE_STATIC);
    int got = spantap_rows_next(st, "the recording's metadata", err, errlen);
    if (got < 0)
      rc = got;
    else if (i == 0)
      rec->complete = got ? spantap_rows_int(st, 1) : 0;
    else
      rec->events_lost = got ? spantap_rows_int(st, 1) : 0;
  }
  sqlite3_finalize(st);
  return rc;
}
