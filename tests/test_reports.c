/* Tests of the report commands (query, traces, tree, stacks) and of the table
 * printer, over a recording written with the store: trace 2 is a slow request
 * (front server -> front client -> middle server, plus a quick call to a cache),
 * trace 1 a fast incomplete one. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "reports/query.h"
#include "reports/recording.h"
#include "reports/stacks.h"
#include "reports/summary.h"
#include "reports/traces.h"
#include "reports/tree.h"
#include "reports/table_print.h"
#include "collector/store.h"

static char dir[64], db[128], empty_db[128], foreign_db[128], garbage[128], missing[128],
    broken_db[128];

#define T0 1000000000LL
#define MS 1000000LL

/* ---- the fixture recording ---- */

static void write_syscalls(struct spantap_store *s, const char *name, int n, int64_t dur,
                           int64_t stack_id, int64_t span_id, int64_t *ts) {
  static const int64_t args[3] = {3, 0, 4096};
  for (int i = 0; i < n; i++, *ts += MS / 100)
    assert_int_equal(
        spantap_store_syscall(s, *ts, dur, 100, 101, 0, name, "net", args, 0, stack_id, 0, span_id),
        0);
}

static void build_recording(void) {
  struct spantap_store *s;
  char err[512];
  assert_int_equal(spantap_store_open(db, false, &s, err, sizeof err), 0);
  assert_int_equal(spantap_store_meta(s, "events", "default", 0), 0);
  assert_int_equal(spantap_store_connection(s, 1, 2, 6, "127.0.0.1", 8080, "127.0.0.1", 40000, 1),
                   0);
  assert_int_equal(spantap_store_connection(s, 2, 2, 6, "127.0.0.1", 40001, "127.0.0.1", 9090, 2),
                   0);
  assert_int_equal(spantap_store_connection(s, 3, 2, 6, "127.0.0.1", 9090, "127.0.0.1", 40001, 3),
                   0);
  assert_int_equal(spantap_store_connection(s, 4, 2, 6, "127.0.0.1", 40002, "127.0.0.1", 6379, 4),
                   0);
  assert_int_equal(spantap_store_connection(s, 5, 10, 6, "::1", 8080, "::1", 50000, 5), 0);
  assert_int_equal(spantap_store_module(s, 1, "/usr/bin/front", "ab12"), 0);
  assert_int_equal(spantap_store_module(s, 2, "/usr/bin/middle", NULL), 0);
  assert_int_equal(spantap_store_frame(s, 1, 1, 0x1000, "handle_request", 0x10, "/src/front.c", 42),
                   0);
  assert_int_equal(spantap_store_frame(s, 2, 1, 0x2000, "send_reply", 0x8, "/src/front.c", 88), 0);
  assert_int_equal(spantap_store_frame(s, 3, 2, 0x3000, "load_config", 0x4, NULL, 0), 0);
  assert_int_equal(spantap_store_frame(s, 4, 1, 0x4000, "event_loop", 0x2, "/src/front.c", 7), 0);
  const int64_t st1[] = {1}, st2[] = {2, 1}, st3[] = {3}, st4[] = {4};
  assert_int_equal(spantap_store_stack(s, 1, st1, 1, 0, 1), 0);
  assert_int_equal(spantap_store_stack(s, 2, st2, 2, 0, 2), 0);
  assert_int_equal(spantap_store_stack(s, 3, st3, 1, 0, 3), 0);
  assert_int_equal(spantap_store_stack(s, 4, st4, 1, 0, 4), 0);

  /* trace 2, the slow one: 1 front server > 4 cache client (first, off the
   * critical path), 2 middle client > 3 middle server (also reached from 4) */
  struct spantap_span_row sp[] = {
      {.id = 1,
       .trace_id = 2,
       .kind = "server",
       .pid = 100,
       .tid = 101,
       .service = "front",
       .conn_id = 1,
       .start_ns = T0,
       .end_ns = T0 + 10 * MS,
       .status = "ok",
       .depth = 0,
       .critical = 1,
       .bytes_in = 120,
       .bytes_out = 4096,
       .syscalls = 5,
       .net_ns = 2 * MS,
       .file_ns = MS,
       .mem_ns = MS / 4,
       .offcpu_ns = 4 * MS,
       .switches = 3,
       .page_faults = 7,
       .start_stack_id = 1,
       .end_stack_id = 2},
      {.id = 2,
       .trace_id = 2,
       .parent_id = 1,
       .kind = "client",
       .pid = 100,
       .tid = 101,
       .service = "front",
       .conn_id = 2,
       .start_ns = T0 + MS,
       .end_ns = T0 + 9 * MS,
       .status = "ok",
       .depth = 1,
       .critical = 1},
      {.id = 3,
       .trace_id = 2,
       .parent_id = 2,
       .kind = "server",
       .pid = 200,
       .tid = 201,
       .service = "middle",
       .conn_id = 3,
       .start_ns = T0 + 3 * MS / 2,
       .end_ns = T0 + 17 * MS / 2,
       .status = "ok",
       .depth = 2,
       .critical = 1,
       .syscalls = 2,
       .start_stack_id = 3,
       .end_stack_id = 3},
      {.id = 4,
       .trace_id = 2,
       .parent_id = 1,
       .kind = "client",
       .pid = 100,
       .tid = 102,
       .service = "front",
       .conn_id = 4,
       .start_ns = T0 + MS / 2,
       .end_ns = T0 + 9 * MS / 10,
       .status = "ok",
       .depth = 1,
       .critical = 0},
      /* trace 1, fast and unfinished */
      {.id = 5,
       .trace_id = 1,
       .kind = "server",
       .pid = 100,
       .tid = 105,
       .service = "front",
       .conn_id = 5,
       .start_ns = T0 + 20 * MS,
       .end_ns = T0 + 22 * MS,
       .status = "unfinished",
       .depth = 0,
       .critical = 1},
  };
  for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++)
    assert_int_equal(spantap_store_span(s, &sp[i]), 0);
  assert_int_equal(spantap_store_span_edge(s, 1, 2, "call"), 0);
  assert_int_equal(spantap_store_span_edge(s, 2, 3, "rpc"), 0);
  assert_int_equal(spantap_store_span_edge(s, 1, 4, "call"), 0);
  assert_int_equal(spantap_store_span_edge(s, 4, 3, "rpc"), 0);
  struct spantap_trace_row tr[] = {
      {.id = 1,
       .root_span_id = 5,
       .start_ns = T0 + 20 * MS,
       .end_ns = T0 + 22 * MS,
       .spans = 1,
       .depth = 1,
       .services = "front",
       .critical_path = "front",
       .complete = 0},
      {.id = 2,
       .root_span_id = 1,
       .start_ns = T0,
       .end_ns = T0 + 10 * MS,
       .spans = 4,
       .depth = 3,
       .services = "front, middle",
       .critical_path = "front > middle",
       .complete = 1},
  };
  for (size_t i = 0; i < 2; i++)
    assert_int_equal(spantap_store_trace(s, &tr[i]), 0);

  int64_t ts = T0;
  write_syscalls(s, "read", 3, MS, 1, 1, &ts);      /* handle_request: 3 ms */
  write_syscalls(s, "write", 1, MS / 2, 2, 1, &ts); /* send_reply: 0.7 ms */
  write_syscalls(s, "read", 1, MS / 5, 2, 1, &ts);
  write_syscalls(s, "write", 2, 5 * MS, 3, 3, &ts);       /* load_config: 10 ms */
  write_syscalls(s, "epoll_wait", 1, MS / 20, 4, 0, &ts); /* event_loop: 0.13 ms, 4 names */
  write_syscalls(s, "futex", 1, MS / 25, 4, 0, &ts);
  write_syscalls(s, "nanosleep", 1, 3 * MS / 100, 4, 0, &ts);
  write_syscalls(s, "getpid", 1, MS / 100, 4, 0, &ts);
  write_syscalls(s, "close", 1, MS / 10, 0, 0, &ts); /* no stack: 0.1 ms */
  assert_int_equal(spantap_store_close(s, err, sizeof err), 0);

  /* a recording without spans, made without net events */
  assert_int_equal(spantap_store_open(empty_db, false, &s, err, sizeof err), 0);
  assert_int_equal(spantap_store_meta(s, "events", "proc,file", 0), 0);
  assert_int_equal(spantap_store_close(s, err, sizeof err), 0);

  /* a recording that lost a table the summary reads */
  assert_int_equal(spantap_store_open(broken_db, false, &s, err, sizeof err), 0);
  assert_int_equal(spantap_store_close(s, err, sizeof err), 0);
  sqlite3 *broken;
  assert_int_equal(sqlite3_open(broken_db, &broken), SQLITE_OK);
  assert_int_equal(sqlite3_exec(broken, "DROP TABLE page_faults", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(broken);

  /* an SQLite database that is not a recording, and a file that is not SQLite */
  sqlite3 *other;
  assert_int_equal(sqlite3_open(foreign_db, &other), SQLITE_OK);
  assert_int_equal(sqlite3_exec(other, "CREATE TABLE x (a)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(other);
  FILE *f = fopen(garbage, "w");
  assert_non_null(f);
  fputs("this is not a database, not even close to one; just some text\n", f);
  fclose(f);
}

static int setup(void **state) {
  (void)state;
  /* no '-' before the random part: test_summary asserts that no "-1" (an
   * unknown count) is printed, and the summary prints this path */
  snprintf(dir, sizeof dir, "/tmp/spantap-test-reports.XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(db, sizeof db, "%s/run.db", dir);
  snprintf(empty_db, sizeof empty_db, "%s/empty.db", dir);
  snprintf(foreign_db, sizeof foreign_db, "%s/foreign.db", dir);
  snprintf(garbage, sizeof garbage, "%s/garbage.db", dir);
  snprintf(missing, sizeof missing, "%s/missing.db", dir);
  snprintf(broken_db, sizeof broken_db, "%s/broken.db", dir);
  build_recording();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  const char *files[] = {db, empty_db, foreign_db, garbage, missing, broken_db};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    spantap_store_remove(files[i]);
  rmdir(dir);
  return 0;
}

/* ---- capturing output ---- */

struct capture {
  char *text;
  size_t len;
  FILE *f;
  char err[1024];
};

static void capture_begin(struct capture *c) {
  memset(c, 0, sizeof *c);
  c->f = open_memstream(&c->text, &c->len);
  assert_non_null(c->f);
}

static void capture_end(struct capture *c) {
  fclose(c->f);
  c->f = NULL;
}

static int run_query(struct capture *c, const char *path, const char *sql,
                     enum spantap_table_format format, unsigned width) {
  struct spantap_table_opts o = {
      .format = format, .max_width = width, .decimals = -1, .null_text = "NULL", .footer = true};
  capture_begin(c);
  int rc = spantap_report_query(path, sql, c->f, &o, c->err, sizeof c->err);
  capture_end(c);
  return rc;
}

static int run_traces(struct capture *c, const char *path, int64_t limit, const char *service,
                      enum spantap_table_format format) {
  struct spantap_traces_opts o = {.limit = limit, .service = service, .format = format};
  capture_begin(c);
  int rc = spantap_report_traces(path, c->f, &o, c->err, sizeof c->err);
  capture_end(c);
  return rc;
}

static int run_tree(struct capture *c, int64_t trace_id) {
  capture_begin(c);
  int rc = spantap_report_tree(db, trace_id, c->f, c->err, sizeof c->err);
  capture_end(c);
  return rc;
}

static int run_stacks(struct capture *c, int64_t limit, int64_t span_id) {
  struct spantap_stacks_opts o = {.limit = limit, .span_id = span_id, .format = SPANTAP_TABLE_TEXT};
  capture_begin(c);
  int rc = spantap_report_stacks(db, c->f, &o, c->err, sizeof c->err);
  capture_end(c);
  return rc;
}

/* Line N (0-based) of TEXT, copied into BUF (empty past the end). Returns BUF. */
static char *line_n(const char *text, int n, char *buf, size_t len) {
  for (; n > 0 && text; n--) {
    text = strchr(text, '\n');
    if (text)
      text++;
  }
  size_t l = text ? strcspn(text, "\n") : 0;
  snprintf(buf, len, "%.*s", (int)l, text ? text : "");
  return buf;
}

/* The index of the first line of TEXT that contains NEEDLE, or -1. */
static int line_of(const char *text, const char *needle) {
  const char *hit = strstr(text, needle);
  if (!hit)
    return -1;
  int n = 0;
  for (const char *p = text; p < hit; p++)
    n += *p == '\n';
  return n;
}

/* Splits LINE into its cells (runs of two or more spaces separate them); returns
 * how many, at most MAX, pointing into LINE (modified). */
static int cells_of(char *line, char **cells, int max) {
  int n = 0;
  char *p = line;
  while (*p == ' ')
    p++;
  while (*p && n < max) {
    cells[n++] = p;
    char *sep = strstr(p, "  ");
    if (!sep)
      break;
    *sep = '\0';
    p = sep + 2;
    while (*p == ' ')
      p++;
  }
  return n;
}

/* ---- query and the printer ---- */

static void test_query_text_alignment(void **state) {
  (void)state;
  struct capture c;
  assert_int_equal(run_query(&c, db,
                             "SELECT 'abc' AS name, 5 AS n, NULL AS z"
                             " UNION ALL SELECT 'a', 12345, 'x'",
                             SPANTAP_TABLE_TEXT, 48),
                   0);
  assert_string_equal(c.text, "name      n  z\n"
                              "----  -----  ----\n"
                              "abc       5  NULL\n"
                              "a     12345  x\n"
                              "(2 rows)\n");
  free(c.text);
}

static void test_query_ellipsis(void **state) {
  (void)state;
  struct capture c;
  assert_int_equal(
      run_query(&c, db, "SELECT 'abcdefghijklmnop' AS t, 'ok' AS u", SPANTAP_TABLE_TEXT, 10), 0);
  char line[200];
  assert_string_equal(line_n(c.text, 2, line, sizeof line), "abcdefghi\xe2\x80\xa6  ok");
  free(c.text);
}

static void test_query_csv_quoting(void **state) {
  (void)state;
  struct capture c;
  assert_int_equal(run_query(&c, db,
                             "SELECT 'a,b \"c\"' AS \"v,1\", NULL AS n, 42 AS x, 1.5 AS r,"
                             " 'two' || char(10) || 'lines' AS m",
                             SPANTAP_TABLE_CSV, 48),
                   0);
  assert_string_equal(c.text, "\"v,1\",n,x,r,m\r\n"
                              "\"a,b \"\"c\"\"\",,42,1.5,\"two\nlines\"\r\n");
  free(c.text);
}

static void test_query_json(void **state) {
  (void)state;
  struct capture c;
  assert_int_equal(run_query(&c, db,
                             "SELECT id AS span, service, 'q\"' || char(9) AS s, NULL AS z,"
                             " dur_ns / 1e6 AS ms FROM spans WHERE id IN (3, 5) ORDER BY id",
                             SPANTAP_TABLE_JSON, 48),
                   0);
  assert_string_equal(c.text,
                      "[\n"
                      "  {\"span\": 3, \"service\": \"middle\", \"s\": \"q\\\"\\t\", \"z\": null,"
                      " \"ms\": 7.0},\n"
                      "  {\"span\": 5, \"service\": \"front\", \"s\": \"q\\\"\\t\", \"z\": null,"
                      " \"ms\": 2.0}\n"
                      "]\n");
  free(c.text);
  assert_int_equal(run_query(&c, db, "SELECT 1 AS a WHERE 0", SPANTAP_TABLE_JSON, 48), 0);
  assert_string_equal(c.text, "[]\n");
  free(c.text);
}

static void test_query_several_statements(void **state) {
  (void)state;
  struct capture c;
  assert_int_equal(run_query(&c, db,
                             "SELECT count(*) AS spans FROM spans;\n"
                             "-- a comment between\n"
                             "SELECT kind FROM spans WHERE id = 2;  ",
                             SPANTAP_TABLE_TEXT, 48),
                   0);
  assert_string_equal(c.text, "spans\n-----\n    5\n(1 row)\n\nkind\n------\nclient\n(1 row)\n");
  free(c.text);
}

static void test_query_read_only(void **state) {
  (void)state;
  struct capture c;
  assert_int_equal(run_query(&c, db, "DELETE FROM spans", SPANTAP_TABLE_TEXT, 48), -EROFS);
  assert_non_null(strstr(c.err, "read-only"));
  assert_non_null(strstr(c.err, "DELETE FROM spans"));
  free(c.text);
  /* the statements before the write ran; the write did not */
  assert_int_equal(run_query(&c, db, "SELECT 7 AS seven; DROP TABLE spans; SELECT 8 AS eight",
                             SPANTAP_TABLE_TEXT, 48),
                   -EROFS);
  assert_non_null(strstr(c.err, "statement 2"));
  assert_non_null(strstr(c.text, "seven"));
  assert_null(strstr(c.text, "eight"));
  free(c.text);
  assert_int_equal(run_query(&c, db, "SELECT count(*) AS n FROM spans", SPANTAP_TABLE_CSV, 48), 0);
  assert_string_equal(c.text, "n\r\n5\r\n");
  free(c.text);
}

static void test_query_errors(void **state) {
  (void)state;
  struct capture c;
  assert_int_equal(run_query(&c, missing, "SELECT 1", SPANTAP_TABLE_TEXT, 48), -ENOENT);
  assert_non_null(strstr(c.err, missing));
  assert_non_null(strstr(c.err, "No such file"));
  assert_int_equal(access(missing, F_OK), -1); /* not created */
  free(c.text);

  assert_int_equal(run_query(&c, foreign_db, "SELECT 1", SPANTAP_TABLE_TEXT, 48), -EINVAL);
  assert_non_null(strstr(c.err, "not a spantap recording"));
  assert_non_null(strstr(c.err, foreign_db));
  free(c.text);

  assert_int_equal(run_query(&c, garbage, "SELECT 1", SPANTAP_TABLE_TEXT, 48), -EINVAL);
  assert_non_null(strstr(c.err, "not a database"));
  free(c.text);

  assert_int_equal(run_query(&c, db, "SELECT * FROM no_such_table", SPANTAP_TABLE_TEXT, 48),
                   -EINVAL);
  assert_non_null(strstr(c.err, "no such table: no_such_table"));
  free(c.text);

  assert_int_equal(run_query(&c, db, "  -- nothing\n", SPANTAP_TABLE_TEXT, 48), -EINVAL);
  assert_non_null(strstr(c.err, "no SQL statement"));
  free(c.text);
}

static void test_table_rows_api(void **state) {
  (void)state;
  struct capture c;
  capture_begin(&c);
  const char *names[] = {"k", "v"};
  struct spantap_table_opts o = {.format = SPANTAP_TABLE_TEXT, .decimals = 2};
  struct spantap_table *t = spantap_table_new(c.f, &o, 2, names);
  assert_non_null(t);
  struct spantap_cell r1[] = {spantap_cell_text("\xc3\xa9t\xc3\xa9"), spantap_cell_real(1.0 / 3)};
  struct spantap_cell r2[] = {spantap_cell_text(NULL), spantap_cell_int(-12)};
  assert_int_equal(spantap_table_add_row(t, r1), 0);
  assert_int_equal(spantap_table_add_row(t, r2), 0);
  assert_int_equal(spantap_table_finish(t), 0);
  capture_end(&c);
  /* widths count characters, not bytes ("été" is 3 wide); REALs get the decimals, INTs not */
  assert_string_equal(c.text, "k       v\n"
                              "---  ----\n"
                              "\xc3\xa9t\xc3\xa9  0.33\n"
                              "      -12\n");
  free(c.text);
}

/* ---- traces ---- */

static void test_traces_slowest_first(void **state) {
  (void)state;
  struct capture c;
  char line[400], *cells[8];
  assert_int_equal(run_traces(&c, db, 20, NULL, SPANTAP_TABLE_TEXT), 0);
  assert_int_equal(cells_of(line_n(c.text, 0, line, sizeof line), cells, 8), 7);
  assert_string_equal(cells[0], "trace");
  assert_string_equal(cells[5], "critical_path");
  assert_int_equal(cells_of(line_n(c.text, 2, line, sizeof line), cells, 8), 6);
  assert_string_equal(cells[0], "2");
  assert_string_equal(cells[1], "10.000");
  assert_string_equal(cells[2], "4");
  assert_string_equal(cells[3], "3");
  assert_string_equal(cells[4], "front, middle");
  assert_string_equal(cells[5], "front > middle");
  assert_int_equal(cells_of(line_n(c.text, 3, line, sizeof line), cells, 8), 7);
  assert_string_equal(cells[0], "1");
  assert_string_equal(cells[1], "2.000");
  assert_string_equal(cells[6], "incomplete");
  assert_string_equal(line_n(c.text, 4, line, sizeof line),
                      "2 traces, 5 spans; median 6.000 ms, p99 10.000 ms");
  assert_null(strstr(c.text, " \n")); /* an empty last cell leaves no trailing blanks */
  free(c.text);
}

static void test_traces_limit_and_service(void **state) {
  (void)state;
  struct capture c;
  char line[400];
  assert_int_equal(run_traces(&c, db, 1, NULL, SPANTAP_TABLE_TEXT), 0);
  assert_int_equal(line_of(c.text, "incomplete"), -1); /* trace 1 is cut */
  assert_non_null(strstr(c.text, "(the slowest 1 shown; -n 0 for all)"));
  free(c.text);

  assert_int_equal(run_traces(&c, db, 0, "middle", SPANTAP_TABLE_TEXT), 0);
  assert_int_equal(line_of(c.text, "incomplete"), -1);
  assert_string_equal(line_n(c.text, 3, line, sizeof line),
                      "1 trace, 4 spans; median 10.000 ms, p99 10.000 ms");
  free(c.text);

  assert_int_equal(run_traces(&c, db, 0, "nosuch", SPANTAP_TABLE_TEXT), 0);
  assert_non_null(strstr(c.text, "no trace has a span of service 'nosuch'; services seen:"
                                 " front, middle"));
  free(c.text);

  assert_int_equal(run_traces(&c, db, 0, NULL, SPANTAP_TABLE_JSON), 0);
  assert_non_null(strstr(c.text, "[\n  {\"trace\": 2, \"dur_ms\": 10.000, \"spans\": 4,"));
  assert_non_null(strstr(c.text, "\"critical_path\": \"front > middle\", \"note\": null}"));
  assert_non_null(strstr(c.text, "\"note\": \"incomplete\"}\n]\n"));
  assert_null(strstr(c.text, "median")); /* no totals line in machine formats */
  free(c.text);
}

static void test_traces_without_spans(void **state) {
  (void)state;
  struct capture c;
  assert_int_equal(run_traces(&c, empty_db, 20, NULL, SPANTAP_TABLE_TEXT), 0);
  assert_non_null(strstr(c.text, "no request spans in"));
  assert_non_null(strstr(c.text, "'proc,file', without 'net'"));
  assert_non_null(strstr(c.text, "--events proc,file,net"));
  free(c.text);
  assert_int_equal(run_traces(&c, missing, 20, NULL, SPANTAP_TABLE_TEXT), -ENOENT);
  assert_non_null(strstr(c.err, missing));
  free(c.text);
}

/* ---- tree ---- */

static void test_tree_shape(void **state) {
  (void)state;
  struct capture c;
  char line[600];
  assert_int_equal(run_tree(&c, 2), 0);
  assert_string_equal(line_n(c.text, 0, line, sizeof line),
                      "trace 2: 10.000 ms, 4 spans, depth 3, critical path front > middle");
  /* children in start order (4 started before 2), each under its parent_id */
  int l1 = line_of(c.text, "* 1 server front"), l4 = line_of(c.text, "  4 client front"),
      l2 = line_of(c.text, "* 2 client front"), l3 = line_of(c.text, "* 3 server middle");
  assert_int_equal(l1, 3);
  assert_int_equal(l4, 4);
  assert_int_equal(l2, 5);
  assert_int_equal(l3, 6);
  assert_true(strncmp(line_n(c.text, l1, line, sizeof line), "* 1 server front", 16) == 0);
  assert_true(strncmp(line_n(c.text, l4, line, sizeof line),
                      "\xe2\x94\x9c\xe2\x94\x80   4 client front", 22) == 0);
  assert_true(strncmp(line_n(c.text, l2, line, sizeof line),
                      "\xe2\x94\x94\xe2\x94\x80 * 2 client front", 22) == 0);
  assert_true(strncmp(line_n(c.text, l3, line, sizeof line),
                      "   \xe2\x94\x94\xe2\x94\x80 * 3 server middle", 25) == 0);
  /* the extra edge 4 -> 3 */
  assert_non_null(strstr(line_n(c.text, l3, line, sizeof line), "also child of span 4"));
  assert_null(strstr(line_n(c.text, l2, line, sizeof line), "also child"));
  assert_null(strstr(c.text, " \n"));
  free(c.text);
}

static void test_tree_tallies(void **state) {
  (void)state;
  struct capture c;
  char line[600], *cells[20];
  assert_int_equal(run_tree(&c, 2), 0);
  line_n(c.text, 3, line, sizeof line);
  assert_int_equal(cells_of(line, cells, 20), 15);
  const char *want[] = {"* 1 server front",
                        "100/101",
                        "127.0.0.1:8080 -> 127.0.0.1:40000",
                        "0.000",
                        "10.000",
                        "5",
                        "2.000",
                        "1.000",
                        "0.250",
                        "4.000",
                        "120",
                        "4096",
                        "7",
                        "handle_request+0x10 (front.c:42)",
                        "send_reply+0x8 (front.c:88)"};
  for (int i = 0; i < 15; i++)
    assert_string_equal(cells[i], want[i]);
  /* the middle server starts 1.5 ms into the trace, lasts 7 ms, has a call site without a file */
  line_n(c.text, 6, line, sizeof line);
  assert_int_equal(cells_of(line, cells, 20), 16);
  assert_string_equal(cells[1], "200/201");
  assert_string_equal(cells[3], "1.500");
  assert_string_equal(cells[4], "7.000");
  assert_string_equal(cells[13], "load_config+0x4");
  free(c.text);

  assert_int_equal(run_tree(&c, 1), 0);
  assert_non_null(strstr(c.text, "1 span, depth 1"));
  assert_non_null(strstr(c.text, "INCOMPLETE"));
  line_n(c.text, 3, line, sizeof line);
  assert_non_null(strstr(line, "[::1]:8080 -> [::1]:50000"));
  assert_non_null(strstr(line, "unfinished"));
  free(c.text);
}

static void test_tree_unknown_trace(void **state) {
  (void)state;
  struct capture c;
  assert_int_equal(run_tree(&c, 99), -ENOENT);
  assert_non_null(strstr(c.err, "no such trace: id=99"));
  assert_non_null(strstr(c.err, "ids 1-2"));
  assert_int_equal(c.len, 0);
  free(c.text);
}

/* ---- stacks ---- */

static void test_stacks_ranking(void **state) {
  (void)state;
  struct capture c;
  char line[600], *cells[8];
  assert_int_equal(run_stacks(&c, 0, 0), 0);
  const char *sites[] = {"load_config+0x4", "handle_request+0x10", "send_reply+0x8",
                         "event_loop+0x2", "(no stack)"};
  for (int i = 0; i < 5; i++) {
    line_n(c.text, 2 + i, line, sizeof line);
    assert_true(cells_of(line, cells, 8) >= 4);
    assert_string_equal(cells[0], sites[i]);
  }
  line_n(c.text, 2, line, sizeof line);
  assert_int_equal(cells_of(line, cells, 8), 5);
  assert_string_equal(cells[1], "10.000");
  assert_string_equal(cells[2], "2");
  assert_string_equal(cells[3], "write x2");
  assert_string_equal(cells[4], "middle"); /* no file: the binary */
  line_n(c.text, 4, line, sizeof line);
  assert_int_equal(cells_of(line, cells, 8), 5);
  assert_string_equal(cells[1], "0.700");
  assert_string_equal(cells[3], "write x1, read x1"); /* by time at the site */
  assert_string_equal(cells[4], "front.c:88");
  line_n(c.text, 5, line, sizeof line);
  cells_of(line, cells, 8);
  assert_string_equal(cells[3], "epoll_wait x1, futex x1, nanosleep x1, +1 more");
  assert_string_equal(line_n(c.text, 7, line, sizeof line),
                      "5 call sites shown, 12 syscalls, 13.930 ms");
  free(c.text);
}

static void test_stacks_of_one_span(void **state) {
  (void)state;
  struct capture c;
  char line[600], *cells[8];
  assert_int_equal(run_stacks(&c, 0, 1), 0);
  assert_int_equal(line_of(c.text, "load_config"), -1);
  line_n(c.text, 2, line, sizeof line);
  cells_of(line, cells, 8);
  assert_string_equal(cells[0], "handle_request+0x10");
  assert_string_equal(cells[3], "read x3");
  assert_string_equal(cells[4], "front.c:42");
  assert_string_equal(line_n(c.text, 4, line, sizeof line),
                      "2 call sites shown, 5 syscalls, 3.700 ms, in span 1");
  free(c.text);

  assert_int_equal(run_stacks(&c, 1, 0), 0);
  assert_int_equal(line_of(c.text, "handle_request"), -1);
  assert_non_null(strstr(c.text, "1 call site shown, 2 syscalls, 10.000 ms (of 12 syscalls;"));
  free(c.text);

  assert_int_equal(run_stacks(&c, 0, 2), 0);
  assert_string_equal(c.text, "span 2 made no syscalls.\n");
  free(c.text);

  assert_int_equal(run_stacks(&c, 0, 99), -ENOENT);
  assert_non_null(strstr(c.err, "no such span: id=99"));
  free(c.text);
}

/* ---- summary ---- */

static int run_summary(struct capture *c, const char *path) {
  capture_begin(c);
  int rc = spantap_summary_print(path, c->f, 10, c->err, sizeof c->err);
  capture_end(c);
  return rc;
}

static void test_summary(void **state) {
  (void)state;
  struct capture c;
  assert_int_equal(run_summary(&c, db), 0);
  assert_non_null(strstr(c.text, "12 syscalls, 0 process events"));
  assert_non_null(strstr(c.text, "top syscalls by total time:"));
  assert_null(strstr(c.text, "-1"));
  free(c.text);
}

/* A failed query is an error that names the query and quotes SQLite, and no
 * summary with a made-up count is printed. */
static void test_summary_query_error(void **state) {
  (void)state;
  struct capture c;
  assert_int_equal(run_summary(&c, broken_db), -EIO);
  assert_non_null(strstr(c.err, "page_faults"));
  assert_non_null(strstr(c.err, "no such table"));
  assert_non_null(strstr(c.err, broken_db));
  assert_int_equal(c.len, 0);
  free(c.text);
  assert_int_equal(run_summary(&c, foreign_db), -EINVAL);
  assert_non_null(strstr(c.err, "not a spantap recording"));
  free(c.text);
  assert_int_equal(run_summary(&c, missing), -ENOENT);
  free(c.text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_query_text_alignment),
      cmocka_unit_test(test_query_ellipsis),
      cmocka_unit_test(test_query_csv_quoting),
      cmocka_unit_test(test_query_json),
      cmocka_unit_test(test_query_several_statements),
      cmocka_unit_test(test_query_read_only),
      cmocka_unit_test(test_query_errors),
      cmocka_unit_test(test_table_rows_api),
      cmocka_unit_test(test_traces_slowest_first),
      cmocka_unit_test(test_traces_limit_and_service),
      cmocka_unit_test(test_traces_without_spans),
      cmocka_unit_test(test_tree_shape),
      cmocka_unit_test(test_tree_tallies),
      cmocka_unit_test(test_tree_unknown_trace),
      cmocka_unit_test(test_stacks_ranking),
      cmocka_unit_test(test_stacks_of_one_span),
      cmocka_unit_test(test_summary),
      cmocka_unit_test(test_summary_query_error),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
