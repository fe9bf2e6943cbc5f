/* Unit tests for `spantap setup`: BTF -> DECLARE_TRACE generation, tree
 * synthesis and its stamp, status detection, stap argument derivation and the
 * memlock shim. Tests that need the running kernel's BTF, tracefs, gcc or
 * root say why when they skip. */
#include "common/fs_util.h"
#include "runtime/kbuild_tree.h"
#include "runtime/machine_setup.h"
#include "runtime/tracepoint_headers.h"

#include <bpf/btf.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define BTF_PATH "/sys/kernel/btf/vmlinux"
#define EVENTS_DIR "/sys/kernel/tracing/events"

#define SKIP_BECAUSE(...)                                                                          \
  do {                                                                                             \
    print_message("[  SKIP    ] " __VA_ARGS__);                                                    \
    skip();                                                                                        \
  } while (0)

/* snprintf that fails the test on truncation (keeps -Wformat-truncation quiet). */
static void fmt_path(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fmt_path(char *buf, size_t len, const char *fmt, ...) {
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(buf, len, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < len);
}

static char *read_all(const char *path) {
  FILE *f = fopen(path, "r");
  char *buf = NULL;
  size_t len = 0;

  if (!f)
    return NULL;
  FILE *mem = open_memstream(&buf, &len);
  int c;

  while ((c = fgetc(f)) != EOF)
    fputc(c, mem);
  fclose(mem);
  fclose(f);
  return buf;
}

static void write_all(const char *path, const char *text) {
  FILE *f = fopen(path, "w");

  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

static bool exists(const char *path) {
  struct stat sb;

  return stat(path, &sb) == 0;
}

static char *make_tmpdir(void) {
  char tmpl[] = "/tmp/spantap-test-setup-XXXXXX";
  char *d = mkdtemp(tmpl);

  assert_non_null(d);
  return strdup(d);
}

static const char *release(void) {
  static struct utsname u;

  if (!u.release[0])
    uname(&u);
  return u.release;
}

/* ---- tracepoint headers -------------------------------------------------- */

struct tp_fixture {
  struct btf *btf;
  struct spantap_tp_index *idx;
};

static int tp_setup(void **state) {
  struct tp_fixture *fx = calloc(1, sizeof(*fx));
  char err[256];

  *state = fx;
  if (access(BTF_PATH, R_OK) != 0)
    return 0; /* tests skip, saying why */
  fx->btf = btf__parse(BTF_PATH, NULL);
  if (fx->btf)
    fx->idx = spantap_tp_index_new(fx->btf, err, sizeof(err));
  return 0;
}

static int tp_teardown(void **state) {
  struct tp_fixture *fx = *state;

  spantap_tp_index_free(fx->idx);
  btf__free(fx->btf);
  free(fx);
  return 0;
}

#define NEED_BTF(fx)                                                                               \
  do {                                                                                             \
    if (!(fx)->idx)                                                                                \
      SKIP_BECAUSE("needs readable kernel BTF at " BTF_PATH " (CONFIG_DEBUG_INFO_BTF)\n");         \
  } while (0)

static void test_declare_sched_process_fork(void **state) {
  struct tp_fixture *fx = *state;
  char err[256] = "", *out = NULL;

  NEED_BTF(fx);
  assert_int_equal(spantap_tp_declare_trace(fx->idx, "sched_process_fork", &out, err, sizeof(err)),
                   0);
  assert_string_equal(out, "DECLARE_TRACE(sched_process_fork, "
                           "PARAMS(struct task_struct *parent, struct task_struct *child), "
                           "PARAMS(parent, child))");
  free(out);
}

static void test_declare_sys_enter(void **state) {
  struct tp_fixture *fx = *state;
  char err[256] = "", *out = NULL;

  NEED_BTF(fx);
  assert_int_equal(spantap_tp_declare_trace(fx->idx, "sys_enter", &out, err, sizeof(err)), 0);
  assert_string_equal(out, "DECLARE_TRACE(sys_enter, PARAMS(struct pt_regs *regs, long int id), "
                           "PARAMS(regs, id))");
  free(out);
}

static void test_declare_unknown_event(void **state) {
  struct tp_fixture *fx = *state;
  char err[256] = "", *out = NULL;

  NEED_BTF(fx);
  assert_int_equal(
      spantap_tp_declare_trace(fx->idx, "no_such_tracepoint_xyz", &out, err, sizeof(err)), -ENOENT);
  assert_null(out);
  assert_non_null(strstr(err, "btf_trace_no_such_tracepoint_xyz"));
}

static void test_declarations_fit_stap_fields_macro(void **state) {
  struct tp_fixture *fx = *state;
  size_t n, ok = 0;

  NEED_BTF(fx);
  n = spantap_tp_index_count(fx->idx);
  assert_true(n > 0);
  /* stap's FIELDS() splits the prototype at commas: no parameter may be a
   * function pointer or an array, and each must be "TYPE NAME". */
  for (size_t i = 0; i < n; i++) {
    const char *ev = spantap_tp_index_name(fx->idx, i);
    char err[512], *out = NULL;
    int rc = spantap_tp_declare_trace(fx->idx, ev, &out, err, sizeof(err));

    if (rc == -ENOTSUP)
      continue;
    assert_int_equal(rc, 0);
    assert_null(strstr(out, "(*"));
    assert_null(strchr(out, '['));
    if (strncmp(out, "struct stapprobe_", 17) != 0)
      assert_null(strchr(out, '{'));
    free(out);
    ok++;
  }
  /* Nearly every tracepoint must resolve its parameter names. */
  assert_true(ok * 100 >= n * 95);
}

static void make_event_dir(const char *root, const char *system, const char *event) {
  char path[PATH_MAX];

  fmt_path(path, sizeof(path), "%s/%s", root, system);
  mkdir(path, 0755);
  fmt_path(path, sizeof(path), "%s/%s/%s", root, system, event);
  assert_int_equal(mkdir(path, 0755), 0);
}

static void test_write_headers_groups_by_tracefs_system(void **state) {
  struct tp_fixture *fx = *state;
  struct spantap_tp_stats st;
  char events[PATH_MAX], out[PATH_MAX], path[PATH_MAX], err[512] = "";
  char *root, *text;

  NEED_BTF(fx);
  root = make_tmpdir();
  fmt_path(events, sizeof(events), "%s/events", root);
  fmt_path(out, sizeof(out), "%s/out", root);
  assert_int_equal(mkdir(events, 0755), 0);
  assert_int_equal(mkdir(out, 0755), 0);
  make_event_dir(events, "sched", "sched_process_fork");
  make_event_dir(events, "raw_syscalls", "sys_enter");
  make_event_dir(events, "ftrace_only", "not_a_raw_tracepoint_xyz");

  assert_int_equal(spantap_tp_write_headers(fx->idx, events, out, &st, err, sizeof(err)), 0);
  assert_int_equal(st.systems, 3); /* sched, raw_syscalls, btf_only */
  assert_int_equal(st.btf_only, spantap_tp_index_count(fx->idx) - 2);
  assert_int_equal(st.events + st.skipped, spantap_tp_index_count(fx->idx));

  fmt_path(path, sizeof(path), "%s/sched.h", out);
  text = read_all(path);
  assert_non_null(text);
  assert_non_null(strstr(text, "#define TRACE_SYSTEM sched\n"));
  assert_non_null(strstr(text, "DECLARE_TRACE(sched_process_fork, PARAMS(struct task_struct "
                               "*parent, struct task_struct *child), PARAMS(parent, child))\n"));
  assert_null(strstr(text, "sys_enter"));
  free(text);

  fmt_path(path, sizeof(path), "%s/raw_syscalls.h", out);
  text = read_all(path);
  assert_non_null(text);
  assert_non_null(strstr(text, "DECLARE_TRACE(sys_enter,"));
  free(text);

  fmt_path(path, sizeof(path), "%s/ftrace_only.h", out);
  assert_false(exists(path));
  fmt_path(path, sizeof(path), "%s/btf_only.h", out);
  text = read_all(path);
  assert_non_null(text);
  assert_non_null(strstr(text, "DECLARE_TRACE(sys_exit,"));
  assert_null(strstr(text, "DECLARE_TRACE(sys_enter,"));
  free(text);

  assert_int_equal(spantap_rmtree(root), 0);
  free(root);
}

static void test_write_headers_missing_events_dir(void **state) {
  struct tp_fixture *fx = *state;
  char err[512] = "";

  NEED_BTF(fx);
  assert_int_equal(spantap_tp_write_headers(fx->idx, "/nonexistent/spantap/events", "/tmp", NULL,
                                            err, sizeof(err)),
                   -ENOENT);
  assert_non_null(strstr(err, "Failed to list tracefs systems: dir=/nonexistent/spantap/events"));
}

/* ---- status, arguments, state dir ---------------------------------------- */

static void test_state_dir_resolution(void **state) {
  char out[4096];

  (void)state;
  setenv("SPANTAP_STATE_DIR", "/srv/spantap-env", 1);
  assert_int_equal(spantap_setup_state_dir(NULL, out, sizeof(out)), 0);
  assert_string_equal(out, "/srv/spantap-env");
  assert_int_equal(spantap_setup_state_dir("/explicit", out, sizeof(out)), 0);
  assert_string_equal(out, "/explicit");
  unsetenv("SPANTAP_STATE_DIR");
  assert_int_equal(spantap_setup_state_dir(NULL, out, sizeof(out)), 0);
  assert_string_equal(out, SPANTAP_DEFAULT_STATE_DIR);
}

static void test_inspect_empty_state_dir(void **state) {
  struct spantap_setup_status st;
  char want[4096], err[512] = "";
  const char *argv[8], *preload = "unset";
  char *root = make_tmpdir();

  (void)state;
  assert_int_equal(spantap_setup_inspect(root, &st), 0);
  assert_false(st.synthesized_tree);
  if (st.real_kernel_tree) {
    spantap_rmtree(root);
    free(root);
    SKIP_BECAUSE("/lib/modules/%s/build exists: a real tree makes setup unnecessary\n", release());
  }
  fmt_path(want, sizeof(want), "%s/kbuild/%s", root, release());
  assert_string_equal(st.tree_dir, want);
  assert_int_equal(spantap_setup_bpf_args(&st, argv, 8, &preload, err, sizeof(err)), -ENOENT);
  assert_null(preload);
  assert_non_null(strstr(err, "spantap setup"));
  assert_non_null(strstr(err, want));
  spantap_rmtree(root);
  free(root);
}

static void test_bpf_args_need_room(void **state) {
  struct spantap_setup_status st = {.synthesized_tree = true, .tree_dir = "/t"};
  const char *argv[3], *preload;
  char err[256] = "";

  (void)state;
  assert_int_equal(spantap_setup_bpf_args(&st, argv, 3, &preload, err, sizeof(err)), -ENOSPC);
  assert_non_null(strstr(err, "max=3"));
}

static void test_bpf_args_synthesized_tree(void **state) {
  struct spantap_setup_status st = {
      .synthesized_tree = true,
      .memlock_shim = true,
      .tree_dir = "/var/lib/spantap/kbuild/x",
      .shim_path = "/usr/lib/spantap/shim.so",
  };
  const char *argv[8], *preload = NULL;
  char err[256] = "";

  (void)state;
  assert_int_equal(spantap_setup_bpf_args(&st, argv, 8, &preload, err, sizeof(err)), 0);
  assert_string_equal(argv[0], "-r");
  assert_ptr_equal(argv[1], st.tree_dir);
  assert_string_equal(argv[2], "--compatible=4.2");
  assert_null(argv[3]);
  assert_ptr_equal(preload, st.shim_path);
}

/* Writes the running kernel's stamp into ROOT/kbuild/<release>, making it
 * look like a finished tree. Returns false when BTF cannot be read. */
static bool fake_current_tree(const char *root, char *tree, size_t len) {
  char stamp[512], path[PATH_MAX], err[256];

  if (spantap_kbuild_stamp(NULL, stamp, sizeof(stamp), err, sizeof(err)) < 0)
    return false;
  fmt_path(path, sizeof(path), "%s/kbuild", root);
  mkdir(path, 0755);
  fmt_path(tree, len, "%s/kbuild/%s", root, release());
  mkdir(tree, 0755);
  fmt_path(path, sizeof(path), "%s/%s", tree, SPANTAP_KBUILD_STAMP);
  write_all(path, stamp);
  return true;
}

static void test_stamp_decides_up_to_date(void **state) {
  struct spantap_setup_status st;
  char tree[PATH_MAX], path[PATH_MAX];
  char *root = make_tmpdir();

  (void)state;
  if (!fake_current_tree(root, tree, sizeof(tree))) {
    spantap_rmtree(root);
    free(root);
    SKIP_BECAUSE("needs readable kernel BTF at " BTF_PATH " for the tree stamp\n");
  }
  assert_int_equal(spantap_kbuild_is_current(tree, NULL), 1);
  assert_int_equal(spantap_setup_inspect(root, &st), 0);
  assert_true(st.synthesized_tree);
  assert_string_equal(st.tree_dir, tree);

  /* A tree built for another kernel (or BTF) is stale. */
  fmt_path(path, sizeof(path), "%s/%s", tree, SPANTAP_KBUILD_STAMP);
  write_all(path, "spantap-kbuild format=1\nrelease=0.0.0-other\n");
  assert_int_equal(spantap_kbuild_is_current(tree, NULL), 0);
  assert_int_equal(spantap_setup_inspect(root, &st), 0);
  assert_false(st.synthesized_tree);

  /* No stamp at all: incomplete. */
  unlink(path);
  assert_int_equal(spantap_kbuild_is_current(tree, NULL), 0);
  spantap_rmtree(root);
  free(root);
}

static void test_refuses_lib_modules(void **state) {
  struct spantap_kbuild_opts o = {.tree_dir = "/lib/modules/spantap-test-never/build"};
  char err[512] = "";

  (void)state;
  assert_int_equal(spantap_kbuild_build(&o, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "/lib/modules"));
  assert_false(exists("/lib/modules/spantap-test-never"));
}

static void test_run_rejects_relative_state_dir(void **state) {
  char err[512] = "";

  (void)state;
  assert_int_equal(spantap_setup_run("relative/state", false, NULL, err, sizeof(err)), -EINVAL);
  assert_non_null(strstr(err, "state_dir=relative/state"));
}

static void test_run_is_idempotent(void **state) {
  char tree[PATH_MAX], marker[PATH_MAX], shim[PATH_MAX], err[512] = "";
  char *root, *log = NULL;
  size_t loglen = 0;
  FILE *prog;
  int rc;

  (void)state;
  if (geteuid() != 0)
    SKIP_BECAUSE("spantap_setup_run mounts tracefs/debugfs: needs root\n");
  root = make_tmpdir();
  if (!fake_current_tree(root, tree, sizeof(tree))) {
    spantap_rmtree(root);
    free(root);
    SKIP_BECAUSE("needs readable kernel BTF at " BTF_PATH " for the tree stamp\n");
  }
  fmt_path(marker, sizeof(marker), "%s/marker", tree);
  write_all(marker, "kept\n");
  fmt_path(shim, sizeof(shim), "%s/fake-shim.so", root);
  write_all(shim, "");
  setenv("SPANTAP_MEMLOCK_SHIM", shim, 1);

  prog = open_memstream(&log, &loglen);
  rc = spantap_setup_run(root, false, prog, err, sizeof(err));
  fclose(prog);
  unsetenv("SPANTAP_MEMLOCK_SHIM");
  if (rc != 0)
    print_message("setup failed: %s\n", err);
  assert_int_equal(rc, 0);
  /* The up-to-date tree is kept as is: no rebuild. */
  assert_non_null(strstr(log, "is up to date"));
  assert_null(strstr(log, "building kernel tree"));
  assert_true(exists(marker));
  assert_non_null(strstr(log, "fake-shim.so"));
  free(log);
  spantap_rmtree(root);
  free(root);
}

/* ---- tree synthesis ------------------------------------------------------ */

static void test_build_tree(void **state) {
  char tree[PATH_MAX], path[PATH_MAX], err[1024] = "";
  struct spantap_kbuild_opts o = {.tree_dir = tree, .warm = false};
  char *root, *text;

  (void)state;
  if (access(BTF_PATH, R_OK) != 0)
    SKIP_BECAUSE("needs readable kernel BTF at " BTF_PATH "\n");
  if (access(EVENTS_DIR, R_OK) != 0)
    SKIP_BECAUSE("needs read access to " EVENTS_DIR " (tracefs mounted by spantap setup; root)\n");
  if (system("gcc --version >/dev/null 2>&1") != 0)
    SKIP_BECAUSE("needs gcc in PATH to compile the DWARF-only vmlinux\n");
  root = make_tmpdir();
  fmt_path(tree, sizeof(tree), "%s/kbuild/%s", root, release());

  assert_int_equal(spantap_kbuild_build(&o, err, sizeof(err)), 0);
  static const char *const files[] = {
      "System.map",
      ".config",
      "Module.symvers",
      "include/config/kernel.release",
      "include/vmlinux.h",
      "include/linux/tracepoint.h",
      "include/linux/sched.h",
      "include/trace/events/sched.h",
      "include/trace/events/raw_syscalls.h",
      "Makefile",
      "vmlinux",
      SPANTAP_KBUILD_STAMP,
  };
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    fmt_path(path, sizeof(path), "%s/%s", tree, files[i]);
    if (!exists(path))
      print_message("missing %s\n", path);
    assert_true(exists(path));
  }
  assert_int_equal(spantap_kbuild_is_current(tree, NULL), 1);
  fmt_path(path, sizeof(path), "%s/System.map", tree);
  text = read_all(path);
  assert_non_null(strstr(text, " bpf_raw_tp_link_release\n"));
  assert_null(strchr(text, '['));
  free(text);
  fmt_path(path, sizeof(path), "%s/vmlinux_types.c", tree);
  text = read_all(path);
  assert_non_null(strstr(text, "struct stap_u64x2 { unsigned long lo, hi; };"));
  assert_non_null(strstr(text, "struct stap_ulong_array { unsigned long v[64]; };"));
  free(text);

  /* Rebuilding replaces the tree as a whole and leaves no temporaries. */
  fmt_path(path, sizeof(path), "%s/marker", tree);
  write_all(path, "old\n");
  assert_int_equal(spantap_kbuild_build(&o, err, sizeof(err)), 0);
  assert_false(exists(path));
  fmt_path(path, sizeof(path), "%s/kbuild/.%s.tmp.%d", root, release(), (int)getpid());
  assert_false(exists(path));

  spantap_rmtree(root);
  free(root);
}

static void test_stale_temp_tree_is_removed(void **state) {
  char tree[PATH_MAX], stale[PATH_MAX], err[1024] = "";
  struct spantap_kbuild_opts o = {.tree_dir = tree, .btf_path = "/nonexistent/btf"};
  char *root;
  pid_t dead;
  int ws;

  (void)state;
  if (access("/proc/kallsyms", R_OK) != 0)
    SKIP_BECAUSE("needs /proc/kallsyms\n");
  root = make_tmpdir();
  fmt_path(tree, sizeof(tree), "%s/kbuild/%s", root, release());
  /* A temp tree left by a process that no longer exists. */
  dead = fork();
  if (dead == 0)
    _exit(0);
  waitpid(dead, &ws, 0);
  fmt_path(stale, sizeof(stale), "%s/kbuild", root);
  mkdir(stale, 0755);
  fmt_path(stale, sizeof(stale), "%s/kbuild/.%s.tmp.%d", root, release(), (int)dead);
  assert_int_equal(mkdir(stale, 0755), 0);

  /* The build fails (no BTF at that path) but cleans up first and never
   * leaves a tree at the final path. */
  assert_true(spantap_kbuild_build(&o, err, sizeof(err)) < 0);
  assert_false(exists(stale));
  assert_false(exists(tree));
  spantap_rmtree(root);
  free(root);
}

/* ---- memlock shim ---------------------------------------------------------- */

static void test_memlock_shim_forgives_eperm(void **state) {
  struct spantap_setup_status st;
  void *h;
  int (*shim_setrlimit)(__rlimit_resource_t, const struct rlimit *);
  pid_t pid;
  int ws;

  (void)state;
  unsetenv("SPANTAP_MEMLOCK_SHIM");
  assert_int_equal(spantap_setup_inspect("/nonexistent-spantap-state", &st), 0);
  if (!st.memlock_shim)
    SKIP_BECAUSE("libspantap_memlock.so not built next to the test (.libs) nor installed\n");
  h = dlopen(st.shim_path, RTLD_NOW | RTLD_LOCAL);
  assert_non_null(h);
  shim_setrlimit = (int (*)(__rlimit_resource_t, const struct rlimit *))dlsym(h, "setrlimit");
  assert_non_null(shim_setrlimit);

  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* Lowering the hard limit is always allowed; raising it back needs
     * CAP_SYS_RESOURCE, which the shim must not require. */
    struct rlimit low = {65536, 65536}, inf = {RLIM_INFINITY, RLIM_INFINITY};
    struct rlimit bad = {10, 5};

    if (setrlimit(RLIMIT_MEMLOCK, &low) != 0)
      _exit(2);
    if (shim_setrlimit(RLIMIT_MEMLOCK, &inf) != 0)
      _exit(3);
    /* Other failures pass through. */
    errno = 0;
    if (shim_setrlimit(RLIMIT_NOFILE, &bad) != -1 || errno != EINVAL)
      _exit(4);
    _exit(0);
  }
  assert_int_equal(waitpid(pid, &ws, 0), pid);
  assert_true(WIFEXITED(ws));
  assert_int_equal(WEXITSTATUS(ws), 0);
  dlclose(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_declare_sched_process_fork, tp_setup, tp_teardown),
      cmocka_unit_test_setup_teardown(test_declare_sys_enter, tp_setup, tp_teardown),
      cmocka_unit_test_setup_teardown(test_declare_unknown_event, tp_setup, tp_teardown),
      cmocka_unit_test_setup_teardown(test_declarations_fit_stap_fields_macro, tp_setup,
                                      tp_teardown),
      cmocka_unit_test_setup_teardown(test_write_headers_groups_by_tracefs_system, tp_setup,
                                      tp_teardown),
      cmocka_unit_test_setup_teardown(test_write_headers_missing_events_dir, tp_setup, tp_teardown),
      cmocka_unit_test(test_state_dir_resolution),
      cmocka_unit_test(test_inspect_empty_state_dir),
      cmocka_unit_test(test_bpf_args_need_room),
      cmocka_unit_test(test_bpf_args_synthesized_tree),
      cmocka_unit_test(test_stamp_decides_up_to_date),
      cmocka_unit_test(test_refuses_lib_modules),
      cmocka_unit_test(test_run_rejects_relative_state_dir),
      cmocka_unit_test(test_run_is_idempotent),
      cmocka_unit_test(test_build_tree),
      cmocka_unit_test(test_stale_temp_tree_is_removed),
      cmocka_unit_test(test_memlock_shim_forgives_eperm),
  };

  return cmocka_run_group_tests(tests, NULL, NULL);
}
