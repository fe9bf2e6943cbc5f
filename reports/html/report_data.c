/* The JSON data of the HTML report, read from a recording with a handful of
 * queries (each table once) and written as it is read: row arrays with their
 * field names, repeated texts (services, call sites, frames) as indexes into
 * one string table written last. The page (assets/report.js) draws from it. */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/string_table.h"
#include "reports/html/report_data.h"

/* ---- JSON output ---- */

/* A JSON string; '<', '>' and '&' escaped too, so that the data can sit
 * inside the page's <script> element whatever the recording's texts are. */
static void json_str(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&' || *p == 0x7f)
      fprintf(out, "\\u%04x", *p);
    else
      fputc(*p, out);
  }
  fputc('"', out);
}

struct writer {
  sqlite3 *db;
  FILE *out;
  struct spantap_string_table strings;
  char *err;
  size_t errlen;
};

static int sql_failed(struct writer *w, const char *what) {
  snprintf(w->err, w->errlen, "Failed to read the recording: query=%s error=%s", what,
           sqlite3_errmsg(w->db));
  return -EIO;
}

/* Runs SQL (named WHAT in messages) and writes its rows as
 * {"fields":[FIELDS],"rows":[[...],...]}. TYPES has a letter per column: 'i' an
 * integer (null kept), 'S' a text as a string-table index (-1 for NULL), 's'
 * a text inline. BIND, when >= 0, is bound to the statement's parameter 1. */
static int write_rows(struct writer *w, const char *what, const char *sql, const char *types,
                      const char *fields, int64_t bind) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(w->db, sql, -1, &st, NULL) != SQLITE_OK)
    return sql_failed(w, what);
  if (bind >= 0)
    sqlite3_bind_int64(st, 1, bind);
  fprintf(w->out, "{\"fields\":[%s],\"rows\":[", fields);
  int rc, nrow = 0, ncol = (int)strlen(types);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    fputs(nrow++ ? ",[" : "[", w->out);
    for (int c = 0; c < ncol; c++) {
      if (c)
        fputc(',', w->out);
      bool null = sqlite3_column_type(st, c) == SQLITE_NULL;
      if (types[c] == 'i') {
        if (null)
          fputs("null", w->out);
        else
          fprintf(w->out, "%lld", (long long)sqlite3_column_int64(st, c));
      } else if (types[c] == 'S') {
        int64_t idx = null ? -1
                           : spantap_string_table_index(&w->strings,
                                                        (const char *)sqlite3_column_text(st, c));
        if (idx < -1) {
          sqlite3_finalize(st);
          snprintf(w->err, w->errlen, "Failed to intern a text: query=%s error=out of memory",
                   what);
          return -ENOMEM;
        }
        fprintf(w->out, "%lld", (long long)idx);
      } else if (null) {
        fputs("null", w->out);
      } else {
        json_str(w->out, (const char *)sqlite3_column_text(st, c));
      }
    }
    fputc(']', w->out);
  }
  fputs("]}", w->out);
  if (rc != SQLITE_DONE) {
    sqlite3_finalize(st);
    return sql_failed(w, what);
  }
  sqlite3_finalize(st);
  return 0;
}

/* One integer from SQL, or DFLT when it returns no row or NULL; -EIO. */
static int query_int(struct writer *w, const char *sql, int64_t dflt, int64_t *v) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(w->db, sql, -1, &st, NULL) != SQLITE_OK)
    return sql_failed(w, sql);
  int rc = sqlite3_step(st);
  *v = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL ? sqlite3_column_int64(st, 0)
                                                                     : dflt;
  sqlite3_finalize(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_failed(w, sql);
}

/* The tables and views the report reads: a file without one of them is not a
 * recording of this spantap (or one written before spans existed). */
static const char *const needed[] = {"recording", "spans",   "traces", "syscalls",   "stack_frames",
                                     "frames",    "modules", "stacks", "call_sites", "span_edges"};

static int check_schema(struct writer *w) {
  for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(w->db, "SELECT 1 FROM sqlite_master WHERE name = ?1", -1, &st, NULL) !=
        SQLITE_OK)
      return sql_failed(w, "schema");
    sqlite3_bind_text(st, 1, needed[i], -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
      snprintf(w->err, w->errlen,
               "not a recording of this spantap: it has no '%s' (a recording older than its "
               "schema, docs/schema.md; record or import it again)",
               needed[i]);
      return -EINVAL;
    }
    if (rc != SQLITE_ROW)
      return sql_failed(w, "schema");
  }
  return 0;
}

/* ---- the sections ---- */

static int write_health(struct writer *w, int64_t *counts) {
  static const struct {
    const char *key, *sql;
  } items[] = {
      {"complete", "SELECT num_value FROM recording WHERE key = 'complete'"},
      {"events_lost", "SELECT num_value FROM recording WHERE key = 'events_lost'"},
      {"lines_malformed", "SELECT num_value FROM recording WHERE key = 'lines_malformed'"},
      {"unknown_sockets", "SELECT num_value FROM recording WHERE key = 'unknown_sockets'"},
      {"spans_in_loss", "SELECT num_value FROM recording WHERE key = 'spans_in_loss'"},
      {"spans_loss", "SELECT count(*) FROM spans WHERE status = 'loss'"},
      {"spans_not_ok", "SELECT count(*) FROM spans WHERE status <> 'ok'"},
      {"traces_incomplete", "SELECT count(*) FROM traces WHERE complete = 0"},
      {"frames", "SELECT count(*) FROM frames"},
      {"frames_unsymbolized", "SELECT count(*) FROM frames WHERE function IS NULL"},
      {"syscalls_unsymbolized", "SELECT count(*) FROM syscalls s JOIN stacks k ON k.id = s.stack_id"
                                " JOIN frames f ON f.id = k.app_frame_id WHERE f.function IS NULL"},
      {"syscalls", "SELECT count(*) FROM syscalls"},
      {"syscalls_in_spans", "SELECT count(*) FROM syscalls WHERE span_id IS NOT NULL"},
      {"syscalls_with_stack", "SELECT count(*) FROM syscalls WHERE stack_id IS NOT NULL"},
      {"spans", "SELECT count(*) FROM spans"},
      {"traces", "SELECT count(*) FROM traces"},
      {"processes", "SELECT count(*) FROM processes"},
  };
  fputs("\"health\":{", w->out);
  for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
    int64_t v;
    /* complete: a recording that never said (still being written) is not complete */
    int rc = query_int(w, items[i].sql, 0, &v);
    if (rc < 0)
      return rc;
    fprintf(w->out, "%s\"%s\":%lld", i ? "," : "", items[i].key, (long long)v);
    if (strcmp(items[i].key, "syscalls") == 0)
      counts[0] = v;
    else if (strcmp(items[i].key, "spans") == 0)
      counts[1] = v;
    else if (strcmp(items[i].key, "traces") == 0)
      counts[2] = v;
  }
  fputs(",\"spans_by_status\":", w->out);
  int rc = write_rows(w, "spans_by_status",
                      "SELECT status, count(*) FROM spans GROUP BY 1 ORDER BY 2 DESC", "si",
                      "\"status\",\"spans\"", -1);
  if (rc < 0)
    return rc;
  fputc('}', w->out);
  return 0;
}

static const char dual_sql[] =
    "SELECT s.name, coalesce(cs.call_site, '(no stack)'), count(*), sum(s.dur_ns)"
    " FROM syscalls s LEFT JOIN call_sites cs ON cs.stack_id = s.stack_id"
    " GROUP BY 1, 2 ORDER BY 4 DESC LIMIT 5000";
static const char dual_fields[] = "\"syscall\",\"call_site\",\"calls\",\"ns\"";

/* The second recording of --compare: its size and its dual space. */
static int write_compare(struct writer *w, sqlite3 *compare, const char *name) {
  sqlite3 *db = w->db;
  w->db = compare;
  int rc = check_schema(w);
  int64_t traces = 0, spans = 0, syscalls = 0, lost = 0;
  if (rc == 0)
    rc = query_int(w, "SELECT count(*) FROM traces", 0, &traces);
  if (rc == 0)
    rc = query_int(w, "SELECT count(*) FROM spans", 0, &spans);
  if (rc == 0)
    rc = query_int(w, "SELECT count(*) FROM syscalls", 0, &syscalls);
  if (rc == 0)
    rc = query_int(w, "SELECT num_value FROM recording WHERE key = 'events_lost'", 0, &lost);
  if (rc == 0) {
    fputs(",\"compare\":{\"name\":", w->out);
    json_str(w->out, name ? name : "");
    fprintf(w->out,
            ",\"traces\":%lld,\"spans\":%lld,\"syscalls\":%lld,\"events_lost\":%lld,\"dual\":",
            (long long)traces, (long long)spans, (long long)syscalls, (long long)lost);
    rc = write_rows(w, "compare dual space", dual_sql, "SSii", dual_fields, -1);
    fputc('}', w->out);
  }
  if (rc == -EINVAL) {
    char why[400];
    snprintf(why, sizeof why, "%s", w->err);
    snprintf(w->err, w->errlen, "the --compare recording is %s", why);
  }
  w->db = db;
  return rc;
}

static void set_missing(struct spantap_report_data_info *info, int64_t syscalls, int64_t spans) {
  if (syscalls == 0 && spans == 0)
    snprintf(info->missing, sizeof info->missing,
             "an empty recording: it holds no syscalls and no spans (was anything traced?)");
  else if (spans == 0)
    snprintf(info->missing, sizeof info->missing,
             "no spans: spans come from TCP request/response traffic of the traced processes "
             "(its --events must include net)");
  else
    info->missing[0] = '\0';
}

int spantap_report_data_write(struct sqlite3 *db, struct sqlite3 *compare, FILE *out,
                              const struct spantap_report_data_opts *o,
                              struct spantap_report_data_info *info, char *err, size_t errlen) {
  struct writer w = {.db = db, .out = out, .err = err, .errlen = errlen};
  struct spantap_report_data_info local;
  if (!info)
    info = &local;
  memset(info, 0, sizeof *info);
  int64_t max_spans = o && o->max_spans > 0 ? o->max_spans : SPANTAP_REPORT_MAX_SPANS;
  int64_t ntraces = o && o->traces > 0 ? o->traces : SPANTAP_REPORT_TRACES;
  int rc = check_schema(&w);
  if (rc < 0)
    return rc;
  /* one read transaction: a recording still being written reads as one snapshot */
  if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    return sql_failed(&w, "BEGIN");

  fputs("{\"version\":1,\"name\":", out);
  json_str(out, o && o->name ? o->name : "");
  fputs(",\"recording\":", out);
  rc = write_rows(&w, "recording", "SELECT key, text_value, num_value FROM recording ORDER BY key",
                  "ssi", "\"key\",\"text\",\"num\"", -1);
  int64_t counts[3] = {0, 0, 0};
  if (rc == 0) {
    fputc(',', out);
    rc = write_health(&w, counts);
  }
  if (rc < 0)
    goto done;
  info->syscalls = counts[0];
  info->spans = counts[1];
  info->traces = counts[2];
  set_missing(info, counts[0], counts[1]);
  /* above the limit, whole traces: one in K, and always the slowest listed */
  info->sample_every = counts[1] > max_spans ? (counts[1] + max_spans - 1) / max_spans : 1;
  char keep[256];
  snprintf(keep, sizeof keep,
           "(%lld = 1 OR trace_id %% %lld = 0 OR trace_id IN (SELECT id FROM traces"
           " ORDER BY dur_ns DESC LIMIT %lld))",
           (long long)info->sample_every, (long long)info->sample_every, (long long)ntraces);
  char sql[2048];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM spans WHERE %s", keep);
  if ((rc = query_int(&w, sql, 0, &info->spans_shown)) < 0)
    goto done;
  fputs(",\"missing\":", out);
  if (info->missing[0])
    json_str(out, info->missing);
  else
    fputs("null", out);
  fprintf(out,
          ",\"sampling\":{\"spans\":%lld,\"spans_shown\":%lld,\"max_spans\":%lld,"
          "\"sample_every\":%lld,\"traces_listed\":%lld}",
          (long long)info->spans, (long long)info->spans_shown, (long long)max_spans,
          (long long)info->sample_every, (long long)ntraces);
  int64_t t0;
  if ((rc = query_int(&w,
                      "SELECT min(coalesce((SELECT num_value FROM recording WHERE key ="
                      " 'started_ns'), x), x) FROM (SELECT min(start_ns) AS x FROM spans)",
                      0, &t0)) < 0)
    goto done;
  fprintf(out, ",\"t0\":%lld,\"spans\":", (long long)t0);
  snprintf(sql, sizeof sql,
           "SELECT s.id, s.trace_id, s.parent_id, s.kind, s.service, s.pid, s.tid,"
           " s.start_ns - ?1, s.dur_ns, s.status, s.depth, s.critical, s.bytes_in, s.bytes_out,"
           " s.syscalls, s.net_ns, s.file_ns, s.mem_ns, s.proc_ns, s.other_ns, s.offcpu_ns,"
           " s.switches, s.page_faults, a.call_site, b.call_site FROM spans s"
           " LEFT JOIN call_sites a ON a.stack_id = s.start_stack_id"
           " LEFT JOIN call_sites b ON b.stack_id = s.end_stack_id WHERE %s ORDER BY s.id",
           keep);
  rc = write_rows(&w, "spans", sql, "iiiSSiiiiSiiiiiiiiiiiiiSS",
                  "\"id\",\"trace\",\"parent\",\"kind\",\"service\",\"pid\",\"tid\",\"start\","
                  "\"dur\",\"status\",\"depth\",\"critical\",\"bytes_in\",\"bytes_out\","
                  "\"syscalls\",\"net\",\"file\",\"mem\",\"proc\",\"other\",\"offcpu\","
                  "\"switches\",\"faults\",\"site_start\",\"site_end\"",
                  t0);
  if (rc < 0)
    goto done;
  /* syscall time per span, stack and syscall: the flame graph's weights */
  fputs(",\"weights\":", out);
  snprintf(sql, sizeof sql,
           "SELECT span_id, stack_id, name, count(*), sum(dur_ns) FROM syscalls"
           " WHERE span_id IN (SELECT id FROM spans WHERE %s) GROUP BY 1, 2, 3",
           keep);
  rc = write_rows(&w, "weights", sql, "iiSii", "\"span\",\"stack\",\"syscall\",\"calls\",\"ns\"",
                  -1);
  if (rc < 0)
    goto done;
  /* the frames of those stacks, outermost first; app = the application call site */
  fputs(",\"frames\":", out);
  snprintf(sql, sizeof sql,
           "SELECT sf.stack_id, sf.idx, coalesce(f.function, replace(m.path, rtrim(m.path,"
           " replace(m.path, '/', '')), '') || printf('+0x%%x', f.rel_addr)),"
           " f.id = k.app_frame_id FROM stack_frames sf JOIN stacks k ON k.id = sf.stack_id"
           " JOIN frames f ON f.id = sf.frame_id LEFT JOIN modules m ON m.id = f.module_id"
           " WHERE sf.stack_id IN (SELECT DISTINCT stack_id FROM syscalls WHERE span_id IN"
           " (SELECT id FROM spans WHERE %s)) ORDER BY sf.stack_id, sf.idx DESC",
           keep);
  rc = write_rows(&w, "frames", sql, "iiSi", "\"stack\",\"idx\",\"frame\",\"app\"", -1);
  if (rc < 0)
    goto done;
  fputs(",\"traces\":", out);
  snprintf(sql, sizeof sql,
           "SELECT t.id, t.start_ns - %lld, t.dur_ns, t.spans, t.depth, r.service, t.services,"
           " t.critical_path, t.complete FROM traces t LEFT JOIN spans r"
           " ON r.id = t.root_span_id ORDER BY t.dur_ns DESC, t.id LIMIT ?1",
           (long long)t0);
  rc = write_rows(&w, "traces", sql, "iiiiiSssi",
                  "\"id\",\"start\",\"dur\",\"spans\",\"depth\",\"root_service\",\"services\","
                  "\"critical_path\",\"complete\"",
                  ntraces);
  if (rc < 0)
    goto done;
  /* the syscalls inside the listed traces' spans (the 64 longest of each span) */
  fputs(",\"trace_syscalls\":", out);
  snprintf(sql, sizeof sql,
           "WITH top AS (SELECT id FROM traces ORDER BY dur_ns DESC, id LIMIT ?1),"
           " r AS (SELECT s.span_id, s.ts_ns, s.dur_ns, s.name, s.class, s.ret, s.stack_id,"
           " row_number() OVER (PARTITION BY s.span_id ORDER BY s.dur_ns DESC) AS rn"
           " FROM syscalls s WHERE s.span_id IN (SELECT id FROM spans WHERE trace_id IN top))"
           " SELECT r.span_id, r.ts_ns - %lld, r.dur_ns, r.name, r.class, r.ret, cs.call_site"
           " FROM r LEFT JOIN call_sites cs ON cs.stack_id = r.stack_id WHERE r.rn <= 64"
           " ORDER BY r.span_id, r.ts_ns",
           (long long)t0);
  rc = write_rows(&w, "trace syscalls", sql, "iiiSSiS",
                  "\"span\",\"ts\",\"dur\",\"name\",\"class\",\"ret\",\"call_site\"", ntraces);
  if (rc < 0)
    goto done;
  fputs(",\"dual\":", out);
  rc = write_rows(&w, "dual space", dual_sql, "SSii", dual_fields, -1);
  if (rc == 0 && compare)
    rc = write_compare(&w, compare, o ? o->compare_name : NULL);
  if (rc < 0)
    goto done;
  fputs(",\"strings\":[", out);
  for (size_t i = 0; i < w.strings.count; i++) {
    if (i)
      fputc(',', out);
    json_str(out, w.strings.strings[i]);
  }
  fputs("]}", out);
  if (ferror(out)) {
    snprintf(err, errlen, "Failed to write the report's data: error=%s", strerror(errno));
    rc = -EIO;
  }
done:
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  spantap_string_table_free(&w.strings);
  return rc;
}
