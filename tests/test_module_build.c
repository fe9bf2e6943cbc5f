/* Tests of the module runtime's build side: module names (stap's and
 * staprun's rules), and `setup --runtime kernel`'s inspection, stap
 * arguments and patched runtime (the project's patches applied to this
 * machine's SystemTap runtime, when it has one). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/kernel_setup.h"
#include "runtime/bpf_object.h"
#include "runtime/module_build.h"

static void test_module_names(void **state) {
  (void)state;
  char name[64];
  assert_int_equal(spantap_module_name_check("spt_all2"), 0);
  assert_int_equal(spantap_module_name_check(""), -EINVAL);
  assert_int_equal(spantap_module_name_check("spt-all"), -EINVAL);
  assert_int_equal(spantap_module_name_check("a/b"), -EINVAL);
  char longname[SPANTAP_MODULE_NAME_MAX + 2];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  assert_int_equal(spantap_module_name_check(longname), -EINVAL);
  assert_int_equal(spantap_module_name_of_path("/tmp/out/spt_nginx.ko", name, sizeof name), 0);
  assert_string_equal(name, "spt_nginx");
  assert_int_equal(spantap_module_name_of_path("spt_nginx.db", name, sizeof name), -EINVAL);
  assert_int_equal(spantap_module_name_of_path("/x/.ko", name, sizeof name), -EINVAL);
  assert_int_equal(spantap_module_name_of_path("/x/my-mod.ko", name, sizeof name), -EINVAL);
  assert_int_equal(spantap_object_name_of_path("/tmp/spt_web.bo", ".bo", name, sizeof name), 0);
  assert_string_equal(name, "spt_web");
  assert_int_equal(spantap_object_name_of_path("/tmp/spt_web.ko", ".bo", name, sizeof name),
                   -EINVAL);
}

/* A BPF object's mark: appended after the object, read back from its end;
 * an object without one, or with a broken one, is refused with its path. */
static void test_bpf_object_mark(void **state) {
  (void)state;
  char path[] = "/tmp/spantap-bo-XXXXXX.bo", err[512] = "";
  int fd = mkstemps(path, 3);
  assert_true(fd >= 0);
  char obj[300];
  memset(obj, 0, sizeof obj); /* NULs, as an ELF object has */
  memcpy(obj, "\177ELF", 4);
  assert_int_equal(write(fd, obj, sizeof obj), (ssize_t)sizeof obj);
  close(fd);
  uint64_t cookie = 0;
  unsigned ncpu = 0;
  assert_int_equal(spantap_bpf_object_read_mark(path, &cookie, &ncpu, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "has no spantap mark"));
  assert_int_equal(spantap_bpf_object_mark(path, 0x7fff000000000001ULL, 2, err, sizeof err), 0);
  assert_int_equal(spantap_bpf_object_read_mark(path, &cookie, &ncpu, err, sizeof err), 0);
  assert_true(cookie == 0x7fff000000000001ULL);
  assert_int_equal(ncpu, 2);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_true(st.st_size > (off_t)sizeof obj); /* the object itself is untouched */
  FILE *f = fopen(path, "a");
  assert_non_null(f);
  fputs("\nspantap-bpf-object cookie=0x1 ncpu=2\n", f); /* the last mark counts: no cookie */
  fclose(f);
  assert_int_equal(spantap_bpf_object_read_mark(path, &cookie, &ncpu, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, "invalid spantap mark"));
  unlink(path);
  assert_int_equal(spantap_bpf_object_read_mark(path, &cookie, &ncpu, err, sizeof err), -ENOENT);
  assert_non_null(strstr(err, path));
}

static void test_module_name_of_script(void **state) {
  (void)state;
  char a[64], b[64], c[64];
  spantap_module_name_of_script("probe begin {}", 14, a, sizeof a);
  spantap_module_name_of_script("probe begin {}", 14, b, sizeof b);
  spantap_module_name_of_script("probe end {}", 12, c, sizeof c);
  assert_string_equal(a, b); /* the same script, the same name: stap's cache hits */
  assert_string_not_equal(a, c);
  assert_int_equal(spantap_module_name_check(a), 0);
}

/* A kernel with no headers here: they are reported missing, with the package. */
static void test_inspect_missing_headers(void **state) {
  (void)state;
  struct spantap_kernel_setup ks;
  assert_int_equal(spantap_kernel_setup_inspect("/nonexistent/state", "0.0.0-none", &ks), 0);
  assert_string_equal(ks.release, "0.0.0-none");
  assert_false(ks.headers);
  assert_false(ks.cancel_func);
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  int missing = spantap_kernel_setup_report(&ks, true, false, out);
  fclose(out);
  assert_true(missing >= 1);
  assert_non_null(strstr(text, "0.0.0-none"));
  assert_true(strstr(text, "linux-headers-0.0.0-none") || strstr(text, "kernel-devel-0.0.0-none"));
  free(text);
}

/* The patches this machine's stap needs are applied to a copy of its
 * runtime, and the stap arguments then point at it. */
static void test_patched_runtime(void **state) {
  (void)state;
  struct spantap_kernel_setup ks;
  char dir[] = "/tmp/spantap-test-state-XXXXXX";
  assert_non_null(mkdtemp(dir));
  assert_int_equal(spantap_kernel_setup_inspect(dir, "0.0.0-none", &ks), 0);
  if (!ks.stap || access(ks.runtime_src, R_OK) < 0) {
    printf("SKIP: no SystemTap runtime on this machine\n");
    return;
  }
  const char *argv[16];
  char err[1024];
  if (!ks.patches) {
    printf("SKIP: stap %d.%d needs no patch\n", ks.stap_major, ks.stap_minor);
  } else {
    assert_false(ks.runtime_ready);
    assert_int_equal(spantap_kernel_stap_args(&ks, argv, 16, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "spantap setup --runtime kernel"));
    assert_int_equal(spantap_kernel_setup_run(&ks, NULL, err, sizeof err), 0);
    struct spantap_kernel_setup again;
    assert_int_equal(spantap_kernel_setup_inspect(dir, "0.0.0-none", &again), 0);
    assert_true(again.runtime_ready);
    int n = spantap_kernel_stap_args(&again, argv, 16, err, sizeof err);
    assert_true(n >= 2);
    assert_string_equal(argv[0], "-R");
    assert_string_equal(argv[1], again.runtime_dir);
    /* the relay patch (stap < 5.1) is in the copy */
    char path[4200], line[512];
    snprintf(path, sizeof path, "%s/transport/relay_v2.c", again.runtime_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int found = 0;
    while (fgets(line, sizeof line, f))
      found |= strstr(line, "spantap: never split a message") != NULL;
    fclose(f);
    assert_int_equal(found, again.stap_major * 100 + again.stap_minor < 501);
  }
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_module_names),    cmocka_unit_test(test_module_name_of_script),
      cmocka_unit_test(test_bpf_object_mark), cmocka_unit_test(test_inspect_missing_headers),
      cmocka_unit_test(test_patched_runtime),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
