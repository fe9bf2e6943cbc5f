/* Tests of the time order's radix sort: ascending keys, stability among
 * equal keys, small inputs (insertion sort), large ones (the radix passes),
 * inputs already sorted or reversed, signed times, full 64-bit keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "collector/time_order.h"
#include "tests/xorshift.h"

/* Sorts N items whose keys come from KEY_OF(i) and checks the result is the
 * stable order: keys ascending, values (the input positions) ascending among
 * equal keys, every input once. */
static void check_sort(size_t n, uint64_t (*key_of)(size_t i, uint64_t *seed)) {
  struct spantap_time_order_item *a = malloc((n ? n : 1) * sizeof *a);
  struct spantap_time_order_item *tmp = malloc((n ? n : 1) * sizeof *tmp);
  unsigned char *seen = calloc(n ? n : 1, 1);
  assert_non_null(a);
  assert_non_null(tmp);
  assert_non_null(seen);
  uint64_t seed = 88172645463325252ull;
  for (size_t i = 0; i < n; i++)
    a[i] = (struct spantap_time_order_item){key_of(i, &seed), i};
  spantap_time_order_sort(a, tmp, n);
  for (size_t i = 0; i < n; i++) {
    assert_true(a[i].value < n);
    assert_false(seen[a[i].value]);
    seen[a[i].value] = 1;
    if (i) {
      assert_true(a[i - 1].key <= a[i].key);
      if (a[i - 1].key == a[i].key)
        assert_true(a[i - 1].value < a[i].value);
    }
  }
  free(a);
  free(tmp);
  free(seen);
}

static uint64_t random_key(size_t i, uint64_t *seed) {
  (void)i;
  return xorshift64(seed);
}
static uint64_t few_keys(size_t i, uint64_t *seed) { /* many equal keys */
  (void)i;
  return xorshift64(seed) % 7;
}
static uint64_t timestamps(size_t i, uint64_t *seed) { /* a pass: close times, out of order */
  (void)i;
  return spantap_time_order_key(1700000000000000000 + (int64_t)(xorshift64(seed) % 50000000));
}
static uint64_t ascending(size_t i, uint64_t *seed) {
  (void)seed;
  return 1000 + i / 3; /* sorted, with ties */
}
static uint64_t descending(size_t i, uint64_t *seed) {
  (void)seed;
  return UINT64_MAX - i;
}
static uint64_t signed_times(size_t i, uint64_t *seed) {
  (void)i;
  return spantap_time_order_key((int64_t)xorshift64(seed)); /* negative and positive */
}
static uint64_t one_key(size_t i, uint64_t *seed) {
  (void)i;
  (void)seed;
  return 42;
}

static void test_small_inputs(void **state) {
  (void)state;
  for (size_t n = 0; n <= 40; n++) {
    check_sort(n, random_key);
    check_sort(n, few_keys);
    check_sort(n, descending);
  }
  spantap_time_order_sort(NULL, NULL, 0);
}

static void test_large_inputs(void **state) {
  (void)state;
  check_sort(100000, random_key);
  check_sort(65536, timestamps);
  check_sort(33, random_key); /* the smallest radix sort */
}

static void test_equal_keys_keep_their_order(void **state) {
  (void)state;
  check_sort(50000, few_keys);
  check_sort(1000, one_key);
  check_sort(5, one_key);
}

static void test_sorted_and_reversed(void **state) {
  (void)state;
  check_sort(70000, ascending);
  check_sort(70000, descending);
}

static void test_signed_times(void **state) {
  (void)state;
  check_sort(20000, signed_times);
  /* the key maps signed order onto unsigned order */
  assert_true(spantap_time_order_key(-1) < spantap_time_order_key(0));
  assert_true(spantap_time_order_key(INT64_MIN) < spantap_time_order_key(INT64_MIN + 1));
  assert_true(spantap_time_order_key(INT64_MAX - 1) < spantap_time_order_key(INT64_MAX));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small_inputs),
      cmocka_unit_test(test_large_inputs),
      cmocka_unit_test(test_equal_keys_keep_their_order),
      cmocka_unit_test(test_sorted_and_reversed),
      cmocka_unit_test(test_signed_times),
  };
  return cmocka_run_group_tests_name("time_order", tests, NULL, NULL);
}
