/* SQLite store of a recording. Rows are written through statements prepared
 * once (bind, step, reset) inside one transaction per batch; indexes are built
 * when the recording closes, after the bulk of the rows is in. */
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

struct spantap_store {
  sqlite3 *db;
  sqlite3_stmt *st[ST__COUNT];
  bool in_txn;
};

const char *spantap_store_errmsg(const struct spantap_store *s) {
  return s && s->db ? sqlite3_errmsg(s->db) : "no database";
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

void spantap_store_destroy(struct spantap_store *s) {
  if (!s)
    return;
  for (int i = 0; i < ST__COUNT; i++)
    sqlite3_finalize(s->st[i]);
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
  if (!s) {
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
  int rc = exec_sql(s,
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                    " PRAGMA foreign_keys=OFF; PRAGMA temp_store=MEMORY;",
                    "configure database", err, errlen);
  if (rc == 0)
    rc = exec_sql(s, schema_sql, "create schema", err, errlen);
  for (int i = 0; rc == 0 && i < ST__COUNT; i++) {
    if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
        SQLITE_OK) {
      snprintf(err, errlen, "Failed to prepare statement: sql=%s error=%s", stmt_sql[i],
               sqlite3_errmsg(s->db));
      rc = -EIO;
    }
  }
  if (rc == 0)
    rc = exec_sql(s, "BEGIN", "begin transaction", err, errlen);
  if (rc < 0) {
    spantap_store_destroy(s);
    unlink(path);
    return rc;
  }
  s->in_txn = true;
  *out = s;
  return 0;
}

int spantap_store_commit(struct spantap_store *s, char *err, size_t errlen) {
  if (s->in_txn) {
    int rc = exec_sql(s, "COMMIT", "commit batch", err, errlen);
    s->in_txn = false;
    if (rc < 0) {
      exec_sql(s, "ROLLBACK", "roll back batch", err + strlen(err), 0);
      return rc;
    }
  }
  int rc = exec_sql(s, "BEGIN", "begin transaction", err, errlen);
  if (rc == 0)
    s->in_txn = true;
  return rc;
}

int spantap_store_close(struct spantap_store *s, char *err, size_t errlen) {
  int rc = 0;
  if (s->in_txn) {
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
    s->st[i] = NULL;
  }
  if (sqlite3_close(s->db) != SQLITE_OK && rc == 0) {
    snprintf(err, errlen, "Failed to close database: error=%s", sqlite3_errmsg(s->db));
    rc = -EIO;
  }
  s->db = NULL;
  free(s);
  return rc;
}

/* Binding helpers: a NULL text binds SQL NULL; an id below 1 binds NULL. */
static void bind_text(sqlite3_stmt *st, int i, const char *t) {
  if (t)
    sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}
static void bind_id(sqlite3_stmt *st, int i, int64_t id) {
  if (id > 0)
    sqlite3_bind_int64(st, i, id);
  else
    sqlite3_bind_null(st, i);
}

static int step(struct spantap_store *s, enum stmt_id id) {
  sqlite3_stmt *st = s->st[id];
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? 0 : -EIO;
}

int spantap_store_meta(struct spantap_store *s, const char *key, const char *text, int64_t num) {
  sqlite3_stmt *st = s->st[ST_META];
  bind_text(st, 1, key);
  bind_text(st, 2, text);
  sqlite3_bind_int64(st, 3, num);
  return step(s, ST_META);
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
  sqlite3_stmt *st = s->st[ST_PROCESS];
  sqlite3_bind_int64(st, 1, pid);
  bind_id(st, 2, ppid);
  bind_text(st, 3, exe);
  bind_id(st, 4, start_ns);
  bind_id(st, 5, exec_ns);
  bind_id(st, 6, exit_ns);
  if (exit_status >= 0)
    sqlite3_bind_int64(st, 7, exit_status);
  sqlite3_bind_int(st, 8, attached);
  return step(s, ST_PROCESS);
}

int spantap_store_thread(struct spantap_store *s, int64_t tid, int64_t pid, int64_t start_ns,
                         int64_t exit_ns) {
  sqlite3_stmt *st = s->st[ST_THREAD];
  sqlite3_bind_int64(st, 1, tid);
  sqlite3_bind_int64(st, 2, pid);
  bind_id(st, 3, start_ns);
  bind_id(st, 4, exit_ns);
  return step(s, ST_THREAD);
}

int spantap_store_process_event(struct spantap_store *s, int64_t ts, const char *kind, int64_t pid,
                                int64_t tid, int64_t other_pid, int64_t other_tid, const char *path,
                                int64_t status) {
  sqlite3_stmt *st = s->st[ST_PROC_EVENT];
  sqlite3_bind_int64(st, 1, ts);
  bind_text(st, 2, kind);
  sqlite3_bind_int64(st, 3, pid);
  sqlite3_bind_int64(st, 4, tid);
  bind_id(st, 5, other_pid);
  bind_id(st, 6, other_tid);
  bind_text(st, 7, path);
  if (status >= 0)
    sqlite3_bind_int64(st, 8, status);
  return step(s, ST_PROC_EVENT);
}

int spantap_store_mapping(struct spantap_store *s, int64_t pid, uint64_t start, uint64_t end,
                          uint64_t pgoff, const char *perms, int64_t module_id) {
  sqlite3_stmt *st = s->st[ST_MAPPING];
  sqlite3_bind_int64(st, 1, pid);
  sqlite3_bind_int64(st, 2, (int64_t)start);
  sqlite3_bind_int64(st, 3, (int64_t)end);
  sqlite3_bind_int64(st, 4, (int64_t)pgoff);
  bind_text(st, 5, perms);
  bind_id(st, 6, module_id);
  return step(s, ST_MAPPING);
}

int spantap_store_module(struct spantap_store *s, int64_t id, const char *path,
                         const char *build_id) {
  sqlite3_stmt *st = s->st[ST_MODULE];
  sqlite3_bind_int64(st, 1, id);
  bind_text(st, 2, path);
  bind_text(st, 3, build_id && *build_id ? build_id : NULL);
  return step(s, ST_MODULE);
}

int spantap_store_frame(struct spantap_store *s, int64_t id, int64_t module_id, uint64_t rel_addr,
                        const char *function, uint64_t offset, const char *file, int line) {
  sqlite3_stmt *st = s->st[ST_FRAME];
  sqlite3_bind_int64(st, 1, id);
  bind_id(st, 2, module_id);
  sqlite3_bind_int64(st, 3, (int64_t)rel_addr);
  bind_text(st, 4, function && *function ? function : NULL);
  if (function && *function)
    sqlite3_bind_int64(st, 5, (int64_t)offset);
  bind_text(st, 6, file && *file ? file : NULL);
  if (line > 0)
    sqlite3_bind_int(st, 7, line);
  return step(s, ST_FRAME);
}

int spantap_store_stack(struct spantap_store *s, int64_t id, const int64_t *frame_ids,
                        unsigned nframes, unsigned flags, int64_t app_frame_id) {
  sqlite3_stmt *st = s->st[ST_STACK];
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int(st, 2, (int)nframes);
  sqlite3_bind_int(st, 3, (int)flags);
  bind_id(st, 4, app_frame_id);
  if (step(s, ST_STACK) < 0)
    return -EIO;
  for (unsigned i = 0; i < nframes; i++) {
    sqlite3_stmt *sf = s->st[ST_STACK_FRAME];
    sqlite3_bind_int64(sf, 1, id);
    sqlite3_bind_int(sf, 2, (int)i);
    sqlite3_bind_int64(sf, 3, frame_ids[i]);
    if (step(s, ST_STACK_FRAME) < 0)
      return -EIO;
  }
  return 0;
}

int spantap_store_connection(struct spantap_store *s, int64_t id, int family, int proto,
                             const char *laddr, int lport, const char *raddr, int rport,
                             uint64_t sock) {
  sqlite3_stmt *st = s->st[ST_CONN];
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int(st, 2, family);
  sqlite3_bind_int(st, 3, proto);
  bind_text(st, 4, laddr);
  sqlite3_bind_int(st, 5, lport);
  bind_text(st, 6, raddr);
  sqlite3_bind_int(st, 7, rport);
  sqlite3_bind_int64(st, 8, (int64_t)sock);
  return step(s, ST_CONN);
}

int spantap_store_syscall(struct spantap_store *s, int64_t ts, int64_t dur, int64_t pid,
                          int64_t tid, int64_t nr, const char *name, const char *class_name,
                          const int64_t args[3], int64_t ret, int64_t stack_id, int64_t conn_id,
                          int64_t span_id) {
  sqlite3_stmt *st = s->st[ST_SYSCALL];
  sqlite3_bind_int64(st, 1, ts);
  sqlite3_bind_int64(st, 2, dur);
  sqlite3_bind_int64(st, 3, pid);
  sqlite3_bind_int64(st, 4, tid);
  sqlite3_bind_int64(st, 5, nr);
  /* static strings, or the caller's buffer that outlives this step */
  sqlite3_bind_text(st, 6, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, class_name, -1, SQLITE_STATIC);
  for (int i = 0; i < 3; i++)
    sqlite3_bind_int64(st, 8 + i, args[i]);
  sqlite3_bind_int64(st, 11, ret);
  bind_id(st, 12, stack_id);
  bind_id(st, 13, conn_id);
  bind_id(st, 14, span_id);
  return step(s, ST_SYSCALL);
}

int spantap_store_tcp_state(struct spantap_store *s, int64_t ts, int64_t pid, int64_t tid,
                            int64_t conn_id, int old_state, int new_state, int64_t stack_id) {
  sqlite3_stmt *st = s->st[ST_TCP];
  sqlite3_bind_int64(st, 1, ts);
  sqlite3_bind_int64(st, 2, pid);
  sqlite3_bind_int64(st, 3, tid);
  bind_id(st, 4, conn_id);
  bind_text(st, 5, spantap_tcp_state_name(old_state));
  bind_text(st, 6, spantap_tcp_state_name(new_state));
  bind_id(st, 7, stack_id);
  return step(s, ST_TCP);
}

int spantap_store_offcpu(struct spantap_store *s, int64_t ts, int64_t dur, int64_t pid, int64_t tid,
                         int64_t state, int64_t span_id) {
  sqlite3_stmt *st = s->st[ST_OFFCPU];
  sqlite3_bind_int64(st, 1, ts);
  sqlite3_bind_int64(st, 2, dur);
  sqlite3_bind_int64(st, 3, pid);
  sqlite3_bind_int64(st, 4, tid);
  sqlite3_bind_int64(st, 5, state);
  bind_id(st, 6, span_id);
  return step(s, ST_OFFCPU);
}

int spantap_store_page_fault(struct spantap_store *s, int64_t ts, int64_t pid, int64_t tid,
                             uint64_t address, int64_t error_code, int64_t stack_id,
                             int64_t span_id) {
  sqlite3_stmt *st = s->st[ST_FAULT];
  sqlite3_bind_int64(st, 1, ts);
  sqlite3_bind_int64(st, 2, pid);
  sqlite3_bind_int64(st, 3, tid);
  sqlite3_bind_int64(st, 4, (int64_t)address);
  sqlite3_bind_int64(st, 5, error_code);
  bind_id(st, 6, stack_id);
  bind_id(st, 7, span_id);
  return step(s, ST_FAULT);
}

int spantap_store_span(struct spantap_store *s, const struct spantap_span_row *r) {
  sqlite3_stmt *st = s->st[ST_SPAN];
  const int64_t nums[] = {r->bytes_in,  r->bytes_out, r->syscalls,   r->net_ns,
                          r->file_ns,   r->mem_ns,    r->proc_ns,    r->other_ns,
                          r->offcpu_ns, r->switches,  r->page_faults};
  sqlite3_bind_int64(st, 1, r->id);
  sqlite3_bind_int64(st, 2, r->trace_id);
  bind_id(st, 3, r->parent_id);
  bind_text(st, 4, r->kind);
  sqlite3_bind_int64(st, 5, r->pid);
  sqlite3_bind_int64(st, 6, r->tid);
  bind_text(st, 7, r->service);
  bind_id(st, 8, r->conn_id);
  sqlite3_bind_int64(st, 9, r->start_ns);
  sqlite3_bind_int64(st, 10, r->end_ns);
  sqlite3_bind_int64(st, 11, r->end_ns - r->start_ns);
  bind_text(st, 12, r->status);
  sqlite3_bind_int(st, 13, r->depth);
  sqlite3_bind_int(st, 14, r->critical);
  for (int i = 0; i < (int)(sizeof nums / sizeof nums[0]); i++)
    sqlite3_bind_int64(st, 15 + i, nums[i]);
  bind_id(st, 26, r->start_stack_id);
  bind_id(st, 27, r->end_stack_id);
  return step(s, ST_SPAN);
}

int spantap_store_span_edge(struct spantap_store *s, int64_t parent_id, int64_t child_id,
                            const char *kind) {
  sqlite3_stmt *st = s->st[ST_SPAN_EDGE];
  sqlite3_bind_int64(st, 1, parent_id);
  sqlite3_bind_int64(st, 2, child_id);
  bind_text(st, 3, kind);
  return step(s, ST_SPAN_EDGE);
}

int spantap_store_trace(struct spantap_store *s, const struct spantap_trace_row *r) {
  sqlite3_stmt *st = s->st[ST_TRACE];
  sqlite3_bind_int64(st, 1, r->id);
  bind_id(st, 2, r->root_span_id);
  sqlite3_bind_int64(st, 3, r->start_ns);
  sqlite3_bind_int64(st, 4, r->end_ns);
  sqlite3_bind_int64(st, 5, r->end_ns - r->start_ns);
  sqlite3_bind_int64(st, 6, r->spans);
  sqlite3_bind_int(st, 7, r->depth);
  bind_text(st, 8, r->services);
  bind_text(st, 9, r->critical_path);
  sqlite3_bind_int(st, 10, r->complete);
  return step(s, ST_TRACE);
}
