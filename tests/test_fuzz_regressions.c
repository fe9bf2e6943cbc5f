/* Replays every input of tests/fuzz/regressions/ (inputs that once crashed a
 * fuzz harness) and of the seed corpus tests/fuzz/corpus/ through both
 * harnesses' code paths (tests/fuzz/fuzz_targets.h), so `make check` -- and
 * its sanitizer and valgrind runs -- catch a bug the fuzzers found coming back. */
#include <dirent.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spantap/record_format.h"
#include "tests/fuzz/fuzz_targets.h"

/* Reads PATH into an owned buffer of exactly its size (so the sanitizers see
 * reads past its end, as in the fuzzers); *LEN gets the size. */
static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    fail_msg("Failed to open fuzz input: path=%s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  assert_non_null(buf);
  if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)
    fail_msg("Failed to read fuzz input: path=%s bytes=%ld", path, n);
  fclose(f);
  *len = (size_t)(n > 0 ? n : 0);
  return buf;
}

/* Fails when DATA starts with a BEGIN record of another format version than
 * this build's: a seed that the collector refuses at its first line. */
static void check_format_version(const char *path, const uint8_t *data, size_t len) {
  char head[32];
  snprintf(head, sizeof head, "%.*s", (int)(len < sizeof head - 1 ? len : sizeof head - 1),
           (const char *)data);
  int version;
  if (sscanf(head, "BEGIN %d ", &version) == 1 && version != SPANTAP_RECORD_FORMAT_VERSION)
    fail_msg("seed corpus file speaks record format %d, this build %d: regenerate it: path=%s",
             version, SPANTAP_RECORD_FORMAT_VERSION, path);
}

/* Replays every regular file of DIR (README files excepted) and, when
 * CHECK_FORMAT, checks its record format version; returns how many. */
static unsigned replay_dir(const char *dir, bool check_format) {
  DIR *d = opendir(dir);
  if (!d)
    fail_msg("Failed to open fuzz input directory: path=%s", dir);
  unsigned n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0)
      continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    size_t len;
    uint8_t *data = read_file(path, &len);
    print_message("replay %s (%zu bytes)\n", path, len);
    if (check_format && !strstr(e->d_name, "format-mismatch"))
      check_format_version(path, data, len);
    /* each aborts, failing this test, when the bug is back */
    assert_int_equal(spantap_fuzz_stream_parse(data, len), 0);
    assert_int_equal(spantap_fuzz_collector(data, len), 0);
    free(data);
    n++;
  }
  closedir(d);
  return n;
}

static void test_regressions(void **state) {
  (void)state;
  assert_true(replay_dir(FUZZ_DIR "/regressions", false) > 0);
}

static void test_seed_corpus(void **state) {
  (void)state;
  assert_true(replay_dir(FUZZ_DIR "/corpus", true) >= 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_regressions),
      cmocka_unit_test(test_seed_corpus),
  };
  return cmocka_run_group_tests_name("fuzz_regressions", tests, NULL, NULL);
}
