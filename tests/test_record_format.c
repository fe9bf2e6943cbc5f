/* Tests of the record table (tags unique, fields within limits, lookups)
 * and of the record writer (lines it writes parse back to the same text;
 * a failed write is reported). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/stream_parse.h"
#include "spantap/record.h"
#include "spantap/record_format.h"

static void test_tags_unique_and_found(void **state) {
  (void)state;
  for (unsigned i = 0; i < SPANTAP_REC__COUNT; i++) {
    const struct spantap_record_desc *d = spantap_record_desc_get(i);
    assert_non_null(d);
    assert_int_equal(d->kind, i);
    assert_true(d->nfields >= 1 && d->nfields <= SPANTAP_MAX_FIELDS);
    assert_ptr_equal(spantap_record_desc_by_tag(d->tag, strlen(d->tag)), d);
    for (unsigned j = i + 1; j < SPANTAP_REC__COUNT; j++)
      assert_string_not_equal(d->tag, spantap_record_desc_get(j)->tag);
    assert_false(d->has_stack && d->has_text); /* the stack token is never followed by text */
  }
  assert_null(spantap_record_desc_get(SPANTAP_REC__COUNT));
  assert_null(spantap_record_desc_by_tag("NOPE", 4));
  assert_null(spantap_record_desc_by_tag("S", 1)); /* prefixes of tags are not tags */
}

static void test_field_names_match_enums(void **state) {
  (void)state;
  const struct spantap_record_desc *sc = spantap_record_desc_get(SPANTAP_REC_SYSCALL);
  assert_string_equal(sc->field_names[SPANTAP_SYSCALL_ts], "ts");
  assert_string_equal(sc->field_names[SPANTAP_SYSCALL_ret], "ret");
  assert_int_equal(sc->nfields, SPANTAP_SYSCALL__COUNT);
  const struct spantap_record_desc *nc = spantap_record_desc_get(SPANTAP_REC_NETCALL);
  assert_int_equal(nc->nfields, SPANTAP_NETCALL__COUNT);
  /* NC extends SC: shared leading fields have the same names */
  for (unsigned i = 0; i < SPANTAP_SYSCALL__COUNT; i++)
    assert_string_equal(sc->field_names[i], nc->field_names[i]);
  assert_string_equal(nc->field_names[SPANTAP_NETCALL_sock], "sock");
}

/* Parses LINE, writes it back and returns the written text (static). */
static const char *rewrite(const char *line) {
  struct spantap_record r;
  const char *why;
  if (spantap_record_parse(line, strlen(line), &r, &why) != 0)
    fail_msg("does not parse: %s", line);
  static char out[4096];
  FILE *f = fmemopen(out, sizeof out, "w");
  assert_non_null(f);
  assert_int_equal(spantap_record_write(f, &r), 0);
  fclose(f);
  return out;
}

static void test_writer_roundtrips(void **state) {
  (void)state;
  char begin[64];
  snprintf(begin, sizeof begin, "BEGIN %d 0 4 16 kernel\n", SPANTAP_RECORD_FORMAT_VERSION);
  const char *const lines[] = {
      begin,
      "SC 110 5 10 10 32 -3 1 0 0 @0,10010,1500\n",
      "NC 160 900 10 12 0 100 5 0 0 12345 @3,0,10020,0,5200\n", /* empty slots stay */
      "TCP 170 10 12 2 8080 40000 0 16777343 0 16777343 1 8 12345 @0\n",
      "OFF 1 2 3 4 -9223372036854775808\n",
      "MAP 101 10 65536 131072 4096 99 r-xp /lib/libc.so.6\n",
      "MAP 101 10 0 0 0 0 /opt/app/server with space\n",
      "LOST 5 42 runtime\n",
      "MOD 3 99 8388609 4096 4096 393 0a1b /usr/lib/x86_64-linux-gnu/libc.so.6\n",
      "MOD 3 99 8388609 0 0 0 - /opt/app/server with space\n",
      "END 200\n",
  };
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
    char line[256];
    snprintf(line, sizeof line, "%.*s", (int)strlen(lines[i]) - 1, lines[i]);
    assert_string_equal(rewrite(line), lines[i]);
  }
  /* every kind, from the table */
  for (unsigned k = 0; k < SPANTAP_REC__COUNT; k++) {
    const struct spantap_record_desc *d = spantap_record_desc_get(k);
    /* a MOD record's text is a build id and an absolute path */
    struct spantap_record r = {
        .desc = d, .text = k == SPANTAP_REC_MODULE ? "- /" : "x y", .text_len = 3};
    for (unsigned i = 0; i < d->nfields; i++)
      r.v[i] = k == SPANTAP_REC_BEGIN && i == 0 ? SPANTAP_RECORD_FORMAT_VERSION : -(int64_t)i;
    r.has_stack_token = d->has_stack;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(spantap_record_write(f, &r), 0);
    fclose(f);
    struct spantap_record back;
    const char *why;
    assert_int_equal(spantap_record_parse(buf, len - 1, &back, &why), 0);
    assert_int_equal(back.desc->kind, k);
    assert_memory_equal(back.v, r.v, d->nfields * sizeof r.v[0]);
    assert_int_equal(back.text_len, d->has_text ? 3 : 0);
    free(buf);
  }
}

/* A full device: the writer says so instead of losing the line. */
static void test_writer_reports_a_full_disk(void **state) {
  (void)state;
  FILE *f = fopen("/dev/full", "w");
  if (!f)
    skip();
  setvbuf(f, NULL, _IONBF, 0);
  struct spantap_record r = {.desc = spantap_record_desc_get(SPANTAP_REC_END)};
  assert_int_equal(spantap_record_write(f, &r), -ENOSPC);
  fclose(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tags_unique_and_found),
      cmocka_unit_test(test_field_names_match_enums),
      cmocka_unit_test(test_writer_roundtrips),
      cmocka_unit_test(test_writer_reports_a_full_disk),
  };
  return cmocka_run_group_tests_name("record_format", tests, NULL, NULL);
}
