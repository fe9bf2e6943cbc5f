/* spantap export prometheus: a recording's metrics in the Prometheus text
 * exposition format 0.0.4. Per service and span kind: request latency
 * histograms, requests by status, kernel time by class (network, file,
 * memory, process, other, off-CPU), page faults and bytes; per service and
 * syscall: counts and time; events recorded by kind and lost. Each family is
 * one aggregate query, so the text grows with services and syscall names, not
 * with the rows. The same text is served at /metrics (metrics_http.c). */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/export.h"
#include "export/sql_rows.h"

static const double buckets_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define NBUCKETS (sizeof buckets_s / sizeof buckets_s[0])

/* Writes S as a label value: backslash, double quote and line feed escaped. */
static void label_value(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '\\' || *s == '"')
      fputc('\\', out), fputc(*s, out);
    else if (*s == '\n')
      fputs("\\n", out);
    else
      fputc(*s, out);
  }
}

static void labels(FILE *out, const char *service, const char *kind) {
  fputs("{service=\"", out);
  label_value(out, service);
  fputs("\",kind=\"", out);
  label_value(out, kind);
  fputc('"', out);
}

static void family(FILE *out, const char *name, const char *type, const char *help) {
  fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One (service, span kind) group's sums, read in one pass over the spans. */
struct group {
  char service[128], kind[16];
  int64_t count, sums[10]; /* dur, net, file, mem, proc, other, offcpu, faults, in, out */
  int64_t buckets[NBUCKETS];
};

static int per_span_kind(const struct spantap_export_recording *rec, FILE *out, char *err,
                         size_t errlen) {
  char sql[2048];
  size_t len = (size_t)snprintf(sql, sizeof sql,
                                "SELECT coalesce(service, 'pid ' || pid), kind, count(*),"
                                " sum(dur_ns), sum(net_ns), sum(file_ns), sum(mem_ns),"
                                " sum(proc_ns), sum(other_ns), sum(offcpu_ns), sum(page_faults),"
                                " sum(bytes_in), sum(bytes_out)");
  for (size_t b = 0; b < NBUCKETS; b++)
    len += (size_t)snprintf(sql + len, sizeof sql - len, ", sum(dur_ns <= %lld)",
                            (long long)(buckets_s[b] * 1e9 + 0.5));
  snprintf(sql + len, sizeof sql - len, " FROM spans GROUP BY 1, 2 ORDER BY 1, 2");
  sqlite3_stmt *st;
  int rc = spantap_rows_prepare(rec->db, sql, "spans by service", &st, err, errlen);
  if (rc < 0)
    return rc;
  /* the groups are few (services x kinds): kept, then written family by family
   * as the text format wants each family's samples together */
  struct group *groups = NULL;
  size_t n = 0, cap = 0;
  int got;
  while ((got = spantap_rows_next(st, "spans by service", err, errlen)) == 1) {
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      struct group *grown = realloc(groups, cap * sizeof *grown);
      if (!grown) {
        snprintf(err, errlen, "Failed to allocate the metrics groups: groups=%zu", n);
        got = -ENOMEM;
        break;
      }
      groups = grown;
    }
    struct group *g = &groups[n++];
    snprintf(g->service, sizeof g->service, "%s", spantap_rows_text(st, 0, "?"));
    snprintf(g->kind, sizeof g->kind, "%s", spantap_rows_text(st, 1, "?"));
    g->count = spantap_rows_int(st, 2);
    for (int k = 0; k < 10; k++)
      g->sums[k] = spantap_rows_int(st, 3 + k);
    for (size_t b = 0; b < NBUCKETS; b++)
      g->buckets[b] = spantap_rows_int(st, 13 + (int)b);
  }
  sqlite3_finalize(st);
  if (got < 0) {
    free(groups);
    return got;
  }
  family(out, "spantap_request_duration_seconds", "histogram",
         "Request span latency (server: request received to response sent; client: request"
         " sent to response received).");
  for (size_t i = 0; i < n; i++) {
    const struct group *g = &groups[i];
    for (size_t b = 0; b <= NBUCKETS; b++) {
      fputs("spantap_request_duration_seconds_bucket", out);
      labels(out, g->service, g->kind);
      if (b < NBUCKETS)
        fprintf(out, ",le=\"%g\"} %lld\n", buckets_s[b], (long long)g->buckets[b]);
      else
        fprintf(out, ",le=\"+Inf\"} %lld\n", (long long)g->count);
    }
    fputs("spantap_request_duration_seconds_sum", out);
    labels(out, g->service, g->kind);
    fprintf(out, "} %.9f\n", (double)g->sums[0] / 1e9);
    fputs("spantap_request_duration_seconds_count", out);
    labels(out, g->service, g->kind);
    fprintf(out, "} %lld\n", (long long)g->count);
  }
  static const char *const classes[] = {"net", "file", "mem", "proc", "other", "offcpu"};
  family(out, "spantap_request_kernel_seconds_total", "counter",
         "Time in the kernel during request spans, by class (net, file, mem, proc, other"
         " syscalls; offcpu: off the CPU).");
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < 6; k++) {
      fputs("spantap_request_kernel_seconds_total", out);
      labels(out, groups[i].service, groups[i].kind);
      fprintf(out, ",class=\"%s\"} %.9f\n", classes[k], (double)groups[i].sums[1 + k] / 1e9);
    }
  family(out, "spantap_request_page_faults_total", "counter",
         "User page faults during request spans.");
  for (size_t i = 0; i < n; i++) {
    fputs("spantap_request_page_faults_total", out);
    labels(out, groups[i].service, groups[i].kind);
    fprintf(out, "} %lld\n", (long long)groups[i].sums[7]);
  }
  family(out, "spantap_request_bytes_total", "counter",
         "Bytes received (in) and sent (out) on the spans' connections.");
  for (size_t i = 0; i < n; i++)
    for (int d = 0; d < 2; d++) {
      fputs("spantap_request_bytes_total", out);
      labels(out, groups[i].service, groups[i].kind);
      fprintf(out, ",direction=\"%s\"} %lld\n", d ? "out" : "in", (long long)groups[i].sums[8 + d]);
    }
  free(groups);
  return 0;
}

/* Runs SQL (rows: service, label, value) and writes one sample per row. */
static int simple_family(const struct spantap_export_recording *rec, FILE *out, const char *sql,
                         const char *name, const char *type, const char *help, const char *label,
                         double scale, char *err, size_t errlen) {
  sqlite3_stmt *st;
  int rc = spantap_rows_prepare(rec->db, sql, name, &st, err, errlen);
  if (rc < 0)
    return rc;
  family(out, name, type, help);
  int got;
  while ((got = spantap_rows_next(st, name, err, errlen)) == 1) {
    fprintf(out, "%s{service=\"", name);
    label_value(out, spantap_rows_text(st, 0, "?"));
    fprintf(out, "\",%s=\"", label);
    label_value(out, spantap_rows_text(st, 1, "?"));
    if (scale == 1)
      fprintf(out, "\"} %lld\n", (long long)spantap_rows_int(st, 2));
    else
      fprintf(out, "\"} %.9f\n", (double)spantap_rows_int(st, 2) * scale);
  }
  sqlite3_finalize(st);
  return got < 0 ? got : 0;
}

static int recording_families(const struct spantap_export_recording *rec, FILE *out, char *err,
                              size_t errlen) {
  static const struct {
    const char *kind, *table;
  } tables[] = {{"syscall", "syscalls"},
                {"process", "process_events"},
                {"tcp_state", "tcp_states"},
                {"offcpu", "offcpu"},
                {"page_fault", "page_faults"}};
  family(out, "spantap_events_recorded_total", "counter",
         "Events stored in the recording, by kind.");
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i].table);
    sqlite3_stmt *st;
    int rc = spantap_rows_prepare(rec->db, sql, tables[i].table, &st, err, errlen);
    if (rc < 0)
      return rc;
    rc = spantap_rows_next(st, tables[i].table, err, errlen);
    if (rc == 1)
      fprintf(out, "spantap_events_recorded_total{kind=\"%s\"} %lld\n", tables[i].kind,
              (long long)spantap_rows_int(st, 0));
    sqlite3_finalize(st);
    if (rc < 0)
      return rc;
  }
  family(out, "spantap_events_lost_total", "counter", "Events the tracing runtime reported lost.");
  fprintf(out, "spantap_events_lost_total %lld\n", (long long)rec->events_lost);
  family(out, "spantap_recording_complete", "gauge",
         "1 when the recording ended in order, 0 otherwise.");
  fprintf(out, "spantap_recording_complete %d\n", rec->complete ? 1 : 0);
  family(out, "spantap_recording_info", "gauge", "The traced machine; always 1.");
  fputs("spantap_recording_info{hostname=\"", out);
  label_value(out, rec->hostname);
  fputs("\",kernel=\"", out);
  label_value(out, rec->kernel);
  fputs("\",runtime=\"", out);
  label_value(out, rec->runtime);
  fputs("\"} 1\n", out);
  return 0;
}

/* Renders the whole text into OUT. */
static int render(const struct spantap_export_recording *rec, FILE *out, char *err, size_t errlen) {
  int rc = per_span_kind(rec, out, err, errlen);
  if (rc == 0)
    rc = simple_family(rec, out,
                       "SELECT coalesce(service, 'pid ' || pid), status, count(*) FROM spans"
                       " GROUP BY 1, 2 ORDER BY 1, 2",
                       "spantap_requests_total", "counter",
                       "Request spans by service and status (ok, no_response, reset, unfinished,"
                       " loss).",
                       "status", 1, err, errlen);
  if (rc == 0)
    rc = simple_family(rec, out,
                       "SELECT service, name, sum(n) FROM (SELECT coalesce(replace(p.exe, "
                       "rtrim(p.exe, replace(p.exe, '/', '')), ''), 'pid ' || s.pid) AS service,"
                       " s.name, count(*) AS n FROM syscalls s LEFT JOIN processes p"
                       " ON p.pid = s.pid GROUP BY s.pid, s.name) GROUP BY 1, 2 ORDER BY 1, 2",
                       "spantap_syscalls_total", "counter",
                       "Completed syscalls, by service and name.", "syscall", 1, err, errlen);
  if (rc == 0)
    rc = simple_family(rec, out,
                       "SELECT service, name, sum(t) FROM (SELECT coalesce(replace(p.exe, "
                       "rtrim(p.exe, replace(p.exe, '/', '')), ''), 'pid ' || s.pid) AS service,"
                       " s.name, sum(s.dur_ns) AS t FROM syscalls s LEFT JOIN processes p"
                       " ON p.pid = s.pid GROUP BY s.pid, s.name) GROUP BY 1, 2 ORDER BY 1, 2",
                       "spantap_syscall_seconds_total", "counter",
                       "Time in completed syscalls, by service and name.", "syscall", 1e-9, err,
                       errlen);
  if (rc == 0)
    rc = recording_families(rec, out, err, errlen);
  return rc;
}

int spantap_export_prometheus_text(const struct spantap_export_recording *rec, char **text,
                                   size_t *len, char *err, size_t errlen) {
  *text = NULL;
  *len = 0;
  FILE *out = open_memstream(text, len);
  if (!out) {
    snprintf(err, errlen, "Failed to allocate the metrics text: errno=%s", strerror(errno));
    return -ENOMEM;
  }
  int rc = render(rec, out, err, errlen);
  if (fclose(out) != 0 && rc == 0) {
    snprintf(err, errlen, "Failed to allocate the metrics text: errno=%s", strerror(errno));
    rc = -ENOMEM;
  }
  if (rc < 0) {
    free(*text);
    *text = NULL;
    *len = 0;
  }
  return rc;
}

int spantap_export_prometheus(const struct spantap_export_recording *rec,
                              const struct spantap_export_sink *sink, char *err, size_t errlen) {
  char *text;
  size_t len;
  int rc = spantap_export_prometheus_text(rec, &text, &len, err, errlen);
  if (rc == 0)
    rc = sink->write(sink->ctx, text, len, err, errlen);
  free(text);
  return rc;
}
