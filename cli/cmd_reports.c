/* `spantap traces`, `spantap tree` and `spantap stacks`: the reports that answer
 * the usual questions about a recording's requests (which were slow, where their
 * time went, which application code asked the kernel for it), read-only, from the
 * spans, traces and call_sites of docs/schema.md. */
#include <errno.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

/* ---- shared helpers ---- */

/* Whether DB has a table or view named NAME. */
static bool has_table(sqlite3 *db, const char *name) {
  sqlite3_stmt *st;
  bool found = false;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = ?", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return found;
}

/* The first column of the first row of SQL with ?1 bound to ARG (when > 0), or DEFAULT. */
static int64_t scalar_int(sqlite3 *db, const char *sql, int64_t arg, int64_t dflt) {
  sqlite3_stmt *st;
  int64_t v = dflt;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return dflt;
  if (arg > 0)
    sqlite3_bind_int64(st, 1, arg);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* The text of the first column of SQL's first row with ?1 bound to ARG (may be
 * NULL), copied into BUF; "" when there is none. Returns BUF. */
static char *scalar_text(sqlite3 *db, const char *sql, const char *arg, char *buf, size_t len) {
  sqlite3_stmt *st;
  buf[0] = '\0';
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return buf;
  if (arg)
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return buf;
}

/* Writes "Failed to WHAT" with PATH and SQLite's last message into ERR. Returns -EIO. */
static int sql_failed(sqlite3 *db, const char *what, const char *path, char *err, size_t errlen) {
  snprintf(err, errlen, "Failed to %s: path=%s error=%s", what, path, sqlite3_errmsg(db));
  return -EIO;
}

/* A recording made before spans were derived has no spans table. */
static int require_spans(sqlite3 *db, const char *path, char *err, size_t errlen) {
  if (has_table(db, "spans") && has_table(db, "traces") && has_table(db, "span_edges"))
    return 0;
  snprintf(err, errlen,
           "recording has no spans or traces tables: path=%s (made by an older spantap;"
           " import its saved stream again)",
           path);
  return -EINVAL;
}

/* Whether the recording's --events list had the `net` class (directly, or through
 * `all` or `default`). Returns -1 when the list was not stored. */
static int events_had_net(sqlite3 *db) {
  char events[256];
  scalar_text(db, "SELECT text_value FROM recording WHERE key = 'events'", NULL, events,
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
  scalar_text(db, "SELECT text_value FROM recording WHERE key = 'events'", NULL, events,
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
            (long long)scalar_int(db, "SELECT count(*) FROM syscalls WHERE class = 'net'", 0, 0));
  else
    fprintf(out, "Either no TCP request/response traffic was recorded, or the recording used\n"
                 "an event set without 'net'.\n");
}

/* Parses a count option: digits only. Returns 0 or -EINVAL. */
static int parse_count(const char *s, int64_t *out) {
  char *end;
  if (!s || *s < '0' || *s > '9')
    return -EINVAL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*end || errno)
    return -EINVAL;
  *out = v;
  return 0;
}

/* The file name part of PATH (PATH itself without a slash; NULL stays NULL). */
static const char *base_name(const char *path) {
  const char *slash = path ? strrchr(path, '/') : NULL;
  return slash ? slash + 1 : path;
}

/* ---- traces ---- */

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
    return sql_failed(db, "read trace durations", path, err, errlen);
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
    return sql_failed(db, "read trace durations", path, err, errlen);
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
  int rc = spantap_recording_open(path, &db, err, errlen);
  if (rc < 0)
    return rc;
  rc = require_spans(db, path, err, errlen);
  bool text = o->format == SPANTAP_TABLE_TEXT;
  if (rc == 0 && text && scalar_int(db, "SELECT count(*) FROM spans", 0, 0) == 0) {
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
    rc = sql_failed(db, "query slowest_traces", path, err, errlen);
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
    scalar_text(db,
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

/* ---- tree ---- */

struct tree_span {
  int64_t id, parent_id, pid, tid, start_ns, dur_ns;
  int64_t syscalls, net_ns, file_ns, mem_ns, offcpu_ns, bytes_in, bytes_out, page_faults;
  int critical;
  char *kind, *service, *status, *conn, *site_start, *site_end, *also;
  long first_child, next_sibling; /* indexes in start order, -1: none */
  bool shown;
};

struct tree {
  struct tree_span *v;
  size_t n;
  int64_t trace_start_ns;
};

/* Frees what T holds (not T itself). */
static void tree_free(struct tree *t) {
  for (size_t i = 0; i < t->n; i++) {
    struct tree_span *s = &t->v[i];
    free(s->kind);
    free(s->service);
    free(s->status);
    free(s->conn);
    free(s->site_start);
    free(s->site_end);
    free(s->also);
  }
  free(t->v);
}

/* An owned copy of column COL's text, NULL for SQL NULL (or out of memory). */
static char *column_dup(sqlite3_stmt *st, int col) {
  const unsigned char *t = sqlite3_column_text(st, col);
  return t ? strdup((const char *)t) : NULL;
}

/* "addr:port", with IPv6 addresses in brackets. */
static void format_endpoint(char *buf, size_t len, const char *addr, int port) {
  snprintf(buf, len, strchr(addr, ':') ? "[%s]:%d" : "%s:%d", addr, port);
}

/* "call_site (file:line)" from columns COL.. (call_site, file, line); NULL when
 * the span has no stack there. */
static char *call_site_text(sqlite3_stmt *st, int col) {
  const char *site = (const char *)sqlite3_column_text(st, col);
  const char *file = (const char *)sqlite3_column_text(st, col + 1);
  if (!site)
    return NULL;
  char buf[512];
  if (file)
    snprintf(buf, sizeof buf, "%s (%s:%d)", site, base_name(file), sqlite3_column_int(st, col + 2));
  else
    snprintf(buf, sizeof buf, "%s", site);
  return strdup(buf);
}

/* The index of span ID in T, or -1. Linear: a trace has few spans. */
static long find_span(const struct tree *t, int64_t id) {
  for (size_t i = 0; i < t->n; i++)
    if (t->v[i].id == id)
      return (long)i;
  return -1;
}

/* Loads the spans of TRACE_ID in start order, with their connection and call
 * sites, and links each to its children (start order kept). */
static int tree_load(sqlite3 *db, const char *path, int64_t trace_id, struct tree *t, char *err,
                     size_t errlen) {
  static const char sql[] =
      "SELECT s.id, coalesce(s.parent_id, 0), s.kind, s.service, s.pid, s.tid, s.start_ns,"
      " s.dur_ns, s.status, s.critical, s.syscalls, s.net_ns, s.file_ns, s.mem_ns, s.offcpu_ns,"
      " s.bytes_in, s.bytes_out, s.page_faults, c.laddr, c.lport, c.raddr, c.rport,"
      " a.call_site, a.file, a.line, b.call_site, b.file, b.line"
      " FROM spans s LEFT JOIN connections c ON c.id = s.conn_id"
      " LEFT JOIN call_sites a ON a.stack_id = s.start_stack_id"
      " LEFT JOIN call_sites b ON b.stack_id = s.end_stack_id"
      " WHERE s.trace_id = ?1 ORDER BY s.start_ns, s.id";
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return sql_failed(db, "query the trace's spans", path, err, errlen);
  sqlite3_bind_int64(st, 1, trace_id);
  size_t cap = 0;
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (t->n == cap) {
      cap = cap ? cap * 2 : 64;
      struct tree_span *grown = realloc(t->v, cap * sizeof *grown);
      if (!grown) {
        sqlite3_finalize(st);
        snprintf(err, errlen, "Failed to allocate spans: trace=%lld spans=%zu", (long long)trace_id,
                 t->n);
        return -ENOMEM;
      }
      t->v = grown;
    }
    struct tree_span *s = &t->v[t->n++];
    memset(s, 0, sizeof *s);
    s->id = sqlite3_column_int64(st, 0);
    s->parent_id = sqlite3_column_int64(st, 1);
    s->kind = column_dup(st, 2);
    s->service = column_dup(st, 3);
    s->pid = sqlite3_column_int64(st, 4);
    s->tid = sqlite3_column_int64(st, 5);
    s->start_ns = sqlite3_column_int64(st, 6);
    s->dur_ns = sqlite3_column_int64(st, 7);
    s->status = column_dup(st, 8);
    s->critical = sqlite3_column_int(st, 9);
    int64_t *tallies[] = {&s->syscalls,  &s->net_ns,   &s->file_ns,   &s->mem_ns,
                          &s->offcpu_ns, &s->bytes_in, &s->bytes_out, &s->page_faults};
    for (int i = 0; i < 8; i++)
      *tallies[i] = sqlite3_column_int64(st, 10 + i);
    if (sqlite3_column_type(st, 18) != SQLITE_NULL) {
      char l[80], r[80], both[170];
      format_endpoint(l, sizeof l, (const char *)sqlite3_column_text(st, 18),
                      sqlite3_column_int(st, 19));
      const char *raddr = (const char *)sqlite3_column_text(st, 20);
      format_endpoint(r, sizeof r, raddr ? raddr : "?", sqlite3_column_int(st, 21));
      snprintf(both, sizeof both, "%s -> %s", l, r);
      s->conn = strdup(both);
    }
    s->site_start = call_site_text(st, 22);
    s->site_end = call_site_text(st, 25);
    s->first_child = s->next_sibling = -1;
  }
  sqlite3_finalize(st);
  if (step != SQLITE_DONE)
    return sql_failed(db, "read the trace's spans", path, err, errlen);
  /* prepend in reverse start order, so each child list ends up in start order */
  for (size_t i = t->n; i-- > 0;) {
    long p = t->v[i].parent_id ? find_span(t, t->v[i].parent_id) : -1;
    if (p >= 0 && (size_t)p != i) {
      t->v[i].next_sibling = t->v[p].first_child;
      t->v[p].first_child = (long)i;
    } else {
      t->v[i].parent_id = 0; /* a root here, even if its parent lies in another trace */
    }
  }
  return 0;
}

/* Adds the span_edges that parent_id does not already say, as "also child of span N". */
static int tree_extra_edges(sqlite3 *db, const char *path, int64_t trace_id, struct tree *t,
                            char *err, size_t errlen) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT e.child_id, e.parent_id FROM span_edges e"
                         " JOIN spans c ON c.id = e.child_id WHERE c.trace_id = ?1"
                         " AND e.parent_id IS NOT c.parent_id ORDER BY e.child_id, e.parent_id",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_failed(db, "query span_edges", path, err, errlen);
  sqlite3_bind_int64(st, 1, trace_id);
  int step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    long i = find_span(t, sqlite3_column_int64(st, 0));
    if (i < 0)
      continue;
    struct tree_span *s = &t->v[i];
    char *also = NULL;
    long long parent = (long long)sqlite3_column_int64(st, 1);
    int n = s->also ? asprintf(&also, "%s, %lld", s->also, parent)
                    : asprintf(&also, "also child of span %lld", parent);
    if (n < 0) {
      sqlite3_finalize(st);
      snprintf(err, errlen, "Failed to allocate an edge note: span=%lld", (long long)s->id);
      return -ENOMEM;
    }
    free(s->also);
    s->also = also;
  }
  sqlite3_finalize(st);
  if (step != SQLITE_DONE)
    return sql_failed(db, "read span_edges", path, err, errlen);
  return 0;
}

static const char *const tree_columns[] = {"span", "pid/tid",  "connection", "start",  "ms", "sys",
                                           "net",  "file",     "mem",        "offcpu", "in", "out",
                                           "pf",   "at start", "at end",     "note"};
#define TREE_NCOLS (sizeof tree_columns / sizeof tree_columns[0])

/* Adds span I and, below it, its children, to TAB. GUIDE is what precedes this
 * span's label ("├─ "), CONT what precedes its children's guides. */
static int tree_add(struct tree *t, long i, const char *guide, const char *cont,
                    struct spantap_table *tab) {
  struct tree_span *s = &t->v[i];
  s->shown = true;
  char *label = NULL, pidtid[48], note[512];
  if (asprintf(&label, "%s%s%lld %s %s", guide, s->critical ? "* " : "  ", (long long)s->id,
               s->kind ? s->kind : "?", s->service ? s->service : "?") < 0)
    return -ENOMEM;
  snprintf(pidtid, sizeof pidtid, "%lld/%lld", (long long)s->pid, (long long)s->tid);
  bool bad_status = s->status && strcmp(s->status, "ok") != 0;
  snprintf(note, sizeof note, "%s%s%s", bad_status ? s->status : "",
           bad_status && s->also ? "; " : "", s->also ? s->also : "");
  struct spantap_cell row[TREE_NCOLS] = {
      spantap_cell_text(label),
      spantap_cell_text(pidtid),
      spantap_cell_text(s->conn),
      spantap_cell_real((s->start_ns - t->trace_start_ns) / 1e6),
      spantap_cell_real(s->dur_ns / 1e6),
      spantap_cell_int(s->syscalls),
      spantap_cell_real(s->net_ns / 1e6),
      spantap_cell_real(s->file_ns / 1e6),
      spantap_cell_real(s->mem_ns / 1e6),
      spantap_cell_real(s->offcpu_ns / 1e6),
      spantap_cell_int(s->bytes_in),
      spantap_cell_int(s->bytes_out),
      spantap_cell_int(s->page_faults),
      spantap_cell_text(s->site_start),
      spantap_cell_text(s->site_end),
      spantap_cell_text(note[0] ? note : NULL),
  };
  int rc = spantap_table_add_row(tab, row);
  free(label);
  for (long c = s->first_child; rc == 0 && c >= 0; c = t->v[c].next_sibling) {
    if (t->v[c].shown) /* a parent_id cycle: shown once */
      continue;
    bool last = t->v[c].next_sibling < 0;
    char *g = NULL, *k = NULL;
    if (asprintf(&g, "%s%s", cont,
                 last ? "\xe2\x94\x94\xe2\x94\x80 " : "\xe2\x94\x9c\xe2\x94\x80 ") < 0 ||
        asprintf(&k, "%s%s", cont, last ? "   " : "\xe2\x94\x82  ") < 0) {
      free(g);
      return -ENOMEM;
    }
    rc = tree_add(t, c, g, k, tab);
    free(g);
    free(k);
  }
  return rc;
}

int spantap_report_tree(const char *path, int64_t trace_id, FILE *out, char *err, size_t errlen) {
  sqlite3 *db;
  int rc = spantap_recording_open(path, &db, err, errlen);
  if (rc < 0)
    return rc;
  rc = require_spans(db, path, err, errlen);
  sqlite3_stmt *st = NULL;
  if (rc == 0 && sqlite3_prepare_v2(db,
                                    "SELECT start_ns, dur_ns, spans, depth, critical_path,"
                                    " complete FROM traces WHERE id = ?1",
                                    -1, &st, NULL) != SQLITE_OK)
    rc = sql_failed(db, "query traces", path, err, errlen);
  struct tree t = {0};
  if (rc == 0) {
    sqlite3_bind_int64(st, 1, trace_id);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
      t.trace_start_ns = sqlite3_column_int64(st, 0);
      const char *path_text = (const char *)sqlite3_column_text(st, 4);
      int64_t nspans = sqlite3_column_int64(st, 2);
      fprintf(out, "trace %lld: %.3f ms, %lld span%s, depth %d, critical path %s%s\n",
              (long long)trace_id, sqlite3_column_int64(st, 1) / 1e6, (long long)nspans,
              nspans == 1 ? "" : "s", sqlite3_column_int(st, 3), path_text ? path_text : "(none)",
              sqlite3_column_int(st, 5) ? ""
                                        : "; INCOMPLETE (a span did not end in order: see note)");
    } else if (step == SQLITE_DONE) {
      snprintf(err, errlen,
               "no such trace: id=%lld in %s (it has %lld traces, ids %lld-%lld;"
               " 'spantap traces %s' lists them)",
               (long long)trace_id, path,
               (long long)scalar_int(db, "SELECT count(*) FROM traces", 0, 0),
               (long long)scalar_int(db, "SELECT min(id) FROM traces", 0, 0),
               (long long)scalar_int(db, "SELECT max(id) FROM traces", 0, 0), path);
      rc = -ENOENT;
    } else {
      rc = sql_failed(db, "read traces", path, err, errlen);
    }
  }
  sqlite3_finalize(st);
  if (rc == 0)
    rc = tree_load(db, path, trace_id, &t, err, errlen);
  if (rc == 0)
    rc = tree_extra_edges(db, path, trace_id, &t, err, errlen);
  if (rc == 0 && t.n == 0)
    fprintf(out, "(no spans stored for this trace)\n");
  if (rc == 0 && t.n > 0) {
    struct spantap_table_opts to = {.format = SPANTAP_TABLE_TEXT, .max_width = 60, .decimals = 3};
    struct spantap_table *tab = spantap_table_new(out, &to, TREE_NCOLS, tree_columns);
    rc = tab ? 0 : -ENOMEM;
    /* roots first; then whatever a parent_id cycle kept out of reach */
    for (size_t pass = 0; pass < 2; pass++)
      for (size_t i = 0; rc == 0 && i < t.n; i++)
        if (!t.v[i].shown && (pass == 1 || t.v[i].parent_id == 0))
          rc = tree_add(&t, (long)i, "", "", tab);
    if (rc < 0) {
      spantap_table_destroy(tab);
      snprintf(err, errlen, "Failed to allocate the tree: trace=%lld spans=%zu",
               (long long)trace_id, t.n);
    } else if (spantap_table_finish(tab) < 0) {
      snprintf(err, errlen, "Failed to write the tree: trace=%lld errno=%s", (long long)trace_id,
               strerror(errno));
      rc = -EIO;
    } else {
      fprintf(out, "* on the critical path. start: ms after the trace's start; ms, net, file,"
                   " mem, offcpu: milliseconds;\nsys: syscalls; in, out: bytes; pf: page faults;"
                   " at start/end: the application call site.\n");
    }
  }
  tree_free(&t);
  sqlite3_close(db);
  return rc;
}

/* ---- stacks ---- */

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
  int rc = spantap_recording_open(path, &db, err, errlen);
  if (rc < 0)
    return rc;
  if (o->span_id > 0) {
    rc = require_spans(db, path, err, errlen);
    if (rc == 0 && scalar_int(db, "SELECT count(*) FROM spans WHERE id = ?1", o->span_id, 0) == 0) {
      snprintf(err, errlen,
               "no such span: id=%lld in %s ('spantap tree %s TRACE_ID' shows span ids)",
               (long long)o->span_id, path, path);
      rc = -ENOENT;
    }
  }
  sqlite3_stmt *st = NULL;
  if (rc == 0 && sqlite3_prepare_v2(db, stacks_sql, -1, &st, NULL) != SQLITE_OK)
    rc = sql_failed(db, "query call sites", path, err, errlen);
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
        snprintf(where, sizeof where, "%s:%d", base_name(file), sqlite3_column_int(st, 4));
      else
        snprintf(where, sizeof where, "%s", module ? base_name(module) : "");
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
    rc = sql_failed(db, "read call sites", path, err, errlen);
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
    int64_t total = scalar_int(db, "SELECT count(*) FROM syscalls WHERE ?1 IS NULL OR span_id = ?1",
                               o->span_id, 0);
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

/* ---- the commands ---- */

static const char traces_usage[] =
    "Usage: spantap traces [OPTIONS] DATABASE\n"
    "\n"
    "List the recording's request traces, slowest first: trace id, duration (ms),\n"
    "spans, depth (levels of spans), the services taking part, the critical path\n"
    "(from the root, the child span that ended last, recursively: what the trace's\n"
    "end waited on), and 'incomplete' when a span did not end in order (unfinished,\n"
    "no response, reset). Then one line of totals: traces, spans, the median and\n"
    "the p99 trace duration. Traces come from TCP request/response traffic: a\n"
    "recording without 'net' events has none.\n"
    "\n"
    "  -n, --limit N      show the N slowest traces (default 20, 0: all)\n"
    "  -s, --service S    only traces with a span of service S (an executable's name)\n"
    "  --csv, --json      the table as CSV or JSON (no totals line)\n"
    "\n"
    "Examples:\n"
    "  spantap traces run.db -n 10 --service nginx\n"
    "  spantap tree run.db 42     # then draw one of them\n";

static const char tree_usage[] =
    "Usage: spantap tree DATABASE TRACE_ID\n"
    "\n"
    "Draw one trace as an indented tree, one line per span, children in start order:\n"
    "the span id, kind (server: handled a request; client: made one), service and\n"
    "pid/tid, the connection (local -> remote address), the start (ms after the\n"
    "trace's start) and duration, the span's syscalls and their time by class (net,\n"
    "file, mem) with its off-CPU time, bytes in and out, page faults, and the\n"
    "application call site at the span's start and end. '*' marks the spans on the\n"
    "critical path (from the root, the child that ended last, recursively). The note\n"
    "column gives a status other than ok (unfinished, no_response, reset) and the\n"
    "other parents a span has in span_edges ('also child of span N').\n"
    "'spantap traces' lists the trace ids.\n"
    "\n"
    "Example:\n"
    "  spantap tree run.db 42\n";

static const char stacks_usage[] =
    "Usage: spantap stacks [OPTIONS] DATABASE\n"
    "\n"
    "Rank the application call sites (the innermost frame in the application's own\n"
    "binary, view call_sites) by the total time of the syscalls made from them: total\n"
    "ms, calls, the top syscalls at the site ('read x120, write x40') and file:line\n"
    "when debuginfo was found (else the binary). Syscalls recorded without a stack\n"
    "count as '(no stack)'.\n"
    "\n"
    "  -n, --limit N    show the N hottest call sites (default 20, 0: all)\n"
    "  --span ID        only the syscalls of span ID (see 'spantap tree')\n"
    "  --csv, --json    the table as CSV or JSON (no totals line)\n"
    "\n"
    "Examples:\n"
    "  spantap stacks run.db -n 10\n"
    "  spantap stacks run.db --span 17\n";

enum { OPT_CSV = 256, OPT_JSON, OPT_SPAN };

int spantap_cmd_traces(int argc, char **argv) {
  static const struct option longopts[] = {
      {"limit", required_argument, 0, 'n'}, {"service", required_argument, 0, 's'},
      {"csv", no_argument, 0, OPT_CSV},     {"json", no_argument, 0, OPT_JSON},
      {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
  struct spantap_traces_opts o = {.limit = 20, .format = SPANTAP_TABLE_TEXT};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "n:s:h", longopts, NULL)) != -1) {
    switch (c) {
      case 'n':
        if (parse_count(optarg, &o.limit) < 0) {
          fprintf(stderr, "spantap traces: invalid -n '%s' (a count, 0 for all)\n", optarg);
          return SPANTAP_EXIT_USAGE;
        }
        break;
      case 's':
        o.service = optarg;
        break;
      case OPT_CSV:
        o.format = SPANTAP_TABLE_CSV;
        break;
      case OPT_JSON:
        o.format = SPANTAP_TABLE_JSON;
        break;
      case 'h':
        fputs(traces_usage, stdout);
        return SPANTAP_EXIT_OK;
      default:
        fprintf(stderr, "Try 'spantap traces --help'.\n");
        return SPANTAP_EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "spantap traces: give one DATABASE\nTry 'spantap traces --help'.\n");
    return SPANTAP_EXIT_USAGE;
  }
  char err[1024];
  if (spantap_report_traces(argv[optind], stdout, &o, err, sizeof err) < 0) {
    fprintf(stderr, "spantap traces: %s\n", err);
    return SPANTAP_EXIT_FAIL;
  }
  return SPANTAP_EXIT_OK;
}

int spantap_cmd_tree(int argc, char **argv) {
  if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(tree_usage, stdout);
    return SPANTAP_EXIT_OK;
  }
  int64_t id;
  if (argc != 3 || argv[1][0] == '-') {
    fprintf(stderr, "spantap tree: give a DATABASE and a TRACE_ID\nTry 'spantap tree --help'.\n");
    return SPANTAP_EXIT_USAGE;
  }
  if (parse_count(argv[2], &id) < 0 || id < 1) {
    fprintf(stderr, "spantap tree: invalid TRACE_ID '%s' (a trace id from 'spantap traces')\n",
            argv[2]);
    return SPANTAP_EXIT_USAGE;
  }
  char err[1024];
  if (spantap_report_tree(argv[1], id, stdout, err, sizeof err) < 0) {
    fprintf(stderr, "spantap tree: %s\n", err);
    return SPANTAP_EXIT_FAIL;
  }
  return SPANTAP_EXIT_OK;
}

int spantap_cmd_stacks(int argc, char **argv) {
  static const struct option longopts[] = {
      {"limit", required_argument, 0, 'n'}, {"span", required_argument, 0, OPT_SPAN},
      {"csv", no_argument, 0, OPT_CSV},     {"json", no_argument, 0, OPT_JSON},
      {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
  struct spantap_stacks_opts o = {.limit = 20, .format = SPANTAP_TABLE_TEXT};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
    switch (c) {
      case 'n':
        if (parse_count(optarg, &o.limit) < 0) {
          fprintf(stderr, "spantap stacks: invalid -n '%s' (a count, 0 for all)\n", optarg);
          return SPANTAP_EXIT_USAGE;
        }
        break;
      case OPT_SPAN:
        if (parse_count(optarg, &o.span_id) < 0 || o.span_id < 1) {
          fprintf(stderr, "spantap stacks: invalid --span '%s' (a span id)\n", optarg);
          return SPANTAP_EXIT_USAGE;
        }
        break;
      case OPT_CSV:
        o.format = SPANTAP_TABLE_CSV;
        break;
      case OPT_JSON:
        o.format = SPANTAP_TABLE_JSON;
        break;
      case 'h':
        fputs(stacks_usage, stdout);
        return SPANTAP_EXIT_OK;
      default:
        fprintf(stderr, "Try 'spantap stacks --help'.\n");
        return SPANTAP_EXIT_USAGE;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "spantap stacks: give one DATABASE\nTry 'spantap stacks --help'.\n");
    return SPANTAP_EXIT_USAGE;
  }
  char err[1024];
  if (spantap_report_stacks(argv[optind], stdout, &o, err, sizeof err) < 0) {
    fprintf(stderr, "spantap stacks: %s\n", err);
    return SPANTAP_EXIT_FAIL;
  }
  return SPANTAP_EXIT_OK;
}
