/* Tests of the file-system helpers: mkdir -p over existing and missing
 * parents, rm -rf of a nested tree without following a symlink out of it. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fs_util.h"

static bool exists(const char *path) {
  struct stat sb;
  return lstat(path, &sb) == 0;
}

static void test_mkdir_p_and_rmtree(void **state) {
  (void)state;
  char root[] = "/tmp/spantap-fs-test.XXXXXX", outside[] = "/tmp/spantap-fs-keep.XXXXXX";
  char path[PATH_MAX], link[PATH_MAX], kept[PATH_MAX];
  assert_non_null(mkdtemp(root));
  assert_non_null(mkdtemp(outside));
  snprintf(path, sizeof path, "%s/a/b/c", root);
  assert_int_equal(spantap_mkdir_p(path, 0755), 0);
  assert_true(exists(path));
  assert_int_equal(spantap_mkdir_p(path, 0755), 0); /* existing: fine */
  snprintf(path, sizeof path, "%s/a/b/file", root);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
  snprintf(kept, sizeof kept, "%s/kept", outside);
  f = fopen(kept, "w");
  assert_non_null(f);
  fclose(f);
  snprintf(link, sizeof link, "%s/a/out", root);
  assert_int_equal(symlink(outside, link), 0);

  assert_int_equal(spantap_rmtree(root), 0);
  assert_false(exists(root));
  assert_true(exists(kept));                 /* the symlink was removed, not followed */
  assert_int_equal(spantap_rmtree(root), 0); /* missing: success */
  assert_int_equal(spantap_rmtree(outside), 0);
  assert_false(exists(outside));
}

static void test_mkdir_p_errors(void **state) {
  (void)state;
  char long_path[PATH_MAX + 8];
  memset(long_path, 'a', sizeof long_path - 1);
  long_path[0] = '/';
  long_path[sizeof long_path - 1] = '\0';
  assert_int_equal(spantap_mkdir_p(long_path, 0755), -ENAMETOOLONG);
  assert_int_equal(spantap_mkdir_p("", 0755), -ENAMETOOLONG);
  assert_int_equal(spantap_mkdir_p("/dev/null/x", 0755), -ENOTDIR);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mkdir_p_and_rmtree),
      cmocka_unit_test(test_mkdir_p_errors),
  };
  return cmocka_run_group_tests_name("fs_util", tests, NULL, NULL);
}
