/* spantap export chrome: the Trace Event Format (JSON) that Perfetto,
 * chrome://tracing and speedscope open. Process and thread names as metadata
 * events; spans (and, with --syscalls, syscalls) as complete events on their
 * threads; a flow event from each client span to the server span it called,
 * across processes. Events are written one at a time as rows are read. Times
 * are microseconds since the recording started. */
#include <errno.h>
#include <json-c/json.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "export/export.h"
#include "export/sql_rows.h"

struct chrome {
  const struct spantap_export_recording *rec;
  const struct spantap_export_sink *sink;
  int64_t t0;
  bool first;
  char *err;
  size_t errlen;
};

static double us(const struct chrome *c, int64_t ns) {
  return (double)(ns - c->t0) / 1000.0;
}

/* Writes event EV (consumed) as the next element of traceEvents. */
static int emit(struct chrome *c, json_object *ev) {
  const char *text = ev ? json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE)
                        : NULL;
  int rc;
  if (!text) {
    snprintf(c->err, c->errlen, "Failed to allocate a trace event");
    rc = -ENOMEM;
  } else {
    rc = c->sink->write(c->sink->ctx, c->first ? "\n" : ",\n", c->first ? 1 : 2, c->err, c->errlen);
    if (rc == 0)
      rc = c->sink->write(c->sink->ctx, text, strlen(text), c->err, c->errlen);
  }
  c->first = false;
  json_object_put(ev);
  return rc;
}

static void put(json_object *o, const char *key, json_object *v) {
  if (o && v)
    json_object_object_add(o, key, v);
}

static json_object *event(const char *ph, const char *name, const char *cat, int64_t pid,
                          int64_t tid) {
  json_object *ev = json_object_new_object();
  put(ev, "ph", json_object_new_string(ph));
  put(ev, "name", json_object_new_string(name));
  if (cat)
    put(ev, "cat", json_object_new_string(cat));
  put(ev, "pid", json_object_new_int64(pid));
  put(ev, "tid", json_object_new_int64(tid));
  return ev;
}

/* Runs SQL and hands each row to ROW, until an error. */
static int each_row(struct chrome *c, const char *sql, const char *what,
                    int (*row)(struct chrome *, sqlite3_stmt *)) {
  sqlite3_stmt *st;
  int rc = spantap_rows_prepare(c->rec->db, sql, what, &st, c->err, c->errlen);
  int got = 0;
  while (rc == 0 && (got = spantap_rows_next(st, what, c->err, c->errlen)) == 1)
    rc = row(c, st);
  sqlite3_finalize(st);
  return rc < 0 ? rc : got < 0 ? got : 0;
}

static int process_row(struct chrome *c, sqlite3_stmt *st) {
  int64_t pid = spantap_rows_int(st, 0);
  char name[300];
  const char *exe = spantap_rows_text(st, 1, NULL);
  snprintf(name, sizeof name, "%s", exe ? spantap_rows_basename(exe) : "process");
  json_object *ev = event("M", "process_name", NULL, pid, pid), *args = json_object_new_object();
  put(args, "name", json_object_new_string(name));
  put(ev, "args", args);
  return emit(c, ev);
}

static int thread_row(struct chrome *c, sqlite3_stmt *st) {
  int64_t tid = spantap_rows_int(st, 0), pid = spantap_rows_int(st, 1);
  const char *exe = spantap_rows_text(st, 2, NULL);
  char name[300];
  snprintf(name, sizeof name, "%s %lld", exe ? spantap_rows_basename(exe) : "thread",
           (long long)tid);
  json_object *ev = event("M", "thread_name", NULL, pid, tid), *args = json_object_new_object();
  put(args, "name", json_object_new_string(name));
  put(ev, "args", args);
  return emit(c, ev);
}

static int span_row(struct chrome *c, sqlite3_stmt *st) {
  const char *kind = spantap_rows_text(st, 1, "span");
  char name[300];
  snprintf(name, sizeof name, "%s %s", spantap_rows_text(st, 4, "?"), kind);
  json_object *ev = event("X", name, "span", spantap_rows_int(st, 2), spantap_rows_int(st, 3));
  put(ev, "ts", json_object_new_double(us(c, spantap_rows_int(st, 5))));
  put(ev, "dur", json_object_new_double((double)spantap_rows_int(st, 6) / 1000.0));
  json_object *args = json_object_new_object();
  put(args, "kind", json_object_new_string(kind));
  put(args, "span_id", json_object_new_int64(spantap_rows_int(st, 0)));
  put(args, "trace_id", json_object_new_int64(spantap_rows_int(st, 7)));
  put(args, "status", json_object_new_string(spantap_rows_text(st, 8, "ok")));
  static const char *const cols[] = {"bytes_in", "bytes_out", "syscalls",  "net_ns",
                                     "file_ns",  "mem_ns",    "offcpu_ns", "page_faults"};
  for (int i = 0; i < 8; i++)
    put(args, cols[i], json_object_new_int64(spantap_rows_int(st, 9 + i)));
  if (!spantap_rows_is_null(st, 17))
    put(args, "peer", json_object_new_string(spantap_rows_text(st, 17, "")));
  put(ev, "args", args);
  return emit(c, ev);
}

static int syscall_row(struct chrome *c, sqlite3_stmt *st) {
  json_object *ev = event("X", spantap_rows_text(st, 0, "syscall"), "syscall",
                          spantap_rows_int(st, 1), spantap_rows_int(st, 2));
  put(ev, "ts", json_object_new_double(us(c, spantap_rows_int(st, 3))));
  put(ev, "dur", json_object_new_double((double)spantap_rows_int(st, 4) / 1000.0));
  json_object *args = json_object_new_object();
  put(args, "ret", json_object_new_int64(spantap_rows_int(st, 5)));
  put(args, "class", json_object_new_string(spantap_rows_text(st, 6, "")));
  if (!spantap_rows_is_null(st, 7))
    put(args, "call_site", json_object_new_string(spantap_rows_text(st, 7, "")));
  put(ev, "args", args);
  return emit(c, ev);
}

/* A client span and the server span it called: a flow from the one to the
 * other. Each end has the time, thread and category of its span's event,
 * which is how viewers bind a flow to its slices. */
static int flow_row(struct chrome *c, sqlite3_stmt *st) {
  int64_t id = spantap_rows_int(st, 0);
  json_object *s = event("s", "request", "span", spantap_rows_int(st, 1), spantap_rows_int(st, 2));
  put(s, "id", json_object_new_int64(id));
  put(s, "ts", json_object_new_double(us(c, spantap_rows_int(st, 3))));
  int rc = emit(c, s);
  if (rc < 0)
    return rc;
  json_object *f = event("f", "request", "span", spantap_rows_int(st, 4), spantap_rows_int(st, 5));
  put(f, "id", json_object_new_int64(id));
  put(f, "bp", json_object_new_string("e"));
  put(f, "ts", json_object_new_double(us(c, spantap_rows_int(st, 6))));
  return emit(c, f);
}

int spantap_export_chrome(const struct spantap_export_recording *rec,
                          const struct spantap_export_opts *o,
                          const struct spantap_export_sink *sink, char *err, size_t errlen) {
  struct chrome c = {.rec = rec, .sink = sink, .first = true, .err = err, .errlen = errlen};
  c.t0 = rec->started_ns;
  if (!c.t0) { /* an import: the first event */
    sqlite3_stmt *st;
    int rc = spantap_rows_prepare(rec->db,
                                  "SELECT min(t) FROM (SELECT min(ts_ns) AS t FROM syscalls"
                                  " UNION ALL SELECT min(start_ns) FROM spans)",
                                  "the first event", &st, err, errlen);
    if (rc < 0)
      return rc;
    rc = spantap_rows_next(st, "the first event", err, errlen);
    c.t0 = rc == 1 ? spantap_rows_int(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc < 0)
      return rc;
  }
  json_object *other = json_object_new_object();
  put(other, "producer", json_object_new_string("spantap"));
  if (rec->hostname[0])
    put(other, "host", json_object_new_string(rec->hostname));
  if (rec->kernel[0])
    put(other, "kernel", json_object_new_string(rec->kernel));
  const char *other_text =
      other ? json_object_to_json_string_ext(other, JSON_C_TO_STRING_PLAIN) : NULL;
  char head[1024];
  snprintf(head, sizeof head, "{\"displayTimeUnit\":\"ns\",\"otherData\":%s,\"traceEvents\":[",
           other_text ? other_text : "{}");
  json_object_put(other);
  int rc = sink->write(sink->ctx, head, strlen(head), err, errlen);
  if (rc == 0)
    rc = each_row(&c, "SELECT pid, exe FROM processes ORDER BY pid", "processes", process_row);
  if (rc == 0)
    rc = each_row(&c,
                  "SELECT t.tid, t.pid, p.exe FROM (SELECT tid, pid FROM threads"
                  " UNION SELECT tid, pid FROM spans) t LEFT JOIN processes p ON p.pid = t.pid"
                  " ORDER BY t.pid, t.tid",
                  "threads", thread_row);
  if (rc == 0)
    rc = each_row(&c,
                  "SELECT s.id, s.kind, s.pid, s.tid, s.service, s.start_ns, s.dur_ns, s.trace_id,"
                  " s.status, s.bytes_in, s.bytes_out, s.syscalls, s.net_ns, s.file_ns, s.mem_ns,"
                  " s.offcpu_ns, s.page_faults, c.raddr || ':' || c.rport"
                  " FROM spans s LEFT JOIN connections c ON c.id = s.conn_id ORDER BY s.start_ns",
                  "spans", span_row);
  if (rc == 0 && o->syscalls) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT s.name, s.pid, s.tid, s.ts_ns, s.dur_ns, s.ret, s.class, cs.call_site"
             " FROM syscalls s LEFT JOIN call_sites cs ON cs.stack_id = s.stack_id"
             " WHERE s.dur_ns >= %lld ORDER BY s.ts_ns",
             (long long)(o->min_syscall_ns > 0 ? o->min_syscall_ns : 0));
    rc = each_row(&c, sql, "syscalls", syscall_row);
  }
  if (rc == 0)
    rc = each_row(&c,
                  "SELECT e.child_id, p.pid, p.tid, p.start_ns, k.pid, k.tid, k.start_ns"
                  " FROM span_edges e JOIN spans p ON p.id = e.parent_id"
                  " JOIN spans k ON k.id = e.child_id WHERE e.kind = 'serves'",
                  "span links", flow_row);
  if (rc == 0)
    rc = sink->write(sink->ctx, "\n]}\n", 4, err, errlen);
  return rc;
}
