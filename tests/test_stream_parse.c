/* Tests of the stream parser: every record kind, stacks, and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collector/stream_parse.h"

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
    if (d->has_text)
      n += snprintf(line + n, sizeof line - (size_t)n, " some text");
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
      cmocka_unit_test(test_not_nul_terminated),
  };
  return cmocka_run_group_tests_name("stream_parse", tests, NULL, NULL);
}
