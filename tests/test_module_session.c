/* Tests of the module runtime's steps of a recording session with stand-ins
 * for stap and staprun (shell scripts that record how they were called): the
 * script built from a path named by its text (stap's cache key holds the
 * script's path), the module's name and load-time values given to staprun,
 * a module built ahead of time, and --compile-only's checks and copy. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/syscall_table.h"
#include "runtime/bpf_object.h"
#include "runtime/module_session.h"
#include "runtime/stap_launch.h"

/* stap -p4 ... SCRIPT: notes SCRIPT (and keeps a copy); with -m NAME leaves
 * NAME.ko (NAME.bo with --runtime=bpf) in its working directory, else prints
 * the path of a module in "its cache". */
static const char fake_stap[] =
    "#!/bin/sh\n"
    "d=$(dirname \"$0\"); name=; ext=ko\n"
    "while [ $# -gt 1 ]; do [ \"$1\" = -m ] && name=$2;\n"
    "  [ \"$1\" = --runtime=bpf ] && ext=bo; shift; done\n"
    "echo \"$1\" >> \"$d/built-from\"; cp \"$1\" \"$d/last-script\"\n"
    "if [ -n \"$name\" ]; then echo module > \"$name.$ext\"; exit 0; fi\n"
    "echo module > \"$d/stap_0123abcd_42.ko\"\n"
    "echo \"$d/stap_0123abcd_42.ko\"\n";

/* staprun MODULE PARAM...: notes its arguments. */
static const char fake_staprun[] = "#!/bin/sh\n"
                                   "echo \"$*\" > \"$(dirname \"$0\")/staprun-args\"\n";

static char dir[64], stap[128], staprun[128];

static void write_file(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(chmod(path, mode), 0);
}

/* The contents of DIR/NAME (static buffer; "" when missing). */
static const char *read_file(const char *name) {
  static char buf[1 << 16];
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  buf[0] = '\0';
  FILE *f = fopen(p, "r");
  if (f) {
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
  }
  return buf;
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/spantap-module-session.XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(stap, sizeof stap, "%s/fake-stap", dir);
  snprintf(staprun, sizeof staprun, "%s/fake-staprun", dir);
  write_file(stap, fake_stap, 0755);
  write_file(staprun, fake_staprun, 0755);
  char state_dir[128];
  snprintf(state_dir, sizeof state_dir, "%s/state", dir);
  return setenv("SPANTAP_STATE_DIR", state_dir, 1);
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd);
}

/* Loads L (staprun's output closed, staprun reaped). Returns what
 * spantap_module_load returned. */
static int load(const struct spantap_module_load *l, char *loaded, size_t len, char *err,
                size_t errlen) {
  const pid_t attach[] = {4242};
  const struct spantap_script_opts so = {
      .self_pid = 1234, .launch_pid = 0, .attach_pids = attach, .nattach = 1};
  struct spantap_stap out = {.pid = 0, .out_fd = -1, .err_fd = -1};
  int rc = spantap_module_load(l, &so, loaded, len, &out, err, errlen);
  if (rc == 0) {
    assert_true(out.pid > 0);
    int st;
    assert_int_equal(waitpid(out.pid, &st, 0), out.pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(out.out_fd);
    close(out.err_fd);
  }
  return rc;
}

/* The same script text, written at two temporary paths, is built from one
 * path named by its text; staprun gets the module stap printed and the
 * load-time values. */
static void test_build_through_stable_path(void **state) {
  (void)state;
  const char *text = "probe begin { exit() }\n";
  char script[2][128], loaded[64], err[512] = "";
  for (int i = 0; i < 2; i++) {
    snprintf(script[i], sizeof script[i], "%s/tmp%d.stp", dir, i);
    write_file(script[i], text, 0644);
    const struct spantap_module_load l = {
        .stap = stap, .script_path = script[i], .staprun = staprun};
    if (load(&l, loaded, sizeof loaded, err, sizeof err) != 0)
      fail_msg("load %d failed: %s", i, err);
    assert_string_equal(loaded, "stap_0123abcd_42");
  }
  char name[64], want[512];
  spantap_module_name_of_script(text, strlen(text), name, sizeof name);
  snprintf(want, sizeof want, "%s/state/scripts/%s.stp\n%s/state/scripts/%s.stp\n", dir, name, dir,
           name);
  assert_string_equal(read_file("built-from"), want);
  char stable[256];
  snprintf(stable, sizeof stable, "state/scripts/%s.stp", name);
  assert_string_equal(read_file(stable), text);
  char args[512];
  snprintf(args, sizeof args,
           "%s/stap_0123abcd_42.ko _st_self_pid=1234 _st_launch_pid=-1 %s0=4242\n", dir,
           SPANTAP_KPARAM_ATTACH_PREFIX);
  assert_string_equal(read_file("staprun-args"), args);
}

/* A module built ahead of time goes to staprun as it is, under its file's
 * name; stap is not run. */
static void test_module_built_elsewhere(void **state) {
  (void)state;
  char ko[128], loaded[64], err[512] = "";
  snprintf(ko, sizeof ko, "%s/spt_web.ko", dir);
  write_file(ko, "module", 0644);
  char built_from[128];
  snprintf(built_from, sizeof built_from, "%s/built-from", dir);
  unlink(built_from);
  const struct spantap_module_load l = {
      .module = ko, .stap = "/nonexistent/stap", .staprun = staprun};
  assert_int_equal(load(&l, loaded, sizeof loaded, err, sizeof err), 0);
  assert_string_equal(loaded, "spt_web");
  assert_non_null(strstr(read_file("staprun-args"), "spt_web.ko _st_self_pid=1234"));
  assert_string_equal(read_file("built-from"), ""); /* stap never ran */
  const struct spantap_module_load gone = {
      .module = "/nonexistent/spt_x.ko", .stap = stap, .staprun = staprun};
  assert_int_equal(load(&gone, loaded, sizeof loaded, err, sizeof err), -ENOENT);
  assert_non_null(strstr(err, "Failed to open module: path=/nonexistent/spt_x.ko"));
}

/* --buffer-size reaches staprun as each CPU's relay buffer (-b MIB), before
 * the module; without it staprun keeps the module's default. */
static void test_relay_buffer_size(void **state) {
  (void)state;
  char ko[128], loaded[64], err[512] = "";
  snprintf(ko, sizeof ko, "%s/spt_web.ko", dir);
  write_file(ko, "module", 0644);
  const struct spantap_module_load l = {.module = ko, .staprun = staprun};
  const struct spantap_script_opts so = {.self_pid = 1234, .relay_mib_per_cpu = 4};
  struct spantap_stap out = {.pid = 0, .out_fd = -1, .err_fd = -1};
  assert_int_equal(spantap_module_load(&l, &so, loaded, sizeof loaded, &out, err, sizeof err), 0);
  assert_int_equal(waitpid(out.pid, NULL, 0), out.pid);
  close(out.out_fd);
  close(out.err_fd);
  char want[256];
  snprintf(want, sizeof want, "-b 4 %s _st_self_pid=1234", ko);
  assert_non_null(strstr(read_file("staprun-args"), want));
  assert_int_equal(load(&l, loaded, sizeof loaded, err, sizeof err), 0);
  assert_null(strstr(read_file("staprun-args"), "-b"));
}

/* The runtimes' loss reports on standard error, as counted into events_lost:
 * the records the patched module runtime names before its transport
 * failures, else the failures; stapio's lost messages; stapbpf's lost
 * events; the records the script's full tables kept out (runtime_kernel.stp);
 * skipped probes. Other lines count nothing. */
static void test_lost_in_line(void **state) {
  (void)state;
  assert_int_equal(spantap_stap_lost_in_line("WARNING: There were 4914 transport failures "
                                             "(5012 records lost). Try stap -s to increase the "
                                             "buffer size from 1."),
                   5012);
  assert_int_equal(spantap_stap_lost_in_line("WARNING: There were 12 transport failures. Try "
                                             "stap -s to increase the buffer size from 16."),
                   12);
  assert_int_equal(
      spantap_stap_lost_in_line("WARNING: There were 7 lost messages and 900 lost bytes."), 7);
  assert_int_equal(spantap_stap_lost_in_line("WARNING: lost 33 perf_events on cpu 1"), 33);
  assert_int_equal(spantap_stap_lost_in_line("WARNING: spantap: lost 3 records: a table of "
                                             "syscalls in flight or of threads off-CPU was full"),
                   3);
  assert_int_equal(spantap_stap_lost_in_line("WARNING: Number of errors: 0, skipped probes: 5"), 5);
  assert_int_equal(spantap_stap_lost_in_line("WARNING: _stp_read_address failed to access memory "
                                             "location"),
                   0);
  assert_int_equal(spantap_stap_lost_in_line("Pass 5: run completed"), 0);
}

/* --compile-only: the output must be NAME.ko, is not replaced without FORCE,
 * and receives the module stap built under that name. */
static void test_compile(void **state) {
  (void)state;
  const struct spantap_target t = {.name = "server"};
  const struct spantap_script_opts so = {.runtime = SPANTAP_RUNTIME_KERNEL,
                                         .targets = &t,
                                         .ntargets = 1,
                                         .stack_mode = 2,
                                         .stack_depth = 8,
                                         .classes = SPANTAP_CLASS_NET,
                                         .self_pid = 1};
  const char *args[] = {"--ldd", NULL};
  char err[512] = "", ko[128];
  snprintf(ko, sizeof ko, "%s/bad-name.ko", dir);
  assert_int_equal(spantap_module_compile(stap, args, NULL, &so, ko, false, NULL, err, sizeof err),
                   -EINVAL);
  assert_non_null(strstr(err, "must be NAME.ko"));
  snprintf(ko, sizeof ko, "%s/spt_server.ko", dir);
  write_file(ko, "old", 0644);
  assert_int_equal(spantap_module_compile(stap, args, NULL, &so, ko, false, NULL, err, sizeof err),
                   -EEXIST);
  assert_string_equal(read_file("spt_server.ko"), "old");
  if (spantap_module_compile(stap, args, "6.1.0-57-amd64", &so, ko, true, NULL, err, sizeof err))
    fail_msg("compile failed: %s", err);
  assert_string_equal(read_file("spt_server.ko"), "module\n");
}

/* --compile-only with the BPF runtime: the output must be NAME.bo; it gets
 * stap's object followed by the mark of its queues, and the script reads
 * spantap's pid from stapbpf's -x (target()). */
static void test_compile_bpf_object(void **state) {
  (void)state;
  const struct spantap_target t = {.name = "server"};
  const struct spantap_script_opts so = {.runtime = SPANTAP_RUNTIME_BPF,
                                         .targets = &t,
                                         .ntargets = 1,
                                         .stack_mode = 0,
                                         .stack_depth = 8,
                                         .classes = SPANTAP_CLASS_NET,
                                         .self_pid = 1,
                                         .queue_cookie = 0x4000000000000abcULL,
                                         .queue_ncpu = 3,
                                         .self_pid_at_load = true};
  const char *args[] = {"--runtime=bpf", NULL};
  char err[512] = "", bo[128];
  snprintf(bo, sizeof bo, "%s/spt_server.ko", dir);
  assert_int_equal(
      spantap_module_compile(stap, args, "/tree", &so, bo, true, NULL, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "must be NAME.bo"));
  snprintf(bo, sizeof bo, "%s/spt_server.bo", dir);
  if (spantap_module_compile(stap, args, "/tree", &so, bo, false, NULL, err, sizeof err))
    fail_msg("compile failed: %s", err);
  uint64_t cookie = 0;
  unsigned ncpu = 0;
  assert_int_equal(spantap_bpf_object_read_mark(bo, &cookie, &ncpu, err, sizeof err), 0);
  assert_true(cookie == so.queue_cookie);
  assert_int_equal(ncpu, 3);
  assert_memory_equal(read_file("spt_server.bo"), "module\n", 7);
  const char *script = read_file("last-script");
  assert_non_null(strstr(script, "pid() == target()"));
  assert_non_null(strstr(script, "if (p == target()) return 2"));
  assert_null(strstr(script, "if (p == 1) return 2")); /* so.self_pid is not written in */
  assert_null(strstr(script, "\"kernel<")); /* the BPF runtime reads the kernel's DWARF */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_build_through_stable_path),
      cmocka_unit_test(test_module_built_elsewhere),
      cmocka_unit_test(test_relay_buffer_size),
      cmocka_unit_test(test_lost_in_line),
      cmocka_unit_test(test_compile),
      cmocka_unit_test(test_compile_bpf_object),
  };
  return cmocka_run_group_tests_name("module_session", tests, setup, teardown);
}
