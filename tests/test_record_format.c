/* Tests of the record table: tags unique, fields within limits, lookups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tags_unique_and_found),
      cmocka_unit_test(test_field_names_match_enums),
  };
  return cmocka_run_group_tests_name("record_format", tests, NULL, NULL);
}
