/* Tests of the script generator: golden scripts for both runtimes and every
 * stack mode, option checks, and that no user string can reach the script.
 * SPANTAP_UPDATE_GOLDEN=1 rewrites the golden files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/script_gen.h"
#include "common/syscall_table.h"

static struct spantap_target targets[] = {
    {.name = "demo-server"},
    {.name = "a-name-longer-than-fifteen-bytes"},
    {.name = "/usr/bin/x", .is_path = true, .ino = 4242, .kdev = (8u << 20) | 1},
};

static struct spantap_script_opts base_opts(enum spantap_runtime rt, unsigned mode) {
  static const pid_t pids[] = {4321};
  return (struct spantap_script_opts){.runtime = rt,
                                      .targets = targets,
                                      .ntargets = 3,
                                      .attach_pids = pids,
                                      .nattach = 1,
                                      .launch_pid = 1234,
                                      .self_pid = 999,
                                      .stack_mode = mode,
                                      .stack_depth = 6,
                                      .classes = SPANTAP_DEFAULT_CLASSES,
                                      .extras = SPANTAP_EXTRA_TCP | SPANTAP_EXTRA_SCHED |
                                                SPANTAP_EXTRA_FAULTS,
                                      .follow_exec = true,
                                      .queue_cookie = UINT64_C(0x5eed5eed12345678),
                                      .queue_ncpu = 2};
}

static char *generate(const struct spantap_script_opts *o, int *rc, char *err, size_t errlen) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  *rc = spantap_script_generate(o, f, err, errlen);
  fclose(f);
  return buf;
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *s = calloc(1, (size_t)n + 1);
  if (fread(s, 1, (size_t)n, f) != (size_t)n) {
    free(s);
    s = NULL;
  }
  fclose(f);
  return s;
}

static void check_golden(enum spantap_runtime rt, unsigned mode) {
  struct spantap_script_opts o = base_opts(rt, mode);
  char err[256], path[512];
  int rc;
  char *got = generate(&o, &rc, err, sizeof err);
  assert_int_equal(rc, 0);
  snprintf(path, sizeof path, "%s/%s_mode%u.stp", GOLDEN_DIR, spantap_runtime_name(rt), mode);
  if (getenv("SPANTAP_UPDATE_GOLDEN")) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(got, f);
    fclose(f);
  }
  char *want = read_file(path);
  if (!want)
    fail_msg("golden file missing: %s (run with SPANTAP_UPDATE_GOLDEN=1)", path);
  if (strcmp(got, want) != 0)
    fail_msg("generated script differs from %s (inspect, then SPANTAP_UPDATE_GOLDEN=1)", path);
  free(want);
  free(got);
}

static void test_golden_bpf(void **state) {
  (void)state;
  for (unsigned m = 1; m <= 4; m++)
    check_golden(SPANTAP_RUNTIME_BPF, m);
}

static void test_golden_kernel(void **state) {
  (void)state;
  for (unsigned m = 1; m <= 4; m++)
    check_golden(SPANTAP_RUNTIME_KERNEL, m);
}

static void test_no_placeholder_left(void **state) {
  (void)state;
  for (int rt = 0; rt < 2; rt++) {
    for (unsigned m = 0; m <= 4; m++) {
      struct spantap_script_opts o = base_opts((enum spantap_runtime)rt, m);
      char err[256];
      int rc;
      char *s = generate(&o, &rc, err, sizeof err);
      assert_int_equal(rc, 0);
      assert_null(strstr(s, "@@"));
      /* every probe family the options ask for is there */
      assert_non_null(strstr(s, "sched:sched_process_fork"));
      assert_non_null(strstr(s, "raw_syscalls:sys_exit"));
      assert_non_null(strstr(s, "sock:inet_sock_set_state"));
      assert_non_null(strstr(s, "exceptions:page_fault_user"));
      assert_int_equal(strstr(s, "_sflags") != NULL, rt == SPANTAP_RUNTIME_BPF && m > 0);
      free(s);
    }
  }
}

static void test_names_never_reach_script(void **state) {
  (void)state;
  /* names crafted to break out of a comment or string, or to run code */
  static const char *const evil[] = {"x\n} probe begin { system(\"id\") } //",
                                     "\"; system(\"rm -rf /\"); \"", "%{ evil %}", "a*b?c"};
  for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
    struct spantap_target t = {.name = evil[i]};
    struct spantap_script_opts o = base_opts(SPANTAP_RUNTIME_KERNEL, 1);
    o.targets = &t;
    o.ntargets = 1;
    char err[256];
    int rc;
    char *s = generate(&o, &rc, err, sizeof err);
    if (strchr(evil[i], '/')) {
      assert_int_equal(rc, -EINVAL); /* a name cannot hold '/' */
    } else {
      assert_int_equal(rc, 0);
      assert_null(strstr(s, evil[i]));
      assert_null(strstr(s, "system("));
      assert_null(strstr(s, "%{ evil")); /* the runtime's own embedded C is there */
    }
    free(s);
  }
}

static void test_name_words(void **state) {
  (void)state;
  /* "demo-server" as little-endian words: comm and file name compare these */
  struct spantap_script_opts o = base_opts(SPANTAP_RUNTIME_BPF, 1);
  char err[256];
  int rc;
  char *s = generate(&o, &rc, err, sizeof err);
  assert_non_null(strstr(s, "k = 0x7265732d6f6d6564\n  if (c0 == k) {\n    k = 0x726576\n"));
  /* a long name: the file name is compared in full (32 bytes), the comm not */
  assert_non_null(strstr(s, "if (w == 32) {"));
  assert_null(strstr(s, "k = 0x6c2d656d616e2d61\n  if (c0 == k)"));
  /* a path: its inode, then its device */
  assert_non_null(strstr(s, "i_ino; k = 4242\n"));
  assert_non_null(strstr(s, "s_dev; k = 8388609\n"));
  free(s);
}

static void test_option_errors(void **state) {
  (void)state;
  char err[256];
  struct spantap_script_opts o = base_opts(SPANTAP_RUNTIME_BPF, 5);
  assert_int_equal(spantap_script_opts_check(&o, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "stack mode 5"));
  o = base_opts(SPANTAP_RUNTIME_BPF, 1);
  o.stack_depth = 0;
  assert_int_equal(spantap_script_opts_check(&o, err, sizeof err), -EINVAL);
  o = base_opts(SPANTAP_RUNTIME_BPF, 1);
  o.ntargets = 0;
  o.nattach = 0;
  o.launch_pid = 0;
  assert_int_equal(spantap_script_opts_check(&o, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "nothing to trace"));
  unsigned c, x;
  assert_int_equal(spantap_events_parse("net,file,sched", &c, &x, err, sizeof err), 0);
  assert_int_equal(c, SPANTAP_CLASS_NET | SPANTAP_CLASS_FILE);
  assert_int_equal(x, SPANTAP_EXTRA_SCHED);
  assert_int_equal(spantap_events_parse("net,bogus", &c, &x, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "'bogus'"));
  assert_int_equal(spantap_events_parse("", &c, &x, err, sizeof err), -EINVAL);
}

static void test_class_selection(void **state) {
  (void)state;
  /* net only: read is recorded only on sockets (bit 2), connect always (1|4) */
  struct spantap_script_opts o = base_opts(SPANTAP_RUNTIME_BPF, 1);
  o.classes = SPANTAP_CLASS_NET;
  char err[256];
  int rc;
  char *s = generate(&o, &rc, err, sizeof err);
  char want[64];
  snprintf(want, sizeof want, "_st_want[%ld] = 6", spantap_syscall_by_name("read"));
  assert_non_null(strstr(s, want));
  snprintf(want, sizeof want, "_st_want[%ld] = 5", spantap_syscall_by_name("connect"));
  assert_non_null(strstr(s, want));
  /* mmap is not in the net class, but is followed for its mappings when stacks are kept */
  snprintf(want, sizeof want, "_st_want[%ld] = 16;", spantap_syscall_by_name("mmap"));
  assert_non_null(strstr(s, want));
  free(s);
  o.stack_mode = 0;
  s = generate(&o, &rc, err, sizeof err);
  snprintf(want, sizeof want, "_st_want[%ld] =", spantap_syscall_by_name("mmap"));
  assert_null(strstr(s, want));
  free(s);
  o.stack_mode = 1;
  o.classes = SPANTAP_CLASS_NET | SPANTAP_CLASS_FILE;
  s = generate(&o, &rc, err, sizeof err);
  snprintf(want, sizeof want, "_st_want[%ld] = 5", spantap_syscall_by_name("read"));
  assert_non_null(strstr(s, want));
  free(s);
}

/* The module runtime's script holds no pid: the values that change between
 * recordings are load-time globals, so the same options give the same script
 * (and stap's cache serves its module). */
static void test_kernel_script_is_pid_free(void **state) {
  (void)state;
  struct spantap_script_opts a = base_opts(SPANTAP_RUNTIME_KERNEL, 2);
  struct spantap_script_opts b = a;
  static const pid_t other[] = {777};
  b.self_pid = 31337;
  b.launch_pid = 4444;
  b.attach_pids = other;
  char err[256];
  int rc;
  char *sa = generate(&a, &rc, err, sizeof err);
  assert_int_equal(rc, 0);
  char *sb = generate(&b, &rc, err, sizeof err);
  assert_int_equal(rc, 0);
  assert_string_equal(sa, sb);
  assert_null(strstr(sa, "999"));
  assert_null(strstr(sa, "1234"));
  assert_null(strstr(sa, "4321"));
  assert_non_null(strstr(sa, "global " SPANTAP_KPARAM_SELF_PID));
  assert_non_null(strstr(sa, "if (p == " SPANTAP_KPARAM_ATTACH_PREFIX "0) return 1"));
  free(sa);
  free(sb);
  /* more --pid than the module has slots for */
  static pid_t many[SPANTAP_KPARAM_ATTACH_SLOTS + 1];
  a.attach_pids = many;
  a.nattach = SPANTAP_KPARAM_ATTACH_SLOTS + 1;
  assert_int_equal(spantap_script_opts_check(&a, err, sizeof err), -EINVAL);
  /* the BPF runtime keeps its constants */
  struct spantap_script_opts c = base_opts(SPANTAP_RUNTIME_BPF, 2);
  char *sc = generate(&c, &rc, err, sizeof err);
  assert_non_null(strstr(sc, "if (p == 999) return 2"));
  free(sc);
}

/* The module runtime's script takes its types from the kernel's headers,
 * unwinds quietly to the end of the stack with each frame once, guards the
 * reads a kernel thread would fault on, and reads group_dead where the
 * tracepoint lacks it. */
static void test_kernel_script_survives(void **state) {
  (void)state;
  struct spantap_script_opts o = base_opts(SPANTAP_RUNTIME_KERNEL, 4);
  char err[256];
  int rc;
  char *s = generate(&o, &rc, err, sizeof err);
  assert_int_equal(rc, 0);
  assert_null(strstr(s, "\"kernel\")"));
  assert_non_null(strstr(s, "\"kernel<linux/sched.h>"));
  assert_null(strstr(s, "ucallers("));
  assert_null(strstr(s, "uaddr()"));
  assert_non_null(strstr(s, "_ustk = _st_ustk(6)"));
  assert_non_null(strstr(s, "if (!_mm) return 0"));
  assert_non_null(strstr(s, "@defined($group_dead) ? $group_dead : _st_group_dead(task)"));
  /* TCP records get stacks: the kernel runtime's _st_user_regs is not a constant 0 */
  assert_null(strstr(s, "_st_user_regs:long (task:long) { return 0 }"));
  free(s);
}

/* --unwind fp: the module runtime's stack token comes from the frame-pointer
 * walk, with the same depth and the same sp scan as the BPF runtime. */
static void test_kernel_script_unwind_fp(void **state) {
  (void)state;
  struct spantap_script_opts o = base_opts(SPANTAP_RUNTIME_KERNEL, 4);
  o.unwind_fp = true;
  char err[256];
  int rc;
  char *s = generate(&o, &rc, err, sizeof err);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(s, "_ustk = _st_ustk_fp(6)"));
  assert_null(strstr(s, "_ustk = _st_ustk(6)"));
  assert_non_null(strstr(s, "frame-pointer walk"));
  assert_non_null(strstr(s, "for (i = 0; i < 6 && !ra; i++)"));
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kernel_script_is_pid_free),
      cmocka_unit_test(test_kernel_script_survives),
      cmocka_unit_test(test_kernel_script_unwind_fp),
      cmocka_unit_test(test_golden_bpf),
      cmocka_unit_test(test_golden_kernel),
      cmocka_unit_test(test_no_placeholder_left),
      cmocka_unit_test(test_names_never_reach_script),
      cmocka_unit_test(test_name_words),
      cmocka_unit_test(test_option_errors),
      cmocka_unit_test(test_class_selection),
  };
  return cmocka_run_group_tests_name("script_gen", tests, NULL, NULL);
}
