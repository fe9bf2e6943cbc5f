/* Tests of the stream parser: every record kind, stacks, malformed input, and
 * the MOD record's text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collector/stream_parse.h"
#include "spantap/module_record.h"

static int parse(const char *line, struct spantap_record *r, const char **why) {
  *why = NULL;
  return spantap_record_parse(line, strlen(line), r, why);
}

static void test_syscall_with_stack(void **state) {
  (void)state;
  struct spantap_record r;
  const char *why;
  assert_int_equal(parse("SC 100 25 7 8 32 3 1 -1 0 @1,7f00,0,55aa,0xdead", &r, &why), 0);
  assert_int_equal(r.desc->kind, SPANTAP_REC_SYSCALL);
  assert_int_equal(r.v[SPANTAP_SYSCALL_ts], 100);
  assert_int_equal(r.v[SPANTAP_SYSCALL_dur], 25);
  assert_int_equal(r.v[SPANTAP_SYSCALL_nr], 32);
  assert_int_equal(r.v[SPANTAP_SYSCALL_arg1], -1);
  assert_true(r.has_stack_token);
  assert_int_equal(r.stack_flags, SPANTAP_STACK_TRUNCATED_BUDGET);
  assert_int_equal(r.nframes, 3); /* the zero slot is dropped... */
  assert_int_equal(r.frames[0], 0x7f00);
  assert_int_equal(r.frames[1], 0x55aa);
  assert_int_equal(r.frame_slot[1], 2); /* ...but each frame remembers its slot */
  assert_int_equal(r.frames[2], 0xdead);
}

static void test_stack_is_optional(void **state) {
  (void)state;
  struct spantap_record r;
  const char *why;
  assert_int_equal(parse("SC 1 2 3 4 5 6 7 8 9", &r, &why), 0);
  assert_false(r.has_stack_token);
  assert_int_equal(r.nframes, 0);
}

static void test_text_records(void **state) {
  (void)state;
  struct spantap_record r;
  const char *why;
  assert_int_equal(parse("EXEC 5 10 10 1 1 4096 8192 77 88 /usr/bin/my app", &r, &why), 0);
  assert_int_equal(r.desc->kind, SPANTAP_REC_EXEC);
  assert_int_equal(r.v[SPANTAP_EXEC_ino], 77);
  assert_int_equal(r.text_len, strlen("/usr/bin/my app"));
  assert_memory_equal(r.text, "/usr/bin/my app", r.text_len);
  char begin[64];
  snprintf(begin, sizeof begin, "BEGIN %d 0 4 16 bpf", SPANTAP_RECORD_FORMAT_VERSION);
  assert_int_equal(parse(begin, &r, &why), 0);
  assert_int_equal(r.v[SPANTAP_BEGIN_stack_mode], 4);
  assert_int_equal(r.v[SPANTAP_BEGIN_stack_depth], 16);
  assert_memory_equal(r.text, "bpf", 3);
  /* another version's BEGIN (fewer fields here) is recognized by its version */
  assert_int_equal(parse("BEGIN 1 0 bpf", &r, &why), -EPROTO);
  assert_int_equal(r.desc->kind, SPANTAP_REC_BEGIN);
  assert_int_equal(r.v[SPANTAP_BEGIN_format_version], 1);
}

/* The value the round trip gives field I of kind K (BEGIN must speak this format). */
static int64_t field_value(unsigned k, unsigned i) {
  return k == SPANTAP_REC_BEGIN && i == SPANTAP_BEGIN_format_version ? SPANTAP_RECORD_FORMAT_VERSION
                                                                     : 1000 + i;
}

static void test_every_script_record_roundtrips(void **state) {
  (void)state;
  /* Build a line for every kind from the table itself, parse it back. */
  for (unsigned k = 0; k < SPANTAP_REC__COUNT; k++) {
    const struct spantap_record_desc *d = spantap_record_desc_get(k);
    char line[1024];
    int n = snprintf(line, sizeof line, "%s", d->tag);
    for (unsigned i = 0; i < d->nfields; i++)
      n += snprintf(line + n, sizeof line - (size_t)n, " %lld", (long long)field_value(k, i));
    if (d->has_stack)
      n += snprintf(line + n, sizeof line - (size_t)n, " @0,abc");
    if (d->has_text) /* a MOD record's text is a build id and an absolute path */
      n += snprintf(line + n, sizeof line - (size_t)n,
                    k == SPANTAP_REC_MODULE ? " ab /some text" : " some text");
    struct spantap_record r;
    const char *why;
    assert_int_equal(parse(line, &r, &why), 0);
    assert_int_equal(r.desc->kind, k);
    for (unsigned i = 0; i < d->nfields; i++)
      assert_int_equal(r.v[i], field_value(k, i));
    assert_int_equal(r.nframes, d->has_stack ? 1 : 0);
  }
}

static void test_malformed(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",                                          /* empty */
      "XYZ 1 2",                                   /* unknown tag */
      "SC 1 2 3",                                  /* too few fields */
      "SC 1 2 3 4 5 6 7 8 x",                      /* not an integer */
      "SC 1 2 3 4 5 6 7 8 9 junk",                 /* trailing garbage */
      "SC 1 2 3 4 5 6 7 8 99999999999999999999",   /* overflow */
      "SC 1 2 3 4 5 6 7 8 9 @x",                   /* bad stack flags */
      "SC 1 2 3 4 5 6 7 8 9 @0,zz",                /* bad frame */
      "SC 1 2 3 4 5 6 7 8 9 @0,11111111111111111", /* frame over 64 bits */
      "EXEC 1 2 3 4 5 6 7 8 9",                    /* missing text */
      "SC  1 2 3 4 5 6 7 8 9",                     /* double space */
      "SC 1 2 3 4 5 6 7 8 -",                      /* lone sign */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct spantap_record r;
    const char *why = NULL;
    assert_int_equal(parse(bad[i], &r, &why), -EINVAL);
    assert_non_null(why);
    assert_null(r.desc);
  }
}

/* MOD: integer fields, then "BUILD_ID PATH"; the build id is "-" or an even
 * number of hex digits (at most SPANTAP_BUILD_ID_HEX_MAX), the path absolute
 * and may hold spaces. */
static void test_module_records(void **state) {
  (void)state;
  struct spantap_record r;
  const char *why;
  struct spantap_module_text t;
  assert_int_equal(parse("MOD 5 77 8388609 4096 4096 393 0A1b2c /usr/bin/my app", &r, &why), 0);
  assert_int_equal(r.desc->kind, SPANTAP_REC_MODULE);
  assert_int_equal(r.v[SPANTAP_MODULE_ino], 77);
  assert_int_equal(r.v[SPANTAP_MODULE_dev], 8388609);
  assert_int_equal(r.v[SPANTAP_MODULE_text_offset], 4096);
  assert_int_equal(r.v[SPANTAP_MODULE_text_size], 393);
  assert_int_equal(spantap_module_text_parse(r.text, r.text_len, &t, &why), 0);
  assert_string_equal(t.build_id, "0a1b2c"); /* kept in lowercase */
  assert_int_equal(t.path_len, strlen("/usr/bin/my app"));
  assert_memory_equal(t.path, "/usr/bin/my app", t.path_len);
  /* a file without a build id */
  assert_int_equal(parse("MOD 5 77 1 0 0 0 - /lib/x.so", &r, &why), 0);
  assert_int_equal(spantap_module_text_parse(r.text, r.text_len, &t, &why), 0);
  assert_string_equal(t.build_id, "");
  /* the longest build id taken, and one digit more refused */
  char line[512];
  int n = snprintf(line, sizeof line, "MOD 5 77 1 0 0 0 ");
  memset(line + n, 'f', SPANTAP_BUILD_ID_HEX_MAX);
  snprintf(line + n + SPANTAP_BUILD_ID_HEX_MAX, sizeof line - (size_t)n - SPANTAP_BUILD_ID_HEX_MAX,
           " /lib/x.so");
  assert_int_equal(parse(line, &r, &why), 0);
  n = snprintf(line, sizeof line, "MOD 5 77 1 0 0 0 ");
  memset(line + n, 'f', SPANTAP_BUILD_ID_HEX_MAX + 2);
  snprintf(line + n + SPANTAP_BUILD_ID_HEX_MAX + 2,
           sizeof line - (size_t)n - SPANTAP_BUILD_ID_HEX_MAX - 2, " /lib/x.so");
  assert_int_equal(parse(line, &r, &why), -EINVAL);
  assert_string_equal(why, "build id too long");
  static const struct {
    const char *line, *why;
  } bad[] = {
      {"MOD 5 77 1 0 0", "too few fields"},
      {"MOD 5 77 1 0 0 0", "missing text field"},
      {"MOD 5 77 1 0 0 0 abcd", "module record without a path"},
      {"MOD 5 77 1 0 0 0 abzz /lib/x.so", "build id not hex"},
      {"MOD 5 77 1 0 0 0 0x12 /lib/x.so", "build id not hex"},
      {"MOD 5 77 1 0 0 0 abc /lib/x.so", "build id of an odd number of digits"},
      {"MOD 5 77 1 0 0 0  /lib/x.so", "empty build id"},
      {"MOD 5 77 1 0 0 0 -- /lib/x.so", "build id not hex"},
      {"MOD 5 77 1 0 0 0 ab lib/x.so", "module path not absolute"},
      {"MOD 5 77 1 0 0 0 ab ", "module path not absolute"},
      {"MOD 5 x 1 0 0 0 ab /lib/x.so", "bad integer field"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why = NULL;
    assert_int_equal(parse(bad[i].line, &r, &why), -EINVAL);
    if (!why || strcmp(why, bad[i].why) != 0)
      fail_msg("%s: why=%s, expected %s", bad[i].line, why ? why : "(null)", bad[i].why);
    assert_null(r.desc);
  }
  /* the writer's side refuses what the parser would */
  char text[64];
  assert_int_equal(spantap_module_text_format(text, sizeof text, "", "/lib/x.so"), 11);
  assert_string_equal(text, "- /lib/x.so");
  assert_int_equal(spantap_module_text_format(text, sizeof text, "abc", "/lib/x.so"), -EINVAL);
  assert_int_equal(spantap_module_text_format(text, sizeof text, "ab", "x.so"), -EINVAL);
  assert_int_equal(spantap_module_text_format(text, 8, "ab", "/lib/x.so"), -ENAMETOOLONG);
}

static void test_not_nul_terminated(void **state) {
  (void)state;
  /* the parser must honour LEN and never read past it */
  char buf[64];
  memset(buf, '7', sizeof buf);
  memcpy(buf, "END 12", 6);
  struct spantap_record r;
  const char *why;
  assert_int_equal(spantap_record_parse(buf, 6, &r, &why), 0);
  assert_int_equal(r.v[SPANTAP_END_ts], 12);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_syscall_with_stack),
      cmocka_unit_test(test_stack_is_optional),
      cmocka_unit_test(test_text_records),
      cmocka_unit_test(test_every_script_record_roundtrips),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_module_records),
      cmocka_unit_test(test_not_nul_terminated),
  };
  return cmocka_run_group_tests_name("stream_parse", tests, NULL, NULL);
}
