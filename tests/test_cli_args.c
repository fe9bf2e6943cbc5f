/* Tests of the command-line reader every spantap command uses (cli/args.c):
 * the strict number parser, and the bounds of each option the commands share. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/args.h"
#include "cli/options.h"
#include "collector/collector.h"
#include "runtime/bpf_object.h"
#include "spantap/record_queue.h"
#include "reports/table_print.h"

/* ---- the number parser ---- */

static void test_number_accepts_digits_in_range(void **state) {
  (void)state;
  char err[200] = "";
  uint64_t v = 99;
  assert_int_equal(spantap_arg_number("--x", "0", 0, 4, &v, err, sizeof err), 0);
  assert_int_equal(v, 0);
  assert_int_equal(spantap_arg_number("--x", "4", 0, 4, &v, err, sizeof err), 0);
  assert_int_equal(v, 4);
  assert_int_equal(spantap_arg_number("--x", "007", 0, 10, &v, err, sizeof err), 0);
  assert_int_equal(v, 7);
  assert_int_equal(
      spantap_arg_number("--x", "18446744073709551615", 0, UINT64_MAX, &v, err, sizeof err), 0);
  assert_true(v == UINT64_MAX);
}

static void test_number_rejects_everything_else(void **state) {
  (void)state;
  static const char *const bad[] = {"",
                                    "-1",
                                    "+1",
                                    " 1",
                                    "1 ",
                                    "1a",
                                    "0x10",
                                    "1e3",
                                    "1.",
                                    "5",
                                    "-0",
                                    "\t3",
                                    "18446744073709551616",
                                    "99999999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[200] = "";
    uint64_t v = 42;
    assert_int_equal(spantap_arg_number("--stack-mode", bad[i], 0, 4, &v, err, sizeof err),
                     -EINVAL);
    assert_int_equal(v, 42); /* untouched */
    char want[64];
    snprintf(want, sizeof want, "'%s'", bad[i]);
    assert_non_null(strstr(err, "--stack-mode"));
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "from 0 to 4"));
  }
  char err[200];
  uint64_t v;
  assert_int_equal(
      spantap_arg_number("-n", "18446744073709551616", 0, UINT64_MAX, &v, err, sizeof err),
      -EINVAL);
  assert_non_null(strstr(err, "at least 0"));
  assert_int_equal(spantap_arg_number("-n", NULL, 0, 4, &v, err, sizeof err), -EINVAL);
}

/* ---- the shared options ---- */

struct parsed {
  unsigned mode, depth;
  bool mode_given;
  int64_t limit;
  enum spantap_table_format format;
  const char *output;
  bool force;
};

/* Reads ARGS (NULL-terminated, without the command's name) with every shared
 * option; returns spantap_args_read's result, *FIRST and ERR. */
static int read_args(struct parsed *p, const char *const *args, int *first, char *err,
                     size_t errlen) {
  *p = (struct parsed){.mode = 77, .depth = 77, .limit = 77, .format = SPANTAP_TABLE_TEXT};
  const struct spantap_opt opts[] = {
      SPANTAP_OPT_STACK_MODE(&p->mode, &p->mode_given),
      SPANTAP_OPT_STACK_DEPTH(&p->depth),
      SPANTAP_OPT_FORMAT(&p->format),
      SPANTAP_OPT_LIMIT(&p->limit),
      SPANTAP_OPT_OUTPUT(&p->output),
      SPANTAP_OPT_FORCE(&p->force),
  };
  const struct spantap_cmdline cl = SPANTAP_CMDLINE("test", "usage\n", opts, -1, NULL);
  char *argv[16] = {"test"};
  int argc = 1;
  while (*args && argc < 15)
    argv[argc++] = (char *)*args++;
  argv[argc] = NULL;
  return spantap_args_read(&cl, argc, argv, first, err, errlen);
}

/* Whether option OPT with VALUE is accepted; ERR gets the reason when not. */
static bool accepts(struct parsed *p, const char *opt, const char *value, char *err,
                    size_t errlen) {
  const char *args[] = {opt, value, NULL};
  int first;
  err[0] = '\0';
  int rc = read_args(p, args, &first, err, errlen);
  assert_true(rc == 0 || rc == -EINVAL);
  if (rc < 0) {
    assert_non_null(strstr(err, opt));   /* names the option as written ... */
    assert_non_null(strstr(err, value)); /* ... and the value */
  }
  return rc == 0;
}

static void test_stack_mode_bounds(void **state) {
  (void)state;
  struct parsed p;
  char err[200];
  assert_true(accepts(&p, "--stack-mode", "0", err, sizeof err));
  assert_int_equal(p.mode, 0);
  assert_true(p.mode_given);
  assert_true(accepts(&p, "-s", "4", err, sizeof err));
  assert_int_equal(p.mode, SPANTAP_STACK_MODE_MAX);
  assert_false(accepts(&p, "--stack-mode", "5", err, sizeof err));
  assert_non_null(strstr(err, "from 0 to 4"));
  assert_false(accepts(&p, "-s", "-1", err, sizeof err));
  assert_false(accepts(&p, "--stack-mode", "", err, sizeof err));
  assert_false(p.mode_given);
  /* unset unless given */
  const char *none[] = {NULL};
  int first;
  assert_int_equal(read_args(&p, none, &first, err, sizeof err), 0);
  assert_false(p.mode_given);
  assert_int_equal(p.mode, 77);
}

static void test_stack_depth_bounds(void **state) {
  (void)state;
  struct parsed p;
  char err[200], max[16], over[16];
  snprintf(max, sizeof max, "%d", SPANTAP_STACK_DEPTH_MAX);
  snprintf(over, sizeof over, "%d", SPANTAP_STACK_DEPTH_MAX + 1);
  assert_true(accepts(&p, "--stack-depth", "1", err, sizeof err));
  assert_int_equal(p.depth, 1);
  assert_true(accepts(&p, "-d", max, err, sizeof err));
  assert_int_equal(p.depth, SPANTAP_STACK_DEPTH_MAX);
  assert_false(accepts(&p, "--stack-depth", "0", err, sizeof err));
  assert_false(accepts(&p, "-d", over, err, sizeof err));
  assert_non_null(strstr(err, max));
  assert_false(accepts(&p, "-d", "8x", err, sizeof err));
}

static void test_limit_bounds(void **state) {
  (void)state;
  struct parsed p;
  char err[200];
  assert_true(accepts(&p, "-n", "0", err, sizeof err));
  assert_int_equal(p.limit, 0);
  assert_true(accepts(&p, "--limit", "9223372036854775807", err, sizeof err));
  assert_true(p.limit == INT64_MAX);
  assert_false(accepts(&p, "--limit", "9223372036854775808", err, sizeof err));
  assert_false(accepts(&p, "-n", "-1", err, sizeof err));
  assert_false(accepts(&p, "-n", "", err, sizeof err));
}

static void test_format_output_force(void **state) {
  (void)state;
  struct parsed p;
  char err[200];
  int first;
  const char *csv[] = {"--csv", "db", NULL};
  assert_int_equal(read_args(&p, csv, &first, err, sizeof err), 0);
  assert_int_equal(p.format, SPANTAP_TABLE_CSV);
  assert_int_equal(first, 2);
  /* operands may come first; the last format wins */
  const char *json[] = {"db", "--csv", "--json", "-f", "-o", "out.db", NULL};
  assert_int_equal(read_args(&p, json, &first, err, sizeof err), 0);
  assert_int_equal(p.format, SPANTAP_TABLE_JSON);
  assert_true(p.force);
  assert_string_equal(p.output, "out.db");
  assert_int_equal(first, 6); /* getopt moved the operand to the end */
  const char *csv_value[] = {"--csv=yes", NULL};
  assert_int_equal(read_args(&p, csv_value, &first, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "'--csv' takes no value"));
}

static void test_bad_command_lines(void **state) {
  (void)state;
  struct parsed p;
  char err[200];
  int first;
  const char *unknown[] = {"--stack-modes", "1", NULL};
  assert_int_equal(read_args(&p, unknown, &first, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "unknown option '--stack-modes'"));
  const char *letter[] = {"-x", NULL};
  assert_int_equal(read_args(&p, letter, &first, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "unknown option '-x'"));
  const char *missing[] = {"--stack-depth", NULL};
  assert_int_equal(read_args(&p, missing, &first, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "'--stack-depth' needs a value"));
  const char *help[] = {"-d", "3", "--help", NULL};
  assert_int_equal(read_args(&p, help, &first, err, sizeof err), 1);
}

/* A command that stops at its first operand (`record -- CMD`) leaves the
 * command's own options to it. */
static void test_in_order(void **state) {
  (void)state;
  bool force = false;
  const struct spantap_opt opts[] = {SPANTAP_OPT_FORCE(&force)};
  struct spantap_cmdline cl = SPANTAP_CMDLINE("test", "usage\n", opts, -1, NULL);
  cl.in_order = true;
  char *argv[] = {"test", "--", "ls", "-f", NULL};
  int first;
  char err[200];
  assert_int_equal(spantap_args_read(&cl, 4, argv, &first, err, sizeof err), 0);
  assert_false(force);
  assert_int_equal(first, 2);
  assert_string_equal(argv[first], "ls");
}

/* Parses `record ARGS...` (NULL-terminated) into O. */
static int parse_record(struct spantap_trace_options *o, const char *const *args) {
  char *argv[32] = {"record"};
  int n = 1;
  for (; args[n - 1]; n++)
    argv[n] = (char *)args[n - 1];
  argv[n] = NULL;
  return spantap_trace_options_parse(n, argv, true, o);
}

/* BPF objects: --compile-only with --runtime bpf builds one (the BPF
 * runtime, spantap's pid read at load);
 * --module X.bo selects the BPF runtime and takes the object's queues from
 * its mark; what an object cannot take is refused. */
static void test_bpf_object_options(void **state) {
  (void)state;
  struct spantap_trace_options o;
  struct spantap_script_opts so;
  char err[512] = "";
  const char *build[] = {"--compile-only", "--runtime", "bpf",    "--kernel-release",
                         "/tmp/tree",      "-b",        "server", "-o",
                         "x.bo",           NULL};
  assert_int_equal(parse_record(&o, build), 0);
  assert_string_equal(o.runtime, "bpf");
  assert_int_equal(
      spantap_trace_options_to_script(&o, SPANTAP_RUNTIME_BPF, 0, &so, err, sizeof err), 0);
  assert_true(so.self_pid_at_load);
  const char *module_build[] = {"--compile-only", "-b", "server", "-o", "x.ko", NULL};
  assert_int_equal(parse_record(&o, module_build), 0);
  assert_string_equal(o.runtime, "kernel");
  const char *with_pid[] = {"--compile-only", "--runtime", "bpf", "-p", "42", "-o", "x.bo", NULL};
  assert_int_equal(parse_record(&o, with_pid), -EINVAL);

  char bo[] = "/tmp/spantap-cli-XXXXXX.bo";
  int fd = mkstemps(bo, 3);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "\177ELF\0\0object", 13), 13);
  close(fd);
  const uint64_t cookie = 0x4123456789abcdefULL;
  assert_int_equal(spantap_bpf_object_mark(bo, cookie, SPANTAP_QUEUE_MAX_CPUS, err, sizeof err), 0);
  const char *run[] = {"--module", bo, "-o", "t.db", NULL};
  assert_int_equal(parse_record(&o, run), 0);
  assert_string_equal(o.runtime, "bpf");
  assert_int_equal(o.stack_mode, SPANTAP_STACK_AS_RECORDED);
  assert_int_equal(
      spantap_trace_options_to_script(&o, SPANTAP_RUNTIME_BPF, 0, &so, err, sizeof err), 0);
  assert_true(so.queue_cookie == cookie);
  assert_int_equal(so.queue_ncpu, SPANTAP_QUEUE_MAX_CPUS);
  const char *run_kernel[] = {"--module", bo, "--runtime", "kernel", NULL};
  assert_int_equal(parse_record(&o, run_kernel), -EINVAL);
  const char *run_cmd[] = {"--module", bo, "--", "true", NULL};
  assert_int_equal(parse_record(&o, run_cmd), -EINVAL);
  const char *run_bin[] = {"--module", bo, "-b", "server", NULL};
  assert_int_equal(parse_record(&o, run_bin), -EINVAL);
  unlink(bo);
  assert_int_equal(parse_record(&o, run), 0);
  assert_int_equal(
      spantap_trace_options_to_script(&o, SPANTAP_RUNTIME_BPF, 0, &so, err, sizeof err), -ENOENT);
  assert_non_null(strstr(err, bo));
}

/* --unwind: dwarf or fp; fp reaches the script options; a module built
 * ahead of time keeps its own; the BPF runtime has no DWARF unwinder. */
static void test_unwind_option(void **state) {
  (void)state;
  struct spantap_trace_options o;
  struct spantap_script_opts so;
  char err[512] = "";
  const char *fp[] = {"--unwind", "fp", "-b", "server", NULL};
  assert_int_equal(parse_record(&o, fp), 0);
  assert_int_equal(
      spantap_trace_options_to_script(&o, SPANTAP_RUNTIME_KERNEL, 0, &so, err, sizeof err), 0);
  assert_true(so.unwind_fp);
  assert_int_equal(
      spantap_trace_options_to_script(&o, SPANTAP_RUNTIME_BPF, 0, &so, err, sizeof err), 0);
  const char *dwarf[] = {"--unwind", "dwarf", "-b", "server", NULL};
  assert_int_equal(parse_record(&o, dwarf), 0);
  assert_int_equal(
      spantap_trace_options_to_script(&o, SPANTAP_RUNTIME_KERNEL, 0, &so, err, sizeof err), 0);
  assert_false(so.unwind_fp);
  assert_int_equal(
      spantap_trace_options_to_script(&o, SPANTAP_RUNTIME_BPF, 0, &so, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "--unwind dwarf"));
  const char *bad[] = {"--unwind", "lbr", "-b", "server", NULL};
  assert_int_equal(parse_record(&o, bad), -EINVAL);
  const char *module[] = {"--module", "x.ko", "--unwind", "fp", NULL};
  assert_int_equal(parse_record(&o, module), -EINVAL);
  const char *none[] = {"-b", "server", NULL};
  assert_int_equal(parse_record(&o, none), 0);
  assert_int_equal(
      spantap_trace_options_to_script(&o, SPANTAP_RUNTIME_KERNEL, 0, &so, err, sizeof err), 0);
  assert_false(so.unwind_fp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_number_accepts_digits_in_range),
      cmocka_unit_test(test_number_rejects_everything_else),
      cmocka_unit_test(test_stack_mode_bounds),
      cmocka_unit_test(test_stack_depth_bounds),
      cmocka_unit_test(test_limit_bounds),
      cmocka_unit_test(test_format_output_force),
      cmocka_unit_test(test_bad_command_lines),
      cmocka_unit_test(test_in_order),
      cmocka_unit_test(test_bpf_object_options),
      cmocka_unit_test(test_unwind_option),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
