/* `spantap tree`: one trace's spans as an indented tree, with their time by
 * class, bytes, call sites and the other parents span_edges gives them. */
#include "reports/tree.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "reports/recording.h"
#include "reports/table_print.h"

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
    snprintf(buf, sizeof buf, "%s (%s:%d)", site, spantap_report_base_name(file),
             sqlite3_column_int(st, col + 2));
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
    return spantap_recording_failed(db, "query the trace's spans", path, err, errlen);
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
    return spantap_recording_failed(db, "read the trace's spans", path, err, errlen);
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
    return spantap_recording_failed(db, "query span_edges", path, err, errlen);
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
    return spantap_recording_failed(db, "read span_edges", path, err, errlen);
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
  int rc = spantap_recording_open_spans(path, &db, err, errlen);
  if (rc < 0)
    return rc;
  sqlite3_stmt *st = NULL;
  if (rc == 0 && sqlite3_prepare_v2(db,
                                    "SELECT start_ns, dur_ns, spans, depth, critical_path,"
                                    " complete FROM traces WHERE id = ?1",
                                    -1, &st, NULL) != SQLITE_OK)
    rc = spantap_recording_failed(db, "query traces", path, err, errlen);
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
               (long long)spantap_recording_int(db, "SELECT count(*) FROM traces", 0, 0),
               (long long)spantap_recording_int(db, "SELECT min(id) FROM traces", 0, 0),
               (long long)spantap_recording_int(db, "SELECT max(id) FROM traces", 0, 0), path);
      rc = -ENOENT;
    } else {
      rc = spantap_recording_failed(db, "read traces", path, err, errlen);
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
