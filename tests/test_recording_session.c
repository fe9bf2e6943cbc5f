/* Tests of the recording session's loop with a stand-in for staprun (a shell
 * script that prints what a tracing module would print and ends its stream
 * when interrupted): what reaches the sink, the reasons a recording ends
 * incomplete, failures of the sink that must stop the recording rather than
 * vanish, extra record sources, the traced command's release, and the
 * module's load-time values. Needs no privileges: the module runtime with a
 * module built ahead of time (opts.module) needs no machine setup and no stap. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/syscall_table.h"
#include "runtime/recording_session.h"
#include "spantap/record_format.h"

/* Prints BEGIN and READY, a loss report, its arguments and a progress line on
 * stderr, then waits; SIGINT makes it print END and exit.
 * FAKE_STAP_MODE=exit3 exits with status 3 right away instead; =deaf ignores
 * SIGINT (a runtime that does not stop) and starts a child that holds its
 * output open, as stap's stapbpf does. It refuses to run without a module
 * file as its first argument. */
static const char fake_staprun[] =
    "#!/bin/sh\n"
    "[ -s \"$1\" ] || { echo \"no module: $1\" >&2; exit 9; }\n"
    "trap 'echo \"END 9\"; exit 0' INT\n"
    "[ \"$FAKE_STAP_MODE\" = deaf ] && { trap '' INT; sleep 600 & }\n"
    "echo 'Pass 5: starting run.' >&2\n"
    "shift; echo \"params: $*\" >&2\n"
    "echo 'BEGIN 2 0 kernel'\n"
    "echo 'READY 1 3'\n"
    "echo 'WARNING: lost 7 perf_events on cpu 0' >&2\n"
    "[ \"$FAKE_STAP_MODE\" = exit3 ] && exit 3\n"
    "i=0; while [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\n";

static char dir[64], staprun_path[128], module_path[128];

struct sink_state {
  char stream[4096];
  size_t len;
  uint64_t lost;
  unsigned ticks;
  bool fail_stream, fail_lost;
};

static int on_stream(void *ctx, const char *buf, size_t len, char *err, size_t errlen) {
  struct sink_state *st = ctx;
  if (st->fail_stream) {
    snprintf(err, errlen, "Failed to store: test");
    return -EIO;
  }
  size_t n = len < sizeof st->stream - 1 - st->len ? len : sizeof st->stream - 1 - st->len;
  memcpy(st->stream + st->len, buf, n);
  st->len += n;
  st->stream[st->len] = '\0';
  return 0;
}

static int on_lost(void *ctx, uint64_t count, const char *source, char *err, size_t errlen) {
  struct sink_state *st = ctx;
  assert_string_equal(source, "runtime");
  if (st->fail_lost) {
    snprintf(err, errlen, "Failed to mark the spans open at a loss: test");
    return -EIO;
  }
  st->lost += count;
  return 0;
}

static int on_tick(void *ctx, char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  ((struct sink_state *)ctx)->ticks++;
  return 0;
}

static unsigned on_ready(void *ctx) {
  struct sink_state *st = ctx;
  return strstr(st->stream, "READY 1 3") ? SPANTAP_READY_ALL : 0;
}

static const struct spantap_target target = {.name = "no-such-binary-x"};

static struct spantap_session_opts base_opts(FILE *progress, double duration_s) {
  return (struct spantap_session_opts){
      .runtime = "kernel",
      .script = {.targets = &target,
                 .ntargets = 1,
                 .stack_mode = 1,
                 .stack_depth = 4,
                 .classes = SPANTAP_CLASS_NET},
      .duration_s = duration_s,
      .module = module_path,
      .staprun = staprun_path,
      .progress = progress,
  };
}

/* Runs a session to its end (at most 600 turns, a minute). Returns the first
 * error of spantap_session_poll, or 0. */
static int run(const struct spantap_session_opts *o, struct sink_state *st,
               const struct spantap_session_source *extra, struct spantap_session_result *res,
               char *err, size_t errlen) {
  struct spantap_session *s = NULL;
  assert_int_equal(spantap_session_new(o, &s, err, errlen), 0);
  if (extra)
    assert_int_equal(spantap_session_add_source(s, extra), 0);
  const struct spantap_session_sink sink = {
      .ctx = st, .stream = on_stream, .lost = on_lost, .tick = on_tick, .ready = on_ready};
  assert_int_equal(spantap_session_start(s, &sink, err, errlen), 0);
  int rc = 1;
  for (int turn = 0; turn < 600 && rc > 0; turn++)
    rc = spantap_session_poll(s, err, errlen);
  assert_true(rc <= 0);
  spantap_session_stop(s, res);
  char *reason = res->incomplete ? strdup(res->incomplete) : NULL;
  spantap_session_destroy(s);
  res->incomplete = reason; /* the caller frees it */
  return rc;
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/spantap-session-test.XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(module_path, sizeof module_path, "%s/spt_test.ko", dir);
  FILE *f = fopen(module_path, "w");
  if (!f)
    return -1;
  fputs("not really a module", f);
  fclose(f);
  snprintf(staprun_path, sizeof staprun_path, "%s/fake-staprun", dir);
  f = fopen(staprun_path, "w");
  if (!f)
    return -1;
  fputs(fake_staprun, f);
  fclose(f);
  return chmod(staprun_path, 0755);
}

static int teardown(void **state) {
  (void)state;
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd);
}

static void test_complete(void **state) {
  (void)state;
  char *msgs = NULL, err[256] = "";
  size_t msgs_len = 0;
  FILE *progress = open_memstream(&msgs, &msgs_len);
  struct spantap_session_opts o = base_opts(progress, 0.3);
  struct sink_state st = {0};
  struct spantap_session_result res;
  assert_int_equal(run(&o, &st, NULL, &res, err, sizeof err), 0);
  fclose(progress);
  assert_non_null(strstr(st.stream, "BEGIN 2 0 kernel\n"));
  assert_non_null(strstr(st.stream, "END 9\n")); /* stopped in order, with SIGINT */
  assert_int_equal(st.lost, 7);
  assert_true(res.ready);
  assert_null(res.incomplete);
  assert_true(res.started_ns > 0);
  assert_non_null(strstr(msgs, "spantap: runtime kernel (as asked)"));
  assert_non_null(strstr(msgs, "spantap: tracing for the given duration"));
  assert_non_null(strstr(msgs, "stap: WARNING: lost 7 perf_events on cpu 0"));
  assert_null(strstr(msgs, "Pass 5")); /* stap's progress lines are not the user's */
  /* the module's load-time values: spantap's pid, no launched command, no --pid */
  char params[128];
  snprintf(params, sizeof params, "stap: params: _st_self_pid=%ld _st_launch_pid=-1\n",
           (long)getpid());
  assert_non_null(strstr(msgs, params));
  free(msgs);
}

/* A runtime that does not stop when asked is killed after the stop timeout,
 * with the child it started (or its output would never end): the recording
 * ends, incomplete, with what arrived before. */
static void test_stap_that_does_not_stop_is_killed(void **state) {
  (void)state;
  char *msgs = NULL, err[256] = "";
  size_t msgs_len = 0;
  FILE *progress = open_memstream(&msgs, &msgs_len);
  struct spantap_session_opts o = base_opts(progress, 0.3);
  o.stop_timeout_s = 0.5;
  struct sink_state st = {0};
  struct spantap_session_result res;
  setenv("FAKE_STAP_MODE", "deaf", 1);
  assert_int_equal(run(&o, &st, NULL, &res, err, sizeof err), 0);
  unsetenv("FAKE_STAP_MODE");
  fclose(progress);
  assert_true(res.ready);
  assert_non_null(strstr(st.stream, "READY 1 3\n"));
  assert_null(strstr(st.stream, "END 9")); /* it never stopped in order */
  assert_non_null(res.incomplete);
  assert_non_null(strstr(res.incomplete, "did not stop within 0.5 s of being asked"));
  assert_non_null(strstr(msgs, "spantap: the runtime did not stop within 0.5 s of being asked: "
                               "killing staprun (pid "));
  free((char *)res.incomplete);
  free(msgs);
}

static void test_stap_exits_on_its_own(void **state) {
  (void)state;
  char err[256] = "";
  struct spantap_session_opts o = base_opts(NULL, 60);
  struct sink_state st = {0};
  struct spantap_session_result res;
  setenv("FAKE_STAP_MODE", "exit3", 1);
  assert_int_equal(run(&o, &st, NULL, &res, err, sizeof err), 0);
  unsetenv("FAKE_STAP_MODE");
  assert_non_null(res.incomplete);
  assert_non_null(strstr(res.incomplete, "stap exited on its own (status 3)"));
  free((char *)res.incomplete);
}

/* A loss the sink fails to record stops the recording, with the sink's reason. */
static void test_lost_failure_stops(void **state) {
  (void)state;
  char err[256] = "";
  struct spantap_session_opts o = base_opts(NULL, 60);
  struct sink_state st = {.fail_lost = true};
  struct spantap_session_result res;
  assert_int_equal(run(&o, &st, NULL, &res, err, sizeof err), -EIO);
  assert_non_null(strstr(err, "Failed to mark the spans open at a loss"));
  assert_string_equal(res.incomplete, "storing failed");
  free((char *)res.incomplete);
}

static void test_stream_failure_stops(void **state) {
  (void)state;
  char err[256] = "";
  struct spantap_session_opts o = base_opts(NULL, 60);
  struct sink_state st = {.fail_stream = true};
  struct spantap_session_result res;
  assert_int_equal(run(&o, &st, NULL, &res, err, sizeof err), -EIO);
  assert_string_equal(err, "Failed to store: test");
  assert_false(res.ready);
  assert_string_equal(res.incomplete, "storing failed");
  free((char *)res.incomplete);
}

struct pipe_source {
  int fd;
  size_t bytes;
  bool ended;
};

static int read_pipe(void *ctx, char *err, size_t errlen) {
  struct pipe_source *p = ctx;
  char buf[64];
  ssize_t n = read(p->fd, buf, sizeof buf);
  if (n < 0) {
    snprintf(err, errlen, "Failed to read: errno=%d", errno);
    return -errno;
  }
  p->bytes += (size_t)n;
  p->ended = n == 0;
  return p->ended ? 1 : 0;
}

static void test_extra_source(void **state) {
  (void)state;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  assert_int_equal(write(fds[1], "records", 7), 7);
  close(fds[1]);
  struct pipe_source p = {.fd = fds[0]};
  const struct spantap_session_source src = {.fd = fds[0], .readable = read_pipe, .ctx = &p};
  char err[256] = "";
  struct spantap_session_opts o = base_opts(NULL, 0.3);
  struct sink_state st = {0};
  struct spantap_session_result res;
  assert_int_equal(run(&o, &st, &src, &res, err, sizeof err), 0);
  close(fds[0]);
  assert_int_equal(p.bytes, 7);
  assert_true(p.ended);
  assert_null(res.incomplete);
}

/* The command runs once tracing starts, and can be stopped: the signals the
 * session blocks for itself are not blocked in it. */
static void test_command_released_unblocked(void **state) {
  (void)state;
  char out[192];
  snprintf(out, sizeof out, "%s/status", dir);
  /* cp reads its own status: no shell in between (a shell may reset the mask) */
  char *command[] = {"cp", "/proc/self/status", out, NULL};
  char err[256] = "";
  struct spantap_session_opts o = base_opts(NULL, 60);
  o.command = command;
  struct sink_state st = {0};
  struct spantap_session_result res;
  assert_int_equal(run(&o, &st, NULL, &res, err, sizeof err), 0); /* ends with the command */
  assert_null(res.incomplete);
  FILE *f = fopen(out, "r");
  assert_non_null(f);
  char line[128], blocked[128] = "";
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "SigBlk:", 7) == 0)
      snprintf(blocked, sizeof blocked, "%s", line);
  fclose(f);
  assert_string_equal(blocked, "SigBlk:\t0000000000000000\n");
}

static void test_missing_stap(void **state) {
  (void)state;
  char err[256] = "";
  struct spantap_session_opts o = base_opts(NULL, 1);
  o.module = NULL; /* the module is built here: stap is needed */
  o.stap = "/nonexistent/stap";
  struct spantap_session *s = (void *)1;
  assert_int_equal(spantap_session_new(&o, &s, err, sizeof err), -ENOENT);
  assert_null(s);
  assert_non_null(strstr(err, "SystemTap (stap) not found"));
  spantap_session_destroy(NULL);
}

/* A module built ahead of time needs staprun, not stap. */
static void test_missing_staprun(void **state) {
  (void)state;
  char err[256] = "";
  struct spantap_session_opts o = base_opts(NULL, 1);
  o.stap = "/nonexistent/stap";
  o.staprun = "/nonexistent/staprun";
  struct spantap_session *s = (void *)1;
  assert_int_equal(spantap_session_new(&o, &s, err, sizeof err), -ENOENT);
  assert_null(s);
  assert_non_null(strstr(err, "staprun not found"));
}

/* A module that cannot be read fails the start, saying which. */
static void test_missing_module(void **state) {
  (void)state;
  char err[256] = "";
  struct spantap_session_opts o = base_opts(NULL, 1);
  o.module = "/nonexistent/spt_x.ko";
  struct spantap_session *s = NULL;
  assert_int_equal(spantap_session_new(&o, &s, err, sizeof err), 0);
  struct sink_state st = {0};
  const struct spantap_session_sink sink = {
      .ctx = &st, .stream = on_stream, .lost = on_lost, .tick = on_tick, .ready = on_ready};
  assert_int_equal(spantap_session_start(s, &sink, err, sizeof err), -ENOENT);
  assert_non_null(strstr(err, "Failed to open module: path=/nonexistent/spt_x.ko"));
  spantap_session_destroy(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_complete),
      cmocka_unit_test(test_stap_exits_on_its_own),
      cmocka_unit_test(test_lost_failure_stops),
      cmocka_unit_test(test_stream_failure_stops),
      cmocka_unit_test(test_extra_source),
      cmocka_unit_test(test_command_released_unblocked),
      cmocka_unit_test(test_missing_stap),
      cmocka_unit_test(test_missing_staprun),
      cmocka_unit_test(test_missing_module),
      cmocka_unit_test(test_stap_that_does_not_stop_is_killed),
  };
  return cmocka_run_group_tests_name("recording_session", tests, setup, teardown);
}
