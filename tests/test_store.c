/* Tests of the SQLite store: file creation rules, rows written and read back,
 * committed batches surviving an abandoned store, multi-row runs, the writer
 * thread's errors and its sync. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "collector/row_group.h"
#include "collector/store.h"

static char path[256];

static int setup(void **state) {
  (void)state;
  snprintf(path, sizeof path, "/tmp/spantap-test-store-%d.db", (int)getpid());
  unlink(path);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  spantap_store_remove(path);
  return 0;
}

static int64_t query_int(const char *sql) {
  sqlite3 *db;
  sqlite3_stmt *st;
  int64_t v = -1;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

static void test_create_mode_and_refuse(void **state) {
  (void)state;
  struct spantap_store *s;
  char err[512];
  umask(022);
  assert_int_equal(spantap_store_open(path, false, &s, err, sizeof err), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(spantap_store_close(s, err, sizeof err), 0);
  /* an existing file is refused without --force, and left as it was */
  assert_int_equal(spantap_store_open(path, false, &s, err, sizeof err), -EEXIST);
  assert_null(s);
  assert_non_null(strstr(err, "--force"));
  assert_int_equal(query_int("SELECT count(*) FROM syscalls"), 0);
  assert_int_equal(spantap_store_open(path, true, &s, err, sizeof err), 0);
  assert_int_equal(spantap_store_close(s, err, sizeof err), 0);
}

static void test_unwritable_dir(void **state) {
  (void)state;
  struct spantap_store *s;
  char err[512];
  assert_true(spantap_store_open("/nonexistent-dir/x.db", false, &s, err, sizeof err) < 0);
  assert_non_null(strstr(err, "/nonexistent-dir/x.db"));
}

static void test_rows_roundtrip(void **state) {
  (void)state;
  struct spantap_store *s;
  char err[512];
  assert_int_equal(spantap_store_open(path, false, &s, err, sizeof err), 0);
  assert_int_equal(spantap_store_module(s, 1, "/usr/bin/app", "abcd"), 0);
  assert_int_equal(spantap_store_frame(s, 1, 1, 0x1234, "chain_c", 0x14, "app.c", 42), 0);
  assert_int_equal(spantap_store_frame(s, 2, 1, 0x1300, "main", 0x9, NULL, 0), 0);
  int64_t frames[] = {1, 2};
  assert_int_equal(spantap_store_stack(s, 1, frames, 2, 0, 1), 0);
  assert_int_equal(
      spantap_store_connection(s, 1, 2, 6, "127.0.0.1", 5000, "127.0.0.1", 40000, 0xffff), 0);
  int64_t args[3] = {3, -1, 0};
  assert_int_equal(spantap_store_syscall(s, 100, 50, 7, 8, 0, "read", "net", args, 10, 1, 1, 0), 0);
  assert_int_equal(spantap_store_tcp_state(s, 120, 7, 8, 1, 1, 4, 1), 0);
  assert_int_equal(spantap_store_process(s, 7, 1, "/usr/bin/app", 1, 2, 300, 0, false), 0);
  assert_int_equal(spantap_store_process_event(s, 2, "exec", 7, 7, 0, 0, "/usr/bin/app", -1), 0);
  assert_int_equal(spantap_store_meta(s, "runtime", "bpf", 0), 0);
  assert_int_equal(spantap_store_close(s, err, sizeof err), 0);
  assert_int_equal(query_int("SELECT ret FROM syscalls WHERE name = 'read' AND conn_id = 1"), 10);
  assert_int_equal(query_int("SELECT count(*) FROM stack_text WHERE stack_id = 1"), 2);
  assert_int_equal(query_int("SELECT line FROM stack_text WHERE stack_id = 1 AND idx = 0"), 42);
  assert_int_equal(query_int("SELECT count(*) FROM tcp_states WHERE new_state = 'FIN_WAIT1'"), 1);
  assert_int_equal(query_int("SELECT count(*) FROM events"), 3);
  assert_int_equal(
      query_int("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
  /* the page size is chosen before the first write fixes SQLite's default */
  assert_int_equal(query_int("PRAGMA page_size"), 16384);
}

/* Metadata rows: every row with a key is written, a row without one left out. */
static void test_meta_rows(void **state) {
  (void)state;
  struct spantap_store *s;
  char err[512];
  assert_int_equal(spantap_store_open(path, false, &s, err, sizeof err), 0);
  const struct spantap_meta_row rows[] = {
      {"complete", NULL, 1}, {NULL, "left out", 0}, {"source", "a.stream", 0}};
  assert_int_equal(spantap_store_meta_rows(s, rows, 3, err, sizeof err), 0);
  assert_int_equal(spantap_store_close(s, err, sizeof err), 0);
  assert_int_equal(query_int("SELECT count(*) FROM recording WHERE key IN ('complete', 'source')"),
                   2);
  assert_int_equal(query_int("SELECT num_value FROM recording WHERE key = 'complete'"), 1);
  assert_int_equal(query_int("SELECT count(*) FROM recording WHERE text_value = 'left out'"), 0);
}

static void test_committed_batches_survive(void **state) {
  (void)state;
  struct spantap_store *s;
  char err[512];
  int64_t args[3] = {0, 0, 0};
  assert_int_equal(spantap_store_open(path, false, &s, err, sizeof err), 0);
  assert_int_equal(spantap_store_syscall(s, 1, 1, 1, 1, 39, "getpid", "other", args, 1, 0, 0, 0),
                   0);
  assert_int_equal(spantap_store_commit(s, err, sizeof err), 0);
  assert_int_equal(spantap_store_syscall(s, 2, 1, 1, 1, 39, "getpid", "other", args, 1, 0, 0, 0),
                   0);
  spantap_store_destroy(s); /* as if the process died: the open batch is lost */
  assert_int_equal(query_int("SELECT count(*) FROM syscalls"), 1);
  assert_int_equal(
      query_int("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
  spantap_store_destroy(NULL);
}

/* Runs of one table go 64 rows per statement: 3 full runs and a partial one
 * of 5, broken by rows of other tables, plus more rows than a group holds.
 * Every row is there, in order (ids follow the order written), with its
 * values and NULLs. */
static void test_multi_row_runs_and_partial_batch(void **state) {
  (void)state;
  struct spantap_store *s;
  char err[512];
  assert_int_equal(spantap_store_open(path, false, &s, err, sizeof err), 0);
  for (int64_t i = 1; i <= 64 * 3 + 5; i++) {
    int64_t args[3] = {i, -i, 0};
    assert_int_equal(spantap_store_syscall(s, 1000 + i, 10, 7, 7, 0, i % 2 ? "read" : "write",
                                           i % 3 ? "file" : NULL, args, i, i % 4, 0, 0),
                     0);
    if (i == 100) /* breaks a run: the rows around it keep their order */
      assert_int_equal(spantap_store_process_event(s, i, "exec", 7, 7, 0, 0, "", -1), 0);
  }
  for (int64_t i = 1; i <= 5000; i++)
    assert_int_equal(spantap_store_offcpu(s, i, 1, 7, 7, 1, i % 2), 0);
  assert_int_equal(spantap_store_close(s, err, sizeof err), 0);
  assert_int_equal(query_int("SELECT count(*) FROM syscalls"), 197);
  assert_int_equal(query_int("SELECT count(*) FROM syscalls WHERE ts_ns != 1000 + id OR ret != id"
                             " OR arg0 != id OR arg1 != -id"),
                   0);
  assert_int_equal(query_int("SELECT count(*) FROM syscalls WHERE class IS NULL"), 65);
  assert_int_equal(query_int("SELECT count(*) FROM syscalls WHERE stack_id IS NULL"), 49);
  assert_int_equal(query_int("SELECT count(*) FROM syscalls WHERE name = 'read'"), 99);
  assert_int_equal(query_int("SELECT id FROM syscalls ORDER BY id DESC LIMIT 1"), 197);
  /* an empty text stays an empty text, not NULL */
  assert_int_equal(query_int("SELECT count(*) FROM process_events WHERE path = ''"), 1);
  assert_int_equal(query_int("SELECT count(*) FROM offcpu"), 5000);
  assert_int_equal(query_int("SELECT sum(ts_ns) FROM offcpu"), 5000 * 5001 / 2);
  assert_int_equal(query_int("SELECT count(*) FROM offcpu WHERE span_id IS NULL"), 2500);
}

/* The writer thread's failure is not dropped: a row that breaks a constraint
 * is queued without error, and the failure comes back from the next calls
 * (commit, later rows, close) with SQLite's message and the table. */
static void test_writer_error_returned(void **state) {
  (void)state;
  struct spantap_store *s;
  char err[512] = "";
  assert_int_equal(spantap_store_open(path, false, &s, err, sizeof err), 0);
  assert_int_equal(spantap_store_frame(s, 1, 1, 0x10, "f", 0, NULL, 0), 0);
  assert_int_equal(spantap_store_frame(s, 1, 1, 0x20, "g", 0, NULL, 0),
                   0); /* the same id: fails later */
  assert_int_equal(spantap_store_sync(s, err, sizeof err), -EIO);
  assert_non_null(strstr(err, "frames"));
  assert_non_null(strstr(err, "UNIQUE constraint failed"));
  assert_non_null(strstr(spantap_store_errmsg(s), "UNIQUE constraint failed"));
  int64_t args[3] = {0, 0, 0};
  assert_int_equal(spantap_store_syscall(s, 1, 1, 1, 1, 39, "getpid", "other", args, 1, 0, 0, 0),
                   -EIO);
  err[0] = '\0';
  assert_int_equal(spantap_store_commit(s, err, sizeof err), -EIO);
  assert_non_null(strstr(err, "UNIQUE constraint failed"));
  err[0] = '\0';
  assert_int_equal(spantap_store_close(s, err, sizeof err), -EIO);
  assert_non_null(strstr(err, "UNIQUE constraint failed"));
}

/* Commits with nothing new, and spantap_store_sync: once it returns, a
 * committed batch is in the file for other readers while the store is open. */
static void test_sync_makes_commits_visible(void **state) {
  (void)state;
  struct spantap_store *s;
  char err[512];
  int64_t args[3] = {0, 0, 0};
  assert_int_equal(spantap_store_open(path, false, &s, err, sizeof err), 0);
  assert_int_equal(spantap_store_commit(s, err, sizeof err), 0);
  assert_int_equal(spantap_store_commit(s, err, sizeof err), 0);
  for (int i = 0; i < 3000; i++)
    assert_int_equal(spantap_store_syscall(s, i, 1, 1, 1, 39, "getpid", "other", args, 1, 0, 0, 0),
                     0);
  assert_int_equal(spantap_store_commit(s, err, sizeof err), 0);
  assert_int_equal(spantap_store_sync(s, err, sizeof err), 0);
  assert_int_equal(query_int("SELECT count(*) FROM syscalls"), 3000);
  assert_int_equal(spantap_store_close(s, err, sizeof err), 0);
  assert_true(spantap_store_memory_bound() > 0);
}

/* A row group saved to a spill file reads back as it was, a second group
 * after it too, and bytes that are no saved group are refused. */
static void test_row_group_spill_roundtrip(void **state) {
  (void)state;
  char name[] = "/tmp/spantap-test-rows.XXXXXX";
  int fd = mkstemp(name);
  assert_true(fd >= 0);
  unlink(name);
  struct spantap_row_group *g = calloc(1, sizeof *g);
  assert_non_null(g);
  g->vals_cap = 3000;
  g->vals = calloc(g->vals_cap, sizeof *g->vals);
  g->text_cap = 64;
  g->text = malloc(g->text_cap);
  assert_non_null(g->vals);
  assert_non_null(g->text);
  for (unsigned r = 0; r < SPANTAP_GROUP_ROWS; r++) {
    g->rows[r] = (struct spantap_row){.stmt = r % 7, .first = (uint32_t)g->nvals};
    g->vals[g->nvals++] =
        (struct spantap_value){.i = (int64_t)r * 1000003, .len = SPANTAP_VALUE_INT};
  }
  g->nrows = SPANTAP_GROUP_ROWS;
  memcpy(g->text, "connect", 7);
  g->text_len = 7;
  g->vals[g->nvals++] = (struct spantap_value){.i = 0, .len = 7};
  g->vals[g->nvals++] = (struct spantap_value){.len = SPANTAP_VALUE_NULL};
  ssize_t n1 = spantap_row_group_save(g, fd, 0);
  assert_true(n1 > 0);
  g->nrows = 1; /* a second, smaller group after it */
  g->nvals = 1;
  g->text_len = 0;
  ssize_t n2 = spantap_row_group_save(g, fd, n1);
  assert_true(n2 > 0 && n2 < n1);

  struct spantap_row_group *back = NULL; /* the load allocates */
  assert_int_equal(spantap_row_group_load(fd, 0, &back), n1);
  assert_non_null(back);
  assert_int_equal(back->nrows, SPANTAP_GROUP_ROWS);
  assert_int_equal(back->nvals, SPANTAP_GROUP_ROWS + 2);
  assert_int_equal(back->rows[2047].stmt, 2047 % 7);
  assert_int_equal(back->rows[2047].first, 2047);
  assert_int_equal(back->vals[2047].i, 2047LL * 1000003);
  assert_int_equal(back->vals[SPANTAP_GROUP_ROWS].len, 7);
  assert_memory_equal(back->text, "connect", 7);
  assert_int_equal(back->vals[SPANTAP_GROUP_ROWS + 1].len, SPANTAP_VALUE_NULL);
  /* reused for the second: its arrays stay, its counts are the second's */
  assert_int_equal(spantap_row_group_load(fd, n1, &back), n2);
  assert_int_equal(back->nrows, 1);
  assert_int_equal(back->nvals, 1);
  assert_int_equal(back->text_len, 0);
  /* past the end: a short file; inside a group: not a group's start */
  assert_int_equal(spantap_row_group_load(fd, n1 + n2, &back), -EIO);
  assert_int_equal(spantap_row_group_load(fd, 8, &back), -EPROTO);
  spantap_row_group_free(back);
  spantap_row_group_free(g);
  spantap_row_group_free(NULL);
  close(fd);
}

/* Rows made faster than SQLite takes them: the backlog goes to the scratch
 * file beside the output, and every row arrives, in order, intact (a group
 * saved to the file is filled again from empty). Filling a group takes tens
 * of nanoseconds a row and writing it a microsecond, so the writer falls
 * behind at once; the test retries with more rows if it ever kept up. */
static void test_backlog_spills_and_keeps_every_row(void **state) {
  (void)state;
  struct spantap_store_backlog b = {0};
  int64_t n = 0;
  for (int attempt = 0; attempt < 4 && !b.groups_spilled; attempt++) {
    struct spantap_store *s;
    char err[512];
    n = 60000LL << attempt;
    assert_int_equal(spantap_store_open(path, true, &s, err, sizeof err), 0);
    for (int64_t i = 1; i <= n; i++) {
      int64_t args[3] = {i, -i, i * 3};
      assert_int_equal(spantap_store_syscall(s, 1000 + i, 10, 7, 7, 0, i % 2 ? "read" : "write",
                                             i % 3 ? "file" : NULL, args, i, 0, 0, 0),
                       0);
      if (i % 20000 == 0)
        assert_int_equal(spantap_store_commit(s, err, sizeof err), 0);
    }
    b = spantap_store_backlog(s);
    assert_int_equal(b.spill_errno, 0);
    assert_int_equal(spantap_store_close(s, err, sizeof err), 0);
  }
  assert_true(b.groups_spilled > 0);
  assert_true(b.bytes_max > 0);
  assert_int_equal(query_int("SELECT count(*) FROM syscalls"), n);
  assert_int_equal(query_int("SELECT count(*) FROM syscalls WHERE ts_ns != 1000 + id OR ret != id"
                             " OR arg0 != id OR arg1 != -id OR arg2 != 3 * id"
                             " OR name != (CASE id % 2 WHEN 1 THEN 'read' ELSE 'write' END)"
                             " OR (class IS NULL) != (id % 3 = 0)"),
                   0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_mode_and_refuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unwritable_dir, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rows_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_meta_rows, setup, teardown),
      cmocka_unit_test_setup_teardown(test_committed_batches_survive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_multi_row_runs_and_partial_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writer_error_returned, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sync_makes_commits_visible, setup, teardown),
      cmocka_unit_test(test_row_group_spill_roundtrip),
      cmocka_unit_test_setup_teardown(test_backlog_spills_and_keeps_every_row, setup, teardown),
  };
  return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
