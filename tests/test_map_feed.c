/* Tests of the map feed (collector/map_feed.c) without BPF maps: a pass's
 * records reach the collector ordered by completion time whatever the order
 * the queues delivered them in (the saved stream shows the order pushed), and
 * a feed needs a cookie. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "collector/collector.h"
#include "collector/map_feed.h"
#include "spantap/record_queue.h"

#define COOKIE UINT64_C(0x4abcdef012345678)

static struct spantap_record rec(enum spantap_record_kind kind, int64_t ts, int64_t dur,
                                 const char *text) {
  struct spantap_record r = {.desc = spantap_record_desc_get(kind), .text = text ? text : ""};
  r.text_len = strlen(r.text);
  r.v[0] = ts;
  if (r.desc->nfields >= 2 && strcmp(r.desc->field_names[1], "dur") == 0)
    r.v[1] = dur;
  return r;
}

static void test_cookie_required(void **state) {
  (void)state;
  struct spantap_map_feed *f = (void *)1;
  assert_int_equal(spantap_map_feed_new(1, 2, NULL, &f), -EINVAL);
  assert_null(f);
  spantap_map_feed_destroy(NULL);
}

static void test_pass_in_completion_order(void **state) {
  (void)state;
  char path[] = "/tmp/spantap-test-feed-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  char *saved = NULL;
  size_t saved_len = 0;
  FILE *stream = open_memstream(&saved, &saved_len);
  struct spantap_store *store;
  char err[512];
  assert_int_equal(spantap_store_open(path, true, &store, err, sizeof err), 0);
  struct spantap_collector_opts o = {
      .live = false, .stack_mode = 1, .stack_depth = 8, .save_stream = stream};
  struct spantap_collector *c;
  assert_int_equal(spantap_collector_new(store, NULL, &o, &c), 0);
  struct spantap_map_feed *f;
  assert_int_equal(spantap_map_feed_new(COOKIE, 2, c, &f), 0);
  assert_false(spantap_map_feed_ready(f));

  /* as the queues might deliver them: END's queue and the syscalls' first */
  struct spantap_record end = rec(SPANTAP_REC_END, 0, 0, NULL);
  struct spantap_record sc = rec(SPANTAP_REC_SYSCALL, 100, 50, NULL); /* completes at 150 */
  sc.v[SPANTAP_SYSCALL_pid] = sc.v[SPANTAP_SYSCALL_tid] = 10;
  struct spantap_record exec = rec(SPANTAP_REC_EXEC, 120, 0, "/bin/x"); /* at 120 */
  exec.v[SPANTAP_EXEC_pid] = exec.v[SPANTAP_EXEC_tid] = 10;
  exec.v[SPANTAP_EXEC_traced] = 1;
  /* a SOCK is dated at the return of the syscall that announced it: a tie
   * with that NC, delivered first (its queue comes first) */
  struct spantap_record sock = rec(SPANTAP_REC_SOCKET, 200, 0, NULL);
  sock.v[SPANTAP_SOCKET_pid] = 10;
  sock.v[SPANTAP_SOCKET_sock] = 77;
  struct spantap_record nc = rec(SPANTAP_REC_NETCALL, 150, 50, NULL);
  nc.v[SPANTAP_NETCALL_pid] = nc.v[SPANTAP_NETCALL_tid] = 10;
  nc.v[SPANTAP_NETCALL_sock] = 77;
  struct spantap_record begin = rec(SPANTAP_REC_BEGIN, 0, 0, "bpf");
  begin.v[SPANTAP_BEGIN_format_version] = SPANTAP_RECORD_FORMAT_VERSION;
  begin.v[SPANTAP_BEGIN_stack_mode] = 1;
  begin.v[SPANTAP_BEGIN_stack_depth] = 8;
  const struct spantap_record *held[] = {&end, &sc, &exec, &sock, &nc, &begin};
  for (size_t i = 0; i < sizeof held / sizeof held[0]; i++)
    assert_int_equal(spantap_map_feed_hold(f, held[i]), 0);
  assert_int_equal(spantap_map_feed_push(f, err, sizeof err), 0);
  /* the pass is emptied: pushing again pushes nothing */
  assert_int_equal(spantap_map_feed_push(f, err, sizeof err), 0);
  assert_int_equal(spantap_collector_flush(c, err, sizeof err), 0);
  fflush(stream);

  char order[128] = "";
  for (const char *line = saved; line && *line;) {
    size_t tag = strcspn(line, " \n");
    strncat(order, line, tag);
    strcat(order, " ");
    const char *nl = strchr(line, '\n');
    line = nl ? nl + 1 : NULL;
  }
  assert_string_equal(order, "BEGIN EXEC SC SOCK NC END ");
  assert_true(spantap_collector_stats(c)->end_seen);

  spantap_map_feed_destroy(f);
  assert_int_equal(spantap_collector_finish(c, err, sizeof err), 0);
  spantap_collector_destroy(c);
  assert_int_equal(spantap_store_close(store, err, sizeof err), 0);
  fclose(stream);
  free(saved);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cookie_required),
      cmocka_unit_test(test_pass_in_completion_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
