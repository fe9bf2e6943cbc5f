/* Tests of the collector on a hand-written stream: lineage, syscalls,
 * connections, stack selection and interning, malformed and split input,
 * records pushed without text, the saved stream and its errors, the stack
 * mode as recorded, unsymbolized frames by reason, and files of a stream
 * recorded elsewhere found by path. */
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

#include "collector/collector.h"
#include "collector/store.h"
#include "collector/stream_parse.h"

static char path[256];

static int setup(void **state) {
  (void)state;
  snprintf(path, sizeof path, "/tmp/spantap-test-collector-%d.db", (int)getpid());
  unlink(path);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  spantap_store_remove(path); /* and the -wal and -shm files a reader leaves */
  return 0;
}

static char *sample(size_t *len) {
  FILE *f = fopen(TEST_DATA_DIR "/sample.stream", "r");
  assert_non_null(f);
  static char buf[8192];
  *len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  return buf;
}

static int64_t query_int(const char *sql) {
  sqlite3 *db;
  sqlite3_stmt *st;
  int64_t v = -1;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("bad SQL %s: %s", sql, sqlite3_errmsg(db));
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

/* Feeds the sample in pieces of CHUNK bytes (1 = byte by byte). */
static const struct spantap_collector_stats *run(unsigned mode, size_t chunk) {
  struct spantap_store *store;
  char err[512];
  assert_int_equal(spantap_store_open(path, true, &store, err, sizeof err), 0);
  struct spantap_collector_opts o = {
      .live = false, .stack_mode = mode, .stack_depth = 8, .batch_records = 3};
  struct spantap_collector *c;
  assert_int_equal(spantap_collector_new(store, NULL, &o, &c), 0);
  size_t len;
  const char *buf = sample(&len);
  for (size_t off = 0; off < len; off += chunk)
    assert_int_equal(spantap_collector_feed(c, buf + off, off + chunk > len ? len - off : chunk,
                                            err, sizeof err),
                     0);
  assert_int_equal(spantap_collector_finish(c, err, sizeof err), 0);
  static struct spantap_collector_stats stats;
  stats = *spantap_collector_stats(c);
  spantap_collector_destroy(c);
  assert_int_equal(spantap_store_close(store, err, sizeof err), 0);
  return &stats;
}

static void test_lineage_and_counts(void **state) {
  (void)state;
  const struct spantap_collector_stats *s = run(4, 4096);
  assert_true(s->begin_seen && s->end_seen);
  assert_int_equal(s->ready_mask, SPANTAP_READY_SYSCALLS);
  assert_string_equal(s->runtime, "bpf");
  assert_int_equal(s->malformed, 2);
  assert_int_equal(s->malformed_examples[0].line_no, 11);
  assert_int_equal(s->records[SPANTAP_REC_SYSCALL], 4);
  assert_int_equal(query_int("SELECT count(*) FROM syscalls"), 5);
  assert_int_equal(query_int("SELECT ppid FROM processes WHERE pid = 11"), 10);
  assert_int_equal(query_int("SELECT exit_status FROM processes WHERE pid = 10"), 768);
  assert_int_equal(
      query_int("SELECT count(*) FROM process_events WHERE kind = 'thread' AND other_tid = 12"), 1);
  assert_int_equal(
      query_int("SELECT count(*) FROM process_events WHERE kind = 'leave' AND pid = 11"), 1);
  assert_int_equal(query_int("SELECT exit_ns FROM threads WHERE tid = 12"), 180);
  assert_int_equal(query_int("SELECT count(*) FROM syscalls WHERE name = 'dup'"), 3);
  assert_int_equal(query_int("SELECT class FROM syscalls WHERE conn_id IS NOT NULL") != -1, 1);
  assert_int_equal(query_int("SELECT lport FROM connections c JOIN syscalls s ON s.conn_id = c.id"),
                   8080);
  assert_int_equal(
      query_int("SELECT count(*) FROM connections WHERE raddr = '127.0.0.1' AND rport = 40000"), 1);
  assert_int_equal(query_int("SELECT count(*) FROM tcp_states WHERE new_state = 'CLOSE_WAIT' AND "
                             "old_state = 'ESTABLISHED'"),
                   1);
}

static void test_stack_interning_and_modes(void **state) {
  (void)state;
  run(4, 4096);
  /* first two dups share one stack; the third differs in its caller */
  assert_int_equal(query_int("SELECT count(DISTINCT stack_id) FROM syscalls WHERE name = 'dup'"),
                   2);
  /* mode 4 keeps libc and app frames: pc in libc, caller in the app */
  assert_int_equal(
      query_int(
          "SELECT depth FROM stacks s JOIN syscalls c ON c.stack_id = s.id AND c.ts_ns = 110"),
      2);
  assert_int_equal(
      query_int(
          "SELECT m.path = '/opt/app/server' FROM stacks s JOIN frames f ON f.id = s.app_frame_id"
          " JOIN modules m ON m.id = f.module_id LIMIT 1"),
      1);
  /* an address in no mapping marks the stack as broken */
  assert_int_equal(
      query_int(
          "SELECT flags & 2 FROM stacks s JOIN syscalls c ON c.stack_id = s.id AND c.ts_ns = 160"),
      2);
  run(1, 4096);
  /* mode 1 keeps only the innermost frame in the application's binary */
  assert_int_equal(
      query_int(
          "SELECT depth FROM stacks s JOIN syscalls c ON c.stack_id = s.id AND c.ts_ns = 110"),
      1);
  assert_int_equal(
      query_int("SELECT f.rel_addr FROM syscalls c JOIN stack_frames sf ON sf.stack_id = c.stack_id"
                " JOIN frames f ON f.id = sf.frame_id WHERE c.ts_ns = 110"),
      0x1500 - 4096);
  run(3, 4096);
  assert_int_equal(
      query_int(
          "SELECT depth FROM stacks s JOIN syscalls c ON c.stack_id = s.id AND c.ts_ns = 110"),
      2);
}

static void test_split_input_is_the_same(void **state) {
  (void)state;
  run(4, 1); /* byte by byte */
  assert_int_equal(query_int("SELECT count(*) FROM syscalls"), 5);
  assert_int_equal(query_int("SELECT count(*) FROM process_events"), 5);
}

static void test_truncated_and_long_lines(void **state) {
  (void)state;
  struct spantap_store *store;
  char err[512];
  assert_int_equal(spantap_store_open(path, true, &store, err, sizeof err), 0);
  struct spantap_collector_opts o = {.stack_mode = 1, .stack_depth = 8};
  struct spantap_collector *c;
  assert_int_equal(spantap_collector_new(store, NULL, &o, &c), 0);
  char *big = malloc(100000);
  memset(big, '1', 100000);
  memcpy(big, "SC ", 3);
  big[99999] = '\n';
  assert_int_equal(spantap_collector_feed(c, big, 100000, err, sizeof err), 0);
  free(big);
  char cut[64];
  snprintf(cut, sizeof cut, "BEGIN %d 0 1 8 bpf\nSC 1 2 3 4 5", SPANTAP_RECORD_FORMAT_VERSION);
  assert_int_equal(spantap_collector_feed(c, cut, strlen(cut), err, sizeof err), 0);
  assert_int_equal(spantap_collector_finish(c, err, sizeof err), 0);
  const struct spantap_collector_stats *s = spantap_collector_stats(c);
  assert_int_equal(s->malformed, 2);
  assert_string_equal(s->malformed_examples[0].why, "line too long");
  assert_string_equal(s->malformed_examples[1].why, "truncated last line");
  spantap_collector_destroy(c);
  assert_int_equal(spantap_store_close(store, err, sizeof err), 0);
}

static void test_format_version_mismatch(void **state) {
  (void)state;
  struct spantap_store *store;
  char err[512];
  assert_int_equal(spantap_store_open(path, true, &store, err, sizeof err), 0);
  struct spantap_collector_opts o = {.stack_mode = 1, .stack_depth = 8};
  struct spantap_collector *c;
  assert_int_equal(spantap_collector_new(store, NULL, &o, &c), 0);
  const char *l = "BEGIN 99 0 bpf\n";
  assert_int_equal(spantap_collector_feed(c, l, strlen(l), err, sizeof err), -EIO);
  assert_non_null(strstr(err, "format 99"));
  spantap_collector_destroy(c);
  spantap_store_destroy(store);
}

/* Per-CPU buffers interleave: a syscall on a socket from one CPU can reach the
 * collector before the SOCK line that announced the socket on another. Both
 * pass the reorder window in time order, so the syscall still gets its
 * addresses; and a request/response on it becomes a span with its service. */
static void test_socket_announced_on_another_cpu(void **state) {
  (void)state;
  struct spantap_store *store;
  char err[512], stream[1024];
  assert_int_equal(spantap_store_open(path, true, &store, err, sizeof err), 0);
  struct spantap_collector_opts o = {.stack_mode = 0, .stack_depth = 8};
  struct spantap_collector *c;
  assert_int_equal(spantap_collector_new(store, NULL, &o, &c), 0);
  snprintf(stream, sizeof stream,
           "BEGIN %d 0 4 8 bpf\n"
           "EXEC 100 20 20 1 1 0 0 0 0 /usr/sbin/server\n"
           "NC 300 10 20 22 0 50 5 0 0 777\n" /* thread 22 reads, first in the stream */
           "SOCK 200 20 777 2 6 8080 41000 0 16777343 0 16777343\n" /* announced by 21 */
           "NC 200 5 20 21 0 40 5 0 0 777\n"
           "NC 400 10 20 22 1 90 5 0 0 777\n"
           "END 500\n",
           SPANTAP_RECORD_FORMAT_VERSION);
  assert_int_equal(spantap_collector_feed(c, stream, strlen(stream), err, sizeof err), 0);
  assert_int_equal(spantap_collector_finish(c, err, sizeof err), 0);
  assert_int_equal(spantap_collector_stats(c)->unknown_sockets, 0);
  spantap_collector_destroy(c);
  assert_int_equal(spantap_store_close(store, err, sizeof err), 0);
  assert_int_equal(query_int("SELECT count(*) FROM syscalls WHERE conn_id IS NULL"), 0);
  assert_int_equal(query_int("SELECT rport FROM connections"), 41000);
  assert_int_equal(
      query_int("SELECT count(*) FROM spans WHERE kind = 'server' AND service = 'server'"
                " AND bytes_in = 90 AND bytes_out = 90"),
      1);
}

static char *query_text(const char *sql) {
  sqlite3 *db;
  sqlite3_stmt *st;
  static char out[512];
  out[0] = '\0';
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("bad SQL %s: %s", sql, sqlite3_errmsg(db));
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
    snprintf(out, sizeof out, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

/* Runs the sample through a collector made with O (and SYM), fed as text in
 * one piece. Returns the collector's stats. */
static struct spantap_collector_stats run_with(struct spantap_collector_opts o,
                                               struct spantap_symbolizer *sym) {
  struct spantap_store *store;
  char err[512];
  assert_int_equal(spantap_store_open(path, true, &store, err, sizeof err), 0);
  struct spantap_collector *c;
  assert_int_equal(spantap_collector_new(store, sym, &o, &c), 0);
  size_t len;
  const char *buf = sample(&len);
  if (spantap_collector_feed(c, buf, len, err, sizeof err) != 0 ||
      spantap_collector_finish(c, err, sizeof err) != 0)
    fail_msg("collector failed: %s", err);
  struct spantap_collector_stats stats = *spantap_collector_stats(c);
  spantap_collector_destroy(c);
  assert_int_equal(spantap_store_close(store, err, sizeof err), 0);
  return stats;
}

/* A second source of records (no text) feeds the same pipeline: the sample's
 * records, decoded beforehand and pushed one by one, give the same rows. */
static void test_records_pushed_without_text(void **state) {
  (void)state;
  run(4, 4096);
  int64_t syscalls = query_int("SELECT count(*) FROM syscalls");
  int64_t stacks = query_int("SELECT count(*) FROM stacks");
  struct spantap_store *store;
  char err[512];
  assert_int_equal(spantap_store_open(path, true, &store, err, sizeof err), 0);
  struct spantap_collector_opts o = {.stack_mode = 4, .stack_depth = 8};
  struct spantap_collector *c;
  assert_int_equal(spantap_collector_new(store, NULL, &o, &c), 0);
  size_t len;
  char *buf = sample(&len);
  unsigned pushed = 0;
  for (char *p = buf, *end = buf + len; p < end;) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    struct spantap_record r;
    const char *why;
    if (spantap_record_parse(p, n, &r, &why) == 0) {
      assert_int_equal(spantap_collector_push_record(c, &r, err, sizeof err), 0);
      pushed++;
    }
    p += n + 1;
  }
  assert_int_equal(spantap_collector_finish(c, err, sizeof err), 0);
  assert_int_equal(spantap_collector_stats(c)->lines, pushed);
  spantap_collector_destroy(c);
  assert_int_equal(spantap_store_close(store, err, sizeof err), 0);
  assert_int_equal(query_int("SELECT count(*) FROM syscalls"), syscalls);
  assert_int_equal(query_int("SELECT count(*) FROM stacks"), stacks);
}

/* The saved stream holds each record once, written by the record writer;
 * imported again it gives the same rows. */
static void test_saved_stream_once_and_reimportable(void **state) {
  (void)state;
  char *saved = NULL;
  size_t saved_len = 0;
  FILE *f = open_memstream(&saved, &saved_len);
  struct spantap_collector_opts o = {.stack_mode = 4, .stack_depth = 8, .save_stream = f};
  struct spantap_collector_stats first = run_with(o, NULL);
  fclose(f);
  int64_t syscalls = query_int("SELECT count(*) FROM syscalls");
  unsigned maps = 0;
  for (const char *p = saved; (p = strstr(p, "\nMAP ")); p++)
    maps++;
  assert_int_equal(maps, 4); /* as in the sample: no second copy */
  assert_int_equal(first.records[SPANTAP_REC_MAPPING], 4);
  assert_non_null(strstr(saved, "\nSC 110 5 10 10 32 3 1 0 0 @0,10010,1500\n"));
  assert_null(strstr(saved, "garbage")); /* malformed lines are counted, not copied */
  FILE *in = fmemopen(saved, saved_len, "r");
  struct spantap_store *store;
  char err[512];
  assert_int_equal(spantap_store_open(path, true, &store, err, sizeof err), 0);
  struct spantap_collector *c;
  o.save_stream = NULL;
  assert_int_equal(spantap_collector_new(store, NULL, &o, &c), 0);
  assert_int_equal(spantap_collector_feed(c, saved, saved_len, err, sizeof err), 0);
  assert_int_equal(spantap_collector_finish(c, err, sizeof err), 0);
  assert_int_equal(spantap_collector_stats(c)->malformed, first.malformed - 2);
  spantap_collector_destroy(c);
  assert_int_equal(spantap_store_close(store, err, sizeof err), 0);
  fclose(in);
  free(saved);
  assert_int_equal(query_int("SELECT count(*) FROM syscalls"), syscalls);
}

/* A full disk under the saved stream stops the collector with -EIO and a
 * message naming the file, at the latest when the batch is flushed; losses
 * reported aside fail the same way. */
static void test_saved_stream_full_disk(void **state) {
  (void)state;
  FILE *full = fopen("/dev/full", "w");
  if (!full)
    skip();
  struct spantap_store *store;
  char err[512] = "";
  assert_int_equal(spantap_store_open(path, true, &store, err, sizeof err), 0);
  struct spantap_collector_opts o = {.stack_mode = 1, .stack_depth = 8, .save_stream = full};
  struct spantap_collector *c;
  assert_int_equal(spantap_collector_new(store, NULL, &o, &c), 0);
  size_t len;
  const char *buf = sample(&len);
  int rc = spantap_collector_feed(c, buf, len, err, sizeof err);
  if (rc == 0)
    rc = spantap_collector_flush(c, err, sizeof err);
  assert_int_equal(rc, -EIO);
  assert_non_null(strstr(err, "/dev/full"));
  assert_non_null(strstr(err, strerror(ENOSPC)));
  err[0] = '\0';
  assert_int_equal(spantap_collector_add_lost(c, 5, "runtime", err, sizeof err), -EIO);
  assert_non_null(strstr(err, "/dev/full"));
  spantap_collector_destroy(c);
  spantap_store_destroy(store);
  fclose(full);
}

/* BEGIN carries the stack mode: asked to keep it, the collector selects mode
 * 4's frames from a stream recorded in mode 4; a mode given overrides it. */
static void test_stack_mode_as_recorded(void **state) {
  (void)state;
  struct spantap_collector_opts o = {.stack_mode = SPANTAP_STACK_AS_RECORDED,
                                     .stack_depth = SPANTAP_STACK_AS_RECORDED};
  struct spantap_collector_stats s = run_with(o, NULL);
  assert_int_equal(s.stack_mode, 4); /* the sample's BEGIN says 4 and 8 */
  assert_int_equal(s.stack_depth, 8);
  assert_int_equal(
      query_int(
          "SELECT depth FROM stacks s JOIN syscalls c ON c.stack_id = s.id AND c.ts_ns = 110"),
      2);
  o.stack_mode = 1;
  s = run_with(o, NULL);
  assert_int_equal(s.stack_mode, 1);
  assert_int_equal(
      query_int(
          "SELECT depth FROM stacks s JOIN syscalls c ON c.stack_id = s.id AND c.ts_ns = 110"),
      1);
}

/* Frames that stay hexadecimal are counted by reason in the recording table:
 * the sample's binaries do not exist here (the first message says which
 * could not be opened), and one address is in no mapping. */
static void test_unsymbolized_frames_by_reason(void **state) {
  (void)state;
  struct spantap_symbolizer *sym = NULL;
  char err[256];
  assert_int_equal(spantap_symbolizer_open(&sym, err, sizeof err), 0);
  struct spantap_collector_opts o = {.stack_mode = 4, .stack_depth = 8};
  struct spantap_collector_stats s = run_with(o, sym);
  spantap_symbolizer_destroy(sym);
  assert_true(s.unsymbolized[SPANTAP_UNSYM_NO_FILE] >= 1);
  assert_int_equal(s.unsymbolized[SPANTAP_UNSYM_NO_MAPPING], s.unknown_frames);
  assert_true(s.unknown_frames >= 1);
  assert_int_equal(
      query_int("SELECT num_value FROM recording WHERE key = 'frames_unsymbolized_no_file'"),
      (int64_t)s.unsymbolized[SPANTAP_UNSYM_NO_FILE]);
  assert_int_equal(
      query_int("SELECT num_value FROM recording WHERE key = 'frames_unsymbolized_no_mapping'"),
      (int64_t)s.unsymbolized[SPANTAP_UNSYM_NO_MAPPING]);
  assert_non_null(
      strstr(query_text("SELECT text_value FROM recording WHERE key = 'symbolize_error'"),
             "Failed to open module: path=/"));
}

/* A stream recorded on another machine (a guest, a production host) names
 * files whose inodes mean nothing here: importing, the file at the same path
 * (or by its file name in the library directories) stands in; a file that
 * exists nowhere here gives no module. */
static void test_import_finds_files_by_path(void **state) {
  (void)state;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  assert_true(n > 0);
  self[n] = '\0';
  char stream[8192];
  snprintf(stream, sizeof stream,
           "BEGIN 3 0 2 8 kernel\n"
           "EXEC 100 20 20 1 1 4096 8192 1 1 %s\n"
           "XMAP 105 20 65536 131072 0 1 1 libc.so.6\n"
           "XMAP 106 20 262144 327680 0 1 1 /nonexistent/libgone.so\n"
           "END 200\n",
           self);
  struct spantap_store *store;
  char err[512];
  assert_int_equal(spantap_store_open(path, true, &store, err, sizeof err), 0);
  struct spantap_collector_opts o = {.live = false, .stack_mode = 2, .stack_depth = 8};
  struct spantap_collector *c;
  assert_int_equal(spantap_collector_new(store, NULL, &o, &c), 0);
  if (spantap_collector_feed(c, stream, strlen(stream), err, sizeof err) != 0 ||
      spantap_collector_finish(c, err, sizeof err) != 0)
    fail_msg("collector failed: %s", err);
  spantap_collector_destroy(c);
  assert_int_equal(spantap_store_close(store, err, sizeof err), 0);
  char sql[4300];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM modules WHERE path = '%s'", self);
  assert_int_equal(query_int(sql), 1);
  assert_int_equal(query_int("SELECT count(*) FROM modules WHERE path LIKE '%/libc.so.6'"), 1);
  assert_int_equal(query_int("SELECT count(*) FROM modules WHERE path LIKE '%libgone%'"), 0);
  assert_int_equal(query_int("SELECT count(*) FROM modules"), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_lineage_and_counts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stack_interning_and_modes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_split_input_is_the_same, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncated_and_long_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(test_format_version_mismatch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_socket_announced_on_another_cpu, setup, teardown),
      cmocka_unit_test_setup_teardown(test_records_pushed_without_text, setup, teardown),
      cmocka_unit_test_setup_teardown(test_saved_stream_once_and_reimportable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_saved_stream_full_disk, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stack_mode_as_recorded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unsymbolized_frames_by_reason, setup, teardown),
      cmocka_unit_test_setup_teardown(test_import_finds_files_by_path, setup, teardown),
  };
  return cmocka_run_group_tests_name("collector", tests, NULL, NULL);
}
