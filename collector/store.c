/* SQLite store of a recording. The row writers keep rows in groups that a
 * writer thread (collector/group_writer.h) writes through statements prepared
 * once (bind, step, reset; runs of one table MULTI_ROWS rows per execution)
 * inside one transaction per batch; indexes are built when the recording
 * closes, after the bulk of the rows is in. */
#include "collector/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/group_writer.h"
#include "collector/row_group.h"
#include "common/array_grow.h"
#include "common/kernel_abi.h"

/* Spans and traces, derived by collector/spans.c; documented in docs/schema.md. */
#define SPAN_SCHEMA_SQL                                                                            \
  "CREATE TABLE spans (id INTEGER PRIMARY KEY, trace_id INTEGER NOT NULL,\n"                       \
  "  parent_id INTEGER REFERENCES spans(id), kind TEXT NOT NULL, pid INTEGER NOT NULL,\n"          \
  "  tid INTEGER NOT NULL, service TEXT, conn_id INTEGER REFERENCES connections(id),\n"            \
  "  start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, dur_ns INTEGER NOT NULL,\n"               \
  "  status TEXT NOT NULL, depth INTEGER NOT NULL, critical INTEGER NOT NULL,\n"                   \
  "  bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL, syscalls INTEGER NOT NULL,\n"          \
  "  net_ns INTEGER NOT NULL, file_ns INTEGER NOT NULL, mem_ns INTEGER NOT NULL,\n"                \
  "  proc_ns INTEGER NOT NULL, other_ns INTEGER NOT NULL, offcpu_ns INTEGER NOT NULL,\n"           \
  "  switches INTEGER NOT NULL, page_faults INTEGER NOT NULL,\n"                                   \
  "  start_stack_id INTEGER REFERENCES stacks(id), end_stack_id INTEGER REFERENCES stacks(id));\n" \
  "CREATE TABLE span_edges (parent_id INTEGER NOT NULL REFERENCES spans(id),\n"                    \
  "  child_id INTEGER NOT NULL REFERENCES spans(id), kind TEXT NOT NULL);\n"                       \
  "CREATE TABLE traces (id INTEGER PRIMARY KEY, root_span_id INTEGER REFERENCES spans(id),\n"      \
  "  start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, dur_ns INTEGER NOT NULL,\n"               \
  "  spans INTEGER NOT NULL, depth INTEGER NOT NULL, services TEXT, critical_path TEXT,\n"         \
  "  complete INTEGER NOT NULL);\n" SPAN_VIEWS_SQL

/* Ready answers to the common questions; docs/queries.md shows each. */
#define SPAN_VIEWS_SQL                                                                             \
  "CREATE VIEW span_syscalls AS SELECT span_id, id AS syscall_id, ts_ns, dur_ns, pid, tid,\n"      \
  "  name, class, ret, stack_id, conn_id FROM syscalls WHERE span_id IS NOT NULL;\n"               \
  "CREATE VIEW call_sites AS SELECT k.id AS stack_id, coalesce(f.function ||\n"                    \
  "  printf('+0x%x', f.offset), CASE WHEN f.rel_addr > 0 THEN replace(m.path, rtrim(m.path,\n"     \
  "  replace(m.path, '/', '')), '') || printf('+0x%x', f.rel_addr) END, '(no application frame'\n" \
  "  || coalesce((SELECT ': in ' || coalesce(f0.function, printf('0x%x', f0.rel_addr)) || ' ('\n"  \
  "  || coalesce(replace(m0.path, rtrim(m0.path, replace(m0.path, '/', '')), ''), '?') || ')'\n"   \
  "  FROM stack_frames sf JOIN frames f0 ON f0.id = sf.frame_id LEFT JOIN modules m0 ON\n"         \
  "  m0.id = f0.module_id WHERE sf.stack_id = k.id AND (f0.function IS NOT NULL OR\n"              \
  "  f0.rel_addr > 0) ORDER BY sf.idx LIMIT 1), '') || ')') AS call_site, f.file, f.line,\n"       \
  "  m.path AS module FROM stacks k LEFT JOIN frames f ON f.id = k.app_frame_id\n"                 \
  "  LEFT JOIN modules m ON m.id = f.module_id;\n"                                                 \
  "CREATE VIEW span_stacks AS SELECT s.span_id, s.stack_id, cs.call_site, count(*) AS syscalls,\n" \
  "  sum(s.dur_ns) AS dur_ns FROM syscalls s LEFT JOIN call_sites cs ON cs.stack_id = "            \
  "s.stack_id\n"                                                                                   \
  "  WHERE s.span_id IS NOT NULL GROUP BY s.span_id, s.stack_id;\n"                                \
  "CREATE VIEW slowest_traces AS SELECT t.id AS trace_id, t.dur_ns / 1e6 AS dur_ms, t.spans,\n"    \
  "  t.depth, r.service AS root_service, t.services, t.critical_path, t.start_ns, t.complete\n"    \
  "  FROM traces t LEFT JOIN spans r ON r.id = t.root_span_id ORDER BY t.dur_ns DESC;\n"           \
  "CREATE VIEW service_time AS SELECT service, kind, count(*) AS spans,\n"                         \
  "  sum(dur_ns) / 1e6 AS total_ms, avg(dur_ns) / 1e6 AS avg_ms, max(dur_ns) / 1e6 AS max_ms,\n"   \
  "  sum(net_ns) / 1e6 AS net_ms, sum(file_ns) / 1e6 AS file_ms, sum(mem_ns) / 1e6 AS mem_ms,\n"   \
  "  sum(proc_ns + other_ns) / 1e6 AS other_ms, sum(offcpu_ns) / 1e6 AS offcpu_ms,\n"              \
  "  sum(page_faults) AS page_faults, sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out\n"    \
  "  FROM spans GROUP BY service, kind ORDER BY sum(dur_ns) DESC;\n"                               \
  "CREATE VIEW dual_space AS SELECT s.name AS syscall, coalesce(cs.call_site, '(no stack)')\n"     \
  "  AS call_site, count(*) AS calls, sum(s.dur_ns) / 1e6 AS total_ms FROM syscalls s\n"           \
  "  LEFT JOIN call_sites cs ON cs.stack_id = s.stack_id GROUP BY 1, 2 ORDER BY 4 DESC;\n"         \
  "CREATE VIEW slow_vs_fast AS WITH ranked AS (SELECT *, ntile(10) OVER (PARTITION BY\n"           \
  "  service ORDER BY dur_ns DESC) AS decile FROM spans WHERE kind = 'server')\n"                  \
  "  SELECT service, CASE WHEN decile = 1 THEN 'slow' ELSE 'fast' END AS grp,\n"                   \
  "  count(*) AS spans, avg(dur_ns) / 1e6 AS avg_ms, avg(net_ns) / 1e6 AS net_ms,\n"               \
  "  avg(file_ns) / 1e6 AS file_ms, avg(mem_ns) / 1e6 AS mem_ms,\n"                                \
  "  avg(offcpu_ns) / 1e6 AS offcpu_ms, avg(switches) AS switches,\n"                              \
  "  avg(page_faults) AS page_faults, avg(syscalls) AS syscalls, avg(bytes_in) AS bytes_in,\n"     \
  "  avg(bytes_out) AS bytes_out FROM ranked GROUP BY service, grp ORDER BY service, grp DESC;\n"

static const char schema_sql[] =
    "CREATE TABLE recording (key TEXT PRIMARY KEY, text_value TEXT, num_value INTEGER);\n"
    "CREATE TABLE processes (pid INTEGER PRIMARY KEY, ppid INTEGER, exe TEXT, start_ns INTEGER,\n"
    "  exec_ns INTEGER, exit_ns INTEGER, exit_status INTEGER, attached INTEGER NOT NULL);\n"
    "CREATE TABLE threads (tid INTEGER PRIMARY KEY, pid INTEGER NOT NULL, start_ns INTEGER,\n"
    "  exit_ns INTEGER);\n"
    "CREATE TABLE process_events (ts_ns INTEGER NOT NULL, kind TEXT NOT NULL, pid INTEGER,\n"
    "  tid INTEGER, other_pid INTEGER, other_tid INTEGER, path TEXT, status INTEGER);\n"
    "CREATE TABLE modules (id INTEGER PRIMARY KEY, path TEXT NOT NULL, build_id TEXT);\n"
    "CREATE TABLE mappings (pid INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,\n"
    "  pgoff INTEGER NOT NULL, perms TEXT, module_id INTEGER REFERENCES modules(id));\n"
    "CREATE TABLE frames (id INTEGER PRIMARY KEY, module_id INTEGER REFERENCES modules(id),\n"
    "  rel_addr INTEGER NOT NULL, function TEXT, offset INTEGER, file TEXT, line INTEGER);\n"
    "CREATE TABLE stacks (id INTEGER PRIMARY KEY, depth INTEGER NOT NULL, flags INTEGER NOT NULL,\n"
    "  app_frame_id INTEGER REFERENCES frames(id));\n"
    "CREATE TABLE stack_frames (stack_id INTEGER NOT NULL REFERENCES stacks(id),\n"
    "  idx INTEGER NOT NULL, frame_id INTEGER NOT NULL REFERENCES frames(id),\n"
    "  PRIMARY KEY (stack_id, idx)) WITHOUT ROWID;\n"
    "CREATE TABLE connections (id INTEGER PRIMARY KEY, family INTEGER, proto INTEGER,\n"
    "  laddr TEXT, lport INTEGER, raddr TEXT, rport INTEGER, sock INTEGER);\n"
    "CREATE TABLE syscalls (id INTEGER PRIMARY KEY, ts_ns INTEGER NOT NULL, dur_ns INTEGER NOT "
    "NULL,\n"
    "  pid INTEGER NOT NULL, tid INTEGER NOT NULL, nr INTEGER NOT NULL, name TEXT, class TEXT,\n"
    "  arg0 INTEGER, arg1 INTEGER, arg2 INTEGER, ret INTEGER,\n"
    "  stack_id INTEGER REFERENCES stacks(id), conn_id INTEGER REFERENCES connections(id),\n"
    "  span_id INTEGER REFERENCES spans(id));\n"
    "CREATE TABLE tcp_states (ts_ns INTEGER NOT NULL, pid INTEGER, tid INTEGER,\n"
    "  conn_id INTEGER REFERENCES connections(id), old_state TEXT, new_state TEXT,\n"
    "  stack_id INTEGER REFERENCES stacks(id));\n"
    "CREATE TABLE offcpu (ts_ns INTEGER NOT NULL, dur_ns INTEGER NOT NULL, pid INTEGER,\n"
    "  tid INTEGER, state INTEGER, span_id INTEGER REFERENCES spans(id));\n"
    "CREATE TABLE page_faults (ts_ns INTEGER NOT NULL, pid INTEGER, tid INTEGER, address INTEGER,\n"
    "  error_code INTEGER, stack_id INTEGER REFERENCES stacks(id),\n"
    "  span_id INTEGER REFERENCES spans(id));\n" SPAN_SCHEMA_SQL "CREATE VIEW events AS\n"
    "  SELECT ts_ns, 'syscall' AS kind, pid, tid, name AS what, dur_ns FROM syscalls\n"
    "  UNION ALL SELECT ts_ns, kind, pid, tid, path, NULL FROM process_events\n"
    "  UNION ALL SELECT ts_ns, 'tcp_state', pid, tid, old_state || '->' || new_state, NULL FROM "
    "tcp_states\n"
    "  UNION ALL SELECT ts_ns, 'offcpu', pid, tid, state, dur_ns FROM offcpu\n"
    "  UNION ALL SELECT ts_ns, 'page_fault', pid, tid, printf('0x%x', address), NULL FROM "
    "page_faults;\n"
    "CREATE VIEW stack_text AS\n"
    "  SELECT sf.stack_id, sf.idx, f.id AS frame_id, m.path AS module,\n"
    "    coalesce(f.function || printf('+0x%x', f.offset), printf('0x%x', f.rel_addr)) AS symbol,\n"
    "    f.file, f.line FROM stack_frames sf JOIN frames f ON f.id = sf.frame_id\n"
    "    LEFT JOIN modules m ON m.id = f.module_id;\n";

static const char index_sql[] =
    "CREATE INDEX IF NOT EXISTS syscalls_ts ON syscalls(ts_ns);\n"
    "CREATE INDEX IF NOT EXISTS syscalls_tid ON syscalls(tid, ts_ns);\n"

    "CREATE INDEX IF NOT EXISTS process_events_pid ON process_events(pid, ts_ns);\n"
    "CREATE INDEX IF NOT EXISTS tcp_states_conn ON tcp_states(conn_id);\n"
    "CREATE INDEX IF NOT EXISTS mappings_pid ON mappings(pid, start);\n"
    "CREATE INDEX IF NOT EXISTS syscalls_span ON syscalls(span_id) WHERE span_id IS NOT NULL;\n"
    "CREATE INDEX IF NOT EXISTS spans_trace ON spans(trace_id);\n"
    "CREATE INDEX IF NOT EXISTS span_edges_parent ON span_edges(parent_id);\n"
    "CREATE INDEX IF NOT EXISTS span_edges_child ON span_edges(child_id);\n";

enum stmt_id {
  ST_META,
  ST_PROCESS,
  ST_THREAD,
  ST_PROC_EVENT,
  ST_MAPPING,
  ST_MODULE,
  ST_FRAME,
  ST_STACK,
  ST_STACK_FRAME,
  ST_CONN,
  ST_SYSCALL,
  ST_TCP,
  ST_OFFCPU,
  ST_FAULT,
  ST_SPAN,
  ST_SPAN_EDGE,
  ST_TRACE,
  ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
    [ST_META] = "INSERT OR REPLACE INTO recording VALUES (?, ?, ?)",
    /* later writes fill in what earlier ones did not know, never erase it */
    [ST_PROCESS] =
        "INSERT INTO processes VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(pid) DO UPDATE"
        " SET ppid = coalesce(excluded.ppid, ppid), exe = coalesce(excluded.exe, exe),"
        " start_ns = coalesce(start_ns, excluded.start_ns),"
        " exec_ns = coalesce(excluded.exec_ns, exec_ns),"
        " exit_ns = coalesce(excluded.exit_ns, exit_ns),"
        " exit_status = coalesce(excluded.exit_status, exit_status),"
        " attached = min(attached, excluded.attached)",
    [ST_THREAD] = "INSERT INTO threads VALUES (?, ?, ?, ?) ON CONFLICT(tid) DO UPDATE"
                  " SET start_ns = coalesce(start_ns, excluded.start_ns),"
                  " exit_ns = coalesce(excluded.exit_ns, exit_ns)",
    [ST_PROC_EVENT] = "INSERT INTO process_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_MAPPING] = "INSERT INTO mappings VALUES (?, ?, ?, ?, ?, ?)",
    [ST_MODULE] = "INSERT INTO modules VALUES (?, ?, ?) "
                  "ON CONFLICT(id) DO UPDATE SET build_id = excluded.build_id",
    [ST_FRAME] = "INSERT INTO frames VALUES (?, ?, ?, ?, ?, ?, ?)",
    [ST_STACK] = "INSERT INTO stacks VALUES (?, ?, ?, ?)",
    [ST_STACK_FRAME] = "INSERT INTO stack_frames VALUES (?, ?, ?)",
    [ST_CONN] = "INSERT INTO connections VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_SYSCALL] = "INSERT INTO syscalls (ts_ns, dur_ns, pid, tid, nr, name, class, arg0, arg1,"
                   " arg2, ret, stack_id, conn_id, span_id)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_TCP] = "INSERT INTO tcp_states VALUES (?, ?, ?, ?, ?, ?, ?)",
    [ST_OFFCPU] = "INSERT INTO offcpu VALUES (?, ?, ?, ?, ?, ?)",
    [ST_FAULT] = "INSERT INTO page_faults VALUES (?, ?, ?, ?, ?, ?, ?)",
    [ST_SPAN] = "INSERT INTO spans VALUES (" /* 27 columns */
                "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [ST_SPAN_EDGE] = "INSERT INTO span_edges VALUES (?, ?, ?)",
    [ST_TRACE] = "INSERT INTO traces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
};

/* Rows go to the writer thread in groups: a group is a run of rows (the
 * statement and its values, texts copied into the group) handed over when it
 * holds SPANTAP_GROUP_ROWS rows or SPANTAP_GROUP_TEXT_BYTES of text, or at a commit. The
 * thread writes runs of MULTI_ROWS rows of one statement with one execution
 * of that statement's multi-row form. Memory in flight: at most
 * WRITER_DEPTH + 2 groups (spantap_store_memory_bound). */
#define WRITER_DEPTH 4
#define MULTI_ROWS 64
#define ROW_COMMIT ST__COUNT /* a row that commits the transaction and begins the next */

/* The statements written MULTI_ROWS rows at a time: plain inserts of the
 * tables that grow with the recording. */
static const bool stmt_multi[ST__COUNT] = {
    [ST_PROC_EVENT] = true, [ST_STACK_FRAME] = true, [ST_SYSCALL] = true, [ST_TCP] = true,
    [ST_OFFCPU] = true,     [ST_FAULT] = true,       [ST_SPAN] = true,    [ST_SPAN_EDGE] = true,
};

struct spantap_store {
  sqlite3 *db;
  sqlite3_stmt *st[ST__COUNT];
  sqlite3_stmt *multi[ST__COUNT]; /* MULTI_ROWS rows per execution, for stmt_multi */
  int nparams[ST__COUNT];
  bool in_txn; /* the writer thread's while it runs */
  struct spantap_group_writer *writer;
  int spill_fd;                  /* the writer's backlog beyond memory, -1: none */
  int spill_errno;               /* why there is no spill file, 0 when there is one */
  struct spantap_row_group *cur; /* the group being filled */
  int failed;                    /* the first failure seen by the caller's thread: sticky */
  char errmsg[512];              /* what it was */
};

const char *spantap_store_errmsg(const struct spantap_store *s) {
  if (!s)
    return "no database";
  if (s->failed)
    return s->errmsg;
  /* while the writer runs, the connection is its own: no sqlite3_errmsg here */
  return s->writer ? "no error" : s->db ? sqlite3_errmsg(s->db) : "no database";
}

static int exec_sql(struct spantap_store *s, const char *sql, const char *what, char *err,
                    size_t errlen) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(err, errlen, "Failed to %s: error=%s", what, msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    return -EIO;
  }
  return 0;
}

/* The group writer's free function. */
static void group_free(void *item) {
  spantap_row_group_free(item);
}

/* The name of the table statement ID writes, for messages. */
static const char *stmt_table(unsigned id) {
  static const char *const names[ST__COUNT] = {[ST_META] = "recording",
                                               [ST_PROCESS] = "processes",
                                               [ST_THREAD] = "threads",
                                               [ST_PROC_EVENT] = "process_events",
                                               [ST_MAPPING] = "mappings",
                                               [ST_MODULE] = "modules",
                                               [ST_FRAME] = "frames",
                                               [ST_STACK] = "stacks",
                                               [ST_STACK_FRAME] = "stack_frames",
                                               [ST_CONN] = "connections",
                                               [ST_SYSCALL] = "syscalls",
                                               [ST_TCP] = "tcp_states",
                                               [ST_OFFCPU] = "offcpu",
                                               [ST_FAULT] = "page_faults",
                                               [ST_SPAN] = "spans",
                                               [ST_SPAN_EDGE] = "span_edges",
                                               [ST_TRACE] = "traces"};
  return id < ST__COUNT ? names[id] : "?";
}

/* Binds the values of row R of G from parameter FIRST on. */
static void bind_row(sqlite3_stmt *st, int first, const struct spantap_row_group *g,
                     const struct spantap_row *r, int n) {
  const struct spantap_value *v = g->vals + r->first;
  for (int k = 0; k < n; k++) {
    if (v[k].len == SPANTAP_VALUE_INT)
      sqlite3_bind_int64(st, first + k, v[k].i);
    else if (v[k].len == SPANTAP_VALUE_NULL)
      sqlite3_bind_null(st, first + k);
    else /* an empty text is no NULL, even before the group holds any text */
      sqlite3_bind_text(st, first + k, v[k].len ? g->text + v[k].i : "", v[k].len, SQLITE_STATIC);
  }
}

static int step_stmt(struct spantap_store *s, sqlite3_stmt *st, unsigned id, unsigned rows,
                     char *err, size_t errlen) {
  int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE)
    snprintf(err, errlen, "Failed to insert into %s: rows=%u error=%s", stmt_table(id), rows,
             sqlite3_errmsg(s->db));
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : -EIO;
}

static int commit_and_begin(struct spantap_store *s, char *err, size_t errlen) {
  if (s->in_txn) {
    int rc = exec_sql(s, "COMMIT", "commit batch", err, errlen);
    s->in_txn = false;
    if (rc < 0) {
      size_t n = strlen(err);
      exec_sql(s, "ROLLBACK", "roll back batch", err + n, errlen - n);
      return rc;
    }
  }
  int rc = exec_sql(s, "BEGIN", "begin transaction", err, errlen);
  if (rc == 0)
    s->in_txn = true;
  return rc;
}

/* The writer thread's work: the rows of one group, in order. */
static int write_group(void *item, void *ctx, char *err, size_t errlen) {
  struct spantap_row_group *g = item;
  struct spantap_store *s = ctx;
  int rc = 0;
  for (unsigned r = 0; rc == 0 && r < g->nrows;) {
    unsigned id = g->rows[r].stmt;
    if (id == ROW_COMMIT) {
      rc = commit_and_begin(s, err, errlen);
      r++;
      continue;
    }
    int n = s->nparams[id];
    unsigned run = 1;
    if (s->multi[id])
      while (run < MULTI_ROWS && r + run < g->nrows && g->rows[r + run].stmt == id)
        run++;
    if (run == MULTI_ROWS) {
      for (unsigned k = 0; k < run; k++)
        bind_row(s->multi[id], 1 + (int)k * n, g, &g->rows[r + k], n);
      rc = step_stmt(s, s->multi[id], id, run, err, errlen);
      r += run;
    } else {
      bind_row(s->st[id], 1, g, &g->rows[r], n);
      rc = step_stmt(s, s->st[id], id, 1, err, errlen);
      r++;
    }
  }
  spantap_row_group_reset(g);
  return rc;
}

/* Notes the first failure (ERR) in S. Returns -EIO. */
static int fail(struct spantap_store *s, const char *err) {
  if (!s->failed) {
    s->failed = -EIO;
    snprintf(s->errmsg, sizeof s->errmsg, "%s", err);
  }
  return -EIO;
}

/* Hands the current group to the writer and takes a fresh one. Returns 0 or
 * -EIO (the writer's first error, or no memory for a group). */
static int submit(struct spantap_store *s) {
  char err[512];
  void *done = NULL;
  int rc = spantap_group_writer_submit(s->writer, s->cur, &done, err, sizeof err);
  s->cur = done; /* written, or saved to the scratch file (then it is the one just submitted) */
  if (s->cur)
    spantap_row_group_reset(s->cur);
  else
    s->cur = calloc(1, sizeof *s->cur);
  if (rc < 0)
    return fail(s, err);
  if (!s->cur)
    return fail(s, "Failed to allocate a group of rows: out of memory");
  return 0;
}

/* Starts row ID of the current group: returns where its values go, or NULL
 * (the store has failed, or no memory). */
static struct spantap_value *row_begin(struct spantap_store *s, enum stmt_id id) {
  if (s->failed || !s->cur)
    return NULL;
  struct spantap_row_group *g = s->cur;
  size_t n = (size_t)s->nparams[id];
  if (g->nvals + n > g->vals_cap &&
      spantap_array_grow((void **)&g->vals, &g->vals_cap, g->nvals + n, sizeof *g->vals) < 0) {
    fail(s, "Failed to keep a row for the writer: out of memory");
    return NULL;
  }
  g->rows[g->nrows] = (struct spantap_row){.stmt = id, .first = (uint32_t)g->nvals};
  return g->vals + g->nvals;
}

/* Ends the row begun: it belongs to the group now. Returns 0 or -EIO. */
static int row_end(struct spantap_store *s) {
  if (s->failed)
    return -EIO;
  struct spantap_row_group *g = s->cur;
  g->nvals += (size_t)s->nparams[g->rows[g->nrows].stmt];
  g->nrows++;
  if (g->nrows >= SPANTAP_GROUP_ROWS || g->text_len >= SPANTAP_GROUP_TEXT_BYTES)
    return submit(s);
  return 0;
}

static void put_int(struct spantap_value *v, int64_t i) {
  *v = (struct spantap_value){.i = i, .len = SPANTAP_VALUE_INT};
}
static void put_null(struct spantap_value *v) {
  *v = (struct spantap_value){.len = SPANTAP_VALUE_NULL};
}
/* An id below 1 is NULL. */
static void put_id(struct spantap_value *v, int64_t id) {
  if (id > 0)
    put_int(v, id);
  else
    put_null(v);
}
/* A copy of T (NULL: SQL NULL) in the group's text. */
static void put_text(struct spantap_store *s, struct spantap_value *v, const char *t) {
  if (!t) {
    put_null(v);
    return;
  }
  struct spantap_row_group *g = s->cur;
  size_t len = strlen(t);
  if (g->text_len + len > g->text_cap &&
      spantap_array_grow((void **)&g->text, &g->text_cap, g->text_len + len, 1) < 0) {
    put_null(v);
    fail(s, "Failed to keep a row's text for the writer: out of memory");
    return;
  }
  if (len) /* an empty text may come before the group has any */
    memcpy(g->text + g->text_len, t, len);
  *v = (struct spantap_value){.i = (int64_t)g->text_len, .len = (int32_t)len};
  g->text_len += len;
}

void spantap_store_destroy(struct spantap_store *s) {
  if (!s)
    return;
  /* the groups already handed over are written (committed ones stay); the
   * one being filled is dropped, and the open transaction rolls back */
  spantap_group_writer_stop(s->writer, NULL, 0);
  if (s->spill_fd >= 0)
    close(s->spill_fd);
  group_free(s->cur);
  for (int i = 0; i < ST__COUNT; i++) {
    sqlite3_finalize(s->st[i]);
    sqlite3_finalize(s->multi[i]);
  }
  sqlite3_close(s->db);
  free(s);
}

int spantap_store_remove(const char *path) {
  int rc = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
  static const char *const sides[] = {"-wal", "-shm"};
  for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
    char side[PATH_MAX + 8];
    snprintf(side, sizeof side, "%s%s", path, sides[i]);
    unlink(side);
  }
  return rc;
}

/* Prepares statement ID and, for stmt_multi, its form with MULTI_ROWS value
 * tuples (the single form's "VALUES (...)" repeated). Returns 0 or -EIO. */
static int prepare(struct spantap_store *s, int id, char *err, size_t errlen) {
  if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL) !=
      SQLITE_OK) {
    snprintf(err, errlen, "Failed to prepare statement: sql=%s error=%s", stmt_sql[id],
             sqlite3_errmsg(s->db));
    return -EIO;
  }
  s->nparams[id] = sqlite3_bind_parameter_count(s->st[id]);
  if (!stmt_multi[id])
    return 0;
  const char *tuple = strstr(stmt_sql[id], "VALUES (");
  if (!tuple) {
    snprintf(err, errlen, "Failed to prepare statement: sql=%s error=no VALUES tuple",
             stmt_sql[id]);
    return -EIO;
  }
  tuple += strlen("VALUES ");
  size_t head = (size_t)(tuple - stmt_sql[id]), tlen = strlen(tuple);
  char *sql = malloc(head + MULTI_ROWS * (tlen + 2) + 1);
  if (!sql) {
    snprintf(err, errlen, "Failed to prepare statement: sql=%s error=out of memory", stmt_sql[id]);
    return -ENOMEM;
  }
  char *p = sql + head;
  memcpy(sql, stmt_sql[id], head);
  for (int k = 0; k < MULTI_ROWS; k++) {
    if (k) {
      memcpy(p, ", ", 2);
      p += 2;
    }
    memcpy(p, tuple, tlen);
    p += tlen;
  }
  *p = '\0';
  int rc = 0;
  if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->multi[id], NULL) !=
      SQLITE_OK) {
    snprintf(err, errlen, "Failed to prepare the %d-row statement: sql=%s error=%s", MULTI_ROWS,
             stmt_sql[id], sqlite3_errmsg(s->db));
    rc = -EIO;
  }
  free(sql);
  return rc;
}

static ssize_t spill_save(const void *item, int fd, off_t at) {
  return spantap_row_group_save(item, fd, at);
}

static ssize_t spill_load(int fd, off_t at, void **item) {
  struct spantap_row_group *g = *item;
  ssize_t n = spantap_row_group_load(fd, at, &g);
  *item = g;
  return n;
}

/* Opens an unnamed scratch file in the directory of PATH (the output's file
 * system, which has room for the rows anyway), for the writer's backlog.
 * Returns the descriptor, or -errno. */
static int open_spill_file(const char *path) {
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == path)
    snprintf(dir, sizeof dir, "/");
  else if ((size_t)(slash - path) < sizeof dir)
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  else
    return -ENAMETOOLONG;
  int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
    return fd >= 0 ? fd : -errno;
  /* a file system without O_TMPFILE: a named file, unlinked at once */
  char name[PATH_MAX + 32];
  snprintf(name, sizeof name, "%s/.spantap-rows.XXXXXX", dir);
  fd = mkostemp(name, O_CLOEXEC);
  if (fd < 0)
    return -errno;
  unlink(name);
  return fd;
}

int spantap_store_open(const char *path, bool force, struct spantap_store **out, char *err,
                       size_t errlen) {
  *out = NULL;
  /* Create the file ourselves: O_EXCL refuses an existing one atomically and
   * the mode is 0600 whatever the umask, since a trace holds arguments and
   * addresses of other users' programs. */
  if (force) {
    int rc = spantap_store_remove(path);
    if (rc < 0) {
      snprintf(err, errlen, "Failed to remove existing output: path=%s errno=%s", path,
               strerror(-rc));
      return rc;
    }
  }
  /* the connection moves between threads (opened and closed here, written by
   * the writer thread in between, never by two at once): multi-thread mode */
  if (!sqlite3_threadsafe()) {
    snprintf(err, errlen,
             "Failed to open database: path=%s error=this SQLite library was built without "
             "thread support (SQLITE_THREADSAFE=0)",
             path);
    return -ENOTSUP;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    if (e == EEXIST)
      snprintf(err, errlen, "output file exists: path=%s (use --force to replace it)", path);
    else
      snprintf(err, errlen, "Failed to create output: path=%s errno=%s", path, strerror(e));
    return -e;
  }
  fchmod(fd, 0600);
  close(fd);
  struct spantap_store *s = calloc(1, sizeof *s);
  if (s) {
    s->spill_fd = -1;
    s->cur = calloc(1, sizeof *s->cur);
  }
  if (!s || !s->cur) {
    free(s);
    unlink(path);
    snprintf(err, errlen, "Failed to allocate store: path=%s", path);
    return -ENOMEM;
  }
  if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
      SQLITE_OK) {
    snprintf(err, errlen, "Failed to open database: path=%s error=%s", path,
             spantap_store_errmsg(s));
    spantap_store_destroy(s);
    unlink(path);
    return -EIO;
  }
  /* 16 KiB pages: a quarter of the writes (and system calls) of SQLite's
   * 4 KiB for the same rows, about 7% less CPU storing them
   * (bench/ingest_bench); set before the first write, which fixes it */
  int rc = exec_sql(s,
                    "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                    " PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;",
                    "configure database", err, errlen);
  if (rc == 0)
    rc = exec_sql(s, schema_sql, "create schema", err, errlen);
  for (int i = 0; rc == 0 && i < ST__COUNT; i++)
    rc = prepare(s, i, err, errlen);
  if (rc == 0)
    rc = exec_sql(s, "BEGIN", "begin transaction", err, errlen);
  if (rc == 0) {
    s->in_txn = true;
    rc = spantap_group_writer_new(WRITER_DEPTH, write_group, group_free, s, &s->writer);
    if (rc < 0)
      snprintf(err, errlen, "Failed to start the database writer thread: path=%s errno=%s", path,
               strerror(-rc));
  }
  if (rc == 0) {
    /* without a scratch file the collector waits for the writer instead:
     * slower under a burst, never wrong */
    s->spill_fd = open_spill_file(path);
    if (s->spill_fd < 0) {
      s->spill_errno = -s->spill_fd;
      s->spill_fd = -1;
    } else {
      static const struct spantap_group_spill_ops ops = {.save = spill_save, .load = spill_load};
      spantap_group_writer_spill_to(s->writer, s->spill_fd, &ops);
    }
  }
  if (rc < 0) {
    spantap_store_destroy(s);
    spantap_store_remove(path); /* the database and the -wal and -shm files SQLite made */
    size_t n = strlen(err);
    if (!strstr(err, path) && n < errlen) /* say which database */
      snprintf(err + n, errlen - n, ": path=%s", path);
    return rc;
  }
  *out = s;
  return 0;
}

size_t spantap_store_memory_bound(void) {
  /* a group's rows and, at most, its values (the widest row) and text */
  size_t group = sizeof(struct spantap_row_group) +
                 SPANTAP_GROUP_ROWS * 27 * sizeof(struct spantap_value) +
                 2 * SPANTAP_GROUP_TEXT_BYTES;
  return (WRITER_DEPTH + 2) * group;
}

struct spantap_store_backlog spantap_store_backlog(struct spantap_store *s) {
  struct spantap_store_backlog b = {.spill_errno = s->spill_errno};
  if (s->writer) {
    struct spantap_group_spill_stats st = spantap_group_writer_spill_stats(s->writer);
    b.groups_spilled = st.items;
    b.bytes_max = st.bytes_max;
    if (st.save_errno)
      b.spill_errno = st.save_errno;
  }
  return b;
}

/* The failure noted, into ERR. Returns -EIO. */
static int failed(struct spantap_store *s, char *err, size_t errlen) {
  snprintf(err, errlen, "%s", s->errmsg);
  return -EIO;
}

int spantap_store_commit(struct spantap_store *s, char *err, size_t errlen) {
  if (s->failed || !s->cur)
    return failed(s, err, errlen);
  struct spantap_row_group *g = s->cur; /* rows[] has room for this one past SPANTAP_GROUP_ROWS */
  g->rows[g->nrows++] = (struct spantap_row){.stmt = ROW_COMMIT, .first = (uint32_t)g->nvals};
  if (submit(s) < 0)
    return failed(s, err, errlen);
  return 0;
}

int spantap_store_sync(struct spantap_store *s, char *err, size_t errlen) {
  if (s->failed)
    return failed(s, err, errlen);
  if (s->cur->nrows && submit(s) < 0)
    return failed(s, err, errlen);
  char msg[512];
  if (spantap_group_writer_wait(s->writer, msg, sizeof msg) < 0) {
    fail(s, msg);
    return failed(s, err, errlen);
  }
  return 0;
}

int spantap_store_close(struct spantap_store *s, char *err, size_t errlen) {
  int rc = 0;
  if (!s->failed && s->cur->nrows)
    submit(s);
  char msg[512];
  if (spantap_group_writer_stop(s->writer, msg, sizeof msg) < 0)
    fail(s, msg);
  s->writer = NULL;
  if (s->spill_fd >= 0)
    close(s->spill_fd);
  s->spill_fd = -1;
  if (s->failed)
    rc = failed(s, err, errlen);
  if (rc == 0 && s->in_txn) {
    rc = exec_sql(s, "COMMIT", "commit last batch", err, errlen);
    s->in_txn = false;
  }
  /* index builds sort the whole table: on disk, so memory does not grow with it */
  if (rc == 0)
    rc = exec_sql(s, "PRAGMA temp_store=FILE", "configure index build", err, errlen);
  if (rc == 0)
    rc = exec_sql(s, index_sql, "build indexes", err, errlen);
  if (rc == 0)
    rc = exec_sql(s, "PRAGMA wal_checkpoint(TRUNCATE)", "checkpoint", err, errlen);
  for (int i = 0; i < ST__COUNT; i++) {
    sqlite3_finalize(s->st[i]);
    sqlite3_finalize(s->multi[i]);
    s->st[i] = s->multi[i] = NULL;
  }
  if (sqlite3_close(s->db) != SQLITE_OK && rc == 0) {
    snprintf(err, errlen, "Failed to close database: error=%s", sqlite3_errmsg(s->db));
    rc = -EIO;
  }
  s->db = NULL;
  group_free(s->cur);
  free(s);
  return rc;
}

int spantap_store_meta(struct spantap_store *s, const char *key, const char *text, int64_t num) {
  struct spantap_value *v = row_begin(s, ST_META);
  if (!v)
    return -EIO;
  put_text(s, &v[0], key);
  put_text(s, &v[1], text);
  put_int(&v[2], num);
  return row_end(s);
}
int spantap_store_meta_rows(struct spantap_store *s, const struct spantap_meta_row *rows, size_t n,
                            char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++)
    if (rows[i].key && spantap_store_meta(s, rows[i].key, rows[i].text, rows[i].num) < 0) {
      snprintf(err, errlen, "Failed to store the recording's metadata: key=%s: %s", rows[i].key,
               spantap_store_errmsg(s));
      return -EIO;
    }
  return 0;
}

int spantap_store_process(struct spantap_store *s, int64_t pid, int64_t ppid, const char *exe,
                          int64_t start_ns, int64_t exec_ns, int64_t exit_ns, int64_t exit_status,
                          bool attached) {
  struct spantap_value *v = row_begin(s, ST_PROCESS);
  if (!v)
    return -EIO;
  put_int(&v[0], pid);
  put_id(&v[1], ppid);
  put_text(s, &v[2], exe);
  put_id(&v[3], start_ns);
  put_id(&v[4], exec_ns);
  put_id(&v[5], exit_ns);
  put_int(&v[6], exit_status);
  if (exit_status < 0)
    put_null(&v[6]);
  put_int(&v[7], attached);
  return row_end(s);
}

int spantap_store_thread(struct spantap_store *s, int64_t tid, int64_t pid, int64_t start_ns,
                         int64_t exit_ns) {
  struct spantap_value *v = row_begin(s, ST_THREAD);
  if (!v)
    return -EIO;
  put_int(&v[0], tid);
  put_int(&v[1], pid);
  put_id(&v[2], start_ns);
  put_id(&v[3], exit_ns);
  return row_end(s);
}

int spantap_store_process_event(struct spantap_store *s, int64_t ts, const char *kind, int64_t pid,
                                int64_t tid, int64_t other_pid, int64_t other_tid, const char *path,
                                int64_t status) {
  struct spantap_value *v = row_begin(s, ST_PROC_EVENT);
  if (!v)
    return -EIO;
  put_int(&v[0], ts);
  put_text(s, &v[1], kind);
  put_int(&v[2], pid);
  put_int(&v[3], tid);
  put_id(&v[4], other_pid);
  put_id(&v[5], other_tid);
  put_text(s, &v[6], path);
  put_int(&v[7], status);
  if (status < 0)
    put_null(&v[7]);
  return row_end(s);
}

int spantap_store_mapping(struct spantap_store *s, int64_t pid, uint64_t start, uint64_t end,
                          uint64_t pgoff, const char *perms, int64_t module_id) {
  struct spantap_value *v = row_begin(s, ST_MAPPING);
  if (!v)
    return -EIO;
  put_int(&v[0], pid);
  put_int(&v[1], (int64_t)start);
  put_int(&v[2], (int64_t)end);
  put_int(&v[3], (int64_t)pgoff);
  put_text(s, &v[4], perms);
  put_id(&v[5], module_id);
  return row_end(s);
}

int spantap_store_module(struct spantap_store *s, int64_t id, const char *path,
                         const char *build_id) {
  struct spantap_value *v = row_begin(s, ST_MODULE);
  if (!v)
    return -EIO;
  put_int(&v[0], id);
  put_text(s, &v[1], path);
  put_text(s, &v[2], build_id && *build_id ? build_id : NULL);
  return row_end(s);
}

int spantap_store_frame(struct spantap_store *s, int64_t id, int64_t module_id, uint64_t rel_addr,
                        const char *function, uint64_t offset, const char *file, int line) {
  struct spantap_value *v = row_begin(s, ST_FRAME);
  if (!v)
    return -EIO;
  put_int(&v[0], id);
  put_id(&v[1], module_id);
  put_int(&v[2], (int64_t)rel_addr);
  put_text(s, &v[3], function && *function ? function : NULL);
  put_int(&v[4], (int64_t)offset);
  if (!function || !*function)
    put_null(&v[4]);
  put_text(s, &v[5], file && *file ? file : NULL);
  put_int(&v[6], line);
  if (line <= 0)
    put_null(&v[6]);
  return row_end(s);
}

int spantap_store_stack(struct spantap_store *s, int64_t id, const int64_t *frame_ids,
                        unsigned nframes, unsigned flags, int64_t app_frame_id) {
  struct spantap_value *v = row_begin(s, ST_STACK);
  if (!v)
    return -EIO;
  put_int(&v[0], id);
  put_int(&v[1], (int)nframes);
  put_int(&v[2], (int)flags);
  put_id(&v[3], app_frame_id);
  if (row_end(s) < 0)
    return -EIO;
  for (unsigned i = 0; i < nframes; i++) {
    struct spantap_value *f = row_begin(s, ST_STACK_FRAME);
    if (!f)
      return -EIO;
    put_int(&f[0], id);
    put_int(&f[1], (int)i);
    put_int(&f[2], frame_ids[i]);
    if (row_end(s) < 0)
      return -EIO;
  }
  return 0;
}

int spantap_store_connection(struct spantap_store *s, int64_t id, int family, int proto,
                             const char *laddr, int lport, const char *raddr, int rport,
                             uint64_t sock) {
  struct spantap_value *v = row_begin(s, ST_CONN);
  if (!v)
    return -EIO;
  put_int(&v[0], id);
  put_int(&v[1], family);
  put_int(&v[2], proto);
  put_text(s, &v[3], laddr);
  put_int(&v[4], lport);
  put_text(s, &v[5], raddr);
  put_int(&v[6], rport);
  put_int(&v[7], (int64_t)sock);
  return row_end(s);
}

int spantap_store_syscall(struct spantap_store *s, int64_t ts, int64_t dur, int64_t pid,
                          int64_t tid, int64_t nr, const char *name, const char *class_name,
                          const int64_t args[3], int64_t ret, int64_t stack_id, int64_t conn_id,
                          int64_t span_id) {
  struct spantap_value *v = row_begin(s, ST_SYSCALL);
  if (!v)
    return -EIO;
  put_int(&v[0], ts);
  put_int(&v[1], dur);
  put_int(&v[2], pid);
  put_int(&v[3], tid);
  put_int(&v[4], nr);
  /* copied: the writer thread binds them later */
  put_text(s, &v[5], name);
  put_text(s, &v[6], class_name);
  for (int i = 0; i < 3; i++)
    put_int(&v[7 + i], args[i]);
  put_int(&v[10], ret);
  put_id(&v[11], stack_id);
  put_id(&v[12], conn_id);
  put_id(&v[13], span_id);
  return row_end(s);
}

int spantap_store_tcp_state(struct spantap_store *s, int64_t ts, int64_t pid, int64_t tid,
                            int64_t conn_id, int old_state, int new_state, int64_t stack_id) {
  struct spantap_value *v = row_begin(s, ST_TCP);
  if (!v)
    return -EIO;
  put_int(&v[0], ts);
  put_int(&v[1], pid);
  put_int(&v[2], tid);
  put_id(&v[3], conn_id);
  put_text(s, &v[4], spantap_tcp_state_name(old_state));
  put_text(s, &v[5], spantap_tcp_state_name(new_state));
  put_id(&v[6], stack_id);
  return row_end(s);
}

int spantap_store_offcpu(struct spantap_store *s, int64_t ts, int64_t dur, int64_t pid, int64_t tid,
                         int64_t state, int64_t span_id) {
  struct spantap_value *v = row_begin(s, ST_OFFCPU);
  if (!v)
    return -EIO;
  put_int(&v[0], ts);
  put_int(&v[1], dur);
  put_int(&v[2], pid);
  put_int(&v[3], tid);
  put_int(&v[4], state);
  put_id(&v[5], span_id);
  return row_end(s);
}

int spantap_store_page_fault(struct spantap_store *s, int64_t ts, int64_t pid, int64_t tid,
                             uint64_t address, int64_t error_code, int64_t stack_id,
                             int64_t span_id) {
  struct spantap_value *v = row_begin(s, ST_FAULT);
  if (!v)
    return -EIO;
  put_int(&v[0], ts);
  put_int(&v[1], pid);
  put_int(&v[2], tid);
  put_int(&v[3], (int64_t)address);
  put_int(&v[4], error_code);
  put_id(&v[5], stack_id);
  put_id(&v[6], span_id);
  return row_end(s);
}

int spantap_store_span(struct spantap_store *s, const struct spantap_span_row *r) {
  struct spantap_value *v = row_begin(s, ST_SPAN);
  if (!v)
    return -EIO;
  const int64_t nums[] = {r->bytes_in,  r->bytes_out, r->syscalls,   r->net_ns,
                          r->file_ns,   r->mem_ns,    r->proc_ns,    r->other_ns,
                          r->offcpu_ns, r->switches,  r->page_faults};
  put_int(&v[0], r->id);
  put_int(&v[1], r->trace_id);
  put_id(&v[2], r->parent_id);
  put_text(s, &v[3], r->kind);
  put_int(&v[4], r->pid);
  put_int(&v[5], r->tid);
  put_text(s, &v[6], r->service);
  put_id(&v[7], r->conn_id);
  put_int(&v[8], r->start_ns);
  put_int(&v[9], r->end_ns);
  put_int(&v[10], r->end_ns - r->start_ns);
  put_text(s, &v[11], r->status);
  put_int(&v[12], r->depth);
  put_int(&v[13], r->critical);
  for (int i = 0; i < (int)(sizeof nums / sizeof nums[0]); i++)
    put_int(&v[14 + i], nums[i]);
  put_id(&v[25], r->start_stack_id);
  put_id(&v[26], r->end_stack_id);
  return row_end(s);
}

int spantap_store_span_edge(struct spantap_store *s, int64_t parent_id, int64_t child_id,
                            const char *kind) {
  struct spantap_value *v = row_begin(s, ST_SPAN_EDGE);
  if (!v)
    return -EIO;
  put_int(&v[0], parent_id);
  put_int(&v[1], child_id);
  put_text(s, &v[2], kind);
  return row_end(s);
}

int spantap_store_trace(struct spantap_store *s, const struct spantap_trace_row *r) {
  struct spantap_value *v = row_begin(s, ST_TRACE);
  if (!v)
    return -EIO;
  put_int(&v[0], r->id);
  put_id(&v[1], r->root_span_id);
  put_int(&v[2], r->start_ns);
  put_int(&v[3], r->end_ns);
  put_int(&v[4], r->end_ns - r->start_ns);
  put_int(&v[5], r->spans);
  put_int(&v[6], r->depth);
  put_text(s, &v[7], r->services);
  put_text(s, &v[8], r->critical_path);
  put_int(&v[9], r->complete);
  return row_end(s);
}
